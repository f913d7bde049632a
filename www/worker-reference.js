// The second model of the "original vs quantized" view, held by the worker beside the loaded
// one: the loaded model quantized here (the same code as `sightline quantize`), or the
// full-precision original of a loaded GGUF file. Both explain the same request, and the engine
// measures how far the map moved (eval::explanation_drift, the numbers of `sightline drift`).

import { Engine, defaultModelSize, explanationDrift, quantizeDefaultModel, quantizeModel } from './engine.js';
import { isGgufUrl } from './models.js';

export const QUANT_FORMATS = ['q8_0', 'q4_0', 'q4_k'];

/** Whether the loaded model came as one GGUF file (quantized), rather than full-precision files. */
function isGgufSource(source) {
  return source?.kind === 'url' && isGgufUrl(source.url);
}

/**
 * What the view offers for the loaded model `main` ({engine, source, size}):
 *   'quantize'  a full-precision model: quantize it here, in a format the person picks
 *   'builtin'   a GGUF file of the embedded model's config: the embedded weights are its original
 *   'choose'    another GGUF file: the person points at its full-precision original
 */
export function referencePlan(main) {
  if (!main.engine) throw new Error('No model is loaded yet.');
  const kind = !isGgufSource(main.source) ? 'quantize' : main.engine.hasDefaultConfig() ? 'builtin' : 'choose';
  return { kind, mainSize: main.size, formats: QUANT_FORMATS };
}

export class ReferenceModel {
  /** `loaders`: the worker's own ways to read model files ({fetchModel, fetchGguf, readPicked}). */
  constructor(loaders) {
    this.loaders = loaders;
    this.engine = null;
  }

  drop() {
    this.engine?.free();
    this.engine = null;
  }

  /**
   * Loads the reference that `spec` names ({kind: 'quantize', format} | {kind: 'builtin'} |
   * {kind: 'url', url} | {kind: 'files', files, name}) for the loaded model `main`. Resolves to
   * {info, size, quantized, quantizeMs, loadMs} (the times of quantizing and of loading the
   * quantized file, null for an original).
   */
  async load(spec, main, progress) {
    // Two references never live at once: the loaded model and one other is the memory we allow.
    this.drop();
    if (!main.engine) throw new Error('No model is loaded yet.');
    let engine;
    let size;
    let quantizeMs = null;
    let loadMs = null;
    if (spec.kind === 'quantize') {
      if (isGgufSource(main.source)) throw new Error('The loaded model is already quantized: compare it with its full-precision original instead.');
      const started = performance.now();
      const bytes = await this.quantize(main, spec.format, progress);
      quantizeMs = performance.now() - started;
      progress({ phase: 'load' });
      const loading = performance.now();
      // An empty name: the GGUF file's own (the loaded model's) is used.
      engine = Engine.fromGguf('', bytes);
      loadMs = performance.now() - loading;
      size = bytes.length;
    } else {
      if (!isGgufSource(main.source)) throw new Error('The loaded model is already full precision: pick a format to quantize it to.');
      ({ engine, size } = await this.loadOriginal(spec, progress));
    }
    try {
      checkSameModel(JSON.parse(main.engine.info()), JSON.parse(engine.info()));
    } catch (error) {
      engine.free();
      throw error;
    }
    this.engine = engine;
    return { info: JSON.parse(engine.info()), size, quantized: spec.kind === 'quantize', quantizeMs, loadMs };
  }

  /** The loaded full-precision model's files, quantized: the bytes of a GGUF file. */
  async quantize(main, format, progress) {
    const { source } = main;
    if (source.kind === 'default') {
      progress({ phase: 'quantize', format });
      return quantizeDefaultModel(format);
    }
    // The files are read again (from the browser's cache for an address): the engine keeps only
    // the model built from them.
    const files = source.kind === 'url' ? await this.loaders.fetchModel(source.url, progress) : await this.loaders.readPicked(source.files);
    progress({ phase: 'quantize', format });
    const name = JSON.parse(main.engine.info()).model.name;
    return quantizeModel(name, files.config, files.weights, files.tokenizer, files.preprocessor, format);
  }

  /** The full-precision original of a loaded GGUF file. */
  async loadOriginal(spec, progress) {
    if (spec.kind === 'builtin') return { engine: Engine.withDefaultModel(), size: defaultModelSize() };
    if (spec.kind === 'url' && isGgufUrl(spec.url)) {
      const bytes = await this.loaders.fetchGguf(spec.url, progress);
      progress({ phase: 'load' });
      return { engine: Engine.fromGguf(spec.url, bytes), size: bytes.length };
    }
    let files;
    let name;
    if (spec.kind === 'url') {
      files = await this.loaders.fetchModel(spec.url, progress);
      name = spec.url;
    } else if (spec.kind === 'files') {
      files = await this.loaders.readPicked(spec.files);
      name = spec.name || spec.files.weights.name;
    } else {
      throw new Error(`unknown reference "${spec.kind}"`);
    }
    progress({ phase: 'load' });
    const engine = Engine.fromFiles(name, files.config, files.weights, files.tokenizer, files.preprocessor);
    return { engine, size: filesSize(files) };
  }

  /** Explains `options` on `bytes` with the reference and compares with `mainExplanation`. */
  explain(bytes, options, mainExplanation, progress) {
    if (!this.engine) throw new Error('There is no second model to compare with: load one first.');
    const json = this.engine.explain(bytes, options, progress);
    const drift = JSON.parse(explanationDrift(JSON.stringify(mainExplanation), json));
    return { explanation: JSON.parse(json), drift };
  }
}

/** Bytes of a model's files as fetchModel and readPicked return them. */
export function filesSize(files) {
  const text = (s) => (s ? new TextEncoder().encode(s).length : 0);
  return text(files.config) + files.weights.length + files.tokenizer.length + text(files.preprocessor);
}

/** Two versions of one model see the same input through the same towers. */
function checkSameModel(main, other) {
  const shape = (info) => `${info.imageSize} px in ${info.patchGrid[0]}×${info.patchGrid[1]} patches, ${info.visionLayers} vision layers of ${info.visionHeads} heads`;
  if (shape(main) !== shape(other)) {
    throw new Error(`${other.model.name} is not a version of the loaded model: it sees ${shape(other)}, the loaded model ${shape(main)}.`);
  }
}
