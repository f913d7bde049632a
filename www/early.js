// Starts the engine worker and the compilation of the engine's wasm as soon as the page starts,
// while the app's modules are still loading. The compiled module goes to the worker with `init`
// and, through wasm-module.js, to the page's own instance, so it is compiled once. client.js adopts
// this worker (with the messages it already sent) when the app creates its EngineClient.
(() => {
  try {
    const url = new URL('worker.js', document.currentScript.src).href;
    const wasmUrl = new URL('engine_bg.wasm', document.currentScript.src).href;
    const page = new URLSearchParams(location.search);
    const backend = page.get('backend') ?? 'auto';
    const testHooks = page.has('test-hooks');
    const module = WebAssembly.compileStreaming(fetch(wasmUrl));
    globalThis.__sightlineEngineModule = { url: wasmUrl, module };
    const worker = new Worker(url, { type: 'module', name: 'sightline-engine' });
    const early = { worker, url, backend, testHooks, messages: [], failed: null };
    early.onMessage = (event) => early.messages.push(event.data);
    early.onError = (event) => {
      event.preventDefault();
      early.failed = event.message || 'the engine worker could not start';
    };
    worker.addEventListener('message', early.onMessage);
    worker.addEventListener('error', early.onError);
    // Without a compiled module (e.g. a server that does not send application/wasm) the worker
    // compiles it, or reports why it cannot.
    module.then(
      (compiled) => worker.postMessage({ id: 0, type: 'init', backend, testHooks, module: compiled }),
      () => worker.postMessage({ id: 0, type: 'init', backend, testHooks }),
    );
    globalThis.__sightlineEarly = early;
  } catch {
    // The app starts its own worker.
  }
})();
