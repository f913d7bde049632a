use crate::backend_arg::BackendChoice;
use crate::model_arg::require_family;
use clap::Args;
use sightline::backend::cpu::CpuBackend;
use sightline::backend::webgpu::WebGpuBackend;
use sightline::backend::Backend;
use sightline::config::ModelFamily;
use sightline::error::pretty_json;
use sightline::explain::{
    ContrastToken, GenerateRequest, Generation, GenerativeExplainer, HeadFusion, ImageInput, Method, MethodOptions,
    StreamedToken, DEFAULT_MAX_TOKENS,
};
use sightline::generate::SamplingOptions;
use sightline::heatmap::{encode_png, render_overlay, Colormap, OverlayOptions, ScoreMap};
use sightline::loader::ModelFiles;
use sightline::preprocess::{decode_image, read_image_file, ImageLimits};
use sightline::render::crop_in_pixels;
use sightline::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct GenerateArgs {
    /// A Hugging Face LLaVA folder (config.json, model.safetensors or its shards, tokenizer.json,
    /// processor and chat-template files).
    #[arg(long)]
    model: PathBuf,
    #[arg(long)]
    image: PathBuf,
    /// The question, put into the checkpoint's chat template; without a template, the whole
    /// prompt, which must contain `<image>`.
    #[arg(long)]
    prompt: String,
    #[arg(long, default_value_t = DEFAULT_MAX_TOKENS)]
    max_tokens: usize,
    /// Explain every answer token (or the one --token names) with this method: attention,
    /// rollout, chefer, chefer_vision, gradient, grad_x_input, integrated_gradients, smoothgrad,
    /// occlusion, token_activation.
    #[arg(long)]
    method: Option<String>,
    /// Integrated-gradients steps and SmoothGrad samples.
    #[arg(long, default_value_t = MethodOptions::default().steps)]
    steps: usize,
    /// Rollout's head fusion: mean, max or min.
    #[arg(long, default_value = "mean")]
    head_fusion: String,
    /// Explain only answer token K (counting from 0).
    #[arg(long)]
    token: Option<usize>,
    /// Explain logit(token K) − logit(TEXT) instead: TEXT must be one token ("why K, not TEXT").
    #[arg(long, requires = "token")]
    contrast: Option<String>,
    /// Sample instead of the greedy pick.
    #[arg(long)]
    temperature: Option<f32>,
    #[arg(long, requires = "temperature")]
    top_k: Option<usize>,
    #[arg(long, requires = "temperature")]
    top_p: Option<f32>,
    /// The sampling seed, and SmoothGrad's noise seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
    /// Write the generation JSON here ("-" for standard output).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write one overlay per explained token, PREFIX-<k>.png.
    #[arg(long)]
    png: Option<PathBuf>,
    /// The overlays' colormap: viridis, inferno, magma, coolwarm.
    #[arg(long)]
    colormap: Option<String>,
    #[arg(long, default_value_t = 0.55)]
    opacity: f32,
}

pub fn run(args: GenerateArgs) -> Result<()> {
    let method: Option<Method> = args.method.as_deref().map(str::parse).transpose()?;
    if args.png.is_some() && method.is_none() {
        return Err(Error::InvalidOption("--png draws the explanations: give a --method".into()));
    }
    let options = MethodOptions {
        steps: args.steps,
        seed: args.seed,
        head_fusion: args.head_fusion.parse::<HeadFusion>()?,
        ..MethodOptions::default()
    };
    let files = ModelFiles::from_path(&args.model)?;
    require_family(&files, ModelFamily::Llava)?;
    let bytes = read_image_file(&args.image)?;
    let image = decode_image(&bytes, ImageLimits::default())?;
    let request = GenerateRequest {
        image: ImageInput::Decoded(&image),
        prompt: &args.prompt,
        max_tokens: args.max_tokens,
        sampling: SamplingOptions {
            temperature: args.temperature,
            top_k: args.top_k,
            top_p: args.top_p,
            seed: args.seed,
        },
        method,
        options,
        token: args.token,
        contrast: args.contrast.as_deref().map(ContrastToken::Text),
        answer: None,
    };
    let generation = match args.backend {
        BackendChoice::Cpu => generate(GenerativeExplainer::load(CpuBackend, &files)?, &request)?,
        BackendChoice::Webgpu => generate(GenerativeExplainer::load(WebGpuBackend::new()?, &files)?, &request)?,
    };
    for warning in &generation.warnings {
        eprintln!("warning: {warning}");
    }
    if let Some(path) = &args.json {
        let json = pretty_json(&generation)?;
        if path.as_os_str() == "-" {
            println!("{json}");
        } else {
            std::fs::write(path, json).map_err(|e| Error::io(path.display(), e))?;
        }
    }
    if let Some(prefix) = &args.png {
        let overlay = OverlayOptions {
            colormap: args.colormap.as_deref().map(Colormap::from_name).transpose()?,
            opacity: args.opacity,
            ..OverlayOptions::default()
        };
        write_overlays(prefix, &image, &generation, &overlay)?;
    }
    Ok(())
}

/// Generates, printing the answer to standard error as it streams (standard output stays free
/// for `--json -`).
fn generate<B: Backend>(explainer: GenerativeExplainer<B>, request: &GenerateRequest) -> Result<Generation> {
    let mut stderr = std::io::stderr();
    let mut print = |token: &StreamedToken| {
        let _ = write!(stderr, "{}", token.text);
        let _ = stderr.flush();
        true
    };
    let generation = explainer.generate(request, &mut print);
    eprintln!();
    generation
}

fn write_overlays(
    prefix: &Path,
    image: &image::RgbImage,
    generation: &Generation,
    overlay: &OverlayOptions,
) -> Result<()> {
    let [rows, cols] = generation.patch_grid;
    let crop = crop_in_pixels(generation.crop, image.width(), image.height());
    for token in &generation.tokens {
        let Some(scores) = &token.patch_scores else { continue };
        let method = generation.method.map_or("", Method::name);
        let title = format!("{method} · '{}' · p={:.2}", token.token.text.trim(), token.token.prob);
        let options = OverlayOptions { title: Some(title), ..overlay.clone() };
        let drawn = render_overlay(image, crop, ScoreMap::Patches { rows, cols, scores }, &options)?;
        let path = PathBuf::from(format!("{}-{}.png", prefix.display(), token.token.index));
        std::fs::write(&path, encode_png(&drawn)?).map_err(|e| Error::io(path.display(), e))?;
    }
    Ok(())
}
