// Photos as cameras and editors save them, opened in the page: the page explains and shows the
// engine's pixels (upright by the EXIF orientation, transparency over white), so each file gives
// the CLI's JSON and the overlay lies over what it explains.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { artifact, cliExplain, launchBrowser, newPage, openAppWithModel, prepareDist, relativeError, ROOT, startServer, waitForExplanation } from './helpers.mjs';

const PHOTOS = join(ROOT, 'tests', 'fixtures', 'photos');
const EXPECTED = JSON.parse(readFileSync(join(PHOTOS, 'expected.json'), 'utf8'));
const TOLERANCE = 2e-3;
const TEXTS = ['a yellow circle', 'a blue square', 'a red triangle'];
const FILES = [
  'scene-orientation-6.jpg',
  'orientation-5.jpg',
  'orientation-8.jpg',
  'orientation-6.webp',
  'orientation-7.png',
  'cmyk.jpg',
  'ycck.jpg',
  'progressive.jpg',
  'large.jpg',
  'lossy.webp',
  'transparent.png',
  'palette-transparent.gif',
  'gray16.png',
  'rgba16.png',
];
let server;
let browser;
let session;

before(async () => {
  prepareDist();
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  session = await newPage(browser);
  const hash = `#method=chefer&${TEXTS.map((t) => `text=${encodeURIComponent(t)}`).join('&')}&target=0`;
  await openAppWithModel(session.page, server.origin, hash);
  await waitForExplanation(session.page, { method: 'chefer' });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Opens `file` through the page's file picker; resolves to its explanation. */
async function openPhoto(page, file) {
  const previous = await page.evaluate(() => globalThis.sightlineTest.currentResult()?.explanation?.timings_ms?.total ?? null);
  await page.setInputFiles('.image-source input[type=file]', join(PHOTOS, file));
  await page.waitForFunction((file) => globalThis.sightlineTest.store.get().image?.name === file, file, { timeout: 30_000 });
  return waitForExplanation(page, { method: 'chefer', previous });
}

test('each file gives the CLI’s explanation, in the displayed orientation', async () => {
  const { page, problems } = session;
  const rows = [];
  for (const file of FILES) {
    const explanation = await openPhoto(page, file);
    const cli = await cliExplain({ image: join(PHOTOS, file), texts: TEXTS, target: 0, method: 'chefer' });
    const displayed = EXPECTED.cases.find((c) => c.file === file).displayed_wh;
    const shown = await page.evaluate(() => {
      const { width, height, bitmap } = globalThis.sightlineTest.store.get().image;
      return [width, height, bitmap.width, bitmap.height];
    });
    assert.deepEqual(shown, [...displayed, ...displayed], `${file}: the page shows it ${shown[0]}×${shown[1]}, displayed it is ${displayed.join('×')}`);
    assert.deepEqual(explanation.crop, cli.crop, `${file}: crop`);
    const error = relativeError(explanation.patch_scores, cli.patch_scores);
    assert.ok(error <= TOLERANCE, `${file}: patch scores differ from the CLI by ${error}`);
    rows.push(`${file} ${error.toExponential(1)}`);
  }
  console.log(rows.join(', '));
  assert.deepEqual(problems, []);
});

test('the overlay of an EXIF-rotated photo lies over the object it points at', async () => {
  const { page } = session;
  // Displayed 96 × 128 (stored 128 × 96, orientation 6): a yellow circle in the top left of the
  // centre square the model sees, a blue square at its bottom right.
  const explanation = await openPhoto(page, 'scene-orientation-6.jpg');
  assert.deepEqual(explanation.crop, { x: 0, y: 16, width: 96, height: 96 });
  const [rows, columns] = explanation.patch_grid;
  const top = explanation.patch_scores.indexOf(Math.max(...explanation.patch_scores));
  const [row, column] = [Math.floor(top / columns), top % columns];
  assert.ok(row < rows / 2 && column < columns / 2, `the top patch (row ${row}, column ${column}) is in the top left`);
  // Under the top patch, the page draws the circle: yellow pixels in that square of the picture.
  const drawn = await page.evaluate(({ crop, row, column, rows, columns }) => {
    const element = document.querySelector('sl-explanation-view sl-heatmap');
    const { bitmap } = globalThis.sightlineTest.store.get().image;
    const canvas = document.createElement('canvas');
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    const context = canvas.getContext('2d');
    context.drawImage(bitmap, 0, 0);
    const [width, height] = [crop.width / columns, crop.height / rows];
    const patch = context.getImageData(Math.round(crop.x + column * width), Math.round(crop.y + row * height), Math.round(width), Math.round(height)).data;
    let yellow = 0;
    for (let i = 0; i < patch.length; i += 4) if (patch[i] > 200 && patch[i + 1] > 180 && patch[i + 2] < 90) yellow++;
    const composite = element.compositeCanvas();
    return { yellowShare: yellow / (patch.length / 4), overlaySize: [composite.width, composite.height] };
  }, { crop: explanation.crop, row, column, rows, columns });
  assert.ok(drawn.yellowShare > 0.25, `under the top patch (row ${row}, column ${column}) the page draws ${(drawn.yellowShare * 100).toFixed(0)} % yellow`);
  assert.deepEqual(drawn.overlaySize, [96, 128], 'the overlay is drawn on the upright picture');
  console.log(`top patch row ${row}, column ${column}: ${(drawn.yellowShare * 100).toFixed(0)} % yellow`);
  await page.locator('sl-explanation-view sl-heatmap').screenshot({ path: artifact('overlay-exif-rotated.png') });
});

test('transparent areas are shown white, as the engine explains them', async () => {
  const { page } = session;
  await openPhoto(page, 'transparent.png');
  // The bottom strip of this cut-out is fully transparent and stores the photo's colours.
  const pixels = await page.evaluate(() => {
    const { bitmap } = globalThis.sightlineTest.store.get().image;
    const canvas = document.createElement('canvas');
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    const context = canvas.getContext('2d');
    context.drawImage(bitmap, 0, 0);
    const at = (x, y) => [...context.getImageData(x, y, 1, 1).data];
    return [at(10, 70), at(60, 68), at(36, 30)];
  });
  assert.deepEqual(pixels[0], [255, 255, 255, 255]);
  assert.deepEqual(pixels[1], [255, 255, 255, 255]);
  assert.equal(pixels[2][3], 255, 'the picture is opaque');
});

test('a truncated photo is refused with the engine’s reason, and the last image stays', async () => {
  const { page } = session;
  const before = await page.evaluate(() => globalThis.sightlineTest.store.get().image.key);
  const bytes = readFileSync(join(PHOTOS, 'orientation-6.jpg'));
  await page.setInputFiles('.image-source input[type=file]', { name: 'cut.jpg', mimeType: 'image/jpeg', buffer: bytes.subarray(0, 300) });
  const error = page.locator('.drop-zone .field-error[role="alert"]');
  await error.waitFor();
  const text = await error.textContent();
  assert.match(text, /cut\.jpg/);
  assert.match(text, /not an image Sightline can read/);
  assert.equal(await page.evaluate(() => globalThis.sightlineTest.store.get().image.key), before);
});
