// The `clip` slice: CLIP's question about the image, a set of texts (zero-shot labels) and the one
// whose score is explained (the target), with the actions that edit them, and CLIP's entry in the
// modes (modes.js).

import { engineFacts } from '../local-engine.js';
import { notify } from './alerts.js';
import { store } from './store.js';

store.define({ clip: { texts: [], target: 0 } });

/** CLIP as a mode: what goes into an explanation request and into its key. */
export const clipMode = {
  id: 'clip',
  /** Part of the request key: everything of the question that changes an explanation. */
  questionKey: (s) => `${s.clip.texts.join('\u0002')}\u0001${s.clip.target}`,
  /** The explanation request's question arguments. */
  explainArguments: (s) => ({ texts: s.clip.texts, target: s.clip.target }),
  ready: (s) => s.clip.texts.length > 0,
  explain: (client, s, method, options, handlers) => client.explain(s.image, { ...clipMode.explainArguments(s), method, ...options }, handlers),
};

/** The 12 captions the built-in model was trained on ("a red circle", ...). */
export function shapeCaptions() {
  return engineFacts()?.scenes.captions ?? [];
}

export function setTexts(texts, target = store.get().clip.target) {
  const clean = texts.map((t) => t.trim()).filter(Boolean).slice(0, engineFacts()?.maxTexts);
  if (!clean.length) {
    notify('Keep at least one text to explain.', 'info');
    return;
  }
  store.set({ clip: { texts: clean, target: Math.min(Math.max(0, target), clean.length - 1) } });
}

export function addText(text) {
  const t = text.trim();
  if (!t) return;
  const { texts } = store.get().clip;
  if (texts.includes(t)) {
    setTarget(texts.indexOf(t));
    return;
  }
  setTexts([...texts, t], texts.length);
}

export function removeText(index) {
  const { texts, target } = store.get().clip;
  if (texts.length <= 1) {
    notify('Keep at least one text to explain.', 'info');
    return;
  }
  const next = texts.filter((_, i) => i !== index);
  setTexts(next, index < target ? target - 1 : index === target ? 0 : target);
}

export function setTarget(target) {
  const { clip } = store.get();
  if (target === clip.target || target < 0 || target >= clip.texts.length) return;
  store.set({ clip: { ...clip, target } });
}
