// What the page needs to draw a heatmap. The arithmetic is the engine's (src/heatmap/, run on the
// page's thread by local-engine.js), so the page paints exactly the colours the CLI paints: the
// colour scale (non-negative maps span 0..max, signed maps -m..m around zero; inferno or coolwarm
// unless chosen), the heat layer (the grid resampled over the crop: bilinear between cell centres,
// box-averaged when shrinking) and the crop snapped to whole pixels. What stays here is choosing an
// explanation's grid and writing numbers for people.

import { engineFacts, localEngine } from './local-engine.js';

const colormapArgument = (colormap) => (colormap && colormap !== 'auto' ? colormap : undefined);

/** The names of the engine's colormaps. */
export function colormapNames() {
  return engineFacts()?.colormaps.map((c) => c.name) ?? [];
}

/** How bright the image stays outside the crop the model saw (as in the CLI's overlays). */
export function outsideCropBrightness() {
  return engineFacts()?.outsideCropBrightness ?? 1;
}

/**
 * The scale the engine fits to `values` drawn with `colormap` ('auto' or a name):
 * {min, max, colormap, signed, diverging, degenerate}.
 */
export function fitScale(values, colormap = 'auto') {
  return JSON.parse(localEngine().colorScale(Float32Array.from(values), colormapArgument(colormap)));
}

/** `grid` ({rows, cols, values}) resampled to width × height and coloured, as ImageData. */
export function paintHeat(grid, width, height, colormap = 'auto') {
  const rgba = localEngine().heatLayer(Float32Array.from(grid.values), grid.rows, grid.cols, width, height, colormapArgument(colormap));
  return new ImageData(new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.length), width, height);
}

/** RGB triples (a Uint8Array of 3 per value) of `values` on the scale fitted to `scaleValues`. */
export function colours(values, scaleValues, colormap = 'auto') {
  return localEngine().scoreColours(Float32Array.from(values), Float32Array.from(scaleValues), colormapArgument(colormap));
}

/** `steps` colours evenly from the minimum to the maximum of the scale fitted to `values`. */
export function legendColours(values, colormap = 'auto', steps = 256) {
  const { min, max } = fitScale(values, colormap);
  const ramp = Float32Array.from({ length: steps }, (_, i) => min + ((max - min) * i) / (steps - 1));
  return colours(ramp, values, colormap);
}

/** The crop rectangle snapped to whole pixels inside a width × height image (as the CLI does). */
export function snapCrop(crop, width, height) {
  if (!crop) return { x: 0, y: 0, width, height };
  const [x, y, w, h] = localEngine().cropInPixels(crop.x, crop.y, crop.width, crop.height, width, height);
  return { x, y, width: w, height: h };
}

/** A score for people: 3 significant digits, exponent only when needed. */
export function formatValue(value) {
  if (value === 0) return '0';
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude >= 1e4 || magnitude < 1e-3) return value.toExponential(2).replace('e+', 'e');
  return Number(value.toPrecision(3)).toString();
}

/** A probability as the page writes it: 6.6 %, whole percents at the ends. */
export function formatProbability(p) {
  return `${(p * 100).toFixed(p >= 0.995 || p < 0.001 ? 0 : 1)}%`;
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
