// The comparison grid: every method's map of the current input side by side (small multiples,
// each scaled on its own); a click opens that method in the main view and brings it into sight.

import { comparing, compareAll, resultKey } from '../app/explanations.js';
import { setMethod } from '../app/method.js';
import { explanationGrid } from '../heatmap.js';
import { methodFamily, methods } from '../methods.js';
import { h, ms, uid } from './dom.js';

export class CompareGrid {
  constructor(root) {
    this.root = root;
    this.cells = new Map();
    this.runReason = h('span', { id: uid('run-reason'), class: 'hint run-reason' });
    this.runButton = h('button', { type: 'button', class: 'button', text: 'Run every method', attrs: { 'aria-describedby': this.runReason.id }, on: { click: () => compareAll() } });
    this.note = h('p', { class: 'hint' });
    this.grid = h('div', { class: 'compare-grid' });
    root.append(h('div', { class: 'row compare-head' }, h('p', { class: 'hint', text: 'Each map is scaled on its own. Click one to open it above.' }), h('div', { class: 'run-all' }, this.runReason, this.runButton)), this.note, this.grid);
  }

  buildCells() {
    this.family = methodFamily();
    this.cells.clear();
    this.grid.replaceChildren();
    for (const method of methods()) {
      const heatmap = h('sl-heatmap', { attrs: { resolution: '192', label: `${method.label} heatmap` } });
      const status = h('span', { class: 'cell-status' });
      const button = h(
        'button',
        { type: 'button', class: 'cell', dataset: { method: method.id }, attrs: { 'aria-pressed': 'false' }, on: { click: () => this.open(method.id) } },
        h('span', { class: 'cell-head' }, h('span', { class: 'cell-name', text: method.short, title: method.label }), status),
        heatmap,
      );
      this.cells.set(method.id, { button, heatmap, status, shown: null });
      this.grid.append(button);
    }
  }

  /** Opens `method` in the main view and scrolls it into sight. */
  open(method) {
    setMethod(method);
    const main = document.getElementById('explanation');
    const smooth = !matchMedia('(prefers-reduced-motion: reduce)').matches;
    main?.scrollIntoView({ behavior: smooth ? 'smooth' : 'auto', block: 'start' });
  }

  update(s, p) {
    if (p && s.results === p.results && s.image === p.image && s.facts === p.facts && s.view === p.view && s.method === p.method && s.clip === p.clip && s.ask === p.ask && s.mode === p.mode && s.options === p.options && s.compare === p.compare) return;
    if (!s.facts || !s.options) return;
    if (!this.cells.size || this.family !== methodFamily()) this.buildCells();
    let missing = 0;
    for (const method of methods()) {
      const cell = this.cells.get(method.id);
      const key = resultKey(method.id, s);
      const result = key ? s.results[key] : null;
      cell.button.setAttribute('aria-pressed', String(method.id === s.method));
      cell.button.classList.toggle('current', method.id === s.method);
      if (s.image && cell.heatmap.image !== s.image.bitmap) {
        cell.heatmap.image = s.image.bitmap;
        cell.shown = null;
      }
      const e = result?.explanation;
      if (e) {
        if (cell.shown !== e || cell.colormap !== s.view.colormap) {
          cell.shown = e;
          cell.colormap = s.view.colormap;
          cell.heatmap.map = { grid: explanationGrid(e, 'patches'), crop: e.crop, patchGrid: e.patch_grid, patchValues: e.patch_scores, colormap: s.view.colormap };
        }
        cell.heatmap.opacity = s.view.opacity;
        cell.status.textContent = ms(e.timings_ms?.total);
      } else {
        if (cell.shown) {
          cell.heatmap.map = null;
          cell.shown = null;
        }
        cell.status.textContent =
          result?.status === 'running' ? (result.progress?.total ? `${result.progress.done}/${result.progress.total}` : 'running…') : result?.status === 'error' ? 'failed' : '–';
        if (!result) missing++;
      }
      cell.button.classList.toggle('is-error', result?.status === 'error');
      cell.button.title = result?.status === 'error' ? `${method.label} failed: ${result.error}` : `${method.label}: ${method.summary}`;
      cell.button.classList.toggle('is-running', result?.status === 'running');
    }
    this.runButton.disabled = !missing || s.model.status !== 'ready';
    const running = Object.values(s.results).some((r) => r.status === 'running');
    this.runReason.textContent = s.model.status !== 'ready' ? 'Load a model first.' : missing ? '' : running ? 'The methods are running.' : 'Every method has run on this input.';
    this.note.textContent = missing && !comparing(s) ? 'Methods that have not run yet show the plain image. “Run every method” fills them in.' : '';
  }
}
