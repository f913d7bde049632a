// Whether the loaded model can explain the image: the built-in model only knows coloured shapes, so
// on a photo its scores mean nothing. Then this says so above the map and offers a real CLIP
// checkpoint, with its size, asking before anything is downloaded (it is cached afterwards).

import { loadModel } from '../app/model.js';
import { store } from '../app/store.js';
import { isCached, normalizeModelUrl, SUGGESTED_MODEL } from '../models.js';
import { h, StoreView, uid } from './dom.js';

class ModelFit extends StoreView {
  static store = store;

  build() {
    this.classList.add('model-fit');
    this.hidden = true;
    this.offer = h('button', { type: 'button', class: 'button small', on: { click: () => this.ask() } });
    this.append(
      h('p', { class: 'model-fit-text', text: 'The built-in model only knows coloured shapes (red, green, blue and yellow circles, squares and triangles), so on a photo its probabilities and maps mean nothing.' }),
      this.offer,
    );
    const titleId = uid('fit-title');
    this.question = h('p', { class: 'dialog-lead' });
    this.confirm = h('button', { type: 'button', class: 'button primary', on: { click: () => this.load() } });
    this.dialog = h(
      'dialog',
      { class: 'dialog confirm-dialog', attrs: { 'aria-labelledby': titleId } },
      h('h2', { id: titleId, text: `Load ${SUGGESTED_MODEL.name}?` }),
      this.question,
      h('div', { class: 'dialog-foot' }, h('button', { type: 'button', class: 'button subtle', text: 'Cancel', on: { click: () => this.dialog.close() } }), this.confirm),
    );
    this.append(this.dialog);
    this.url = normalizeModelUrl(SUGGESTED_MODEL.id);
  }

  async ask() {
    const cached = await isCached(this.url);
    this.question.textContent = cached
      ? `${SUGGESTED_MODEL.id} is already in this browser's cache: it loads without downloading anything.`
      : `This downloads ${SUGGESTED_MODEL.id} from huggingface.co (${SUGGESTED_MODEL.size}) once; it stays in this browser's cache for next time. Your images are never uploaded.`;
    this.confirm.textContent = cached ? 'Load it' : `Download (${SUGGESTED_MODEL.size}) and load`;
    this.dialog.showModal();
  }

  load() {
    this.dialog.close();
    loadModel({ kind: 'url', url: this.url }).catch(() => {});
  }

  update(s) {
    const mismatch = Boolean(s.image?.photo && s.model.info?.shapesOnly);
    this.hidden = !mismatch;
    this.offer.textContent = `Use ${SUGGESTED_MODEL.name} (${SUGGESTED_MODEL.size})…`;
    this.offer.disabled = s.model.status === 'loading';
  }
}

customElements.define('sl-model-fit', ModelFit);
