// The page's parts that belong to one mode (`data-mode` on them: CLIP's texts, Ask's question)
// show only in that mode.

import { store } from '../app/store.js';

store.subscribe((s, p) => {
  if (p && s.mode === p.mode) return;
  for (const section of document.querySelectorAll('[data-mode]')) section.hidden = section.dataset.mode !== s.mode;
});
