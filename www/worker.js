// The engine's home: a module Web Worker that owns the wasm module and one Engine, so the page
// never freezes while a model loads or an explanation runs. See client.js for the protocol.
//
//   page → worker   { id, type, ...arguments }
//   worker → page   { id, type: 'progress', ... }          zero or more, while the request runs
//                   { id, type: 'result', value }          once, on success
//                   { id, type: 'error', message, fatal }  once, on failure; fatal: the wasm
//                                                          instance trapped and must be replaced
//
// Requests run one after another in arrival order. REQUESTS below is every request the worker
// answers, with the arguments it takes (checked before it runs, worker-arguments.js).

import init, { Engine, decodeImage, generateScene, defaultModelSize } from './engine.js';
import { CACHE_NAME, isGgufUrl } from './models.js';
import { BOOLEAN, checkArguments, IMAGE, INTEGER, NUMBER, NUMBERS, OBJECT, oneOf, optional, STRING, STRINGS, WASM_MODULE } from './worker-arguments.js';
import { fetchGguf, fetchModel, readPicked } from './worker-fetch.js';
import { ReferenceModel, filesSize, referencePlan } from './worker-reference.js';
import { installTestHooks, TEST_REQUESTS } from './worker-test-hooks.js';

let ready = null; // the wasm module's instantiation
let engine = null;
let engineSource = null;
/** Bytes of the loaded model's files, for the precision comparison's labels. */
let engineSize = 0;
/** The second model of the precision comparison (worker-reference.js); dropped with the engine. */
const reference = new ReferenceModel({ fetchModel, fetchGguf, readPicked });
let defaultModel = null; // { available, message }
/** Whether the page was opened with `?test-hooks` (its `init` says so). */
let testHooks = false;
/** Encoded images by the key the page gave them, so a picture crosses over once, not per call. */
const images = new Map();
const MAX_IMAGES = 8;
let queue = Promise.resolve();

const answer = (value, transfer = []) => ({ value, transfer });

/** Every request: its arguments (name → kind) and what it does (→ {value, transfer}). */
const REQUESTS = {
  init: {
    args: { backend: optional(oneOf('auto', 'webgpu', 'cpu')), testHooks: optional(BOOLEAN), module: optional(WASM_MODULE) },
    run: async (args) => {
      if (args.backend) backendPreference = args.backend;
      testHooks = Boolean(args.testHooks);
      if (testHooks) installTestHooks();
      return answer(await initialize(args.module));
    },
  },
  load: { args: { source: OBJECT }, run: async ({ source }, progress) => answer(await load(source, progress)) },
  explain: {
    args: { image: IMAGE, options: OBJECT },
    run: async (args, progress) => {
      const json = await requireEngine().explainAsync(image(args.image), args.options, (done, total) => progress({ phase: 'explain', done, total }));
      return answer(JSON.parse(json));
    },
  },
  tokenize: { args: { text: STRING }, run: ({ text }) => answer(JSON.parse(requireEngine().tokenize(text))) },
  attention: {
    args: { image: IMAGE },
    run: (args) => {
      const data = requireEngine().attentionMaps(image(args.image));
      return answer({ data }, [data.buffer]);
    },
  },
  overlay: {
    // The options are checked by the engine (wasm.rs's OverlayRequest).
    args: { image: IMAGE, explanation: OBJECT, options: OBJECT },
    run: (args) => {
      const options = Object.fromEntries(Object.entries(args.options).filter(([, v]) => v !== null && v !== undefined));
      const png = requireEngine().overlayPng(image(args.image), JSON.stringify(args.explanation), options);
      return answer(png, [png.buffer]);
    },
  },
  faithfulness: {
    args: { image: IMAGE, patchScores: NUMBERS, texts: STRINGS, target: INTEGER },
    run: (args) => answer(JSON.parse(requireEngine().faithfulnessCurves(image(args.image), Float32Array.from(args.patchScores), args.texts, args.target))),
  },
  decode: {
    // The pixels the engine explains (upright by EXIF, 8 bits, transparency over white), to draw.
    args: { image: IMAGE },
    run: async (args) => {
      await initialize();
      const decoded = decodeImage(image(args.image));
      const { width, height } = decoded;
      const rgba = decoded.intoRgba();
      return answer({ width, height, rgba }, [rgba.buffer]);
    },
  },
  scene: {
    args: { seed: INTEGER, size: INTEGER, minObjects: INTEGER, maxObjects: INTEGER },
    run: async (args) => {
      await initialize();
      const scene = generateScene(BigInt(args.seed), args.size, args.minObjects, args.maxObjects);
      try {
        const png = scene.png();
        return answer({ png, meta: JSON.parse(scene.json()) }, [png.buffer]);
      } finally {
        scene.free();
      }
    },
  },
  forget: {
    args: { key: STRING },
    run: ({ key }) => {
      images.delete(key);
      return answer(true);
    },
  },
  clearCache: { args: {}, run: async () => answer(await caches.delete(CACHE_NAME)) },
  referencePlan: {
    args: {},
    run: async () => {
      await initialize();
      return answer(referencePlan({ engine, source: engineSource, size: engineSize }));
    },
  },
  loadReference: {
    args: { spec: OBJECT },
    run: async ({ spec }, progress) => answer(await reference.load(spec, { engine: requireEngine(), source: engineSource, size: engineSize }, progress)),
  },
  explainReference: {
    args: { image: IMAGE, options: OBJECT, explanation: OBJECT },
    run: (args, progress) => answer(reference.explain(image(args.image), args.options, args.explanation, (done, total) => progress({ phase: 'explain', done, total }))),
  },
  dropReference: {
    args: {},
    run: () => {
      reference.drop();
      return answer(true);
    },
  },
};

self.addEventListener('message', (event) => {
  const message = event.data;
  queue = queue.then(() => handle(message));
});

/** The request `type`, checked: known, allowed, and with the arguments it takes. */
function requestOf(type, args) {
  const test = Object.hasOwn(TEST_REQUESTS, type) ? TEST_REQUESTS[type] : null;
  if (test && !testHooks) throw new Error(`the engine refuses "${type}": test requests need the page's ?test-hooks`);
  const request = test ?? (Object.hasOwn(REQUESTS, type) ? REQUESTS[type] : null);
  if (!request) throw new Error(`the engine has no request "${type}"`);
  checkArguments(type, request.args, args);
  return request;
}

async function handle({ id, type, ...args }) {
  const progress = (info) => self.postMessage({ id, type: 'progress', ...info });
  try {
    const { value, transfer } = await requestOf(type, args).run(args, progress);
    self.postMessage({ id, type: 'result', value }, transfer);
  } catch (error) {
    const message = errorMessage(error);
    // A trap (panic, out of memory, stack overflow) leaves the wasm instance unusable.
    const fatal = error instanceof WebAssembly.RuntimeError || error instanceof RangeError;
    self.postMessage({ id, type: 'error', message, name: error?.name ?? 'Error', fatal });
  }
}

function errorMessage(error) {
  if (error instanceof WebAssembly.RuntimeError) return `the engine crashed (${error.message})`;
  if (error instanceof Error) return error.message;
  return String(error);
}

function requireEngine() {
  if (!engine) throw new Error('No model is loaded yet.');
  return engine;
}

/** The bytes of `{key, bytes?}`: bytes are sent the first time a key is used, then remembered. */
function image({ key, bytes }) {
  if (bytes) {
    images.delete(key);
    images.set(key, new Uint8Array(bytes));
    while (images.size > MAX_IMAGES) images.delete(images.keys().next().value);
  }
  const stored = images.get(key);
  if (!stored) throw new Error(`the engine has no image "${key}" (send its bytes)`);
  return stored;
}

async function initialize(module) {
  ready ??= init({ module_or_path: module ?? new URL('./engine_bg.wasm', import.meta.url) });
  await ready;
  if (!defaultModel) {
    // The embedded model is loaded at once when there is one: it is small, and it is what the page
    // shows first.
    try {
      const started = performance.now();
      engine = Engine.withDefaultModel();
      await attachBackend(engine);
      engineSource = { kind: 'default' };
      engineSize = defaultModelSize();
      defaultModel = { available: true, loadMs: performance.now() - started };
    } catch (error) {
      defaultModel = { available: false, message: errorMessage(error) };
    }
  }
  return { defaultModel, info: engine ? engineInfo() : null };
}

/** 'auto' (WebGPU when the browser has a hardware adapter, else the CPU), 'webgpu' (whenever the
 * browser has an adapter) or 'cpu'; the page passes its `?backend=` with `init`. */
let backendPreference = 'auto';
/** Why explanations run on the CPU against the preference, for the page to show; null when not. */
let backendNotice = null;

/** How long the last model took to go onto the GPU (ms) and the adapter it went to, or null. */
let attachMs = null;
let adapter = null;

/** The browser's WebGPU adapter as `{ description, software }`, or null when it has none. A
 * software adapter (SwiftShader, or any the browser marks as a fallback) runs the kernels on the
 * CPU: on the built-in model it explains about a hundred times slower than the wasm CPU path
 * (docs/PERFORMANCE.md, measured with bench.html). */
async function describeAdapter() {
  const found = await self.navigator.gpu.requestAdapter().catch(() => null);
  if (!found) return null;
  const info = found.info ?? {};
  const description = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unnamed adapter';
  const software = Boolean(info.isFallbackAdapter ?? found.isFallbackAdapter) || /swiftshader|llvmpipe|lavapipe|software/i.test(description);
  return { description, software };
}

/** Puts a freshly built engine's model on the GPU when the preference and the browser allow. */
async function attachBackend(target) {
  backendNotice = null;
  attachMs = null;
  adapter = null;
  const found = backendPreference !== 'cpu' && self.navigator?.gpu ? await describeAdapter() : null;
  if (!found || (found.software && backendPreference === 'auto')) {
    if (backendPreference === 'webgpu') backendNotice = 'This browser has no WebGPU adapter, so explanations run on the CPU.';
    target.releaseModelFiles();
    return;
  }
  adapter = found.software ? `${found.description} (software)` : found.description;
  try {
    const started = performance.now();
    await target.attachWebGpu();
    attachMs = performance.now() - started;
  } catch (error) {
    adapter = null;
    backendNotice = `WebGPU could not be used (${errorMessage(error)}), so explanations run on the CPU.`;
  }
}

function engineInfo() {
  return { ...JSON.parse(engine.info()), backendNotice, attachMs, adapter };
}

async function load(source, progress) {
  await initialize();
  if (source.kind === 'default') {
    if (engineSource?.kind !== 'default') {
      if (!defaultModel.available) throw new Error(defaultModel.message);
      const next = Engine.withDefaultModel();
      await attachBackend(next);
      replaceEngine(next, source, defaultModelSize());
    }
    return engineInfo();
  }
  if (source.kind === 'url' && isGgufUrl(source.url)) {
    const bytes = await fetchGguf(source.url, progress);
    progress({ phase: 'load' });
    if (bytes.length > 200e6) replaceEngine(null, null);
    const next = Engine.fromGguf(source.url, bytes);
    await attachBackend(next);
    replaceEngine(next, source, bytes.length);
    return engineInfo();
  }
  let files;
  let name;
  if (source.kind === 'url') {
    files = await fetchModel(source.url, progress);
    name = source.url;
  } else if (source.kind === 'files') {
    files = await readPicked(source.files);
    name = source.name || source.files.weights.name;
  } else {
    throw new Error(`unknown model source "${source.kind}"`);
  }
  progress({ phase: 'load' });
  // A large model replaces the old one before it loads (two may not fit in wasm's 4 GiB); a small
  // one loads beside it, so a broken checkpoint leaves the old model usable.
  if (files.weights.length > 200e6) replaceEngine(null, null);
  const next = Engine.fromFiles(name, files.config, files.weights, files.tokenizer, files.preprocessor);
  await attachBackend(next);
  replaceEngine(next, source, filesSize(files));
  return engineInfo();
}

function replaceEngine(next, source, size = 0) {
  // A reference belongs to the model it was made for.
  reference.drop();
  engine?.free();
  engine = next;
  engineSource = source;
  engineSize = size;
}

