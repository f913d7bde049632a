// How the engine worker gets a model's bytes: picked files, a Hugging Face folder or one GGUF file
// over the network, through the Cache API, with download progress; a GGUF file that could not fit
// in wasm memory is declined before its body is fetched.

import { CACHE_NAME, GENERATIVE_FILES, isPlainFileName, MODEL_FILES, WEIGHTS_INDEX_FILE } from './models.js';

/** The contents of picked File objects ({config, weights, tokenizer, preprocessor?}). */
export async function readPicked(picked) {
  return {
    config: await picked.config.text(),
    weights: new Uint8Array(await picked.weights.arrayBuffer()),
    tokenizer: new Uint8Array(await picked.tokenizer.arrayBuffer()),
    preprocessor: picked.preprocessor ? await picked.preprocessor.text() : undefined,
  };
}

/** config.json, model.safetensors and tokenizer.json (and preprocessor_config.json when there is
 * one) from a folder URL, through the Cache API, reporting download progress. */
export async function fetchModel(baseUrl, progress) {
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

async function openCache() {
  try {
    return await caches.open(CACHE_NAME);
  } catch {
    // No Cache API (e.g. an insecure origin): download every time.
    return null;
  }
}

/** One file of the folder at `baseUrl` by its name, through the Cache API; null when `optional`
 * and the folder does not have it. */
export async function fetchFolderFile(baseUrl, name, progress, { optional = false } = {}) {
  return fetchFile(new URL(name, baseUrl).href, name, await openCache(), optional, progress);
}

/**
 * What a generative checkpoint's folder adds to config.json, as [file name, bytes] pairs:
 * tokenizer.json, the weights (model.safetensors, or model.safetensors.index.json and every shard
 * it names) and whichever of the optional files (GENERATIVE_FILES) the folder has.
 */
export async function fetchGenerativeFiles(baseUrl, progress) {
  const get = (name, optional = false) => fetchFolderFile(baseUrl, name, progress, { optional });
  const files = [['tokenizer.json', await get('tokenizer.json')]];
  for (const name of GENERATIVE_FILES) {
    const bytes = await get(name, true);
    if (bytes) files.push([name, bytes]);
  }
  const single = await get(MODEL_FILES.weights, true);
  if (single) {
    files.push([MODEL_FILES.weights, single]);
    return files;
  }
  const index = await get(WEIGHTS_INDEX_FILE, true);
  if (!index) throw new Error(`${baseUrl} has neither ${MODEL_FILES.weights} nor ${WEIGHTS_INDEX_FILE}.`);
  files.push([WEIGHTS_INDEX_FILE, index]);
  let shards;
  try {
    shards = [...new Set(Object.values(JSON.parse(new TextDecoder().decode(index)).weight_map ?? {}))];
  } catch (error) {
    throw new Error(`${WEIGHTS_INDEX_FILE} is not valid JSON (${error.message}).`);
  }
  if (!shards.length || !shards.every(isPlainFileName)) throw new Error(`${WEIGHTS_INDEX_FILE} must name its shards as plain file names in the folder.`);
  for (const shard of shards) files.push([shard, await get(shard)]);
  return files;
}

/** Picked File objects (see models.js) as [file name, bytes] pairs under the names a folder gives
 * them: the single weights file is model.safetensors whatever it is called. */
export async function readPickedFiles(picked) {
  const named = [
    ['config.json', picked.config],
    ['tokenizer.json', picked.tokenizer],
    ['preprocessor_config.json', picked.preprocessor],
    [MODEL_FILES.weights, picked.weights],
    ...(picked.others ?? []).map((file) => [file.name, file]),
  ].filter(([, file]) => file);
  return Promise.all(named.map(async ([name, file]) => [name, new Uint8Array(await file.arrayBuffer())]));
}

/** Wasm memory ends at 4 GiB, and loading a GGUF file holds its bytes and the model built from
 * them (about 1.1 × the file, quantized weights staying quantized) at once. */
const WASM_MEMORY_BYTES = 4 * 1024 ** 3;
const GGUF_LOAD_FACTOR = 2.2;

/** One GGUF file, declined before downloading when its size (from a HEAD request) could not be
 * loaded in wasm memory. */
export async function fetchGguf(url, progress) {
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
