// The Ask mode with a generative model (the random LLaVA checkpoint llava-random-a, served by the
// test server; the wasm CPU path): loading it turns the page into Ask, the answer streams token by
// token and equals `sightline generate`'s ids and text, every token's map (and a word's: its
// tokens' maps summed) equals the CLI's, switching the method explains the same answer again,
// "why this token rather than that" equals the CLI's --contrast, Stop ends an answer and an
// explanation in flight at once and the engine works after it, and nothing leaves the origin.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { appUrl, assertClose, cliGenerate, launchBrowser, LLAVA_FIXTURE, LLAVA_URL, newPage, prepareDist, prepareLlavaFixture, startServer } from './helpers.mjs';

/** Longer than the model's 64 positions leave after the question: the answer is 13 tokens. */
const MAX_TOKENS = 32;
const METHODS = ['chefer', 'gradient'];

let server;
let browser;
let session;
let question;
/** `sightline generate` with every token explained, per method. */
const cli = {};

before(async () => {
  prepareDist();
  question = prepareLlavaFixture();
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  for (const method of METHODS) cli[method] = await cliGenerate({ prompt: question, maxTokens: MAX_TOKENS, method });
  session = await newPage(browser);
  await openAsk(session.page);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The app with llava-random-a loaded and its image open. */
async function openAsk(page, query = '') {
  await page.goto(appUrl(server.origin, `${query}#model=${LLAVA_URL}`));
  await page.waitForFunction(() => globalThis.sightlineTest?.store.get().model.info?.family === 'llava', null, { timeout: 60_000 });
  await page.setInputFiles('.image-source input[type=file]', join(LLAVA_FIXTURE, 'image.png'));
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().image?.name === 'image.png');
}

/** Types the question, presses Enter and waits for the answer to end; returns the run. */
async function askQuestion(page, text = question) {
  await page.fill('.question-input', text);
  await page.press('.question-input', 'Enter');
  await page.waitForFunction(() => ['done', 'stopped', 'error'].includes(globalThis.sightlineTest.store.get().ask.run?.status), null, { timeout: 60_000 });
  return page.evaluate(() => globalThis.sightlineTest.store.get().ask.run);
}

/** Selects answer tokens by clicking: the word, then (for one token of a longer word) the token. */
async function selectTokens(page, tokens) {
  const words = await page.$$eval('.answer-word', (buttons) => buttons.map((b) => b.dataset.tokens.split(',').map(Number)));
  const word = words.find((w) => w.includes(tokens[0]));
  await page.click(`.answer-word[data-tokens="${word.join(',')}"]`);
  if (tokens.length === 1 && word.length > 1) await page.click(`.token-choice[data-token="${tokens[0]}"]`);
}

/** The page's finished explanation of `tokens` with `method`. */
async function explanationOf(page, tokens, method) {
  await page.waitForFunction(
    ({ tokens, method }) => {
      const r = globalThis.sightlineTest.currentResult();
      if (r?.status === 'error') return true;
      return r?.status === 'done' && r.explanation.method === method && r.explanation.answer_tokens.join() === tokens.join();
    },
    { tokens, method },
    { timeout: 60_000 },
  );
  const result = await page.evaluate(() => globalThis.sightlineTest.currentResult());
  if (result.status === 'error') throw new Error(`the page failed to explain: ${result.error}`);
  return result.explanation;
}

/** The CLI's maps of a word: its tokens' maps summed, text scores position by position. */
function cliWord(method, tokens) {
  const parts = tokens.map((k) => cli[method].tokens[k]);
  const longest = parts.at(-1);
  const sum = (lists) => lists[0] && longest.text_tokens.map((_, i) => lists.reduce((total, l) => total + (l[i] ?? 0), 0)).slice(0, Math.max(...lists.map((l) => l.length)));
  return {
    patch_scores: parts[0].patch_scores.map((_, i) => parts.reduce((total, t) => total + t.patch_scores[i], 0)),
    text_scores: longest.text_scores ? sum(parts.map((t) => t.text_scores)) : null,
    text_tokens: longest.text_tokens,
  };
}

function assertMapsEqual(what, page, expected) {
  assertClose(`${what} patch scores`, page.patch_scores, expected.patch_scores);
  if (expected.text_scores) assertClose(`${what} text scores`, page.text_scores, expected.text_scores);
  else assert.equal(page.text_scores, null, `${what} has no text scores`);
  assert.deepEqual(page.text_tokens, expected.text_tokens, `${what} text tokens`);
}

test('a generative model turns the page into Ask, and the answer streams in equal to the CLI’s', async () => {
  const { page } = session;
  assert.equal(await page.evaluate(() => globalThis.sightlineTest.store.get().mode), 'ask');
  assert.ok(await page.isVisible('sl-ask'), 'the question panel shows');
  assert.ok(await page.isHidden('sl-labels'), 'CLIP’s texts are hidden');
  await page.evaluate(() => {
    globalThis.__runs = [];
    globalThis.sightlineTest.store.subscribe((s) => s.ask.run && globalThis.__runs.push([s.ask.run.status, s.ask.run.tokens.length]));
  });
  const run = await askQuestion(page);
  const reference = cli.chefer;
  assert.equal(run.status, 'done');
  assert.deepEqual(run.tokens.map((t) => t.id), reference.tokens.map((t) => t.id));
  assert.equal(run.generation.answer, reference.answer);
  assert.deepEqual(run.generation.prompt_ids, reference.prompt_ids);
  assert.equal(run.generation.prompt, reference.prompt);
  assertClose('streamed probabilities', run.tokens.map((t) => t.prob), reference.tokens.map((t) => t.prob));
  const runs = await page.evaluate(() => globalThis.__runs);
  const streamed = runs.filter(([status, count]) => status === 'generating' && count > 0).map(([, count]) => count);
  assert.ok(streamed.length >= reference.tokens.length - 1, `tokens reached the page one by one while the answer was generated: ${JSON.stringify(runs)}`);
  assert.deepEqual(streamed, [...new Set(streamed)].sort((a, b) => a - b), 'in order');
  // Every token is on the page with its probability.
  const shown = await page.$$eval('.answer-word', (buttons) => buttons.map((b) => b.dataset.tokens.split(',').map(Number)).flat());
  assert.deepEqual(shown, reference.tokens.map((_, k) => k));
  const probabilities = await page.$$eval('.answer-word-prob', (spans) => spans.map((s) => s.textContent).join(' · '));
  assert.equal(probabilities.split(' · ').length, reference.tokens.length);
});

test('every token’s map equals the CLI’s, and switching the method explains the same answer again', async () => {
  const { page } = session;
  const serial = await page.evaluate(() => globalThis.sightlineTest.store.get().ask.run.serial);
  for (const method of METHODS) {
    await page.click(`.method-radio[value="${method}"] + .method-label`);
    for (const [k, expected] of cli[method].tokens.entries()) {
      await selectTokens(page, [k]);
      const explanation = await explanationOf(page, [k], method);
      assertMapsEqual(`${method} token ${k}`, explanation, expected);
      if (expected.pixel_scores) assertClose(`${method} token ${k} pixel scores`, explanation.pixel_scores, expected.pixel_scores);
      assert.equal(explanation.backend, 'cpu');
    }
  }
  const run = await page.evaluate(() => globalThis.sightlineTest.store.get().ask.run);
  assert.equal(run.serial, serial, 'the answer was not generated again');
  const title = await page.textContent('.result-subtitle');
  assert.match(title, /^for “/);
});

test('a word of several tokens is explained by the sum of their maps, and the page says so', async () => {
  const { page } = session;
  const words = await page.$$eval('.answer-word', (buttons) => buttons.map((b) => b.dataset.tokens.split(',').map(Number)));
  const word = words.find((w) => w.length > 1);
  assert.ok(word, `the answer has a word of several tokens: ${JSON.stringify(words)}`);
  await page.click(`.method-radio[value="chefer"] + .method-label`);
  await page.click(`.answer-word[data-tokens="${word.join(',')}"]`);
  const explanation = await explanationOf(page, word, 'chefer');
  assertMapsEqual('the word', explanation, cliWord('chefer', word));
  assert.match(await page.textContent('.result-subtitle'), new RegExp(`\\(${word.length} tokens: their maps summed\\)`));
  assert.match(await page.textContent('.answer-detail'), /the map is the sum of their maps/);
});

test('why this token rather than that: a candidate’s or a typed token’s contrast equals the CLI’s --contrast', async () => {
  const { page } = session;
  await page.click(`.method-radio[value="chefer"] + .method-label`);
  // A token whose runner-up is a plain word, so that the CLI can name it as text.
  const k = cli.chefer.tokens.findIndex((t) => t.top.slice(1).some((c) => /^ ?[a-z]+$/.test(c.text)));
  const candidate = cli.chefer.tokens[k].top.slice(1).find((c) => /^ ?[a-z]+$/.test(c.text));
  const expected = (await cliGenerate({ prompt: question, maxTokens: MAX_TOKENS, method: 'chefer', token: k, contrast: candidate.text })).tokens[k];
  await selectTokens(page, [k]);
  await page.click(`.candidate[data-id="${candidate.id}"]`);
  const byId = await explanationOf(page, [k], 'chefer');
  assert.equal(byId.contrast.id, candidate.id);
  assertMapsEqual('contrast by candidate', byId, expected);
  assert.match(await page.textContent('.result-subtitle'), /rather than/);
  await page.click('.clear-contrast');
  await page.fill('.contrast-input', candidate.text);
  await page.press('.contrast-input', 'Enter');
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().ask.contrast?.text !== undefined && globalThis.sightlineTest.store.get().ask.contrast.id === undefined);
  const typed = await explanationOf(page, [k], 'chefer');
  assertMapsEqual('contrast by text', typed, expected);
  // Text that is not one token is refused with the engine's reason.
  await page.fill('.contrast-input', 'not one token at all');
  await page.press('.contrast-input', 'Enter');
  await page.waitForFunction(() => globalThis.sightlineTest.currentResult()?.status === 'error');
  assert.match(await page.textContent('.result-status'), /token/);
  await page.click('.clear-contrast');
});

test('Stop ends the answer at once, keeps its tokens, and the engine answers again after it', async () => {
  const { page } = session;
  // Each token holds the worker 150 ms, as a large model's decoding step would.
  await page.evaluate(() => globalThis.sightlineTest.engine.request('test:tokenDelay', { ms: 150 }));
  await page.fill('.question-input', question);
  await page.press('.question-input', 'Enter');
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().ask.run?.tokens.length >= 2, null, { timeout: 30_000 });
  const clicked = await page.evaluate(() => performance.now());
  await page.click('.stop-button');
  const stopped = await page.evaluate(() => ({ status: globalThis.sightlineTest.store.get().ask.run.status, at: performance.now() }));
  assert.equal(stopped.status, 'stopped');
  assert.ok(stopped.at - clicked < 500, `stopped within ${stopped.at - clicked} ms`);
  const kept = await page.evaluate(() => globalThis.sightlineTest.store.get().ask.run.tokens.length);
  // Nothing more arrives: the generation is over.
  await page.waitForTimeout(1000);
  const run = await page.evaluate(() => globalThis.sightlineTest.store.get().ask.run);
  assert.equal(run.tokens.length, kept);
  assert.ok(kept < cli.chefer.tokens.length, `${kept} tokens of ${cli.chefer.tokens.length}`);
  assert.match(await page.textContent('.answer-status'), /^Stopped after/);
  assert.equal(await page.locator('.alert-error:has-text("restarted")').count(), 0, 'a requested stop is no crash');
  // The tokens so far are explained like any answer's (the first content word is selected).
  const selection = await page.evaluate(() => globalThis.sightlineTest.store.get().ask.selection.tokens);
  const explanation = await explanationOf(page, selection, 'chefer');
  assertMapsEqual('a word of a stopped answer', explanation, cliWord('chefer', selection));

  // An explanation in flight: with every token held, scoring the answer takes seconds.
  await page.evaluate(() => globalThis.sightlineTest.engine.request('test:tokenDelay', { ms: 400 }));
  await page.click('.method-panel .run');
  await page.waitForFunction(() => globalThis.sightlineTest.currentResult()?.status === 'running');
  await page.click('.stop-button');
  assert.equal(await page.evaluate(() => globalThis.sightlineTest.currentResult().status), 'stopped');
  await page.waitForTimeout(1000);
  assert.equal(await page.evaluate(() => globalThis.sightlineTest.currentResult().status), 'stopped', 'a stopped explanation stays stopped');
  assert.match(await page.textContent('.result-status'), /Stopped/);

  // The engine answers again, in full, and explains on request.
  await page.evaluate(() => globalThis.sightlineTest.engine.request('test:tokenDelay', { ms: 0 }));
  const again = await askQuestion(page);
  assert.equal(again.status, 'done');
  assert.deepEqual(again.tokens.map((t) => t.id), cli.chefer.tokens.map((t) => t.id));
  const k = again.tokens.length - 1;
  await selectTokens(page, [k]);
  await page.click(`.method-radio[value="gradient"] + .method-label`);
  assertMapsEqual('after a stop', await explanationOf(page, [k], 'gradient'), cli.gradient.tokens[k]);
});

test('a word’s map exports as PNG, titled as the page titles it, and as JSON with each token’s generate JSON', async () => {
  const { page } = session;
  await page.click(`.method-radio[value="chefer"] + .method-label`);
  const tokens = await page.evaluate(() => globalThis.sightlineTest.store.get().ask.selection.tokens);
  const explanation = await explanationOf(page, tokens, 'chefer');
  const read = async (download) => Buffer.concat(await (await download.createReadStream()).toArray());
  const [json] = await Promise.all([page.waitForEvent('download'), page.click('button:has-text("Export JSON")')]);
  const exported = JSON.parse(await read(json));
  assert.deepEqual(exported.patch_scores, explanation.patch_scores);
  assert.equal(exported.generations.length, tokens.length);
  exported.generations.forEach((g, i) => assertClose(`token ${tokens[i]}`, g.tokens[tokens[i]].patch_scores, cli.chefer.tokens[tokens[i]].patch_scores));
  const [png] = await Promise.all([page.waitForEvent('download'), page.click('button:has-text("Export PNG")')]);
  assert.deepEqual([...(await read(png)).subarray(1, 4)], [0x50, 0x4e, 0x47]);
  const title = await page.evaluate(async () => (await import('/app/exports.js')).overlayTitle(globalThis.sightlineTest.currentResult().explanation));
  assert.match(title, /^Chefer relevance · for “.*” · p = /);
});

test('the link carries the model, the question and the method', async () => {
  const { page } = session;
  await page.waitForFunction(() => /[#&]q=/.test(location.hash));
  const url = await page.evaluate(() => location.href);
  const other = await newPage(browser);
  await other.page.goto(url);
  await other.page.waitForFunction(() => globalThis.sightlineTest?.store.get().model.info?.family === 'llava', null, { timeout: 60_000 });
  assert.equal(await other.page.inputValue('.question-input'), question);
  assert.equal(await other.page.evaluate(() => globalThis.sightlineTest.store.get().method), await page.evaluate(() => globalThis.sightlineTest.store.get().method));
  await other.context.close();
});

test('no request leaves the page’s origin, and nothing went wrong in the page', async () => {
  const foreign = session.requests.filter((url) => !url.startsWith('blob:') && !url.startsWith('data:') && new URL(url).origin !== server.origin);
  assert.deepEqual(foreign, []);
  assert.ok(session.requests.some((url) => url.endsWith(`${LLAVA_URL}model.safetensors`)), 'the model came from the test server');
  assert.deepEqual(session.problems, []);
});
