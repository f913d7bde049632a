// The `image`, `imageStatus` and `examples` slices: the explained image (its bytes for the engine,
// a bitmap for the views) from a bundled example, a scene the engine draws, or a file the person
// picks, drops or pastes; and the list of bundled examples.
//
// An image is { key, bytes, bitmap, name, exampleId, width, height, captions, objects }: `key`
// names its bytes in the worker, `captions` and `objects` describe a synthetic scene.

import { engineFacts, localEngineReady } from '../local-engine.js';
import { dismissAlertKey, notify } from './alerts.js';
import { setTexts, shapeCaptions } from './clip.js';
import { engine } from './engine.js';
import { browserBitmap, engineBitmap, engineReads, toPng } from '../image-pixels.js';
import { store } from './store.js';

store.define({ image: null, imageStatus: 'idle', examples: { scenes: [], photos: [] } });

let fileSerial = 0;

/** The bundled examples (examples/examples.json); resolves once they are in the store. */
export function loadExamples() {
  return fetch(new URL('../examples/examples.json', import.meta.url))
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
    .then((examples) => store.set({ examples }))
    .catch((e) => notify(`The bundled examples could not be loaded (${e.message}).`, 'info'));
}

function setImage(image) {
  performance.mark('sightline:image-ready');
  const old = store.get().image;
  if (old && old.key !== image.key) {
    engine.forget(old.key).catch(() => {});
    old.bitmap?.close?.();
  }
  store.set({ image, imageStatus: 'ready' });
  dismissAlertKey('image');
}

/** The texts an example opens with: a photo's own labels, or the 12 shape captions for scenes. */
export function exampleTexts(s, id = s.image?.exampleId) {
  if (!id) return null;
  const photo = s.examples.photos.find((p) => p.id === id);
  return photo ? photo.labels : shapeCaptions();
}

/**
 * Opens a bundled example ("scene-<seed>" or a photo id). Its texts replace the current ones unless
 * `keepTexts`; `target` (when given) picks the explained one, else the scene's first object.
 */
export async function selectExample(id, { keepTexts = false, target } = {}) {
  const { examples } = store.get();
  store.set({ imageStatus: 'loading' });
  try {
    const photo = examples.photos.find((p) => p.id === id);
    const listed = examples.scenes.find((p) => p.id === id);
    const sceneSeed = /^scene-(\d{1,15})$/.exec(id)?.[1];
    let image;
    if (photo || listed) {
      const entry = photo ?? listed;
      const response = await fetch(new URL(`../examples/${entry.file}`, import.meta.url));
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const bytes = new Uint8Array(await response.arrayBuffer());
      const bitmap = await engineBitmap(engine, { key: `example:${id}`, bytes });
      image = { key: `example:${id}`, bytes, bitmap, name: entry.title ?? entry.file, exampleId: id, width: bitmap.width, height: bitmap.height, captions: entry.captions ?? null, objects: entry.objects ?? null, photo: Boolean(photo) };
    } else if (sceneSeed !== undefined) {
      const size = store.get().model.info?.imageSize;
      if (!size) throw new Error('scenes are drawn at the model’s input size: load a model first');
      await localEngineReady;
      const { minObjects, maxObjects } = engineFacts().scenes;
      const scene = await engine.scene(Number(sceneSeed), size, minObjects, maxObjects);
      const bitmap = await engineBitmap(engine, { key: `example:${id}`, bytes: scene.png });
      image = { key: `example:${id}`, bytes: scene.png, bitmap, name: `scene ${sceneSeed}`, exampleId: id, width: bitmap.width, height: bitmap.height, captions: scene.meta.captions, objects: scene.meta.objects, photo: false };
    } else {
      throw new Error(`there is no example "${id}"`);
    }
    await localEngineReady;
    if (!keepTexts) {
      const texts = exampleTexts(store.get(), id);
      const first = image.objects?.[0]?.phrase;
      setTexts(texts, target ?? (first ? Math.max(0, texts.indexOf(first)) : 0));
    }
    setImage(image);
  } catch (error) {
    store.set((s) => ({ imageStatus: s.image ? 'ready' : 'error' }));
    notify(`The example “${id}” could not be opened: ${error.message}`, 'error', { key: 'image', anchor: 'image' });
    throw error;
  }
}

/** A new random scene, drawn by the engine. */
export function newScene() {
  const seed = Math.floor(Math.random() * 1e9);
  return selectExample(`scene-${seed}`).catch(() => {});
}

/** The picker's list: what the browser decodes (SVG drawings are rasterized, svgBitmap). */
export const ACCEPTED_IMAGES = 'image/png,image/jpeg,image/gif,image/bmp,image/webp,image/avif,image/svg+xml,image/x-icon,.ico,.svg';

/** A picked, dropped or pasted image file. What is drawn is the engine's decoding of it
 * (image-pixels.js), so the map lies over the pixels it explains. */
export async function openImageFile(file) {
  if (!file) return;
  store.set({ imageStatus: 'loading' });
  const bytes = new Uint8Array(await file.arrayBuffer());
  const shown = file.name || 'The pasted file';
  const fail = (why) => {
    store.set((s) => ({ imageStatus: s.image ? 'ready' : 'error' }));
    notify(`“${shown}” is not an image ${why}. Try a PNG, JPEG, GIF, BMP, WebP or SVG image.`, 'error', { key: 'image', anchor: 'image' });
  };
  let name = file.name || 'pasted image';
  let engineBytes = bytes;
  const svg = file.type === 'image/svg+xml' || /\.svg$/i.test(file.name);
  if (svg || !engineReads(bytes)) {
    // The browser may read it though the engine does not (SVG, AVIF, ICO, ...): hand the engine a PNG.
    const drawn = svg ? await svgBitmap(bytes) : await browserBitmap(bytes, file.type);
    if (!drawn) return fail('this browser can read (a corrupt or unsupported file)');
    engineBytes = await toPng(drawn);
    drawn.close();
    name += ' (as PNG)';
  }
  const key = `file:${++fileSerial}:${file.name}:${file.size}`;
  let bitmap;
  try {
    bitmap = await engineBitmap(engine, { key, bytes: engineBytes });
  } catch (error) {
    engine.forget(key).catch(() => {});
    return fail(`Sightline can read (${error.message})`);
  }
  setImage({ key, bytes: engineBytes, bitmap, name, exampleId: null, width: bitmap.width, height: bitmap.height, captions: null, objects: null, photo: false });
}

/** Side of an SVG drawing without a size of its own, when it is rasterized. */
const SVG_DEFAULT_SIDE = 512;

/** An SVG drawing rasterized at its own size (or SVG_DEFAULT_SIDE), or null when it is not one. */
async function svgBitmap(bytes) {
  const url = URL.createObjectURL(new Blob([bytes], { type: 'image/svg+xml' }));
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    const width = img.naturalWidth || SVG_DEFAULT_SIDE;
    const height = img.naturalHeight || SVG_DEFAULT_SIDE;
    return await createImageBitmap(img, { resizeWidth: width, resizeHeight: height });
  } catch {
    return null;
  } finally {
    URL.revokeObjectURL(url);
  }
}
