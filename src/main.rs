//! The `privact` command: the desktop app (no subcommand) and the command-line tools.

use clap::{Parser, Subcommand};

/// mimalloc reuses the megabyte-sized polynomial buffers instead of returning them to the OS,
/// which removes page-fault time from every homomorphic operation.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_e` (mimalloc.h; libmimalloc-sys 0.1.49
/// names no constant for it). -1 = never purge: by default mimalloc decommits freed pages
/// after 10 ms, so the next ciphertext of the same size faults them in and the kernel zeroes
/// them again (`clear_page_erms` was 16 % of a nonlinear denoising profile). Freed memory is
/// still reused by the process; it is only not handed back to the OS until exit.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn keep_freed_pages() {
    // SAFETY: plain option setters of the allocator, called before any other thread exists.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
    }
}

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
    /// Serve encrypted classification and denoising over HTTPS (evaluation keys only).
    Serve(privact::cli::serve::ServeArgs),
    /// Evaluate the classifier on a folder of class subfolders.
    Evaluate(privact::cli::classify::EvaluateArgs),
    /// Classify every slice of a series (a folder of one series or a multi-frame file) with one key set.
    ClassifySeries(privact::cli::classify_series::ClassifySeriesArgs),
    /// Encrypted classification of the built-in phantom in the terminal, with the cost ledger.
    Demo,
    /// Denoise a (simulated) low-dose CT slice, in plaintext or under CKKS.
    Denoise(privact::cli::denoise::DenoiseArgs),
    /// Score the denoisers on a folder of real low-dose / full-dose pairs (pairs.tsv).
    EvaluateDenoise(privact::cli::evaluate_denoise::EvaluateDenoiseArgs),
    /// Train the denoisers (feature `train`).
    #[cfg(feature = "train")]
    TrainDenoiser(privact::cli::train_denoiser::TrainDenoiserArgs),
    /// Check images before classification: refuse non-CT, warn on non-abdominal slices.
    CheckInput(privact::cli::check_input::CheckInputArgs),
    /// Describe an image file: modality, size, transfer syntax, value range, window.
    Inspect(privact::cli::inspect::InspectArgs),
    /// Write the synthetic abdominal CT phantom (the built-in sample).
    Phantom(privact::cli::phantom::PhantomArgs),
    /// Simulate a lower-dose scan of a CT slice (projection-domain noise + FBP).
    SimulateLdct(privact::cli::simulate_ldct::SimulateLdctArgs),
    /// Train the kidney-CT classifier (Ref-CNN and Approx-CNN) and write its assets.
    #[cfg(feature = "train")]
    TrainClassifier(privact::cli::train_classifier::TrainClassifierArgs),
    /// Join classifier training runs (same split, different seeds) into an Approx-CNN ensemble.
    #[cfg(feature = "train")]
    AssembleClassifier(privact::cli::assemble_classifier::AssembleClassifierArgs),
    /// Open the desktop app (the default), optionally with a file and a job to start.
    Gui(GuiArgs),
}

#[derive(clap::Args, Default)]
struct GuiArgs {
    /// Open this DICOM/PNG/JPEG/TIFF file (or series folder) instead of the built-in phantom.
    #[arg(long, value_name = "FILE")]
    open: Option<std::path::PathBuf>,
    /// Start a job as soon as the image is loaded (classroom kiosks, screenshots).
    #[arg(long, value_enum)]
    run: Option<RunArg>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum RunArg {
    Classify,
    /// Every slice of the opened series (issue 19).
    ClassifySeries,
    Denoise,
}

#[cfg(feature = "gui")]
fn gui(args: GuiArgs) -> anyhow::Result<()> {
    use privact::app::{AutoRun, Launch};
    let launch = Launch {
        open: args.open,
        run: args.run.map(|r| match r {
            RunArg::Classify => AutoRun::Classify,
            RunArg::ClassifySeries => AutoRun::ClassifySeries,
            RunArg::Denoise => AutoRun::Denoise,
        }),
    };
    privact::app::run(launch)?;
    Ok(())
}

#[cfg(not(feature = "gui"))]
fn gui(_args: GuiArgs) -> anyhow::Result<()> {
    anyhow::bail!(
        "this build has no desktop app (built without the `gui` feature); run `privact --help`"
    )
}

/// Every failure ends as one `error: …` line on stderr and exit code 2, never a panic trace.
fn main() -> std::process::ExitCode {
    keep_freed_pages();
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
        Some(Command::Serve(args)) => privact::cli::serve::run(&args),
        Some(Command::Evaluate(args)) => privact::cli::classify::run_evaluate(&args),
        Some(Command::ClassifySeries(args)) => privact::cli::classify_series::run(&args),
        Some(Command::Inspect(args)) => privact::cli::inspect::run(&args),
        Some(Command::CheckInput(args)) => privact::cli::check_input::run(&args),
        Some(Command::Phantom(args)) => privact::cli::phantom::run(&args),
        Some(Command::SimulateLdct(args)) => privact::cli::simulate_ldct::run(&args),
        #[cfg(feature = "train")]
        Some(Command::TrainClassifier(args)) => privact::cli::train_classifier::run(&args),
        #[cfg(feature = "train")]
        Some(Command::AssembleClassifier(args)) => privact::cli::assemble_classifier::run(&args),
        Some(Command::Denoise(args)) => privact::cli::denoise::run(&args),
        Some(Command::EvaluateDenoise(args)) => privact::cli::evaluate_denoise::run(&args),
        #[cfg(feature = "train")]
        Some(Command::TrainDenoiser(args)) => privact::cli::train_denoiser::run(&args),
        Some(Command::Demo) => privact::cli::classify::run_demo(),
        Some(Command::Gui(args)) => gui(args),
        None => gui(GuiArgs::default()),
    }
}
