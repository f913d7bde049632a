// Where the image comes from: a file picker, drag and drop (anywhere on the page), paste, the bundled
// examples, or a new random scene drawn by the engine. An image that cannot be opened is reported
// inside the drop zone. With the built-in model, the photos say that it only knows shapes.

import { ACCEPTED_IMAGES, newScene, openImageFile, selectExample } from '../app/image.js';
import { store } from '../app/store.js';
import { anchoredError, showAnchoredError } from './anchored-error.js';
import { h, StoreView } from './dom.js';

class ImageSource extends StoreView {
  static store = store;

  build() {
    this.classList.add('image-source');
    this.fileInput = h('input', {
      type: 'file',
      tabIndex: -1,
      attrs: { 'aria-label': 'Image file' },
      accept: ACCEPTED_IMAGES,
      class: 'visually-hidden',
      on: { change: () => this.fileInput.files[0] && openImageFile(this.fileInput.files[0]).finally(() => (this.fileInput.value = '')) },
    });
    this.current = h('p', { class: 'current-image', attrs: { 'aria-live': 'polite' } });
    this.error = anchoredError();
    this.drop = h(
      'div',
      { class: 'drop-zone' },
      h('svg', {}),
      h('p', { class: 'drop-title', text: 'Drop an image here' }),
      h('p', { class: 'hint', text: 'or paste one, or' }),
      h('button', { type: 'button', class: 'button', text: 'Open a file…', on: { click: () => this.fileInput.click() } }),
      this.fileInput,
      this.current,
      this.error,
    );
    this.drop.firstChild.replaceWith(uploadIcon());
    this.examples = h('div', { class: 'examples', attrs: { role: 'group', 'aria-label': 'Examples' } });
    this.sceneButton = h('button', { type: 'button', class: 'button subtle new-scene', on: { click: () => newScene() } }, diceIcon(), 'New random scene');
    this.photoNote = h('p', { class: 'hint photo-note', hidden: true, text: 'The photos need a real CLIP model: the built-in one only knows coloured shapes.' });
    this.append(this.drop, h('h3', { class: 'subhead', text: 'Examples' }), this.examples, this.photoNote, this.sceneButton);

    // Drag and drop anywhere on the page; paste anywhere but in text fields.
    const dragging = (on) => document.body.classList.toggle('dragging', on);
    let depth = 0;
    addEventListener('dragenter', (e) => {
      if (!hasFiles(e)) return;
      depth++;
      dragging(true);
    });
    addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (!depth) dragging(false);
    });
    addEventListener('dragover', (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
    });
    addEventListener('drop', (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      dragging(false);
      const file = [...e.dataTransfer.files].find((f) => f.type.startsWith('image/')) ?? e.dataTransfer.files[0];
      if (file) openImageFile(file);
    });
    addEventListener('paste', (e) => {
      const target = e.target;
      const file = [...(e.clipboardData?.files ?? [])].find((f) => f.type.startsWith('image/'));
      if (!file) return;
      if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) {
        if (!e.clipboardData.getData('text')) e.preventDefault();
        else return;
      }
      e.preventDefault();
      openImageFile(file);
    });
  }

  update(s, p) {
    showAnchoredError(this.error, s, 'image');
    const shapesOnly = Boolean(s.model.info?.shapesOnly);
    if (!p || s.examples !== p.examples || shapesOnly !== this.shapesOnly) {
      this.shapesOnly = shapesOnly;
      this.renderExamples(s);
    }
    this.photoNote.hidden = !shapesOnly || !s.examples.photos.length;
    if (!p || s.image !== p.image || s.imageStatus !== p.imageStatus) {
      for (const button of this.examples.querySelectorAll('button')) {
        button.setAttribute('aria-pressed', String(button.dataset.example === s.image?.exampleId));
      }
      const image = s.image;
      this.current.textContent =
        s.imageStatus === 'loading' ? 'Opening…' : image ? `Now: ${image.name} (${image.width}×${image.height})` : '';
    }
    this.sceneButton.disabled = s.engine.status !== 'ready';
  }

  renderExamples(s) {
    const { scenes, photos } = s.examples;
    // With the built-in model a photo is still shown, marked as beyond what the model knows.
    const beyond = (kind) => (kind === 'photo' && this.shapesOnly ? ' (needs a real CLIP model)' : '');
    const button = (example, kind) =>
      h(
        'button',
        {
          type: 'button',
          class: `example example-${kind}${beyond(kind) ? ' beyond-model' : ''}`,
          title: `${example.title}${beyond(kind)}`,
          dataset: { example: example.id },
          attrs: { 'aria-label': `${kind === 'scene' ? 'Scene' : 'Photo'}: ${example.title}${beyond(kind)}`, 'aria-pressed': 'false' },
          on: { click: () => selectExample(example.id).catch(() => {}) },
        },
        h('img', { src: new URL(`../examples/${example.file}`, import.meta.url).href, alt: '', width: 64, height: 64, loading: 'eager', decoding: 'async', draggable: false }),
      );
    this.examples.replaceChildren(...scenes.map((e) => button(e, 'scene')), ...photos.map((e) => button(e, 'photo')));
    for (const b of this.examples.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.example === s.image?.exampleId));
  }
}

function hasFiles(event) {
  return [...(event.dataTransfer?.types ?? [])].includes('Files');
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(viewBox, ...paths) {
  const node = document.createElementNS(SVG, 'svg');
  node.setAttribute('viewBox', viewBox);
  node.setAttribute('aria-hidden', 'true');
  node.setAttribute('focusable', 'false');
  node.classList.add('icon');
  for (const d of paths) {
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', d);
    node.append(path);
  }
  return node;
}

function uploadIcon() {
  const icon = svg('0 0 24 24', 'M12 16V4m0 0-4.5 4.5M12 4l4.5 4.5', 'M4 15v3.5A1.5 1.5 0 0 0 5.5 20h13a1.5 1.5 0 0 0 1.5-1.5V15');
  icon.classList.add('drop-icon');
  return icon;
}

function diceIcon() {
  return svg('0 0 24 24', 'M5 4h14a1 1 0 0 1 1 1v14a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1Z', 'M8.5 8.5h.01M15.5 8.5h.01M12 12h.01M8.5 15.5h.01M15.5 15.5h.01');
}

customElements.define('sl-image-source', ImageSource);
