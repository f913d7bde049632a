// The in-browser benchmark page: it measures both backends (WebGPU on Chromium's software adapter
// here, and the wasm CPU path), reports which one ran, fills every phase the method has with a
// measured time, and its phases add up to the warm total they are shown beside.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, newPage, prepareDist, startServer } from './helpers.mjs';

let server;
let browser;

before(async () => {
  prepareDist();
  [server, browser] = await Promise.all([startServer(), launchBrowser({ webgpu: true })]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The rows of a results table as arrays of cell texts. */
function tableRows(page, id) {
  return page.$$eval(`#${id} tbody tr`, (rows) => rows.map((row) => [...row.cells].map((cell) => cell.textContent)));
}

const milliseconds = (text) => Number(/^([\d.]+) ms$/.exec(text)?.[1]);
/** A time as the page rounds it: to 0.1 ms below 10 ms, else to 1 ms. */
const rounding = (ms) => (ms < 10 ? 0.05 : 0.5);

test('the benchmark page times both backends phase by phase', async () => {
  const { page, problems } = await newPage(browser);
  await page.goto(`${server.origin}/bench.html?methods=rollout,gradient,integrated_gradients&runs=2&steps=4&autorun=1`);
  await page.waitForFunction(() => ['done', 'failed'].includes(document.body.dataset.state), null, { timeout: 180_000 });
  assert.equal(await page.textContent('#bench-status'), 'Done.');
  assert.deepEqual(problems, []);

  const start = await tableRows(page, 'bench-start');
  assert.deepEqual(start.map((row) => row[0]), ['webgpu', 'cpu']);
  assert.match(start[0][1], /^webgpu \(.+\)$/, 'the adapter is named');
  assert.equal(start[1][1], 'cpu');
  assert.ok(milliseconds(start[0][3]) > 0, 'the model upload to the GPU is timed');
  assert.equal(start[1][3], '–', 'the CPU uploads nothing');

  const rows = await tableRows(page, 'bench-explain');
  assert.deepEqual(rows.map((row) => `${row[0]} ${row[1]}`), [
    'webgpu rollout', 'webgpu gradient', 'webgpu integrated_gradients',
    'cpu rollout', 'cpu gradient', 'cpu integrated_gradients',
  ]);
  for (const [ranOn, method, first, total, preprocess, upload, forward, backward, own, readback, other] of rows) {
    const what = `${ranOn} ${method}`;
    for (const [name, text] of Object.entries({ first, total, preprocess, upload, forward, own, readback, other })) {
      assert.ok(milliseconds(text) >= 0, `${what}: ${name} is "${text}"`);
    }
    assert.ok(milliseconds(total) >= milliseconds(forward), `${what}: the total covers the forward pass`);
    if (method === 'gradient') assert.ok(milliseconds(backward) > 0, `${what}: backward is timed`);
    else assert.equal(backward, '–', `${what}: no separate backward phase`);
    // The columns are one run's phases: they add up to its total, within the display's rounding.
    const parts = [preprocess, upload, forward, backward, own, readback, other].filter((t) => t !== '–').map(milliseconds);
    const slack = [...parts, milliseconds(total)].reduce((sum, part) => sum + rounding(part), 0);
    const sum = parts.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - milliseconds(total)) <= slack, `${what}: the phases add up to ${sum} ms, the total is ${total}`);
  }

  const raw = JSON.parse(await page.textContent('#bench-json'));
  assert.equal(raw.results.length, 2);
  assert.equal(raw.results[0].explanations[0].warm.length, 2);
  await page.close();
});
