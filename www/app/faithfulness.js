// The `faithfulness` slice: the deletion and insertion curves of the current explanation's patch
// map (the engine's `map_curves`, as `sightline curves` computes them). While the faithfulness view
// is open they follow the explanation: a new method, text or image computes them again.

import { notify } from './alerts.js';
import { engine } from './engine.js';
import { currentResult, explaining, resultKey } from './explanations.js';
import { store } from './store.js';

// `of`: what the curves score ({method, text, texts: how many}), for the view to name.
store.define({ faithfulness: { status: 'idle', key: null, of: null, curves: null, error: null } });

/** Computes the curves of the current explanation's map (the view does this on its own). */
export async function runFaithfulness() {
  const s = store.get();
  const result = currentResult(s);
  if (!result?.explanation) return;
  const key = resultKey(s.method, s);
  const e = result.explanation;
  const of = { method: e.method, text: e.texts[e.target], texts: e.texts.length };
  // The last curves stay (the view dims them) until the new ones are there.
  store.set(({ faithfulness: f }) => ({ faithfulness: { ...f, status: 'running', key, error: null } }));
  try {
    const curves = await engine.faithfulness(s.image, e.patch_scores, e.texts, e.target);
    if (store.get().faithfulness.key !== key) return;
    store.set({ faithfulness: { status: 'done', key, of, curves, error: null } });
  } catch (error) {
    if (store.get().faithfulness.key !== key) return;
    store.set({ faithfulness: { status: 'error', key, of, curves: null, error: error.message } });
    notify(`Faithfulness curves: ${error.message}`);
  }
}

store.subscribe((s) => {
  if (s.mode !== 'clip' || s.view.tab !== 'faithfulness' || s.model.status !== 'ready') return;
  const key = resultKey(s.method, s);
  if (!key || s.faithfulness.key === key || currentResult(s)?.status !== 'done' || explaining(s)) return;
  runFaithfulness();
});
