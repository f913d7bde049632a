// <sightline-explainer prompt=…> in a page of its own, with the random LLaVA checkpoint: each
// token of the answer is a `sightline-token` event as it streams, then `sightline-explained`
// carries the `sightline generate --method M --token K` JSON (the CLI's answer, ids, prompt and
// warnings; the explained token's maps within the parity tolerance), the default token is the
// first content word's, a contrast equals the CLI's, a CLIP model asked a question is an error, and
// nothing leaves the origin.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { artifact, assertClose, cliGenerate, DIST, launchBrowser, LLAVA_URL, newPage, prepareDist, prepareLlavaFixture, startServer } from './helpers.mjs';

const MAX_TOKENS = 32;
const TOKEN = 3;
/** Its answer starts with punctuation and a token holding part of a character: "?", "", "Y", … */
const FIRST_WORD_QUESTION = 'Where is the star?';

let server;
let browser;
let session;
let question;
let answer;
let contrast;

function recordEvents() {
  globalThis.__events = [];
  for (const type of ['sightline-token', 'sightline-explained', 'sightline-error']) {
    document.addEventListener(type, (event) => globalThis.__events.push({ type, id: event.target.id, detail: event.detail, at: performance.now() }));
  }
}

const escape = (text) => text.replace(/&/g, '&amp;').replace(/"/g, '&quot;');

before(async () => {
  const fixtures = prepareDist();
  question = prepareLlavaFixture();
  answer = await cliGenerate({ prompt: question, maxTokens: MAX_TOKENS });
  contrast = answer.tokens[TOKEN].top.slice(1).find((c) => /^ ?[a-z]+$/.test(c.text));
  assert.ok(contrast, 'a runner-up the CLI can name as text');
  const common = `image="llava-random-a/image.png" model="${LLAVA_URL}" prompt="${escape(question)}" max-tokens="${MAX_TOKENS}"`;
  writeFileSync(
    join(fixtures, 'ask-element.html'),
    `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sightline-explainer asks</title><link rel="icon" href="data:,">
<script type="module" src="../sightline.js"></script></head>
<body>
<sightline-explainer id="token" ${common} method="chefer" token="${TOKEN}"></sightline-explainer>
<sightline-explainer id="first-word" image="llava-random-a/image.png" model="${LLAVA_URL}" prompt="${FIRST_WORD_QUESTION}" max-tokens="${MAX_TOKENS}" method="gradient"></sightline-explainer>
<sightline-explainer id="contrast" ${common} method="chefer" token="${TOKEN}" contrast="${escape(contrast.text)}"></sightline-explainer>
<sightline-explainer id="clip" image="../examples/scene-32.png" prompt="What is red?"></sightline-explainer>
</body></html>
`,
  );
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  session = await newPage(browser, { viewport: { width: 1300, height: 900 }, colorScheme: 'light' });
  await session.context.addInitScript(recordEvents);
  await session.page.goto(`${server.origin}/test-fixtures/ask-element.html`);
  await session.page.waitForFunction(() => globalThis.__events.filter((e) => e.type !== 'sightline-token').length >= 4, null, { timeout: 90_000 });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const eventsOf = async (id) => (await session.page.evaluate(() => globalThis.__events)).filter((e) => e.id === id);

/** The element's explained JSON against the CLI's for the same request. */
function assertCliJson(detail, expected, k) {
  for (const field of ['method', 'prompt', 'prompt_ids', 'answer', 'input_size', 'patch_grid', 'crop', 'warnings']) assert.deepEqual(detail[field], expected[field], field);
  assert.deepEqual(detail.tokens.map((t) => t.id), expected.tokens.map((t) => t.id));
  assertClose('logits', detail.tokens.map((t) => t.logit), expected.tokens.map((t) => t.logit));
  detail.tokens.forEach((t, j) => assert.equal(Boolean(t.patch_scores), j === k, `only token ${k} is explained`));
  const [got, want] = [detail.tokens[k], expected.tokens[k]];
  assertClose('patch scores', got.patch_scores, want.patch_scores);
  assert.deepEqual(got.text_tokens, want.text_tokens);
  if (want.text_scores) assertClose('text scores', got.text_scores, want.text_scores);
  if (want.pixel_scores) assertClose('pixel scores', got.pixel_scores, want.pixel_scores);
  assert.deepEqual(got.contrast?.id, want.contrast?.id);
}

test('each token streams as an event, then the explained JSON equals sightline generate’s', async () => {
  const events = await eventsOf('token');
  const tokens = events.filter((e) => e.type === 'sightline-token');
  const explained = events.filter((e) => e.type === 'sightline-explained');
  assert.equal(explained.length, 1);
  assert.deepEqual(tokens.map((e) => e.detail.index), answer.tokens.map((_, k) => k));
  assert.deepEqual(tokens.map((e) => e.detail.id), answer.tokens.map((t) => t.id));
  assert.ok(tokens.every((e) => e.at <= explained[0].at), 'every token before the explanation');
  for (const field of ['text', 'logit', 'prob', 'top']) assert.ok(field in tokens[0].detail, `a token event has ${field}`);
  const expected = await cliGenerate({ prompt: question, maxTokens: MAX_TOKENS, method: 'chefer', token: TOKEN });
  assertCliJson(explained[0].detail, expected, TOKEN);
  const drawn = await session.page.evaluate(() => {
    const root = document.getElementById('token').shadowRoot;
    return { heat: !root.querySelector('sl-heatmap').shadowRoot.querySelector('canvas.heat').hidden, title: root.querySelector('.sx-title').textContent, marked: root.querySelector('.sx-answer mark')?.textContent, chips: root.querySelectorAll('.sl-chip').length };
  });
  assert.ok(drawn.heat, 'the map is drawn');
  assert.equal(drawn.marked, answer.tokens[TOKEN].text, 'the explained token is marked in the answer');
  assert.match(drawn.title, /^Chefer relevance · “/);
  assert.equal(drawn.chips, expected.tokens[TOKEN].text_tokens.length);
  await session.page.screenshot({ path: artifact('ask-element.png'), fullPage: true });
});

test('without a token attribute the first content word is explained', async () => {
  const [explained] = (await eventsOf('first-word')).filter((e) => e.type === 'sightline-explained');
  const k = explained.detail.tokens.findIndex((t) => t.patch_scores);
  const tokens = explained.detail.tokens;
  assert.ok(k > 0, `the answer does not start with a word: ${JSON.stringify(tokens.map((t) => t.text))}`);
  assert.match(tokens[k].text, /[A-Za-z0-9]/, 'a token with letters or digits');
  assert.ok(tokens.slice(0, k).every((t) => !/[A-Za-z0-9]/.test(t.text)), 'nothing with letters or digits before it');
  assertCliJson(explained.detail, await cliGenerate({ prompt: FIRST_WORD_QUESTION, maxTokens: MAX_TOKENS, method: 'gradient', token: k }), k);
});

test('contrast="…" gives the CLI’s --contrast map', async () => {
  const [explained] = (await eventsOf('contrast')).filter((e) => e.type === 'sightline-explained');
  const expected = await cliGenerate({ prompt: question, maxTokens: MAX_TOKENS, method: 'chefer', token: TOKEN, contrast: contrast.text });
  assert.equal(explained.detail.tokens[TOKEN].contrast.id, contrast.id);
  assertCliJson(explained.detail, expected, TOKEN);
  const title = await session.page.evaluate(() => document.getElementById('contrast').shadowRoot.querySelector('.sx-title').textContent);
  assert.match(title, /rather than/);
});

test('a question to a CLIP model is an error that says what to do', async () => {
  const [failed] = await eventsOf('clip');
  assert.equal(failed.type, 'sightline-error');
  assert.match(failed.detail.message, /cannot answer a question/);
});

test('nothing leaves the origin, nothing goes wrong', async () => {
  assert.deepEqual(session.requests.filter((url) => new URL(url).origin !== server.origin), []);
  assert.deepEqual(session.problems, []);
});
