// The "original vs quantized" tab: the current explanation by the loaded model and by a second
// version of it (quantized here, or the full-precision original of a loaded GGUF file), side by side,
// with the numbers `sightline drift` reports for one explanation.

import { notify } from '../app/alerts.js';
import { currentComparison, loadReference, setFormat } from '../app/precision.js';
import { explanationGrid, formatValue } from '../heatmap.js';
import { methodById } from '../methods.js';
import { classifyModelFiles } from '../models.js';
import { bytes, h, ms, uid } from './dom.js';

const FORMAT_LABELS = {
  q8_0: 'q8_0 — 8 bits, blocks of 32',
  q4_0: 'q4_0 — 4 bits, blocks of 32',
  q4_k: 'q4_k — 4 bits, k-quant blocks of 256',
};

export class PrecisionPanel {
  constructor(root) {
    this.root = root;
    this.buildControls();
    this.progress = h('progress', { class: 'meter', max: 1, hidden: true, attrs: { 'aria-hidden': 'true' } });
    this.status = h('p', { class: 'hint precision-status', attrs: { role: 'status' } });
    this.sides = [this.side(), this.side()];
    this.numbers = h('dl', { class: 'precision-numbers', attrs: { 'aria-label': 'how far the map moved' } });
    root.append(
      h('p', { class: 'hint', text: 'The same image, texts, target and method explained by the loaded model and by another version of it, its original and a quantized one. Each map is scaled on its own; the outlined patch is its highest. Nothing leaves this browser.' }),
      this.controls,
      this.progress,
      this.status,
      h('div', { class: 'precision-pair' }, ...this.sides.map((side) => side.figure)),
      this.numbers,
    );
  }

  buildControls() {
    const formatId = uid('precision-format');
    this.format = h('select', { id: formatId, class: 'select', on: { change: () => setFormat(this.format.value) } });
    this.quantizeButton = h('button', { type: 'button', class: 'button primary', text: 'Quantize and compare', on: { click: () => loadReference({ kind: 'quantize' }) } });
    this.quantizeBox = h(
      'div',
      { class: 'row precision-choice' },
      h('div', { class: 'field' }, h('label', { htmlFor: formatId, text: 'Quantize the loaded model to' }), this.format),
      this.quantizeButton,
      h('p', { class: 'hint', text: 'Quantized here, in your browser: the weights of the linear layers are stored in the chosen format, while embeddings and norms keep more precision. Nothing is uploaded.' }),
    );
    this.builtinButton = h('button', { type: 'button', class: 'button primary', text: 'Compare with the built-in full-precision model', on: { click: () => loadReference({ kind: 'builtin' }) } });
    this.builtinBox = h('div', { class: 'row precision-choice' }, this.builtinButton, h('p', { class: 'hint', text: 'This GGUF file has the built-in model’s configuration: its full-precision weights are built into the page.' }));
    const urlId = uid('precision-url');
    const filesId = uid('precision-files');
    this.urlInput = h('input', { id: urlId, type: 'text', class: 'text-input', autocomplete: 'url', spellcheck: false, placeholder: 'owner/name or https://…/resolve/main/', attrs: { inputmode: 'url' }, on: { keydown: (e) => e.key === 'Enter' && this.loadUrl() } });
    this.urlButton = h('button', { type: 'button', class: 'button primary', text: 'Download and compare', on: { click: () => this.loadUrl() } });
    this.filesInput = h('input', { id: filesId, type: 'file', multiple: true, accept: '.json,.safetensors', class: 'file-input' });
    this.filesButton = h('button', { type: 'button', class: 'button', text: 'Load files and compare', on: { click: () => this.loadFiles() } });
    this.chooseBox = h(
      'div',
      { class: 'precision-choice' },
      h('p', { class: 'hint', text: 'Point at the full-precision model this GGUF file was quantized from, as in the model dialog.' }),
      h('div', { class: 'field' }, h('label', { htmlFor: urlId, text: 'Address of the full-precision model' }), h('div', { class: 'row' }, this.urlInput, this.urlButton)),
      h('div', { class: 'field' }, h('label', { htmlFor: filesId, text: 'Or its files (config.json, model.safetensors, tokenizer.json)' }), h('div', { class: 'row' }, this.filesInput, this.filesButton)),
    );
    this.controls = h('div', { class: 'precision-controls' }, this.quantizeBox, this.builtinBox, this.chooseBox);
  }

  side() {
    const caption = h('figcaption', { class: 'precision-caption' });
    const heatmap = h('sl-heatmap', { attrs: { interactive: true, legend: true, resolution: '384', label: 'heatmap' } });
    return { figure: h('figure', { class: 'precision-side' }, caption, heatmap), caption, heatmap, shown: null };
  }

  loadUrl() {
    loadReference({ kind: 'url', url: this.urlInput.value });
  }

  loadFiles() {
    const { files, missing, unknown } = classifyModelFiles(this.filesInput.files);
    // A CLIP checkpoint is one model.safetensors.
    if (!files.weights && !missing.includes('model.safetensors')) missing.push('model.safetensors');
    if (missing.length) {
      notify(`The full-precision model’s files are incomplete: missing ${missing.join(', ')}.` + (unknown.length ? ` Not used: ${unknown.join(', ')}.` : ''), 'error', { key: 'precision' });
      return;
    }
    loadReference({ kind: 'files', files, name: files.weights.name === 'model.safetensors' ? 'local model' : files.weights.name });
  }

  update(s, p) {
    if (p && s.precision === p.precision && s.results === p.results && s.view === p.view && s.image === p.image && s.model === p.model && s.method === p.method && s.clip === p.clip && s.options === p.options) return;
    const { plan, reference, format } = s.precision;
    const ready = s.model.status === 'ready';
    const loading = reference?.status === 'loading';
    this.quantizeBox.hidden = plan?.kind !== 'quantize';
    this.builtinBox.hidden = plan?.kind !== 'builtin';
    this.chooseBox.hidden = plan?.kind !== 'choose';
    if (plan && this.format.options.length !== plan.formats.length) {
      this.format.replaceChildren(...plan.formats.map((f) => h('option', { value: f, text: FORMAT_LABELS[f] ?? f })));
    }
    this.format.value = format;
    for (const button of [this.quantizeButton, this.builtinButton, this.urlButton, this.filesButton]) button.disabled = !ready || loading;

    const { entry, main } = currentComparison(s);
    this.status.textContent = this.statusText(s, entry, main);
    const fraction = reference?.progress?.phase === 'download' && reference.progress.total ? reference.progress.loaded / reference.progress.total : entry?.progress?.total ? entry.progress.done / entry.progress.total : null;
    this.progress.hidden = !loading && entry?.status !== 'running';
    if (fraction === null) this.progress.removeAttribute('value');
    else this.progress.value = fraction;

    const other = entry?.status === 'done' ? entry.explanation : null;
    // The original on the left, the quantized version on the right, whichever of the two is loaded.
    const pair = reference?.quantized ? [[main, 'Original', plan?.mainSize], [other, 'Quantized', reference.size]] : [[other, 'Original', reference?.size], [main, 'Quantized', plan?.mainSize]];
    // A format picked after quantizing: the maps shown are still the old format's (their captions
    // say which), dimmed until the person quantizes again.
    const outdated = this.outdatedFormat(s);
    for (const side of this.sides) side.figure.classList.toggle('stale', Boolean(outdated));
    this.quantizeButton.textContent = outdated ? `Quantize to ${s.precision.format} and compare` : 'Quantize and compare';
    const drift = entry?.status === 'done' ? entry.drift : null;
    const tops = reference?.quantized ? [drift?.top_patch_a, drift?.top_patch_b] : [drift?.top_patch_b, drift?.top_patch_a];
    pair.forEach(([e, role, size], i) => this.draw(this.sides[i], s, reference?.status === 'ready' ? e : null, role, size, tops[i]));
    this.showNumbers(drift, tops);
  }

  /** The format shown when the person has since picked another one, else null. */
  outdatedFormat(s) {
    const { reference, format } = s.precision;
    const shown = reference?.status === 'ready' && reference.spec?.kind === 'quantize' ? reference.spec.format : null;
    return shown && shown !== format ? shown : null;
  }

  statusText(s, entry, main) {
    const { plan, reference } = s.precision;
    const outdated = this.outdatedFormat(s);
    if (outdated && s.model.status === 'ready') return `These maps are for ${outdated}. Press “Quantize to ${s.precision.format} and compare” for ${s.precision.format}.`;
    if (s.model.status !== 'ready') return 'Load a model first.';
    if (s.precision.planError) return `Failed: ${s.precision.planError}`;
    if (!plan) return 'Looking at the loaded model…';
    if (!reference) return plan.kind === 'quantize' ? 'Pick a format: the loaded model is quantized here and both explain the same request.' : '';
    if (reference.status === 'loading') {
      const progress = reference.progress;
      if (progress?.phase === 'download') return `${progress.cached ? 'Reading' : 'Downloading'} ${progress.file}: ${bytes(progress.loaded)}${progress.total ? ` of ${bytes(progress.total)}` : ''}`;
      if (progress?.phase === 'quantize') return `Quantizing to ${progress.format} in this browser…`;
      return `Loading ${reference.label}…`;
    }
    if (reference.status === 'error') return `Failed: ${reference.error}`;
    const timing = reference.quantizeMs !== null && reference.quantizeMs !== undefined ? ` Quantized in ${ms(reference.quantizeMs)} in this browser, loaded in ${ms(reference.loadMs)}.` : '';
    if (!main) return `Waiting for the loaded model’s explanation…${timing}`;
    if (!entry || entry.status === 'running') return `Explaining with the second model…${timing}`;
    if (entry.status === 'error') return `Failed: ${entry.error}`;
    return `${methodById(s.method).label} for “${s.clip.texts[s.clip.target]}”.${timing}`;
  }

  draw(side, s, e, role, size, top) {
    side.caption.replaceChildren(h('strong', { text: role }), e ? ` · ${e.model.dtype} · ${bytes(size)}` : '');
    side.figure.dataset.role = role.toLowerCase();
    if (s.image && side.heatmap.image !== s.image.bitmap) {
      side.heatmap.image = s.image.bitmap;
      side.shown = null;
    }
    if (!e) {
      if (side.shown) side.heatmap.map = null;
      side.shown = null;
      return;
    }
    if (side.shown !== e || side.colormap !== s.view.colormap) {
      side.shown = e;
      side.colormap = s.view.colormap;
      side.heatmap.map = { grid: explanationGrid(e, 'patches'), crop: e.crop, patchGrid: e.patch_grid, patchValues: e.patch_scores, colormap: s.view.colormap };
      side.heatmap.setAttribute('label', `${role} (${e.model.dtype}) ${methodById(e.method)?.label ?? e.method} heatmap for “${e.texts[e.target]}”`);
    }
    const cols = e.patch_grid[1];
    side.heatmap.markedCell = Number.isInteger(top) ? { row: Math.floor(top / cols), col: top % cols } : null;
    side.heatmap.opacity = s.view.opacity;
  }

  /** `tops`: the original map's top patch, then the quantized one's. */
  showNumbers(drift, tops) {
    if (!drift) {
      this.numbers.replaceChildren();
      return;
    }
    const cols = this.sides[0].shown?.patch_grid?.[1] ?? this.sides[1].shown?.patch_grid?.[1];
    const patch = (i) => (Number.isInteger(i) && cols ? `row ${Math.floor(i / cols) + 1}, column ${(i % cols) + 1}` : 'none');
    const rows = [
      ['spearman', 'Spearman ρ of the patch maps', drift.spearman === null ? 'undefined (a constant map)' : drift.spearman.toFixed(4)],
      ['top-patch', 'Top patch', drift.top_patch_agrees ? `same (${patch(tops[0])})` : `differs (original: ${patch(tops[0])}; quantized: ${patch(tops[1])})`],
      ['score', 'Change of the score (logit)', formatValue(drift.score_difference)],
      ['probability', 'Largest change of a probability', drift.max_probability_difference === null ? 'none (one text)' : `${(drift.max_probability_difference * 100).toFixed(2)} points`],
    ];
    this.numbers.replaceChildren(...rows.flatMap(([metric, label, value]) => [h('dt', { text: label }), h('dd', { text: value, dataset: { metric } })]));
  }
}
