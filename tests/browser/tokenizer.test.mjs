// The browser's tokenization (tokenizers on wasm, fancy-regex) gives the same ids as transformers and
// as the native build (tests/preprocess.rs checks native against the same cases) for the real CLIP
// BPE tokenizer and the reduced one the test models use.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, launchBrowser, newPage, prepareDist, startServer } from './helpers.mjs';

let server;
let browser;

before(async () => {
  const fixtures = prepareDist();
  for (const name of ['clip', 'clip-1000']) {
    mkdirSync(join(fixtures, 'tokenizer', name), { recursive: true });
    cpSync(join(ROOT, 'tests/fixtures/tokenizer', name, 'tokenizer.json'), join(fixtures, 'tokenizer', name, 'tokenizer.json'));
  }
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

for (const [name, cases] of [['clip', 'cases.json'], ['clip-1000', 'cases-clip-1000.json']]) {
  test(`wasm tokenization of the ${name} tokenizer equals transformers' ids`, async () => {
    const expected = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/tokenizer', cases), 'utf8'));
    const { page, context } = await newPage(browser);
    await page.goto(`${server.origin}/docs/embed.html`);
    const ids = await page.evaluate(
      async ({ tokenizerUrl, texts }) => {
        const engine = await import('/engine.js');
        await engine.default();
        const bytes = new Uint8Array(await (await fetch(tokenizerUrl)).arrayBuffer());
        return JSON.parse(engine.tokenizeWith(bytes, texts));
      },
      { tokenizerUrl: `/test-fixtures/tokenizer/${name}/tokenizer.json`, texts: expected.texts },
    );
    assert.equal(ids.length, expected.texts.length);
    expected.texts.forEach((text, i) => assert.deepEqual(ids[i], expected.ids[i], `ids of ${JSON.stringify(text)}`));
    await context.close();
  });
}
