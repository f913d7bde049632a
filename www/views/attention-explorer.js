// The attention explorer: where one token attends in one layer of the vision tower, per head or
// averaged over heads. Click a patch (or move to it with the arrow keys and press Enter) to make it
// the query; the image token [CLS] is what CLIP pools.

import { attentionKey, chooseAttention } from '../app/attention.js';
import { explanationOfImage } from '../app/explanations.js';
import { formatValue } from '../heatmap.js';
import { h, uid } from './dom.js';

export class AttentionExplorer {
  constructor(root) {
    this.root = root;
    const layerId = uid('layer');
    const headId = uid('head');
    this.layer = h('select', { id: layerId, class: 'select', on: { change: () => chooseAttention({ layer: Number(this.layer.value) }) } });
    this.head = h('select', { id: headId, class: 'select', on: { change: () => chooseAttention({ head: this.head.value }) } });
    this.clsButton = h('button', { type: 'button', class: 'button small', text: 'Image token [CLS]', attrs: { 'aria-pressed': 'true' }, on: { click: () => chooseAttention({ query: 0 }) } });
    this.heatmap = h('sl-heatmap', { attrs: { selectable: true, legend: true, label: 'attention map: click a patch to see where it attends' } });
    this.heatmap.addEventListener('patch-select', (e) => chooseAttention({ query: e.detail.index + 1 }));
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
    if (p && a === p.attention && s.image === p.image && s.view === p.view && s.results === p.results && s.model === p.model) return;
    if (s.image && this.heatmap.image !== s.image.bitmap) this.heatmap.image = s.image.bitmap;
    this.status.textContent = a.status === 'running' ? 'Computing every layer’s attention…' : a.status === 'error' ? `Failed: ${a.error}` : s.model.status !== 'ready' ? 'Load a model first.' : '';
    if (!a.data || a.key !== attentionKey(s)) {
      this.heatmap.map = null;
      this.readout.textContent = '';
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
    this.heatmap.map = { grid, crop: cropOf(s), patchGrid: [side, side], patchValues: patches, colormap: s.view.colormap, valueLabel: 'attention' };
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
  const explained = explanationOfImage(s);
  if (explained) return explained.crop;
  const { width, height } = s.image;
  const side = Math.min(width, height);
  return { x: (width - side) / 2, y: (height - side) / 2, width: side, height: side };
}

/** The attention row of the chosen query token, in the chosen layer, of one head or their mean. */
export function attentionRow(a) {
  const { data, heads, tokens, layer, head, query } = a;
  const row = new Float32Array(tokens);
  const headsUsed = head === 'mean' ? [...Array(heads).keys()] : [Number(head)];
  for (const hd of headsUsed) {
    const offset = ((layer * heads + hd) * tokens + query) * tokens;
    for (let k = 0; k < tokens; k++) row[k] += data[offset + k] / headsUsed.length;
  }
  return row;
}
