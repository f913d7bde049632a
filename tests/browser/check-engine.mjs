// A smoke test of the built engine outside the browser (not a test of the suite):
//
//   node tests/browser/check-engine.mjs [dist]
//
// Instantiates dist/engine_bg.wasm through dist/engine.js in node and draws a scene and a colormap.
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
  const table = engine.colormapTable('inferno');
  if (png[1] !== 0x50 || table.length !== 768) throw new Error('unexpected output');
  console.log(`engine ok: ${dist}/engine_bg.wasm`);
} catch (error) {
  console.error(`engine broken: ${dist}/engine_bg.wasm: ${error.message}`);
  process.exit(1);
}
