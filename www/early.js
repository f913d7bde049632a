// Starts the engine worker as soon as the page starts, while the app's modules are still loading,
// so the wasm downloads and compiles in parallel with them. client.js adopts this worker (with the
// messages it already sent) when the app creates its EngineClient.
(() => {
  try {
    const url = new URL('worker.js', document.currentScript.src).href;
    const worker = new Worker(url, { type: 'module', name: 'sightline-engine' });
    const backend = new URLSearchParams(location.search).get('backend') ?? 'auto';
    const early = { worker, url, backend, messages: [], failed: null };
    early.onMessage = (event) => early.messages.push(event.data);
    early.onError = (event) => {
      event.preventDefault();
      early.failed = event.message || 'the engine worker could not start';
    };
    worker.addEventListener('message', early.onMessage);
    worker.addEventListener('error', early.onError);
    worker.postMessage({ id: 0, type: 'init', backend });
    globalThis.__sightlineEarly = early;
  } catch {
    // The app starts its own worker.
  }
})();
