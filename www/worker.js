// The engine's home: a module Web Worker that owns the wasm module and one Engine, so the page
// never freezes while a model loads or an explanation runs. See client.js for the protocol.
//
//   page → worker   { id, type, ...arguments }
//   worker → page   { id, type: 'progress', ... }          zero or more, while the request runs
//                   { id, type: 'result', value }          once, on success
//                   { id, type: 'error', message, fatal }  once, on failure; fatal: the wasm
//                                                          instance trapped and must be replaced
//
// Requests run one after another in arrival order, but `cancel`, which is answered as soon as the
// worker reads it: between two streamed tokens of a generation running on WebGPU (which awaits
// the GPU), or before a queued request starts. A generation on the CPU never returns to the event
// loop, so there the client ends a cancelled request by replacing the worker (client.js).
// REQUESTS below is every request the worker answers, with the arguments it takes (checked before
// it runs, worker-arguments.js).
//
// The loaded model is CLIP (`Engine`: explain, attention, curves, ...) or generative
// (`GenerativeEngine`: generate), as its config says (`Checkpoint.family`).

import init, { Checkpoint, Engine, GenerativeEngine, decodeImage, generateScene, defaultModelSize, overlayPng } from './engine.js';
import { CACHE_NAME, isGgufUrl } from './models.js';
import { BOOLEAN, checkArguments, IMAGE, INTEGER, NUMBER, NUMBERS, OBJECT, oneOf, optional, STRING, STRINGS, WASM_MODULE } from './worker-arguments.js';
import { fetchFolderFile, fetchGenerativeFiles, fetchGguf, fetchModel, readPicked, readPickedFiles } from './worker-fetch.js';
import { ReferenceModel, referencePlan } from './worker-reference.js';
import { installTestHooks, onTestToken, TEST_REQUESTS } from './worker-test-hooks.js';

let ready = null; // the wasm module's instantiation
let engine = null;
/** 'clip' (engine is an Engine) or 'llava' (a GenerativeEngine); null without a model. */
let family = null;
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
/** The request running now, and the ids of requests asked to stop. */
let runningId = null;
const cancelled = new Set();

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
      const json = await requireClip().explainAsync(image(args.image), args.options, (done, total) => progress({ phase: 'explain', done, total }));
      return answer(JSON.parse(json));
    },
  },
  /**
   * A generative model answers `options.prompt` (sightline generate's options, camelCase; or
   * explains `options.answer`): each token is a progress event `{phase: 'token', token}` as it
   * comes (streamed again from index 0 when a lost GPU hands the request to the CPU), the result
   * is the generate JSON.
   */
  generate: {
    args: { image: IMAGE, options: OBJECT },
    run: async (args, progress, id) => {
      const onToken = (json) => {
        const token = JSON.parse(json);
        progress({ phase: 'token', token });
        if (testHooks) onTestToken(token);
        return !cancelled.has(id);
      };
      const json = await requireGenerative().generateAsync(image(args.image), args.options, onToken, (done, total) => progress({ phase: 'explain', done, total }));
      return answer(JSON.parse(json));
    },
  },
  /** Stops request `target`: a generation after its current token, a queued request before it starts. */
  cancel: {
    immediate: true,
    args: { target: INTEGER },
    run: ({ target }) => {
      cancelled.add(target);
      return answer(target === runningId);
    },
  },
  tokenize: { args: { text: STRING }, run: ({ text }) => answer(JSON.parse(requireClip().tokenize(text))) },
  attention: {
    args: { image: IMAGE },
    run: (args) => {
      const data = requireClip().attentionMaps(image(args.image));
      return answer({ data }, [data.buffer]);
    },
  },
  overlay: {
    // The options are checked by the engine (wasm.rs's OverlayRequest). Any model's explanation
    // (a generated word's has CLIP's fields), so no model is needed.
    args: { image: IMAGE, explanation: OBJECT, options: OBJECT },
    run: async (args) => {
      await initialize();
      const options = Object.fromEntries(Object.entries(args.options).filter(([, v]) => v !== null && v !== undefined));
      const png = overlayPng(image(args.image), JSON.stringify(args.explanation), options);
      return answer(png, [png.buffer]);
    },
  },
  faithfulness: {
    args: { image: IMAGE, patchScores: NUMBERS, texts: STRINGS, target: INTEGER },
    run: (args) => answer(JSON.parse(requireClip().faithfulnessCurves(image(args.image), Float32Array.from(args.patchScores), args.texts, args.target))),
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
      return answer(referencePlan({ engine: requireClip(), source: engineSource, size: engineSize }));
    },
  },
  loadReference: {
    args: { spec: OBJECT },
    run: async ({ spec }, progress) => answer(await reference.load(spec, { engine: requireClip(), source: engineSource, size: engineSize }, progress)),
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
  if (Object.hasOwn(REQUESTS, message?.type) && REQUESTS[message.type].immediate) handle(message);
  else queue = queue.then(() => handle(message));
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
  const request = () => requestOf(type, args);
  try {
    if (cancelled.delete(id)) {
      self.postMessage({ id, type: 'error', message: 'stopped before it started', cancelled: true });
      return;
    }
    const immediate = request().immediate;
    if (!immediate) runningId = id;
    const { value, transfer } = await request().run(args, progress, id);
    self.postMessage({ id, type: 'result', value }, transfer);
  } catch (error) {
    const message = errorMessage(error);
    // A trap (panic, out of memory, stack overflow) leaves the wasm instance unusable.
    const fatal = error instanceof WebAssembly.RuntimeError || error instanceof RangeError;
    self.postMessage({ id, type: 'error', message, name: error?.name ?? 'Error', fatal });
  } finally {
    if (runningId === id) {
      runningId = null;
      cancelled.delete(id);
    }
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

/** The loaded CLIP model's engine; a generative model is refused with what it can do. */
function requireClip() {
  requireEngine();
  if (family !== 'clip') throw new Error('The loaded model is generative: it answers questions (generate) rather than scoring texts against the image.');
  return engine;
}

function requireGenerative() {
  requireEngine();
  if (family !== 'llava') throw new Error('The loaded model is CLIP: it scores texts against the image (explain) and cannot answer questions.');
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
      family = 'clip';
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

/** Above this many bytes of files, the old model is dropped before the new one loads. */
const LARGE_MODEL_BYTES = 200e6;

async function load(source, progress) {
  await initialize();
  if (source.kind === 'default') {
    if (engineSource?.kind !== 'default') {
      if (!defaultModel.available) throw new Error(defaultModel.message);
      const next = Engine.withDefaultModel();
      await attachBackend(next);
      replaceEngine(next, 'clip', source, defaultModelSize());
    }
    return engineInfo();
  }
  let checkpoint;
  let size = 0;
  if (source.kind === 'url' && isGgufUrl(source.url)) {
    const bytes = await fetchGguf(source.url, progress);
    progress({ phase: 'load' });
    size = bytes.length;
    if (size > LARGE_MODEL_BYTES) replaceEngine(null, null, null);
    checkpoint = Checkpoint.gguf(source.url, bytes);
  } else {
    let files;
    if (source.kind === 'url') files = await fetchFolder(source.url, progress);
    else if (source.kind === 'files') files = await readPickedFiles(source.files);
    else throw new Error(`unknown model source "${source.kind}"`);
    progress({ phase: 'load' });
    size = files.reduce((total, [, bytes]) => total + bytes.length, 0);
    // A large model replaces the old one before it loads (two may not fit in wasm's 4 GiB); a
    // small one loads beside it, so a broken checkpoint leaves the old model usable.
    if (size > LARGE_MODEL_BYTES) replaceEngine(null, null, null);
    checkpoint = new Checkpoint(source.kind === 'url' ? source.url : source.name || source.files.weights?.name || 'local model');
    for (const [name, bytes] of files) checkpoint.addFile(name, bytes);
  }
  let kind;
  try {
    kind = checkpoint.family;
  } catch (error) {
    checkpoint.free();
    throw error;
  }
  const next = kind === 'llava' ? GenerativeEngine.fromCheckpoint(checkpoint) : Engine.fromCheckpoint(checkpoint);
  await attachBackend(next);
  replaceEngine(next, kind, source, size);
  return engineInfo();
}

/** A model folder's files as [name, bytes]: config.json first, which says what else to fetch. */
async function fetchFolder(url, progress) {
  const config = await fetchFolderFile(url, 'config.json', progress);
  const probe = new Checkpoint(url);
  let kind;
  try {
    probe.addFile('config.json', config);
    kind = probe.family;
  } finally {
    probe.free();
  }
  if (kind === 'llava') return [['config.json', config], ...(await fetchGenerativeFiles(url, progress))];
  const files = await fetchModel(url, progress);
  const named = [['config.json', new TextEncoder().encode(files.config)], ['model.safetensors', files.weights], ['tokenizer.json', files.tokenizer]];
  if (files.preprocessor !== undefined) named.push(['preprocessor_config.json', new TextEncoder().encode(files.preprocessor)]);
  return named;
}

function replaceEngine(next, kind, source, size = 0) {
  // A reference belongs to the model it was made for.
  reference.drop();
  engine?.free();
  engine = next;
  family = kind;
  engineSource = source;
  engineSize = size;
}

