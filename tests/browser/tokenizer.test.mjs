// The browser's tokenization (tokenizers on wasm, fancy-regex), on the path explanations take
// (Engine.tokenize of a loaded model), gives the same ids as transformers and as the native build
// (tests/preprocess.rs checks native against the same cases), for the real CLIP BPE tokenizer and
// the reduced one the test models use. Each tokenizer goes into a copy of the random test model
// whose token and position tables are widened to fit it; empty texts are refused, as the engine
// refuses them everywhere.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { appUrl, FIXTURE_MODEL, FIXTURE_URL_PATH, launchBrowser, newPage, prepareDist, ROOT, startServer } from './helpers.mjs';

/** CLIP's own text length: every case fits without truncation. */
const POSITIONS = 77;
let server;
let browser;

/** A safetensors file with the f32 tensors `replaced` ({name: shape}) set to zeros of that shape. */
function withZeroTensors(bytes, replaced) {
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  const data = bytes.subarray(8 + headerLength);
  const parts = [];
  const out = {};
  let offset = 0;
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      out[name] = entry;
      continue;
    }
    const shape = replaced[name] ?? entry.shape;
    const part = replaced[name] ? Buffer.alloc(shape.reduce((a, b) => a * b, 1) * 4) : data.subarray(...entry.data_offsets);
    out[name] = { dtype: entry.dtype, shape, data_offsets: [offset, offset + part.length] };
    parts.push(part);
    offset += part.length;
  }
  const json = Buffer.from(JSON.stringify(out));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, ...parts]);
}

/** The random test model with `tokenizer` (a tokenizer.json path), served under test-fixtures/. */
function modelWithTokenizer(fixtures, name, tokenizerPath) {
  const tokenizer = JSON.parse(readFileSync(tokenizerPath, 'utf8'));
  const ids = [...Object.values(tokenizer.model.vocab), ...tokenizer.added_tokens.map((t) => t.id)];
  const vocab = Math.max(...ids) + 1;
  const config = JSON.parse(readFileSync(join(FIXTURE_MODEL, 'config.json'), 'utf8'));
  config.text_config.vocab_size = vocab;
  config.text_config.max_position_embeddings = POSITIONS;
  const width = config.text_config.hidden_size;
  const weights = withZeroTensors(readFileSync(join(FIXTURE_MODEL, 'model.safetensors')), {
    'text_model.embeddings.token_embedding.weight': [vocab, width],
    'text_model.embeddings.position_embedding.weight': [POSITIONS, width],
  });
  const dir = join(fixtures, 'tokenizer-models', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  writeFileSync(join(dir, 'model.safetensors'), weights);
  writeFileSync(join(dir, 'tokenizer.json'), readFileSync(tokenizerPath));
  return `${FIXTURE_URL_PATH}tokenizer-models/${name}/`;
}

const CASES = [
  ['clip', 'cases.json'],
  ['clip-1000', 'cases-clip-1000.json'],
];
const models = {};

before(async () => {
  const fixtures = prepareDist();
  for (const [name] of CASES) models[name] = modelWithTokenizer(fixtures, name, join(ROOT, 'tests/fixtures/tokenizer', name, 'tokenizer.json'));
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

for (const [name, cases] of CASES) {
  test(`wasm tokenization of the ${name} tokenizer equals transformers' ids`, async () => {
    const expected = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/tokenizer', cases), 'utf8'));
    const { page, context } = await newPage(browser);
    await page.goto(appUrl(server.origin));
    await page.waitForFunction(() => globalThis.sightlineTest?.store.get().engine.status === 'ready', null, { timeout: 30_000 });
    const answers = await page.evaluate(
      async ({ url, texts }) => {
        const { engine } = globalThis.sightlineTest;
        await engine.load({ kind: 'url', url: new URL(url, location.href).href });
        const out = [];
        for (const text of texts) out.push(await engine.tokenize(text).then(({ ids, warning }) => ({ ids, warning }), (e) => ({ error: e.message })));
        return out;
      },
      { url: models[name], texts: expected.texts },
    );
    assert.equal(answers.length, expected.texts.length);
    let compared = 0;
    expected.texts.forEach((text, i) => {
      if (!text.trim()) {
        assert.match(answers[i].error ?? '', /the text is empty/, `the empty text ${JSON.stringify(text)} is refused`);
        return;
      }
      assert.equal(answers[i].error, undefined, `${JSON.stringify(text)}: ${answers[i].error}`);
      assert.equal(answers[i].warning, null, `${JSON.stringify(text)} is not truncated`);
      assert.deepEqual(answers[i].ids, expected.ids[i], `ids of ${JSON.stringify(text)}`);
      compared++;
    });
    assert.ok(compared >= expected.texts.length - 2, `${compared} texts compared`);
    await context.close();
  });
}
