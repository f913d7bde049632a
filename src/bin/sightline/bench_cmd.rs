use crate::backend_arg::BackendChoice;
use clap::Args;
use sightline::backend::cpu::CpuBackend;
use sightline::backend::prelude::*;
use sightline::backend::webgpu::WebGpuBackend;
use sightline::bench::{
    random_explainer, random_llava_files, random_quantized_explainer, run as run_bench, run_llava, BenchReport,
    LlavaBenchReport,
};
use sightline::default_model::default_model_files;
use sightline::error::pretty_json;
use sightline::explain::{Explainer, GenerativeExplainer, Method, MethodOptions};
use sightline::loader::ModelFiles;
use sightline::quantize::{quantize_model, QuantFormat, QuantizeOptions};
use sightline::{Error, Result};

/// `--arch` for the embedded default model rather than random weights.
const DEFAULT_ARCH: &str = "default";

#[derive(Args)]
pub struct BenchArgs {
    /// clip-vit-b32 or clip-vit-b16: random weights at the published checkpoint's sizes;
    /// llava-smol: a LLaVA with a ViT-B/16 tower and a SmolLM2-135M-sized decoder (prefill,
    /// decode tokens/s, one answer token's explanation); `default`: the embedded default model.
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
    /// Quantize the random weights (q8_0, q4_0, q4_k, f16) and load them from a GGUF file in
    /// memory; the report adds the file's size.
    #[arg(long)]
    quantize: Option<String>,
}

pub fn run(args: BenchArgs) -> Result<()> {
    let method: Method = args.method.parse()?;
    if args.iters == 0 {
        return Err(Error::InvalidOption("iters must be at least 1".into()));
    }
    let options = MethodOptions { steps: args.steps, ..MethodOptions::default() };
    options.validate()?;
    let format = args.quantize.as_deref().map(str::parse::<QuantFormat>).transpose()?;
    if args.arch.starts_with("llava") {
        let report = match args.backend {
            BackendChoice::Cpu => bench_llava_on(CpuBackend, &args, format, method, options)?,
            BackendChoice::Webgpu => bench_llava_on(WebGpuBackend::new()?, &args, format, method, options)?,
        };
        println!("{}", pretty_json(&report)?);
        return Ok(());
    }
    let report = match args.backend {
        BackendChoice::Cpu => bench_on(CpuBackend, &args, format, method, options)?,
        BackendChoice::Webgpu => bench_on(WebGpuBackend::new()?, &args, format, method, options)?,
    };
    println!("{}", pretty_json(&report)?);
    Ok(())
}

fn bench_on<B: Backend>(
    backend: B,
    args: &BenchArgs,
    format: Option<QuantFormat>,
    method: Method,
    options: MethodOptions,
) -> Result<BenchReport> {
    let (explainer, file_bytes) = match (args.arch.as_str(), format) {
        (DEFAULT_ARCH, Some(format)) => {
            let options = QuantizeOptions { format, quantize_embeddings: false };
            let gguf = quantize_model(&default_model_files()?, &options)?.bytes;
            let bytes = gguf.len();
            (Explainer::load(backend, &ModelFiles::from_gguf_bytes("default".into(), gguf)?)?, Some(bytes))
        }
        (DEFAULT_ARCH, None) => (Explainer::load(backend, &default_model_files()?)?, None),
        (arch, Some(format)) => {
            let (explainer, bytes) = random_quantized_explainer(backend, arch, format)?;
            (explainer, Some(bytes))
        }
        (arch, None) => (random_explainer(backend, arch)?, None),
    };
    let mut report = run_bench(&explainer, &args.arch, method, options, args.iters, bench_threads())?;
    report.model_file_mb = file_bytes.map(|bytes| bytes as f64 / (1024.0 * 1024.0));
    Ok(report)
}

fn bench_llava_on<B: Backend>(
    backend: B,
    args: &BenchArgs,
    format: Option<QuantFormat>,
    method: Method,
    options: MethodOptions,
) -> Result<LlavaBenchReport> {
    let mut files = random_llava_files(&args.arch, 0)?;
    if let Some(format) = format {
        let gguf = quantize_model(&files, &QuantizeOptions { format, quantize_embeddings: false })?.bytes;
        files = ModelFiles::from_gguf_bytes(format!("{} {}", files.name, format.name()), gguf)?;
    }
    let explainer = GenerativeExplainer::load(backend, &files)?;
    drop(files);
    run_llava(&explainer, &args.arch, method, options, args.iters, bench_threads())
}

fn bench_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(1)
}
