// What a new user meets first (issue 19): photo examples say the built-in model only knows shapes
// and offer a real CLIP model, asking before any download; notices float and fade; an error sits
// next to the field that caused it; the comparison grid brings the main map into view; nothing is
// cut off without a tooltip; labels say what each method reads; the map menu shows what is in
// effect; a PNG export is at least as large as the page shows it; the keyboard reaches the methods
// before the texts' remove buttons; an SVG drawing is accepted.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { appState, artifact, launchBrowser, newPage, openAppWithModel, prepareDist, startServer, waitForExplanation } from './helpers.mjs';

let server;
let browser;
let session;

before(async () => {
  prepareDist();
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  session = await newPage(browser, { viewport: { width: 1400, height: 900 } });
  await openAppWithModel(session.page, server.origin);
  await waitForExplanation(session.page);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function chooseMethod(page, method) {
  await page.click(`.method-radio[value="${method}"] + .method-label`);
  return waitForExplanation(page, { method });
}

test('with the built-in model a photo says it only knows shapes and offers a real model, asking first', async () => {
  const { page, requests } = session;
  assert.match(await page.textContent('.model-chip'), /built-in model · recognises only coloured shapes/);
  const notice = page.locator('sl-model-fit');
  assert.equal(await notice.isVisible(), false, 'no notice on a scene');
  await page.click('.example[data-example="chelsea"]');
  await waitForExplanation(page);
  await notice.waitFor();
  assert.match(await notice.textContent(), /only knows coloured shapes.*on a photo its probabilities and maps mean nothing/);
  assert.match(await page.getAttribute('.example[data-example="chelsea"]', 'aria-label'), /needs a real CLIP model/);
  await page.screenshot({ path: artifact('photo-with-builtin-model.png') });
  // The offer names the model and its size, and asks before anything is downloaded.
  const offer = notice.locator('button:has-text("Use CLIP ViT-B/32 (about 600 MB)")');
  const before = requests.length;
  await offer.click();
  const dialog = page.locator('.confirm-dialog');
  await dialog.waitFor();
  assert.match(await dialog.textContent(), /downloads openai\/clip-vit-base-patch32 from huggingface\.co \(about 600 MB\) once; it stays in this browser's cache/);
  await dialog.locator('button:has-text("Cancel")').click();
  assert.equal(await dialog.isVisible(), false);
  assert.deepEqual(requests.slice(before).filter((url) => !url.startsWith(server.origin)), [], 'nothing was downloaded');
  await page.click('.example[data-example="scene-32"]');
  await waitForExplanation(page);
  await notice.waitFor({ state: 'hidden' });
});

test('a notice floats over the page without moving it, and fades on its own', async () => {
  const { page } = session;
  // Where the layout starts in the document (the click may scroll the window, which does not count).
  const layoutTop = () => page.evaluate(() => document.querySelector('main.layout').getBoundingClientRect().top + scrollY);
  const top = await layoutTop();
  await page.click('button:has-text("Copy link")');
  const notice = page.locator('sl-alerts [role="status"] .alert');
  await notice.waitFor();
  assert.equal(await layoutTop(), top, 'the layout did not move');
  // NOTICE_MS in app/alerts.js is 6 s.
  await notice.waitFor({ state: 'detached', timeout: 9_000 });
});

test('a refused option is reported next to its field until it is fixed', async () => {
  const { page } = session;
  await chooseMethod(page, 'integrated_gradients');
  const steps = page.getByLabel('Steps');
  await steps.fill('0');
  await steps.press('Enter');
  await steps.blur();
  const error = page.locator('.method-panel .field-error:not([hidden])');
  await error.waitFor();
  assert.match(await error.textContent(), /Steps must be a whole number from 1 to 1024/);
  assert.equal(await steps.getAttribute('aria-invalid'), 'true');
  assert.equal(await steps.inputValue(), '0', 'the refused value stays to be fixed');
  assert.equal(await page.locator('sl-alerts [role="alert"] .alert').count(), 0, 'not in the page-wide alerts as well');
  await steps.fill('4');
  await steps.blur();
  await error.waitFor({ state: 'detached' }).catch(() => error.waitFor({ state: 'hidden' }));
  assert.equal(await steps.getAttribute('aria-invalid'), null);
  assert.equal((await appState(page)).options.steps, 4);
  await waitForExplanation(page, { method: 'integrated_gradients' });
});

test('a click in the comparison grid brings the main map into view', async () => {
  const { page } = session;
  await page.locator('.compare-grid .cell[data-method="occlusion"]').scrollIntoViewIfNeeded();
  const mainMap = page.locator('sl-explanation-view sl-heatmap');
  const inView = () =>
    mainMap.evaluate((el) => {
      const r = el.getBoundingClientRect();
      return r.top >= 0 && r.top < innerHeight * 0.5;
    });
  assert.equal(await inView(), false, 'the main map is out of view once the grid is scrolled to');
  await page.click('.compare-grid .cell[data-method="occlusion"]');
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().method === 'occlusion');
  await page.waitForFunction(() => {
    const r = document.querySelector('sl-explanation-view sl-heatmap').getBoundingClientRect();
    return r.top >= 0 && r.top < innerHeight * 0.5;
  });
  await waitForExplanation(page, { method: 'occlusion' });
});

test('nothing is cut off without a tooltip, and a disabled "Run every method" says why', async () => {
  const { page } = session;
  await page.fill('.add-row input', 'a photograph of a very small red circle far away in the corner of a grey room');
  await page.press('.add-row input', 'Enter');
  await waitForExplanation(page);
  await page.waitForFunction(() => document.querySelectorAll('.compare-grid .cell.is-running').length === 0 && globalThis.sightlineTest.store.get().compare.auto);
  const cut = await page.evaluate(() => {
    const out = [];
    for (const el of document.querySelectorAll('body *')) {
      if (!el.textContent.trim() || el.children.length || el.closest('.visually-hidden') || el.clientWidth <= 1) continue;
      const style = getComputedStyle(el);
      const clipped = el.scrollWidth > el.clientWidth + 1 && (style.textOverflow === 'ellipsis' || style.overflow === 'hidden');
      if (!clipped) continue;
      let node = el;
      let tip = '';
      while (node && !tip) {
        tip = node.getAttribute?.('title') ?? '';
        node = node.parentElement;
      }
      // The tooltip holds the whole text (or the whole name an abbreviation stands for).
      if (tip.length < el.textContent.trim().length) out.push(`${el.className}: ${el.textContent}`);
    }
    return out;
  });
  assert.deepEqual(cut, [], 'every shortened text has its whole in a tooltip');
  const run = page.locator('.compare-head button:has-text("Run every method")');
  assert.ok(await run.isDisabled());
  const reason = await run.evaluate((button) => document.getElementById(button.getAttribute('aria-describedby')).textContent);
  assert.equal(reason, 'Every method has run on this input.');
});

test('labels say what each method reads, and the map menu shows the map in effect', async () => {
  const { page } = session;
  const tag = (method) => page.textContent(`.method-radio[value="${method}"] + .method-label .method-tags`);
  assert.equal(await tag('rollout'), 'ignores the text');
  assert.equal(await tag('attention'), 'ignores the text');
  assert.equal(await tag('chefer'), 'image + text');
  await chooseMethod(page, 'rollout');
  assert.match(await page.textContent('.method-summary'), /Its map is the same for every text/);
  assert.match(await page.textContent('sl-explanation-view .tokens .hint'), /the text tower’s own rollout.*never sees the image/);
  // A pixel map, then a method without one: the menu shows what is drawn.
  await chooseMethod(page, 'gradient');
  await page.selectOption('sl-explanation-view select >> nth=1', 'pixels');
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().view.map === 'pixels');
  await chooseMethod(page, 'chefer');
  const menu = page.locator('sl-explanation-view select >> nth=1');
  assert.equal(await menu.inputValue(), 'patches');
  assert.ok(await menu.locator('option[value="pixels"]').isDisabled());
  await chooseMethod(page, 'gradient');
  assert.equal(await menu.inputValue(), 'pixels', 'the choice comes back with a method that has the map');
  await page.selectOption('sl-explanation-view select >> nth=1', 'patches');
});

/** Width and height of a PNG file. */
function pngSize(bytes) {
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

test('an exported PNG is at least as large as the page shows the image, and titled as the page writes', async () => {
  const { page } = session;
  const explanation = await chooseMethod(page, 'chefer');
  const shown = await page.locator('sl-explanation-view sl-heatmap').evaluate((el) => el.getBoundingClientRect().width);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('button:has-text("Export PNG")')]);
  const png = Buffer.concat(await (await download.createReadStream()).toArray());
  const { width } = pngSize(png);
  assert.ok(width >= shown, `the PNG is ${width} px wide; the page shows the image ${shown} px wide`);
  const title = await page.evaluate(async (e) => (await import('/app/exports.js')).overlayTitle(e), explanation);
  const p = explanation.probs[explanation.target];
  assert.equal(title, `Chefer relevance · “${explanation.texts[explanation.target]}” · p = ${(p * 100).toFixed(p >= 0.995 || p < 0.001 ? 0 : 1)}%`);
});

test('the methods come before the texts’ remove buttons on the keyboard, and Delete removes a text', async () => {
  const { page } = session;
  assert.equal(await page.locator('h1').count(), 1);
  const count = (await appState(page)).texts.length;
  await page.focus('.label-radio:checked');
  const stops = [];
  while (stops.length < 20 && !(await page.evaluate(() => document.activeElement.classList.contains('method-radio')))) {
    await page.keyboard.press('Tab');
    stops.push(await page.evaluate(() => `${document.activeElement.className} ${document.activeElement.textContent}`.trim()));
  }
  assert.ok(stops.at(-1).startsWith('method-radio'), `Tab reaches the method list: ${stops.join(' | ')}`);
  assert.ok(!stops.some((s) => /remove/.test(s)), 'no Remove button on the way');
  await page.focus('.label-radio:checked');
  await page.keyboard.press('Delete');
  await page.waitForFunction((n) => globalThis.sightlineTest.store.get().clip.texts.length === n - 1, count);
  assert.ok(await page.evaluate(() => document.activeElement.classList.contains('label-radio')), 'the focus stays in the list');
});

test('an SVG drawing is accepted by the picker and explained as a PNG of it', async () => {
  const { page } = session;
  const accept = await page.getAttribute('.image-source input[type=file]', 'accept');
  assert.match(accept, /image\/svg\+xml/);
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80"><rect width="120" height="80" fill="#888"/><circle cx="60" cy="40" r="25" fill="#d72323"/></svg>';
  await page.setInputFiles('.image-source input[type=file]', { name: 'drawing.svg', mimeType: 'image/svg+xml', buffer: Buffer.from(svg) });
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().image?.name === 'drawing.svg (as PNG)');
  const explanation = await waitForExplanation(page);
  assert.deepEqual([explanation.crop.width, explanation.crop.height], [80, 80], 'the drawing at its own size, 120 × 80');
  assert.equal(await page.locator('.drop-zone .field-error:not([hidden])').count(), 0);
});
