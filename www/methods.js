// What the page says about each of the engine's methods, and which options each one reads.

export const METHODS = [
  {
    id: 'chefer',
    label: 'Chefer relevance',
    short: 'Chefer',
    summary: 'Attention weighted by its gradient, accumulated through the layers (Chefer et al. 2021).',
    options: [],
    text: true,
  },
  {
    id: 'rollout',
    label: 'Attention rollout',
    short: 'Rollout',
    summary: 'Attention multiplied through every layer, with the residual path (Abnar & Zuidema 2020). Ignores the text.',
    options: ['headFusion', 'discardRatio'],
    text: true,
  },
  {
    id: 'attention',
    label: 'Last-layer attention',
    short: 'Attention',
    summary: 'Where the image token looks in the last layer, averaged over heads. Ignores the text.',
    options: [],
    text: true,
  },
  {
    id: 'gradcam',
    label: 'Grad-CAM',
    short: 'Grad-CAM',
    summary: 'Gradient-weighted activations entering the last layer (Selvaraju et al. 2017).',
    options: [],
    text: false,
  },
  {
    id: 'gradient',
    label: 'Gradient saliency',
    short: 'Gradient',
    summary: 'How strongly each pixel changes the score: |∂s/∂x| (Simonyan et al. 2014).',
    options: [],
    text: true,
  },
  {
    id: 'grad_x_input',
    label: 'Gradient × input',
    short: 'Grad × input',
    summary: 'Gradient times pixel value, summed over colour channels; signed.',
    options: [],
    text: true,
  },
  {
    id: 'integrated_gradients',
    label: 'Integrated gradients',
    short: 'Integrated grad.',
    summary: 'Gradients averaged along the path from a blank image (Sundararajan et al. 2017); signed.',
    options: ['steps'],
    text: false,
  },
  {
    id: 'smoothgrad',
    label: 'SmoothGrad',
    short: 'SmoothGrad',
    summary: 'Gradient magnitude averaged over noisy copies of the image (Smilkov et al. 2017).',
    options: ['steps', 'seed'],
    text: false,
  },
  {
    id: 'occlusion',
    label: 'Occlusion',
    short: 'Occlusion',
    summary: 'How much the score drops when each patch is blanked out; signed.',
    options: [],
    text: false,
  },
];

export const METHOD_IDS = METHODS.map((m) => m.id);
export const methodById = (id) => METHODS.find((m) => m.id === id);

export const DEFAULT_OPTIONS = { steps: 32, seed: 0, headFusion: 'mean', discardRatio: 0 };
export const HEAD_FUSIONS = ['mean', 'max', 'min'];

/** The engine options of `method`: only those it reads, so equal requests get equal keys. */
export function methodOptions(method, options) {
  const used = methodById(method)?.options ?? [];
  const out = {};
  for (const name of used) out[name] = options[name];
  return out;
}

/** Checks option values; returns a readable message or null. */
export function optionProblem(options) {
  const { steps, seed, discardRatio } = options;
  if (!Number.isInteger(steps) || steps < 1 || steps > 1024) return 'Steps must be a whole number from 1 to 1024.';
  if (!Number.isInteger(seed) || seed < 0 || seed > Number.MAX_SAFE_INTEGER) return 'The seed must be a whole number of 0 or more.';
  if (!(discardRatio >= 0 && discardRatio < 1)) return 'The discard ratio must be at least 0 and below 1.';
  if (!HEAD_FUSIONS.includes(options.headFusion)) return `Head fusion must be one of ${HEAD_FUSIONS.join(', ')}.`;
  return null;
}
