//! The `privact` command: the desktop app (no subcommand) and the command-line tools.

use clap::{Parser, Subcommand};

/// mimalloc reuses the megabyte-sized polynomial buffers instead of returning them to the OS,
/// which removes page-fault time from every homomorphic operation.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "privact", version = privact::cli::LONG_VERSION, about = "Encrypted AI on CT slices (CKKS homomorphic encryption)")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Time the CKKS primitives on the named parameter sets (single-threaded medians).
    Bench(privact::cli::bench::BenchArgs),
    /// Classify a kidney CT slice (normal / cyst / tumour), by default under encryption.
    Classify(privact::cli::classify::ClassifyArgs),
    /// Evaluate the classifier on a folder of class subfolders.
    Evaluate(privact::cli::classify::EvaluateArgs),
    /// Describe an image file: modality, size, transfer syntax, value range, window.
    Inspect(privact::cli::inspect::InspectArgs),
    /// Write the synthetic abdominal CT phantom (the built-in sample).
    Phantom(privact::cli::phantom::PhantomArgs),
    /// Simulate a lower-dose scan of a CT slice (projection-domain noise + FBP).
    SimulateLdct(privact::cli::simulate_ldct::SimulateLdctArgs),
    /// Train the kidney-CT classifier (Ref-CNN and Approx-CNN) and write its assets.
    #[cfg(feature = "train")]
    TrainClassifier(privact::cli::train_classifier::TrainClassifierArgs),
}

/// Every failure ends as one `error: …` line on stderr and exit code 2, never a panic trace.
fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Bench(args)) => privact::cli::bench::run(&args),
        Some(Command::Classify(args)) => privact::cli::classify::run_classify(&args),
        Some(Command::Evaluate(args)) => privact::cli::classify::run_evaluate(&args),
        Some(Command::Inspect(args)) => privact::cli::inspect::run(&args),
        Some(Command::Phantom(args)) => privact::cli::phantom::run(&args),
        Some(Command::SimulateLdct(args)) => privact::cli::simulate_ldct::run(&args),
        #[cfg(feature = "train")]
        Some(Command::TrainClassifier(args)) => privact::cli::train_classifier::run(&args),
        None => privact::cli::classify::run_demo(),
    }
}
