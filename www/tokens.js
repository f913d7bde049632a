// Token attributions drawn on the text: one chip per token of the explained text, coloured by its
// score with the heatmap's colour scale (the engine's, fitted to the ordinary tokens). Shared by
// the app and <sightline-explainer>; needs the local engine (local-engine.js) to be ready.

import { colours, fitScale, formatValue } from './heatmap.js';

const SPECIAL = /^<\|.*\|>$/;

/** A token as people read it: CLIP's BPE marks word ends with `</w>`. */
export function tokenText(token) {
  if (SPECIAL.test(token)) return token === '<|startoftext|>' ? 'start' : token === '<|endoftext|>' ? 'end' : token;
  return token.replace(/<\/w>$/, '').replace(/\n/g, '↵');
}

/**
 * Fills `container` with chips for `tokens` and `scores` (scores may be null: plain chips);
 * `colormap` is 'auto' or a name; `spaced` says where words end: 'clip' (CLIP's BPE marks a word's
 * last token with `</w>`) or 'leading-space' (a byte-level or SentencePiece token that starts a
 * word starts with a space). Returns the colour scale, or null without scores.
 */
export function renderTokenChips(container, { tokens, scores, colormap = 'auto', spaced = 'clip' }) {
  const doc = container.ownerDocument;
  const ordinary = scores ? scores.filter((_, i) => !SPECIAL.test(tokens[i])) : [];
  const scaleValues = ordinary.length ? ordinary : scores;
  const scale = scores ? fitScale(scaleValues, colormap) : null;
  const rgb = scale && !scale.degenerate ? colours(scores, scaleValues, colormap) : null;
  const chips = tokens.map((token, i) => {
    const chip = doc.createElement('span');
    const special = SPECIAL.test(token);
    chip.className = 'sl-chip' + (special ? ' sl-chip-special' : '');
    chip.textContent = tokenText(token);
    const next = tokens[i + 1];
    const wordEnd = special || (spaced === 'clip' ? token.endsWith('</w>') : next === undefined || SPECIAL.test(next) || /^\s/.test(next) || /\s$/.test(token));
    if (!wordEnd) chip.classList.add('sl-chip-joined');
    if (rgb) {
      const [r, g, b] = rgb.subarray(i * 3, i * 3 + 3);
      chip.style.backgroundColor = `rgb(${r}, ${g}, ${b})`;
      chip.style.color = readableInk(r, g, b);
      // A special token keeps its dashed outline, in the text's colour.
      chip.style.borderColor = special ? chip.style.color : 'transparent';
    }
    const value = scores ? ` · ${formatValue(scores[i])}` : '';
    chip.title = `${special ? 'special token' : 'token'} “${tokenText(token)}”${value}`;
    chip.setAttribute('aria-label', chip.title);
    chip.setAttribute('role', 'listitem');
    return chip;
  });
  container.setAttribute('role', 'list');
  container.replaceChildren(...chips);
  return scale;
}

/** Black or white, whichever contrasts more with the colour (WCAG's contrast ratio). Black, not a
 * near-black: coolwarm's mid reds (#d74c3f) reach 4.5:1 only with black. */
function readableInk(r, g, b) {
  const background = luminance(r, g, b);
  return (background + 0.05) / 0.05 >= 1.05 / (background + 0.05) ? '#000' : '#fff';
}

function luminance(r, g, b) {
  const lin = (c) => {
    const v = c / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}
