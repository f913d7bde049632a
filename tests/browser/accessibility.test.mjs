// Accessibility checked by axe-core (WCAG 2 A and AA rules, contrast included) on the app (CLIP
// and, with the random LLaVA checkpoint, Ask with an answer, a selected word and a contrast), the
// documentation page of the embeddable element and the benchmark page: no serious or critical
// violation. Pages are opened with their Content-Security-Policy bypassed, only so that axe's
// script can be injected.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { appUrl, artifact, launchBrowser, LLAVA_FIXTURE, LLAVA_URL, prepareDist, prepareLlavaFixture, startServer, waitForExplanation } from './helpers.mjs';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
let server;
let browser;
let question;

before(async () => {
  prepareDist();
  question = prepareLlavaFixture();
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The serious and critical violations axe finds on the page, as readable lines. */
async function seriousViolations(page) {
  await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    const result = await globalThis.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map((n) => `${n.target.join(' ')}: ${n.failureSummary.split('\n')[1] ?? ''}`) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.targets.join('; ')}`);
}

async function openPage(url, colorScheme) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme, bypassCSP: true });
  const page = await context.newPage();
  await page.goto(url);
  return { context, page };
}

for (const colorScheme of ['dark', 'light']) {
  test(`the app passes axe in the ${colorScheme} scheme, skip link included`, async () => {
    const { context, page } = await openPage(appUrl(server.origin), colorScheme);
    await waitForExplanation(page);
    // The skip link, as a keyboard user first sees it.
    await page.keyboard.press('Tab');
    assert.ok(await page.evaluate(() => document.activeElement.classList.contains('skip-link')));
    await page.screenshot({ path: artifact(`accessibility-${colorScheme}.png`) });
    assert.deepEqual(await seriousViolations(page), []);
    await context.close();
  });
}

for (const colorScheme of ['dark', 'light']) {
  test(`the Ask mode passes axe in the ${colorScheme} scheme, with an answer, a word of several tokens and a contrast`, async () => {
    const { context, page } = await openPage(appUrl(server.origin, `#model=${LLAVA_URL}`), colorScheme);
    await page.waitForFunction(() => globalThis.sightlineTest?.store.get().model.info?.family === 'llava', null, { timeout: 60_000 });
    await page.setInputFiles('.image-source input[type=file]', join(LLAVA_FIXTURE, 'image.png'));
    await page.waitForFunction(() => globalThis.sightlineTest.store.get().image?.name === 'image.png');
    await page.fill('.question-input', question);
    await page.press('.question-input', 'Enter');
    await page.waitForFunction(() => globalThis.sightlineTest.store.get().ask.run?.status === 'done', null, { timeout: 60_000 });
    const word = await page.$$eval('.answer-word', (buttons) => buttons.map((b) => b.dataset.tokens).find((t) => t.includes(',')));
    await page.click(`.answer-word[data-tokens="${word}"]`);
    await page.click('.candidate');
    await page.waitForFunction(() => globalThis.sightlineTest.currentResult()?.status === 'done', null, { timeout: 60_000 });
    await page.screenshot({ path: artifact(`accessibility-ask-${colorScheme}.png`) });
    assert.deepEqual(await seriousViolations(page), []);
    await context.close();
  });
}

test('the documentation page of the element passes axe', async () => {
  const { context, page } = await openPage(`${server.origin}/docs/embed.html`, 'light');
  await page.waitForFunction(() => [...document.querySelectorAll('sightline-explainer')].every((e) => e.explanation || e.shadowRoot.querySelector('.sx-error:not([hidden])')), null, { timeout: 90_000 });
  assert.deepEqual(await seriousViolations(page), []);
  await context.close();
});

test('the benchmark page passes axe, with its results', async () => {
  const { context, page } = await openPage(`${server.origin}/bench.html?methods=rollout&runs=1&steps=2&backends=cpu&autorun=1`, 'light');
  await page.waitForFunction(() => ['done', 'failed'].includes(document.body.dataset.state), null, { timeout: 60_000 });
  await page.screenshot({ path: artifact('bench-page.png'), fullPage: true });
  assert.deepEqual(await seriousViolations(page), []);
  await context.close();
});
