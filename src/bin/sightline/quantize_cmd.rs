use crate::model_arg::model_files;
use clap::Args;
use sightline::quantize::{quantize_model, QuantFormat, QuantizeOptions};
use sightline::{Error, Result};
use std::path::PathBuf;

#[derive(Args)]
pub struct QuantizeArgs {
    /// A Hugging Face CLIP folder, a .gguf file, or `default` (the embedded model).
    #[arg(long)]
    model: PathBuf,
    /// Format of the linear weights: q8_0, q4_0, q4_k or f16.
    #[arg(long)]
    to: String,
    /// The GGUF file to write.
    #[arg(long)]
    out: PathBuf,
    /// Also quantize the patch projection and the token and position embeddings (smaller file,
    /// larger drift; see docs/QUANTIZATION.md).
    #[arg(long)]
    quantize_embeddings: bool,
    /// Print the type chosen for every tensor.
    #[arg(long)]
    verbose: bool,
}

pub fn run(args: QuantizeArgs) -> Result<()> {
    let format: QuantFormat = args.to.parse()?;
    if args.out.extension().is_none_or(|e| !e.eq_ignore_ascii_case("gguf")) {
        return Err(Error::InvalidOption(format!("--out {} should end in .gguf", args.out.display())));
    }
    let files = model_files(&args.model)?;
    let source_bytes = files.weights.byte_len();
    let options = QuantizeOptions { format, quantize_embeddings: args.quantize_embeddings };
    let quantized = quantize_model(&files, &options)?;
    std::fs::write(&args.out, &quantized.bytes).map_err(|e| Error::io(args.out.display(), e))?;
    println!(
        "wrote {} ({:.2} MB, from {:.2} MB of weights), linear weights in {}",
        args.out.display(),
        quantized.bytes.len() as f64 / 1e6,
        source_bytes as f64 / 1e6,
        format.name()
    );
    for line in quantized.summary_lines() {
        println!("  {line}");
    }
    for line in quantized.fallback_lines() {
        println!("fallback: {line}");
    }
    if args.verbose {
        for tensor in &quantized.tensors {
            println!("  {:<60} {:?} {}", tensor.name, tensor.shape, sightline::loader::gguf::type_name(tensor.dtype));
        }
    }
    Ok(())
}
