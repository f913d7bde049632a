//! The WebGPU adapter for the GPU tests. Without one they skip, saying so on the terminal even
//! when the test harness captures output; where the suite must prove the GPU path (`CI=true`, or
//! `SIGHTLINE_REQUIRE_WEBGPU=1`, which `build.sh test` sets) a missing adapter fails them.

use sightline::backend::webgpu::WebGpuBackend;
use std::io::Write;

pub const REQUIRE_VARIABLE: &str = "SIGHTLINE_REQUIRE_WEBGPU";

/// Whether a missing adapter must fail the test rather than skip it.
pub fn webgpu_required() -> bool {
    let set = |name: &str, value: &str| std::env::var(name).is_ok_and(|v| v == value);
    set("CI", "true") || set(REQUIRE_VARIABLE, "1")
}

/// The backend, or `None` (after a message that the test did not run) when the machine has no
/// adapter and the environment does not require one.
pub fn webgpu_or_skip(test: &str) -> Option<WebGpuBackend> {
    match WebGpuBackend::new() {
        Ok(backend) => Some(backend),
        Err(error) if error.to_string().contains("no WebGPU adapter") => {
            if webgpu_required() {
                panic!(
                    "{test}: {error}, and this run requires the WebGPU tests (CI=true or {REQUIRE_VARIABLE}=1); \
                     install a Vulkan driver (Debian: mesa-vulkan-drivers)"
                );
            }
            // Written past the harness's capture, which would hide it for a passing test.
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED {test}: {error}. The WebGPU backend was NOT tested. Install a Vulkan driver \
                 (Debian: mesa-vulkan-drivers), or set {REQUIRE_VARIABLE}=1 to make this a failure. ***\n"
            );
            None
        }
        Err(error) => panic!("{test}: an adapter exists but the device failed: {error}"),
    }
}
