// The attention explorer on its numbers: every layer's and head's attention maps the page computes
// equal transformers' (float64, tools/make_attention_fixture.py) on the random test model, and the
// map and the sentence the explorer shows for a chosen layer, head and query are those numbers.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { assertClose, FIXTURE_MODEL, FIXTURE_URL_PATH, launchBrowser, newPage, openAppWithModel, prepareDist, startServer, waitForExplanation } from './helpers.mjs';

/** f32 in the page against float64: the probabilities differ by about 1e-6 at most. */
const CLOSE = { rtol: 1e-4, scale: 1e-5 };
let server;
let browser;
let session;
let reference;

/** The fixture's maps, (layers, heads, tokens, tokens) as a Float32Array. */
function readReference() {
  const fixture = JSON.parse(readFileSync(join(FIXTURE_MODEL, 'attentions.json'), 'utf8'));
  const bytes = Buffer.from(fixture.attentions, 'base64');
  const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  return { ...fixture, data };
}

/** One row of the reference: layer, head ('mean' or an index), query token. */
function referenceRow({ layer, head, query }) {
  const { heads, tokens, data } = reference;
  const used = head === 'mean' ? [...Array(heads).keys()] : [head];
  const row = new Array(tokens).fill(0);
  for (const h of used) {
    const offset = ((layer * heads + h) * tokens + query) * tokens;
    for (let k = 0; k < tokens; k++) row[k] += data[offset + k] / used.length;
  }
  return row;
}

before(async () => {
  prepareDist();
  reference = readReference();
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  session = await newPage(browser);
  const { page } = session;
  await openAppWithModel(page, server.origin, `#model=${encodeURIComponent(`${FIXTURE_URL_PATH}clip-random-a/`)}`);
  await page.setInputFiles('.image-source input[type=file]', join(FIXTURE_MODEL, 'image.png'));
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().image?.name === 'image.png');
  await waitForExplanation(page);
  await page.click('button.tab:has-text("Attention explorer")');
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().attention.status === 'done', null, { timeout: 30_000 });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** What the explorer shows: its map's values, its scale and its sentence. */
function shown(page) {
  return page.evaluate(() => {
    const panel = document.querySelector('.tabpanel:not([hidden])');
    const heatmap = panel.querySelector('sl-heatmap');
    return { values: Array.from(heatmap.map.patchValues), scale: heatmap.scale, readout: panel.querySelector('.attention-readout').textContent };
  });
}

test('every layer’s and head’s attention equals transformers’', async () => {
  const { page } = session;
  const attention = await page.evaluate(() => {
    const a = globalThis.sightlineTest.store.get().attention;
    return { layers: a.layers, heads: a.heads, tokens: a.tokens, data: Array.from(a.data) };
  });
  assert.deepEqual([attention.layers, attention.heads, attention.tokens], [reference.layers, reference.heads, reference.tokens]);
  const size = reference.tokens * reference.tokens;
  for (let layer = 0; layer < reference.layers; layer++) {
    for (let head = 0; head < reference.heads; head++) {
      const offset = (layer * reference.heads + head) * size;
      assertClose(`layer ${layer + 1}, head ${head + 1}`, attention.data.slice(offset, offset + size), Array.from(reference.data.subarray(offset, offset + size)), CLOSE);
    }
  }
});

test('the explorer shows the chosen layer’s, head’s and query’s row', async () => {
  const { page } = session;
  const panel = page.locator('.tabpanel:not([hidden])');
  await panel.getByLabel('Layer').selectOption({ value: '0' });
  await panel.getByLabel('Head').selectOption({ value: '2' });
  // The query: the patch in the middle of the 6×6 grid, from the keyboard.
  await panel.locator('sl-heatmap').evaluate((el) => el.shadowRoot.querySelector('.frame').focus());
  await page.keyboard.press('Enter');
  const query = await page.evaluate(() => globalThis.sightlineTest.store.get().attention.query);
  assert.equal(query, 3 * 6 + 3 + 1, 'row 4, column 4 is the query');
  await page.waitForFunction(() => /head 3/.test(document.querySelector('.tabpanel:not([hidden]) .attention-readout').textContent));

  let view = await shown(page);
  let row = referenceRow({ layer: 0, head: 2, query });
  assertClose('the shown map', view.values, row.slice(1), CLOSE);
  assert.ok(Math.abs(view.scale.max - Math.max(...row.slice(1))) <= 2e-3 * view.scale.max, `the colour scale ends at the largest value: ${view.scale.max}`);
  assert.equal(view.scale.min, 0);
  const [toCls, toPatch] = [...view.readout.matchAll(/([\d.]+)%/g)].map((m) => Number(m[1]) / 100);
  assert.match(view.readout, /^Patch row 4, column 4 in layer 1 \(head 3\) gives/);
  assert.ok(Math.abs(toCls - row[0]) <= 0.005 * row[0], `the sentence's share for [CLS] ${toCls} is ${row[0]}`);
  assert.ok(Math.abs(toPatch - Math.max(...row.slice(1))) <= 0.005 * toPatch, `the sentence's largest patch share ${toPatch}`);

  // The mean of the heads, for the image token, in the last layer.
  await panel.getByLabel('Layer').selectOption({ value: String(reference.layers - 1) });
  await panel.getByLabel('Head').selectOption({ value: 'mean' });
  await panel.locator('button:has-text("Image token [CLS]")').click();
  await page.waitForFunction(() => /^The image token \[CLS\] in layer 2 \(averaged over heads\)/.test(document.querySelector('.tabpanel:not([hidden]) .attention-readout').textContent));
  view = await shown(page);
  row = referenceRow({ layer: reference.layers - 1, head: 'mean', query: 0 });
  assertClose('the shown mean map', view.values, row.slice(1), CLOSE);
  // That row is the attention method's map, which the parity test checks against transformers too.
  const expected = JSON.parse(readFileSync(join(FIXTURE_MODEL, 'expected.json'), 'utf8'));
  assertClose('the attention method’s map', view.values, expected.methods.attention.patch_scores, CLOSE);
});
