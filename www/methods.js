// The engine's methods as the page presents them. Which methods exist, which options each reads,
// which are batched and what each gives come from the engine (engineFacts(), src/catalog.rs); the
// words people read are here. The methods are those of the loaded model's family: CLIP's, or a
// generative model's (setMethodFamily).

import { engineFacts } from './local-engine.js';

/** Names and one-line descriptions, in the order the page lists the methods. */
const COPY = [
  ['chefer', 'Chefer relevance', 'Chefer', 'Attention weighted by its gradient, accumulated through the layers (Chefer et al. 2021).'],
  ['rollout', 'Attention rollout', 'Rollout', 'Attention multiplied through every layer, with the residual path (Abnar & Zuidema 2020).'],
  ['attention', 'Last-layer attention', 'Attention', 'Where the image token looks in the last layer, averaged over heads.'],
  ['gradcam', 'Grad-CAM', 'Grad-CAM', 'Gradient-weighted activations entering the last layer (Selvaraju et al. 2017).'],
  ['gradient', 'Gradient saliency', 'Gradient', 'How strongly each pixel changes the score: |∂s/∂x| (Simonyan et al. 2014).'],
  ['grad_x_input', 'Gradient × input', 'Grad × input', 'Gradient times pixel value, summed over colour channels; signed.'],
  ['integrated_gradients', 'Integrated gradients', 'Integrated grad.', 'Gradients averaged along the path from a blank image (Sundararajan et al. 2017); signed.'],
  ['smoothgrad', 'SmoothGrad', 'SmoothGrad', 'Gradient magnitude averaged over noisy copies of the image (Smilkov et al. 2017).'],
  ['occlusion', 'Occlusion', 'Occlusion', 'How much the score drops when each patch is blanked out; signed.'],
  ['chefer_vision', 'Chefer through the vision tower', 'Chefer + vision', 'Chefer relevance of the answer token continued from the image tokens through the vision encoder (LVLM-Interpret’s “all”).'],
  ['token_activation', 'Token activation', 'Token act.', 'The token’s logit read at each image token: the language head on its last hidden state there (the base of TAM, 2025).'],
];

/** Where a method means something else for a generated token than for a CLIP score. */
const GENERATIVE_SUMMARIES = {
  attention: 'How much the explained token’s row attends to each image token, averaged over every decoder layer and head.',
  rollout: 'Attention multiplied through every decoder layer, with the residual path, read at the explained token’s row (Abnar & Zuidema 2020).',
  chefer: 'The decoder’s attention weighted by its gradient, accumulated through the layers, at the explained token’s row (Chefer et al. 2021).',
};

/** 'clip' or 'llava': whose methods `methods()` lists. */
let family = 'clip';
let described = null;

/** Lists the methods of `kind`'s models from now on ('clip' or 'llava'). */
export function setMethodFamily(kind) {
  if (kind === family) return;
  family = kind;
  described = null;
}

export const methodFamily = () => family;

/**
 * Every method of the engine, in the page's order: the engine's facts ({id, options, batched,
 * imageMapReadsText, textScores, pixelScores}) with `label`, `short` and `summary`. Empty before
 * the engine is ready.
 */
export function methods() {
  const facts = engineFacts();
  if (!facts) return [];
  described ??= describe(family === 'llava' ? facts.generativeMethods : facts.methods, family);
  return described;
}

function describe(list, kind) {
  const order = COPY.map(([id]) => id);
  const rank = (id) => (order.includes(id) ? order.indexOf(id) : order.length);
  return list
    .map((method) => {
      const [, label = method.id, short = method.id, summary = ''] = COPY.find(([id]) => id === method.id) ?? [];
      const own = kind === 'llava' ? GENERATIVE_SUMMARIES[method.id] : undefined;
      return Object.freeze({ ...method, label, short, summary: own ?? summary });
    })
    .sort((a, b) => rank(a.id) - rank(b.id));
}

export const methodIds = () => methods().map((m) => m.id);
/** A method of the current family, else of the other (a label for any method's name). */
export const methodById = (id) => methods().find((m) => m.id === id) ?? allMethods().find((m) => m.id === id);

/** Every method of either family (CLIP's description where both have it). */
export function allMethods() {
  const facts = engineFacts();
  if (!facts) return [];
  const clip = describe(facts.methods, 'clip');
  return [...clip, ...describe(facts.generativeMethods, 'llava').filter((m) => !clip.some((c) => c.id === m.id))];
}

/** The method options the engine starts with: {steps, seed, headFusion, discardRatio}. */
export const defaultOptions = () => ({ ...engineFacts().options.defaults });
export const headFusions = () => engineFacts().options.headFusions;

/** The engine options of `method`: only those it reads, so equal requests get equal keys. */
export function methodOptions(method, options) {
  const out = {};
  for (const name of methodById(method)?.options ?? []) out[name] = options[name];
  return out;
}

/** Checks option values against the engine's limits: `{option, message}` for the first bad one, or null. */
export function optionProblem(options) {
  const limits = engineFacts().options;
  const { steps, seed, discardRatio } = options;
  if (!Number.isInteger(steps) || steps < 1 || steps > limits.maxSteps) return { option: 'steps', message: `Steps must be a whole number from 1 to ${limits.maxSteps}.` };
  if (!Number.isInteger(seed) || seed < 0 || seed > Number.MAX_SAFE_INTEGER) return { option: 'seed', message: 'The seed must be a whole number of 0 or more.' };
  if (!(discardRatio >= 0 && discardRatio < limits.discardRatioBelow)) return { option: 'discardRatio', message: `The discard ratio must be at least 0 and below ${limits.discardRatioBelow}.` };
  if (!limits.headFusions.includes(options.headFusion)) return { option: 'headFusion', message: `Head fusion must be one of ${limits.headFusions.join(', ')}.` };
  return null;
}
