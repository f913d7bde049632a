// The page's address follows the shareable state (url-state.js encodes it into the fragment), and a
// fragment edited by hand, or a link opened in this tab, is applied.

import { decodeState, encodeState } from '../url-state.js';
import { setTexts } from './clip.js';
import { exampleTexts, selectExample } from './image.js';
import { store } from './store.js';

const WRITE_DELAY_MS = 150;
let writeTimer = null;
/** The example a link asked for, until it is shown: the address is not rewritten before. */
let awaitedExample = null;

/** Holds the address until the example `id` the link names is open. */
export function awaitExample(id) {
  awaitedExample = id ?? null;
}

/** Writes the shareable state into the URL fragment (replaceState: no history entry per change). */
export function syncUrl(now = false) {
  clearTimeout(writeTimer);
  const write = () => {
    const s = store.get();
    const hash = encodeState(s, exampleTexts(s));
    if (hash !== location.hash) history.replaceState(null, '', hash);
  };
  if (now) write();
  else writeTimer = setTimeout(write, WRITE_DELAY_MS);
}

store.subscribe((s, p) => {
  if (!s.facts || !s.options) return;
  if (awaitedExample && s.image?.exampleId === awaitedExample) awaitedExample = null;
  if (awaitedExample) return;
  if (s.method !== p.method || s.clip !== p.clip || s.mode !== p.mode || s.ask.question !== p.ask.question || s.options !== p.options || s.view !== p.view || s.image !== p.image || s.modelSource !== p.modelSource) syncUrl();
});

addEventListener('hashchange', () => {
  const s = store.get();
  if (!s.facts || location.hash === encodeState(s, exampleTexts(s))) return;
  const request = decodeState(location.hash);
  store.set((st) => ({
    method: request.method ?? st.method,
    options: { ...st.options, ...request.options },
    view: { ...st.view, ...request.view },
  }));
  const { clip } = store.get();
  if (request.texts || request.target !== undefined) setTexts(request.texts ?? clip.texts, request.target ?? clip.target);
  if (request.example && request.example !== s.image?.exampleId) {
    selectExample(request.example, { keepTexts: Boolean(request.texts), target: request.target }).catch(() => {});
  }
});
