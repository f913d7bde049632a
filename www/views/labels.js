// The texts: zero-shot labels with their probabilities as bars; the explained one (the target) is
// picked by clicking it (a radio group: arrow keys move the choice). Texts can be added, removed
// (× or Delete on the chosen text: the × buttons are not tab stops, so the keyboard reaches the
// method list without passing a dozen of them), or edited all at once; presets give the scene's
// captions or the 12 shape captions.

import { addText, removeText, setTarget, setTexts, shapeCaptions } from '../app/clip.js';
import { currentScores } from '../app/explanations.js';
import { store } from '../app/store.js';
import { formatProbability } from '../heatmap.js';
import { h, StoreView, uid } from './dom.js';

class LabelsView extends StoreView {
  static store = store;

  build() {
    this.classList.add('labels');
    this.groupName = uid('target');
    this.list = h('div', { class: 'label-list', attrs: { role: 'radiogroup', 'aria-labelledby': 'texts-heading' } });
    const addId = uid('add-text');
    this.addInput = h('input', {
      id: addId,
      type: 'text',
      class: 'text-input',
      placeholder: 'Add a text, e.g. a blue square',
      maxLength: 300,
      on: { keydown: (e) => e.key === 'Enter' && this.add() },
    });
    this.addRow = h('div', { class: 'row add-row' }, h('label', { class: 'visually-hidden', htmlFor: addId, text: 'New text' }), this.addInput, h('button', { type: 'button', class: 'button', text: 'Add', on: { click: () => this.add() } }));
    this.sceneButton = h('button', { type: 'button', class: 'button subtle small', text: 'This scene’s captions', on: { click: () => this.useSceneCaptions() } });
    const editorId = uid('edit-texts');
    this.editor = h('textarea', { id: editorId, class: 'text-input editor', rows: 6, spellcheck: false });
    this.editorBox = h(
      'div',
      { class: 'editor-box', hidden: true },
      h('label', { htmlFor: editorId, class: 'hint', text: 'One text per line:' }),
      this.editor,
      h('div', { class: 'row' }, h('button', { type: 'button', class: 'button primary small', text: 'Apply', on: { click: () => this.applyEditor() } }), h('button', { type: 'button', class: 'button subtle small', text: 'Cancel', on: { click: () => this.toggleEditor(false) } })),
    );
    this.editButton = h('button', { type: 'button', class: 'button subtle small', text: 'Edit all', attrs: { 'aria-expanded': 'false' }, on: { click: () => this.toggleEditor() } });
    this.presets = h(
      'div',
      { class: 'presets' },
      h('button', { type: 'button', class: 'button subtle small', text: '12 shape captions', on: { click: () => setTexts([...shapeCaptions()], this.bestShapeTarget()) } }),
      this.sceneButton,
      this.editButton,
    );
    this.append(this.list, this.addRow, this.presets, this.editorBox);
  }

  bestShapeTarget() {
    const objects = store.get().image?.objects;
    const first = objects?.[0]?.phrase;
    return first ? Math.max(0, shapeCaptions().indexOf(first)) : 0;
  }

  add() {
    addText(this.addInput.value);
    this.addInput.value = '';
  }

  useSceneCaptions() {
    const captions = store.get().image?.captions;
    if (captions?.length) setTexts([...captions], 0);
  }

  toggleEditor(open = this.editorBox.hidden) {
    this.editorBox.hidden = !open;
    this.editButton.setAttribute('aria-expanded', String(open));
    if (open) {
      this.editor.value = store.get().clip.texts.join('\n');
      this.editor.focus();
    }
  }

  applyEditor() {
    const texts = this.editor.value.split('\n');
    const { texts: old, target } = store.get().clip;
    const current = old[target];
    const clean = texts.map((t) => t.trim()).filter(Boolean);
    setTexts(clean, Math.max(0, clean.indexOf(current)));
    this.toggleEditor(false);
  }

  update(s, p) {
    if (p && s.clip === p.clip && s.results === p.results && s.image === p.image && s.method === p.method) return;
    this.sceneButton.hidden = !s.image?.captions?.length;
    if (!p || s.clip.texts !== p.clip.texts || !this.rows) this.renderRows(s);
    this.rows.forEach((row, i) => {
      row.radio.checked = i === s.clip.target;
      row.node.classList.toggle('is-target', i === s.clip.target);
    });
    this.renderValues(s);
  }

  renderRows(s) {
    const focused = this.list.contains(document.activeElement) ? document.activeElement.dataset.index : undefined;
    this.rows = s.clip.texts.map((text, i) => {
      const id = `${this.groupName}-${i}`;
      const radio = h('input', {
        type: 'radio',
        name: this.groupName,
        id,
        value: String(i),
        class: 'label-radio',
        dataset: { index: String(i) },
        attrs: { 'aria-keyshortcuts': 'Delete' },
        on: { change: () => setTarget(i), keydown: (e) => this.onRadioKey(e, i) },
      });
      const bar = h('span', { class: 'label-bar', attrs: { 'aria-hidden': 'true' } });
      const value = h('span', { class: 'label-value' });
      const node = h(
        'div',
        { class: 'label-row' },
        radio,
        h('label', { htmlFor: id, class: 'label-text', title: text }, h('span', { class: 'label-name', text }), bar, value),
        h('button', {
          type: 'button',
          class: 'icon-button remove',
          text: '×',
          tabIndex: -1,
          title: `Remove “${text}” (or press Delete on it)`,
          attrs: { 'aria-label': `Remove “${text}”` },
          disabled: s.clip.texts.length <= 1,
          on: { click: () => removeText(i) },
        }),
      );
      return { node, radio, bar, value };
    });
    this.list.replaceChildren(...this.rows.map((r) => r.node));
    if (focused !== undefined) this.list.querySelector(`input[data-index="${focused}"]`)?.focus();
  }

  /** Delete (or Backspace) removes the focused text and keeps the focus in the list. */
  onRadioKey(event, index) {
    if (event.key !== 'Delete' && event.key !== 'Backspace') return;
    event.preventDefault();
    if (store.get().clip.texts.length <= 1) return;
    removeText(index);
    const next = this.list.querySelector(`input[data-index="${Math.min(index, store.get().clip.texts.length - 1)}"]`);
    next?.focus();
  }

  renderValues(s) {
    const scores = currentScores(s);
    const probs = scores?.probs;
    const logits = scores?.logits;
    const best = probs ? Math.max(...probs) : null;
    this.rows.forEach((row, i) => {
      const p = probs?.[i];
      row.value.textContent =
        p !== undefined ? formatProbability(p) : logits?.[i] !== undefined ? `logit ${logits[i].toFixed(2)}` : '';
      row.bar.style.setProperty('--p', String(p ?? 0));
      row.bar.hidden = p === undefined;
      row.node.classList.toggle('is-best', p !== undefined && p === best);
    });
    this.list.classList.toggle('stale', !scores);
  }
}

customElements.define('sl-labels', LabelsView);
