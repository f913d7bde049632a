// The `method` and `options` slices: the explanation method and the options of every method (each
// method reads only its own, methods.js). The options start as the engine's defaults once its facts
// are known (boot.js).

import { methodIds, optionProblem } from '../methods.js';
import { dismissAlertKey, notify } from './alerts.js';
import { store } from './store.js';

store.define({ method: 'chefer', options: null });

export function setMethod(method) {
  if (!methodIds().includes(method) || method === store.get().method) return;
  store.set({ method });
}

/** Changes options; refuses values the engine would refuse, with an error next to the option. */
export function setOptions(patch) {
  const options = { ...store.get().options, ...patch };
  const problem = optionProblem(options);
  if (problem) {
    notify(problem.message, 'error', { key: 'options', anchor: `option:${problem.option}` });
    return false;
  }
  dismissAlertKey('options');
  store.set({ options });
  return true;
}
