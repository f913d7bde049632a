// Keyboard use: every control is reachable with Tab; the method, the target text and the tabs
// change with the arrow keys; Enter runs the explanation; the attention explorer takes a patch
// from the keyboard.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { appState, artifact, launchBrowser, newPage, openAppWithModel, prepareDist, startServer, waitForExplanation } from './helpers.mjs';

let server;
let browser;
let session;

before(async () => {
  prepareDist();
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  session = await newPage(browser);
  await openAppWithModel(session.page, server.origin);
  await waitForExplanation(session.page);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** What has focus, in a few words (following shadow roots). */
function focused(page) {
  return page.evaluate(() => {
    let el = document.activeElement;
    while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
    if (!el || el === document.body) return 'body';
    const host = el.getRootNode().host;
    const cls = el.className && typeof el.className === 'string' ? `.${el.className.split(' ')[0]}` : '';
    return `${host ? host.localName + '>' : ''}${el.localName}${cls}${el.type ? `[${el.type}]` : ''}${el.value && el.type === 'radio' ? `=${el.value}` : ''}`;
  });
}

async function tabTo(page, pattern, limit = 90) {
  const seen = [];
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press('Tab');
    const now = await focused(page);
    seen.push(now);
    if (pattern.test(now)) return seen;
  }
  throw new Error(`never reached ${pattern} with Tab; went through: ${seen.join(', ')}`);
}

test('Tab reaches every kind of control', async () => {
  const { page } = session;
  await page.focus('.skip-link');
  const seen = [await focused(page), ...(await tabTo(page, /^button\.tab/))];
  const kinds = [
    /a\.skip-link/,
    /button\.model-chip/,
    /button\.button/, // open a file, new scene
    /button\.example/,
    /input\.label-radio\[radio\]/,
    /input\.text-input\[text\]/,
    /input\.method-radio\[radio\]/,
    /input\.range\[range\]/,
    /select\.select/,
    /sl-heatmap>div\.frame/,
    /button\.tab/,
  ];
  for (const kind of kinds) assert.ok(seen.some((s) => kind.test(s)), `Tab never reached ${kind}: ${seen.join(', ')}`);
});

test('arrow keys change the method, and the explanation follows', async () => {
  const { page } = session;
  await page.evaluate(() => document.activeElement?.blur());
  await page.focus('.skip-link');
  await tabTo(page, /input\.method-radio\[radio\]=chefer/);
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement.nextElementSibling).outlineStyle);
  assert.equal(outline, 'solid', 'the focused method shows a focus ring');
  await page.keyboard.press('ArrowDown');
  const explanation = await waitForExplanation(page, { method: 'rollout' });
  assert.equal(explanation.method, 'rollout');
  assert.equal((await appState(page)).method, 'rollout');
  await page.screenshot({ path: artifact('keyboard-method.png') });
});

test('Enter on Explain runs the method again', async () => {
  const { page } = session;
  await page.evaluate(() => (globalThis.__before = globalThis.sightlineTest.currentResult()));
  // From the method just chosen, on to the Explain button.
  for (let i = 0; i < 20 && !(await page.evaluate(() => document.activeElement.classList.contains('run'))); i++) await page.keyboard.press('Tab');
  assert.ok(await page.evaluate(() => document.activeElement.classList.contains('run')));
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => {
    const r = globalThis.sightlineTest.currentResult();
    return r && r !== globalThis.__before && r.status === 'done';
  });
});

test('arrow keys pick the target text', async () => {
  const { page } = session;
  const before = (await appState(page)).target;
  await page.focus('.label-radio:checked');
  await page.keyboard.press('ArrowDown');
  await page.waitForFunction((t) => globalThis.sightlineTest.store.get().clip.target === t, (before + 1) % 12);
  const explanation = await waitForExplanation(page);
  assert.equal(explanation.target, (before + 1) % 12);
});

test('tabs switch with the arrow keys; the attention map takes a patch from the keyboard', async () => {
  const { page } = session;
  await page.focus('button.tab[aria-selected="true"]');
  await page.keyboard.press('ArrowRight');
  assert.equal((await appState(page)).view.tab, 'attention');
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().attention.status === 'done');
  await page.keyboard.press('Tab'); // the tab panel
  await tabTo(page, /sl-heatmap>div\.frame/, 10);
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  const query = await page.evaluate(() => globalThis.sightlineTest.store.get().attention.query);
  assert.ok(query > 0, 'a patch became the query');
  await page.screenshot({ path: artifact('keyboard-attention.png'), fullPage: true });
});
