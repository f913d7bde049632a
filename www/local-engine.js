// The engine on the page's own thread, for what must not wait behind an explanation in the worker:
// the engine's facts (methods, options, colormaps, scene vocabulary) and the painting arithmetic of
// heatmaps (colour scales, resampled heat layers), so the page draws exactly what the CLI draws.
// It is the workers' compiled module (wasm-module.js) instantiated once more, holding no model.

import init, * as wasm from './engine.js';
import { engineModule } from './wasm-module.js';

let instance = null;
let facts = null;

/** Resolves once the local engine can be used; rejects when this browser cannot run it. */
export const localEngineReady = engineModule()
  .then((module) => init({ module_or_path: module }))
  .then(() => {
    facts = Object.freeze(JSON.parse(wasm.engineFacts()));
    instance = wasm;
    return instance;
  });
// Whoever awaits it reports a failure.
localEngineReady.catch(() => {});

/** The engine's functions; throws before `localEngineReady` has resolved. */
export function localEngine() {
  if (!instance) throw new Error('the engine is not ready yet');
  return instance;
}

/** What the engine offers (src/catalog.rs); null before `localEngineReady` has resolved. */
export function engineFacts() {
  return facts;
}
