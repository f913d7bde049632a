// Errors and notices, floating over the page's corner (they never move the layout): errors in a
// role="alert" region, notices in a role="status" one, each with a dismiss button. Notices go away
// on their own (app/alerts.js); an error about one control is shown next to it instead
// (anchored-error.js).

import { dismissAlert } from '../app/alerts.js';
import { store } from '../app/store.js';
import { h, StoreView } from './dom.js';

class AlertsView extends StoreView {
  static store = store;

  build() {
    this.classList.add('alerts');
    this.errors = h('div', { class: 'alert-list', attrs: { role: 'alert', 'aria-live': 'assertive' } });
    this.notices = h('div', { class: 'alert-list', attrs: { role: 'status', 'aria-live': 'polite' } });
    this.append(this.errors, this.notices);
  }

  update(s, p) {
    if (p && s.alerts === p.alerts) return;
    const item = (alert) =>
      h(
        'div',
        { class: `alert alert-${alert.level}`, dataset: { alertId: String(alert.id) } },
        h('span', { class: 'alert-icon', attrs: { 'aria-hidden': 'true' }, text: alert.level === 'error' ? '!' : 'i' }),
        h('p', { class: 'alert-message', text: alert.message }),
        alert.action ? h('button', { type: 'button', class: 'button small', text: alert.action.label, on: { click: alert.action.run } }) : null,
        h('button', {
          type: 'button',
          class: 'icon-button',
          title: 'Dismiss',
          attrs: { 'aria-label': 'Dismiss this message' },
          text: '×',
          on: { click: () => dismissAlert(alert.id) },
        }),
      );
    const shown = s.alerts.filter((a) => !a.anchor);
    this.errors.replaceChildren(...shown.filter((a) => a.level === 'error').map(item));
    this.notices.replaceChildren(...shown.filter((a) => a.level !== 'error').map(item));
  }
}

customElements.define('sl-alerts', AlertsView);
