use crate::methods_arg::parse_methods;
use crate::model_arg::model_files;
use clap::Args;
use sightline::backend::cpu::CpuBackend;
use sightline::error::pretty_json;
use sightline::eval::{drift, EvalSettings, Prompts, DEFAULT_STEPS, MIN_EVAL_SEED};
use sightline::explain::Explainer;
use sightline::{Error, Result};
use std::io::Write;
use std::path::PathBuf;

/// Fewer scenes than `eval`: drift explains every scene twice per method.
const DEFAULT_DRIFT_SCENES: usize = 50;

#[derive(Args)]
pub struct DriftArgs {
    /// Twice: the reference model (e.g. full precision), then the one to compare (e.g. its .gguf).
    /// Each a Hugging Face CLIP folder, a .gguf file, or `default`.
    #[arg(long = "model", num_args = 1, required = true)]
    models: Vec<PathBuf>,
    /// Held-out scenes of 2–4 objects, one prompted object each.
    #[arg(long, default_value_t = DEFAULT_DRIFT_SCENES)]
    scenes: usize,
    /// Dataset seed; seeds below 1000000 are reserved for training.
    #[arg(long, default_value_t = MIN_EVAL_SEED)]
    seed: u64,
    /// Comma-separated methods (default: all).
    #[arg(long, value_delimiter = ',')]
    methods: Option<Vec<String>>,
    /// Integrated-gradients steps and SmoothGrad samples.
    #[arg(long, default_value_t = DEFAULT_STEPS)]
    steps: usize,
    /// Also write the report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

pub fn run(args: DriftArgs) -> Result<()> {
    let [model_a, model_b] = args.models.as_slice() else {
        return Err(Error::InvalidOption(format!(
            "drift compares two models: pass --model twice (got {})",
            args.models.len()
        )));
    };
    let methods = parse_methods(args.methods.as_deref())?;
    let settings = EvalSettings {
        scenes: args.scenes,
        seed: args.seed,
        methods,
        steps: args.steps,
        scene_size: None,
        prompts: Prompts::OnePerScene,
    };
    settings.validate()?;
    let a = Explainer::load(CpuBackend, &model_files(model_a)?)?;
    let b = Explainer::load(CpuBackend, &model_files(model_b)?)?;
    let report = drift(&a, &b, &settings, |done, total| {
        eprint!("\rscene {done}/{total}");
        let _ = std::io::stderr().flush();
    })?;
    eprintln!("\rdone in {:.1} s", report.total_ms / 1e3);
    print!("{}", report.to_markdown());
    if let Some(path) = &args.json {
        let json = pretty_json(&report)?;
        std::fs::write(path, json).map_err(|e| Error::io(path.display(), e))?;
    }
    Ok(())
}
