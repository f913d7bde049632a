// Four tabs below the explanation: every method side by side (compare-grid.js), the attention
// explorer (attention-explorer.js), the deletion / insertion curves of the current map
// (faithfulness-plot.js), and the current map by a full-precision and a quantized version of the
// model (precision-view.js).

import { store } from '../app/store.js';
import { setView } from '../app/view.js';
import { AttentionExplorer } from './attention-explorer.js';
import { CompareGrid } from './compare-grid.js';
import { h, StoreView, uid } from './dom.js';
import { FaithfulnessPlot } from './faithfulness-plot.js';
import { PrecisionPanel } from './precision-view.js';

const TABS = [
  ['compare', 'Compare methods'],
  ['attention', 'Attention explorer'],
  ['faithfulness', 'Faithfulness'],
  ['precision', 'Original vs quantized'],
];

/** The views each mode has (a generative model's attention, curves and precision views are to come). */
const MODE_TABS = { clip: TABS.map(([id]) => id), ask: ['compare'] };

class Insights extends StoreView {
  static store = store;

  build() {
    this.classList.add('insights');
    this.tabs = new Map();
    this.panels = new Map();
    const list = h('div', { class: 'tablist', attrs: { role: 'tablist', 'aria-label': 'More views' } });
    for (const [id, label] of TABS) {
      const tabId = uid(`tab-${id}`);
      const panelId = uid(`panel-${id}`);
      const tab = h('button', {
        type: 'button',
        id: tabId,
        class: 'tab',
        text: label,
        dataset: { tab: id },
        attrs: { role: 'tab', 'aria-controls': panelId },
        on: { click: () => setView({ tab: id }), keydown: (e) => this.onTabKey(e) },
      });
      const panel = h('div', { id: panelId, class: 'tabpanel', attrs: { role: 'tabpanel', 'aria-labelledby': tabId, tabindex: '0' } });
      this.tabs.set(id, tab);
      this.panels.set(id, panel);
      list.append(tab);
    }
    this.append(list, ...this.panels.values());
    this.compare = new CompareGrid(this.panels.get('compare'));
    this.attention = new AttentionExplorer(this.panels.get('attention'));
    this.faithfulness = new FaithfulnessPlot(this.panels.get('faithfulness'));
    this.precision = new PrecisionPanel(this.panels.get('precision'));
  }

  onTabKey(event) {
    const ids = MODE_TABS[store.get().mode];
    const index = ids.indexOf(event.currentTarget.dataset.tab);
    let next = null;
    if (event.key === 'ArrowRight') next = ids[(index + 1) % ids.length];
    else if (event.key === 'ArrowLeft') next = ids[(index + ids.length - 1) % ids.length];
    else if (event.key === 'Home') next = ids[0];
    else if (event.key === 'End') next = ids.at(-1);
    if (!next) return;
    event.preventDefault();
    setView({ tab: next });
    this.tabs.get(next).focus();
  }

  update(s, p) {
    const available = MODE_TABS[s.mode];
    // A view the mode does not have shows its first instead (the choice is kept for the other mode).
    const tab = available.includes(s.view.tab) ? s.view.tab : available[0];
    if (!p || s.view.tab !== p.view.tab || s.mode !== p.mode) {
      for (const [id, button] of this.tabs) {
        const selected = id === tab;
        button.hidden = !available.includes(id);
        button.setAttribute('aria-selected', String(selected));
        button.tabIndex = selected ? 0 : -1;
        this.panels.get(id).hidden = !selected;
      }
    }
    if (tab === 'compare') this.compare.update(s, p);
    if (tab === 'attention') this.attention.update(s, p);
    if (tab === 'faithfulness') this.faithfulness.update(s, p);
    if (tab === 'precision') this.precision.update(s, p);
  }
}

customElements.define('sl-insights', Insights);
