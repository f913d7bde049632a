// The app's one central state store: a plain object replaced (never mutated) on every change, and
// subscribers told about each change with the previous state, so each view redraws only the slices
// it shows (compare by identity: `state.x !== previous.x`).

export function createStore(initial) {
  let state = Object.freeze({ ...initial });
  const subscribers = new Set();
  let notifying = false;
  let pending = null;

  function set(patch) {
    const next = typeof patch === 'function' ? patch(state) : patch;
    if (!next) return;
    const previous = state;
    state = Object.freeze({ ...state, ...next });
    if (notifying) {
      // A subscriber changed the state: tell everyone once more after this round, from the state
      // they last saw.
      pending ??= previous;
      return;
    }
    notify(previous);
  }

  function notify(previous) {
    notifying = true;
    try {
      for (const subscriber of [...subscribers]) {
        try {
          subscriber(state, previous);
        } catch (error) {
          console.error('a view failed to update', error);
        }
      }
    } finally {
      notifying = false;
    }
    if (pending) {
      const from = pending;
      pending = null;
      notify(from);
    }
  }

  return {
    get: () => state,
    set,
    /**
     * Adds a feature slice's initial value without telling subscribers: slices are defined as
     * their modules load, before anything changes, so no subscriber sees a state that lacks one.
     */
    define(initial) {
      state = Object.freeze({ ...state, ...initial });
    },
    /** Calls `fn(state, previous)` after every change; returns the unsubscribe function. */
    subscribe(fn) {
      subscribers.add(fn);
      return () => subscribers.delete(fn);
    },
  };
}

/** Whether any of `keys` differs between two states. */
export function changed(state, previous, ...keys) {
  if (!previous) return true;
  return keys.some((key) => state[key] !== previous[key]);
}
