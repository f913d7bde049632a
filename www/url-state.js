// The shareable part of the state in the URL's fragment (#…): method, options, texts and target
// (CLIP) or the question (a generative model), example, overlay settings, view tab and model
// address. The fragment never reaches a server.
// Valid methods, options and colormaps are the engine's: decode and encode once it is ready.

import { colormapNames } from './heatmap.js';
import { engineFacts } from './local-engine.js';
import { allMethods, defaultOptions, headFusions } from './methods.js';

export const DEFAULT_VIEW = { opacity: 0.55, colormap: 'auto', map: 'patches', tab: 'compare' };
const TABS = ['compare', 'attention', 'faithfulness', 'precision'];

/**
 * The fragment for `state`; values equal to their defaults are left out, the texts too when they
 * are the example's own (`defaultTexts`).
 */
export function encodeState(state, defaultTexts = null) {
  const params = new URLSearchParams();
  const DEFAULT_OPTIONS = defaultOptions();
  const { texts, target } = state.clip;
  params.set('method', state.method);
  if (state.mode === 'ask') {
    if (state.ask.question) params.set('q', state.ask.question);
  } else {
    const own = defaultTexts && state.image?.exampleId && defaultTexts.length === texts.length && defaultTexts.every((t, i) => t === texts[i]);
    if (!own) for (const text of texts) params.append('text', text);
    params.set('target', String(target));
  }
  if (state.image?.exampleId) params.set('example', state.image.exampleId);
  const o = state.options;
  if (o.steps !== DEFAULT_OPTIONS.steps) params.set('steps', String(o.steps));
  if (o.seed !== DEFAULT_OPTIONS.seed) params.set('seed', String(o.seed));
  if (o.headFusion !== DEFAULT_OPTIONS.headFusion) params.set('fusion', o.headFusion);
  if (o.discardRatio !== DEFAULT_OPTIONS.discardRatio) params.set('discard', String(o.discardRatio));
  const v = state.view;
  if (v.opacity !== DEFAULT_VIEW.opacity) params.set('opacity', String(v.opacity));
  if (v.colormap !== DEFAULT_VIEW.colormap) params.set('colormap', v.colormap);
  if (v.map !== DEFAULT_VIEW.map) params.set('map', v.map);
  if (v.tab !== DEFAULT_VIEW.tab) params.set('tab', v.tab);
  if (state.modelSource?.kind === 'url') params.set('model', state.modelSource.url);
  return '#' + params.toString();
}

/** What a fragment asks for; unknown or invalid values are dropped (and listed in `problems`). */
export function decodeState(hash) {
  const { maxTexts, options: limits } = engineFacts();
  const params = new URLSearchParams(String(hash ?? '').replace(/^#/, ''));
  const out = { options: {}, view: {}, problems: [] };
  const number = (name, check) => {
    if (!params.has(name)) return undefined;
    const value = Number(params.get(name));
    if (params.get(name) === '' || !Number.isFinite(value) || !check(value)) {
      out.problems.push(`ignored ${name}=${params.get(name)}`);
      return undefined;
    }
    return value;
  };
  const method = params.get('method');
  if (method) {
    // The model, which decides the methods on offer, may not be loaded yet.
    if (allMethods().some((m) => m.id === method)) out.method = method;
    else out.problems.push(`unknown method "${method}"`);
  }
  const texts = params.getAll('text').map((t) => t.trim()).filter(Boolean);
  if (texts.length) out.texts = texts.slice(0, maxTexts);
  const target = number('target', (v) => Number.isInteger(v) && v >= 0);
  if (target !== undefined) out.target = target;
  if (params.get('example')) out.example = params.get('example');
  if (params.get('q')?.trim()) out.question = params.get('q').trim().slice(0, 2000);
  const steps = number('steps', (v) => Number.isInteger(v) && v >= 1 && v <= limits.maxSteps);
  if (steps !== undefined) out.options.steps = steps;
  const seed = number('seed', (v) => Number.isInteger(v) && v >= 0);
  if (seed !== undefined) out.options.seed = seed;
  const fusion = params.get('fusion');
  if (fusion) {
    if (headFusions().includes(fusion)) out.options.headFusion = fusion;
    else out.problems.push(`unknown head fusion "${fusion}"`);
  }
  const discard = number('discard', (v) => v >= 0 && v < limits.discardRatioBelow);
  if (discard !== undefined) out.options.discardRatio = discard;
  const opacity = number('opacity', (v) => v >= 0 && v <= 1);
  if (opacity !== undefined) out.view.opacity = opacity;
  const colormap = params.get('colormap');
  if (colormap) {
    if (colormap === 'auto' || colormapNames().includes(colormap)) out.view.colormap = colormap;
    else out.problems.push(`unknown colormap "${colormap}"`);
  }
  const map = params.get('map');
  if (map === 'patches' || map === 'pixels') out.view.map = map;
  const tab = params.get('tab');
  if (tab && TABS.includes(tab)) out.view.tab = tab;
  if (params.get('model')) out.model = params.get('model');
  return out;
}
