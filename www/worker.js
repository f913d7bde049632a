// The engine's home: a module Web Worker that owns the wasm module and one Engine, so the page
// never freezes while a model loads or an explanation runs. See client.js for the protocol.
//
//   page → worker   { id, type, ...arguments }
//   worker → page   { id, type: 'progress', ... }          zero or more, while the request runs
//                   { id, type: 'result', value }          once, on success
//                   { id, type: 'error', message, fatal }  once, on failure; fatal: the wasm
//                                                          instance trapped and must be replaced
//
// Requests run one after another in arrival order.

import init, { Engine, generateScene, colormapTable, decodeImage, defaultModelSize } from './engine.js';
import { CACHE_NAME, MODEL_FILES, isGgufUrl } from './models.js';
import { ReferenceModel, filesSize, referencePlan } from './worker-reference.js';

let ready = null; // the wasm module's instantiation
let engine = null;
let engineSource = null;
/** Bytes of the loaded model's files, for the precision comparison's labels. */
let engineSize = 0;
/** The second model of the precision comparison (worker-reference.js); dropped with the engine. */
const reference = new ReferenceModel({ fetchModel, fetchGguf, readPicked });
let defaultModel = null; // { available, message }
/** Encoded images by the key the page gave them, so a picture crosses over once, not per call. */
const images = new Map();
const MAX_IMAGES = 8;
let queue = Promise.resolve();

self.addEventListener('message', (event) => {
  const message = event.data;
  queue = queue.then(() => handle(message));
});

async function handle({ id, type, ...args }) {
  const progress = (info) => self.postMessage({ id, type: 'progress', ...info });
  try {
    const { value, transfer = [] } = await run(type, args, progress);
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

async function run(type, args, progress) {
  switch (type) {
    case 'init':
      if (args.backend) backendPreference = args.backend;
      return { value: await initialize() };
    case 'load':
      return { value: await load(args.source, progress) };
    case 'explain': {
      const bytes = image(args.image);
      const json = await requireEngine().explainAsync(bytes, args.options, (done, total) => progress({ phase: 'explain', done, total }));
      return { value: JSON.parse(json) };
    }
    case 'tokenize':
      return { value: JSON.parse(requireEngine().tokenize(args.text)) };
    case 'attention': {
      const data = requireEngine().attentionMaps(image(args.image));
      return { value: { data }, transfer: [data.buffer] };
    }
    case 'overlay': {
      const png = requireEngine().overlayPng(image(args.image), JSON.stringify(args.explanation), args.colormap ?? undefined, args.opacity, Boolean(args.pixelMap));
      return { value: png, transfer: [png.buffer] };
    }
    case 'faithfulness':
      return {
        value: JSON.parse(requireEngine().faithfulnessCurves(image(args.image), Float32Array.from(args.patchScores), args.texts, args.target)),
      };
    case 'decode': {
      await initialize();
      const decoded = decodeImage(image(args.image));
      const { width, height } = decoded;
      const rgba = decoded.intoRgba();
      return { value: { width, height, rgba }, transfer: [rgba.buffer] };
    }
    case 'scene': {
      await initialize();
      const scene = generateScene(BigInt(args.seed), args.size, args.minObjects, args.maxObjects);
      try {
        const png = scene.png();
        return { value: { png, meta: JSON.parse(scene.json()) }, transfer: [png.buffer] };
      } finally {
        scene.free();
      }
    }
    case 'colormap': {
      await initialize();
      const table = colormapTable(args.name);
      return { value: table, transfer: [table.buffer] };
    }
    case 'forget':
      images.delete(args.key);
      return { value: true };
    case 'clearCache':
      return { value: await caches.delete(CACHE_NAME) };
    case 'referencePlan':
      await initialize();
      return { value: referencePlan({ engine, source: engineSource, size: engineSize }) };
    case 'loadReference':
      return { value: await reference.load(args.spec, { engine: requireEngine(), source: engineSource, size: engineSize }, progress) };
    case 'explainReference':
      return { value: reference.explain(image(args.image), args.options, args.explanation, (done, total) => progress({ phase: 'explain', done, total })) };
    case 'dropReference':
      reference.drop();
      return { value: true };
    case 'loseWebGpuDeviceForTest':
      return { value: requireEngine().loseWebGpuDeviceForTest() };
    case 'crashForTest':
      // Lets the tests check that a trapped engine is reported and replaced.
      throw new WebAssembly.RuntimeError('unreachable (simulated by crashForTest)');
    default:
      throw new Error(`unknown request type "${type}"`);
  }
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

async function initialize() {
  ready ??= init({ module_or_path: new URL('./engine_bg.wasm', import.meta.url) });
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

/** The contents of picked File objects ({config, weights, tokenizer, preprocessor?}). */
async function readPicked(picked) {
  return {
    config: await picked.config.text(),
    weights: new Uint8Array(await picked.weights.arrayBuffer()),
    tokenizer: new Uint8Array(await picked.tokenizer.arrayBuffer()),
    preprocessor: picked.preprocessor ? await picked.preprocessor.text() : undefined,
  };
}

/** config.json, model.safetensors and tokenizer.json (and preprocessor_config.json when there is
 * one) from a folder URL, through the Cache API, reporting download progress. */
async function fetchModel(baseUrl, progress) {
  let cache = null;
  try {
    cache = await caches.open(CACHE_NAME);
  } catch {
    // No Cache API (e.g. an insecure origin): download every time.
  }
  const get = async (key, optional = false) => {
    const url = new URL(MODEL_FILES[key], baseUrl).href;
    const bytes = await fetchFile(url, key, cache, optional, progress);
    return bytes;
  };
  const config = await get('config');
  const tokenizer = await get('tokenizer');
  const preprocessor = await get('preprocessor', true);
  const weights = await get('weights');
  const decoder = new TextDecoder();
  return {
    config: decoder.decode(config),
    tokenizer,
    weights,
    preprocessor: preprocessor ? decoder.decode(preprocessor) : undefined,
  };
}

/** Wasm memory ends at 4 GiB, and loading a GGUF file holds its bytes and the model built from
 * them (about 1.1 × the file, quantized weights staying quantized) at once. */
const WASM_MEMORY_BYTES = 4 * 1024 ** 3;
const GGUF_LOAD_FACTOR = 2.2;

/** One GGUF file, declined before downloading when its size (from a HEAD request) could not be
 * loaded in wasm memory. */
async function fetchGguf(url, progress) {
  let size = 0;
  try {
    const head = await fetch(url, { method: 'HEAD', credentials: 'omit', referrerPolicy: 'no-referrer' });
    size = Number(head.headers.get('content-length')) || 0;
  } catch {
    // The download below reports the same failure with its own message.
  }
  if (size * GGUF_LOAD_FACTOR > WASM_MEMORY_BYTES) {
    const mb = (bytes) => Math.round(bytes / 1e6);
    throw new Error(
      `${url} is ${mb(size)} MB: loading it needs about ${mb(size * GGUF_LOAD_FACTOR)} MB, more than a browser gives WebAssembly (${mb(WASM_MEMORY_BYTES)} MB). Quantize it further (sightline quantize --to q4_0) or explain it with the command line.`,
    );
  }
  let cache = null;
  try {
    cache = await caches.open(CACHE_NAME);
  } catch {
    // No Cache API (e.g. an insecure origin): download every time.
  }
  return fetchFile(url, 'gguf', cache, false, progress);
}

async function fetchFile(url, key, cache, optional, progress) {
  const file = MODEL_FILES[key] ?? new URL(url).pathname.split('/').pop();
  let response = cache ? await cache.match(url).catch(() => undefined) : undefined;
  const cached = Boolean(response);
  if (!response) {
    try {
      response = await fetch(url, { credentials: 'omit', referrerPolicy: 'no-referrer' });
    } catch (error) {
      if (optional) return null;
      throw new Error(
        `Could not download ${file} from ${url} (${error.message}). Check the address; the server must allow cross-origin downloads (Hugging Face does).`,
      );
    }
    if (!response.ok) {
      if (optional) return null;
      const hint = key === 'weights' ? ' Sightline reads model.safetensors (f32, f16 or bf16), not PyTorch .bin files.' : '';
      throw new Error(`Could not download ${file}: HTTP ${response.status} ${response.statusText} at ${url}.${hint}`);
    }
  }
  const total = Number(response.headers.get('content-length')) || 0;
  progress({ phase: 'download', file, loaded: 0, total, cached });
  const bytes = await readWithProgress(response.clone(), (loaded) => progress({ phase: 'download', file, loaded, total, cached }));
  progress({ phase: 'download', file, loaded: bytes.length, total: bytes.length, cached, done: true });
  if (cache && !cached) {
    try {
      await cache.put(url, new Response(bytes, { headers: { 'content-type': response.headers.get('content-type') ?? 'application/octet-stream' } }));
    } catch {
      // A full quota only costs a later download.
    }
  }
  return bytes;
}

async function readWithProgress(response, onProgress) {
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  let lastReport = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    const now = performance.now();
    if (now - lastReport > 80) {
      lastReport = now;
      onProgress(loaded);
    }
  }
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}
