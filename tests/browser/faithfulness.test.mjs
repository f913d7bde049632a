// The faithfulness view on its numbers: the deletion and insertion curves the page computes equal
// the CLI's (`sightline curves` of the page's own explanation), start at the explanation's own
// probability, and are what the plot draws and the summary states; they name the method they
// score and follow a change of method on their own; with a single text the curves trace the
// cosine similarity, also as the CLI does.

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

/** The curves of the current map, which the open view computes on its own; with the explanation and the plot. */
async function pageCurves(page) {
  const explanation = await waitForExplanation(page);
  await page.waitForFunction(
    () => {
      const { store, resultKey } = globalThis.sightlineTest;
      const s = store.get();
      return s.faithfulness.key === resultKey(s.method, s) && ['done', 'error'].includes(s.faithfulness.status);
    },
    null,
    { timeout: 60_000 },
  );
  return page.evaluate((explanation) => {
    const f = globalThis.sightlineTest.store.get().faithfulness;
    const panel = document.querySelector('.tabpanel:not([hidden])');
    const lines = [...panel.querySelectorAll('svg polyline')].map((line) => ({
      kind: line.classList.contains('deletion') ? 'deletion' : 'insertion',
      points: line.getAttribute('points').split(' ').map((p) => p.split(',').map(Number)),
    }));
    return { f, explanation, lines, heading: panel.querySelector('.chart-title').textContent, summary: panel.querySelector('.chart-summary').textContent, axis: [...panel.querySelectorAll('svg text.axis')].map((t) => t.textContent) };
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
  const { f, explanation, lines, heading, summary, axis } = await pageCurves(page);
  assert.equal(f.status, 'done', f.error);
  assert.equal(heading, `Deletion and insertion of the Chefer relevance map for “${explanation.texts[explanation.target]}”`);
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

test('a change of method computes the curves again, keeping the last ones dimmed meanwhile', async () => {
  const { page } = session;
  const before = await page.evaluate(() => {
    // What the chart shows after every change of the state, from now on.
    globalThis.__chart = [];
    globalThis.sightlineTest.store.subscribe(() => {
      const chart = document.querySelector('.tabpanel:not([hidden]) .chart');
      globalThis.__chart.push({ drawn: Boolean(chart.querySelector('svg')), stale: chart.classList.contains('stale') });
    });
    return globalThis.sightlineTest.store.get().faithfulness.curves;
  });
  await page.click('.method-radio[value="gradient"] + .method-label');
  const { f, heading, explanation } = await pageCurves(page);
  const seen = await page.evaluate(() => globalThis.__chart);
  assert.ok(seen.every((c) => c.drawn), 'the last curves are never cleared');
  assert.ok(seen.some((c) => c.stale), 'they are dimmed while the new ones are computed');
  assert.equal(f.status, 'done', f.error);
  assert.equal(explanation.method, 'gradient');
  assert.match(heading, /^Deletion and insertion of the Gradient saliency map/);
  assert.notDeepEqual(f.curves.deletion, before.deletion, 'the gradient map has curves of its own');
  compareWithCli('gradient curves', f.curves, await cliCurves({ image: IMAGE, explanation }));
  assert.equal(await page.locator('.tabpanel:not([hidden]) .chart.stale').count(), 0);
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
