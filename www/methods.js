// The engine's methods as the page presents them. Which methods exist, which options each reads,
// which are batched and what each gives come from the engine (engineFacts(), src/catalog.rs); the
// words people read are here.

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
];

let described = null;

/**
 * Every method of the engine, in the page's order: the engine's facts ({id, options, batched,
 * imageMapReadsText, textScores, pixelScores}) with `label`, `short` and `summary`. Empty before
 * the engine is ready.
 */
export function methods() {
  const facts = engineFacts();
  if (!facts) return [];
  if (!described) {
    const order = COPY.map(([id]) => id);
    const rank = (id) => (order.includes(id) ? order.indexOf(id) : order.length);
    described = facts.methods
      .map((method) => {
        const [, label = method.id, short = method.id, summary = ''] = COPY.find(([id]) => id === method.id) ?? [];
        return Object.freeze({ ...method, label, short, summary });
      })
      .sort((a, b) => rank(a.id) - rank(b.id));
  }
  return described;
}

export const methodIds = () => methods().map((m) => m.id);
export const methodById = (id) => methods().find((m) => m.id === id);

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
