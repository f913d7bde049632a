// The `model`, `modelSource` and `pendingModel` slices: the model that explains (its info from the
// worker, a serial that changes with every load), loading one — the built-in model, an address, or
// picked files — with progress, and a model a shared link names, held until the person agrees to
// download it.

import { modelLabel, normalizeModelUrl } from '../models.js';
import { dismissAlertKey, notify } from './alerts.js';
import { engine, onEngineRestart } from './engine.js';
import { store } from './store.js';

store.define({
  model: { status: 'none', info: null, progress: null, error: null, serial: 0 },
  modelSource: null,
  pendingModel: null,
});

/** Part of every request key: a new model (even the same one reloaded) explains afresh. */
export function modelKey(s = store.get()) {
  return `${s.model.serial}`;
}

export function modelReady(source, info) {
  performance.mark('sightline:model-ready');
  if (info?.backendNotice) notify(info.backendNotice, 'info', { key: 'backend' });
  store.set((s) => ({
    modelSource: source,
    model: { status: 'ready', info, progress: null, error: null, serial: s.model.serial + 1 },
    pendingModel: null,
  }));
  dismissAlertKey('model');
}

function setModelError(error) {
  const { model, modelSource } = store.get();
  const kept = model.info ? ` The ${modelLabel(modelSource)} is still in use.` : '';
  store.set((s) => ({ model: { ...s.model, status: s.model.info ? 'ready' : 'error', progress: null, error: error.message } }));
  notify(`The model could not be loaded: ${error.message}${kept}`, 'error', { key: 'model', anchor: 'model' });
}

/** Loads a model: {kind:'default'} | {kind:'url', url} | {kind:'files', files, name}. */
export async function loadModel(source) {
  if (source.kind === 'url') source = { kind: 'url', url: normalizeModelUrl(source.url) };
  const label = modelLabel(source);
  store.set((s) => ({ model: { ...s.model, status: 'loading', error: null, progress: { phase: 'start', label } }, pendingModel: null }));
  dismissAlertKey('model');
  try {
    const info = await engine.load(source, {
      onProgress: (progress) => store.set((s) => ({ model: { ...s.model, progress: { ...progress, label } } })),
    });
    modelReady(source.kind === 'files' ? { kind: 'files', name: source.name ?? info.model.name } : source, info);
    return info;
  } catch (error) {
    setModelError(error);
    throw error;
  }
}

/** A model to load only once the person agrees (a shared link's model on another site). */
export function askBeforeLoading(source) {
  store.set({ pendingModel: source });
}

onEngineRestart((_, reloaded) => reloaded.catch(setModelError));
