// The method and its options. Methods are a radio group (arrow keys switch, and the explanation
// follows), each tagged with what it reads; options appear for the methods that read them, with an
// error next to an option the engine would refuse; "Explain" runs the method again.

import { explainNow } from '../app/explanations.js';
import { setMethod, setOptions } from '../app/method.js';
import { store } from '../app/store.js';
import { engineFacts } from '../local-engine.js';
import { defaultOptions, headFusions, methodById, methodFamily, methods } from '../methods.js';
import { anchoredError, showAnchoredError } from './anchored-error.js';
import { h, StoreView, uid } from './dom.js';

/** What a method's map reads, in a word or three. */
function methodTag(method) {
  if (!method.imageMapReadsText) return methodFamily() === 'llava' ? 'ignores the question' : 'ignores the text';
  return method.textScores ? 'image + text' : 'image';
}

/** The method's description, and what its text colours are when its map ignores the text. */
function methodSummary(method) {
  if (methodFamily() === 'llava') return method.imageMapReadsText ? method.summary : `${method.summary} The image’s tokens come before the question, so this map depends on the explained token only.`;
  if (method.imageMapReadsText) return method.summary;
  const colours = method.textScores ? ' The colours on the text are the text tower’s own attention, which never sees the image.' : '';
  return `${method.summary} Its map is the same for every text: CLIP’s image tower never sees the text.${colours}`;
}

class MethodPanel extends StoreView {
  static store = store;

  build() {
    this.classList.add('method-panel');
    this.radios = new Map();
    this.list = h('div', { class: 'method-list', attrs: { role: 'radiogroup', 'aria-labelledby': 'method-heading' } });
    this.summary = h('p', { class: 'method-summary', attrs: { 'aria-live': 'polite' } });

    const stepsId = uid('steps');
    const seedId = uid('seed');
    const fusionId = uid('fusion');
    const discardId = uid('discard');
    this.steps = h('input', { id: stepsId, type: 'number', min: 1, step: 1, class: 'text-input narrow', on: { change: () => this.commit('steps', this.steps) } });
    this.seed = h('input', { id: seedId, type: 'number', min: 0, step: 1, class: 'text-input narrow', on: { change: () => this.commit('seed', this.seed) } });
    this.fusion = h('select', { id: fusionId, class: 'select', on: { change: () => setOptions({ headFusion: this.fusion.value }) } });
    this.discard = h('input', { id: discardId, type: 'range', min: 0, max: 0.95, step: 0.05, class: 'range', on: { input: () => (this.discardValue.textContent = Number(this.discard.value).toFixed(2)), change: () => setOptions({ discardRatio: Number(this.discard.value) }) } });
    this.discardValue = h('output', { class: 'range-value', htmlFor: discardId });
    this.errors = { steps: anchoredError(this.steps), seed: anchoredError(this.seed) };
    this.fields = {
      steps: h('div', { class: 'field' }, h('label', { htmlFor: stepsId, text: 'Steps' }), this.steps, h('span', { class: 'hint', text: 'path steps / noisy samples' }), this.errors.steps),
      seed: h('div', { class: 'field' }, h('label', { htmlFor: seedId, text: 'Noise seed' }), this.seed, this.errors.seed),
      headFusion: h('div', { class: 'field' }, h('label', { htmlFor: fusionId, text: 'Head fusion' }), this.fusion),
      discardRatio: h('div', { class: 'field' }, h('label', { htmlFor: discardId, text: 'Discard ratio' }), h('div', { class: 'range-row' }, this.discard, this.discardValue)),
    };
    this.optionsBox = h('div', { class: 'options' }, ...Object.values(this.fields));
    this.noOptions = h('p', { class: 'hint no-options', text: 'This method has no options.' });
    this.runButton = h('button', { type: 'button', class: 'button primary run', on: { click: () => explainNow() } }, 'Explain');
    this.reset = h('button', { type: 'button', class: 'button subtle small', text: 'Reset options', on: { click: () => setOptions(defaultOptions()) } });
    this.append(this.list, this.summary, h('h3', { class: 'subhead', text: 'Options' }), this.optionsBox, this.noOptions, h('div', { class: 'row run-row' }, this.runButton, this.reset));
  }

  /** A typed option: a refused value stays in the field, beside its error, until it is fixed. */
  commit(name, input) {
    setOptions({ [name]: input.value === '' ? NaN : Number(input.value) });
  }

  /** The engine's methods as a radio group, its head fusions and limits, once its facts are known. */
  buildMethods() {
    this.family = methodFamily();
    this.radios.clear();
    this.list.replaceChildren();
    const name = uid('method');
    for (const method of methods()) {
      const id = `${name}-${method.id}`;
      const radio = h('input', { type: 'radio', name, id, value: method.id, class: 'method-radio', on: { change: () => setMethod(method.id) } });
      this.radios.set(method.id, radio);
      const tag = methodTag(method);
      this.list.append(
        h(
          'div',
          { class: 'method-option' },
          radio,
          h('label', { htmlFor: id, class: 'method-label', title: `${method.label} (${tag}): ${method.summary}` }, h('span', { class: 'method-name', text: method.label }), h('span', { class: 'method-tags', text: tag })),
        ),
      );
    }
    this.fusion.replaceChildren(...headFusions().map((f) => h('option', { value: f, text: f })));
    this.steps.max = engineFacts().options.maxSteps;
  }

  update(s, p) {
    if (p && s.method === p.method && s.options === p.options && s.model === p.model && s.image === p.image && s.facts === p.facts && s.alerts === p.alerts && s.mode === p.mode) return;
    if (!s.facts || !s.options) return;
    if (!this.radios.size || this.family !== methodFamily()) this.buildMethods();
    const method = methodById(s.method);
    if (!method) return;
    for (const [id, radio] of this.radios) radio.checked = id === s.method;
    this.summary.textContent = methodSummary(method);
    for (const [name, field] of Object.entries(this.fields)) field.hidden = !method.options.includes(name);
    this.noOptions.hidden = method.options.length > 0;
    const o = s.options;
    for (const name of ['steps', 'seed']) {
      const refused = showAnchoredError(this.errors[name], s, `option:${name}`);
      // The refused value stays where the person can fix it.
      if (!refused && document.activeElement !== this[name]) this[name].value = String(o[name]);
    }
    this.fusion.value = o.headFusion;
    this.discard.value = String(o.discardRatio);
    this.discardValue.textContent = o.discardRatio.toFixed(2);
    this.runButton.disabled = s.model.status !== 'ready' || !s.image;
  }
}

customElements.define('sl-method-panel', MethodPanel);
