// For the browser tests only: with `?test-hooks` in the page's address, `globalThis.sightlineTest`
// gives a look at the state and the engine client, and the worker accepts its test requests
// (worker-test-hooks.js). Without the flag neither exists.

import { currentComparison } from './precision.js';
import { engine } from './engine.js';
import { currentResult, resultKey } from './explanations.js';
import { store } from './store.js';

export const testHooksEnabled = new URLSearchParams(location.search).has('test-hooks');

if (testHooksEnabled) {
  globalThis.sightlineTest = Object.freeze({ store, engine, resultKey, currentResult, currentComparison });
}
