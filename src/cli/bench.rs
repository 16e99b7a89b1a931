//! `privact bench`: medians of single-threaded CKKS primitive timings.

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(_args: &BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("bench: engine under construction")
}
