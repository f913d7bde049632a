// A smoke test of the built engine outside the browser (not a test of the suite):
//
//   node tests/browser/check-engine.mjs [dist]
//
// Instantiates dist/engine_bg.wasm through dist/engine.js in node, draws a scene, reads the engine's
// facts and paints a heat layer.
// Exits 1 when the module cannot be instantiated: e.g. an old wasm-opt (binaryen 108) breaks the
// externref table that wasm-bindgen 0.2.130 emits, and the page then cannot start its engine.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const dist = resolve(process.argv[2] ?? 'dist');
try {
  const engine = await import(pathToFileURL(resolve(dist, 'engine.js')).href);
  await engine.default({ module_or_path: readFileSync(resolve(dist, 'engine_bg.wasm')) });
  const scene = engine.generateScene(1n, 64, 1, 2);
  const png = scene.png();
  scene.free();
  const facts = JSON.parse(engine.engineFacts());
  const layer = engine.heatLayer(new Float32Array([0, 1, 2, 3]), 2, 2, 4, 4, undefined);
  if (png[1] !== 0x50 || !facts.methods.length || layer.length !== 4 * 4 * 4) throw new Error('unexpected output');
  console.log(`engine ok: ${dist}/engine_bg.wasm`);
} catch (error) {
  console.error(`engine broken: ${dist}/engine_bg.wasm: ${error.message}`);
  process.exit(1);
}
