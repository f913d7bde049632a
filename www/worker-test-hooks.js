// The engine worker's requests for the browser tests, accepted only when the page was opened with
// `?test-hooks` (its `init` then says so): a WebGPU device lost as a driver reset would lose it
// (at once, or at a streamed token), a wasm trap, and a slow model (each streamed token held, as a
// large model's decoding step would hold the worker). Nothing here is reachable from the engine's
// API itself.

import { INTEGER } from './worker-arguments.js';

/** Every GPUDevice the engine asked the browser for, recorded once the hooks are installed. */
const devices = [];
/** How long each streamed token holds the worker, in ms, and the token at which to lose the GPU. */
let tokenDelayMs = 0;
let loseDeviceAtToken = null;

function loseDevices() {
  const live = devices.splice(0);
  for (const device of live) device.destroy();
  return live.length > 0;
}

/** Called by the worker with each streamed token while the hooks are on. */
export function onTestToken(token) {
  if (loseDeviceAtToken !== null && token.index === loseDeviceAtToken) {
    loseDeviceAtToken = null;
    loseDevices();
  }
  // Busy, as a real decoding step is: the worker cannot read messages meanwhile.
  const until = performance.now() + tokenDelayMs;
  while (performance.now() < until);
}

/** Records the devices wgpu requests from now on, so that a test can destroy them. */
export function installTestHooks() {
  const adapter = self.GPUAdapter?.prototype;
  if (!adapter || adapter.requestDevice.recorded) return;
  const requestDevice = adapter.requestDevice;
  adapter.requestDevice = async function (...args) {
    const device = await requestDevice.apply(this, args);
    devices.push(device);
    return device;
  };
  adapter.requestDevice.recorded = true;
}

export const TEST_REQUESTS = {
  /** Destroys the engine's WebGPU devices from outside, as a driver reset would; false without one. */
  'test:loseWebGpuDevice': {
    args: {},
    run: () => ({ value: loseDevices() }),
  },
  /** Loses the WebGPU devices when the streamed token `index` of a later generation comes. */
  'test:loseWebGpuDeviceAtToken': {
    args: { index: INTEGER },
    run: ({ index }) => {
      loseDeviceAtToken = index;
      return { value: devices.length > 0 };
    },
  },
  /** Holds the worker `ms` at every streamed token from now on (0: no more). */
  'test:tokenDelay': {
    args: { ms: INTEGER },
    run: ({ ms }) => {
      tokenDelayMs = ms;
      return { value: true };
    },
  },
  /** Fails as a wasm trap would: the page must replace the worker and reload the model. */
  'test:crash': {
    args: {},
    run: () => {
      throw new WebAssembly.RuntimeError('unreachable (a trap simulated by the tests)');
    },
  },
};
