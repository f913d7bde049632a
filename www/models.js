// Where a model comes from, shared by the page and the worker. A model is one of
//   { kind: 'default' }                       the tiny CLIP embedded in the wasm
//   { kind: 'url', url }                      a Hugging Face CLIP folder: url/config.json, ...,
//                                             or one .gguf file from `sightline quantize`
//   { kind: 'files', files: {config, weights, tokenizer, preprocessor?} }   picked File objects

export const MODEL_FILES = {
  config: 'config.json',
  weights: 'model.safetensors',
  tokenizer: 'tokenizer.json',
  preprocessor: 'preprocessor_config.json',
};

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

/** Picks config/weights/tokenizer/preprocessor out of a list of File objects, by name. */
export function classifyModelFiles(fileList) {
  const files = {};
  const unknown = [];
  for (const file of fileList) {
    const name = file.name.toLowerCase();
    if (name === 'preprocessor_config.json') files.preprocessor = file;
    else if (name === 'tokenizer.json') files.tokenizer = file;
    else if (name.endsWith('.safetensors')) files.weights = file;
    else if (name === 'config.json') files.config = file;
    else unknown.push(file.name);
  }
  const missing = ['config', 'weights', 'tokenizer'].filter((k) => !files[k]).map((k) => MODEL_FILES[k]);
  return { files, missing, unknown };
}
