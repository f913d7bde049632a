use crate::backend_arg::BackendChoice;
use crate::model_arg::require_family;
use clap::Args;
use sightline::backend::cpu::CpuBackend;
use sightline::backend::webgpu::WebGpuBackend;
use sightline::config::ModelFamily;
use sightline::default_model::default_model_files;
use sightline::error::pretty_json;
use sightline::explain::{explain_with_fallback, Explainer, HeadFusion, ImageInput, Method, MethodOptions, Request};
use sightline::heatmap::{Colormap, OverlayOptions};
use sightline::loader::ModelFiles;
use sightline::preprocess::{decode_image, read_image_file, ImageLimits};
use sightline::render::{explanation_png, title, MapChoice};
use sightline::{Error, Result};
use std::path::PathBuf;

#[derive(Args)]
pub struct ExplainArgs {
    /// A Hugging Face CLIP folder (config.json, model.safetensors, tokenizer.json) or a .gguf file
    /// from `sightline quantize`; the embedded default model when absent.
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long)]
    image: PathBuf,
    /// A text to score; repeat for zero-shot labels.
    #[arg(long = "text", required = true)]
    texts: Vec<String>,
    /// Which text to explain, counting from 0.
    #[arg(long, default_value_t = 0)]
    target: usize,
    /// attention, rollout, gradient, grad_x_input, integrated_gradients, smoothgrad, gradcam,
    /// chefer, occlusion.
    #[arg(long)]
    method: String,
    /// Integrated-gradients steps and SmoothGrad samples.
    #[arg(long, default_value_t = MethodOptions::default().steps)]
    steps: usize,
    /// SmoothGrad's noise seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Rollout's head fusion: mean, max or min.
    #[arg(long, default_value = "mean")]
    head_fusion: String,
    /// Rollout's share of lowest attention entries to discard, in [0, 1).
    #[arg(long, default_value_t = 0.0)]
    discard_ratio: f32,
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
    /// Write the explanation JSON here ("-" for standard output; the default when no --png).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the heatmap overlay PNG here.
    #[arg(long)]
    png: Option<PathBuf>,
    /// The overlay's colormap: viridis, inferno, magma, coolwarm (default: inferno, or coolwarm
    /// for signed maps).
    #[arg(long)]
    colormap: Option<String>,
    /// The overlay's opacity, 0 to 1.
    #[arg(long, default_value_t = 0.55)]
    opacity: f32,
    /// Draw the per-pixel map (methods that have one) instead of the patch map.
    #[arg(long)]
    pixel_map: bool,
}

pub fn run(args: ExplainArgs) -> Result<()> {
    let method: Method = args.method.parse()?;
    let options = MethodOptions {
        steps: args.steps,
        seed: args.seed,
        head_fusion: args.head_fusion.parse::<HeadFusion>()?,
        discard_ratio: args.discard_ratio,
    };
    options.validate()?;
    let files = match &args.model {
        Some(path) => ModelFiles::from_path(path)?,
        None => default_model_files()?,
    };
    require_family(&files, ModelFamily::Clip)?;
    let overlay = OverlayOptions {
        colormap: args.colormap.as_deref().map(Colormap::from_name).transpose()?,
        opacity: args.opacity,
        ..OverlayOptions::default()
    };
    let bytes = read_image_file(&args.image)?;
    let image = decode_image(&bytes, ImageLimits::default())?;
    let request =
        Request { image: ImageInput::Decoded(&image), texts: &args.texts, target: args.target, method, options };
    let explanation = match args.backend {
        BackendChoice::Cpu => {
            let explainer = Explainer::load(CpuBackend, &files)?;
            // The model holds its own copy of every weight: the file's bytes are no longer needed.
            drop(files);
            explainer.explain(&request)?
        }
        BackendChoice::Webgpu => {
            let gpu = Explainer::load(WebGpuBackend::new()?, &files)?;
            explain_with_fallback(&gpu, || Explainer::load(CpuBackend, &files), &request, &|_, _| {})?
        }
    };
    for warning in &explanation.warnings {
        eprintln!("warning: {warning}");
    }
    let json = pretty_json(&explanation)?;
    match &args.json {
        Some(path) if path.as_os_str() == "-" => println!("{json}"),
        Some(path) => std::fs::write(path, json).map_err(|e| Error::io(path.display(), e))?,
        None if args.png.is_none() => println!("{json}"),
        None => {}
    }
    if let Some(path) = &args.png {
        let choice = if args.pixel_map { MapChoice::Pixels } else { MapChoice::Patches };
        let options = OverlayOptions { title: Some(title(&explanation)), ..overlay };
        let png = explanation_png(&image, &explanation, choice, &options)?;
        std::fs::write(path, png).map_err(|e| Error::io(path.display(), e))?;
    }
    Ok(())
}
