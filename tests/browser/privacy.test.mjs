// Nothing leaves the page's origin: a whole session (every method, the attention explorer, the
// faithfulness curves, examples, a new scene, exports) requests only the app's own files and the
// model the person chose (here on the same origin).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, newPage, openAppWithModel, prepareDist, startServer, waitForExplanation } from './helpers.mjs';

let server;
let browser;

before(async () => {
  prepareDist();
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('a whole session requests nothing outside the page’s origin', async () => {
  const { page, requests, problems, context } = await newPage(browser);
  await openAppWithModel(page, server.origin);
  await waitForExplanation(page);
  // Every method, through the comparison grid.
  await page.evaluate(() => globalThis.sightlineTest.store.set({ compare: { requested: null, auto: true } }));
  await page.click('.compare-head .button').catch(() => {});
  await page.waitForFunction(() => document.querySelectorAll('.compare-grid .cell.is-running').length === 0 && [...document.querySelectorAll('.compare-grid .cell-status')].every((s) => /ms|s$/.test(s.textContent)), null, { timeout: 60_000 });
  // The attention explorer and the faithfulness curves.
  await page.click('button.tab:has-text("Attention")');
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().attention.status === 'done');
  await page.click('button.tab:has-text("Faithfulness")');
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().faithfulness.status === 'done', null, { timeout: 60_000 });
  assert.equal(await page.locator('.chart svg polyline').count(), 2);
  // A photo, a new scene, and both exports.
  await page.click('.example[data-example="chelsea"]');
  await waitForExplanation(page);
  await page.click('.new-scene');
  await page.waitForFunction(() => /^scene-\d+$/.test(globalThis.sightlineTest.store.get().image?.exampleId ?? '') && globalThis.sightlineTest.store.get().image.exampleId !== 'scene-32');
  await waitForExplanation(page);
  const [json] = await Promise.all([page.waitForEvent('download'), page.click('button:has-text("Export JSON")')]);
  const [png] = await Promise.all([page.waitForEvent('download'), page.click('button:has-text("Export PNG")')]);
  assert.match(json.suggestedFilename(), /\.json$/);
  assert.match(png.suggestedFilename(), /\.png$/);
  const pngBytes = await (await png.createReadStream()).toArray();
  assert.deepEqual([...Buffer.concat(pngBytes).subarray(1, 4)], [0x50, 0x4e, 0x47]);

  const foreign = requests.filter((url) => {
    if (url.startsWith('blob:') || url.startsWith('data:')) return false;
    return new URL(url).origin !== server.origin;
  });
  assert.deepEqual(foreign, [], `requests left the origin: ${foreign.join(', ')}`);
  assert.ok(requests.some((url) => url.endsWith('/engine_bg.wasm')), 'the worker’s requests are recorded too');
  assert.deepEqual(problems, []);
  await context.close();
});
