// The faithfulness view on its numbers: the deletion and insertion curves the page computes equal
// the CLI's (`sightline curves` of the page's own explanation), start at the explanation's own
// probability, and are what the plot draws and the summary states; with a single text the curves
// trace the cosine similarity, also as the CLI does.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { assertClose, cliCurves, DIST, launchBrowser, newPage, openAppWithModel, prepareDist, startServer, waitForExplanation } from './helpers.mjs';

const IMAGE = join(DIST, 'examples', 'scene-32.png');
/** The same f32 arithmetic in wasm and natively: equal but for summation order. */
const CLOSE = { rtol: 1e-4, scale: 1e-5 };
let server;
let browser;
let session;

before(async () => {
  prepareDist();
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  session = await newPage(browser);
  await openAppWithModel(session.page, server.origin);
  await waitForExplanation(session.page);
  await session.page.click('button.tab:has-text("Faithfulness")');
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Computes the curves of the current map in the page; returns them, the explanation and the plot. */
async function pageCurves(page) {
  const explanation = await waitForExplanation(page);
  await page.click('.tabpanel:not([hidden]) button:has-text("Compute the curves")');
  await page.waitForFunction(() => ['done', 'error'].includes(globalThis.sightlineTest.store.get().faithfulness.status), null, { timeout: 60_000 });
  return page.evaluate((explanation) => {
    const f = globalThis.sightlineTest.store.get().faithfulness;
    const panel = document.querySelector('.tabpanel:not([hidden])');
    const lines = [...panel.querySelectorAll('svg polyline')].map((line) => ({
      kind: line.classList.contains('deletion') ? 'deletion' : 'insertion',
      points: line.getAttribute('points').split(' ').map((p) => p.split(',').map(Number)),
    }));
    return { f, explanation, lines, summary: panel.querySelector('.chart-summary').textContent, axis: [...panel.querySelectorAll('svg text.axis')].map((t) => t.textContent) };
  }, explanation);
}

/** Checks that a polyline draws `values`: one point per value, evenly along x, y affine in the value. */
function assertDraws(line, values) {
  assert.equal(line.points.length, values.length, `${line.kind}: one point per value`);
  const [[x0, y0]] = line.points;
  const step = (line.points.at(-1)[0] - x0) / (values.length - 1);
  const lo = values.indexOf(Math.min(...values));
  const hi = values.indexOf(Math.max(...values));
  const slope = (line.points[hi][1] - line.points[lo][1]) / (values[hi] - values[lo]);
  assert.ok(slope < 0, `${line.kind}: larger values are drawn higher`);
  line.points.forEach(([x, y], i) => {
    assert.ok(Math.abs(x - (x0 + i * step)) < 0.2, `${line.kind}: point ${i} at x ${x}`);
    assert.ok(Math.abs(y - (y0 + slope * (values[i] - values[0]))) < 0.2, `${line.kind}: point ${i} at y ${y} draws ${values[i]}`);
  });
}

function compareWithCli(what, page, cli) {
  assert.equal(page.quantity, cli.quantity, `${what}: quantity`);
  assert.deepEqual(page.order, cli.order, `${what}: patch order`);
  assertClose(`${what}: deletion`, page.deletion, cli.deletion, CLOSE);
  assertClose(`${what}: insertion`, page.insertion, cli.insertion, CLOSE);
  assertClose(`${what}: areas`, [page.deletion_auc, page.insertion_auc], [cli.deletion_auc, cli.insertion_auc], CLOSE);
}

test('the curves of the map equal the CLI’s and are what the view shows', async () => {
  const { page } = session;
  const { f, explanation, lines, summary, axis } = await pageCurves(page);
  assert.equal(f.status, 'done', f.error);
  const curves = f.curves;
  assert.equal(curves.quantity, 'probability');
  const patches = explanation.patch_scores.length;
  assert.equal(curves.deletion.length, patches + 1);
  // Nothing deleted and everything restored are the explained image itself.
  const probability = explanation.probs[explanation.target];
  assertClose('the curves’ ends', [curves.deletion[0], curves.insertion[patches]], [probability, probability], CLOSE);
  compareWithCli('probability curves', curves, await cliCurves({ image: IMAGE, explanation }));
  // The plot and the summary.
  assertDraws(lines.find((l) => l.kind === 'deletion'), curves.deletion);
  assertDraws(lines.find((l) => l.kind === 'insertion'), curves.insertion);
  assert.match(summary, new RegExp(`Deletion area ${curves.deletion_auc.toFixed(3)} \\(lower is better\\)`));
  assert.match(summary, new RegExp(`Insertion area ${curves.insertion_auc.toFixed(3)} \\(higher is better\\)`));
  assert.ok(axis.includes('p(target)'), axis.join(', '));
});

test('with one text the curves trace the cosine similarity, as the CLI’s do', async () => {
  const { page } = session;
  await page.click('button:has-text("Edit all")');
  await page.fill('.editor-box textarea', 'a green circle');
  await page.click('.editor-box button:has-text("Apply")');
  await page.waitForFunction(() => globalThis.sightlineTest.store.get().clip.texts.length === 1);
  const { f, explanation, lines, axis } = await pageCurves(page);
  assert.equal(f.status, 'done', f.error);
  assert.equal(explanation.probs, undefined, 'one text has no probabilities');
  assert.equal(f.curves.quantity, 'cosine');
  compareWithCli('cosine curves', f.curves, await cliCurves({ image: IMAGE, explanation }));
  assertDraws(lines.find((l) => l.kind === 'deletion'), f.curves.deletion);
  assert.ok(axis.includes('cosine(image, text)'), axis.join(', '));
});
