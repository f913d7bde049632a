// The `alerts` slice: errors and notices for the page. A notice (level 'info') goes away on its own
// after a while unless it offers an action; an error stays until it is dismissed or what caused it
// is fixed (the slice that raised it dismisses it by its key). An alert with an `anchor` is shown
// next to the control it is about (views/field-errors.js) instead of in the page's alert region.

import { store } from './store.js';

const MAX_ALERTS = 5;
/** How long a notice without an action stays. */
export const NOTICE_MS = 6000;

let serial = 0;
const timers = new Map();

store.define({ alerts: [] });

/**
 * Shows `message`. Options: `key` (a later alert with the same key replaces it; `dismissAlertKey`
 * takes it away), `action` ({label, run}), `anchor` (the control it is about), `timeout` (ms; by
 * default NOTICE_MS for notices without an action, none for errors).
 */
export function notify(message, level = 'error', { action = null, key = null, anchor = null, timeout } = {}) {
  const text = String(message?.message ?? message);
  const id = ++serial;
  store.set((s) => {
    const alerts = s.alerts.filter((a) => (key ? a.key !== key : a.message !== text));
    return { alerts: [...alerts, { id, level, message: text, action, key, anchor }].slice(-MAX_ALERTS) };
  });
  const lifetime = timeout ?? (level === 'info' && !action ? NOTICE_MS : null);
  if (lifetime) timers.set(id, setTimeout(() => dismissAlert(id), lifetime));
  return id;
}

export function dismissAlert(id) {
  clearTimeout(timers.get(id));
  timers.delete(id);
  store.set((s) => (s.alerts.some((a) => a.id === id) ? { alerts: s.alerts.filter((a) => a.id !== id) } : null));
}

export function dismissAlertKey(key) {
  for (const alert of store.get().alerts) if (alert.key === key) dismissAlert(alert.id);
}

/** The alert shown next to `anchor`, if any. */
export function anchoredAlert(s, anchor) {
  return s.alerts.findLast((a) => a.anchor === anchor) ?? null;
}
