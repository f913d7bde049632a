// Where a model comes from, shared by the page and the worker. A model is one of
//   { kind: 'default' }                       the tiny CLIP embedded in the wasm
//   { kind: 'url', url }                      a Hugging Face folder (CLIP or LLaVA):
//                                             url/config.json, ..., or one .gguf file from
//                                             `sightline quantize`
//   { kind: 'files', files: {config, weights?, tokenizer, preprocessor?, others?} }   picked File
//                                             objects; `others`: a generative checkpoint's other
//                                             files (shards, index, processor, chat template, ...)

export const MODEL_FILES = {
  config: 'config.json',
  weights: 'model.safetensors',
  tokenizer: 'tokenizer.json',
  preprocessor: 'preprocessor_config.json',
};

/** What a generative (LLaVA) folder adds to config.json and tokenizer.json, each optional; the
 * weights are model.safetensors, or the index and the shards it names. */
export const GENERATIVE_FILES = [
  'preprocessor_config.json',
  'processor_config.json',
  'generation_config.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'chat_template.jinja',
  'chat_template.json',
];
export const WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';

/** Whether `name` (from a shard index, so untrusted) is a plain file name in its folder. */
export function isPlainFileName(name) {
  return typeof name === 'string' && name.length > 0 && !name.startsWith('.') && !/[/\\:\0]/.test(name);
}

export const CACHE_NAME = 'sightline-models-v1';

/** A real CLIP checkpoint to offer where the built-in shapes model cannot help (photos). */
export const SUGGESTED_MODEL = Object.freeze({ id: 'openai/clip-vit-base-patch32', name: 'CLIP ViT-B/32', size: 'about 600 MB' });

/** What the model field accepts, for messages. */
export const ADDRESS_EXAMPLES = `a Hugging Face model such as ${SUGGESTED_MODEL.id}, an https:// address of a model folder or .gguf file, or a path on this site such as /models/clip/`;

/** Whether a model URL names one GGUF file rather than a folder. */
export function isGgufUrl(url) {
  return /\.gguf$/i.test(new URL(url).pathname);
}

/**
 * The folder URL (ending in '/') of a model from what a person typed: a folder URL, a file URL
 * inside it, a Hugging Face repository page (…/tree/main, …/blob/main/config.json) or a bare
 * `owner/name` repository id. Throws an Error with a readable message when it cannot be a model
 * address; only https URLs and this site's own files are allowed.
 */
export function normalizeModelUrl(input, base = globalThis.location?.href) {
  const text = String(input ?? '').trim();
  if (!text) throw new Error(`Enter the address of a model: ${ADDRESS_EXAMPLES}.`);
  let url;
  if (/^[\w.-]+\/[\w.-]+$/.test(text) && !text.includes('..')) {
    url = new URL(`https://huggingface.co/${text}/resolve/main/`);
  } else {
    // An address has a scheme or is a path; anything else (words, a sentence) is not one.
    const isAddress = /^[a-z][a-z\d+.-]*:\/\//i.test(text) || /^\.{0,2}\//.test(text);
    if (!isAddress || /\s/.test(text)) {
      throw new Error(`“${text}” is not a model address. Enter ${ADDRESS_EXAMPLES}.`);
    }
    try {
      url = new URL(text, base);
    } catch {
      throw new Error(`"${text}" is not a valid address.`);
    }
  }
  const sameOrigin = base && url.origin === new URL(base).origin;
  if (url.protocol !== 'https:' && !sameOrigin) {
    throw new Error(`Only https:// addresses (or this site's own files) can be loaded, not ${url.protocol}//.`);
  }
  url.hash = '';
  url.search = '';
  let path = url.pathname;
  if (url.hostname === 'huggingface.co') {
    // owner/name[/tree|blob|resolve/revision[/file]]
    const parts = path.split('/').filter(Boolean);
    if (parts.length >= 2) {
      const [owner, name, mode, revision = 'main'] = parts;
      if (!mode || mode === 'tree' || mode === 'blob' || mode === 'resolve') {
        const file = /\.gguf$/i.test(path) ? parts.slice(4).join('/') : '';
        path = `/${owner}/${name}/resolve/${revision}/${file}`;
      }
    }
  }
  if (/\.(json|safetensors)$/i.test(path)) path = path.replace(/[^/]*$/, '');
  if (!path.endsWith('/') && !/\.gguf$/i.test(path)) path += '/';
  url.pathname = path;
  return url.href;
}

/** Whether the model at folder `url` (its weights) is in this browser's model cache. */
export async function isCached(url) {
  try {
    const cache = await caches.open(CACHE_NAME);
    return Boolean(await cache.match(new URL(MODEL_FILES.weights, url).href));
  } catch {
    return false;
  }
}

/** A short readable name for a model folder URL: owner/name on Hugging Face, else the path. */
export function modelLabel(source) {
  if (!source || source.kind === 'default') return 'built-in model';
  if (source.kind === 'files') return source.name || 'local files';
  try {
    const url = new URL(source.url);
    const parts = url.pathname.split('/').filter(Boolean);
    if (url.hostname === 'huggingface.co' && parts.length >= 2) return `${parts[0]}/${parts[1]}`;
    const tail = parts.slice(-2).join('/');
    return url.origin === globalThis.location?.origin ? tail || url.pathname : `${url.host}/${tail}`;
  } catch {
    return String(source.url);
  }
}

/**
 * Picks config/weights/tokenizer/preprocessor out of a list of File objects, by name, and a
 * generative checkpoint's other files (`others`: shards with their index, processor, generation
 * and tokenizer configs, chat templates).
 */
export function classifyModelFiles(fileList) {
  const files = {};
  const others = [];
  const unknown = [];
  const weights = [];
  for (const file of fileList) {
    const name = file.name.toLowerCase();
    if (name === 'preprocessor_config.json') files.preprocessor = file;
    else if (name === 'tokenizer.json') files.tokenizer = file;
    else if (name.endsWith('.safetensors')) weights.push(file);
    else if (name === 'config.json') files.config = file;
    else if (GENERATIVE_FILES.includes(file.name) || file.name === WEIGHTS_INDEX_FILE) others.push(file);
    else unknown.push(file.name);
  }
  const sharded = others.some((f) => f.name === WEIGHTS_INDEX_FILE);
  if (sharded) others.push(...weights);
  else if (weights.length === 1) files.weights = weights[0];
  else unknown.push(...weights.map((f) => f.name));
  if (others.length) files.others = others;
  const missing = ['config', 'tokenizer'].filter((k) => !files[k]).map((k) => MODEL_FILES[k]);
  if (!files.weights && !sharded) missing.push(weights.length > 1 ? `${WEIGHTS_INDEX_FILE} (for ${weights.length} weight files)` : MODEL_FILES.weights);
  return { files, missing, unknown };
}
