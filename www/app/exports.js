// Exports of the current explanation: the CLI's overlay as PNG (drawn by the engine), the
// explanation JSON, and a link that opens the same view.

import { notify } from './alerts.js';
import { engine } from './engine.js';
import { currentResult } from './explanations.js';
import { store } from './store.js';
import { syncUrl } from './url-sync.js';

export async function exportPng() {
  const s = store.get();
  const result = currentResult(s);
  if (!result?.explanation) return notify('There is no explanation to export yet.', 'info');
  try {
    const png = await engine.overlay(s.image, result.explanation, {
      colormap: s.view.colormap === 'auto' ? null : s.view.colormap,
      opacity: s.view.opacity,
      pixelMap: s.view.map === 'pixels',
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
