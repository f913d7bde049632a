// The Ask mode on WebGPU in the browser (Chromium's software adapter, SwiftShader): the answer
// equals the CLI's (CPU) ids, every token's map equals the CPU's within the parity contract, Stop
// ends the answer between two tokens without replacing the worker (the worker reads the request
// while it awaits the GPU), and a device lost in the middle of an answer finishes it on the CPU
// and says so.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { appUrl, assertClose, cliGenerate, launchBrowser, LLAVA_FIXTURE, LLAVA_URL, newPage, prepareDist, prepareLlavaFixture, startServer } from './helpers.mjs';

const MAX_TOKENS = 32;
/** The parity contract of WebGPU against the CPU (as tests/browser/webgpu.test.mjs). */
const TOLERANCE = { rtol: 2e-3, scale: 2e-3 };
const METHODS = ['chefer', 'gradient'];

let server;
let browser;
let session;
let question;
const cli = {};

before(async () => {
  prepareDist();
  question = prepareLlavaFixture();
  [server, browser] = await Promise.all([startServer(), launchBrowser({ webgpu: true })]);
  for (const method of METHODS) cli[method] = await cliGenerate({ prompt: question, maxTokens: MAX_TOKENS, method });
  session = await newPage(browser);
  const { page } = session;
  await page.goto(appUrl(server.origin, `?backend=webgpu#model=${LLAVA_URL}`));
  await page.waitForFunction(() => globalThis.sightlineTest?.store.get().model.info?.family === 'llava', null, { timeout: 90_000 });
  await page.setInputFiles('.image-source input[type=file]', join(LLAVA_FIXTURE, 'image.png'));
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().image?.name === 'image.png');
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function askQuestion(page) {
  await page.fill('.question-input', question);
  await page.press('.question-input', 'Enter');
  await page.waitForFunction(() => ['done', 'stopped', 'error'].includes(globalThis.sightlineTest.store.get().ask.run?.status), null, { timeout: 120_000 });
  return page.evaluate(() => globalThis.sightlineTest.store.get().ask.run);
}

/** Token k's map through the page's engine client, as the Ask mode requests it. */
function explainToken(page, k, method) {
  return page.evaluate(
    ({ k, method }) => {
      const { engine, store } = globalThis.sightlineTest;
      const s = store.get();
      const answer = s.ask.run.tokens.map((t) => t.id);
      return engine.generate(s.image, { prompt: s.ask.run.question, answer, maxTokens: answer.length, token: k, method });
    },
    { k, method },
  );
}

test('the answer on WebGPU is the CLI’s, and every token’s map equals the CPU’s', async () => {
  const { page } = session;
  const info = await page.evaluate(() => globalThis.sightlineTest.store.get().model.info);
  assert.equal(info.backend, 'webgpu');
  assert.match(info.adapter, /swiftshader.*\(software\)/i);
  const run = await askQuestion(page);
  assert.equal(run.status, 'done');
  assert.equal(run.generation.backend, 'webgpu');
  assert.deepEqual(run.tokens.map((t) => t.id), cli.chefer.tokens.map((t) => t.id));
  assertClose('probabilities', run.tokens.map((t) => t.prob), cli.chefer.tokens.map((t) => t.prob), TOLERANCE);
  for (const method of METHODS) {
    for (const [k, expected] of cli[method].tokens.entries()) {
      const generation = await explainToken(page, k, method);
      assert.equal(generation.backend, 'webgpu', `${method} token ${k}`);
      const token = generation.tokens[k];
      assertClose(`${method} token ${k} patch scores`, token.patch_scores, expected.patch_scores, TOLERANCE);
      if (expected.text_scores) assertClose(`${method} token ${k} text scores`, token.text_scores, expected.text_scores, TOLERANCE);
      if (expected.pixel_scores) assertClose(`${method} token ${k} pixel scores`, token.pixel_scores, expected.pixel_scores, TOLERANCE);
    }
  }
});

test('Stop ends a WebGPU answer between two tokens, without replacing the worker', async () => {
  const { page } = session;
  const restarts = await page.evaluate(() => globalThis.sightlineTest.engine.restarts);
  await page.evaluate(() => globalThis.sightlineTest.engine.request('test:tokenDelay', { ms: 150 }));
  await page.fill('.question-input', question);
  await page.press('.question-input', 'Enter');
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().ask.run?.tokens.length >= 2, null, { timeout: 60_000 });
  await page.click('.stop-button');
  assert.equal(await page.evaluate(() => globalThis.sightlineTest.store.get().ask.run.status), 'stopped');
  const kept = await page.evaluate(() => globalThis.sightlineTest.store.get().ask.run.tokens.length);
  assert.ok(kept < cli.chefer.tokens.length);
  // The worker stops by itself, so it is kept (and keeps its GPU).
  await page.waitForTimeout(1500);
  assert.equal(await page.evaluate(() => globalThis.sightlineTest.engine.restarts), restarts, 'the worker was not replaced');
  await page.evaluate(() => globalThis.sightlineTest.engine.request('test:tokenDelay', { ms: 0 }));
  const generation = await explainToken(page, 0, 'chefer');
  assert.equal(generation.backend, 'webgpu');
});

test('a device lost in the middle of an answer: the CPU finishes it, and the page says so', async () => {
  const { page } = session;
  assert.equal(await page.evaluate(() => globalThis.sightlineTest.engine.request('test:loseWebGpuDeviceAtToken', { index: 2 })), true);
  const run = await askQuestion(page);
  assert.equal(run.status, 'done');
  assert.equal(run.generation.backend, 'cpu');
  assert.ok(run.generation.warnings.some((w) => /webgpu backend failed/.test(w)), JSON.stringify(run.generation.warnings));
  assert.deepEqual(run.tokens.map((t) => t.id), cli.chefer.tokens.map((t) => t.id), 'the tokens streamed again from the CPU replace the lost ones');
  assert.match(await page.textContent('sl-alerts'), /webgpu backend failed/);
  // Later requests go straight to the CPU.
  const next = await explainToken(page, 1, 'chefer');
  assert.equal(next.backend, 'cpu');
  assert.deepEqual(next.warnings, []);
  assertClose('after the loss', next.tokens[1].patch_scores, cli.chefer.tokens[1].patch_scores);
});
