use crate::methods_arg::parse_methods;
use crate::model_arg::model_files;
use clap::Args;
use sightline::backend::cpu::CpuBackend;
use sightline::config::ModelFamily;
use sightline::error::pretty_json;
use sightline::eval::{answer_drift, drift, EvalSettings, Prompts, DEFAULT_STEPS, MIN_EVAL_SEED};
use sightline::explain::{Explainer, GenerativeExplainer, Method};
use sightline::{Error, Result};
use std::io::Write;
use std::path::PathBuf;

/// Fewer scenes than `eval`: drift explains every scene twice per method.
const DEFAULT_DRIFT_SCENES: usize = 50;

#[derive(Args)]
pub struct DriftArgs {
    /// Twice: the reference model (e.g. full precision), then the one to compare (e.g. its .gguf).
    /// Each a Hugging Face CLIP or LLaVA folder, a .gguf file, or `default`. For LLaVA, both
    /// answer the benchmark's questions and explain A's answers.
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
    let (files_a, files_b) = (model_files(model_a)?, model_files(model_b)?);
    let family = ModelFamily::from_config_json(&files_a.config_json)?;
    if ModelFamily::from_config_json(&files_b.config_json)? != family {
        return Err(Error::InvalidOption(format!(
            "drift compares two versions of one model, but {} is a {} and {} a {}",
            files_a.name,
            family.architecture(),
            files_b.name,
            ModelFamily::from_config_json(&files_b.config_json)?.architecture()
        )));
    }
    let every = match family {
        ModelFamily::Clip => &Method::CLIP[..],
        ModelFamily::Llava => &Method::GENERATIVE[..],
    };
    let methods = parse_methods(args.methods.as_deref(), every)?;
    let settings = EvalSettings {
        scenes: args.scenes,
        seed: args.seed,
        methods,
        steps: args.steps,
        scene_size: None,
        prompts: Prompts::OnePerScene,
    };
    settings.validate()?;
    let progress = |done, total| {
        eprint!("\rscene {done}/{total}");
        let _ = std::io::stderr().flush();
    };
    let (markdown, json, total_ms) = match family {
        ModelFamily::Clip => {
            let a = Explainer::load(CpuBackend, &files_a)?;
            let b = Explainer::load(CpuBackend, &files_b)?;
            let report = drift(&a, &b, &settings, progress)?;
            (report.to_markdown(), pretty_json(&report)?, report.total_ms)
        }
        ModelFamily::Llava => {
            let a = GenerativeExplainer::load(CpuBackend, &files_a)?;
            let b = GenerativeExplainer::load(CpuBackend, &files_b)?;
            let report = answer_drift(&a, &b, &settings, progress)?;
            (report.to_markdown(), pretty_json(&report)?, report.total_ms)
        }
    };
    eprintln!("\rdone in {:.1} s", total_ms / 1e3);
    print!("{markdown}");
    if let Some(path) = &args.json {
        std::fs::write(path, json).map_err(|e| Error::io(path.display(), e))?;
    }
    Ok(())
}
