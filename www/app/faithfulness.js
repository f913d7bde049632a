// The `faithfulness` slice: the deletion and insertion curves of the current explanation's patch
// map (the engine's `map_curves`, as `sightline curves` computes them), for the faithfulness view.

import { notify } from './alerts.js';
import { engine } from './engine.js';
import { currentResult, resultKey } from './explanations.js';
import { store } from './store.js';

store.define({ faithfulness: { status: 'idle', key: null, method: null, curves: null, error: null } });

export async function runFaithfulness() {
  const s = store.get();
  const result = currentResult(s);
  if (!result?.explanation) {
    notify('Run an explanation first: the curves follow its map.', 'info');
    return;
  }
  const key = resultKey(s.method, s);
  const e = result.explanation;
  store.set({ faithfulness: { status: 'running', key, method: e.method, curves: null, error: null } });
  try {
    const curves = await engine.faithfulness(s.image, e.patch_scores, e.texts, e.target);
    if (store.get().faithfulness.key !== key) return;
    store.set({ faithfulness: { status: 'done', key, method: e.method, curves, error: null } });
  } catch (error) {
    if (store.get().faithfulness.key !== key) return;
    store.set({ faithfulness: { status: 'error', key, method: e.method, curves: null, error: error.message } });
    notify(`Faithfulness curves: ${error.message}`);
  }
}
