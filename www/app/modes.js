// What is asked of the model, which the loaded model decides: 'clip' (which of several texts fits
// the image, and what in the image and the text makes the target fit) for a CLIP model, 'ask' (a
// question about the image, then what in the image and the question made each word of the
// answer) for a generative one. Each mode has its question slice (clip.js, ask.js) and view; the
// image, the model, the method, the explanations and every view of a map are shared.
//
// A mode is {id, questionKey(s), ready(s), explain(engine, s, method, options, {onProgress,
// signal}) → explanation, describe(s, explanation) → {subject, detail}}.

import { methodIds, setMethodFamily } from '../methods.js';
import { askMode } from './ask.js';
import { clipMode } from './clip.js';
import { store } from './store.js';

const MODES = { clip: clipMode, ask: askMode };

store.define({ mode: 'clip' });

/** The mode the page is in. */
export function activeMode(s = store.get()) {
  return MODES[s.mode];
}

// The loaded model's family picks the mode and the methods on offer.
store.subscribe((s, p) => {
  if (p && s.model.info === p.model.info) return;
  if (!s.model.info) return;
  const family = s.model.info.family === 'llava' ? 'llava' : 'clip';
  setMethodFamily(family);
  const mode = family === 'llava' ? 'ask' : 'clip';
  const method = s.facts && !methodIds().includes(s.method) ? 'chefer' : s.method;
  if (mode !== s.mode || method !== s.method) store.set({ mode, method });
});
