// The faithfulness view: the deletion and insertion curves of the current map (Petsiuk et al.
// 2018), as the engine computes them (`sightline curves`), with their areas. They follow the
// explanation (app/faithfulness.js): while new curves are computed the last ones stay, dimmed.

import { currentResult, resultKey } from '../app/explanations.js';
import { formatValue } from '../heatmap.js';
import { methodById } from '../methods.js';
import { h } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
function s_(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children) node.append(c);
  return node;
}

export class FaithfulnessPlot {
  constructor(root) {
    this.root = root;
    this.heading = h('h3', { class: 'subhead chart-title' });
    this.status = h('p', { class: 'hint', attrs: { role: 'status' } });
    this.chart = h('div', { class: 'chart' });
    this.summary = h('p', { class: 'chart-summary' });
    root.append(
      h('p', { class: 'hint', text: 'Deletion removes the patches in order of relevance (sets them to the dataset mean); insertion restores them onto a blank image. A faithful map makes the target’s probability fall fast under deletion (low area) and rise fast under insertion (high area). Petsiuk et al. 2018.' }),
      this.heading,
      this.status,
      this.chart,
      this.summary,
    );
  }

  update(s, p) {
    const f = s.faithfulness;
    const key = resultKey(s.method, s);
    if (p && f === p.faithfulness && key === resultKey(p.method, p) && s.results === p.results) return;
    const hasMap = currentResult(s)?.status === 'done';
    const fresh = f.key === key && f.status === 'done';
    const label = (id) => methodById(id)?.label ?? id;
    this.heading.textContent = f.of ? `Deletion and insertion of the ${label(f.of.method)} map for “${f.of.text}”` : '';
    this.status.textContent =
      f.status === 'running' ? `Scoring every step of the ${label(s.method)} map…` : f.status === 'error' && f.key === key ? `Failed: ${f.error}` : !hasMap ? 'Waiting for the explanation…' : '';
    this.chart.classList.toggle('stale', !fresh);
    this.summary.classList.toggle('stale', !fresh);
    if (f.curves) {
      if (this.drawn !== f.curves) this.draw(f.curves, f.of);
      this.drawn = f.curves;
    } else {
      this.chart.replaceChildren();
      this.summary.textContent = '';
      this.drawn = null;
    }
  }

  /** Draws curves `c` of the map `of` ({method, text, texts}). */
  draw(c, of) {
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
    const svg = s_('svg', { viewBox: `0 0 ${W} ${H}`, class: 'plot', role: 'img', 'aria-label': `Deletion and insertion curves: deletion area ${c.deletion_auc.toFixed(3)}, insertion area ${c.insertion_auc.toFixed(3)}` });
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
    this.summary.replaceChildren(
      h('span', { class: 'key deletion', text: `Deletion area ${c.deletion_auc.toFixed(3)} (lower is better)` }),
      h('span', { class: 'key insertion', text: `Insertion area ${c.insertion_auc.toFixed(3)} (higher is better)` }),
      h('span', { class: 'hint', text: c.quantity === 'probability' ? `p(“${of.text}”) among ${of.texts} texts` : 'One text: its cosine similarity with the image is traced (a probability needs two texts or more).' }),
    );
  }
}
