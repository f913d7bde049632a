// Building DOM without HTML strings (the page's Content-Security-Policy forbids inline styles, and
// texts typed by people must never become markup).

/**
 * h('button', { class: 'primary', type: 'button', on: { click }, attrs: { 'aria-label': 'x' } }, 'Run')
 * Other keys are set as properties (value, checked, disabled, hidden, id, title, ...).
 */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false && key !== 'checked' && key !== 'disabled' && key !== 'hidden' && key !== 'value') continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'on') for (const [type, fn] of Object.entries(value)) node.addEventListener(type, fn);
    else if (key === 'attrs') for (const [name, v] of Object.entries(value)) { if (v !== undefined && v !== null && v !== false) node.setAttribute(name, v === true ? '' : String(v)); }
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else node[key] = value;
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
}

let serial = 0;
/** A unique id for label/aria wiring. */
export const uid = (prefix = 'sl') => `${prefix}-${++serial}`;

/** Formats milliseconds for people. */
export function ms(value) {
  if (value === undefined || value === null) return '–';
  if (value < 1) return `${value.toFixed(2)} ms`;
  if (value < 100) return `${value.toFixed(1)} ms`;
  if (value < 10_000) return `${Math.round(value)} ms`;
  return `${(value / 1000).toFixed(1)} s`;
}

export function bytes(n) {
  if (!Number.isFinite(n)) return '?';
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(0)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

/** Base class: subscribes to the store while connected and calls `update(state, previous)`. */
export class StoreView extends HTMLElement {
  connectedCallback() {
    if (!this.built) {
      this.build();
      this.built = true;
    }
    const { store } = this.constructor;
    this.unsubscribe = store.subscribe((s, p) => this.update(s, p));
    this.update(store.get(), null);
  }

  disconnectedCallback() {
    this.unsubscribe?.();
  }

  build() {}

  update() {}
}
