use crate::backend_arg::BackendChoice;
use clap::Args;
use sightline::backend::cpu::CpuBackend;
use sightline::backend::webgpu::WebGpuBackend;
use sightline::backend::Backend;
use sightline::bench::{random_explainer, run as run_bench, BenchReport};
use sightline::explain::{Method, MethodOptions};
use sightline::{Error, Result};

#[derive(Args)]
pub struct BenchArgs {
    /// clip-vit-b32 or clip-vit-b16: random weights at the published checkpoint's sizes.
    #[arg(long, default_value = "clip-vit-b32")]
    arch: String,
    #[arg(long, default_value = "rollout")]
    method: String,
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
    #[arg(long, default_value_t = 10)]
    iters: usize,
    /// Integrated-gradients steps and SmoothGrad samples.
    #[arg(long, default_value_t = MethodOptions::default().steps)]
    steps: usize,
}

pub fn run(args: BenchArgs) -> Result<()> {
    let method: Method = args.method.parse()?;
    if args.iters == 0 {
        return Err(Error::InvalidOption("iters must be at least 1".into()));
    }
    let options = MethodOptions { steps: args.steps, ..MethodOptions::default() };
    options.validate()?;
    let report = match args.backend {
        BackendChoice::Cpu => bench_on(CpuBackend, &args, method, options)?,
        BackendChoice::Webgpu => bench_on(WebGpuBackend::new()?, &args, method, options)?,
    };
    println!("{}", serde_json::to_string_pretty(&report).map_err(|e| Error::Backend(e.to_string()))?);
    Ok(())
}

fn bench_on<B: Backend>(backend: B, args: &BenchArgs, method: Method, options: MethodOptions) -> Result<BenchReport> {
    let explainer = random_explainer(backend, &args.arch)?;
    let threads = std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    run_bench(&explainer, &args.arch, method, options, args.iters, threads)
}
