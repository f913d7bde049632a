// <sightline-explainer>: an explanation in any page, from one script tag.
//
//   <script type="module" src="https://your.site/sightline/sightline.js"></script>
//   <sightline-explainer image="cat.jpg" text="a photo of a cat|a photo of a dog"
//                        method="chefer" target="0"></sightline-explainer>
//
// Attributes: image (URL), text (one text, or several separated by "|"), method (default chefer),
// target (index or one of the texts; default 0), backend (auto: WebGPU on a hardware adapter, else
// the CPU; webgpu: WebGPU whenever the browser has it, and the CPU with a visible notice when not;
// cpu), model ("default" or a model folder URL), and optionally colormap, opacity, steps, seed,
// head-fusion, discard-ratio.
//
// Events (bubbling, composed): `sightline-explained` with the explanation JSON as `detail` (the
// CLI's contract), `sightline-error` with `{ message }`. The engine (engine.js, worker.js) is found
// next to this module, so the script tag is all a page needs. Elements using the same model and
// backend share one engine worker.

import './heatmap-element.js';
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
  static observedAttributes = ['image', 'text', 'method', 'target', 'backend', 'model', 'colormap', 'opacity', 'steps', 'seed', 'head-fusion', 'discard-ratio'];

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
    this.chips = make('div', 'sx-chips');
    this.notice = make('p', 'sx-notice', { role: 'status' });
    this.meta = make('p', 'sx-meta');
    this.status = make('p', 'sx-status', { role: 'status', 'aria-live': 'polite' });
    this.error = make('p', 'sx-error', { role: 'alert' });
    this.notice.hidden = this.error.hidden = true;
    this.caption.append(this.titleEl, this.chips, this.notice, this.meta, this.status, this.error);
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
    const texts = (this.getAttribute('text') ?? '').split('|').map((t) => t.trim()).filter(Boolean);
    if (!texts.length) throw new Error('The text attribute is missing: give one text, or several separated by "|".');
    const backend = (this.getAttribute('backend') ?? 'auto').trim().toLowerCase();
    if (!BACKENDS.includes(backend)) throw new Error(`Unknown backend "${backend}": use auto, cpu or webgpu.`);
    const targetAttr = (this.getAttribute('target') ?? '0').trim();
    let target = /^\d+$/.test(targetAttr) ? Number(targetAttr) : texts.indexOf(targetAttr);
    if (target < 0 || target >= texts.length) throw new Error(`The target "${targetAttr}" is neither an index below ${texts.length} nor one of the texts.`);
    const options = { texts, target, method: (this.getAttribute('method') ?? 'chefer').trim() };
    const number = (name, key, parse = Number) => {
      if (!this.hasAttribute(name)) return;
      const value = parse(this.getAttribute(name));
      if (!Number.isFinite(value)) throw new Error(`The ${name} attribute must be a number.`);
      options[key] = value;
    };
    number('steps', 'steps');
    number('seed', 'seed');
    number('discard-ratio', 'discardRatio');
    if (this.hasAttribute('head-fusion')) options.headFusion = this.getAttribute('head-fusion');
    return { imageUrl: new URL(image, document.baseURI).href, backend, model: this.getAttribute('model') ?? 'default', options };
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
      this.modelName = request.model === 'default' ? modelLabel({ kind: 'default' }) : modelLabel({ kind: 'url', url: normalizeModelUrl(request.model, document.baseURI) });
      await this.draw();
      if (!current()) return;
      this.setStatus('');
      this.dispatchEvent(new CustomEvent('sightline-explained', { detail: this.explanation, bubbles: true, composed: true }));
    } catch (error) {
      if (current()) this.fail(error);
    }
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
