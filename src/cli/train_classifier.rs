//! `privact train-classifier`: trains the Ref-CNN and the Approx-CNN (feature `train`).

use std::path::PathBuf;

use clap::Args;

use crate::train::{ApproxRecipe, Augment};

/// Arguments of `train-classifier`.
#[derive(Debug, Args)]
pub struct TrainClassifierArgs {
    /// Data root holding the class folders Normal, Cyst, Tumor (others are ignored).
    #[arg(long)]
    pub data: PathBuf,
    /// Output folder for classifier.safetensors and classifier.json.
    #[arg(long, default_value = "assets")]
    pub out: PathBuf,
    /// Seed for initialisation, shuffling and augmentation.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Seed that breaks ties in the group-wise split. Keep it fixed (the shipped model used 7)
    /// to compare training seeds on the same validation groups.
    #[arg(long, default_value_t = 7)]
    pub split_seed: u64,
    /// Ref-CNN epochs.
    #[arg(long, default_value_t = 12)]
    pub ref_epochs: usize,
    /// Approx-CNN epochs.
    #[arg(long, default_value_t = 30)]
    pub approx_epochs: usize,
    /// Approx-CNN peak learning rate (cosine decay with warm-up).
    #[arg(long, default_value_t = crate::train::LR_APPROX)]
    pub approx_lr: f64,
    /// Train the Approx-CNN on the hard labels only instead of distilling it from the Ref-CNN.
    #[arg(long)]
    pub no_distill: bool,
    /// Distil the Approx-CNN from an ensemble instead of the Ref-CNN: first train one
    /// Approx-CNN per seed on the same slices (hard labels, same recipe; with --ref-weights each
    /// is the network `--no-distill --seed S` trains), then distil this run's network from
    /// their mean logits. With --series-cv every fold trains its own teachers.
    #[arg(long, value_name = "SEEDS", value_delimiter = ',', conflicts_with_all = ["no_distill", "cv_folds"])]
    pub teacher_seeds: Vec<u64>,
    /// Mixup for the Approx-CNN: Beta(α, α) mixing weight; 0 turns it off.
    #[arg(long, default_value_t = 0.0)]
    pub mixup: f64,
    /// Exponential moving average of the Approx-CNN weights (decay per step, e.g. 0.995);
    /// the average is exported. 0 keeps the last weights.
    #[arg(long, default_value_t = 0.0)]
    pub ema: f64,
    /// Augmentation strength for the Approx-CNN (the Ref-CNN always uses `basic`).
    #[arg(long, value_enum, default_value_t = Augment::Basic)]
    pub augment: Augment,
    /// Take the Ref-CNN from this safetensors file (e.g. the shipped
    /// assets/classifier.safetensors, trained on the same split) instead of training it;
    /// --ref-epochs is then only recorded in the description (give the epochs that file was
    /// trained with). Not allowed with --cv-folds (the teacher of each fold
    /// must not have seen the held-out groups).
    #[arg(long, value_name = "FILE")]
    pub ref_weights: Option<PathBuf>,
    /// Instead of training the shipped model: group-wise K-fold cross-validation of the
    /// recipe on the training groups only (the validation groups are never used). Each class's
    /// training groups are spread over the folds; per-fold and pooled out-of-fold AUCs go to
    /// stderr, the pooled metrics as one JSON line to stdout. Nothing is written to --out.
    #[arg(long, value_name = "K")]
    pub cv_folds: Option<usize>,
    /// Series-wise cross-validation on --data plus this kidney-ct-extra folder (with its
    /// series.tsv): one fold per extra tumour series, extra cyst/normal series spread over the
    /// folds, --data always trained on; held-out series are also scored by the shipped model.
    /// Writes series_cv.json to --out (no weights). Distillation uses --ref-weights when
    /// given, otherwise each fold trains its own Ref-CNN on its training slices.
    #[arg(long, value_name = "DIR")]
    pub series_cv: Option<PathBuf>,
    /// Add this kidney-ct-extra folder's series (series.tsv) to the training data of the
    /// shipped model (--cap-per-series slices per series); validation stays the split of
    /// --data.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["series_cv", "cv_folds"])]
    pub extra: Option<PathBuf>,
    /// With --series-cv or --extra: at most this many training slices per series/group, evenly spaced
    /// (0: all).
    #[arg(long, default_value_t = 40)]
    pub cap_per_series: usize,
    /// Crop every slice to a square around the patient's body (imaging::body_crop) before
    /// training and inference: removes the field-of-view difference between series.
    #[arg(long)]
    pub body_crop: bool,
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
        split_seed: args.split_seed,
        ref_epochs: args.ref_epochs,
        batch: args.batch,
        group_threshold: args.group_threshold,
        val_fraction: args.val_fraction,
        recipe: ApproxRecipe {
            epochs: args.approx_epochs,
            distill: !args.no_distill,
            teacher_seeds: args.teacher_seeds.clone(),
            mixup: args.mixup,
            ema: args.ema,
            augment: args.augment,
            lr: args.approx_lr,
        },
        cv_folds: args.cv_folds,
        ref_weights: args.ref_weights.clone(),
        series_cv: args.series_cv.clone().map(|d| (d, args.cap_per_series)),
        extra: args.extra.clone().map(|d| (d, args.cap_per_series)),
        body_crop: args.body_crop,
    })
}
