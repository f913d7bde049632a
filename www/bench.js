// The in-browser benchmark page (bench.html): starts one engine worker per backend, explains a
// generated scene with each chosen method — once cold, then `runs` times warm — and tabulates the
// phases the engine reports in `timings_ms`. Settings come from the form or the page's URL
// (?methods=rollout,gradient&runs=5&steps=8&backends=webgpu,cpu&model=URL&autorun=1).

import { EngineClient } from './client.js';
import { localEngineReady } from './local-engine.js';
import { methods } from './methods.js';
import { modelLabel, normalizeModelUrl } from './models.js';

const DEFAULT_METHODS = ['rollout', 'chefer', 'gradient', 'integrated_gradients'];
const SCENE = { seed: 7, size: 224, minObjects: 2, maxObjects: 3 };
const TEXTS = ['a red circle', 'a blue square', 'a green triangle'];

/** Each reported column and the engine phases it sums; `other` is the rest of the total. */
const PHASES = {
  preprocess: ['preprocess'],
  upload: ['upload'],
  forward: ['text_forward', 'image_forward'],
  backward: ['backward'],
  method: ['method'],
  readback: ['readback'],
};

const $ = (id) => document.getElementById(id);

/** The reported columns of one explanation's `timings_ms`: they add up to its total. */
function columns(timings) {
  const out = { total: timings.total };
  let phased = 0;
  for (const [column, phases] of Object.entries(PHASES)) {
    const present = phases.filter((p) => p in timings);
    out[column] = present.length ? present.reduce((sum, p) => sum + timings[p], 0) : null;
    phased += out[column] ?? 0;
  }
  out.other = Math.max(0, timings.total - phased);
  return out;
}

/** The warm run with the median total (the lower middle one of an even count), phase by phase. */
function medianRun(runs) {
  const byTotal = [...runs].sort((a, b) => a.total - b.total);
  return columns(byTotal[(byTotal.length - 1) >> 1]);
}

function readSettings() {
  const methods = [...document.querySelectorAll('#bench-methods input:checked')].map((box) => box.value);
  if (methods.length === 0) throw new Error('Choose at least one method.');
  const runs = Number($('bench-runs').value);
  const steps = Number($('bench-steps').value);
  if (!(Number.isInteger(runs) && runs >= 1 && runs <= 50)) throw new Error('Warm runs must be a whole number from 1 to 50.');
  if (!(Number.isInteger(steps) && steps >= 1 && steps <= 256)) throw new Error('Steps must be a whole number from 1 to 256.');
  const typed = $('bench-model').value.trim();
  const model = typed ? normalizeModelUrl(typed) : null;
  return { methods, runs, steps, backends: $('bench-backends').value.split(','), model };
}

function applyUrlSettings(params) {
  const methods = params.get('methods')?.split(',') ?? DEFAULT_METHODS;
  for (const box of document.querySelectorAll('#bench-methods input')) box.checked = methods.includes(box.value);
  if (params.has('runs')) $('bench-runs').value = params.get('runs');
  if (params.has('steps')) $('bench-steps').value = params.get('steps');
  if (params.has('backends')) $('bench-backends').value = params.get('backends');
  if (params.has('model')) $('bench-model').value = params.get('model');
}

function status(text) {
  $('bench-status').textContent = text;
}

/** Everything measured on one backend: engine start, then each method cold and warm. */
async function benchBackend(backend, settings) {
  const started = performance.now();
  const client = new EngineClient({ backend });
  try {
    const { defaultModel, info: initInfo } = await client.init();
    let info = initInfo;
    const start = { asked: backend, readyMs: performance.now() - started, loadMs: null };
    if (settings.model) {
      status(`${backend}: loading ${settings.model}…`);
      const loading = performance.now();
      info = await client.load({ kind: 'url', url: settings.model });
      start.loadMs = performance.now() - loading;
    } else if (!defaultModel.available) {
      throw new Error(`the built-in model is unavailable: ${defaultModel.message}`);
    }
    Object.assign(start, { ranOn: info.backend, attachMs: info.attachMs, adapter: info.adapter, notice: info.backendNotice, model: modelLabel(settings.model ? { kind: 'url', url: settings.model } : { kind: 'default' }) });
    const { png } = await client.scene(SCENE.seed, SCENE.size, SCENE.minObjects, SCENE.maxObjects);
    const image = { key: 'bench-scene', bytes: new Uint8Array(png) };
    const explanations = [];
    for (const method of settings.methods) {
      const options = { texts: TEXTS, target: 0, method, steps: settings.steps };
      status(`${backend}: ${method}, first run…`);
      const first = await client.explain(image, options);
      const warm = [];
      for (let run = 1; run <= settings.runs; run += 1) {
        status(`${backend}: ${method}, warm run ${run} of ${settings.runs}…`);
        warm.push((await client.explain(image, options)).timings_ms);
      }
      explanations.push({ ranOn: first.backend, method, first: first.timings_ms, warm, median: medianRun(warm) });
    }
    return { start, explanations };
  } finally {
    client.terminate();
  }
}

const ms = (value) => (value == null ? '–' : `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`);

function cell(row, text, header = false) {
  const element = document.createElement(header ? 'th' : 'td');
  if (header) element.scope = 'row';
  element.textContent = text;
  row.append(element);
}

function render(results, settings) {
  const startBody = $('bench-start').tBodies[0];
  const explainBody = $('bench-explain').tBodies[0];
  startBody.replaceChildren();
  explainBody.replaceChildren();
  for (const { start, explanations } of results) {
    const row = startBody.insertRow();
    cell(row, start.asked, true);
    cell(row, start.adapter ? `${start.ranOn} (${start.adapter})` : start.ranOn);
    cell(row, ms(start.readyMs));
    cell(row, ms(start.attachMs));
    cell(row, ms(start.loadMs));
    for (const e of explanations) {
      const line = explainBody.insertRow();
      cell(line, e.ranOn, true);
      cell(line, e.method);
      cell(line, ms(e.first.total));
      for (const column of ['total', ...Object.keys(PHASES), 'other']) cell(line, ms(e.median[column]));
    }
  }
  const notices = results.map((r) => r.start.notice).filter(Boolean);
  $('bench-summary').textContent = [
    `${results[0]?.start.model ?? 'model'} · ${settings.runs} warm runs per method · ${settings.steps} steps · ${SCENE.size}² scene.`,
    ...notices,
  ].join(' ');
  $('bench-json').textContent = JSON.stringify({ userAgent: navigator.userAgent, settings, results }, null, 2);
  $('bench-results').hidden = false;
}

async function run(event) {
  event?.preventDefault();
  const button = $('bench-run');
  let settings;
  try {
    settings = readSettings();
  } catch (error) {
    status(error.message);
    return;
  }
  button.disabled = true;
  document.body.dataset.state = 'running';
  const results = [];
  try {
    for (const backend of settings.backends) {
      if (backend === 'webgpu' && !navigator.gpu) {
        status('This browser has no WebGPU; measuring the CPU only.');
        continue;
      }
      results.push(await benchBackend(backend, settings));
      render(results, settings);
    }
    status(results.length ? 'Done.' : 'Nothing was measured.');
    document.body.dataset.state = 'done';
  } catch (error) {
    status(`The benchmark stopped: ${error.message}`);
    document.body.dataset.state = 'failed';
  } finally {
    button.disabled = false;
  }
}

function buildMethodChoices() {
  const container = $('bench-methods');
  for (const method of methods()) {
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.value = method.id;
    label.append(box, ` ${method.label}`);
    container.append(label);
  }
}

const params = new URLSearchParams(location.search);
$('bench-form').addEventListener('submit', run);
$('bench-copy').addEventListener('click', () => navigator.clipboard?.writeText($('bench-json').textContent));
// The methods are the engine's own list.
localEngineReady.then(
  () => {
    buildMethodChoices();
    applyUrlSettings(params);
    if (params.get('autorun') === '1') run();
  },
  (error) => status(`The engine could not start: ${error.message}`),
);
