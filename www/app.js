// The app's entry module: every slice of the state (app/, each defines its part before anything
// changes), the views (one custom element per concept), then the start.
import './app/alerts.js';
import './app/engine.js';
import './app/model.js';
import './app/image.js';
import './app/ask.js';
import './app/modes.js';
import './app/method.js';
import './app/view.js';
import './app/explanations.js';
import './app/attention.js';
import './app/faithfulness.js';
import './app/precision.js';
import './app/url-sync.js';
import './app/test-hooks.js';
import './heatmap-element.js';
import './views/alerts.js';
import './views/model-bar.js';
import './views/image-source.js';
import './views/labels.js';
import './views/ask-panel.js';
import './views/mode-sections.js';
import './views/method-panel.js';
import './views/explanation-view.js';
import './views/insights.js';
import { boot } from './app/boot.js';

boot();
