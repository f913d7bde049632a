// The WebGPU backend in the browser (Chromium's WebGPU on its software adapter, SwiftShader, here):
// `webgpu` uses it, `auto` keeps the faster wasm CPU path on a software adapter, every method
// equals the CPU backend within the parity contract (2e-3 of the largest magnitude), and a device
// lost under an explanation gives the CPU's result with a visible warning.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, METHODS, newPage, openAppWithModel, prepareDist, relativeError, startServer, waitForExplanation } from './helpers.mjs';

const TOLERANCE = 2e-3;

let server;
let browser;
let gpuPage;
let cpuPage;

before(async () => {
  prepareDist();
  [server, browser] = await Promise.all([startServer(), launchBrowser({ webgpu: true })]);
  gpuPage = (await newPage(browser)).page;
  cpuPage = (await newPage(browser)).page;
  await Promise.all([openAppWithModel(gpuPage, server.origin, '?backend=webgpu'), openAppWithModel(cpuPage, server.origin, '?backend=auto')]);
  await Promise.all([waitForExplanation(gpuPage), waitForExplanation(cpuPage)]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** One explanation through the page's engine client, on the page's current image. */
function explain(page, method) {
  return page.evaluate(async (method) => {
    const { engine, store } = globalThis.sightlineTest;
    const s = store.get();
    return engine.explain(s.image, { texts: s.clip.texts, target: s.clip.target, method, steps: 8 });
  }, method);
}

test('webgpu uses the adapter, auto keeps the CPU on a software one, and the page says which backend ran', async () => {
  const gpuInfo = await gpuPage.evaluate(() => globalThis.sightlineTest.store.get().model.info);
  assert.equal(gpuInfo.backend, 'webgpu');
  assert.match(gpuInfo.adapter, /swiftshader.*\(software\)/i);
  assert.equal(gpuInfo.backendNotice, null);
  const autoInfo = await cpuPage.evaluate(() => globalThis.sightlineTest.store.get().model.info);
  assert.equal(autoInfo.backend, 'cpu');
  assert.equal(autoInfo.backendNotice, null, 'auto chooses the CPU quietly');
  const shown = await gpuPage.evaluate(() => globalThis.sightlineTest.currentResult().explanation.backend);
  assert.equal(shown, 'webgpu');
});

test('every method on WebGPU equals the CPU backend', async () => {
  for (const method of METHODS) {
    const [gpu, cpu] = await Promise.all([explain(gpuPage, method), explain(cpuPage, method)]);
    assert.equal(gpu.backend, 'webgpu', method);
    assert.equal(cpu.backend, 'cpu', method);
    assert.ok(relativeError(gpu.logits, cpu.logits) <= TOLERANCE, `${method} logits`);
    const error = relativeError(gpu.patch_scores, cpu.patch_scores);
    assert.ok(error <= TOLERANCE, `${method} patch scores differ by ${error} of the largest`);
    if (cpu.pixel_scores) assert.ok(relativeError(gpu.pixel_scores, cpu.pixel_scores) <= TOLERANCE, `${method} pixel scores`);
    if (cpu.text_scores) assert.ok(relativeError(gpu.text_scores, cpu.text_scores) <= TOLERANCE, `${method} text scores`);
  }
});

test('a lost device mid-session: the explanation is redone on the CPU and says so', async () => {
  assert.equal(await gpuPage.evaluate(() => globalThis.sightlineTest.engine.request('test:loseWebGpuDevice')), true);
  const [fallback, cpu] = await Promise.all([explain(gpuPage, 'gradient'), explain(cpuPage, 'gradient')]);
  assert.equal(fallback.backend, 'cpu');
  assert.ok(fallback.warnings.some((w) => /webgpu backend failed/.test(w)), JSON.stringify(fallback.warnings));
  assert.deepEqual(fallback.patch_scores, cpu.patch_scores);
  // Later explanations stay on the CPU without failing first.
  const next = await explain(gpuPage, 'chefer');
  assert.equal(next.backend, 'cpu');
  assert.deepEqual(next.warnings, []);
});
