// The app's one store (see ../store.js). Each feature slice of the state is owned by one module of
// this folder, which defines its initial value (`store.define`, as the module loads), holds its
// actions and reacts to the slices it follows; views (../views/) read the store and call those
// actions:
//
//   engine, facts                  engine.js        the worker's status, the engine's facts
//   model, modelSource, pendingModel  model.js      the loaded model
//   image, imageStatus, examples   image.js         the explained image and the bundled examples
//   mode                           modes.js         what is asked of the model: 'clip' or 'ask',
//                                                   as the loaded model's family says
//   clip                           clip.js          CLIP's question: the texts and the target
//   ask                            ask.js           a generative model's question, its streamed
//                                                   answer, the selected word and its contrast
//   method, options                method.js        the explanation method and its options
//   results, compare               explanations.js  explanations by request, and running them
//   attention, faithfulness, precision             the views below the explanation
//   view                           view.js          overlay settings and the open tab
//   alerts                         alerts.js        errors and notices

import { createStore } from '../store.js';

export const store = createStore({});
