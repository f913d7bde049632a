// The app's state, engine and actions. Views (views/*.js) read the store and call these actions;
// nothing else changes the state. Explanations are cached by what determines them (image, texts,
// target, model, method and the options the method reads) and run one at a time in the worker.

import { EngineClient } from './client.js';
import { browserBitmap, engineBitmap, engineReads, toPng } from './image-pixels.js';
import { createStore } from './store.js';
import { COLORMAPS } from './heatmap.js';
import { DEFAULT_OPTIONS, METHOD_IDS, methodOptions, optionProblem } from './methods.js';
import { modelLabel, normalizeModelUrl } from './models.js';
import { DEFAULT_VIEW, decodeState, encodeState } from './url-state.js';

export const COLOURS = ['red', 'green', 'blue', 'yellow'];
export const SHAPES = ['circle', 'square', 'triangle'];
export const SHAPE_CAPTIONS = COLOURS.flatMap((c) => SHAPES.map((s) => `a ${c} ${s}`));
export const PHOTO_LABELS = ['a photo of a cat', 'a photo of a dog', 'a cup of coffee', 'an astronaut', 'a red circle'];
export const SCENE_SIZE = 96;
const SCENE_OBJECTS = [2, 4];
const MAX_RESULTS = 80;
/** Below this total time per explanation, every method is run for the comparison grid at once. */
const AUTO_COMPARE_MS = 400;

export const store = createStore({
  engine: { status: 'starting', defaultModel: null, restarts: 0 },
  modelSource: null,
  model: { status: 'none', info: null, progress: null, error: null, serial: 0 },
  pendingModel: null,
  image: null,
  imageStatus: 'idle',
  texts: [...SHAPE_CAPTIONS],
  target: 0,
  method: 'chefer',
  options: { ...DEFAULT_OPTIONS },
  view: { ...DEFAULT_VIEW },
  results: {},
  compareRequested: null,
  autoCompare: false,
  tables: {},
  attention: { status: 'idle', key: null, data: null, layer: null, head: 'mean', query: null, error: null },
  faithfulness: { status: 'idle', key: null, curves: null, error: null },
  alerts: [],
  examples: { scenes: [], photos: [] },
});

export const engine = new EngineClient({
  onRestart(error, reloaded) {
    store.set((s) => ({ engine: { ...s.engine, restarts: s.engine.restarts + 1 } }));
    notify(`The engine stopped (${error.message}) and was restarted${store.get().modelSource ? '; the model is being loaded again' : ''}.`, 'error');
    // Whatever was running is lost: forget running entries so they run again.
    store.set((s) => ({ results: Object.fromEntries(Object.entries(s.results).filter(([, r]) => r.status === 'done')) }));
    running = null;
    reloaded.then(() => schedule(), (e) => setModelError(e));
  },
});

// ---------------------------------------------------------------- alerts

let alertSerial = 0;

/** Shows a message in the page's alert region (errors) or status line (info). */
export function notify(message, level = 'error', { action = null, key = null } = {}) {
  const text = String(message?.message ?? message);
  store.set((s) => {
    const alerts = s.alerts.filter((a) => (key ? a.key !== key : a.message !== text));
    return { alerts: [...alerts, { id: ++alertSerial, level, message: text, action, key }].slice(-5) };
  });
}

export function dismissAlert(id) {
  store.set((s) => ({ alerts: s.alerts.filter((a) => a.id !== id) }));
}

function dismissAlertKey(key) {
  store.set((s) => ({ alerts: s.alerts.filter((a) => a.key !== key) }));
}

// ---------------------------------------------------------------- keys

export function modelKey(s = store.get()) {
  return `${s.model.serial}`;
}

export function inputKey(s = store.get()) {
  if (!s.image) return null;
  return [s.image.key, s.texts.join('\u0002'), s.target, modelKey(s)].join('\u0001');
}

export function resultKey(method, s = store.get()) {
  const key = inputKey(s);
  if (!key) return null;
  return `${key}\u0001${method}\u0001${JSON.stringify(methodOptions(method, s.options))}`;
}

export function currentResult(s = store.get()) {
  const key = resultKey(s.method, s);
  return key ? s.results[key] : undefined;
}

/** Zero-shot probabilities (and logits) of the current input, from any method that has run. */
export function currentScores(s = store.get()) {
  const key = inputKey(s);
  if (!key) return null;
  const own = currentResult(s);
  if (own?.explanation) return own.explanation;
  for (const [k, r] of Object.entries(s.results)) if (k.startsWith(key + '\u0001') && r.explanation) return r.explanation;
  return null;
}

// ---------------------------------------------------------------- boot

let initialRequest = {};

export async function boot() {
  performance.mark('sightline:boot');
  const request = decodeState(location.hash);
  initialRequest = request;
  if (request.problems.length) notify(`Some of the link's settings were not understood: ${request.problems.join('; ')}.`, 'info');
  store.set((s) => ({
    method: request.method ?? s.method,
    options: { ...s.options, ...request.options },
    view: { ...s.view, ...request.view },
    texts: request.texts ?? s.texts,
    target: request.target ?? s.target,
  }));
  const examples = fetch(new URL('./examples/examples.json', import.meta.url))
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
    .then((examples) => store.set({ examples }))
    .catch((e) => notify(`The bundled examples could not be loaded (${e.message}).`, 'info'));

  // The first example is shown before the engine is up (it is a plain file).
  const firstImage = examples.then(() => selectExample(request.example ?? store.get().examples.scenes[0]?.id ?? 'scene-1', { keepTexts: Boolean(request.texts), initial: true }));

  let init;
  try {
    init = await engine.init();
    performance.mark('sightline:engine-ready');
  } catch (error) {
    store.set({ engine: { ...store.get().engine, status: 'error' } });
    const hint = simdSupported() ? '' : ' This page needs WebAssembly SIMD, which every current browser has: please update yours.';
    notify(`The engine could not start: ${error.message}.${hint}`);
    return;
  }
  loadColormaps();
  store.set((s) => ({ engine: { ...s.engine, status: 'ready', defaultModel: init.defaultModel } }));

  if (request.model) {
    let url;
    try {
      url = normalizeModelUrl(request.model);
    } catch (error) {
      notify(`The link's model address is not usable: ${error.message}`);
    }
    if (url) {
      const sameOrigin = new URL(url).origin === location.origin;
      if (sameOrigin) loadModel({ kind: 'url', url });
      else {
        // A shared link never makes the page contact another site on its own: ask first.
        store.set({ pendingModel: { kind: 'url', url } });
        if (init.defaultModel.available) modelReady({ kind: 'default' }, init.info);
      }
    }
  } else if (init.defaultModel.available) {
    modelReady({ kind: 'default' }, init.info);
  } else {
    store.set((s) => ({ model: { ...s.model, status: 'none' } }));
  }
  await firstImage;
  schedule();
}

/** Whether this browser validates a module using a wasm SIMD instruction. */
function simdSupported() {
  try {
    return WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]));
  } catch {
    return false;
  }
}

async function loadColormaps() {
  for (const name of COLORMAPS) {
    try {
      const table = await engine.colormap(name);
      store.set((s) => ({ tables: { ...s.tables, [name]: table } }));
    } catch (error) {
      notify(`Colormap ${name} is unavailable: ${error.message}`);
    }
  }
}

// ---------------------------------------------------------------- model

function modelReady(source, info) {
  performance.mark('sightline:model-ready');
  if (info?.backendNotice) notify(info.backendNotice, 'info', { key: 'backend' });
  store.set((s) => ({
    modelSource: source,
    model: { status: 'ready', info, progress: null, error: null, serial: s.model.serial + 1 },
    pendingModel: null,
    attention: { ...s.attention, status: 'idle', data: null, key: null, layer: null, query: null },
    faithfulness: { status: 'idle', key: null, curves: null, error: null },
  }));
  dismissAlertKey('model');
  // Scenes are drawn at the model's own resolution when it is small.
  schedule();
}

function setModelError(error) {
  store.set((s) => ({ model: { ...s.model, status: s.model.info ? 'ready' : 'error', progress: null, error: error.message } }));
  notify(`The model could not be loaded: ${error.message}`, 'error', { key: 'model' });
}

/** Loads a model: {kind:'default'} | {kind:'url', url} | {kind:'files', files, name}. */
export async function loadModel(source) {
  if (source.kind === 'url') source = { kind: 'url', url: normalizeModelUrl(source.url) };
  store.set((s) => ({ model: { ...s.model, status: 'loading', error: null, progress: { phase: 'start', label: modelLabel(source) } }, pendingModel: null }));
  dismissAlertKey('model');
  try {
    const info = await engine.load(source, {
      onProgress: (progress) => store.set((s) => ({ model: { ...s.model, progress: { ...progress, label: modelLabel(source) } } })),
    });
    modelReady(source.kind === 'files' ? { kind: 'files', name: source.name ?? info.model.name } : source, info);
    return info;
  } catch (error) {
    setModelError(error);
    throw error;
  }
}


// ---------------------------------------------------------------- images

let fileSerial = 0;

function setImage(image) {
  performance.mark('sightline:image-ready');
  const old = store.get().image;
  if (old && old.key !== image.key) {
    engine.forget(old.key).catch(() => {});
    old.bitmap?.close?.();
  }
  store.set({ image, imageStatus: 'ready', compareRequested: null, faithfulness: { status: 'idle', key: null, curves: null, error: null }, attention: { ...store.get().attention, status: 'idle', data: null, key: null, query: null } });
  schedule();
}

/** A bundled example ("scene-<seed>" or a photo id). */
export async function selectExample(id, { keepTexts = false, initial = false } = {}) {
  const { examples } = store.get();
  store.set({ imageStatus: 'loading' });
  try {
    const photo = examples.photos.find((p) => p.id === id);
    const listed = examples.scenes.find((p) => p.id === id);
    const sceneSeed = /^scene-(\d{1,15})$/.exec(id)?.[1];
    let image;
    let labels;
    let target = 0;
    if (photo || listed) {
      const entry = photo ?? listed;
      const response = await fetch(new URL(`./examples/${entry.file}`, import.meta.url));
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const bytes = new Uint8Array(await response.arrayBuffer());
      const bitmap = await engineBitmap(engine, { key: `example:${id}`, bytes });
      image = { key: `example:${id}`, bytes, bitmap, name: entry.title ?? entry.file, exampleId: id, width: bitmap.width, height: bitmap.height, captions: entry.captions ?? null, objects: entry.objects ?? null };
      labels = photo ? photo.labels ?? PHOTO_LABELS : SHAPE_CAPTIONS;
      if (listed?.objects?.length) target = Math.max(0, SHAPE_CAPTIONS.indexOf(listed.objects[0].phrase));
    } else if (sceneSeed !== undefined) {
      const scene = await engine.scene(Number(sceneSeed), SCENE_SIZE, ...SCENE_OBJECTS);
      const bytes = scene.png;
      const bitmap = await engineBitmap(engine, { key: `example:${id}`, bytes });
      image = { key: `example:${id}`, bytes, bitmap, name: `scene ${sceneSeed}`, exampleId: id, width: bitmap.width, height: bitmap.height, captions: scene.meta.captions, objects: scene.meta.objects };
      labels = SHAPE_CAPTIONS;
      if (scene.meta.objects.length) target = Math.max(0, SHAPE_CAPTIONS.indexOf(scene.meta.objects[0].phrase));
    } else {
      throw new Error(`there is no example "${id}"`);
    }
    if (initial && initialRequest.target !== undefined) target = Math.min(initialRequest.target, labels.length - 1);
    if (!keepTexts) store.set({ texts: [...labels], target });
    else if (initial && store.get().target >= store.get().texts.length) store.set({ target: 0 });
    setImage(image);
  } catch (error) {
    store.set({ imageStatus: store.get().image ? 'ready' : 'error' });
    notify(`The example “${id}” could not be opened: ${error.message}`);
    if (initial && id !== 'scene-1') selectExample('scene-1', { keepTexts });
  }
}

/** A new random scene, drawn by the engine. */
export function newScene() {
  const seed = Math.floor(Math.random() * 1e9);
  return selectExample(`scene-${seed}`);
}

/** A picked, dropped or pasted image file. */
export async function openImageFile(file) {
  if (!file) return;
  store.set({ imageStatus: 'loading' });
  const bytes = new Uint8Array(await file.arrayBuffer());
  const shown = file.name || 'The pasted file';
  const fail = (why) => {
    store.set({ imageStatus: store.get().image ? 'ready' : 'error' });
    notify(`“${shown}” is not an image ${why}. Try a PNG, JPEG, GIF, BMP or WebP image.`);
  };
  let name = file.name || 'pasted image';
  let engineBytes = bytes;
  if (!engineReads(bytes)) {
    // The browser may read it though the engine does not (AVIF, ICO, SVG, ...): hand the engine a PNG.
    const drawn = await browserBitmap(bytes, file.type);
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
  setImage({ key, bytes: engineBytes, bitmap, name, exampleId: null, width: bitmap.width, height: bitmap.height, captions: null, objects: null });
}

// ---------------------------------------------------------------- texts, method, options, view

export function setTexts(texts, target = store.get().target) {
  const clean = texts.map((t) => t.trim()).filter(Boolean).slice(0, 64);
  if (!clean.length) {
    notify('Keep at least one text to explain.', 'info');
    return;
  }
  store.set({ texts: clean, target: Math.min(target, clean.length - 1), compareRequested: null });
  schedule();
}

export function addText(text) {
  const t = text.trim();
  if (!t) return;
  const { texts } = store.get();
  if (texts.includes(t)) {
    setTarget(texts.indexOf(t));
    return;
  }
  setTexts([...texts, t], texts.length);
}

export function removeText(index) {
  const { texts, target } = store.get();
  if (texts.length <= 1) {
    notify('Keep at least one text to explain.', 'info');
    return;
  }
  const next = texts.filter((_, i) => i !== index);
  setTexts(next, index < target ? target - 1 : index === target ? 0 : target);
}

export function setTarget(target) {
  if (target === store.get().target) return;
  store.set({ target, compareRequested: null });
  schedule();
}

export function setMethod(method) {
  if (!METHOD_IDS.includes(method) || method === store.get().method) return;
  store.set({ method });
  schedule();
}

export function setOptions(patch) {
  const options = { ...store.get().options, ...patch };
  const problem = optionProblem(options);
  if (problem) {
    notify(problem, 'error', { key: 'options' });
    return false;
  }
  dismissAlertKey('options');
  store.set({ options });
  schedule();
  return true;
}

export function setView(patch) {
  store.set((s) => ({ view: { ...s.view, ...patch } }));
  if (patch.tab) schedule();
}

/** Runs the current method again (also when its result is cached, e.g. after an error). */
export function explainNow() {
  const s = store.get();
  const key = resultKey(s.method, s);
  if (!key) return;
  const results = { ...s.results };
  delete results[key];
  store.set({ results });
  schedule();
}

export function compareAll() {
  store.set({ compareRequested: comparisonKey() });
  schedule();
}

function comparisonKey(s = store.get()) {
  return `${inputKey(s)}\u0001${JSON.stringify(s.options)}`;
}

// ---------------------------------------------------------------- the scheduler

let running = null;

function wantedKeys(s) {
  if (s.model.status !== 'ready' && s.model.status !== 'loading') return [];
  if (s.model.status === 'loading' || !s.image || s.imageStatus === 'loading') return [];
  const keys = [[s.method, resultKey(s.method, s)]];
  const compare = s.autoCompare || s.compareRequested === comparisonKey(s);
  if (compare) for (const method of METHOD_IDS) if (method !== s.method) keys.push([method, resultKey(method, s)]);
  return keys;
}

/** Starts the next explanation that the view needs, if none is running. */
export function schedule() {
  queueMicrotask(runNext);
}

function runNext() {
  if (running) return;
  const s = store.get();
  const next = wantedKeys(s).find(([, key]) => key && !s.results[key]);
  if (!next) {
    maybeRunSideTasks(s);
    return;
  }
  const [method, key] = next;
  const options = { texts: s.texts, target: s.target, method, ...methodOptions(method, s.options) };
  // A token, not the key: after an engine restart the same key may run again while the old run's
  // promise is still settling, and only the newest run may clear `running`.
  const run = { key };
  running = run;
  putResult(key, { status: 'running', method, progress: null });
  const startedAt = performance.now();
  engine
    .explain(s.image, options, {
      onProgress: ({ done, total }) => putResult(key, { status: 'running', method, progress: { done, total } }),
    })
    .then(
      (explanation) => {
        putResult(key, { status: 'done', method, explanation, wallMs: performance.now() - startedAt });
        const total = explanation.timings_ms?.total ?? Infinity;
        if (method === s.method && !store.get().autoCompare && total < AUTO_COMPARE_MS && !['integrated_gradients', 'smoothgrad', 'occlusion'].includes(method)) {
          store.set({ autoCompare: true });
        }
        if (!store.get().firstExplanationAt) {
          performance.mark('sightline:first-explanation');
          store.set({ firstExplanationAt: performance.now() });
          document.documentElement.dataset.firstExplanation = String(Math.round(performance.now()));
        }
      },
      (error) => {
        // Cut short by another request's crash: the restart runs it again.
        if (error.interrupted) return;
        putResult(key, { status: 'error', method, error: error.message });
        if (method === store.get().method) notify(`${method}: ${error.message}`, 'error', { key: 'explain' });
      },
    )
    .finally(() => {
      if (running === run) running = null;
      schedule();
    });
}

function putResult(key, entry) {
  store.set((s) => {
    let results = { ...s.results, [key]: entry };
    const keys = Object.keys(results);
    if (keys.length > MAX_RESULTS) {
      for (const k of keys.slice(0, keys.length - MAX_RESULTS)) if (k !== key && results[k].status !== 'running') delete results[k];
    }
    return { results };
  });
  if (entry.status === 'done' && key === resultKey(store.get().method)) dismissAlertKey('explain');
}

// ---------------------------------------------------------------- attention explorer

let attentionRunning = null;

function maybeRunSideTasks(s) {
  if (s.view.tab === 'attention' && s.model.status === 'ready' && s.image) loadAttention();
}

export function attentionKey(s = store.get()) {
  return s.image ? `${s.image.key}\u0001${modelKey(s)}` : null;
}

export async function loadAttention() {
  const s = store.get();
  const key = attentionKey(s);
  if (!key || s.attention.key === key || attentionRunning === key || running) return;
  attentionRunning = key;
  store.set((st) => ({ attention: { ...st.attention, status: 'running', error: null } }));
  try {
    const data = await engine.attention(s.image);
    const info = store.get().model.info;
    const layers = info.visionLayers;
    const heads = info.visionHeads;
    const tokens = Math.round(Math.sqrt(data.length / (layers * heads)));
    store.set((st) => ({
      attention: {
        ...st.attention,
        status: 'done',
        key,
        data,
        layers,
        heads,
        tokens,
        layer: st.attention.layer !== null && st.attention.layer < layers ? st.attention.layer : layers - 1,
        query: st.attention.query !== null && st.attention.query < tokens ? st.attention.query : 0,
      },
    }));
  } catch (error) {
    if (error.interrupted) {
      store.set((st) => ({ attention: { ...st.attention, status: 'idle', error: null } }));
      return;
    }
    store.set((st) => ({ attention: { ...st.attention, status: 'error', key, error: error.message } }));
    notify(`Attention maps: ${error.message}`);
  } finally {
    attentionRunning = null;
    schedule();
  }
}

export function setAttention(patch) {
  store.set((s) => ({ attention: { ...s.attention, ...patch } }));
}

// ---------------------------------------------------------------- faithfulness

export async function runFaithfulness() {
  const s = store.get();
  const result = currentResult(s);
  if (!result?.explanation) {
    notify('Run an explanation first: the curves follow its map.', 'info');
    return;
  }
  const key = resultKey(s.method, s);
  store.set({ faithfulness: { status: 'running', key, curves: null, error: null } });
  try {
    const e = result.explanation;
    const curves = await engine.faithfulness(s.image, e.patch_scores, e.texts, e.target);
    store.set({ faithfulness: { status: 'done', key, curves, error: null } });
  } catch (error) {
    store.set({ faithfulness: { status: 'error', key, curves: null, error: error.message } });
    notify(`Faithfulness curves: ${error.message}`);
  }
}

// ---------------------------------------------------------------- exports and the URL

export async function exportPng() {
  const s = store.get();
  const result = currentResult(s);
  if (!result?.explanation) return notify('There is no explanation to export yet.', 'info');
  try {
    const png = await engine.overlay(s.image, result.explanation, {
      colormap: s.view.colormap === 'auto' ? null : s.view.colormap,
      opacity: s.view.opacity,
      pixelMap: s.view.map === 'pixels',
    });
    download(new Blob([png], { type: 'image/png' }), `${fileStem(s)}.png`);
  } catch (error) {
    notify(`The PNG could not be made: ${error.message}`);
  }
}

export function exportJson() {
  const s = store.get();
  const result = currentResult(s);
  if (!result?.explanation) return notify('There is no explanation to export yet.', 'info');
  download(new Blob([JSON.stringify(result.explanation, null, 2) + '\n'], { type: 'application/json' }), `${fileStem(s)}.json`);
}

function fileStem(s) {
  const name = (s.image?.exampleId ?? s.image?.name ?? 'image').replace(/\.[a-z0-9]+$/i, '');
  const text = s.texts[s.target] ?? '';
  return `sightline-${name}-${s.method}-${text}`.replace(/[^\w.-]+/g, '-').replace(/-+/g, '-').slice(0, 100);
}

function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export async function copyLink() {
  syncUrl(true);
  try {
    await navigator.clipboard.writeText(location.href);
    notify('Link copied: it opens this same view.', 'info', { key: 'copied' });
  } catch {
    notify(`Copy this link to share the view: ${location.href}`, 'info', { key: 'copied' });
  }
}

/** The texts an example opens with (its labels, or the 12 shape captions for scenes). */
function exampleTexts(s) {
  const id = s.image?.exampleId;
  if (!id) return null;
  const photo = s.examples.photos.find((p) => p.id === id);
  return photo ? photo.labels ?? PHOTO_LABELS : SHAPE_CAPTIONS;
}

let urlTimer = null;

/** Writes the shareable state into the URL fragment (replaceState: no history entry per change). */
export function syncUrl(now = false) {
  clearTimeout(urlTimer);
  const write = () => {
    const s = store.get();
    const hash = encodeState(s, exampleTexts(s));
    if (hash !== location.hash) history.replaceState(null, '', hash);
  };
  if (now) write();
  else urlTimer = setTimeout(write, 150);
}

store.subscribe((s, p) => {
  if (s.method !== p.method || s.texts !== p.texts || s.target !== p.target || s.options !== p.options || s.view !== p.view || s.image !== p.image || s.modelSource !== p.modelSource) {
    if (s.image || !initialRequest.example) syncUrl();
  }
});

// A fragment edited by hand (or a link opened in this tab) is applied.
addEventListener('hashchange', () => {
  if (location.hash === encodeState(store.get(), exampleTexts(store.get()))) return;
  const request = decodeState(location.hash);
  store.set((s) => ({
    method: request.method ?? s.method,
    options: { ...s.options, ...request.options },
    view: { ...s.view, ...request.view },
    texts: request.texts ?? s.texts,
    target: Math.min(request.target ?? s.target, (request.texts ?? s.texts).length - 1),
  }));
  if (request.example && request.example !== store.get().image?.exampleId) selectExample(request.example, { keepTexts: Boolean(request.texts) });
  schedule();
});

// For the tests and the benchmark: a read-only look at the state, and the engine.
globalThis.sightline = { store, engine, resultKey, currentResult };
