// Benchmark (not a test; run by hand after ./build.sh build and ./build.sh cli):
//
//   node tests/browser/bench-first-explanation.mjs [--runs 7]
//
// Time from navigation start to the first explanation of the app's first example on screen, with a
// cold cache (a fresh browser context per run, so nothing is cached: HTML, modules, wasm, model).
// The app's own first paint: the embedded default model explains the first bundled scene. Prints JSON.

import { cpus } from 'node:os';
import { appUrl, launchBrowser, prepareDist, startServer } from './helpers.mjs';

const TARGET_MS = 1500;
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 7;

prepareDist();
const [server, browser] = await Promise.all([startServer(), launchBrowser()]);
const samples = [];
try {
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    await page.goto(appUrl(server.origin), { waitUntil: 'commit' });
    await page.waitForFunction(() => document.documentElement.dataset.firstExplanation, null, { timeout: 60_000, polling: 10 });
    // On screen: the heatmap is drawn synchronously with the result; wait for the next frame too.
    const sample = await page.evaluate(
      () =>
        new Promise((resolve) =>
          requestAnimationFrame(() =>
            resolve({
              explained: Number(document.documentElement.dataset.firstExplanation),
              painted: performance.now(),
              timings: globalThis.sightlineTest.currentResult()?.explanation?.timings_ms ?? null,
              marks: Object.fromEntries(performance.getEntriesByType('mark').filter((m) => m.name.startsWith('sightline:')).map((m) => [m.name.slice(10), Math.round(m.startTime)])),
            }),
          ),
        ),
    );
    samples.push(sample);
    await context.close();
  }
} finally {
  await browser.close();
  await server.stop();
}

const painted = samples.map((s) => s.painted).sort((a, b) => a - b);
const median = painted[Math.floor(painted.length / 2)];
console.log(
  JSON.stringify(
    {
      benchmark: 'page load → first explanation on screen, cold cache',
      model: 'embedded default',
      runs,
      median_ms: Math.round(median),
      min_ms: Math.round(painted[0]),
      max_ms: Math.round(painted.at(-1)),
      target_ms: TARGET_MS,
      within_target: median < TARGET_MS,
      samples_ms: samples.map((s) => Math.round(s.painted)),
      engine_explain_ms: samples.map((s) => Math.round(s.timings?.total ?? NaN)),
      phases_ms_since_navigation: samples.map((s) => s.marks),
      cpus: cpus().length,
    },
    null,
    2,
  ),
);
