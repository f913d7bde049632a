// <sightline-explainer> in a page of its own: one script tag, events with the CLI's contract, the
// WebGPU fallback notice, errors for a missing image, re-running on attribute changes, and the
// documentation page that uses it.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { artifact, cliExplain, DIST, launchBrowser, newPage, prepareDist, relativeError, startServer } from './helpers.mjs';

const CONTRACT = ['method', 'backend', 'model', 'options', 'texts', 'target', 'score', 'logits', 'probs', 'input_size', 'patch_grid', 'crop', 'patch_scores', 'text_tokens', 'text_scores', 'warnings', 'timings_ms'];
const TEXTS = ['a red square', 'a green circle', 'a blue triangle'];

let server;
let browser;
let session;

/** Records the elements' events from the start (before the module defines the element). */
function recordEvents() {
  globalThis.__events = [];
  for (const type of ['sightline-explained', 'sightline-error']) {
    document.addEventListener(type, (event) => globalThis.__events.push({ type, id: event.target.id, detail: event.detail }));
  }
}

before(async () => {
  const fixtures = prepareDist();
  writeFileSync(
    join(fixtures, 'component.html'),
    `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sightline-explainer</title>
<script type="module" src="../sightline.js"></script></head>
<body>
<sightline-explainer id="ok" image="../examples/scene-32.png" text="${TEXTS.join('|')}" target="a blue triangle" method="chefer"></sightline-explainer>
<sightline-explainer id="gpu" image="../examples/scene-9.png" text="a red circle" backend="webgpu" method="gradcam"></sightline-explainer>
<sightline-explainer id="missing" image="../examples/no-such-image.png" text="a red circle"></sightline-explainer>
</body></html>
`,
  );
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  session = await newPage(browser, { viewport: { width: 1300, height: 900 }, colorScheme: 'light' });
  await session.context.addInitScript(recordEvents);
  await session.page.goto(`${server.origin}/test-fixtures/component.html`);
  await session.page.waitForFunction(() => globalThis.__events.length >= 3, null, { timeout: 60_000 });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const events = () => session.page.evaluate(() => globalThis.__events);

test('the element explains and dispatches the explanation JSON', async () => {
  const all = await events();
  const ok = all.find((e) => e.id === 'ok');
  assert.equal(ok.type, 'sightline-explained');
  for (const field of CONTRACT) assert.ok(field in ok.detail, `detail lacks ${field}`);
  const d = ok.detail;
  assert.equal(d.method, 'chefer');
  assert.equal(d.backend, 'cpu');
  assert.deepEqual(d.texts, TEXTS);
  assert.equal(d.target, 2);
  assert.equal(d.probs.length, 3);
  assert.equal(d.patch_scores.length, d.patch_grid[0] * d.patch_grid[1]);
  const cli = await cliExplain({ image: join(DIST, 'examples', 'scene-32.png'), texts: TEXTS, target: 2, method: 'chefer' });
  assert.ok(relativeError(d.patch_scores, cli.patch_scores) <= 2e-3);
  assert.ok(relativeError(d.text_scores, cli.text_scores) <= 2e-3);
  // The overlay and the token chips are drawn; the caption names the method and the model as people
  // read them, with the page's probability format.
  const drawn = await session.page.evaluate(() => {
    const element = document.getElementById('ok');
    const heatmap = element.shadowRoot.querySelector('sl-heatmap');
    const text = (selector) => element.shadowRoot.querySelector(selector).textContent;
    return { heat: !heatmap.shadowRoot.querySelector('canvas.heat').hidden, chips: element.shadowRoot.querySelectorAll('.sl-chip').length, title: text('.sx-title'), meta: text('.sx-meta') };
  });
  assert.ok(drawn.heat);
  assert.equal(drawn.chips, d.text_tokens.length);
  const p = d.probs[2];
  assert.equal(drawn.title, `Chefer relevance · “a blue triangle” · p = ${(p * 100).toFixed(p >= 0.995 || p < 0.001 ? 0 : 1)}%`);
  assert.match(drawn.meta, /^built-in model · cpu · /);
  await session.page.screenshot({ path: artifact('component.png'), fullPage: true });
});

test('backend="webgpu" falls back to the CPU with a visible notice', async () => {
  const gpu = (await events()).find((e) => e.id === 'gpu');
  assert.equal(gpu.type, 'sightline-explained');
  assert.equal(gpu.detail.backend, 'cpu');
  assert.ok(gpu.detail.warnings.some((w) => /WebGPU/.test(w)));
  const notice = await session.page.evaluate(() => {
    const n = document.getElementById('gpu').shadowRoot.querySelector('.sx-notice');
    return n.hidden ? null : n.textContent;
  });
  assert.match(notice, /WebGPU/);
});

test('a missing image gives sightline-error and a visible message', async () => {
  const missing = (await events()).find((e) => e.id === 'missing');
  assert.equal(missing.type, 'sightline-error');
  assert.match(missing.detail.message, /404/);
  const shown = await session.page.evaluate(() => {
    const n = document.getElementById('missing').shadowRoot.querySelector('.sx-error');
    return n.hidden ? null : n.textContent;
  });
  assert.match(shown, /no-such-image\.png/);
});

test('changing an attribute explains again', async () => {
  const { page } = session;
  const before = (await events()).length;
  await page.evaluate(() => document.getElementById('ok').setAttribute('method', 'rollout'));
  await page.waitForFunction((n) => globalThis.__events.length > n, before);
  const latest = (await events()).at(-1);
  assert.equal(latest.type, 'sightline-explained');
  assert.equal(latest.id, 'ok');
  assert.equal(latest.detail.method, 'rollout');
  // An unknown method is an error event with the engine's message.
  await page.evaluate(() => document.getElementById('ok').setAttribute('method', 'telepathy'));
  await page.waitForFunction((n) => globalThis.__events.length > n + 1, before);
  const failed = (await events()).at(-1);
  assert.equal(failed.type, 'sightline-error');
  assert.match(failed.detail.message, /unknown method/);
});

test('the documentation page renders its explainers', async () => {
  const { page, context, problems, requests } = await newPage(browser, { viewport: { width: 1100, height: 900 }, colorScheme: 'light' });
  await context.addInitScript(recordEvents);
  await page.goto(`${server.origin}/docs/embed.html`);
  const count = await page.locator('sightline-explainer').count();
  // The lead's count of methods is the number of methods the figures show.
  const lead = await page.textContent('.lead');
  const methods = new Set(await page.$$eval('sightline-explainer', (all) => all.map((e) => e.getAttribute('method'))));
  const NUMBERS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];
  assert.match(lead, new RegExp(`^\\s*${NUMBERS[methods.size]} ways`, 'i'), `the lead counts ${methods.size} methods: ${lead}`);
  assert.ok(count >= methods.size);
  await page.waitForFunction((n) => globalThis.__events.length >= n, count, { timeout: 90_000 });
  const all = await page.evaluate(() => globalThis.__events);
  assert.ok(all.every((e) => e.type === 'sightline-explained'), JSON.stringify(all.filter((e) => e.type !== 'sightline-explained')));
  const titles = await page.$$eval('sightline-explainer', (all) => all.map((e) => e.shadowRoot.querySelector('.sx-title').textContent));
  assert.ok(titles.every((t) => !/_/.test(t.split(' · ')[0])), `human method names: ${titles.join(' | ')}`);
  assert.deepEqual(problems, []);
  assert.deepEqual(requests.filter((url) => new URL(url).origin !== server.origin), []);
  await page.screenshot({ path: artifact('docs-embed.png'), fullPage: true });
  await context.close();
});
