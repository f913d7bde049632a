// The arithmetic of a heatmap, as the CLI's renderer does it (src/heatmap/): the colour scale
// (non-negative maps span 0..max, signed maps -m..m around zero; inferno or coolwarm unless chosen),
// the smooth upsampling of a patch grid over the crop rectangle (bilinear between cell centres,
// edge values held; box-averaging when shrinking), and the painting with the CLI's colormap tables.

export const COLORMAPS = ['inferno', 'viridis', 'magma', 'coolwarm'];
const DIVERGING = new Set(['coolwarm']);
/** Brightness kept outside the crop (the CLI's OUTSIDE_CROP_BRIGHTNESS). */
export const OUTSIDE_CROP_BRIGHTNESS = 0.4;

/** The scale of `scores` drawn with `colormap` ('auto' or a name). */
export function fitScale(scores, colormap = 'auto') {
  let signed = false;
  let largest = 0;
  for (const v of scores) {
    if (v < 0) signed = true;
    const magnitude = Math.abs(v);
    if (magnitude > largest) largest = magnitude;
  }
  const name = colormap && colormap !== 'auto' ? colormap : signed ? 'coolwarm' : 'inferno';
  const min = signed ? -largest : 0;
  return { min, max: largest, signed, colormap: name, diverging: DIVERGING.has(name), degenerate: !(largest > min) };
}

/** Where `value` falls on the colormap, 0..1 (ColorScale::position). */
export function position(scale, value) {
  let t;
  if (scale.diverging) {
    const magnitude = Math.max(scale.max, -scale.min);
    t = magnitude === 0 ? 0.5 : 0.5 + (0.5 * value) / magnitude;
  } else if (scale.degenerate) {
    t = 0;
  } else {
    t = (value - scale.min) / (scale.max - scale.min);
  }
  return Number.isNaN(t) ? 0 : Math.min(1, Math.max(0, t));
}

/** The colour at position t of a 256-entry RGB table (linear between entries). */
export function sample(table, t, out = [0, 0, 0]) {
  const x = Math.min(1, Math.max(0, t)) * 255;
  const i = Math.min(254, Math.floor(x));
  const f = x - i;
  for (let c = 0; c < 3; c++) {
    const a = table[i * 3 + c];
    const b = table[(i + 1) * 3 + c];
    out[c] = Math.round(a + (b - a) * f);
  }
  return out;
}

function axisTaps(sourceLen, outputLen) {
  const step = sourceLen / outputLen;
  const taps = new Array(outputLen);
  for (let index = 0; index < outputLen; index++) {
    if (step > 1) {
      const start = index * step;
      const end = Math.min((index + 1) * step, sourceLen);
      const first = Math.floor(start);
      const last = Math.min(Math.ceil(end), sourceLen);
      const cells = [];
      for (let cell = first; cell < last; cell++) {
        const overlap = Math.min(end, cell + 1) - Math.max(start, cell);
        if (overlap > 0) cells.push([cell, overlap / (end - start)]);
      }
      taps[index] = cells;
    } else {
      const lastCentre = sourceLen - 1;
      const centre = Math.min(lastCentre, Math.max(0, (index + 0.5) * step - 0.5));
      const near = Math.floor(centre);
      const far = Math.min(near + 1, sourceLen - 1);
      const w = centre - near;
      taps[index] = [
        [near, 1 - w],
        [far, w],
      ];
    }
  }
  return taps;
}

/** `grid` ({rows, cols, values}) resampled to width × height values, row-major. */
export function resample(grid, width, height) {
  const { rows, cols, values } = grid;
  const columnTaps = axisTaps(cols, width);
  const rowTaps = axisTaps(rows, height);
  const widened = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (const [col, w] of columnTaps[x]) sum += values[r * cols + col] * w;
      widened[r * width + x] = sum;
    }
  }
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const taps = rowTaps[y];
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (const [row, w] of taps) sum += widened[row * width + x] * w;
      out[y * width + x] = sum;
    }
  }
  return out;
}

/** The crop rectangle snapped to whole pixels inside a width × height image (as the CLI does). */
export function snapCrop(crop, width, height) {
  if (!crop) return { x: 0, y: 0, width, height };
  const x = Math.min(Math.max(0, Math.round(crop.x)), width - 1);
  const y = Math.min(Math.max(0, Math.round(crop.y)), height - 1);
  return {
    x,
    y,
    width: Math.min(Math.max(1, Math.round(crop.width)), width - x),
    height: Math.min(Math.max(1, Math.round(crop.height)), height - y),
  };
}

/**
 * Paints `grid` resampled to width × height with `table` into a new ImageData (opaque colours;
 * a degenerate scale gives fully transparent pixels).
 */
export function paintHeat(grid, width, height, scale, table) {
  const image = new ImageData(width, height);
  if (scale.degenerate) return image;
  const values = resample(grid, width, height);
  // A fine lookup table over positions: the per-pixel work is one multiply and one read.
  const steps = 2048;
  const lut = new Uint8Array(steps * 3);
  const rgb = [0, 0, 0];
  for (let i = 0; i < steps; i++) {
    sample(table, i / (steps - 1), rgb);
    lut.set(rgb, i * 3);
  }
  const pixels = new Uint32Array(image.data.buffer);
  const little = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
  const packed = new Uint32Array(steps);
  for (let i = 0; i < steps; i++) {
    const [r, g, b] = [lut[i * 3], lut[i * 3 + 1], lut[i * 3 + 2]];
    packed[i] = little ? (255 << 24) | (b << 16) | (g << 8) | r : (r << 24) | (g << 16) | (b << 8) | 255;
  }
  for (let i = 0; i < values.length; i++) pixels[i] = packed[Math.round(position(scale, values[i]) * (steps - 1))];
  return image;
}

/** A score for people: 3 significant digits, exponent only when needed. */
export function formatValue(value) {
  if (value === 0) return '0';
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude >= 1e4 || magnitude < 1e-3) return value.toExponential(2).replace('e+', 'e');
  return Number(value.toPrecision(3)).toString();
}

/** The grid an explanation's map option selects: the patch map or (when present) the pixel map. */
export function explanationGrid(explanation, map = 'patches') {
  if (map === 'pixels' && explanation.pixel_scores) {
    const [rows, cols] = explanation.input_size;
    return { rows, cols, values: explanation.pixel_scores, kind: 'pixels' };
  }
  const [rows, cols] = explanation.patch_grid;
  return { rows, cols, values: explanation.patch_scores, kind: 'patches' };
}
