// The engine worker's requests for the browser tests, accepted only when the page was opened with
// `?test-hooks` (its `init` then says so): a WebGPU device lost as a driver reset would lose it,
// and a wasm trap. Nothing here is reachable from the engine's API itself.

/** Every GPUDevice the engine asked the browser for, recorded once the hooks are installed. */
const devices = [];

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
    run: () => {
      const live = devices.splice(0);
      for (const device of live) device.destroy();
      return { value: live.length > 0 };
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
