// The engine's compiled WebAssembly module, compiled once per page: every engine worker of the page
// and the page's own instance (local-engine.js) instantiate this one module instead of compiling
// the same bytes again. early.js starts the compilation with the page; without it, the first call
// here does.

const WASM_URL = new URL('./engine_bg.wasm', import.meta.url).href;
let compiled = null;

/** Compiles the module at `url`, streaming when the server sends it as application/wasm. */
export function compileEngine(url) {
  return WebAssembly.compileStreaming(fetch(url)).catch(() =>
    fetch(url)
      .then((response) => {
        if (!response.ok) throw new Error(`HTTP ${response.status} fetching ${url}`);
        return response.arrayBuffer();
      })
      .then((bytes) => WebAssembly.compile(bytes)),
  );
}

/** Resolves to the engine's WebAssembly.Module (rejects when this browser cannot compile it). */
export function engineModule() {
  if (!compiled) {
    const early = globalThis.__sightlineEngineModule;
    // early.js streams only; a server that does not send application/wasm needs the fallback.
    compiled = early?.url === WASM_URL ? early.module.catch(() => compileEngine(WASM_URL)) : compileEngine(WASM_URL);
    // A failure is reported by whoever instantiates; the next call tries again.
    compiled.catch(() => (compiled = null));
  }
  return compiled;
}
