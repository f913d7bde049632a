// Exports of the current explanation: the CLI's overlay as PNG (drawn by the engine, at least as
// large as the page shows it, titled as the page writes it), the explanation JSON (for a word of a
// generated answer: each of its tokens' generate JSON beside the summed maps), and a link that
// opens the same view.

import { formatProbability } from '../heatmap.js';
import { methodById } from '../methods.js';
import { notify } from './alerts.js';
import { engine } from './engine.js';
import { currentResult } from './explanations.js';
import { activeMode } from './modes.js';
import { store } from './store.js';
import { syncUrl } from './url-sync.js';

/** The PNG's title: the method's name, the explained text (or word) and its probability, as the page shows them. */
export function overlayTitle(e, s = store.get()) {
  if (s.mode === 'ask') {
    const { subject, detail } = activeMode(s).describe(s, e);
    return `${methodById(e.method)?.label ?? e.method} · ${subject} · ${detail}`;
  }
  const p = e.probs?.[e.target];
  const score = p !== undefined ? `p = ${formatProbability(p)}` : `logit ${e.score.toFixed(2)}`;
  return `${methodById(e.method)?.label ?? e.method} · “${e.texts[e.target]}” · ${score}`;
}

/**
 * Downloads the overlay PNG of the current explanation, at least `minWidth` pixels wide (the width
 * the page shows the image at), enlarged with square pixels when the page shows it `pixelated`.
 */
export async function exportPng({ minWidth = 0, pixelated = false } = {}) {
  const s = store.get();
  const result = currentResult(s);
  if (!result?.explanation) return notify('There is no explanation to export yet.', 'info');
  const e = result.explanation;
  try {
    const png = await engine.overlay(s.image, e, {
      colormap: s.view.colormap === 'auto' ? null : s.view.colormap,
      opacity: s.view.opacity,
      pixelMap: s.view.map === 'pixels' && Boolean(e.pixel_scores),
      minWidth: Math.round(minWidth),
      pixelated,
      title: overlayTitle(e),
    });
    download(new Blob([png], { type: 'image/png' }), `${fileStem(s)}.png`);
  } catch (error) {
    notify(`The PNG could not be made: ${error.message}`);
  }
}

export function exportJson() {
  const s = store.get();
  const result = currentResult(s);
  if (!result?.explanation) return notify('There is no explanation to export yet.', 'info');
  download(new Blob([JSON.stringify(result.explanation, null, 2) + '\n'], { type: 'application/json' }), `${fileStem(s)}.json`);
}

function fileStem(s) {
  const name = (s.image?.exampleId ?? s.image?.name ?? 'image').replace(/\.[a-z0-9]+$/i, '');
  const e = currentResult(s)?.explanation;
  const text = e ? e.texts[e.target] : '';
  return `sightline-${name}-${s.method}-${text}`.replace(/[^\w.-]+/g, '-').replace(/-+/g, '-').slice(0, 100);
}

function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export async function copyLink() {
  syncUrl(true);
  try {
    await navigator.clipboard.writeText(location.href);
    notify('Link copied: it opens this same view.', 'info', { key: 'copied' });
  } catch {
    notify(`Copy this link to share the view: ${location.href}`, 'info', { key: 'copied' });
  }
}
