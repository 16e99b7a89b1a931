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
    /// Denoise a (simulated) low-dose CT slice, in plaintext or under CKKS.
    Denoise(privact::cli::denoise::DenoiseArgs),
    /// Train the denoisers (feature `train`).
    #[cfg(feature = "train")]
    TrainDenoiser(privact::cli::train_denoiser::TrainDenoiserArgs),
    /// Describe an image file: modality, size, transfer syntax, value range, window.
    Inspect(privact::cli::inspect::InspectArgs),
    /// Write the synthetic abdominal CT phantom (the built-in sample).
    Phantom(privact::cli::phantom::PhantomArgs),
    /// Simulate a lower-dose scan of a CT slice (projection-domain noise + FBP).
    SimulateLdct(privact::cli::simulate_ldct::SimulateLdctArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Bench(args)) => privact::cli::bench::run(&args),
        Some(Command::Denoise(args)) => privact::cli::denoise::run(&args),
        #[cfg(feature = "train")]
        Some(Command::TrainDenoiser(args)) => privact::cli::train_denoiser::run(&args),
        Some(Command::Inspect(args)) => privact::cli::inspect::run(&args),
        Some(Command::Phantom(args)) => privact::cli::phantom::run(&args),
        Some(Command::SimulateLdct(args)) => privact::cli::simulate_ldct::run(&args),
        None => {
            anyhow::bail!(
                "the desktop app is not built yet; run `privact --help` for the command-line tools"
            )
        }
    }
}
