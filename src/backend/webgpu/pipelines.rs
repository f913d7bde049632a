//! Compute pipelines, compiled once per device and kept for its lifetime. Every kernel has one
//! entry point, `main`, and one bind group whose layout is derived from the shader itself.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;

/// A WGSL kernel: its name (the cache key) and its source, pulled in with `include_str!` beside
/// its launcher.
pub(crate) struct Kernel {
    pub name: &'static str,
    pub source: &'static str,
}

#[derive(Default)]
pub(crate) struct PipelineCache {
    pipelines: Mutex<HashMap<&'static str, wgpu::ComputePipeline>>,
}

impl PipelineCache {
    /// The pipeline of `kernel`, compiling it on first use.
    pub fn get(&self, device: &wgpu::Device, kernel: &Kernel) -> wgpu::ComputePipeline {
        let mut pipelines = self.pipelines.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        pipelines.entry(kernel.name).or_insert_with(|| compile(device, kernel)).clone()
    }

    pub fn compiled(&self) -> usize {
        self.pipelines.lock().map(|p| p.len()).unwrap_or(0)
    }
}

fn compile(device: &wgpu::Device, kernel: &Kernel) -> wgpu::ComputePipeline {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(kernel.name),
        source: wgpu::ShaderSource::Wgsl(Cow::Borrowed(kernel.source)),
    });
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(kernel.name),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: wgpu::PipelineCompilationOptions::default(),
        cache: None,
    })
}
