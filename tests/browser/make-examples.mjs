// Regenerates www/examples/scene-*.png and www/examples/examples.json with the built engine
// (dist/engine.js): the scenes are exactly what the wasm's generateScene(seed, 96, 2, 4) draws, so
// the page may show a listed scene from its file or draw it again and get the same bytes.
// Run after `./build.sh build`:  node tests/browser/make-examples.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const { default: init, generateScene } = await import(`${root}dist/engine.js`);
await init({ module_or_path: readFileSync(`${root}dist/engine_bg.wasm`) });

const SIZE = 96;
const SCENES = [32, 9, 16];
const PHOTOS = [
  { id: 'chelsea', file: 'chelsea.jpg', title: 'Chelsea the cat', labels: ['a photo of a cat', 'a photo of a dog', 'a cup of coffee', 'an astronaut', 'a red circle'] },
  { id: 'coffee', file: 'coffee.jpg', title: 'A cup of coffee', labels: ['a cup of coffee', 'a photo of a cat', 'a plate of food', 'an astronaut', 'a blue square'] },
  { id: 'astronaut', file: 'astronaut.jpg', title: 'Astronaut Eileen Collins', labels: ['an astronaut', 'a photo of a woman', 'a photo of a cat', 'a cup of coffee', 'a yellow triangle'] },
];

const scenes = SCENES.map((seed) => {
  const scene = generateScene(BigInt(seed), SIZE, 2, 4);
  const file = `scene-${seed}.png`;
  writeFileSync(`${root}www/examples/${file}`, scene.png());
  const meta = JSON.parse(scene.json());
  scene.free();
  return { id: `scene-${seed}`, file, seed, size: SIZE, title: meta.objects.map((o) => o.phrase.replace(/^an? /, '')).join(', '), captions: meta.captions, objects: meta.objects };
});
writeFileSync(`${root}www/examples/examples.json`, JSON.stringify({ scenes, photos: PHOTOS }, null, 2) + '\n');
console.log(scenes.map((s) => `${s.file}: ${s.title}`).join('\n'));
