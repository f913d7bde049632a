// What is asked of the model. One mode so far, 'clip': which of several texts fits the image, and
// what in the image (and the text) makes the target fit. A generative mode (ask a question, explain
// a word of the answer) is meant to sit beside it: its own question slice, view and entry here,
// sharing the image, the model, the method, the explanations and every view of a map.

import { clipMode } from './clip.js';
import { store } from './store.js';

const MODES = { clip: clipMode };

store.define({ mode: 'clip' });

/** The mode the page is in: {id, questionKey(s), explainArguments(s), ready(s)}. */
export function activeMode(s = store.get()) {
  return MODES[s.mode];
}
