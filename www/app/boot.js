// The page's start: the engines start while the bundled examples load; the link's state (the URL
// fragment) is applied once the engine's facts say what is valid; the first example shows as soon
// as it is decoded; the model the link names (or the built-in one) is loaded.

import { localEngineReady } from '../local-engine.js';
import { defaultOptions } from '../methods.js';
import { normalizeModelUrl } from '../models.js';
import { decodeState } from '../url-state.js';
import { notify } from './alerts.js';
import { setTexts } from './clip.js';
import { startEngine } from './engine.js';
import { loadExamples, selectExample } from './image.js';
import { askBeforeLoading, loadModel, modelReady } from './model.js';
import { store } from './store.js';
import { awaitExample } from './url-sync.js';

export async function boot() {
  performance.mark('sightline:boot');
  const examples = loadExamples();
  const started = startEngine();
  try {
    await localEngineReady;
  } catch {
    // startEngine reports it.
    await started;
    return;
  }
  const request = decodeState(location.hash);
  if (request.problems.length) notify(`Some of the link's settings were not understood: ${request.problems.join('; ')}.`, 'info');
  store.set((s) => ({
    method: request.method ?? s.method,
    options: { ...defaultOptions(), ...request.options },
    view: { ...s.view, ...request.view },
    ask: { ...s.ask, question: request.question ?? s.ask.question },
  }));
  awaitExample(request.example);
  const firstImage = examples.then(() => openFirstExample(request, started));

  const init = await started;
  if (!init) return;
  if (request.model) loadLinkedModel(request.model, init);
  else if (init.defaultModel.available) modelReady({ kind: 'default' }, init.info);
  await firstImage;
}

/** The example the link names (with its texts and target), else the first bundled scene. */
async function openFirstExample(request, started) {
  const { scenes, photos } = store.get().examples;
  const first = scenes[0]?.id;
  const id = request.example ?? first;
  if (!id) return;
  // A scene that is not bundled is drawn at the model's size: it waits for the model.
  if (![...scenes, ...photos].some((e) => e.id === id)) await started;
  if (request.texts) setTexts(request.texts, request.target ?? 0);
  try {
    await selectExample(id, { keepTexts: Boolean(request.texts), target: request.target });
  } catch {
    awaitExample(null);
    if (id !== first && first) await selectExample(first).catch(() => {});
  }
}

function loadLinkedModel(address, init) {
  let url;
  try {
    url = normalizeModelUrl(address);
  } catch (error) {
    notify(`The link's model address is not usable: ${error.message}`);
    return;
  }
  if (new URL(url).origin === location.origin) {
    loadModel({ kind: 'url', url }).catch(() => {});
    return;
  }
  // A shared link never makes the page contact another site on its own: ask first.
  askBeforeLoading({ kind: 'url', url });
  if (init.defaultModel.available) modelReady({ kind: 'default' }, init.info);
}
