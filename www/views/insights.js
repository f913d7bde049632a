// Four tabs below the explanation: every method side by side (small multiples), the attention
// explorer (pick a layer, a head and a token; see where it attends), the deletion / insertion
// curves of the current map, and the current map by a full-precision and a quantized version of
// the model (precision-view.js).

import {
  compareAll,
  currentResult,
  resultKey,
  runFaithfulness,
  setAttention,
  setMethod,
  setView,
  store,
} from '../app-core.js';
import { explanationGrid, fitScale, formatValue } from '../heatmap.js';
import { METHODS, methodById } from '../methods.js';
import { h, ms, StoreView, uid } from './dom.js';
import { PrecisionPanel } from './precision-view.js';

const TABS = [
  ['compare', 'Compare methods'],
  ['attention', 'Attention explorer'],
  ['faithfulness', 'Faithfulness'],
  ['precision', 'Full precision vs quantized'],
];

class Insights extends StoreView {
  static store = store;

  build() {
    this.classList.add('insights');
    this.tabs = new Map();
    this.panels = new Map();
    const list = h('div', { class: 'tablist', attrs: { role: 'tablist', 'aria-label': 'More views' } });
    for (const [id, label] of TABS) {
      const tabId = uid(`tab-${id}`);
      const panelId = uid(`panel-${id}`);
      const tab = h('button', {
        type: 'button',
        id: tabId,
        class: 'tab',
        text: label,
        dataset: { tab: id },
        attrs: { role: 'tab', 'aria-controls': panelId },
        on: { click: () => setView({ tab: id }), keydown: (e) => this.onTabKey(e) },
      });
      const panel = h('div', { id: panelId, class: 'tabpanel', attrs: { role: 'tabpanel', 'aria-labelledby': tabId, tabindex: '0' } });
      this.tabs.set(id, tab);
      this.panels.set(id, panel);
      list.append(tab);
    }
    this.append(list, ...this.panels.values());
    this.compare = new CompareGrid(this.panels.get('compare'));
    this.attention = new AttentionExplorer(this.panels.get('attention'));
    this.faithfulness = new FaithfulnessPlot(this.panels.get('faithfulness'));
    this.precision = new PrecisionPanel(this.panels.get('precision'));
  }

  onTabKey(event) {
    const ids = TABS.map(([id]) => id);
    const index = ids.indexOf(event.currentTarget.dataset.tab);
    let next = null;
    if (event.key === 'ArrowRight') next = ids[(index + 1) % ids.length];
    else if (event.key === 'ArrowLeft') next = ids[(index + ids.length - 1) % ids.length];
    else if (event.key === 'Home') next = ids[0];
    else if (event.key === 'End') next = ids.at(-1);
    if (!next) return;
    event.preventDefault();
    setView({ tab: next });
    this.tabs.get(next).focus();
  }

  update(s, p) {
    if (!p || s.view.tab !== p.view.tab) {
      for (const [id, tab] of this.tabs) {
        const selected = id === s.view.tab;
        tab.setAttribute('aria-selected', String(selected));
        tab.tabIndex = selected ? 0 : -1;
        this.panels.get(id).hidden = !selected;
      }
    }
    if (s.view.tab === 'compare') this.compare.update(s, p);
    if (s.view.tab === 'attention') this.attention.update(s, p);
    if (s.view.tab === 'faithfulness') this.faithfulness.update(s, p);
    if (s.view.tab === 'precision') this.precision.update(s, p);
  }
}

// ---------------------------------------------------------------- compare

class CompareGrid {
  constructor(root) {
    this.root = root;
    this.cells = new Map();
    this.runButton = h('button', { type: 'button', class: 'button', text: 'Run every method', on: { click: () => compareAll() } });
    this.note = h('p', { class: 'hint' });
    const grid = h('div', { class: 'compare-grid' });
    for (const method of METHODS) {
      const heatmap = h('sl-heatmap', { attrs: { resolution: '192', label: `${method.label} heatmap` } });
      const status = h('span', { class: 'cell-status' });
      const button = h(
        'button',
        { type: 'button', class: 'cell', dataset: { method: method.id }, attrs: { 'aria-pressed': 'false' }, on: { click: () => setMethod(method.id) } },
        h('span', { class: 'cell-head' }, h('span', { class: 'cell-name', text: method.short }), status),
        heatmap,
      );
      this.cells.set(method.id, { button, heatmap, status, shown: null });
      grid.append(button);
    }
    root.append(h('div', { class: 'row compare-head' }, h('p', { class: 'hint', text: 'Each map is scaled on its own. Click one to open it above.' }), this.runButton), this.note, grid);
  }

  update(s, p) {
    if (p && s.results === p.results && s.image === p.image && s.tables === p.tables && s.view === p.view && s.method === p.method && s.texts === p.texts && s.target === p.target && s.options === p.options) return;
    let missing = 0;
    for (const method of METHODS) {
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
        const grid = explanationGrid(e, 'patches');
        const scale = fitScale(grid.values, s.view.colormap);
        const table = s.tables[scale.colormap];
        const mapKey = `${scale.colormap}:${Boolean(table)}`;
        if (cell.shown !== e || cell.mapKey !== mapKey) {
          cell.shown = e;
          cell.mapKey = mapKey;
          cell.heatmap.map = { grid, crop: e.crop, patchGrid: e.patch_grid, patchValues: e.patch_scores, table, scale };
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
      cell.button.title = result?.status === 'error' ? result.error : methodById(method.id).summary;
      cell.button.classList.toggle('is-running', result?.status === 'running');
    }
    this.runButton.disabled = !missing || s.model.status !== 'ready';
    this.note.textContent = missing && !s.autoCompare ? 'Methods that have not run yet show the plain image. “Run every method” fills them in.' : '';
  }
}

// ---------------------------------------------------------------- attention explorer

class AttentionExplorer {
  constructor(root) {
    this.root = root;
    const layerId = uid('layer');
    const headId = uid('head');
    this.layer = h('select', { id: layerId, class: 'select', on: { change: () => setAttention({ layer: Number(this.layer.value) }) } });
    this.head = h('select', { id: headId, class: 'select', on: { change: () => setAttention({ head: this.head.value }) } });
    this.clsButton = h('button', { type: 'button', class: 'button small', text: 'Image token [CLS]', attrs: { 'aria-pressed': 'true' }, on: { click: () => setAttention({ query: 0 }) } });
    this.heatmap = h('sl-heatmap', { attrs: { selectable: true, legend: true, label: 'attention map: click a patch to see where it attends' } });
    this.heatmap.addEventListener('patch-select', (e) => setAttention({ query: e.detail.index + 1 }));
    this.readout = h('p', { class: 'attention-readout', attrs: { 'aria-live': 'polite' } });
    this.status = h('p', { class: 'hint', attrs: { role: 'status' } });
    root.append(
      h(
        'div',
        { class: 'attention-layout' },
        h('div', { class: 'attention-map' }, this.heatmap),
        h(
          'div',
          { class: 'attention-controls' },
          h('p', { class: 'hint', text: 'Where one token attends in one layer. Click a patch (or focus the map, move with the arrow keys and press Enter) to make it the query; the image token [CLS] is what CLIP pools.' }),
          h('div', { class: 'field' }, h('label', { htmlFor: layerId, text: 'Layer' }), this.layer),
          h('div', { class: 'field' }, h('label', { htmlFor: headId, text: 'Head' }), this.head),
          h('div', { class: 'field' }, h('span', { class: 'field-label', text: 'Query token' }), this.clsButton),
          this.readout,
          this.status,
        ),
      ),
    );
  }

  update(s, p) {
    const a = s.attention;
    if (p && a === p.attention && s.image === p.image && s.tables === p.tables && s.view === p.view && s.results === p.results) return;
    if (s.image && this.heatmap.image !== s.image.bitmap) this.heatmap.image = s.image.bitmap;
    this.status.textContent = a.status === 'running' ? 'Computing every layer’s attention…' : a.status === 'error' ? `Failed: ${a.error}` : s.model.status !== 'ready' ? 'Load a model first.' : '';
    if (!a.data) {
      this.heatmap.map = null;
      return;
    }
    const { layers, heads, tokens } = a;
    if (this.layer.options.length !== layers) this.layer.replaceChildren(...Array.from({ length: layers }, (_, i) => h('option', { value: String(i), text: `${i + 1}${i === layers - 1 ? ' (last)' : ''}` })));
    if (this.head.options.length !== heads + 1) this.head.replaceChildren(h('option', { value: 'mean', text: 'mean of heads' }), ...Array.from({ length: heads }, (_, i) => h('option', { value: String(i), text: `head ${i + 1}` })));
    this.layer.value = String(a.layer);
    this.head.value = a.head;
    const row = attentionRow(a);
    const patches = row.subarray(1);
    const side = Math.round(Math.sqrt(tokens - 1));
    const grid = { rows: side, cols: side, values: patches };
    const scale = fitScale(patches, s.view.colormap);
    this.heatmap.map = { grid, crop: a.crop ?? cropOf(s), patchGrid: [side, side], patchValues: patches, table: s.tables[scale.colormap], scale, valueLabel: 'attention' };
    this.heatmap.opacity = Math.max(0.6, s.view.opacity);
    this.heatmap.markedCell = a.query > 0 ? { row: Math.floor((a.query - 1) / side), col: (a.query - 1) % side } : null;
    this.clsButton.setAttribute('aria-pressed', String(a.query === 0));
    const who = a.query === 0 ? 'The image token [CLS]' : `Patch row ${Math.floor((a.query - 1) / side) + 1}, column ${((a.query - 1) % side) + 1}`;
    const headText = a.head === 'mean' ? 'averaged over heads' : `head ${Number(a.head) + 1}`;
    this.readout.textContent = `${who} in layer ${a.layer + 1} (${headText}) gives ${formatValue(row[0] * 100)}% of its attention to [CLS] and at most ${formatValue(Math.max(...patches) * 100)}% to one patch.`;
  }
}

/** Where the model input lies in this image: from an explanation of it, else CLIP's centre square. */
function cropOf(s) {
  const prefix = `${s.image.key}\u0001`;
  for (const [key, r] of Object.entries(s.results)) if (key.startsWith(prefix) && r.explanation?.crop) return r.explanation.crop;
  const { width, height } = s.image;
  const side = Math.min(width, height);
  return { x: (width - side) / 2, y: (height - side) / 2, width: side, height: side };
}

function attentionRow(a) {
  const { data, heads, tokens, layer, head, query } = a;
  const row = new Float32Array(tokens);
  const headsUsed = head === 'mean' ? [...Array(heads).keys()] : [Number(head)];
  for (const hd of headsUsed) {
    const offset = ((layer * heads + hd) * tokens + query) * tokens;
    for (let k = 0; k < tokens; k++) row[k] += data[offset + k] / headsUsed.length;
  }
  return row;
}

// ---------------------------------------------------------------- faithfulness

const SVG = 'http://www.w3.org/2000/svg';
function s_(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children) node.append(c);
  return node;
}

class FaithfulnessPlot {
  constructor(root) {
    this.root = root;
    this.button = h('button', { type: 'button', class: 'button primary', text: 'Compute the curves', on: { click: () => runFaithfulness() } });
    this.status = h('p', { class: 'hint', attrs: { role: 'status' } });
    this.chart = h('div', { class: 'chart' });
    this.summary = h('p', { class: 'chart-summary' });
    root.append(
      h('p', { class: 'hint', text: 'Deletion removes the patches in order of relevance (sets them to the dataset mean); insertion restores them onto a blank image. A faithful map makes the target’s probability fall fast under deletion (low area) and rise fast under insertion (high area). Petsiuk et al. 2018.' }),
      h('div', { class: 'row' }, this.button, this.status),
      this.chart,
      this.summary,
    );
  }

  update(s, p) {
    const f = s.faithfulness;
    const key = resultKey(s.method, s);
    if (p && f === p.faithfulness && key === resultKey(p.method, p) && s.results === p.results) return;
    const hasMap = Boolean(currentResult(s)?.explanation);
    this.button.disabled = !hasMap || f.status === 'running';
    const fresh = f.key === key;
    this.status.textContent = f.status === 'running' ? 'Scoring every step…' : f.status === 'error' && fresh ? `Failed: ${f.error}` : !hasMap ? 'Waiting for the explanation…' : !fresh && f.curves ? 'The settings changed: compute again for this map.' : '';
    if (f.curves && fresh) this.draw(f.curves, s);
    else {
      this.chart.replaceChildren();
      this.summary.textContent = '';
    }
  }

  draw(c, s) {
    const W = 520;
    const H = 260;
    const m = { l: 60, r: 14, t: 14, b: 40 };
    const all = [...c.deletion, ...c.insertion];
    let lo = 0;
    let hi = 1;
    if (c.quantity === 'probability') {
      // Zoom in on small probabilities: the axis ends at a round number above the curves.
      const top = Math.max(...all);
      const step = [0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1].find((v) => v >= top * 1.05) ?? 1;
      hi = step;
    } else {
      lo = Math.min(...all);
      hi = Math.max(...all);
      const pad = (hi - lo) * 0.08 || 0.05;
      lo -= pad;
      hi += pad;
    }
    const x = (i, n) => m.l + ((W - m.l - m.r) * i) / (n - 1);
    const y = (v) => m.t + (H - m.t - m.b) * (1 - (v - lo) / (hi - lo));
    const line = (values, cls) => s_('polyline', { class: cls, points: values.map((v, i) => `${x(i, values.length).toFixed(1)},${y(v).toFixed(1)}`).join(' ') });
    const svg = s_('svg', { viewBox: `0 0 ${W} ${H}`, class: 'plot', role: 'img', 'aria-label': `Deletion and insertion curves: deletion area ${c.deletionAuc.toFixed(3)}, insertion area ${c.insertionAuc.toFixed(3)}` });
    const ticks = 5;
    for (let i = 0; i <= ticks; i++) {
      const v = lo + ((hi - lo) * i) / ticks;
      svg.append(s_('line', { class: 'grid', x1: m.l, x2: W - m.r, y1: y(v), y2: y(v) }));
      svg.append(s_('text', { class: 'tick', x: m.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, formatValue(Number(v.toFixed(3)))));
    }
    for (let i = 0; i <= 4; i++) {
      const fx = m.l + ((W - m.l - m.r) * i) / 4;
      svg.append(s_('text', { class: 'tick', x: fx, y: H - m.b + 16, 'text-anchor': 'middle' }, `${i * 25}%`));
    }
    svg.append(s_('text', { class: 'axis', x: (m.l + W - m.r) / 2, y: H - 6, 'text-anchor': 'middle' }, 'share of patches removed / restored'));
    svg.append(s_('text', { class: 'axis', x: 10, y: (m.t + H - m.b) / 2, 'text-anchor': 'middle', transform: `rotate(-90 10 ${(m.t + H - m.b) / 2})` }, c.quantity === 'probability' ? 'p(target)' : 'cosine(image, text)'));
    svg.append(line(c.deletion, 'curve deletion'), line(c.insertion, 'curve insertion'));
    this.chart.replaceChildren(svg);
    const text = s.texts[s.target];
    this.summary.replaceChildren(
      h('span', { class: 'key deletion', text: `Deletion area ${c.deletionAuc.toFixed(3)} (lower is better)` }),
      h('span', { class: 'key insertion', text: `Insertion area ${c.insertionAuc.toFixed(3)} (higher is better)` }),
      h('span', { class: 'hint', text: c.quantity === 'probability' ? `p(“${text}”) among ${s.texts.length} texts` : 'One text: its cosine similarity with the image is traced (a probability needs two texts or more).' }),
    );
  }
}

customElements.define('sl-insights', Insights);
