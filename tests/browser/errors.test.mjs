// Failures are visible in the page, next to what caused them: a corrupt image in the drop zone (gone
// once an image opens), bad model addresses in the model dialog and under the model's chip (saying
// that the previous model is still in use), free text refused with an example of an address, and
// an engine that traps (the worker is replaced and the model loaded again).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { artifact, DIST, FIXTURE_MODEL, FIXTURE_URL_PATH, launchBrowser, newPage, openAppWithModel, prepareDist, startServer, waitForExplanation } from './helpers.mjs';

let server;
let browser;
let session;
let fixtures;

before(async () => {
  fixtures = prepareDist();
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  session = await newPage(browser);
  await openAppWithModel(session.page, server.origin);
  await waitForExplanation(session.page);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function alertText(page) {
  await page.waitForSelector('sl-alerts [role="alert"] .alert', { timeout: 10_000 });
  return page.textContent('sl-alerts [role="alert"]');
}

async function dismissAll(page) {
  for (const button of await page.$$('sl-alerts .alert .icon-button')) await button.click();
}

test('a corrupt image gives an error in the drop zone, keeps the last image, and the error goes with the next image', async () => {
  const { page } = session;
  const before = await page.evaluate(() => globalThis.sightlineTest.store.get().image.key);
  await page.setInputFiles('.image-source input[type=file]', join(fixtures, 'corrupt.png'));
  const error = page.locator('.drop-zone .field-error[role="alert"]');
  await error.waitFor();
  const text = await error.textContent();
  assert.match(text, /corrupt\.png/);
  assert.match(text, /not an image/);
  assert.equal(await page.locator('sl-alerts .alert').count(), 0, 'not in the page-wide alerts as well');
  await page.screenshot({ path: artifact('error-corrupt-image.png') });
  assert.equal(await page.evaluate(() => globalThis.sightlineTest.store.get().image.key), before);
  await page.click('.example[data-example="scene-9"]');
  await error.waitFor({ state: 'hidden' });
  await page.click('.example[data-example="scene-32"]');
  await waitForExplanation(page);
});

test('an image format only the browser reads (ICO) is converted to PNG for the engine', async () => {
  const { page } = session;
  // An icon file holding the 96×96 scene PNG: Chromium draws it; the engine reads no ICO.
  const png = readFileSync(join(DIST, 'examples', 'scene-16.png'));
  const header = Buffer.alloc(22);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2);
  header.writeUInt16LE(1, 4);
  header.writeUInt8(96, 6);
  header.writeUInt8(96, 7);
  header.writeUInt16LE(1, 10);
  header.writeUInt16LE(32, 12);
  header.writeUInt32LE(png.length, 14);
  header.writeUInt32LE(22, 18);
  await page.setInputFiles('.image-source input[type=file]', { name: 'scene.ico', mimeType: 'image/x-icon', buffer: Buffer.concat([header, png]) });
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().image?.name.startsWith('scene.ico'));
  const explanation = await waitForExplanation(page);
  assert.deepEqual(explanation.crop, { x: 0, y: 0, width: 96, height: 96 });
  await page.click('.example[data-example="scene-32"]');
  await waitForExplanation(page);
});

test('bad model addresses give clear errors in the dialog and the page', async () => {
  const { page } = session;
  await page.click('.model-chip');
  const dialog = page.locator('.model-dialog');
  // Not https and not this site: refused before any request.
  await dialog.locator('input[type=text]').fill('http://example.invalid/model/');
  await dialog.locator('.button.primary').click();
  await assert.doesNotReject(page.waitForFunction(() => /Only https/.test(document.querySelector('.model-dialog .dialog-error').textContent)));
  // A folder without a model: HTTP 404, named.
  await dialog.locator('input[type=text]').fill(`${server.origin}/no-such-model/`);
  await dialog.locator('.button.primary').click();
  await page.waitForFunction(() => /404/.test(document.querySelector('.model-dialog .dialog-error').textContent), null, { timeout: 15_000 });
  const message = await dialog.locator('.dialog-error').textContent();
  assert.match(message, /config\.json/);
  await page.screenshot({ path: artifact('error-bad-model-url.png') });
  assert.match(message, /The built-in model is still in use\./);
  await page.keyboard.press('Escape');
  // With the dialog closed, the error is under the model's chip.
  const chipError = page.locator('.model-chip-error');
  await chipError.waitFor();
  assert.match(await chipError.textContent(), /could not be loaded.*404.*The built-in model is still in use/);
  assert.equal(await page.getAttribute('.model-chip', 'aria-invalid'), 'true');
  // The model that was loaded is still there and works.
  assert.equal(await page.evaluate(() => globalThis.sightlineTest.store.get().model.status), 'ready');
  // Free text is refused with an example of an address, before any request.
  await page.click('.model-chip');
  const requests = [];
  page.on('request', (request) => requests.push(request.url()));
  await dialog.locator('input[type=text]').fill('a photo of my cat');
  await dialog.locator('.button.primary').click();
  assert.match(await dialog.locator('.dialog-error').textContent(), /“a photo of my cat” is not a model address\. Enter a Hugging Face model such as openai\/clip-vit-base-patch32/);
  assert.deepEqual(requests, []);
  // A model that loads takes the error away.
  await dialog.locator('button:has-text("Use the built-in model")').click();
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().model.status === 'ready' && !document.querySelector('.model-chip-error:not([hidden])'));
  await waitForExplanation(page);
});

test('a model from local files loads through the picker', async () => {
  const { page } = session;
  const previous = await page.evaluate(() => globalThis.sightlineTest.store.get().modelSource);
  await page.click('.model-chip');
  const dialog = page.locator('.model-dialog');
  // Without the weights: named as missing.
  await dialog.locator('input[type=file]').setInputFiles([join(FIXTURE_MODEL, 'config.json'), join(FIXTURE_MODEL, 'tokenizer.json')]);
  await dialog.locator('button:has-text("Load files")').click();
  assert.match(await dialog.locator('.dialog-error').textContent(), /Missing model\.safetensors/);
  await dialog.locator('input[type=file]').setInputFiles(['config.json', 'model.safetensors', 'tokenizer.json'].map((f) => join(FIXTURE_MODEL, f)));
  await dialog.locator('button:has-text("Load files")').click();
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().modelSource?.kind === 'files' && globalThis.sightlineTest.store.get().model.status === 'ready');
  assert.equal(await dialog.isVisible(), false, 'the dialog closes once the model is loaded');
  const explanation = await waitForExplanation(page);
  assert.equal(explanation.model.dtype, 'float32');
  assert.match(await page.textContent('.model-chip'), /local model/);
  // Back to the model the other tests use.
  if (previous.kind === 'url') {
    await page.click('.model-chip');
    await dialog.locator('input[type=text]').fill(previous.url);
    await dialog.locator('.button.primary').click();
  } else {
    await page.click('.model-chip');
    await dialog.locator('button:has-text("Use the built-in model")').click();
  }
  await page.waitForFunction((kind) => globalThis.sightlineTest.store.get().modelSource?.kind === kind && globalThis.sightlineTest.store.get().model.status === 'ready', previous.kind);
  await waitForExplanation(page);
});

test('a model from a URL is downloaded, cached with the Cache API, and explains', async () => {
  const { page } = session;
  const url = `${server.origin}${FIXTURE_URL_PATH}clip-random-a/`;
  await page.click('.model-chip');
  const dialog = page.locator('.model-dialog');
  await dialog.locator('input[type=text]').fill(url);
  await dialog.locator('.button.primary').click();
  await page.waitForFunction((url) => globalThis.sightlineTest.store.get().modelSource?.url === url && globalThis.sightlineTest.store.get().model.status === 'ready', url);
  const explanation = await waitForExplanation(page);
  assert.equal(explanation.model.dtype, 'float32');
  const cached = await page.evaluate(async () => (await (await caches.open('sightline-models-v1')).keys()).map((r) => new URL(r.url).pathname));
  assert.deepEqual(cached.sort(), ['config.json', 'model.safetensors', 'tokenizer.json'].map((f) => `${FIXTURE_URL_PATH}clip-random-a/${f}`));
  await page.click('.model-chip');
  await dialog.locator('button:has-text("Use the built-in model")').click();
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().modelSource?.kind === 'default' && globalThis.sightlineTest.store.get().model.status === 'ready');
  await waitForExplanation(page);
});

test('a trapped engine is reported, replaced and reloaded', async () => {
  const { page } = session;
  // The method changes while the crash is on its way: that explanation is sent to the doomed
  // worker, is cut short by the other request's crash, and must run again rather than fail.
  await page.waitForFunction(() => !Object.values(globalThis.sightlineTest.store.get().results).some((r) => r.status === 'running'));
  const error = await page.evaluate(() => {
    const crash = globalThis.sightlineTest.engine.request('test:crash').then(() => null, (e) => ({ message: e.message, fatal: e.fatal, interrupted: e.interrupted }));
    // Forget what was explained (as a new input would) so that gradcam has to run.
    globalThis.sightlineTest.store.set({ results: {} });
    document.querySelector('.method-radio[value="gradcam"]').click();
    return crash;
  });
  assert.equal(error.fatal, true);
  assert.equal(error.interrupted, false, 'the request that trapped gets the trap itself');
  const text = await alertText(page);
  assert.match(text, /engine stopped.*restarted/);
  const explanation = await waitForExplanation(page, { method: 'gradcam' });
  assert.equal(explanation.method, 'gradcam');
  assert.equal(await page.evaluate(() => globalThis.sightlineTest.engine.restarts), 1);
  await dismissAll(page);
});
