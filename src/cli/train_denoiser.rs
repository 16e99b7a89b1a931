//! `privact train-denoiser [--data DIR] [--out assets]` (feature `train`): simulates training
//! pairs, fits the linear filter, trains the nonlinear network, writes weights + description.

use std::path::PathBuf;

use crate::train::denoiser::{TrainConfig, run as train};

#[derive(clap::Args)]
pub struct TrainDenoiserArgs {
    /// Kidney-CT folder (class subfolders of JPEGs); default `$PRIVACT_DATA/kidney-ct` or
    /// `../shared/data/kidney-ct`. Phantoms are always used.
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long, default_value = "assets")]
    pub out: PathBuf,
    #[arg(long, default_value = "target/denoiser-cache")]
    pub cache: PathBuf,
    #[arg(long, default_value_t = 96)]
    pub train_images: usize,
    #[arg(long, default_value_t = 24)]
    pub val_images: usize,
    #[arg(long, default_value_t = 9)]
    pub linear_k: usize,
    #[arg(long, default_value_t = 0.25)]
    pub linear_dose: f64,
    #[arg(long, default_value_t = 0.985)]
    pub group_threshold: f64,
    #[arg(long, default_value_t = 16)]
    pub channels: usize,
    /// Kernel sizes of the nonlinear layers, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "5,3,3,5")]
    pub kernels: Vec<usize>,
    #[arg(long, default_value_t = 1500)]
    pub steps: usize,
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Output patch side (inputs get the halo added).
    #[arg(long, default_value_t = 40)]
    pub patch: usize,
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f64,
    /// Seed of the nonlinear training (initialisation, batch order).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Seed of the data: split, images per group, simulated noise. Keep it fixed to compare or
    /// continue runs on the same validation images.
    #[arg(long, default_value_t = 7)]
    pub split_seed: u64,
    /// Continue training the nonlinear network from a previous output folder.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Kidney training images per training group (further slices of the same scan).
    #[arg(long, default_value_t = 1)]
    pub per_group: usize,
    /// Training doses (one per image, cycled; every one for every image with --all-doses).
    #[arg(long, value_delimiter = ',', default_value = "0.1,0.25,0.25,0.5")]
    pub train_doses: Vec<f64>,
    /// Simulate every training image at every training dose.
    #[arg(long)]
    pub all_doses: bool,
    /// Use candle's conv2d (slower on the CPU) instead of views + matrix products.
    #[arg(long)]
    pub candle_conv: bool,
    /// Stop the nonlinear training after this many minutes (the LR decay follows the budget).
    #[arg(long)]
    pub max_minutes: Option<f64>,
    /// Folder of real low-dose / full-dose pairs (`pairs.tsv`), e.g. ../shared/data/ldct-mayo.
    #[arg(long)]
    pub mayo: Option<PathBuf>,
    /// Patients of --mayo held out of training and gain fitting (scored only).
    #[arg(long, value_delimiter = ',')]
    pub holdout: Vec<String>,
    /// Doses simulated from the training patients' full-dose scans (one per scan, cycled).
    #[arg(long, value_delimiter = ',', default_value = "0.1,0.25,0.5,1.0")]
    pub mayo_sim_doses: Vec<f64>,
    /// Validation doses of the kidney/phantom simulations.
    #[arg(long, value_delimiter = ',', default_value = "0.1,0.25,0.5,1.0")]
    pub val_doses: Vec<f64>,
    /// Do not weight the loss by the inverse input noise.
    #[arg(long)]
    pub no_noise_weighting: bool,
}

pub fn run(args: &TrainDenoiserArgs) -> anyhow::Result<()> {
    let data = args.data.clone().or_else(|| {
        let p = std::env::var_os("PRIVACT_DATA")
            .map(|d| PathBuf::from(d).join("kidney-ct"))
            .unwrap_or_else(|| PathBuf::from("../shared/data/kidney-ct"));
        p.is_dir().then_some(p)
    });
    if data.is_none() {
        eprintln!("note: no kidney-CT data found; training on phantoms only");
    }
    let cfg = TrainConfig {
        data,
        out: args.out.clone(),
        cache: args.cache.clone(),
        train_images: args.train_images,
        val_images: args.val_images,
        linear_k: args.linear_k,
        linear_dose: args.linear_dose,
        group_threshold: args.group_threshold,
        channels: args.channels,
        kernels: args.kernels.clone(),
        steps: args.steps,
        batch: args.batch,
        patch: args.patch,
        lr: args.lr,
        seed: args.seed,
        split_seed: args.split_seed,
        init: args.init.clone(),
        per_group: args.per_group,
        train_doses: args.train_doses.clone(),
        all_doses: args.all_doses,
        im2col: !args.candle_conv,
        max_seconds: args.max_minutes.map(|m| m * 60.0),
        mayo: args.mayo.clone(),
        holdout: args.holdout.clone(),
        mayo_sim_doses: args.mayo_sim_doses.clone(),
        val_doses: args.val_doses.clone(),
        noise_weighting: !args.no_noise_weighting,
    };
    train(&cfg, &mut |line| eprintln!("{line}"))?;
    Ok(())
}
