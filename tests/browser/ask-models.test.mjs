// Generative models from everywhere the page loads models, each answering as `sightline generate`
// does: a sharded folder without a chat template picked from disk (llava-random-c), a folder in
// the transformers-4 layout by address (llava-random-b: special_tokens_map.json,
// chat_template.json, preprocessor_config.json), a q8_0 GGUF copy by address; and a CLIP model
// loaded after them turns the page back to its labels.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { appUrl, assertClose, CLI, cliGenerate, DIST, launchBrowser, newPage, openAppWithModel, prepareDist, ROOT, startServer } from './helpers.mjs';

const FIXTURES = join(ROOT, 'tests', 'fixtures');
const MAX_TOKENS = 32;
const run = promisify(execFile);

let server;
let browser;
let session;

const fixture = (name) => join(FIXTURES, name);
const questionOf = (name) => JSON.parse(readFileSync(join(fixture(name), 'expected.json'), 'utf8')).prompt;

before(async () => {
  const served = prepareDist();
  cpSync(fixture('llava-random-b'), join(served, 'llava-random-b'), { recursive: true });
  await run(CLI, ['quantize', '--model', fixture('llava-random-a'), '--to', 'q8_0', '--out', join(served, 'llava-random-a-q8_0.gguf')]);
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  session = await newPage(browser);
  await openAppWithModel(session.page, server.origin);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Opens `image`, asks `question` and returns the finished run and the first token's chefer map. */
async function askAbout(page, image, question) {
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().mode === 'ask' && globalThis.sightlineTest.store.get().model.status === 'ready', null, { timeout: 60_000 });
  await page.setInputFiles('.image-source input[type=file]', image);
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().image?.name === 'image.png');
  await page.click('.method-radio[value="chefer"] + .method-label');
  await page.fill('.question-input', question);
  await page.press('.question-input', 'Enter');
  await page.waitForFunction(() => ['done', 'error'].includes(globalThis.sightlineTest.store.get().ask.run?.status), null, { timeout: 60_000 });
  const run = await page.evaluate(() => globalThis.sightlineTest.store.get().ask.run);
  assert.equal(run.status, 'done', run.error);
  await page.click(`.answer-word[data-tokens^="0"]`);
  await page.click('.token-choice[data-token="0"]').catch(() => {});
  await page.waitForFunction(() => {
    const r = globalThis.sightlineTest.currentResult();
    return r?.status === 'error' || (r?.status === 'done' && r.explanation.answer_tokens.join() === '0');
  });
  const result = await page.evaluate(() => globalThis.sightlineTest.currentResult());
  assert.equal(result.status, 'done', result.error);
  return { run, explanation: result.explanation };
}

async function assertAnswersAsTheCli(page, { model, image, question }) {
  const { run, explanation } = await askAbout(page, image, question);
  const expected = await cliGenerate({ model, image, prompt: question, maxTokens: MAX_TOKENS, method: 'chefer', token: 0 });
  assert.deepEqual(run.tokens.map((t) => t.id), expected.tokens.map((t) => t.id));
  assert.equal(run.generation.answer, expected.answer);
  assert.deepEqual(run.generation.prompt_ids, expected.prompt_ids);
  assertClose('token 0 patch scores', explanation.patch_scores, expected.tokens[0].patch_scores);
}

test('a sharded LLaVA folder without a chat template, picked from disk, answers as the CLI', async () => {
  const { page } = session;
  const folder = fixture('llava-random-c');
  const files = readdirSync(folder).filter((f) => f !== 'expected.json' && f !== 'image.png');
  assert.ok(files.includes('model.safetensors.index.json'));
  await page.click('.model-chip');
  const dialog = page.locator('.model-dialog');
  await dialog.locator('input[type=file]').setInputFiles(files.map((f) => join(folder, f)));
  await dialog.locator('button:has-text("Load files")').click();
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().model.info?.family === 'llava' && globalThis.sightlineTest.store.get().modelSource?.kind === 'files', null, { timeout: 60_000 });
  assert.equal(await dialog.isVisible(), false);
  assert.match(await page.textContent('.model-chip'), /answers questions/);
  assert.ok(await page.isVisible('sl-ask p:has-text("no chat template")'), 'the page says the prompt is used as written');
  await assertAnswersAsTheCli(page, { model: folder, image: join(folder, 'image.png'), question: questionOf('llava-random-c') });
});

test('a LLaVA folder in the transformers-4 layout loads by address and answers as the CLI', async () => {
  const { page } = session;
  // A fresh page (a new fragment alone would not load another model).
  await page.goto('about:blank');
  await page.goto(appUrl(server.origin, '#model=/test-fixtures/llava-random-b/'));
  const folder = fixture('llava-random-b');
  await assertAnswersAsTheCli(page, { model: folder, image: join(folder, 'image.png'), question: questionOf('llava-random-b') });
});

test('a LLaVA GGUF file loads by address and answers as the CLI does with it', async () => {
  const { page } = session;
  await page.goto('about:blank');
  await page.goto(appUrl(server.origin, '#model=/test-fixtures/llava-random-a-q8_0.gguf'));
  await page.waitForFunction(() => globalThis.sightlineTest?.store.get().model.info?.family === 'llava', null, { timeout: 60_000 });
  assert.equal(await page.evaluate(() => globalThis.sightlineTest.store.get().model.info.model.dtype), 'q8_0');
  await assertAnswersAsTheCli(page, { model: join(DIST, 'test-fixtures', 'llava-random-a-q8_0.gguf'), image: join(fixture('llava-random-a'), 'image.png'), question: questionOf('llava-random-a') });
});

test('a CLIP model after a generative one brings the labels back, with a CLIP method', async () => {
  const { page } = session;
  await page.click('.method-radio[value="token_activation"] + .method-label');
  await page.click('.model-chip');
  await page.locator('.model-dialog button:has-text("Use the built-in model")').click();
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().model.info?.family === 'clip' && globalThis.sightlineTest.store.get().mode === 'clip');
  assert.ok(await page.isVisible('sl-labels'));
  assert.ok(await page.isHidden('sl-ask'));
  assert.equal(await page.evaluate(() => globalThis.sightlineTest.store.get().method), 'chefer', 'a generative-only method gives way to chefer');
  assert.equal(await page.locator('.method-radio[value="gradcam"]').count(), 1, 'CLIP’s methods are offered again');
  assert.equal(await page.locator('.method-radio[value="token_activation"]').count(), 0);
  assert.deepEqual(session.problems, []);
});
