//! The `sightline` command line: explain an image natively, benchmark the engine, quantize a
//! model and measure how far its explanations drift.

mod backend_arg;
mod bench_cmd;
mod curves_cmd;
mod drift_cmd;
mod eval_cmd;
mod explain_cmd;
mod generate_cmd;
mod methods_arg;
mod model_arg;
mod quantize_cmd;
mod scenes_cmd;
mod serve_cmd;
mod serve_files;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "sightline", version, about = "Explain what a vision-language model looks at")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Explain which parts of an image (and of the text) drive the model's score.
    Explain(explain_cmd::ExplainArgs),
    /// Ask a generative (LLaVA) model about an image and explain every word of its answer.
    Generate(generate_cmd::GenerateArgs),
    /// Time explanations on random weights at the real sizes of published checkpoints.
    Bench(bench_cmd::BenchArgs),
    /// Write a dataset of synthetic scenes with object masks and captions (for training and tests).
    Scenes(scenes_cmd::ScenesArgs),
    /// Score every explanation method's faithfulness on held-out synthetic scenes with exact masks.
    Eval(eval_cmd::EvalArgs),
    /// Write a model as one GGUF file with its linear weights quantized (q8_0, q4_0, q4_k) or f16.
    Quantize(quantize_cmd::QuantizeArgs),
    /// How far two versions of a model (e.g. quantized and full precision) differ in their explanations.
    Drift(drift_cmd::DriftArgs),
    /// Deletion and insertion curves of one explanation's patch map (the web app's faithfulness tab).
    Curves(curves_cmd::CurvesArgs),
    /// Serve the built web app (dist/) on 127.0.0.1.
    Serve(serve_cmd::ServeArgs),
}

/// candle sizes its thread pool from RAYON_NUM_THREADS on every matrix product and otherwise asks
/// num_cpus, which re-reads /proc/cpuinfo each time; fixing the variable once at start-up removes
/// that file read from every product.
fn pin_thread_count() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    }
}

/// glibc returns freed memory at the top of the heap to the system once more than a few MB are
/// free there, so each explanation (which frees a backward pass's saved activations, hundreds of
/// MB, at its end) faults the same pages in again in the next one: 3–4 % of a ViT-B/16 gradient.
/// Keeping freed memory for reuse costs nothing in peak memory, which the first explanation sets.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    use std::os::raw::c_int;
    extern "C" {
        fn mallopt(param: c_int, value: c_int) -> c_int;
    }
    // From glibc's malloc.h. The mmap threshold is set to glibc's own upper bound (32 MiB on
    // 64-bit), which also stops it from adapting, so activation buffers come from the heap.
    const M_TRIM_THRESHOLD: c_int = -1;
    const M_MMAP_THRESHOLD: c_int = -3;
    const NEVER_TRIM: c_int = c_int::MAX;
    const MMAP_ABOVE_BYTES: c_int = 32 << 20;
    // SAFETY: mallopt only changes the allocator's thresholds; it is called before any thread
    // starts.
    unsafe {
        mallopt(M_TRIM_THRESHOLD, NEVER_TRIM);
        mallopt(M_MMAP_THRESHOLD, MMAP_ABOVE_BYTES);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}

fn main() -> ExitCode {
    keep_freed_memory();
    pin_thread_count();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Explain(args) => explain_cmd::run(args),
        Command::Generate(args) => generate_cmd::run(args),
        Command::Bench(args) => bench_cmd::run(args),
        Command::Scenes(args) => scenes_cmd::run(args),
        Command::Serve(args) => serve_cmd::run(args),
        Command::Eval(args) => eval_cmd::run(args),
        Command::Quantize(args) => quantize_cmd::run(args),
        Command::Drift(args) => drift_cmd::run(args),
        Command::Curves(args) => curves_cmd::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
