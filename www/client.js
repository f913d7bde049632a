// A small promise-based client for the engine worker (worker.js).
//
//   const engine = new EngineClient();
//   const { defaultModel, info } = await engine.init();
//   await engine.load({ kind: 'url', url }, { onProgress });
//   const explanation = await engine.explain(image, { texts, target, method, steps }, { onProgress });
//
// `image` is `{ key, bytes }`: the bytes cross over to the worker once per key. Every request
// answers with a promise; progress events go to `onProgress`. When the engine traps (a wasm
// RuntimeError) or the worker dies, the request that trapped is rejected with the error, the
// other pending ones with an `interrupted` error (they did nothing wrong and may be sent again),
// the worker is replaced, the model that was loaded is loaded again, and `onRestart(error)` is called.
// Every worker of the page instantiates one compiled module (wasm-module.js), sent with `init`.
//
// A request given an AbortSignal stops when it is aborted: the caller hears nothing more of it, the
// worker is asked to stop it (a generation on WebGPU stops after its current token and resolves
// with the answer so far), and when it has not ended CANCEL_GRACE_MS later — the worker is busy in
// the engine (a CPU generation or any explanation) — the worker is replaced as after a crash
// (`onRestart(error, reloaded, { requested: true })`), and the request rejects as `cancelled`.

import { engineModule } from './wasm-module.js';

const DEFAULT_WORKER_URL = new URL('./worker.js', import.meta.url);
/** How long a cancelled request may take to end by itself before its worker is replaced: a
 * WebGPU generation stops after its current token, which on a software adapter (SwiftShader) under
 * load takes several hundred milliseconds; the page shows the answer stopped at once either way. */
const CANCEL_GRACE_MS = 1000;

export class EngineError extends Error {
  constructor(message, { fatal = false, interrupted = false, cancelled = false, name = 'EngineError' } = {}) {
    super(message);
    this.name = name === 'Error' ? 'EngineError' : name;
    this.fatal = fatal;
    this.interrupted = interrupted;
    this.cancelled = cancelled;
  }
}

export class EngineClient {
  constructor({ workerUrl = DEFAULT_WORKER_URL, onRestart = null, backend = null } = {}) {
    this.workerUrl = workerUrl;
    const page = new URLSearchParams(globalThis.location?.search ?? '');
    // 'auto' | 'webgpu' | 'cpu'; by default the page's `?backend=`, else 'auto'.
    this.backend = backend ?? page.get('backend') ?? 'auto';
    // The worker accepts its test requests only when the page was opened with `?test-hooks`.
    this.testHooks = page.has('test-hooks');
    this.onRestart = onRestart;
    this.nextId = 1;
    this.pending = new Map();
    this.source = null; // the model the worker should hold
    this.worker = null;
    this.knownImages = new Set();
    this.initialized = null;
    this.restarts = 0;
    this.start();
  }

  start() {
    const early = globalThis.__sightlineEarly;
    if (early && early.url === new URL(this.workerUrl).href && early.backend === this.backend && early.testHooks === this.testHooks) {
      // The worker that early.js started (its request 0 is `init`).
      globalThis.__sightlineEarly = null;
      this.worker = early.worker;
      this.worker.removeEventListener('message', early.onMessage);
      this.worker.removeEventListener('error', early.onError);
    } else {
      this.worker = new Worker(this.workerUrl, { type: 'module', name: 'sightline-engine' });
    }
    this.knownImages = new Set();
    this.worker.addEventListener('message', (event) => this.receive(event.data));
    this.worker.addEventListener('error', (event) => {
      event.preventDefault();
      const where = event.filename ? ` (${event.filename.split('/').pop()}:${event.lineno})` : '';
      this.crashed(new EngineError(`The engine worker failed: ${event.message || 'it could not start'}${where}`, { fatal: true }));
    });
    this.worker.addEventListener('messageerror', () => {
      this.crashed(new EngineError('The engine sent a message that could not be read.', { fatal: true }));
    });
    if (this.worker === early?.worker) {
      this.initialized = new Promise((resolve, reject) => this.pending.set(0, { resolve, reject }));
      for (const message of early.messages) this.receive(message);
      if (early.failed) queueMicrotask(() => this.crashed(new EngineError(`The engine worker failed: ${early.failed}`, { fatal: true })));
    } else {
      const init = (module) => this.request('init', { backend: this.backend, testHooks: this.testHooks, ...(module ? { module } : {}) });
      // Without a compiled module (it failed here) the worker compiles and reports the failure.
      this.initialized = engineModule().then(init, () => init(null));
    }
    // A failed init is reported by whoever awaits it.
    this.initialized.catch(() => {});
    this.ready = this.initialized;
  }

  receive(message) {
    const entry = this.pending.get(message.id);
    if (!entry) return;
    if (message.type === 'progress') {
      entry.onProgress?.(message);
      return;
    }
    this.pending.delete(message.id);
    if (message.type === 'result') {
      entry.resolve(message.value);
    } else {
      const error = new EngineError(message.message, { fatal: message.fatal, name: message.name, cancelled: Boolean(message.cancelled || entry.cancelling) });
      entry.reject(error);
      if (message.fatal) this.crashed(error);
    }
  }

  /** Rejects everything pending, replaces the worker and reloads the model it held. */
  crashed(error) {
    this.replaceWorker(error, { requested: false });
  }

  /**
   * Terminates the worker and starts another that loads the model again: pending requests are
   * rejected (`cancelling` ones as cancelled, the others as interrupted), then
   * `onRestart(error, reloaded, { requested })`.
   */
  replaceWorker(error, { requested }) {
    if (this.restarting) return;
    this.restarting = true;
    this.worker.terminate();
    const interrupted = new EngineError(`interrupted: the engine restarted (${error.message})`, { fatal: true, interrupted: true });
    for (const entry of this.pending.values()) entry.reject(entry.cancelling ? new EngineError('stopped', { cancelled: true }) : interrupted);
    this.pending.clear();
    this.restarts += 1;
    this.start();
    const source = this.source;
    this.ready = source ? this.initialized.then(() => this.request('load', { source })) : this.initialized;
    this.ready.catch(() => {});
    this.restarting = false;
    this.onRestart?.(error, this.ready, { requested });
  }

  request(type, args = {}, { onProgress, transfer = [], signal } = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject, onProgress };
      this.pending.set(id, entry);
      if (signal?.aborted) {
        this.pending.delete(id);
        reject(new EngineError('stopped', { cancelled: true }));
        return;
      }
      signal?.addEventListener('abort', () => this.cancel(id), { once: true });
      try {
        this.worker.postMessage({ id, type, ...args }, transfer);
      } catch (error) {
        this.pending.delete(id);
        reject(new EngineError(`Could not send "${type}" to the engine: ${error.message}`));
      }
    });
  }

  /** Stops request `id` (see the top of this file). */
  cancel(id) {
    const entry = this.pending.get(id);
    if (!entry || entry.cancelling) return;
    entry.cancelling = true;
    entry.onProgress = null;
    this.request('cancel', { target: id }).catch(() => {});
    const worker = this.worker;
    setTimeout(() => {
      if (this.pending.get(id) === entry && this.worker === worker) this.replaceWorker(new EngineError('a request was stopped'), { requested: true });
    }, CANCEL_GRACE_MS);
  }

  imageArg(image) {
    if (!image?.key) throw new EngineError('no image given');
    if (this.knownImages.has(image.key)) return { key: image.key };
    this.knownImages.add(image.key);
    // A copy: the caller keeps its bytes (for the next worker after a restart, for exports).
    return { key: image.key, bytes: image.bytes.slice().buffer };
  }

  /** Instantiates the wasm; resolves to `{ defaultModel: {available, message}, info }`. */
  init() {
    return this.initialized;
  }

  /** Loads a model (see models.js for sources); resolves to its info. */
  async load(source, { onProgress } = {}) {
    await this.initialized;
    const loading = this.request('load', { source }, { onProgress });
    this.ready = loading;
    const info = await loading;
    this.source = source;
    return info;
  }

  async explain(image, options, { onProgress, signal } = {}) {
    await this.settled();
    return this.withImage(image, (arg) => this.request('explain', { image: arg, options }, { onProgress, signal }));
  }

  /**
   * A generative model's answer to `options.prompt` (or its explanation of `options.answer`):
   * resolves to the `sightline generate` JSON. `onToken(token)` hears each token as it streams
   * (again from index 0 if a lost GPU hands the request to the CPU); `onProgress` the explanation's
   * batches; `signal` stops it.
   */
  async generate(image, options, { onToken, onProgress, signal } = {}) {
    await this.settled();
    const progress = (message) => (message.phase === 'token' ? onToken?.(message.token) : onProgress?.(message));
    return this.withImage(image, (arg) => this.request('generate', { image: arg, options }, { onProgress: progress, signal }));
  }

  async tokenize(text) {
    await this.settled();
    return this.request('tokenize', { text });
  }

  /** Every vision layer's attention probabilities, flattened (layers, heads, T, T). */
  async attention(image) {
    await this.settled();
    const { data } = await this.withImage(image, (arg) => this.request('attention', { image: arg }));
    return data;
  }

  /**
   * The CLI's overlay (legend, title) as PNG bytes. `options`: colormap (null for the CLI's
   * choice), opacity, pixelMap, minWidth (enlarged to at least this), pixelated, title.
   */
  async overlay(image, explanation, options) {
    await this.settled();
    return this.withImage(image, (arg) => this.request('overlay', { image: arg, explanation, options }));
  }

  async faithfulness(image, patchScores, texts, target) {
    await this.settled();
    return this.withImage(image, (arg) => this.request('faithfulness', { image: arg, patchScores: Array.from(patchScores), texts, target }));
  }

  /** The image's pixels as the engine explains them (upright, 8 bits, over white): `{ width, height, rgba }`. */
  async decode(image) {
    await this.initialized;
    return this.withImage(image, (arg) => this.request('decode', { image: arg }));
  }

  async scene(seed, size = 96, minObjects = 2, maxObjects = 4) {
    await this.initialized;
    return this.request('scene', { seed, size, minObjects, maxObjects });
  }

  /** What the precision comparison offers for the loaded model (worker-reference.js). */
  async referencePlan() {
    await this.settled();
    return this.request('referencePlan');
  }

  /** Loads the second model of the precision comparison; it is not reloaded after a restart. */
  async loadReference(spec, { onProgress } = {}) {
    await this.settled();
    return this.request('loadReference', { spec }, { onProgress });
  }

  /** The reference's explanation of the same request as `explanation`, and how far it moved. */
  async explainReference(image, options, explanation, { onProgress } = {}) {
    await this.settled();
    return this.withImage(image, (arg) => this.request('explainReference', { image: arg, options, explanation }, { onProgress }));
  }

  dropReference() {
    return this.request('dropReference');
  }

  forget(key) {
    if (!this.knownImages.delete(key)) return Promise.resolve(false);
    return this.request('forget', { key });
  }

  clearCache() {
    return this.request('clearCache');
  }

  /** Waits for the worker, and after a restart for the model to be back (or to have failed). */
  async settled() {
    await this.initialized;
    await this.ready.catch(() => {});
  }

  async withImage(image, send) {
    try {
      return await send(this.imageArg(image));
    } catch (error) {
      // The worker may have dropped the image (its cache is small): send the bytes again.
      if (/has no image/.test(error.message)) {
        this.knownImages.delete(image.key);
        return send(this.imageArg(image));
      }
      throw error;
    }
  }

  terminate() {
    this.worker.terminate();
    for (const entry of this.pending.values()) entry.reject(new EngineError('the engine was stopped'));
    this.pending.clear();
  }
}
