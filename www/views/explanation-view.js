// The explanation: the image at full resolution with the map over the crop the model saw, a legend,
// a patch readout on hover (or arrow keys), overlay settings, the token attributions, the backend and
// the time each phase took, warnings, and exports (PNG from the engine, JSON, link).

import { currentRun } from '../app/ask.js';
import { currentResult } from '../app/explanations.js';
import { activeMode } from '../app/modes.js';
import { copyLink, exportJson, exportPng } from '../app/exports.js';
import { store } from '../app/store.js';
import { setView } from '../app/view.js';
import { colormapNames, explanationGrid, formatProbability } from '../heatmap.js';
import { methodById } from '../methods.js';
import { renderTokenChips } from '../tokens.js';
import { h, ms, StoreView, uid } from './dom.js';
import './model-fit.js';

const PHASES = [
  ['preprocess', 'preprocess'],
  ['text_forward', 'text'],
  ['image_forward', 'image'],
  ['backward', 'backward'],
  ['method', 'method'],
];

/** The map drawn: the pixel map when asked for and the method has one, else the patch map. */
function effectiveMap(s, method) {
  return s.view.map === 'pixels' && method.pixelScores ? 'pixels' : 'patches';
}

class ExplanationView extends StoreView {
  static store = store;

  build() {
    this.classList.add('explanation-view');
    this.titleEl = h('h2', { id: 'result-heading', class: 'result-title' });
    this.subtitle = h('p', { class: 'result-subtitle' });
    this.status = h('div', { class: 'result-status', attrs: { role: 'status', 'aria-live': 'polite' } });
    this.progress = h('progress', { class: 'meter', max: 1, hidden: true });
    this.heatmap = h('sl-heatmap', { attrs: { interactive: true, legend: true, label: 'explanation heatmap' } });
    this.heatmap.placeholderText = 'Loading the example…';
    this.stage = h('div', { class: 'stage' }, this.heatmap, h('div', { class: 'stage-status' }, this.status, this.progress));

    const opacityId = uid('opacity');
    const colormapId = uid('colormap');
    const mapId = uid('map');
    this.opacity = h('input', { id: opacityId, type: 'range', min: 0, max: 1, step: 0.05, class: 'range', on: { input: () => this.onOpacity(), change: () => setView({ opacity: Number(this.opacity.value) }) } });
    this.opacityValue = h('output', { class: 'range-value', htmlFor: opacityId });
    this.colormap = h('select', { id: colormapId, class: 'select', on: { change: () => setView({ colormap: this.colormap.value }) } });
    this.mapSelect = h(
      'select',
      { id: mapId, class: 'select', on: { change: () => setView({ map: this.mapSelect.value }) } },
      h('option', { value: 'patches', text: 'patches' }),
      h('option', { value: 'pixels', text: 'pixels' }),
    );
    this.controls = h(
      'div',
      { class: 'overlay-controls' },
      h('div', { class: 'field' }, h('label', { htmlFor: opacityId, text: 'Opacity' }), h('div', { class: 'range-row' }, this.opacity, this.opacityValue)),
      h('div', { class: 'field' }, h('label', { htmlFor: colormapId, text: 'Colormap' }), this.colormap),
      h('div', { class: 'field' }, h('label', { htmlFor: mapId, text: 'Map' }), this.mapSelect),
    );

    this.chips = h('div', { class: 'chips' });
    this.chipsNote = h('p', { class: 'hint' });
    this.tokens = h('div', { class: 'tokens' }, h('h3', { class: 'subhead', text: 'Text attribution' }), this.chips, this.chipsNote);

    this.timings = h('dl', { class: 'timings' });
    this.warnings = h('ul', { class: 'warnings' });
    this.exports = h(
      'div',
      { class: 'row exports' },
      h('button', { type: 'button', class: 'button', text: 'Export PNG', on: { click: () => exportPng({ minWidth: this.heatmap.getBoundingClientRect().width * devicePixelRatio, pixelated: this.heatmap.pixelated }) } }),
      h('button', { type: 'button', class: 'button', text: 'Export JSON', on: { click: () => exportJson() } }),
      h('button', { type: 'button', class: 'button subtle', text: 'Copy link', on: { click: () => copyLink() } }),
    );
    this.append(
      h('div', { class: 'result-head' }, h('div', {}, this.titleEl, this.subtitle)),
      h('sl-model-fit'),
      this.stage,
      this.controls,
      this.tokens,
      h('div', { class: 'result-foot' }, this.timings, this.exports),
      this.warnings,
    );
  }

  onOpacity() {
    const value = Number(this.opacity.value);
    this.opacityValue.textContent = `${Math.round(value * 100)}%`;
    this.heatmap.opacity = value;
  }

  /** The engine's colormaps, once its facts are known. */
  buildColormaps() {
    this.colormap.replaceChildren(
      h('option', { value: 'auto', text: 'auto', title: 'inferno, or coolwarm for signed maps (as the CLI)' }),
      ...colormapNames().map((c) => h('option', { value: c, text: c })),
    );
  }

  update(s, p) {
    if (p && s.results === p.results && s.view === p.view && s.image === p.image && s.facts === p.facts && s.method === p.method && s.options === p.options && s.clip === p.clip && s.ask === p.ask && s.mode === p.mode && s.model === p.model) return;
    if (s.image && this.heatmap.image !== s.image.bitmap) this.heatmap.image = s.image.bitmap;
    if (!s.image) this.heatmap.placeholderText = s.imageStatus === 'loading' ? 'Loading the image…' : 'Choose an image';
    if (!s.facts || !s.options) return;
    if (this.colormap.options.length === 0) this.buildColormaps();
    const method = methodById(s.method);
    const result = currentResult(s);
    const explanation = result?.explanation;
    if (explanation) this.shown = { explanation, imageKey: s.image.key, mode: s.mode };
    // While a new result runs, the last one of the same image and mode stays (dimmed).
    const shown = explanation ? this.shown : this.shown?.imageKey === s.image?.key && this.shown?.mode === s.mode ? this.shown : null;
    const e = shown?.explanation;

    this.titleEl.textContent = method.label;
    if (s.mode === 'ask') {
      const { subject, detail } = activeMode(s).describe(s, e);
      this.subtitle.textContent = subject ? `${subject} · ${detail}` : '';
    } else {
      const text = s.clip.texts[s.clip.target];
      const prob = e?.probs?.[e.target];
      this.subtitle.textContent = text === undefined ? '' : `for “${text}”` + (explanation ? (prob !== undefined ? ` · p = ${formatProbability(prob)}` : ` · logit ${explanation.score.toFixed(2)}`) : '');
    }

    // The map.
    if (e && s.image) {
      const grid = explanationGrid(e, effectiveMap(s, method));
      const key = [e, grid.kind, s.view.colormap];
      if (!this.lastMapKey || key.some((v, i) => v !== this.lastMapKey[i])) {
        this.lastMapKey = key;
        this.heatmap.map = { grid, crop: e.crop, patchGrid: e.patch_grid, patchValues: e.patch_scores, colormap: s.view.colormap };
        this.heatmap.setAttribute('label', `${method.label} heatmap ${s.mode === 'ask' ? activeMode(s).describe(s, e).subject : `for “${e.texts[e.target]}”`}`);
      }
    } else if (this.heatmap.map) {
      this.heatmap.map = null;
      this.lastMapKey = null;
    }
    this.stage.classList.toggle('stale', Boolean(e) && !explanation);
    this.opacity.value = String(s.view.opacity);
    this.onOpacity();
    this.colormap.value = s.view.colormap;
    // The menu shows the map in effect: a method without a pixel map draws its patch map.
    this.mapSelect.value = effectiveMap(s, method);
    this.mapSelect.querySelector('option[value="pixels"]').disabled = !method.pixelScores;
    this.mapSelect.title = method.pixelScores ? '' : `${method.label} gives one value per patch only`;

    // Status.
    let status = '';
    this.progress.hidden = true;
    const run = s.mode === 'ask' ? currentRun(s) : null;
    if (s.model.status === 'loading') status = 'Loading the model…';
    else if (s.model.status !== 'ready') status = s.engine.status === 'starting' ? 'Starting the engine…' : 'Choose a model to explain this image.';
    else if (s.mode === 'ask' && !run) status = 'Ask a question about the image.';
    else if (run?.status === 'generating') status = 'Answering…';
    else if (s.mode === 'ask' && !run.tokens.length) status = 'The answer has no tokens to explain.';
    else if (result?.status === 'stopped') status = 'Stopped. Explain runs it again.';
    else if (result?.status === 'running') {
      status = `Running ${method.label.toLowerCase()}…`;
      if (result.progress?.total) {
        this.progress.hidden = false;
        this.progress.value = result.progress.done / result.progress.total;
        status += ` ${result.progress.done} of ${result.progress.total}`;
      }
    } else if (result?.status === 'error') status = `Failed: ${result.error}`;
    this.status.textContent = status;
    this.status.classList.toggle('error', result?.status === 'error');
    this.stage.classList.toggle('busy', Boolean(status) && result?.status !== 'error');

    // Tokens.
    if (e) {
      const scores = e.text_scores ?? null;
      const ask = s.mode === 'ask';
      const scale = renderTokenChips(this.chips, { tokens: e.text_tokens, scores, colormap: s.view.colormap, spaced: ask ? 'leading-space' : 'clip' });
      this.chipsNote.textContent = !scores
        ? `${method.label} scores the image only; these are the text’s tokens.`
        : scale?.degenerate
          ? 'Every token scored 0.'
          : ask
            ? 'Colour: the score of each token the model read before this word (the prompt and the answer so far; the image’s tokens are on the map), on the colormap’s scale; special tokens outlined in dashes.'
            : method.imageMapReadsText
            ? 'Colour: the score of each token of the explained text (same scale as the colormap; special tokens outlined in dashes).'
            : `Colour: the text tower’s own ${method.short.toLowerCase()} from its pooled token. It never sees the image, just as the image map never sees the text.`;
    } else {
      this.chips.replaceChildren();
      this.chipsNote.textContent = '';
    }

    // Backend and timings.
    if (e) {
      const t = e.timings_ms ?? {};
      const items = [['backend', e.backend], ...PHASES.filter(([k]) => t[k] !== undefined).map(([k, label]) => [label, ms(t[k])]), ['total', ms(t.total)]];
      if (result?.wallMs !== undefined && explanation) items.push(['in page', ms(result.wallMs)]);
      this.timings.replaceChildren(...items.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })]));
      this.timings.setAttribute('aria-label', 'backend and time per phase');
      this.warnings.replaceChildren(...(e.warnings ?? []).map((w) => h('li', { text: w })));
    } else {
      this.timings.replaceChildren();
      this.warnings.replaceChildren();
    }
    for (const button of this.exports.querySelectorAll('button')) button.disabled = !explanation;
  }
}

customElements.define('sl-explanation-view', ExplanationView);
