// The `view` slice: how maps are drawn (opacity, colormap, patch or pixel map) and which of the
// views below the explanation is open; all of it is shared by URL (url-sync.js).

import { DEFAULT_VIEW } from '../url-state.js';
import { store } from './store.js';

store.define({ view: { ...DEFAULT_VIEW } });

export function setView(patch) {
  store.set((s) => ({ view: { ...s.view, ...patch } }));
}
