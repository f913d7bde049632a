// The model: a chip in the header naming the loaded model and what it can recognise (a failed load
// is reported under it), and a dialog to pick the built-in model, a Hugging Face CLIP or LLaVA
// checkpoint by URL, or files from this computer, with download progress.

import { anchoredAlert, notify } from '../app/alerts.js';
import { engine } from '../app/engine.js';
import { loadModel } from '../app/model.js';
import { store } from '../app/store.js';
import { classifyModelFiles, modelLabel, normalizeModelUrl, SUGGESTED_MODEL } from '../models.js';
import { anchoredError, showAnchoredError } from './anchored-error.js';
import { bytes, h, StoreView, uid } from './dom.js';

/** What a loaded model can recognise, for the chip. */
function recognises(info) {
  if (info.family === 'llava') return 'answers questions';
  return info.shapesOnly ? 'recognises only coloured shapes' : 'recognises any text';
}

class ModelBar extends StoreView {
  static store = store;

  build() {
    this.classList.add('model-bar');
    this.chip = h('button', { type: 'button', class: 'model-chip', on: { click: () => this.open() }, attrs: { 'aria-haspopup': 'dialog' } });
    this.chipText = h('span', { class: 'model-chip-text' });
    this.chipMeter = h('progress', { class: 'model-chip-meter', max: 1, hidden: true, attrs: { 'aria-hidden': 'true' } });
    this.chip.append(h('span', { class: 'model-chip-label', text: 'Model' }), this.chipText, this.chipMeter);
    this.chipError = anchoredError(this.chip);
    this.chipError.classList.add('model-chip-error');
    this.append(this.chip, this.chipError);
    this.buildDialog();
  }

  buildDialog() {
    const titleId = uid('model-title');
    const urlId = uid('model-url');
    const urlHint = uid('model-url-hint');
    const filesId = uid('model-files');
    const filesHint = uid('model-files-hint');
    this.builtinButton = h('button', { type: 'button', class: 'button', text: 'Use the built-in model', on: { click: () => this.run({ kind: 'default' }) } });
    this.builtinNote = h('p', { class: 'hint' });
    this.urlInput = h('input', {
      id: urlId,
      type: 'text',
      class: 'text-input',
      placeholder: `${SUGGESTED_MODEL.id} or https://…/resolve/main/`,
      autocomplete: 'url',
      spellcheck: false,
      attrs: { 'aria-describedby': urlHint, inputmode: 'url' },
      on: { keydown: (e) => e.key === 'Enter' && this.loadUrl() },
    });
    this.urlButton = h('button', { type: 'button', class: 'button primary', text: 'Download and load', on: { click: () => this.loadUrl() } });
    this.filesInput = h('input', { id: filesId, type: 'file', multiple: true, accept: '.json,.safetensors,.jinja', class: 'file-input', attrs: { 'aria-describedby': filesHint } });
    this.filesButton = h('button', { type: 'button', class: 'button', text: 'Load files', on: { click: () => this.loadFiles() } });
    this.progress = h('progress', { class: 'meter', max: 1, value: 0 });
    this.progressText = h('p', { class: 'progress-text', attrs: { 'aria-live': 'polite' } });
    this.progressBox = h('div', { class: 'progress-box', hidden: true }, this.progress, this.progressText);
    this.error = h('p', { class: 'dialog-error', attrs: { role: 'alert' } });
    this.dialog = h(
      'dialog',
      { class: 'dialog model-dialog', attrs: { 'aria-labelledby': titleId } },
      h('div', { class: 'dialog-head' }, h('h2', { id: titleId, text: 'Choose a model' }), h('button', { type: 'button', class: 'icon-button', text: '×', attrs: { 'aria-label': 'Close' }, on: { click: () => this.dialog.close() } })),
      h('p', { class: 'dialog-lead', text: 'Any CLIP checkpoint (it scores texts against the image) or LLaVA checkpoint (it answers questions) in the Hugging Face format works. It is downloaded once into this browser’s cache and runs here; nothing is uploaded.' }),
      h('section', { class: 'choice' }, h('h3', { text: 'Built in' }), h('p', { class: 'hint', text: 'A tiny CLIP trained on synthetic scenes of red, green, blue and yellow circles, squares and triangles. Loads instantly.' }), this.builtinNote, this.builtinButton),
      h(
        'section',
        { class: 'choice' },
        h('h3', {}, h('label', { htmlFor: urlId, text: 'From an address' })),
        h('p', { id: urlHint, class: 'hint', text: `A model folder with config.json, model.safetensors and tokenizer.json (preprocessor_config.json is read when present), a Hugging Face repository such as ${SUGGESTED_MODEL.id} (${SUGGESTED_MODEL.size}), or one .gguf file from sightline quantize (about 90 MB for a q4_0 ViT-B/32).` }),
        h('div', { class: 'row' }, this.urlInput, this.urlButton),
      ),
      h(
        'section',
        { class: 'choice' },
        h('h3', {}, h('label', { htmlFor: filesId, text: 'From files on this computer' })),
        h('p', { id: filesHint, class: 'hint', text: 'Select config.json, model.safetensors and tokenizer.json together (and preprocessor_config.json if the model has one); for LLaVA also its shards and index, processor, generation and tokenizer configs and chat template.' }),
        h('div', { class: 'row' }, this.filesInput, this.filesButton),
      ),
      this.progressBox,
      this.error,
      h('div', { class: 'dialog-foot' }, h('button', { type: 'button', class: 'button subtle', text: 'Delete downloaded models', on: { click: () => this.clearCache() } }), h('button', { type: 'button', class: 'button', text: 'Close', on: { click: () => this.dialog.close() } })),
    );
    this.dialog.addEventListener('close', () => this.showChipError(store.get()));
    this.append(this.dialog);
  }

  open() {
    this.error.textContent = '';
    const source = store.get().modelSource;
    if (source?.kind === 'url' && !this.urlInput.value) this.urlInput.value = source.url;
    this.dialog.showModal();
    this.showChipError(store.get());
  }

  async run(source) {
    this.error.textContent = '';
    try {
      await loadModel(source);
      this.dialog.close();
    } catch (error) {
      // The page's own message, which also says which model is still in use.
      this.error.textContent = anchoredAlert(store.get(), 'model')?.message ?? error.message;
    }
  }

  loadUrl() {
    let url;
    try {
      url = normalizeModelUrl(this.urlInput.value);
    } catch (error) {
      this.error.textContent = error.message;
      this.urlInput.focus();
      return;
    }
    this.urlInput.value = url;
    this.run({ kind: 'url', url });
  }

  loadFiles() {
    const { files, missing, unknown } = classifyModelFiles(this.filesInput.files);
    if (missing.length) {
      this.error.textContent = `Missing ${missing.join(', ')}.` + (unknown.length ? ` Not used: ${unknown.join(', ')}.` : '');
      return;
    }
    this.run({ kind: 'files', files, name: !files.weights || files.weights.name === 'model.safetensors' ? 'local model' : files.weights.name });
  }

  async clearCache() {
    try {
      const deleted = await engine.clearCache();
      notify(deleted ? 'Downloaded models were deleted from this browser.' : 'There were no downloaded models to delete.', 'info');
    } catch (error) {
      this.error.textContent = `The cache could not be cleared: ${error.message}`;
    }
  }

  /** A failed load, next to the chip while the dialog (which shows it too) is closed. */
  showChipError(s) {
    showAnchoredError(this.chipError, this.dialog.open ? { alerts: [] } : s, 'model');
  }

  update(s, p) {
    this.showChipError(s);
    if (p && s.model === p.model && s.modelSource === p.modelSource && s.engine === p.engine && s.pendingModel === p.pendingModel) return;
    const { model, engine: eng } = s;
    const info = model.info;
    const busy = model.status === 'loading';
    let text;
    if (busy) text = `loading ${model.progress?.label ?? ''}…`;
    else if (info) text = `${modelLabel(s.modelSource)} · ${recognises(info)} · ${info.imageSize} px · ${info.model.dtype}`;
    else if (eng.status === 'starting') text = 'starting the engine…';
    else text = 'none loaded — choose one';
    this.chipText.textContent = text;
    this.chip.classList.toggle('attention', !info && !busy && eng.status !== 'starting');
    this.chip.title = info?.family === 'llava'
      ? `${info.model.name}: a generative model (LLaVA) that answers questions about the image; ${info.imageSize} px in ${info.patchGrid[0]}×${info.patchGrid[1]} patches (${info.imageTokens} image tokens), ${info.visionLayers} vision layers, ${info.decoderLayers} decoder layers; backend ${info.backend}`
      : info
      ? `${info.model.name}: ${info.shapesOnly ? 'trained only on red, green, blue and yellow circles, squares and triangles' : 'a CLIP model, for any text'}; ${info.imageSize} px in ${info.patchGrid[0]}×${info.patchGrid[1]} patches, ${info.visionLayers} vision layers, ${info.visionHeads} heads; backend ${info.backend}`
      : 'Choose a model';

    const progress = model.progress;
    const fraction = progress?.phase === 'download' && progress.total ? progress.loaded / progress.total : null;
    this.chipMeter.hidden = !busy;
    if (fraction === null) this.chipMeter.removeAttribute('value');
    else this.chipMeter.value = fraction;
    this.progressBox.hidden = !busy;
    if (busy) {
      if (fraction === null) this.progress.removeAttribute('value');
      else this.progress.value = fraction;
      this.progressText.textContent =
        progress?.phase === 'download'
          ? `${progress.cached ? 'Reading' : 'Downloading'} ${progress.file}: ${bytes(progress.loaded)}${progress.total ? ` of ${bytes(progress.total)}` : ''}${progress.cached ? ' (cached)' : ''}`
          : progress?.phase === 'load'
            ? 'Loading the weights into the engine…'
            : 'Starting…';
    }
    this.urlButton.disabled = this.filesButton.disabled = this.builtinButton.disabled = busy;
    const def = eng.defaultModel;
    if (def && !def.available) {
      this.builtinButton.disabled = true;
      this.builtinNote.textContent = `Not available in this build: ${def.message}`;
    } else {
      this.builtinNote.textContent = s.modelSource?.kind === 'default' ? 'In use now.' : '';
    }
    if (model.status === 'error' && model.error && this.dialog.open) this.error.textContent = model.error;

    if (s.pendingModel && (!p || s.pendingModel !== p.pendingModel)) {
      const source = s.pendingModel;
      notify(`This link uses the model at ${source.url}. Loading it downloads the model from ${new URL(source.url).host}.`, 'info', {
        key: 'pending-model',
        action: { label: 'Download and load', run: () => loadModel(source).catch(() => {}) },
      });
    }
    if (!info && !busy && eng.status === 'ready' && def && !def.available && !s.pendingModel && (!p || p.engine.status !== 'ready')) {
      notify('No model is built into this copy of Sightline yet. Choose a CLIP checkpoint to start.', 'info', {
        key: 'model',
        action: { label: 'Choose a model', run: () => this.open() },
      });
    }
  }
}

customElements.define('sl-model-bar', ModelBar);
