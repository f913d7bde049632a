//! The `--backend` option shared by explain, bench and eval.

use clap::ValueEnum;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum BackendChoice {
    /// candle on the CPU, the reference.
    Cpu,
    /// WGSL kernels on wgpu over Vulkan (Mesa's llvmpipe when no GPU is present).
    Webgpu,
}
