// The app: it loads, explains a bundled scene with every method with the CLI's numbers, draws the
// overlay and the token chips, and its URL brings the same view back.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  appState,
  artifact,
  assertClose,
  cliExplain,
  DIST,
  launchBrowser,
  METHODS,
  newPage,
  openAppWithModel,
  prepareDist,
  relativeError,
  startServer,
  waitForExplanation,
} from './helpers.mjs';

const TOLERANCE = 2e-3;
/** Logits, probabilities and gradient pixel maps: the same f32 arithmetic in wasm and natively. */
const CLOSE = { rtol: 1e-4, scale: 1e-5 };
const STEPS = 4;
let server;
let browser;
let session;

before(async () => {
  prepareDist();
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  session = await newPage(browser);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Moves a range input as a person would (input events while dragging, change on release). */
function setRange(locator, value) {
  return locator.evaluate((input, value) => {
    input.value = String(value);
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.dispatchEvent(new Event('change', { bubbles: true }));
  }, value);
}

async function chooseMethod(page, method) {
  await page.click(`.method-radio[value="${method}"] + .method-label`);
  return waitForExplanation(page, { method });
}

test('the app loads with its first example and a model', async () => {
  const { page, problems } = session;
  const started = Date.now();
  await openAppWithModel(page, server.origin, `#steps=${STEPS}`);
  const explanation = await waitForExplanation(page);
  const state = await appState(page);
  assert.equal(state.example, 'scene-32');
  assert.equal(state.options.steps, STEPS);
  assert.equal(explanation.backend, 'cpu');
  assert.ok(explanation.timings_ms.total > 0);
  assert.equal(state.model.kind, 'default');
  assert.equal(explanation.model.name, 'sightline-default');
  // The backend and the phases' times are on screen.
  const timings = await page.textContent('sl-explanation-view .timings');
  assert.match(timings, /backend\s*cpu/);
  assert.match(timings, /total/);
  assert.deepEqual(problems, []);
  console.log(`first explanation after ${Date.now() - started} ms`);
});

test('every method gives the CLI’s numbers on the bundled scene', async () => {
  const { page } = session;
  const image = join(DIST, 'examples', 'scene-32.png');
  const pending = [];
  for (const method of METHODS) {
    const explanation = await chooseMethod(page, method);
    const state = await appState(page);
    assert.equal(explanation.method, method);
    assert.deepEqual(explanation.texts, state.texts);
    pending.push(
      cliExplain({ image, texts: state.texts, target: state.target, method, steps: state.options.steps, seed: state.options.seed, headFusion: state.options.headFusion, discardRatio: state.options.discardRatio }).then((cli) => {
        const patchError = relativeError(explanation.patch_scores, cli.patch_scores);
        assert.ok(patchError <= TOLERANCE, `${method}: patch scores differ from the CLI by ${patchError}`);
        assert.equal(Boolean(explanation.text_scores), Boolean(cli.text_scores), `${method}: text scores presence`);
        if (cli.text_scores) {
          const textError = relativeError(explanation.text_scores, cli.text_scores);
          assert.ok(textError <= TOLERANCE, `${method}: text scores differ from the CLI by ${textError}`);
        }
        assert.equal(Boolean(explanation.pixel_scores), Boolean(cli.pixel_scores), `${method}: pixel scores presence`);
        if (cli.pixel_scores) assertClose(`${method} pixel scores`, explanation.pixel_scores, cli.pixel_scores, CLOSE);
        assertClose(`${method} logits`, explanation.logits, cli.logits, CLOSE);
        assertClose(`${method} probabilities`, explanation.probs, cli.probs, CLOSE);
        assert.deepEqual(explanation.text_tokens, cli.text_tokens);
        assert.deepEqual(explanation.patch_grid, cli.patch_grid);
        assert.ok(Math.abs(explanation.score - cli.score) <= TOLERANCE * Math.max(1, Math.abs(cli.score)), `${method}: score ${explanation.score} vs ${cli.score}`);
        return { method, patchError };
      }),
    );
  }
  const results = await Promise.all(pending);
  console.log(results.map((r) => `${r.method}: ${r.patchError.toExponential(1)}`).join(', '));
  // Every method's small multiple is in the comparison grid.
  const cells = await page.$$eval('.compare-grid .cell', (cells) => cells.map((c) => c.querySelector('.cell-status').textContent));
  assert.equal(cells.length, METHODS.length);
  assert.ok(cells.every((t) => /ms|s$/.test(t)), `every cell shows its time: ${cells}`);
});

test('the overlay is drawn over the image, with token chips', async () => {
  const { page } = session;
  const explanation = await chooseMethod(page, 'chefer');
  const heatmap = page.locator('sl-explanation-view sl-heatmap');
  await heatmap.screenshot({ path: artifact('overlay-chefer.png') });
  await page.screenshot({ path: artifact('app.png'), fullPage: true });
  const changed = await page.evaluate(() => {
    const element = document.querySelector('sl-explanation-view sl-heatmap');
    const composite = element.compositeCanvas();
    const plain = document.createElement('canvas');
    plain.width = composite.width;
    plain.height = composite.height;
    plain.getContext('2d').drawImage(globalThis.sightlineTest.store.get().image.bitmap, 0, 0);
    const a = composite.getContext('2d').getImageData(0, 0, plain.width, plain.height).data;
    const b = plain.getContext('2d').getImageData(0, 0, plain.width, plain.height).data;
    let differing = 0;
    for (let i = 0; i < a.length; i += 4) {
      if (Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]) > 12) differing++;
    }
    return differing / (a.length / 4);
  });
  assert.ok(changed > 0.3, `the overlay changes ${(changed * 100).toFixed(1)}% of the pixels`);
  // The legend and a hover readout.
  assert.ok(await heatmap.evaluate((el) => !el.shadowRoot.querySelector('.legend').hidden));
  const box = await heatmap.boundingBox();
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.4);
  const tip = await heatmap.evaluate((el) => el.shadowRoot.querySelector('.tip').textContent);
  assert.match(tip, /patch row \d+, column \d+ · score/);
  // Token chips: one per token of the target text.
  const chips = await page.$$eval('sl-explanation-view .chips .sl-chip', (nodes) => nodes.map((n) => n.getAttribute('aria-label')));
  assert.equal(chips.length, explanation.text_tokens.length);
  const coloured = await page.$$eval('sl-explanation-view .chips .sl-chip', (nodes) => nodes.filter((n) => n.style.backgroundColor).length);
  assert.equal(coloured, explanation.text_tokens.length);
});

test('the URL carries the view: reloading it gives the same view', async () => {
  const { page } = session;
  await page.click('.example[data-example="scene-9"]');
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().image?.exampleId === 'scene-9');
  await chooseMethod(page, 'rollout');
  await page.fill('.add-row input', 'a purple hexagon');
  await page.press('.add-row input', 'Enter');
  await page.selectOption('.method-panel select', 'max');
  await setRange(page.locator('.method-panel input[type=range]'), 0.2);
  await page.locator('.label-radio[data-index="2"] + .label-text').click();
  await page.selectOption('sl-explanation-view select >> nth=0', 'viridis');
  await setRange(page.locator('sl-explanation-view input[type=range]'), 0.8);
  const explanation = await waitForExplanation(page, { method: 'rollout' });
  const state = await appState(page);
  assert.equal(state.options.headFusion, 'max');
  assert.equal(state.options.discardRatio, 0.2);
  assert.equal(state.target, 2);
  assert.equal(state.texts.at(-1), 'a purple hexagon');
  assert.equal(state.view.colormap, 'viridis');
  assert.equal(state.view.opacity, 0.8);
  assert.equal(explanation.options.head_fusion, 'max');
  await page.waitForFunction(() => location.hash.includes('colormap=viridis') && location.hash.includes('opacity=0.8'));
  const url = page.url();
  assert.match(url, /#.*method=rollout/);
  assert.match(url, /text=a\+purple\+hexagon/);

  const second = await newPage(browser);
  try {
    await second.page.goto(url);
    const again = await waitForExplanation(second.page, { method: 'rollout', timeout: 60_000 });
    assert.deepEqual(await appState(second.page), state);
    assert.deepEqual(again.patch_scores, explanation.patch_scores);
    // The controls show it too.
    assert.equal(await second.page.inputValue('sl-explanation-view select >> nth=0'), 'viridis');
    assert.equal(await second.page.inputValue('.method-panel select'), 'max');
    assert.ok(await second.page.isChecked('.method-radio[value="rollout"]'));
    assert.ok(await second.page.isChecked('.label-radio[data-index="2"]'));
    assert.deepEqual(second.problems, []);
  } finally {
    await second.context.close();
  }
});
