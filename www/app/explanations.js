// The `results` and `compare` slices: explanations cached by what determines them (mode, image,
// question, model, method and the options the method reads), and the scheduler that runs them one
// at a time in the worker — the current method first, then, for the comparison grid, every other
// method (at once when the first took under AUTO_COMPARE_MS, else when asked).

import { methodById, methodIds, methodOptions } from '../methods.js';
import { dismissAlertKey, notify } from './alerts.js';
import { engine, onEngineRestart } from './engine.js';
import { modelKey } from './model.js';
import { activeMode } from './modes.js';
import { store } from './store.js';

const MAX_RESULTS = 80;
/** Below this total time per explanation, every method is run for the comparison grid at once. */
const AUTO_COMPARE_MS = 400;

store.define({ results: {}, compare: { requested: null, auto: false } });

/** The run in the worker now ({key, method, controller}), so that only the newest run may clear it. */
let running = null;

/** Everything but the method that determines an explanation; null without an image or question. */
export function inputKey(s = store.get()) {
  const mode = activeMode(s);
  if (!s.image || !mode.ready(s)) return null;
  return [mode.id, s.image.key, mode.questionKey(s), modelKey(s)].join('\u0001');
}

export function resultKey(method, s = store.get()) {
  const key = inputKey(s);
  if (!key) return null;
  return `${key}\u0001${method}\u0001${JSON.stringify(methodOptions(method, s.options))}`;
}

export function currentResult(s = store.get()) {
  const key = resultKey(s.method, s);
  return key ? s.results[key] : undefined;
}

/** The current input's scores (logits, probabilities) from any method that has explained it. */
export function currentScores(s = store.get()) {
  const key = inputKey(s);
  if (!key) return null;
  const own = currentResult(s);
  if (own?.explanation) return own.explanation;
  for (const [k, r] of Object.entries(s.results)) if (k.startsWith(key + '\u0001') && r.explanation) return r.explanation;
  return null;
}

/** Any explanation of the current image (whatever the question, model or method), or null. */
export function explanationOfImage(s = store.get()) {
  for (const r of Object.values(s.results)) if (r.explanation && r.imageKey === s.image?.key) return r.explanation;
  return null;
}

/** Whether an explanation is running in the worker (other requests then wait their turn). */
export function explaining(s = store.get()) {
  return Object.values(s.results).some((r) => r.status === 'running');
}

/** Runs the current method again (also when its result is cached, e.g. after an error). */
export function explainNow() {
  const key = resultKey(store.get().method);
  if (!key) return;
  store.set((s) => {
    const results = { ...s.results };
    delete results[key];
    return { results };
  });
}

/** Fills the comparison grid: every method on the current input and options. */
export function compareAll() {
  store.set((s) => ({ compare: { ...s.compare, requested: comparisonKey(s) } }));
}

function comparisonKey(s) {
  return `${inputKey(s)}\u0001${JSON.stringify(s.options)}`;
}

/** Whether the comparison grid is filled for the current input without being asked. */
export function comparing(s = store.get()) {
  return s.compare.auto || s.compare.requested === comparisonKey(s);
}

function wantedKeys(s) {
  if (s.model.status !== 'ready' || !s.image || s.imageStatus === 'loading' || !s.options) return [];
  const keys = [[s.method, resultKey(s.method, s)]];
  if (comparing(s)) for (const method of methodIds()) if (method !== s.method) keys.push([method, resultKey(method, s)]);
  return keys;
}

function runNext() {
  if (running) return;
  const s = store.get();
  const next = wantedKeys(s).find(([, key]) => key && !s.results[key]);
  if (!next) return;
  const [method, key] = next;
  const run = { key, method, controller: new AbortController() };
  running = run;
  putResult(key, { status: 'running', method, progress: null });
  const startedAt = performance.now();
  activeMode(s)
    .explain(engine, s, method, methodOptions(method, s.options), {
      signal: run.controller.signal,
      onProgress: ({ done, total }) => !run.controller.signal.aborted && putResult(key, { status: 'running', method, progress: { done, total } }),
    })
    .then(
      (explanation) => {
        if (run.controller.signal.aborted) return;
        putResult(key, { status: 'done', method, explanation, imageKey: s.image.key, wallMs: performance.now() - startedAt });
        const total = explanation.timings_ms?.total ?? Infinity;
        if (method === s.method && !store.get().compare.auto && total < AUTO_COMPARE_MS && !methodById(method).batched) {
          store.set((st) => ({ compare: { ...st.compare, auto: true } }));
        }
        if (!document.documentElement.dataset.firstExplanation) {
          performance.mark('sightline:first-explanation');
          document.documentElement.dataset.firstExplanation = String(Math.round(performance.now()));
        }
      },
      (error) => {
        // Cut short by another request's crash: the restart runs it again. Stopped: it stays so.
        if (error.interrupted || run.controller.signal.aborted) return;
        putResult(key, { status: 'error', method, error: error.message });
        if (method === store.get().method) notify(`${methodById(method)?.label ?? method}: ${error.message}`, 'error', { key: 'explain' });
      },
    )
    .finally(() => {
      if (running === run) running = null;
      schedule();
    });
}

/** Stops the explanation running now (Stop); it stays stopped until asked for again (explainNow). */
export function stopExplaining() {
  if (!running) return false;
  const { key, method, controller } = running;
  controller.abort();
  putResult(key, { status: 'stopped', method });
  return true;
}

function putResult(key, entry) {
  store.set((s) => {
    const results = { ...s.results, [key]: entry };
    const keys = Object.keys(results);
    if (keys.length > MAX_RESULTS) {
      for (const k of keys.slice(0, keys.length - MAX_RESULTS)) if (k !== key && results[k].status !== 'running') delete results[k];
    }
    return { results };
  });
  if (entry.status === 'done' && key === resultKey(store.get().method)) dismissAlertKey('explain');
}

let scheduled = false;

function schedule() {
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => {
    scheduled = false;
    runNext();
  });
}

// Any change may need an explanation (a new image, text, method, model, ...); finding out is cheap.
store.subscribe(schedule);

onEngineRestart((_, reloaded) => {
  // Whatever was running is lost: forget running entries so they run again (a stopped one stays
  // stopped).
  running = null;
  store.set((s) => ({ results: Object.fromEntries(Object.entries(s.results).filter(([, r]) => r.status === 'done' || r.status === 'stopped')) }));
  reloaded.then(schedule, () => {});
});
