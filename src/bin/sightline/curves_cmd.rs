use crate::model_arg::model_files;
use clap::Args;
use sightline::backend::cpu::CpuBackend;
use sightline::eval::curves::map_curves;
use sightline::explain::{Explainer, Explanation};
use sightline::preprocess::{decode_image, ImageLimits};
use sightline::{Error, Result};
use std::path::PathBuf;

#[derive(Args)]
pub struct CurvesArgs {
    /// The model that made the explanation: a Hugging Face CLIP folder, a .gguf file, or
    /// "default" (the embedded model).
    #[arg(long, default_value = "default")]
    model: PathBuf,
    /// The explained image.
    #[arg(long)]
    image: PathBuf,
    /// An explanation JSON of that image (from `sightline explain --json` or the web app's
    /// export): its patch map, texts and target are used.
    #[arg(long)]
    explanation: PathBuf,
    /// Write the curves JSON here instead of standard output.
    #[arg(long)]
    json: Option<PathBuf>,
}

pub fn run(args: CurvesArgs) -> Result<()> {
    let read = |path: &PathBuf| std::fs::read(path).map_err(|e| Error::io(path.display(), e));
    let explanation: Explanation = serde_json::from_slice(&read(&args.explanation)?)
        .map_err(|e| Error::io(args.explanation.display(), format!("not an explanation JSON: {e}")))?;
    let image = decode_image(&read(&args.image)?, ImageLimits::default())?;
    let explainer = Explainer::load(CpuBackend, &model_files(&args.model)?)?;
    let curves = map_curves(&explainer, &image, &explanation.patch_scores, &explanation.texts, explanation.target)?;
    let json = serde_json::to_string_pretty(&curves)
        .map_err(|e| Error::InvalidOption(format!("the curves cannot be written as JSON: {e}")))?;
    match &args.json {
        Some(path) => std::fs::write(path, json).map_err(|e| Error::io(path.display(), e)),
        None => {
            println!("{json}");
            Ok(())
        }
    }
}
