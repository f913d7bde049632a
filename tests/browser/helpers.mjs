// Shared plumbing of the browser tests: the built app (dist/), a `sightline serve` of it on a free
// loopback port, headless Chromium (the system's /usr/bin/chromium through playwright-core), the
// CLI for reference numbers, and the model both use (the embedded default when this build has one,
// else the random test checkpoint tests/fixtures/clip-random-a served next to the app).

import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DIST = join(ROOT, 'dist');
export const CLI = join(ROOT, 'target', 'release', 'sightline');
export const ARTIFACTS = join(ROOT, 'test-artifacts');
export const FIXTURE_MODEL = join(ROOT, 'tests', 'fixtures', 'clip-random-a');
/** A random LLaVA checkpoint (chat template, byte-level BPE, 64 positions), its image and question. */
export const LLAVA_FIXTURE = join(ROOT, 'tests', 'fixtures', 'llava-random-a');
export const LLAVA_URL = '/test-fixtures/llava-random-a/';
/** Where the tests put their own files inside dist/ (never in www/). */
export const FIXTURE_URL_PATH = '/test-fixtures/';
export const CHROMIUM = process.env.SIGHTLINE_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];
export const SHAPE_CAPTIONS = ['red', 'green', 'blue', 'yellow'].flatMap((c) => ['circle', 'square', 'triangle'].map((s) => `a ${c} ${s}`));
export const METHODS = ['attention', 'rollout', 'gradient', 'grad_x_input', 'integrated_gradients', 'smoothgrad', 'gradcam', 'chefer', 'occlusion'];

const run = promisify(execFile);

/** Checks that the app and the CLI are built, and lays the tests' own files into dist/. */
export function prepareDist() {
  for (const file of ['index.html', 'sightline.js', 'engine.js', 'engine_bg.wasm', 'worker.js', 'examples/examples.json']) {
    if (!existsSync(join(DIST, file))) throw new Error(`dist/${file} is missing: run ./build.sh build first`);
  }
  if (!existsSync(CLI)) throw new Error('target/release/sightline is missing: run ./build.sh cli first');
  const fixtures = join(DIST, 'test-fixtures');
  const model = join(fixtures, 'clip-random-a');
  mkdirSync(model, { recursive: true });
  for (const file of ['config.json', 'model.safetensors', 'tokenizer.json']) cpSync(join(FIXTURE_MODEL, file), join(model, file));
  // Not an image: a PNG signature followed by garbage.
  writeFileSync(join(fixtures, 'corrupt.png'), Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('this is not really a PNG file at all')]));
  mkdirSync(ARTIFACTS, { recursive: true });
  return fixtures;
}

export function artifact(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** `sightline serve --dir dist` on a free port; resolves once it answers. */
export async function startServer() {
  const port = await freePort();
  const child = spawn(CLI, ['serve', '--dir', DIST, '--port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sightline serve exited: ${stderr}`);
    try {
      const response = await fetch(`${origin}/index.html`, { method: 'HEAD' });
      if (response.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`sightline serve did not answer on ${origin}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    origin,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/**
 * Headless Chromium. Without `webgpu` the browser has no WebGPU, so the app's `auto` backend is
 * the CPU (and most tests stay fast); with it, WebGPU runs on the software adapter (SwiftShader).
 */
export async function launchBrowser({ webgpu = false } = {}) {
  return chromium.launch({ executablePath: CHROMIUM, args: webgpu ? [...CHROMIUM_ARGS, '--enable-unsafe-webgpu'] : CHROMIUM_ARGS });
}

/**
 * A fresh context and page that record every request (page and workers) and every console error
 * or uncaught exception.
 */
export async function newPage(browser, { viewport = { width: 1400, height: 1000 }, colorScheme = 'dark' } = {}) {
  const context = await browser.newContext({ viewport, colorScheme, acceptDownloads: true });
  const page = await context.newPage();
  const requests = [];
  const problems = [];
  context.on('request', (request) => requests.push(request.url()));
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  return { context, page, requests, problems };
}

/** Lays llava-random-a into dist/test-fixtures/ (after prepareDist); returns its question. */
export function prepareLlavaFixture() {
  cpSync(LLAVA_FIXTURE, join(DIST, 'test-fixtures', 'llava-random-a'), { recursive: true });
  return JSON.parse(readFileSync(join(LLAVA_FIXTURE, 'expected.json'), 'utf8')).prompt;
}

/** The generation JSON of `sightline generate` (every token explained when a method and no token are given). */
export async function cliGenerate({ model = LLAVA_FIXTURE, image = join(LLAVA_FIXTURE, 'image.png'), prompt, maxTokens, method, token, contrast, backend }) {
  const args = ['generate', '--model', model, '--image', image, '--prompt', prompt, '--json', '-'];
  if (maxTokens !== undefined) args.push('--max-tokens', String(maxTokens));
  if (method) args.push('--method', method);
  if (token !== undefined) args.push('--token', String(token));
  if (contrast !== undefined) args.push('--contrast', contrast);
  if (backend) args.push('--backend', backend);
  const { stdout } = await run(CLI, args, { maxBuffer: 64 << 20 });
  return JSON.parse(stdout);
}

/** The explanation JSON of the CLI. */
export async function cliExplain({ image, texts, target = 0, method, steps, seed, headFusion, discardRatio }) {
  const args = ['explain', '--image', image, ...texts.flatMap((t) => ['--text', t]), '--target', String(target), '--method', method, '--json', '-'];
  if (steps !== undefined) args.push('--steps', String(steps));
  if (seed !== undefined) args.push('--seed', String(seed));
  if (headFusion !== undefined) args.push('--head-fusion', headFusion);
  if (discardRatio !== undefined) args.push('--discard-ratio', String(discardRatio));
  const { stdout } = await run(CLI, args, { maxBuffer: 64 << 20 });
  return JSON.parse(stdout);
}

/** `sightline curves` of an explanation (the page's or the CLI's) of `image`. */
export async function cliCurves({ image, explanation, model }) {
  const dir = mkdtempSync(join(tmpdir(), 'sightline-curves-'));
  try {
    const file = join(dir, 'explanation.json');
    writeFileSync(file, JSON.stringify(explanation));
    const args = ['curves', '--image', image, '--explanation', file];
    if (model) args.push('--model', model);
    const { stdout } = await run(CLI, args, { maxBuffer: 64 << 20 });
    return JSON.parse(stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Asserts that `actual` equals `expected` element by element within `rtol`·|expected| + `atol`,
 * where `atol` is `scale` times the largest |expected| (the parity contract's scale): any
 * non-finite value, a length mismatch or one element outside fails, naming the worst element.
 */
export function assertClose(what, actual, expected, { rtol = 2e-3, scale = 2e-3 } = {}) {
  if (!actual || !expected || actual.length !== expected.length) throw new Error(`${what}: lengths differ: ${actual?.length} vs ${expected?.length}`);
  let largest = 0;
  for (const e of expected) {
    if (!Number.isFinite(e)) throw new Error(`${what}: the expected values hold ${e}`);
    largest = Math.max(largest, Math.abs(e));
  }
  const atol = scale * largest;
  let worst = -1;
  let worstExcess = -Infinity;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (!Number.isFinite(a)) throw new Error(`${what}: element ${i} is ${a} (expected ${e})`);
    const excess = Math.abs(a - e) - (rtol * Math.abs(e) + atol);
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  if (worstExcess > 0) {
    throw new Error(`${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (beyond ${rtol}·|expected| + ${atol.toExponential(2)})`);
  }
}

/** Largest |a - b| relative to the largest |b|; throws when the lengths differ. */
export function relativeError(a, b) {
  if (!a || !b || a.length !== b.length) throw new Error(`lengths differ: ${a?.length} vs ${b?.length}`);
  const scale = Math.max(...b.map(Math.abs)) || 1;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst / scale;
}

/** Waits until the app's current method has a finished (or failed) explanation; returns it. */
export async function waitForExplanation(page, { method, timeout = 60_000, previous = null } = {}) {
  await page.waitForFunction(
    ({ method, previous }) => {
      const s = globalThis.sightlineTest?.store.get();
      if (!s || (method && s.method !== method)) return false;
      const r = globalThis.sightlineTest.currentResult();
      if (!r || (r.status !== 'done' && r.status !== 'error')) return false;
      return !previous || r.explanation?.timings_ms?.total !== previous;
    },
    { method, previous },
    { timeout, polling: 50 },
  );
  const result = await page.evaluate(() => globalThis.sightlineTest.currentResult());
  if (result.status === 'error') throw new Error(`the page failed to explain: ${result.error}`);
  return result.explanation;
}

/**
 * The app's address with its test hooks on (`?test-hooks`: `globalThis.sightlineTest` and the
 * worker's test requests), followed by `suffix`: more of the query (`?backend=cpu`) and/or a
 * fragment (`#method=rollout`).
 */
export function appUrl(origin, suffix = '') {
  const [query, fragment = ''] = suffix.split('#');
  const more = query.replace(/^\?/, '');
  return `${origin}/?test-hooks${more ? `&${more}` : ''}${suffix.includes('#') ? `#${fragment}` : ''}`;
}

/** Opens the app and waits until its model (the embedded default unless `suffix` names another) is loaded. */
export async function openAppWithModel(page, origin, suffix = '') {
  await page.goto(appUrl(origin, suffix));
  await page.waitForFunction(() => globalThis.sightlineTest?.store.get().engine.status !== 'starting', null, { timeout: 30_000 });
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().model.status === 'ready', null, { timeout: 30_000 });
}

/** The state the tests look at, in plain JSON. */
export function appState(page) {
  return page.evaluate(() => {
    const s = globalThis.sightlineTest.store.get();
    return { method: s.method, options: s.options, view: s.view, texts: s.clip.texts, target: s.clip.target, example: s.image?.exampleId ?? null, model: s.modelSource };
  });
}
