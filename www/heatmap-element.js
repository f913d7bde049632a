// <sl-heatmap>: an image at full resolution with a score map painted over the crop rectangle the
// model saw (smoothly upsampled, the rest dimmed), an optional colour-bar legend, and — with the
// `interactive` attribute — a patch readout on hover or with the arrow keys. With `selectable`,
// a click, Enter or Space on a patch dispatches `patch-select` ({row, col, index}). The
// `resolution` attribute sets the side of the painted heat layer in pixels (default 512).
//
//   heatmap.image = imageBitmap;                  // anything drawImage takes, with width/height
//   heatmap.map = { grid: {rows, cols, values}, crop, patchGrid: [r, c], patchValues, colormap };
//   heatmap.opacity = 0.55;
//
// `colormap` is 'auto' (the CLI's choice) or a name; the scale and the colours are the engine's
// (heatmap.js), and a map set before the engine is ready is painted once it is. Used by the app's
// views and by <sightline-explainer>; styles come from heatmap.css next to this module (a
// stylesheet link, so a strict Content-Security-Policy is fine).

import { fitScale, formatValue, legendColours, outsideCropBrightness, paintHeat, snapCrop } from './heatmap.js';
import { engineFacts, localEngineReady } from './local-engine.js';

const STYLESHEET = new URL('./heatmap.css', import.meta.url).href;
const HEAT_TARGET_SIDE = 512;
const HEAT_MAX_SIDE = 1024;

export class HeatmapElement extends HTMLElement {
  static observedAttributes = ['interactive', 'selectable', 'legend', 'label'];

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = STYLESHEET;
    this.frame = el('div', 'frame');
    this.frame.setAttribute('part', 'frame');
    this.base = el('canvas', 'base');
    this.heat = el('canvas', 'heat');
    this.marker = el('div', 'marker');
    this.cursor = el('div', 'cursor');
    this.tip = el('div', 'tip');
    this.tip.setAttribute('aria-live', 'polite');
    this.placeholder = el('div', 'placeholder');
    this.marker.hidden = this.cursor.hidden = this.tip.hidden = true;
    this.frame.append(this.base, this.heat, this.marker, this.cursor, this.tip, this.placeholder);
    this.legendBox = el('div', 'legend');
    this.legendBar = el('canvas', 'bar');
    this.legendBar.width = 256;
    this.legendBar.height = 1;
    this.legendLabels = el('div', 'labels');
    this.legendBox.append(this.legendBar, this.legendLabels);
    this.legendBox.hidden = true;
    root.append(link, this.frame, this.legendBox);

    this._image = null;
    this._map = null;
    this._scale = null;
    this._opacity = 0.55;
    this._cursorCell = null;
    this._markedCell = null;
    this.frame.addEventListener('pointermove', (e) => this.onPointer(e));
    this.frame.addEventListener('pointerleave', () => this.hideCursor());
    this.frame.addEventListener('click', (e) => this.onClick(e));
    this.frame.addEventListener('keydown', (e) => this.onKey(e));
    this.frame.addEventListener('focus', () => this.onFocus());
    this.frame.addEventListener('blur', () => this.hideCursor());
  }

  attributeChangedCallback() {
    this.updateFocusability();
    this.legendBox.hidden = !this.hasAttribute('legend') || !this._scale || this._scale.degenerate;
    this.frame.setAttribute('aria-label', this.getAttribute('label') ?? 'heatmap');
  }

  connectedCallback() {
    this.frame.setAttribute('role', 'img');
    this.attributeChangedCallback();
  }

  updateFocusability() {
    const interactive = this.hasAttribute('interactive') || this.hasAttribute('selectable');
    if (interactive) {
      this.frame.tabIndex = 0;
      this.frame.setAttribute('role', 'application');
      this.frame.setAttribute('aria-roledescription', 'heatmap');
    } else {
      this.frame.removeAttribute('tabindex');
      this.frame.setAttribute('role', 'img');
      this.frame.removeAttribute('aria-roledescription');
    }
  }

  set placeholderText(text) {
    this.placeholder.textContent = text ?? '';
    this.placeholder.hidden = !text;
  }

  get image() {
    return this._image;
  }

  set image(image) {
    this._image = image;
    this.redraw();
  }

  get map() {
    return this._map;
  }

  /** `{grid, crop, patchGrid, patchValues, colormap?, valueLabel?}`; null clears the map. */
  set map(map) {
    this._map = map;
    this._scale = null;
    this.redraw();
  }

  /** Whether the image is drawn with square pixels (small images are). */
  get pixelated() {
    return this.base.classList.contains('pixelated');
  }

  /** The colour scale the map is drawn with (the engine's), or null. */
  get scale() {
    return this._scale;
  }

  redraw() {
    if (this._map && !this._scale) {
      if (engineFacts()) {
        this._scale = fitScale(this._map.grid.values, this._map.colormap);
      } else {
        // The engine is still starting: paint once it is there (unless the map changed by then).
        const map = this._map;
        localEngineReady.then(() => this._map === map && this.redraw(), () => {});
      }
    }
    this.drawBase();
    this.drawHeat();
    this.drawLegend();
    this.placeMarker();
    if (this._cursorCell) this.showCell(this._cursorCell);
  }

  get opacity() {
    return this._opacity;
  }

  set opacity(value) {
    this._opacity = Number(value);
    this.heat.style.opacity = String(this._opacity);
  }

  /** Outlines one patch (the attention explorer's query), or none. */
  set markedCell(cell) {
    this._markedCell = cell;
    this.placeMarker();
  }

  /** The image size and the crop rectangle in image pixels. */
  geometry() {
    const image = this._image;
    if (!image) return null;
    const width = image.naturalWidth || image.width;
    const height = image.naturalHeight || image.height;
    // Until the engine has fitted the map's scale (it may still be starting), the map is not drawn.
    const crop = this._scale ? snapCrop(this._map.crop, width, height) : { x: 0, y: 0, width, height };
    return { width, height, crop };
  }

  drawBase() {
    const g = this.geometry();
    if (!g) return;
    const { width, height, crop } = g;
    const canvas = this.base;
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    this.frame.style.aspectRatio = `${width} / ${height}`;
    canvas.classList.toggle('pixelated', Math.max(width, height) < 200);
    const ctx = canvas.getContext('2d');
    ctx.clearRect(0, 0, width, height);
    ctx.drawImage(this._image, 0, 0, width, height);
    if (this._scale) {
      ctx.fillStyle = `rgba(0, 0, 0, ${1 - outsideCropBrightness()})`;
      ctx.beginPath();
      ctx.rect(0, 0, width, height);
      ctx.rect(crop.x, crop.y, crop.width, crop.height);
      ctx.fill('evenodd');
    }
    this.placeholderText = null;
  }

  drawHeat() {
    const g = this.geometry();
    const map = this._map;
    const heat = this.heat;
    if (!g || !map || !this._scale) {
      heat.hidden = true;
      return;
    }
    const { width, height, crop } = g;
    const side = Math.max(crop.width, crop.height);
    const target = Number(this.getAttribute('resolution')) || HEAT_TARGET_SIDE;
    const factor = Math.max(1, Math.min(Math.ceil(target / side), Math.floor(HEAT_MAX_SIDE / side) || 1));
    const w = Math.min(crop.width * factor, HEAT_MAX_SIDE);
    const h = Math.min(crop.height * factor, HEAT_MAX_SIDE);
    heat.width = w;
    heat.height = h;
    heat.getContext('2d').putImageData(paintHeat(map.grid, w, h, map.colormap), 0, 0);
    heat.style.left = `${(100 * crop.x) / width}%`;
    heat.style.top = `${(100 * crop.y) / height}%`;
    heat.style.width = `${(100 * crop.width) / width}%`;
    heat.style.height = `${(100 * crop.height) / height}%`;
    heat.style.opacity = String(this._opacity);
    heat.hidden = false;
  }

  drawLegend() {
    const scale = this._scale;
    const show = this.hasAttribute('legend') && scale && !scale.degenerate;
    this.legendBox.hidden = !show;
    if (!show) return;
    const rgb = legendColours(this._map.grid.values, this._map.colormap, 256);
    const row = new ImageData(256, 1);
    for (let i = 0; i < 256; i++) row.data.set([rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2], 255], i * 4);
    this.legendBar.getContext('2d').putImageData(row, 0, 0);
    const labels = [formatValue(scale.min)];
    if (scale.signed) labels.push('0');
    labels.push(formatValue(scale.max));
    this.legendLabels.replaceChildren(...labels.map((text) => el('span', '', text)));
    this.legendBox.setAttribute('aria-label', `colour scale ${scale.colormap}, from ${labels[0]} to ${labels.at(-1)}`);
    this.legendBox.setAttribute('role', 'img');
  }

  /** The patch under a pointer event, or null outside the crop. */
  cellAt(event) {
    const g = this.geometry();
    const grid = this._map?.patchGrid;
    if (!g || !grid) return null;
    const rect = this.frame.getBoundingClientRect();
    const x = ((event.clientX - rect.left) / rect.width) * g.width;
    const y = ((event.clientY - rect.top) / rect.height) * g.height;
    const { crop } = g;
    if (x < crop.x || y < crop.y || x >= crop.x + crop.width || y >= crop.y + crop.height) return null;
    const [rows, cols] = grid;
    const col = Math.min(cols - 1, Math.floor(((x - crop.x) / crop.width) * cols));
    const row = Math.min(rows - 1, Math.floor(((y - crop.y) / crop.height) * rows));
    return { row, col, index: row * cols + col };
  }

  onPointer(event) {
    if (!this.hasAttribute('interactive') && !this.hasAttribute('selectable')) return;
    const cell = this.cellAt(event);
    if (cell) this.showCell(cell, event);
    else this.hideCursor();
  }

  onClick(event) {
    if (!this.hasAttribute('selectable')) return;
    const cell = this.cellAt(event);
    if (cell) this.select(cell);
  }

  onFocus() {
    if (!this._map?.patchGrid) return;
    const [rows, cols] = this._map.patchGrid;
    const cell = this._markedCell ?? this._cursorCell ?? { row: rows >> 1, col: cols >> 1 };
    this.showCell({ ...cell, index: cell.row * cols + cell.col });
  }

  onKey(event) {
    const grid = this._map?.patchGrid;
    if (!grid) return;
    const [rows, cols] = grid;
    const cell = this._cursorCell ?? { row: rows >> 1, col: cols >> 1 };
    let { row, col } = cell;
    switch (event.key) {
      case 'ArrowLeft': col = Math.max(0, col - 1); break;
      case 'ArrowRight': col = Math.min(cols - 1, col + 1); break;
      case 'ArrowUp': row = Math.max(0, row - 1); break;
      case 'ArrowDown': row = Math.min(rows - 1, row + 1); break;
      case 'Home': row = 0; col = 0; break;
      case 'End': row = rows - 1; col = cols - 1; break;
      case 'Enter':
      case ' ':
        if (this.hasAttribute('selectable')) {
          event.preventDefault();
          this.select({ row, col, index: row * cols + col });
        }
        return;
      case 'Escape':
        this.hideCursor();
        return;
      default:
        return;
    }
    event.preventDefault();
    this.showCell({ row, col, index: row * cols + col });
  }

  select(cell) {
    this.dispatchEvent(new CustomEvent('patch-select', { detail: cell, bubbles: true, composed: true }));
  }

  /** Places a patch-sized box at `cell` over the crop, as percentages of the frame. */
  placeBox(box, cell) {
    const g = this.geometry();
    const grid = this._map?.patchGrid;
    if (!g || !grid || !cell) {
      box.hidden = true;
      return;
    }
    const [rows, cols] = grid;
    const { crop, width, height } = g;
    box.style.left = `${(100 * (crop.x + (cell.col * crop.width) / cols)) / width}%`;
    box.style.top = `${(100 * (crop.y + (cell.row * crop.height) / rows)) / height}%`;
    box.style.width = `${(100 * crop.width) / cols / width}%`;
    box.style.height = `${(100 * crop.height) / rows / height}%`;
    box.hidden = false;
  }

  placeMarker() {
    this.placeBox(this.marker, this._markedCell);
  }

  showCell(cell, event) {
    this._cursorCell = cell;
    this.placeBox(this.cursor, cell);
    const values = this._map?.patchValues;
    const value = values ? values[cell.index] : undefined;
    const label = this._map?.valueLabel ?? 'score';
    this.tip.textContent = `patch row ${cell.row + 1}, column ${cell.col + 1}` + (value === undefined ? '' : ` · ${label} ${formatValue(value)}`);
    this.tip.hidden = false;
    // Keep the tip inside the frame, above the patch.
    const rect = this.frame.getBoundingClientRect();
    const [rows, cols] = this._map.patchGrid;
    const g = this.geometry();
    const fx = event ? (event.clientX - rect.left) / rect.width : (g.crop.x + ((cell.col + 0.5) * g.crop.width) / cols) / g.width;
    const fy = event ? (event.clientY - rect.top) / rect.height : (g.crop.y + ((cell.row + 0.5) * g.crop.height) / rows) / g.height;
    this.tip.classList.toggle('below', fy < 0.25);
    this.tip.classList.toggle('left', fx > 0.6);
    this.tip.style.left = `${fx * 100}%`;
    this.tip.style.top = `${fy * 100}%`;
    this.dispatchEvent(new CustomEvent('patch-hover', { detail: { ...cell, value }, bubbles: true, composed: true }));
  }

  hideCursor() {
    this._cursorCell = null;
    this.cursor.hidden = true;
    this.tip.hidden = true;
  }

  /** The image with the heatmap composited, as drawn (for screenshots and tests). */
  compositeCanvas() {
    const g = this.geometry();
    if (!g) return null;
    const canvas = document.createElement('canvas');
    canvas.width = g.width;
    canvas.height = g.height;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(this.base, 0, 0);
    if (!this.heat.hidden) {
      ctx.globalAlpha = this._opacity;
      ctx.drawImage(this.heat, g.crop.x, g.crop.y, g.crop.width, g.crop.height);
    }
    return canvas;
  }
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

if (!customElements.get('sl-heatmap')) customElements.define('sl-heatmap', HeatmapElement);
