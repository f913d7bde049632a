// The engine worker's requests as one checked table, and the test hooks out of production: without
// `?test-hooks` the page has no `sightlineTest` (nor the old `sightline`) global and the worker
// refuses the test requests; the engine module exports no test function; every request's
// arguments are checked before it runs.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, newPage, prepareDist, startServer } from './helpers.mjs';

let server;
let browser;
let session;

before(async () => {
  prepareDist();
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  session = await newPage(browser);
  await session.page.goto(`${server.origin}/`);
  await session.page.waitForFunction(() => document.documentElement.dataset.firstExplanation, null, { timeout: 60_000 });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Starts a worker of its own in the page, sends `init` (with `testHooks`), then `requests`; returns their answers. */
function askWorker(page, testHooks, requests) {
  return page.evaluate(
    async ({ testHooks, requests }) => {
      const worker = new Worker('/worker.js', { type: 'module' });
      const answers = new Map();
      worker.addEventListener('message', ({ data }) => {
        if (data.type === 'progress') return;
        answers.get(data.id)?.(data);
      });
      const send = (id, message) =>
        new Promise((resolve) => {
          answers.set(id, resolve);
          worker.postMessage({ id, ...message });
        });
      try {
        const init = await send(0, { type: 'init', backend: 'cpu', testHooks });
        const out = [];
        for (const [i, request] of requests.entries()) out.push(await send(i + 1, request));
        return { init: init.type, answers: out.map(({ type, message, fatal }) => ({ type, message, fatal })) };
      } finally {
        worker.terminate();
      }
    },
    { testHooks, requests },
  );
}

test('without ?test-hooks the page has no test globals and the worker refuses test requests', async () => {
  const { page, problems } = session;
  assert.deepEqual(await page.evaluate(() => [typeof globalThis.sightlineTest, typeof globalThis.sightline]), ['undefined', 'undefined']);
  const { init, answers } = await askWorker(page, false, [{ type: 'test:crash' }, { type: 'test:loseWebGpuDevice' }]);
  assert.equal(init, 'result');
  for (const answer of answers) {
    assert.equal(answer.type, 'error');
    assert.equal(answer.fatal, false, 'a refusal is not a crash');
    assert.match(answer.message, /refuses "test:.*": test requests need the page's \?test-hooks/);
  }
  // The engine module itself has no test functions.
  const exported = await page.evaluate(async () => {
    const engine = await import('/engine.js');
    return [...Object.keys(engine), ...Object.getOwnPropertyNames(engine.Engine.prototype)].filter((name) => /test|simulate|tokenizeWith/i.test(name));
  });
  assert.deepEqual(exported, []);
  assert.deepEqual(problems, []);
});

test('with test hooks the worker crashes on request, as a wasm trap would', async () => {
  const { answers } = await askWorker(session.page, true, [{ type: 'test:crash' }]);
  assert.equal(answers[0].type, 'error');
  assert.equal(answers[0].fatal, true);
  assert.match(answers[0].message, /the engine crashed/);
});

test('every request’s arguments are checked before it runs', async () => {
  const { answers } = await askWorker(session.page, false, [
    { type: 'colormap', name: 'inferno' },
    { type: 'explain', options: { texts: ['a'], method: 'chefer' } },
    { type: 'scene', seed: -1, size: 96, minObjects: 2, maxObjects: 4 },
    { type: 'scene', seed: 1, size: 96, minObjects: 2, maxObjects: 4, colour: 'red' },
    { type: 'faithfulness', image: { key: 'x' }, patchScores: 'many', texts: ['a'], target: 0 },
    { type: 'init', backend: 'metal' },
    { type: 'scene', seed: 1, size: 48, minObjects: 1, maxObjects: 1 },
  ]);
  const messages = answers.map((a) => `${a.type}: ${a.message ?? ''}`);
  assert.match(messages[0], /^error: the engine has no request "colormap"/);
  assert.match(messages[1], /^error: the engine's "explain" request needs image as an image \{key, bytes\?\}/);
  assert.match(messages[2], /^error: the engine's "scene" request needs seed as a whole number of 0 or more/);
  assert.match(messages[3], /^error: the engine's "scene" request takes no "colour" \(it takes seed, size, minObjects, maxObjects\)/);
  assert.match(messages[4], /^error: the engine's "faithfulness" request needs patchScores as a list of numbers/);
  assert.match(messages[5], /^error: the engine's "init" request needs backend as one of auto, webgpu, cpu/);
  assert.equal(messages[6], 'result: ', 'a well-formed request still runs');
  assert.ok(answers.every((a) => a.fatal !== true), 'a refused request is not a crash');
});
