// An error shown next to the control it is about: the latest alert with that `anchor`
// (app/alerts.js). It is gone as soon as what caused it is fixed, since the slice that raised it
// dismisses it then.

import { anchoredAlert } from '../app/alerts.js';
import { h, uid } from './dom.js';

/** The message element, to place after the control; `control` gets aria-describedby and aria-invalid. */
export function anchoredError(control = null) {
  const node = h('p', { id: uid('error'), class: 'field-error', hidden: true, attrs: { role: 'alert' } });
  node.control = control;
  if (control) control.setAttribute('aria-describedby', [control.getAttribute('aria-describedby'), node.id].filter(Boolean).join(' '));
  return node;
}

/** Shows the alert anchored at `anchor` in `node` (from anchoredError), or hides it. */
export function showAnchoredError(node, s, anchor) {
  const alert = anchoredAlert(s, anchor);
  node.textContent = alert?.message ?? '';
  node.hidden = !alert;
  if (node.control) {
    if (alert) node.control.setAttribute('aria-invalid', 'true');
    else node.control.removeAttribute('aria-invalid');
  }
  return alert;
}
