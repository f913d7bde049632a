// The `attention` slice: every vision layer's attention maps of the current image (computed by the
// worker when the attention explorer is open and no explanation is running), and the explorer's
// choice of layer, head ('mean' or an index) and query token (0 is the image token).

import { notify } from './alerts.js';
import { engine } from './engine.js';
import { explaining } from './explanations.js';
import { modelKey } from './model.js';
import { store } from './store.js';

const IDLE = { status: 'idle', key: null, data: null, layers: 0, heads: 0, tokens: 0, error: null };

store.define({ attention: { ...IDLE, layer: null, head: 'mean', query: null } });

/** The maps belong to one image under one model. */
export function attentionKey(s = store.get()) {
  return s.image ? `${s.image.key}\u0001${modelKey(s)}` : null;
}

function setAttention(patch) {
  store.set((s) => ({ attention: { ...s.attention, ...patch } }));
}

/** Picks what the explorer shows: `{layer}`, `{head}` or `{query}`. */
export function chooseAttention(patch) {
  setAttention(patch);
}

/** Whether the maps for `key` are still the ones wanted; forgets them when not. */
function stillWanted(key) {
  if (store.get().attention.key !== key) return false;
  if (attentionKey() === key) return true;
  setAttention({ ...IDLE });
  return false;
}

async function load(s, key) {
  setAttention({ status: 'running', key, error: null });
  try {
    const data = await engine.attention(s.image);
    const { visionLayers: layers, visionHeads: heads } = s.model.info;
    const tokens = Math.round(Math.sqrt(data.length / (layers * heads)));
    if (!stillWanted(key)) return;
    store.set(({ attention: a }) => ({
      attention: {
        ...a,
        status: 'done',
        data,
        layers,
        heads,
        tokens,
        layer: a.layer !== null && a.layer < layers ? a.layer : layers - 1,
        query: a.query !== null && a.query < tokens ? a.query : 0,
      },
    }));
  } catch (error) {
    if (!stillWanted(key)) return;
    if (error.interrupted) {
      setAttention({ status: 'idle', key: null });
      return;
    }
    setAttention({ status: 'error', error: error.message });
    notify(`Attention maps: ${error.message}`);
  }
}

store.subscribe((s) => {
  const key = attentionKey(s);
  const a = s.attention;
  if (a.key !== key && (a.status === 'done' || a.status === 'error')) setAttention({ ...IDLE });
  // Computed when the explorer is open, after the explanation the page waits for.
  if (s.mode !== 'clip' || s.view.tab !== 'attention' || s.model.status !== 'ready' || !key || a.key === key || explaining(s)) return;
  load(s, key);
});
