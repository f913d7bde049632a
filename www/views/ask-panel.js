// The question to a generative model and its answer: a question box (Enter asks, Shift+Enter starts
// a new line: a checkpoint without a chat template takes the prompt as written), Stop (the answer
// being generated, and any explanation in flight), the answer's words as they stream in, each token
// with its probability; a click on a word explains it (a word of several tokens: their maps summed),
// its tokens can be explained one by one, and "why this rather than that" contrasts the word's
// first token with one of its top candidates or with a typed token.

import { answerWords, wordOf } from '../answer-words.js';
import { ask, currentRun, DEFAULT_MAX_TOKENS, explainedTokens, generating, selectTokens, setContrast, setMaxTokens, setQuestion, stopAsking } from '../app/ask.js';
import { explaining, stopExplaining } from '../app/explanations.js';
import { store } from '../app/store.js';
import { formatProbability } from '../heatmap.js';
import { anchoredError, showAnchoredError } from './anchored-error.js';
import { h, ms, StoreView, uid } from './dom.js';

/** A token's text as the answer shows it: a lone space or line break made visible. */
function shown(text) {
  if (text === '') return '·';
  return text.replace(/\n/g, '↵').trim() === '' ? '␣' : text.replace(/\n/g, '↵');
}

class AskPanel extends StoreView {
  static store = store;

  build() {
    this.classList.add('ask-panel');
    const questionId = uid('question');
    const lengthId = uid('max-tokens');
    this.question = h('textarea', {
      id: questionId,
      class: 'text-input question-input',
      rows: 2,
      placeholder: 'Ask about the image, e.g. What colour is the square?',
      maxLength: 2000,
      spellcheck: false,
      attrs: { 'aria-keyshortcuts': 'Enter' },
      on: { input: () => setQuestion(this.question.value), keydown: (e) => this.onQuestionKey(e) },
    });
    this.templateHint = h('p', { class: 'hint', hidden: true, text: 'This model has no chat template: the prompt is used as written and must contain <image> where the image goes.' });
    this.askButton = h('button', { type: 'button', class: 'button primary ask-button', text: 'Ask', on: { click: () => this.ask() } });
    this.stopButton = h('button', { type: 'button', class: 'button stop-button', text: 'Stop', on: { click: () => this.stop() } });
    this.maxTokens = h('input', { id: lengthId, type: 'number', min: 1, max: 1024, step: 1, class: 'text-input narrow', on: { change: () => setMaxTokens(this.maxTokens.value === '' ? NaN : Number(this.maxTokens.value)) } });
    this.questionError = anchoredError(this.question);
    this.lengthError = anchoredError(this.maxTokens);
    this.status = h('p', { class: 'hint answer-status', attrs: { role: 'status', 'aria-live': 'polite' } });
    this.answer = h('div', { class: 'answer', attrs: { role: 'group', 'aria-label': 'The answer: choose a word to explain it' } });
    this.detail = h('div', { class: 'answer-detail' });
    this.append(
      h('label', { htmlFor: questionId, class: 'visually-hidden', text: 'Question' }),
      h('div', { class: 'row ask-row' }, this.question, this.askButton, this.stopButton),
      this.questionError,
      this.templateHint,
      h('div', { class: 'field inline-field' }, h('label', { htmlFor: lengthId, text: 'Longest answer (tokens)' }), this.maxTokens, this.lengthError),
      this.status,
      this.answer,
      this.detail,
    );
  }

  /** Enter asks; Shift+Enter is a new line. */
  onQuestionKey(event) {
    if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    this.ask();
  }

  ask() {
    ask(this.question.value);
  }

  stop() {
    stopAsking();
    stopExplaining();
  }

  update(s, p) {
    if (p && s.ask === p.ask && s.model === p.model && s.image === p.image && s.results === p.results && s.alerts === p.alerts && s.mode === p.mode) return;
    if (s.mode !== 'ask') return;
    const run = currentRun(s);
    if (document.activeElement !== this.question && this.question.value !== s.ask.question) this.question.value = s.ask.question;
    if (!showAnchoredError(this.lengthError, s, 'max-tokens') && document.activeElement !== this.maxTokens) this.maxTokens.value = String(s.ask.maxTokens ?? DEFAULT_MAX_TOKENS);
    showAnchoredError(this.questionError, s, 'question');
    this.templateHint.hidden = s.model.info?.chatTemplate !== false;
    const busy = generating(s);
    this.askButton.disabled = s.model.status !== 'ready' || !s.image;
    this.stopButton.disabled = !busy && !explaining(s);
    this.status.textContent = statusText(run);
    // Typing in the contrast field survives the explanation's progress.
    if (p && s.ask === p.ask && s.image === p.image && s.model === p.model && s.mode === p.mode) return;
    const focused = this.contains(document.activeElement) ? document.activeElement.dataset.focusKey : undefined;
    this.renderAnswer(s, run);
    this.renderDetail(s, run);
    if (focused) this.querySelector(`[data-focus-key="${CSS.escape(focused)}"]`)?.focus();
  }

  renderAnswer(s, run) {
    if (!run) {
      this.answer.replaceChildren();
      this.words = null;
      return;
    }
    const words = answerWords(run.tokens);
    const selected = explainedTokens(s);
    this.answer.replaceChildren(
      ...words.map((word) => {
        const pressed = word.tokens.length === selected.length && word.tokens.every((k, i) => k === selected[i]);
        const partly = !pressed && word.tokens.some((k) => selected.includes(k));
        const probs = word.tokens.map((k) => formatProbability(run.tokens[k].prob)).join(' · ');
        return h(
          'button',
          {
            type: 'button',
            class: `answer-word${pressed ? ' selected' : ''}${partly ? ' partly' : ''}`,
            disabled: run.status === 'generating',
            dataset: { tokens: word.tokens.join(','), focusKey: `word:${word.tokens.join(',')}` },
            title: `${word.tokens.length > 1 ? `${word.tokens.length} tokens` : 'one token'}, p = ${probs}`,
            attrs: { 'aria-pressed': String(pressed) },
            on: { click: () => selectTokens(word.tokens) },
          },
          h('span', { class: 'answer-word-text', text: shown(word.text) }),
          h('span', { class: 'answer-word-prob', text: probs }),
        );
      }),
    );
  }

  renderDetail(s, run) {
    const selection = s.ask.selection?.tokens;
    if (!run || !selection?.length || run.status === 'generating') {
      this.detail.replaceChildren();
      return;
    }
    const words = answerWords(run.tokens);
    const word = wordOf(words, selection[0]);
    const explained = explainedTokens(s);
    const first = run.tokens[explained[0]];
    const parts = [];
    if (word && word.tokens.length > 1) {
      parts.push(
        h('p', { class: 'hint', text: s.ask.contrast ? 'A contrast explains one token: the word’s first.' : explained.length > 1 ? `This word is ${explained.length} tokens: the map is the sum of their maps. Or explain one:` : 'One token of the word. The word:' }),
        h(
          'div',
          { class: 'row token-choices' },
          h('button', { type: 'button', class: 'button subtle small', text: 'whole word', attrs: { 'aria-pressed': String(explained.length === word.tokens.length) }, on: { click: () => selectTokens(word.tokens) } }),
          ...word.tokens.map((k) =>
            h('button', {
              type: 'button',
              class: 'button subtle small token-choice',
              text: `${shown(run.tokens[k].text)} ${formatProbability(run.tokens[k].prob)}`,
              dataset: { token: String(k), focusKey: `token:${k}` },
              attrs: { 'aria-pressed': String(explained.length === 1 && explained[0] === k) },
              on: { click: () => selectTokens([k]) },
            }),
          ),
        ),
      );
    }
    const contrast = s.ask.contrast;
    const candidates = first.top.filter((c) => c.id !== first.id);
    const typedId = uid('contrast');
    const typed = h('input', { id: typedId, type: 'text', class: 'text-input contrast-input', placeholder: 'or type one token', maxLength: 100, value: contrast && contrast.id === undefined ? contrast.text : '', on: { keydown: (e) => e.key === 'Enter' && this.contrastWith(typed.value) } });
    parts.push(
      h('h3', { class: 'subhead', text: `Why “${shown(first.text).trim()}” rather than…` }),
      h(
        'div',
        { class: 'candidates', attrs: { role: 'group', 'aria-label': 'the token’s top candidates' } },
        ...candidates.map((c) =>
          h(
            'button',
            {
              type: 'button',
              class: 'button subtle small candidate',
              dataset: { id: String(c.id), focusKey: `candidate:${c.id}` },
              attrs: { 'aria-pressed': String(contrast?.id === c.id) },
              title: `token ${c.id}`,
              on: { click: () => setContrast(contrast?.id === c.id ? null : { id: c.id, text: c.text }) },
            },
            h('span', { text: `“${shown(c.text)}”` }),
            h('span', { class: 'candidate-prob', text: formatProbability(c.prob) }),
          ),
        ),
      ),
      h('div', { class: 'row contrast-row' }, h('label', { htmlFor: typedId, class: 'visually-hidden', text: 'Contrast with this token' }), typed, h('button', { type: 'button', class: 'button small', text: 'Contrast', on: { click: () => this.contrastWith(typed.value) } }), contrast ? h('button', { type: 'button', class: 'button subtle small clear-contrast', text: 'No contrast', on: { click: () => setContrast(null) } }) : null),
      h('p', { class: 'hint', text: `The map explains logit(“${shown(first.text).trim()}”)${contrast ? ` − logit(“${shown(contrast.text).trim()}”)` : ''} at the position that predicts it.` }),
    );
    this.detail.replaceChildren(...parts);
  }

  contrastWith(text) {
    if (!text) return;
    setContrast({ text });
  }
}

function statusText(run) {
  if (!run) return '';
  const count = `${run.tokens.length} token${run.tokens.length === 1 ? '' : 's'}`;
  if (run.status === 'generating') return `Answering… ${count}`;
  if (run.status === 'stopped') return `Stopped after ${count}.`;
  if (run.status === 'error') return `Failed: ${run.error}`;
  const backend = run.generation?.backend ? ` on ${run.generation.backend}` : '';
  return `${count}${backend} · first token after ${ms(run.firstTokenMs)} · ${ms(run.totalMs)} in all. Choose a word to explain it.`;
}

customElements.define('sl-ask', AskPanel);
