use crate::backend_arg::BackendChoice;
use crate::methods_arg::parse_methods;
use clap::Args;
use sightline::backend::cpu::CpuBackend;
use sightline::backend::webgpu::WebGpuBackend;
use sightline::default_model::default_model_files;
use sightline::error::pretty_json;
use sightline::eval::{
    evaluate_model_with_progress, evaluate_vqa, EvalSettings, Prompts, DEFAULT_SCENES, DEFAULT_STEPS, MIN_EVAL_SEED,
};
use sightline::explain::{GenerativeExplainer, Method};
use sightline::loader::ModelFiles;
use sightline::{Error, Result};
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
pub struct EvalArgs {
    /// Multi-object scenes to explain (and as many two-object scenes for text dependence).
    #[arg(long, default_value_t = DEFAULT_SCENES)]
    scenes: usize,
    /// Dataset seed; seeds below 1000000 are reserved for training.
    #[arg(long, default_value_t = MIN_EVAL_SEED)]
    seed: u64,
    /// Comma-separated methods (default: all).
    #[arg(long, value_delimiter = ',')]
    methods: Option<Vec<String>>,
    /// A Hugging Face CLIP folder or a .gguf file; the embedded default model when absent.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Scene side in pixels (default: the model's input size).
    #[arg(long)]
    size: Option<u32>,
    /// Integrated-gradients steps and SmoothGrad samples.
    #[arg(long, default_value_t = DEFAULT_STEPS)]
    steps: usize,
    /// Explain every object of each scene in turn, not one per scene (about three times slower).
    #[arg(long)]
    every_object: bool,
    /// Also write the report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also write the markdown table here.
    #[arg(long)]
    markdown: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
    /// `labels` scores a CLIP model's maps of its captions; `vqa` asks a generative (LLaVA) model
    /// about each scene and scores its answers and the maps of its answer words.
    #[arg(long, value_enum, default_value_t = Task::Labels)]
    task: Task,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Task {
    Labels,
    Vqa,
}

pub fn run(args: EvalArgs) -> Result<()> {
    if args.task == Task::Vqa {
        return run_vqa(args);
    }
    let methods = parse_methods(args.methods.as_deref(), &Method::CLIP)?;
    let settings = EvalSettings {
        scenes: args.scenes,
        seed: args.seed,
        methods,
        steps: args.steps,
        scene_size: args.size,
        prompts: if args.every_object { Prompts::EveryObject } else { Prompts::OnePerScene },
    };
    settings.validate()?;
    let files = match &args.model {
        Some(path) => ModelFiles::from_path(path)?,
        None => default_model_files()?,
    };
    let progress = |done, total| {
        eprint!("\rscene {done}/{total}");
        let _ = std::io::stderr().flush();
    };
    let report = match args.backend {
        BackendChoice::Cpu => evaluate_model_with_progress(CpuBackend, &files, &settings, progress)?,
        BackendChoice::Webgpu => evaluate_model_with_progress(WebGpuBackend::new()?, &files, &settings, progress)?,
    };
    eprintln!("\rdone in {:.1} s", report.total_ms / 1e3);
    let markdown = report.to_markdown();
    print!("{markdown}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &markdown).map_err(|e| Error::io(path.display(), e))?;
    }
    if let Some(path) = &args.json {
        let json = pretty_json(&report)?;
        std::fs::write(path, json).map_err(|e| Error::io(path.display(), e))?;
    }
    Ok(())
}

fn run_vqa(args: EvalArgs) -> Result<()> {
    let settings = EvalSettings {
        scenes: args.scenes,
        seed: args.seed,
        methods: parse_methods(args.methods.as_deref(), &Method::GENERATIVE)?,
        steps: args.steps,
        scene_size: args.size,
        prompts: Prompts::OnePerScene,
    };
    settings.validate()?;
    let path = args
        .model
        .as_ref()
        .ok_or_else(|| Error::InvalidOption("--task vqa needs a generative model: --model LLAVA-FOLDER".into()))?;
    let files = ModelFiles::from_path(path)?;
    let progress = |done, total| {
        eprint!("\rscene {done}/{total}");
        let _ = std::io::stderr().flush();
    };
    let report = match args.backend {
        BackendChoice::Cpu => evaluate_vqa(&GenerativeExplainer::load(CpuBackend, &files)?, &settings, progress)?,
        BackendChoice::Webgpu => {
            evaluate_vqa(&GenerativeExplainer::load(WebGpuBackend::new()?, &files)?, &settings, progress)?
        }
    };
    eprintln!("\rdone in {:.1} s", report.total_ms / 1e3);
    let markdown = report.to_markdown();
    print!("{markdown}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &markdown).map_err(|e| Error::io(path.display(), e))?;
    }
    if let Some(path) = &args.json {
        std::fs::write(path, pretty_json(&report)?).map_err(|e| Error::io(path.display(), e))?;
    }
    Ok(())
}
