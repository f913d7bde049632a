// State and actions of the "original vs quantized" view: which second model the loaded one is
// set beside (the worker holds it, see worker-reference.js), loading it, and explaining the current
// request with it once the loaded model's own explanation is there. The store's `precision` slice:
//   plan       { kind: 'quantize' | 'builtin' | 'choose', mainSize, formats } for model `planFor`
//   planError  why there is no plan for that model
//   format     the format picked for 'quantize'
//   reference  { status: 'loading' | 'ready' | 'error', serial, spec, info, size, quantized,
//                quantizeMs, loadMs, progress, error }
//   results    { [request key + reference serial]: { status, explanation, drift, error } }

import { methodOptions } from '../methods.js';
import { modelLabel, normalizeModelUrl } from '../models.js';
import { dismissAlertKey, notify } from './alerts.js';
import { activeMode } from './modes.js';
import { engine } from './engine.js';
import { currentResult, resultKey } from './explanations.js';
import { store } from './store.js';

const FRESH = { plan: null, planFor: null, planError: null, reference: null, results: {} };
const MAX_RESULTS = 40;
let referenceSerial = 0;
let planning = null;
let explaining = null;

store.define({ precision: { ...FRESH, format: 'q8_0' } });

/** Takes this view's error off the alert region once what failed has worked. */
function clearAlert() {
  dismissAlertKey('precision');
}

function setPrecision(patch) {
  store.set((s) => ({ precision: { ...s.precision, ...(typeof patch === 'function' ? patch(s.precision) : patch) } }));
}

export function setFormat(format) {
  setPrecision({ format });
}

/** The key of the reference's explanation of the current request. */
export function comparisonKey(s = store.get()) {
  const reference = s.precision.reference;
  const key = resultKey(s.method, s);
  return key && reference?.status === 'ready' ? `${key}\u0001${reference.serial}` : null;
}

/** The loaded model's and the reference's explanations of the current request, and their drift. */
export function currentComparison(s = store.get()) {
  const key = comparisonKey(s);
  const entry = key ? s.precision.results[key] : null;
  const main = currentResult(s);
  return { entry, main: main?.status === 'done' ? main.explanation : null, reference: s.precision.reference };
}

/** Loads the second model: `spec` is {kind: 'quantize'} (in the picked format), {kind: 'builtin'},
 * {kind: 'url', url} or {kind: 'files', files, name}. */
export async function loadReference(spec) {
  const s = store.get();
  if (s.model.status !== 'ready') return;
  if (spec.kind === 'quantize') spec = { kind: 'quantize', format: s.precision.format };
  if (spec.kind === 'url') {
    try {
      spec = { kind: 'url', url: normalizeModelUrl(spec.url) };
    } catch (error) {
      notify(error.message, 'error', { key: 'precision' });
      return;
    }
  }
  const serial = ++referenceSerial;
  const modelSerial = s.model.serial;
  const label = spec.kind === 'quantize' ? `${modelLabel(s.modelSource)} as ${spec.format}` : spec.kind === 'builtin' ? 'the built-in model' : modelLabel(spec);
  setPrecision({ reference: { status: 'loading', serial, spec: describe(spec), label, progress: null } });
  try {
    const loaded = await engine.loadReference(spec, {
      onProgress: (progress) => setPrecision((p) => (p.reference?.serial === serial ? { reference: { ...p.reference, progress } } : {})),
    });
    if (store.get().model.serial !== modelSerial) return;
    setPrecision((p) => (p.reference?.serial === serial ? { reference: { ...p.reference, ...loaded, status: 'ready', progress: null } } : {}));
    clearAlert();
  } catch (error) {
    if (error.interrupted) return;
    setPrecision((p) => (p.reference?.serial === serial ? { reference: { ...p.reference, status: 'error', error: error.message, progress: null } } : {}));
    notify(`The second model could not be loaded: ${error.message}`, 'error', { key: 'precision' });
  }
}

/** A spec without File objects, to keep in the store. */
function describe(spec) {
  return spec.kind === 'files' ? { kind: 'files', name: spec.name } : spec;
}

async function fetchPlan(s) {
  const serial = s.model.serial;
  planning = serial;
  try {
    const plan = await engine.referencePlan();
    if (store.get().model.serial === serial) setPrecision({ plan, planFor: serial });
  } catch (error) {
    if (error.interrupted) return;
    // Kept for this model, so that the next change of state does not ask again.
    if (store.get().model.serial === serial) setPrecision({ plan: null, planFor: serial, planError: error.message });
    notify(`The comparison is unavailable: ${error.message}`, 'error', { key: 'precision' });
  } finally {
    planning = null;
  }
}

async function explainWithReference(s, key, main) {
  explaining = key;
  const options = { ...activeMode(s).explainArguments(s), method: s.method, ...methodOptions(s.method, s.options) };
  const put = (entry) =>
    setPrecision((p) => {
      const results = { ...p.results, [key]: entry };
      const keys = Object.keys(results);
      for (const k of keys.slice(0, Math.max(0, keys.length - MAX_RESULTS))) if (k !== key) delete results[k];
      return { results };
    });
  put({ status: 'running', progress: null });
  try {
    const value = await engine.explainReference(s.image, options, main, {
      onProgress: ({ done, total }) => put({ status: 'running', progress: { done, total } }),
    });
    put({ status: 'done', ...value });
    clearAlert();
  } catch (error) {
    if (error.interrupted) return;
    put({ status: 'error', error: error.message });
    notify(`The second model could not explain this: ${error.message}`, 'error', { key: 'precision' });
  } finally {
    explaining = null;
    step(store.get());
  }
}

/** Starts whatever the visible view lacks: the plan for this model, then the reference's map. */
function step(s) {
  if (s.mode !== 'clip' || s.view.tab !== 'precision' || s.model.status !== 'ready') return;
  if (s.precision.planFor !== s.model.serial && planning !== s.model.serial) {
    fetchPlan(s);
    return;
  }
  const key = comparisonKey(s);
  if (!key || s.precision.results[key] || explaining) return;
  const main = currentResult(s);
  if (main?.status === 'done') explainWithReference(s, key, main.explanation);
}

store.subscribe((s, p) => {
  const modelChanged = s.model.serial !== p.model.serial;
  if (modelChanged || s.engine.restarts !== p.engine.restarts) {
    // A reference belongs to one loaded model, and a restarted worker holds none.
    if (modelChanged && p.precision.reference) engine.dropReference().catch(() => {});
    setPrecision({ ...FRESH });
    return;
  }
  if (s.view !== p.view || s.precision !== p.precision || s.results !== p.results || s.method !== p.method || s.model !== p.model) step(s);
});
