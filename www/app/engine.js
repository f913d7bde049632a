// The `engine` and `facts` slices: the engine worker (client.js) and the page's own engine
// (local-engine.js) starting, the engine's facts (src/catalog.rs) once known, and the worker's
// restarts after a trap (the client replaces the worker and reloads the model it held).

import { EngineClient } from '../client.js';
import { engineFacts, localEngineReady } from '../local-engine.js';
import { notify } from './alerts.js';
import { store } from './store.js';

store.define({ engine: { status: 'starting', defaultModel: null, restarts: 0 }, facts: null });

const restartListeners = [];

/**
 * Calls `listener(error, reloaded, { requested })` after each restart; `reloaded` settles with the
 * model's reload; `requested`: the restart stopped a request the person stopped (client.js).
 */
export function onEngineRestart(listener) {
  restartListeners.push(listener);
}

export const engine = new EngineClient({
  onRestart(error, reloaded, { requested }) {
    store.set((s) => ({ engine: { ...s.engine, restarts: s.engine.restarts + 1 } }));
    if (!requested) {
      const reloading = store.get().modelSource ? '; the model is being loaded again' : '';
      notify(`The engine stopped (${error.message}) and was restarted${reloading}.`, 'error', { key: 'engine' });
    }
    for (const listener of restartListeners) listener(error, reloaded, { requested });
  },
});

/** Starts both engines; resolves to the worker's `{defaultModel, info}`, or null when it failed. */
export async function startEngine() {
  try {
    const [init] = await Promise.all([engine.init(), localEngineReady]);
    performance.mark('sightline:engine-ready');
    store.set((s) => ({ engine: { ...s.engine, status: 'ready', defaultModel: init.defaultModel }, facts: engineFacts() }));
    return init;
  } catch (error) {
    store.set((s) => ({ engine: { ...s.engine, status: 'error' } }));
    const hint = simdSupported() ? '' : ' This page needs WebAssembly SIMD, which every current browser has: please update yours.';
    notify(`The engine could not start: ${error.message}.${hint}`);
    return null;
  }
}

/** Whether this browser validates a module using a wasm SIMD instruction. */
function simdSupported() {
  try {
    return WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]));
  } catch {
    return false;
  }
}
