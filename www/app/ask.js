// The `ask` slice: a generative model's question about the image, its answer streamed token by
// token (with each token's probability and top candidates), the selected word of the answer, and
// the alternative it is contrasted with ("why this word rather than that"); and Ask's entry in the
// modes (modes.js). A word's map is explained by the scheduler (explanations.js) like any other:
// one `generate` request per token of the word, given the answer's ids (nothing is generated
// again), their maps summed.

import { answerWords, firstContentWord, sumTokenMaps } from '../answer-words.js';
import { formatProbability } from '../heatmap.js';
import { dismissAlertKey, notify } from './alerts.js';
import { engine } from './engine.js';
import { store } from './store.js';

/** The answer's length when the person does not choose (the CLI's default). */
export const DEFAULT_MAX_TOKENS = 32;

store.define({ ask: { question: '', maxTokens: DEFAULT_MAX_TOKENS, run: null, selection: null, contrast: null } });

/** The generation in flight: its serial and what stops it. */
let current = null;
let serial = 0;

/** The tokens the current selection explains: a contrast explains the word's first token only. */
export function explainedTokens(s = store.get()) {
  const tokens = s.ask.selection?.tokens ?? [];
  return s.ask.contrast ? tokens.slice(0, 1) : tokens;
}

function contrastKey(contrast) {
  if (!contrast) return '';
  return contrast.id !== undefined ? `#${contrast.id}` : `=${contrast.text}`;
}

/** The answer the page holds, when it is for the image and model shown now. */
export function currentRun(s = store.get()) {
  const run = s.ask.run;
  return run && run.imageKey === s.image?.key && run.modelSerial === s.model.serial ? run : null;
}

/** Ask as a mode: an answer's word is what gets explained. */
export const askMode = {
  id: 'ask',
  questionKey: (s) => `${s.ask.run.serial}\u0002${explainedTokens(s).join(',')}\u0002${contrastKey(s.ask.contrast)}`,
  ready: (s) => {
    const run = currentRun(s);
    return Boolean(run && run.status !== 'generating' && run.tokens.length && explainedTokens(s).length);
  },
  explain: (client, s, method, options, { onProgress, signal }) => explainWord(client, s, method, options, { onProgress, signal }),
  /** What the map is of, for titles: `{ subject, detail }`. */
  describe: (s, e) => describeWord(e),
};

async function explainWord(client, s, method, options, { onProgress, signal }) {
  const run = s.ask.run;
  const answer = run.tokens.map((t) => t.id);
  const tokens = explainedTokens(s);
  const contrast = s.ask.contrast;
  const contrastOption = !contrast ? {} : contrast.id !== undefined ? { contrastId: contrast.id } : { contrast: contrast.text };
  const generations = [];
  for (const [i, token] of tokens.entries()) {
    const request = { prompt: run.question, answer, maxTokens: answer.length, token, method, ...options, ...contrastOption };
    const progress = ({ done, total }) => onProgress?.({ done: i * total + done, total: tokens.length * total });
    generations.push(await client.generate(s.image, request, { onProgress: progress, signal }));
  }
  return wordExplanation(generations, tokens, method);
}

/**
 * The explanation of one word as the page's views read an explanation (CLIP's fields: the word as
 * the one "text", its tokens' logits, the maps), with the generate JSON of each token beside it.
 */
export function wordExplanation(generations, tokens, method) {
  const first = generations[0];
  const explained = generations.map((g, i) => g.tokens[tokens[i]]);
  const word = explained.map((t) => t.text).join('');
  const contrast = explained[0].contrast ?? null;
  const timings = {};
  for (const g of generations) for (const [phase, ms] of Object.entries(g.timings_ms ?? {})) timings[phase] = (timings[phase] ?? 0) + ms;
  const backends = [...new Set(generations.map((g) => g.backend))];
  return {
    method,
    backend: backends.join(' + '),
    model: first.model,
    options: first.options,
    texts: [word],
    target: 0,
    // The explained score: the token's logit, or (with a contrast) its logit minus the other's,
    // which is log(p / p_other) as both share the softmax's denominator.
    score: contrast ? Math.log(explained[0].prob / contrast.prob) : explained.reduce((total, t) => total + t.logit, 0),
    logits: explained.map((t) => t.logit),
    probs: null,
    input_size: first.input_size,
    patch_grid: first.patch_grid,
    crop: first.crop,
    ...sumTokenMaps(explained),
    warnings: [...new Set(generations.flatMap((g) => g.warnings ?? []))],
    timings_ms: timings,
    answer_tokens: tokens,
    word,
    token_probs: explained.map((t) => t.prob),
    contrast,
    generations,
  };
}

function quoted(text) {
  return `“${text.trim() || text}”`;
}

function describeWord(e) {
  if (!e?.answer_tokens) return { subject: '', detail: '' };
  const probs = e.token_probs.map(formatProbability).join(' · ');
  if (e.contrast) return { subject: `why ${quoted(e.word)} rather than ${quoted(e.contrast.text)}`, detail: `p = ${probs} vs ${formatProbability(e.contrast.prob)}` };
  const several = e.answer_tokens.length > 1 ? ` (${e.answer_tokens.length} tokens: their maps summed)` : '';
  return { subject: `for ${quoted(e.word)}${several}`, detail: `p = ${probs}` };
}

export function setQuestion(question) {
  store.set((s) => ({ ask: { ...s.ask, question } }));
}

export function setMaxTokens(value) {
  if (!Number.isInteger(value) || value < 1 || value > 1024) {
    notify('The answer’s length must be a whole number of tokens from 1 to 1024.', 'error', { key: 'ask', anchor: 'max-tokens' });
    return false;
  }
  dismissAlertKey('ask');
  store.set((s) => ({ ask: { ...s.ask, maxTokens: value } }));
  return true;
}

function updateRun(runSerial, patch) {
  store.set((s) => (s.ask.run?.serial === runSerial ? { ask: { ...s.ask, run: { ...s.ask.run, ...patch(s.ask.run) } } } : null));
}

/** Asks the loaded generative model `question` about the image; the answer streams into the store. */
export async function ask(question = store.get().ask.question) {
  const s = store.get();
  const text = question.trim();
  if (!text) {
    notify('Type a question about the image first.', 'info', { key: 'ask', anchor: 'question' });
    return;
  }
  if (!s.image || s.model.status !== 'ready' || s.mode !== 'ask') return;
  dismissAlertKey('ask');
  stopAsking();
  const runSerial = ++serial;
  const controller = new AbortController();
  current = { serial: runSerial, controller };
  const startedAt = performance.now();
  store.set({
    ask: {
      ...s.ask,
      question: text,
      run: { serial: runSerial, question: text, imageKey: s.image.key, modelSerial: s.model.serial, status: 'generating', tokens: [], generation: null, error: null, firstTokenMs: null, totalMs: null },
      selection: null,
      contrast: null,
    },
  });
  try {
    const generation = await engine.generate(
      s.image,
      { prompt: text, maxTokens: s.ask.maxTokens },
      {
        signal: controller.signal,
        // A lost GPU streams the answer again from the CPU, from index 0.
        onToken: (token) => updateRun(runSerial, (run) => ({ tokens: [...run.tokens.slice(0, token.index), token], firstTokenMs: run.firstTokenMs ?? performance.now() - startedAt })),
      },
    );
    // Stopped on WebGPU: the worker ended the answer itself; the page keeps what it showed.
    updateRun(runSerial, (run) => (controller.signal.aborted ? {} : { status: 'done', tokens: generation.tokens, generation, totalMs: performance.now() - startedAt }));
    if (generation.warnings?.length) notify(generation.warnings.join(' '), 'info', { key: 'ask-warnings' });
  } catch (error) {
    if (error.cancelled) updateRun(runSerial, () => ({ status: 'stopped' }));
    else {
      updateRun(runSerial, () => ({ status: 'error', error: error.message }));
      if (!error.interrupted) notify(`The model could not answer: ${error.message}`, 'error', { key: 'ask', anchor: 'question' });
    }
  } finally {
    if (current?.serial === runSerial) current = null;
  }
  selectFirstContentWord(runSerial);
}

function selectFirstContentWord(runSerial) {
  const { run, selection } = store.get().ask;
  if (run?.serial !== runSerial || selection || !run.tokens.length) return;
  const word = firstContentWord(answerWords(run.tokens));
  if (word) selectTokens(word.tokens);
}

/** Stops the answer being generated (the tokens so far stay, and can be explained). */
export function stopAsking() {
  if (!current) return false;
  const { serial: runSerial, controller } = current;
  current = null;
  controller.abort();
  updateRun(runSerial, () => ({ status: 'stopped' }));
  return true;
}

export const generating = (s = store.get()) => s.ask.run?.status === 'generating';

/** Explains these answer tokens together (a word: their maps summed); a contrast is dropped. */
export function selectTokens(tokens) {
  store.set((s) => ({ ask: { ...s.ask, selection: { tokens: [...tokens] }, contrast: null } }));
}

/**
 * "Why the selected token rather than this one": `{id, text}` (a candidate) or `{text}` (typed;
 * it must be one token of the vocabulary); null explains the token alone again. A contrast is of
 * one token: a selected word of several keeps its first.
 */
export function setContrast(contrast) {
  store.set((s) => ({ ask: { ...s.ask, contrast: contrast ?? null } }));
}

// An answer belongs to its image and model: another of either leaves it behind.
store.subscribe((s, p) => {
  if (!p || !s.ask.run) return;
  if (s.image?.key !== p.image?.key || s.model.serial !== p.model.serial) {
    stopAsking();
    store.set((st) => ({ ask: { ...st.ask, run: null, selection: null, contrast: null } }));
  }
});
