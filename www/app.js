// The app's entry module: defines the views (one custom element per concept) and starts.
import './heatmap-element.js';
import './views/alerts.js';
import './views/model-bar.js';
import './views/image-source.js';
import './views/labels.js';
import './views/method-panel.js';
import './views/explanation-view.js';
import './views/insights.js';
import { boot } from './app-core.js';

boot();
