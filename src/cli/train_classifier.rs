//! `privact train-classifier`: trains the Ref-CNN and the Approx-CNN (feature `train`).

use std::path::PathBuf;

use clap::Args;

/// Arguments of `train-classifier`.
#[derive(Debug, Args)]
pub struct TrainClassifierArgs {
    /// Data root holding the class folders Normal, Cyst, Tumor (others are ignored).
    #[arg(long)]
    pub data: PathBuf,
    /// Output folder for classifier.safetensors and classifier.json.
    #[arg(long, default_value = "assets")]
    pub out: PathBuf,
    /// Seed for the split, initialisation, shuffling and augmentation.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Ref-CNN epochs.
    #[arg(long, default_value_t = 12)]
    pub ref_epochs: usize,
    /// Approx-CNN epochs.
    #[arg(long, default_value_t = 30)]
    pub approx_epochs: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Thumbnail correlation at or above which two slices of one class are grouped.
    #[arg(long, default_value_t = 0.9)]
    pub group_threshold: f64,
    /// Fraction of each class's images for validation (whole groups).
    #[arg(long, default_value_t = 0.2)]
    pub val_fraction: f64,
}

/// Runs the training.
pub fn run(args: &TrainClassifierArgs) -> anyhow::Result<()> {
    crate::train::run(&crate::train::TrainConfig {
        data: args.data.clone(),
        out: args.out.clone(),
        seed: args.seed,
        ref_epochs: args.ref_epochs,
        approx_epochs: args.approx_epochs,
        batch: args.batch,
        group_threshold: args.group_threshold,
        val_fraction: args.val_fraction,
    })
}
