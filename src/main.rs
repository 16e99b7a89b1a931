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
    /// Describe an image file: modality, size, transfer syntax, value range, window.
    Inspect(privact::cli::inspect::InspectArgs),
    /// Write the synthetic abdominal CT phantom (the built-in sample).
    Phantom(privact::cli::phantom::PhantomArgs),
    /// Simulate a lower-dose scan of a CT slice (projection-domain noise + FBP).
    SimulateLdct(privact::cli::simulate_ldct::SimulateLdctArgs),
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
    Denoise,
}

#[cfg(feature = "gui")]
fn gui(args: GuiArgs) -> anyhow::Result<()> {
    use privact::app::{AutoRun, Launch};
    let launch = Launch {
        open: args.open,
        run: args.run.map(|r| match r {
            RunArg::Classify => AutoRun::Classify,
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

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Bench(args)) => privact::cli::bench::run(&args),
        Some(Command::Inspect(args)) => privact::cli::inspect::run(&args),
        Some(Command::Phantom(args)) => privact::cli::phantom::run(&args),
        Some(Command::SimulateLdct(args)) => privact::cli::simulate_ldct::run(&args),
        Some(Command::Gui(args)) => gui(args),
        None => gui(GuiArgs::default()),
    }
}
