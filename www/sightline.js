// <sightline-explainer>: an explanation in any page, from one script tag.
//
//   <script type="module" src="https://your.site/sightline/sightline.js"></script>
//   <sightline-explainer image="cat.jpg" text="a photo of a cat|a photo of a dog"
//                        method="chefer" target="0"></sightline-explainer>
//
//   <sightline-explainer image="scene.png" prompt="What colour is the square?" method="chefer"
//                        model="models/llava/"></sightline-explainer>
//
// Attributes: image (URL), text (one text, or several separated by "|": CLIP's labels) or prompt (a
// question to a generative model, which answers it; the map is of one token of the answer), method
// (default chefer), target (index or one of the texts; default 0), backend (auto: WebGPU on a
// hardware adapter, else the CPU; webgpu: WebGPU whenever the browser has it, and the CPU with a
// visible notice when not; cpu), model ("default" or a model folder or .gguf URL), and optionally
// colormap, opacity, steps, seed, head-fusion, discard-ratio. With prompt: max-tokens (the longest
// answer, default 32), token (which answer token to explain, from 0; default the first content
// word's first token with a letter or digit) and contrast (a token of the vocabulary: the map of "why the token rather
// than this one").
//
// Events (bubbling, composed): `sightline-explained` with the explanation JSON as `detail` (the
// CLI's contract: `sightline explain --json`, or with prompt `sightline generate --json` with
// --method and --token), `sightline-token` with each token of an answer as it streams (`{index,
// id, text, logit, prob, top}`), `sightline-error` with `{ message }`. The engine (engine.js,
// worker.js) is found next to this module, so the script tag is all a page needs. Elements using
// the same model and backend share one engine worker.

import './heatmap-element.js';
import { firstContentToken } from './answer-words.js';
import { EngineClient } from './client.js';
import { engineBitmap } from './image-pixels.js';
import { explanationGrid, formatProbability, formatValue } from './heatmap.js';
import { localEngineReady } from './local-engine.js';
import { methodById } from './methods.js';
import { modelLabel, normalizeModelUrl } from './models.js';
import { renderTokenChips } from './tokens.js';

const STYLESHEET = new URL('./sightline-element.css', import.meta.url).href;
const BACKENDS = ['auto', 'cpu', 'webgpu'];

/** One engine per model and backend, shared by every element of the page. */
const engines = new Map();

/** `{ client, ready }`: the client decodes images at once; `ready` resolves to `{ client, info }`
 * once the model is loaded. */
function engineFor(model, backend) {
  const source = !model || model === 'default' ? 'default' : normalizeModelUrl(model, document.baseURI);
  const key = `${backend} ${source}`;
  if (!engines.has(key)) {
    const client = new EngineClient({ backend });
    const ready = (async () => {
      const { defaultModel, info } = await client.init();
      if (source === 'default') {
        if (!defaultModel.available) throw new Error(defaultModel.message);
        return { client, info };
      }
      return { client, info: await client.load({ kind: 'url', url: source }) };
    })();
    ready.catch(() => engines.delete(key));
    engines.set(key, { client, ready });
  }
  return engines.get(key);
}

export class SightlineExplainer extends HTMLElement {
  static observedAttributes = ['image', 'text', 'prompt', 'method', 'target', 'backend', 'model', 'colormap', 'opacity', 'steps', 'seed', 'head-fusion', 'discard-ratio', 'max-tokens', 'token', 'contrast'];

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = STYLESHEET;
    const make = (tag, className, attrs = {}) => {
      const node = document.createElement(tag);
      node.className = className;
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      return node;
    };
    this.figure = make('figure', 'sx', { part: 'figure' });
    this.heatmap = make('sl-heatmap', 'sx-map', { interactive: '', legend: '', part: 'heatmap' });
    this.heatmap.placeholderText = 'Loading…';
    this.caption = make('figcaption', 'sx-caption', { part: 'caption' });
    this.titleEl = make('p', 'sx-title');
    this.answerEl = make('p', 'sx-answer', { part: 'answer' });
    this.answerEl.hidden = true;
    this.chips = make('div', 'sx-chips');
    this.notice = make('p', 'sx-notice', { role: 'status' });
    this.meta = make('p', 'sx-meta');
    this.status = make('p', 'sx-status', { role: 'status', 'aria-live': 'polite' });
    this.error = make('p', 'sx-error', { role: 'alert' });
    this.notice.hidden = this.error.hidden = true;
    this.caption.append(this.titleEl, this.answerEl, this.chips, this.notice, this.meta, this.status, this.error);
    this.figure.append(this.heatmap, this.caption);
    root.append(link, this.figure);
    this.serial = 0;
    this.explanation = null;
    this.scheduled = false;
  }

  connectedCallback() {
    this.schedule();
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (oldValue === newValue) return;
    if ((name === 'opacity' || name === 'colormap') && this.explanation) {
      this.draw();
      return;
    }
    this.schedule();
  }

  schedule() {
    if (this.scheduled || !this.isConnected) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.run();
    });
  }

  /** The attributes as a request; throws on values that cannot work. */
  request() {
    const image = this.getAttribute('image');
    if (!image) throw new Error('The image attribute is missing.');
    const prompt = this.getAttribute('prompt')?.trim();
    if (prompt !== undefined && this.hasAttribute('text')) throw new Error('Give either text (labels for a CLIP model) or prompt (a question for a generative model), not both.');
    if (prompt === '') throw new Error('The prompt attribute is empty: give a question about the image.');
    const texts = (this.getAttribute('text') ?? '').split('|').map((t) => t.trim()).filter(Boolean);
    if (!prompt && !texts.length) throw new Error('The text attribute is missing: give one text, or several separated by "|" (or a question in prompt, for a generative model).');
    const backend = (this.getAttribute('backend') ?? 'auto').trim().toLowerCase();
    if (!BACKENDS.includes(backend)) throw new Error(`Unknown backend "${backend}": use auto, cpu or webgpu.`);
    const method = (this.getAttribute('method') ?? 'chefer').trim();
    const options = prompt ? { method } : { texts, target: this.target(texts), method };
    const number = (name, key, check = Number.isFinite, rule = 'a number') => {
      if (!this.hasAttribute(name)) return undefined;
      const value = Number(this.getAttribute(name));
      if (this.getAttribute(name).trim() === '' || !check(value)) throw new Error(`The ${name} attribute must be ${rule}.`);
      if (key) options[key] = value;
      return value;
    };
    const whole = (v) => Number.isSafeInteger(v) && v >= 0;
    number('steps', 'steps');
    number('seed', 'seed');
    number('discard-ratio', 'discardRatio');
    if (this.hasAttribute('head-fusion')) options.headFusion = this.getAttribute('head-fusion');
    const request = { imageUrl: new URL(image, document.baseURI).href, backend, model: this.getAttribute('model') ?? 'default', options };
    if (!prompt) return request;
    return {
      ...request,
      prompt,
      maxTokens: number('max-tokens', null, (v) => whole(v) && v >= 1, 'a whole number of tokens, 1 or more') ?? 32,
      token: number('token', null, whole, 'an answer token’s index (0, 1, …)') ?? null,
      contrast: this.getAttribute('contrast') ?? null,
    };
  }

  target(texts) {
    const targetAttr = (this.getAttribute('target') ?? '0').trim();
    const target = /^\d+$/.test(targetAttr) ? Number(targetAttr) : texts.indexOf(targetAttr);
    if (target < 0 || target >= texts.length) throw new Error(`The target "${targetAttr}" is neither an index below ${texts.length} nor one of the texts.`);
    return target;
  }

  async run() {
    const serial = ++this.serial;
    const current = () => serial === this.serial;
    this.error.hidden = true;
    let request;
    try {
      request = this.request();
    } catch (error) {
      this.fail(error);
      return;
    }
    this.setStatus('Loading the model…');
    try {
      const { client, ready } = engineFor(request.model, request.backend);
      // The image shows as soon as it is here, even when the model then fails.
      const imageReady = this.loadImage(request.imageUrl, client).then((image) => {
        if (current()) {
          this.image = image;
          this.heatmap.hidden = false;
          this.heatmap.image = image.bitmap;
        }
        return image;
      });
      imageReady.catch(() => {});
      const [{ client: engine, info }, image] = await Promise.all([ready, imageReady]);
      if (!current()) return;
      const generative = info.family === 'llava';
      if (request.prompt && !generative) throw new Error(`The ${this.describeModel(request)} labels images (a CLIP model) and cannot answer a question: give a generative (LLaVA) model in the model attribute, or labels in text instead of prompt.`);
      if (!request.prompt && generative) throw new Error(`The ${this.describeModel(request)} answers questions (a generative model): give a question in the prompt attribute instead of text.`);
      if (request.prompt) {
        await this.ask(request, engine, info, image, current);
        return;
      }
      this.answerEl.hidden = true;
      this.setStatus('Explaining…');
      const explanation = await engine.explain({ key: image.url, bytes: image.bytes }, request.options, {
        onProgress: ({ done, total }) => current() && this.setStatus(`Explaining… ${done} of ${total}`),
      });
      if (!current()) return;
      const warnings = [...(explanation.warnings ?? [])];
      let notice = '';
      if (request.backend === 'webgpu' && explanation.backend !== 'webgpu') {
        notice = info.backendNotice ?? 'WebGPU was requested but could not be used: the CPU (WebAssembly) backend ran instead.';
        if (!warnings.includes(notice)) warnings.push(notice);
      }
      this.explanation = { ...explanation, warnings };
      this.notice.textContent = notice;
      this.notice.hidden = !notice;
      this.engine = engine;
      this.modelName = this.describeModel(request);
      await this.draw();
      if (!current()) return;
      this.setStatus('');
      this.dispatchEvent(new CustomEvent('sightline-explained', { detail: this.explanation, bubbles: true, composed: true }));
    } catch (error) {
      if (current()) this.fail(error);
    }
  }

  describeModel(request) {
    return request.model === 'default' ? modelLabel({ kind: 'default' }) : modelLabel({ kind: 'url', url: normalizeModelUrl(request.model, document.baseURI) });
  }

  /**
   * A generative model answers the prompt, each token shown and announced (`sightline-token`) as
   * it streams; then one token of the answer is explained: its generate JSON is the event's detail.
   */
  async ask(request, engine, info, image, current) {
    const imageArg = { key: image.url, bytes: image.bytes };
    const tokens = [];
    this.explanation = null;
    this.answerEl.hidden = false;
    this.answerEl.replaceChildren();
    this.setStatus('Answering…');
    const generated = await engine.generate(imageArg, { prompt: request.prompt, maxTokens: request.maxTokens, seed: request.options.seed }, {
      onToken: (token) => {
        if (!current()) return;
        tokens.length = token.index;
        tokens.push(token);
        this.showAnswer(tokens, null);
        this.dispatchEvent(new CustomEvent('sightline-token', { detail: token, bubbles: true, composed: true }));
      },
    });
    if (!current()) return;
    const answer = generated.tokens;
    if (!answer.length) throw new Error('The model’s answer has no tokens to explain.');
    let token = request.token;
    if (token === null) token = firstContentToken(answer);
    if (token >= answer.length) throw new Error(`The token attribute asks for token ${token}, but the answer has ${answer.length} tokens (counting from 0).`);
    this.setStatus('Explaining…');
    const { method, ...options } = request.options;
    const explained = await engine.generate(
      imageArg,
      { prompt: request.prompt, answer: answer.map((t) => t.id), maxTokens: answer.length, token, method, ...options, ...(request.contrast ? { contrast: request.contrast } : {}) },
      { onProgress: ({ done, total }) => current() && this.setStatus(`Explaining… ${done} of ${total}`) },
    );
    if (!current()) return;
    const warnings = [...new Set([...generated.warnings, ...explained.warnings])];
    let notice = '';
    if (request.backend === 'webgpu' && explained.backend !== 'webgpu') {
      notice = info.backendNotice ?? 'WebGPU was requested but could not be used: the CPU (WebAssembly) backend ran instead.';
      if (!warnings.includes(notice)) warnings.push(notice);
    }
    this.notice.textContent = notice;
    this.notice.hidden = !notice;
    this.explanation = { ...explained, warnings };
    this.explainedToken = token;
    this.engine = engine;
    this.modelName = this.describeModel(request);
    await this.draw();
    if (!current()) return;
    this.setStatus('');
    this.dispatchEvent(new CustomEvent('sightline-explained', { detail: this.explanation, bubbles: true, composed: true }));
  }

  /** The answer so far, the explained token marked. */
  showAnswer(tokens, explained) {
    this.answerEl.replaceChildren(
      ...tokens.map((t) => {
        const span = document.createElement(t.index === explained ? 'mark' : 'span');
        span.className = 'sx-token';
        span.textContent = t.text;
        span.title = `token ${t.index}: p = ${formatProbability(t.prob)}`;
        return span;
      }),
    );
  }

  /** The image's bytes, and the engine's pixels of them to draw (the pixels it explains). */
  async loadImage(url, client) {
    let response;
    try {
      response = await fetch(url);
    } catch (error) {
      throw new Error(`Could not load the image ${url} (${error.message}).`);
    }
    if (!response.ok) throw new Error(`Could not load the image ${url}: HTTP ${response.status} ${response.statusText}.`.replace(/ \./, '.'));
    const bytes = new Uint8Array(await response.arrayBuffer());
    let bitmap;
    try {
      bitmap = await engineBitmap(client, { key: url, bytes });
    } catch (error) {
      throw new Error(`The file at ${url} is not an image Sightline can read (${error.message}).`);
    }
    return { url, bytes, bitmap };
  }

  async draw() {
    const e = this.explanation;
    if (!e || !this.engine) return;
    const colormap = this.getAttribute('colormap') ?? 'auto';
    const opacity = Math.min(1, Math.max(0, Number(this.getAttribute('opacity') ?? 0.55) || 0));
    await localEngineReady;
    if (e.tokens) {
      this.drawAnswer(e, colormap, opacity);
      return;
    }
    this.heatmap.map = { grid: explanationGrid(e, 'patches'), crop: e.crop, patchGrid: e.patch_grid, patchValues: e.patch_scores, colormap };
    this.heatmap.opacity = opacity;
    const text = e.texts[e.target];
    const method = methodById(e.method)?.label ?? e.method;
    this.heatmap.setAttribute('label', `${method} heatmap for “${text}”`);
    const p = e.probs?.[e.target];
    this.titleEl.textContent = `${method} · “${text}” · ${p !== undefined ? `p = ${formatProbability(p)}` : `logit ${formatValue(e.score)}`}`;
    renderTokenChips(this.chips, { tokens: e.text_tokens, scores: e.text_scores ?? null, colormap });
    this.meta.textContent = `${this.modelName} · ${e.backend} · ${formatValue(e.timings_ms?.total ?? 0)} ms`;
  }

  /** A generate JSON: the explained token's map, the answer with the token marked, its text scores. */
  drawAnswer(e, colormap, opacity) {
    const token = e.tokens[this.explainedToken];
    const grid = { rows: e.patch_grid[0], cols: e.patch_grid[1], values: token.patch_scores, kind: 'patches' };
    this.heatmap.map = { grid, crop: e.crop, patchGrid: e.patch_grid, patchValues: token.patch_scores, colormap };
    this.heatmap.opacity = opacity;
    const method = methodById(e.method)?.label ?? e.method;
    const word = `“${token.text.trim() || token.text}”`;
    const subject = token.contrast ? `why ${word} rather than “${token.contrast.text.trim() || token.contrast.text}”` : word;
    this.heatmap.setAttribute('label', `${method} heatmap for ${subject}`);
    this.titleEl.textContent = `${method} · ${subject} · p = ${formatProbability(token.prob)}${token.contrast ? ` vs ${formatProbability(token.contrast.prob)}` : ''}`;
    this.showAnswer(e.tokens, this.explainedToken);
    renderTokenChips(this.chips, { tokens: token.text_tokens ?? [], scores: token.text_scores ?? null, colormap, spaced: 'leading-space' });
    this.meta.textContent = `${this.modelName} · ${e.backend} · ${formatValue(e.timings_ms?.total ?? 0)} ms`;
  }

  setStatus(text) {
    this.status.textContent = text;
    this.status.hidden = !text;
  }

  fail(error) {
    const message = error?.message ?? String(error);
    this.setStatus('');
    this.error.textContent = message;
    this.error.hidden = false;
    // Without an image there is nothing to show but the message.
    this.heatmap.hidden = !this.heatmap.image;
    this.dispatchEvent(new CustomEvent('sightline-error', { detail: { message }, bubbles: true, composed: true }));
  }
}

if (!customElements.get('sightline-explainer')) customElements.define('sightline-explainer', SightlineExplainer);
