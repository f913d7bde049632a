use clap::Args;
use sightline::scene::{write_dataset_with_previews, SceneSpec};
use sightline::Result;
use std::path::PathBuf;

#[derive(Args)]
pub struct ScenesArgs {
    #[arg(long)]
    count: usize,
    /// The dataset seed; each scene's own seed derives from it.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Image side in pixels.
    #[arg(long, default_value_t = 224)]
    size: u32,
    #[arg(long)]
    min_objects: Option<usize>,
    #[arg(long)]
    max_objects: Option<usize>,
    /// Also save the first N images as PNG.
    #[arg(long, default_value_t = 0)]
    previews: usize,
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: ScenesArgs) -> Result<()> {
    let mut spec = SceneSpec::default();
    if let Some(n) = args.min_objects {
        spec.min_objects = n;
    }
    if let Some(n) = args.max_objects {
        spec.max_objects = n;
    }
    let meta = write_dataset_with_previews(&args.out, args.count, args.seed, args.size, &spec, args.previews)?;
    eprintln!("wrote {} scenes of {}x{} to {}", meta.count, meta.size, meta.size, args.out.display());
    Ok(())
}
