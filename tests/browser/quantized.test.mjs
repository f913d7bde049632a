// Quantized models in the browser: a GGUF file from `sightline quantize` loads from an address (with
// progress, into the cache) and explains as the CLI does; one too large for wasm memory is declined
// before its body is fetched; and the "full precision vs quantized" view quantizes the built-in
// model in the page (to the bytes the CLI writes), or sets a GGUF file beside its full-precision
// original, and reports the engine's drift numbers, checked here against an independent Spearman.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { artifact, CLI, DIST, FIXTURE_MODEL, FIXTURE_URL_PATH, launchBrowser, newPage, openAppWithModel, prepareDist, relativeError, startServer, waitForExplanation } from './helpers.mjs';

const run = promisify(execFile);
const TOLERANCE = 2e-3;
let server;
let browser;
let fixtures;

/** `sightline quantize` of `model` ('default' or a folder) into dist's test fixtures. */
async function quantize(model, format, name) {
  const out = join(fixtures, name);
  await run(CLI, ['quantize', '--model', model, '--to', format, '--out', out]);
  return { path: out, url: `${FIXTURE_URL_PATH}${name}`, size: statSync(out).size };
}

let q4;
let q8;
let randomQ8;

before(async () => {
  fixtures = prepareDist();
  const other = join(fixtures, 'clip-random-b');
  mkdirSync(other, { recursive: true });
  for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'preprocessor_config.json']) cpSync(join(FIXTURE_MODEL, '..', 'clip-random-b', file), join(other, file));
  [q4, q8, randomQ8] = await Promise.all([quantize('default', 'q4_0', 'default-q4_0.gguf'), quantize('default', 'q8_0', 'default-q8_0.gguf'), quantize(FIXTURE_MODEL, 'q8_0', 'clip-random-a-q8_0.gguf')]);
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Spearman's ρ with average ranks for ties, written independently of the engine's. */
function spearman(a, b) {
  const ranks = (values) => {
    const order = values.map((v, i) => [v, i]).sort((x, y) => x[0] - y[0]);
    const out = new Array(values.length);
    for (let start = 0; start < order.length; ) {
      let end = start;
      while (end + 1 < order.length && order[end + 1][0] === order[start][0]) end++;
      for (let k = start; k <= end; k++) out[order[k][1]] = (start + end) / 2 + 1;
      start = end + 1;
    }
    return out;
  };
  const [ra, rb] = [ranks(a), ranks(b)];
  const mean = (v) => v.reduce((s, x) => s + x, 0) / v.length;
  const [ma, mb] = [mean(ra), mean(rb)];
  let cov = 0;
  let va = 0;
  let vb = 0;
  for (let i = 0; i < ra.length; i++) {
    cov += (ra[i] - ma) * (rb[i] - mb);
    va += (ra[i] - ma) ** 2;
    vb += (rb[i] - mb) ** 2;
  }
  return cov / Math.sqrt(va * vb);
}

const argmax = (values) => values.reduce((best, v, i) => (v > values[best] ? i : best), 0);

/** Loads a model address through the model dialog, as a person would. */
async function loadFromAddress(page, url) {
  await page.click('.model-chip');
  const dialog = page.locator('.model-dialog');
  await dialog.locator('input[type=text]').fill(url);
  await dialog.locator('.button.primary').click();
}

async function cliExplainWith(model, image, texts, target, method) {
  const args = ['explain', '--model', model, '--image', image, ...texts.flatMap((t) => ['--text', t]), '--target', String(target), '--method', method, '--json', '-'];
  const { stdout } = await run(CLI, args, { maxBuffer: 64 << 20 });
  return JSON.parse(stdout);
}

test('a GGUF file loads from an address with progress, is cached, and explains as q4_0', async () => {
  const { page, context, problems } = await newPage(browser);
  const gets = [];
  context.on('request', (request) => request.url().endsWith('.gguf') && gets.push(`${request.method()} ${new URL(request.url()).pathname}`));
  await openAppWithModel(page, server.origin);
  await waitForExplanation(page);
  await page.evaluate(() => {
    globalThis.__progress = [];
    globalThis.sightlineTest.store.subscribe((s, p) => s.model.progress && s.model.progress !== p.model.progress && globalThis.__progress.push({ ...s.model.progress }));
  });
  const url = `${server.origin}${q4.url}`;
  await loadFromAddress(page, url);
  await page.waitForFunction((url) => globalThis.sightlineTest.store.get().modelSource?.url === url && globalThis.sightlineTest.store.get().model.status === 'ready', url);
  const progress = await page.evaluate(() => globalThis.__progress);
  const downloads = progress.filter((p) => p.phase === 'download');
  assert.ok(downloads.length >= 2, `download progress was reported: ${JSON.stringify(progress)}`);
  assert.ok(downloads.every((p) => p.file === 'default-q4_0.gguf' && p.total === q4.size && !p.cached));
  assert.equal(downloads.at(-1).loaded, q4.size);
  assert.ok(progress.some((p) => p.phase === 'load'), 'loading the weights was reported');
  assert.ok(await page.evaluate(async (url) => Boolean(await (await caches.open('sightline-models-v1')).match(url)), url), 'the file is in the cache');

  const explanation = await waitForExplanation(page);
  assert.equal(explanation.model.dtype, 'q4_0');
  assert.match(await page.textContent('.model-chip'), /q4_0/);
  const state = await page.evaluate(() => globalThis.sightlineTest.store.get().clip);
  const cli = await cliExplainWith(q4.path, join(DIST, 'examples', 'scene-32.png'), state.texts, state.target, explanation.method);
  assert.equal(cli.model.dtype, 'q4_0');
  assert.ok(relativeError(explanation.patch_scores, cli.patch_scores) < TOLERANCE, 'the page explains the GGUF file as the CLI does');
  assert.ok(Math.abs(explanation.score - cli.score) < 1e-3);

  // A second load reads the cache: no second download of the body.
  const getsBefore = gets.filter((g) => g.startsWith('GET')).length;
  await page.evaluate(() => (globalThis.__progress = []));
  await loadFromAddress(page, url);
  await page.waitForFunction(() => globalThis.__progress.some((p) => p.done) && globalThis.sightlineTest.store.get().model.status === 'ready');
  assert.equal((await waitForExplanation(page)).model.dtype, 'q4_0');
  const again = await page.evaluate(() => globalThis.__progress.filter((p) => p.phase === 'download'));
  assert.ok(again.length > 0 && again.every((p) => p.cached), `the second load read the cache: ${JSON.stringify(again)}`);
  assert.equal(gets.filter((g) => g.startsWith('GET')).length, getsBefore, `no second GET: ${gets.join(', ')}`);
  assert.deepEqual(problems, []);
  await context.close();
});

test('a GGUF file too large for wasm memory is declined before its body is fetched', async () => {
  const { page, context } = await newPage(browser);
  const served = { HEAD: 0, GET: 0 };
  const huge = 3 * 1024 ** 3;
  // A same-origin address whose server says it is 3 GiB: the body, were it ever asked for, is
  // counted and never sent.
  await context.route('**/test-fixtures/huge-model.gguf', (route) => {
    const method = route.request().method();
    served[method] = (served[method] ?? 0) + 1;
    if (method === 'HEAD') return route.fulfill({ status: 200, headers: { 'content-type': 'application/octet-stream', 'content-length': String(huge) }, body: '' });
    return route.abort();
  });
  await openAppWithModel(page, server.origin);
  await waitForExplanation(page);
  await loadFromAddress(page, `${server.origin}/test-fixtures/huge-model.gguf`);
  const dialogError = page.locator('.model-dialog .dialog-error');
  await dialogError.filter({ hasText: /MB/ }).waitFor();
  assert.match(await dialogError.textContent(), /huge-model\.gguf is 3221 MB: loading it needs about \d+ MB, more than a browser gives WebAssembly/);
  await page.keyboard.press('Escape');
  assert.match(await page.textContent('.model-chip-error'), /could not be loaded: .*more than a browser gives WebAssembly.*The built-in model is still in use/);
  assert.equal(served.HEAD, 1, 'the size was asked for');
  assert.equal(served.GET, 0, 'the body was never requested');
  // The model in use is untouched.
  const state = await page.evaluate(() => ({ source: globalThis.sightlineTest.store.get().modelSource, status: globalThis.sightlineTest.store.get().model.status }));
  assert.deepEqual(state, { source: { kind: 'default' }, status: 'ready' });
  await context.close();
});

/** Waits for the comparison of the current request; returns what the page shows and holds. */
async function comparison(page) {
  await page.waitForFunction(
    () => {
      const { entry } = globalThis.sightlineTest.currentComparison();
      return entry && (entry.status === 'done' || entry.status === 'error');
    },
    null,
    { timeout: 60_000 },
  );
  return page.evaluate(() => {
    const { entry, main, reference } = globalThis.sightlineTest.currentComparison();
    const shown = (metric) => document.querySelector(`.precision-numbers dd[data-metric="${metric}"]`)?.textContent;
    const captions = [...document.querySelectorAll('.precision-side')].map((f) => `${f.dataset.role}: ${f.querySelector('figcaption').textContent}`);
    const { plan } = globalThis.sightlineTest.store.get().precision;
    return { entry, main, plan, reference: { ...reference }, shown: { spearman: shown('spearman'), top: shown('top-patch'), probability: shown('probability') }, captions };
  });
}

/** Checks the engine's drift numbers against this file's own arithmetic. */
function checkDrift({ entry, main, shown }) {
  assert.equal(entry.status, 'done', entry.error);
  const other = entry.explanation;
  assert.equal(other.method, main.method);
  assert.deepEqual([other.texts, other.target], [main.texts, main.target]);
  assert.equal(main.patch_scores.length, other.patch_scores.length);
  const rho = spearman(main.patch_scores, other.patch_scores);
  assert.ok(Math.abs(entry.drift.spearman - rho) < 1e-9, `engine ρ ${entry.drift.spearman} vs ${rho}`);
  assert.equal(shown.spearman, entry.drift.spearman.toFixed(4));
  assert.equal(entry.drift.top_patch_agrees, argmax(main.patch_scores) === argmax(other.patch_scores));
  assert.match(shown.top, entry.drift.top_patch_agrees ? /^same/ : /^differs/);
  const dp = Math.max(...main.probs.map((p, i) => Math.abs(p - other.probs[i])));
  assert.ok(Math.abs(entry.drift.max_probability_difference - dp) < 1e-6);
  assert.equal(shown.probability, `${(dp * 100).toFixed(2)} points`);
  assert.ok(Math.abs(entry.drift.score_difference - Math.abs(main.score - other.score)) < 1e-5);
  return rho;
}

/** A size as the page writes it (views/dom.js). */
const mb = (n) => (n < 1024 ** 2 ? `${(n / 1024).toFixed(0)} KB` : `${(n / 1024 ** 2).toFixed(1)} MB`);

test('the built-in model quantized in the page: q8_0 keeps the chefer map, q4_0 moves it more', async () => {
  const { page, context, requests, problems } = await newPage(browser);
  await openAppWithModel(page, server.origin);
  const first = await waitForExplanation(page);
  assert.equal(first.method, 'chefer');
  // To the last tab from the keyboard.
  await page.focus('button.tab[aria-selected="true"]');
  await page.keyboard.press('End');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Original vs quantized');
  assert.equal(await page.evaluate(() => globalThis.sightlineTest.store.get().view.tab), 'precision');
  const panel = page.locator('.tabpanel:not([hidden])');
  await panel.locator('select').waitFor();
  assert.equal(await panel.locator('label:has-text("Quantize the loaded model to")').count(), 1);
  assert.equal(await panel.locator('select').inputValue(), 'q8_0');
  await panel.locator('button:has-text("Quantize and compare")').focus();
  await page.keyboard.press('Enter');
  const q8View = await comparison(page);
  assert.equal(q8View.main.model.dtype, 'float16');
  assert.equal(q8View.entry.explanation.model.dtype, 'q8_0');
  assert.equal(q8View.reference.size, q8.size, 'the page’s q8_0 file is as large as the CLI’s');
  assert.ok(q8View.reference.quantizeMs > 0);
  assert.ok(q8View.plan.mainSize > 1.5e6, 'the built-in model’s size counts all its files');
  // Each side names its real format: the built-in model is float16, not full precision.
  assert.deepEqual(q8View.captions, [`original: Original · float16 · ${mb(q8View.plan.mainSize)}`, `quantized: Quantized · q8_0 · ${mb(q8.size)}`]);
  const rho8 = checkDrift(q8View);
  assert.ok(rho8 >= 0.95, `q8_0 keeps the map: ρ ${rho8}`);
  // The page's quantization is the CLI's: its explanation matches the CLI's on the CLI's file.
  const cli8 = await cliExplainWith(q8.path, join(DIST, 'examples', 'scene-32.png'), first.texts, first.target, 'chefer');
  assert.ok(relativeError(q8View.entry.explanation.patch_scores, cli8.patch_scores) < TOLERANCE);

  // Another format asks to quantize again; until then the maps shown still say q8_0.
  await panel.locator('select').selectOption('q4_0');
  assert.match(await panel.locator('[role=status]').textContent(), /^These maps are for q8_0\. Press “Quantize to q4_0 and compare” for q4_0\./);
  assert.match(await panel.locator('.precision-side[data-role="quantized"] figcaption').textContent(), /q8_0/);
  assert.equal(await panel.locator('.precision-side.stale').count(), 2, 'the old maps are dimmed');
  await panel.locator('button:has-text("Quantize to q4_0 and compare")').click();
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().precision.reference?.spec?.format === 'q4_0');
  const q4View = await comparison(page);
  assert.equal(q4View.entry.explanation.model.dtype, 'q4_0');
  assert.equal(q4View.reference.size, q4.size);
  const rho4 = checkDrift(q4View);
  assert.ok(rho4 <= rho8, `q4_0 moves the map at least as much as q8_0: ρ ${rho4} vs ${rho8}`);
  console.log(`chefer on scene-32: ρ q8_0 ${rho8.toFixed(4)}, q4_0 ${rho4.toFixed(4)}; quantized in ${q8View.reference.quantizeMs.toFixed(0)} / ${q4View.reference.quantizeMs.toFixed(0)} ms`);

  // A method change is compared too.
  await page.click('.method-radio[value="gradient"] + .method-label');
  await waitForExplanation(page, { method: 'gradient' });
  const gradientView = await comparison(page);
  assert.equal(gradientView.entry.explanation.method, 'gradient');
  checkDrift(gradientView);

  // The other way round: the CLI's q4_0 file as the loaded model, the built-in one as its original.
  await page.click('.method-radio[value="chefer"] + .method-label');
  await loadFromAddress(page, `${server.origin}${q4.url}`);
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().precision.plan?.kind === 'builtin', null, { timeout: 30_000 });
  await panel.locator('button:has-text("Compare with the built-in full-precision model")').click();
  await waitForExplanation(page, { method: 'chefer' });
  const builtinView = await comparison(page);
  assert.equal(builtinView.main.model.dtype, 'q4_0');
  assert.equal(builtinView.entry.explanation.model.dtype, 'float16');
  assert.equal(builtinView.captions[1], `quantized: Quantized · q4_0 · ${mb(q4.size)}`);
  const rhoBack = checkDrift(builtinView);
  assert.ok(Math.abs(rhoBack - rho4) < 1e-9, `the same two models give the same ρ both ways: ${rhoBack} vs ${rho4}`);

  const foreign = requests.filter((url) => !url.startsWith('blob:') && !url.startsWith('data:') && new URL(url).origin !== server.origin);
  assert.deepEqual(foreign, []);
  assert.deepEqual(problems, []);
  await context.close();
});

test('another model’s GGUF file is compared with the original the person points at; a different model is refused', async () => {
  const { page, context, problems } = await newPage(browser);
  await openAppWithModel(page, server.origin);
  await waitForExplanation(page);
  await page.click('button.tab:has-text("Original vs quantized")');
  await loadFromAddress(page, `${server.origin}${randomQ8.url}`);
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().precision.plan?.kind === 'choose', null, { timeout: 30_000 });
  const panel = page.locator('.tabpanel:not([hidden])');
  const address = panel.getByLabel('Address of the full-precision model');
  await address.fill(`${server.origin}${FIXTURE_URL_PATH}clip-random-b/`);
  await address.press('Enter');
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().precision.reference?.status === 'error');
  assert.match(await page.textContent('sl-alerts [role=alert]'), /second model could not be loaded: .* is not a version of the loaded model: it sees 40 px in 4×4 patches/);
  assert.match(await panel.locator('[role=status]').textContent(), /^Failed: /);

  // Its files, picked as in the model dialog: first without the weights, then all of them.
  const files = panel.getByLabel('Or its files');
  await files.setInputFiles([join(FIXTURE_MODEL, 'config.json'), join(FIXTURE_MODEL, 'tokenizer.json')]);
  await panel.locator('button:has-text("Load files and compare")').click();
  assert.match(await page.textContent('sl-alerts [role=alert]'), /files are incomplete: missing model\.safetensors/);
  await files.setInputFiles(['config.json', 'model.safetensors', 'tokenizer.json'].map((f) => join(FIXTURE_MODEL, f)));
  await panel.locator('button:has-text("Load files and compare")').click();
  const view = await comparison(page);
  assert.equal(view.main.model.dtype, 'q8_0');
  assert.doesNotMatch(await page.textContent('sl-alerts'), /second model could not be loaded/, 'the error is taken away once loading worked');
  assert.equal(view.entry.explanation.model.dtype, 'float32');
  checkDrift(view);
  assert.match(view.captions[0], /^original: Original · float32 · /);

  // The same original loaded as the model: it is quantized in the page, from its cached files.
  await loadFromAddress(page, `${server.origin}${FIXTURE_URL_PATH}clip-random-a/`);
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().precision.plan?.kind === 'quantize', null, { timeout: 30_000 });
  await panel.locator('button:has-text("Quantize and compare")').click();
  const quantizedHere = await comparison(page);
  assert.equal(quantizedHere.main.model.dtype, 'float32');
  assert.equal(quantizedHere.entry.explanation.model.dtype, 'q8_0');
  checkDrift(quantizedHere);
  await page.screenshot({ path: artifact('precision-view.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
});
