//! Training of the kidney-CT classifier (cargo feature `train`, candle on CPU).
//!
//! Pipeline: load the class folders → group near-identical slices → group-wise stratified
//! train/validation split → train the Ref-CNN → distil the Approx-CNN from it (with a range
//! penalty on pre-activations and logits) → export safetensors → evaluate both exported
//! networks with the plain-Rust forward passes → write the JSON description.

pub mod data;
pub mod denoiser;
pub mod nets;
pub mod series_cv;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use candle_core::{D, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, ops::log_softmax, ops::softmax};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::model::classifier::description::{
    ActivationRanges, Architecture, InputSpec, Metrics, ModelDescription, TrainingInfo,
    ValidationFile,
};
use crate::model::classifier::preprocess::{TRANSFORM, preprocess};
use crate::model::classifier::{
    CLASSES, INPUT_SIZE, NUM_CLASSES, approx, metrics, reference, softmax as softmax64, weights,
};

use data::Sample;
use nets::{ApproxNet, RefNet, range_penalty};

/// Training settings.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Data root with the class folders.
    pub data: PathBuf,
    /// Output folder for `classifier.safetensors` and `classifier.json`.
    pub out: PathBuf,
    /// Seed for initialisation, shuffling and augmentation.
    pub seed: u64,
    /// Seed that breaks ties in the group-wise split: kept apart from `seed` so runs with
    /// different training seeds are validated on the same groups.
    pub split_seed: u64,
    /// Ref-CNN epochs.
    pub ref_epochs: usize,
    /// Mini-batch size.
    pub batch: usize,
    /// Thumbnail correlation at or above which two slices of a class are linked.
    pub group_threshold: f64,
    /// Fraction of each class's images put in validation (whole groups).
    pub val_fraction: f64,
    /// How the Approx-CNN is trained.
    pub recipe: ApproxRecipe,
    /// `Some(k)`: group-wise k-fold cross-validation on the training groups only (the
    /// validation groups are not touched); reports the folds and writes nothing.
    pub cv_folds: Option<usize>,
    /// Reuse the Ref-CNN from this safetensors file instead of training it.
    pub ref_weights: Option<PathBuf>,
    /// `Some((kidney-ct-extra folder, cap))`: series-wise cross-validation on `data` plus
    /// this folder (see [`series_cv`]), at most `cap` training slices per group (0: all).
    pub series_cv: Option<(PathBuf, usize)>,
    /// `Some((kidney-ct-extra folder, cap))`: its series join the training data (at most
    /// `cap` slices per series; 0: all); validation stays the split of `data`.
    pub extra: Option<(PathBuf, usize)>,
    /// Crop every image to the patient's body before anything else
    /// ([`crate::imaging::body_crop`]); recorded in the description's input spec.
    pub body_crop: bool,
}

/// Augmentation strength.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Augment {
    /// Flip, rotation ±12°, scale 0.88–1.12, shift ±16 px, gamma e^U(−0.25, 0.25), uniform
    /// noise σ ≤ 0.02.
    Basic,
    /// Flip, rotation ±15°, scale 0.85–1.18, shift ±20 px, window jitter (black point
    /// U(−0.1, 0.1), white point U(0.85, 1.1), clipped), gamma e^U(−0.4, 0.4), Gaussian blur
    /// σ U(0.3, 1.5) on half the images, uniform noise σ ≤ 0.04.
    Strong,
}

/// Settings of the Approx-CNN training (the Ref-CNN recipe is fixed).
#[derive(Debug, Clone)]
pub struct ApproxRecipe {
    /// Epochs.
    pub epochs: usize,
    /// Distil (0.5 hard + 0.5 soft loss) from the Ref-CNN, or from the ensemble named by
    /// `teacher_seeds`; otherwise hard labels only.
    pub distill: bool,
    /// With `distill`: the teacher is the mean logits of Approx-CNNs trained first, in the
    /// same run and on the same slices, with these seeds and this recipe's hard labels
    /// (ensemble distillation, Hinton et al. 2015); empty: the Ref-CNN teaches.
    pub teacher_seeds: Vec<u64>,
    /// Mixup Beta(α, α) parameter; 0 turns mixup off.
    pub mixup: f64,
    /// Exponential moving average of the weights (decay per step); 0 keeps the last weights.
    pub ema: f64,
    /// Augmentation strength.
    pub augment: Augment,
    /// Peak learning rate.
    pub lr: f64,
}

impl ApproxRecipe {
    /// Whether Approx-CNNs trained first (`teacher_seeds`) teach this run's network.
    fn ensemble_teaches(&self) -> bool {
        self.distill && !self.teacher_seeds.is_empty()
    }

    fn describe(&self) -> String {
        let mut parts = vec![format!(
            "{} epochs, peak learning rate {}, {} augmentation",
            self.epochs,
            self.lr,
            match self.augment {
                Augment::Basic => "basic",
                Augment::Strong => "strong",
            }
        )];
        parts.push(if self.distill {
            let teacher = if self.teacher_seeds.is_empty() {
                "the Ref-CNN".to_string()
            } else {
                format!(
                    "the mean logits of {} Approx-CNNs trained first on the same slices with hard labels (seeds {:?})",
                    self.teacher_seeds.len(),
                    self.teacher_seeds
                )
            };
            format!(
                "distilled from {teacher} ({HARD_WEIGHT} * hard CE + {} * T^2 * soft CE at T = {TEMPERATURE})",
                1.0 - HARD_WEIGHT
            )
        } else {
            "hard labels only (no distillation)".into()
        });
        if self.mixup > 0.0 {
            parts.push(format!("mixup Beta({0}, {0})", self.mixup));
        }
        if self.ema > 0.0 {
            parts.push(format!(
                "exponential moving average of the weights (decay {} per step) exported",
                self.ema
            ));
        }
        parts.join("; ")
    }
}

/// Soft-target temperature for distillation.
const TEMPERATURE: f64 = 2.0;
/// Weight of the hard-label loss in distillation (the rest goes to the soft targets).
const HARD_WEIGHT: f64 = 0.5;
/// Pre-activations beyond ±this are penalised.
const PRE_LIMIT: f64 = 12.0;
/// Logits beyond ±this are penalised.
const LOGIT_LIMIT: f64 = 12.0;
/// Weight of the range penalty.
const RANGE_WEIGHT: f64 = 0.05;
/// Label smoothing of the hard targets.
const LABEL_SMOOTHING: f64 = 0.1;
const LR_REF: f64 = 3e-3;
/// Default peak learning rate of the Approx-CNN.
pub const LR_APPROX: f64 = 4e-3;

/// Separable Gaussian blur of an `n`×`n` image (zero outside).
fn blur(img: &[f32], n: usize, sigma: f32) -> Vec<f32> {
    let r = (2.0 * sigma).ceil() as isize;
    let k: Vec<f32> = (-r..=r)
        .map(|d| (-(d * d) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let ks: f32 = k.iter().sum();
    let k: Vec<f32> = k.iter().map(|v| v / ks).collect();
    let pass = |src: &[f32], horizontal: bool| -> Vec<f32> {
        let mut out = vec![0f32; n * n];
        for y in 0..n {
            for x in 0..n {
                let mut acc = 0.0;
                for (t, w) in k.iter().enumerate() {
                    let d = t as isize - r;
                    let (yy, xx) = if horizontal {
                        (y as isize, x as isize + d)
                    } else {
                        (y as isize + d, x as isize)
                    };
                    if yy >= 0 && xx >= 0 && (yy as usize) < n && (xx as usize) < n {
                        acc += w * src[yy as usize * n + xx as usize];
                    }
                }
                out[y * n + x] = acc;
            }
        }
        out
    };
    pass(&pass(img, true), false)
}

/// Random augmentation of a [0, 1] image (see [`Augment`]; bilinear affine with zero fill),
/// then per-image standardisation.
fn augment(p: &[f32], strength: Augment, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let n = INPUT_SIZE;
    let strong = strength == Augment::Strong;
    let (rot, s_lo, s_hi, sh, g, noise) = if strong {
        (15.0f32, 0.85f32, 1.18f32, 20.0f32, 0.4f32, 0.04f32)
    } else {
        (12.0, 0.88, 1.12, 16.0, 0.25, 0.02)
    };
    let flip = rng.random_bool(0.5);
    let angle = rng.random_range(-rot..rot).to_radians();
    let scale = rng.random_range(s_lo..s_hi);
    let (tx, ty) = (rng.random_range(-sh..sh), rng.random_range(-sh..sh));
    let gamma = rng.random_range(-g..g).exp();
    let amp = rng.random_range(0.0f32..noise) * 3f32.sqrt();
    let (lo, hi) = if strong {
        (
            rng.random_range(-0.1f32..0.1),
            rng.random_range(0.85f32..1.1),
        )
    } else {
        (0.0, 1.0)
    };
    let sigma = (strong && rng.random_bool(0.5)).then(|| rng.random_range(0.3f32..1.5));
    let (cs, sn) = (angle.cos() / scale, angle.sin() / scale);
    let c = (n as f32 - 1.0) / 2.0;
    let mut out = vec![0f32; n * n];
    for y in 0..n {
        for x in 0..n {
            // Inverse map: output pixel → source coordinates.
            let (u, v) = (x as f32 - c - tx, y as f32 - c - ty);
            let mut sx = cs * u + sn * v + c;
            let sy = -sn * u + cs * v + c;
            if flip {
                sx = n as f32 - 1.0 - sx;
            }
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as isize, y0 as isize);
            let at = |yy: isize, xx: isize| -> f32 {
                if yy < 0 || xx < 0 || yy >= n as isize || xx >= n as isize {
                    0.0
                } else {
                    p[yy as usize * n + xx as usize]
                }
            };
            let val = (1.0 - fy) * ((1.0 - fx) * at(y0, x0) + fx * at(y0, x0 + 1))
                + fy * ((1.0 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
            out[y * n + x] = ((val - lo) / (hi - lo)).clamp(0.0, 1.0).powf(gamma);
        }
    }
    if let Some(sigma) = sigma {
        out = blur(&out, n, sigma);
    }
    for v in &mut out {
        *v += amp * rng.random_range(-1.0f32..1.0);
    }
    preprocess(&out)
}

fn batch_tensor(
    samples: &[Sample],
    idx: &[usize],
    aug: Option<(Augment, &mut ChaCha8Rng)>,
    dev: &Device,
) -> anyhow::Result<Tensor> {
    let images: Vec<Vec<f32>> = match aug {
        Some((strength, rng)) => {
            let seeds: Vec<u64> = idx.iter().map(|_| rng.random()).collect();
            idx.par_iter()
                .zip(seeds)
                .map(|(&i, seed)| {
                    augment(
                        &samples[i].pixels,
                        strength,
                        &mut ChaCha8Rng::seed_from_u64(seed),
                    )
                })
                .collect()
        }
        None => idx
            .par_iter()
            .map(|&i| preprocess(&samples[i].pixels))
            .collect(),
    };
    let flat: Vec<f32> = images.concat();
    Ok(Tensor::from_vec(
        flat,
        (idx.len(), 1, INPUT_SIZE, INPUT_SIZE),
        dev,
    )?)
}

/// Class-weighted one-hot targets `[B, 3]` (rows sum to the class weight).
fn weighted_targets(
    samples: &[Sample],
    idx: &[usize],
    class_w: &[f64; NUM_CLASSES],
    dev: &Device,
) -> anyhow::Result<(Tensor, f64)> {
    let mut t = vec![0f32; idx.len() * NUM_CLASSES];
    let mut total = 0.0;
    for (r, &i) in idx.iter().enumerate() {
        let y = samples[i].label;
        for k in 0..NUM_CLASSES {
            let target = if k == y { 1.0 - LABEL_SMOOTHING } else { 0.0 }
                + LABEL_SMOOTHING / NUM_CLASSES as f64;
            t[r * NUM_CLASSES + k] = (class_w[y] * target) as f32;
        }
        total += class_w[y];
    }
    Ok((Tensor::from_vec(t, (idx.len(), NUM_CLASSES), dev)?, total))
}

fn cosine_lr(base: f64, step: usize, total: usize) -> f64 {
    let warm = total / 30 + 1;
    if step < warm {
        return base * (step + 1) as f64 / warm as f64;
    }
    let t = (step - warm) as f64 / (total - warm).max(1) as f64;
    base * (0.02 + 0.98 * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()))
}

fn probs_of(logits: &Tensor) -> anyhow::Result<Vec<[f64; NUM_CLASSES]>> {
    let p: Vec<Vec<f32>> = softmax(logits, D::Minus1)?.to_vec2()?;
    Ok(p.into_iter()
        .map(|r| [f64::from(r[0]), f64::from(r[1]), f64::from(r[2])])
        .collect())
}

fn auc_line(probs: &[[f64; NUM_CLASSES]], labels: &[usize]) -> String {
    let aucs: Vec<String> = (0..NUM_CLASSES)
        .map(|k| {
            format!(
                "{} {:.3}",
                CLASSES[k],
                metrics::class_auc(probs, labels, k).unwrap_or(f64::NAN)
            )
        })
        .collect();
    format!(
        "AUC [{}] bal.acc {:.3}",
        aucs.join(", "),
        metrics::balanced_accuracy(probs, labels)
    )
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores available, CPU only (candle)")
}

/// The Approx-CNN's layer sequence, from the architecture constants (`approx_arch`).
fn approx_description() -> String {
    use crate::model::classifier::weights::approx_arch::{C1, C2, K1, K2, S1, S2};
    use crate::model::classifier::{INPUT_SIZE as N, MIN_ACT_A};
    format!(
        "approx: conv1 {K1}x{K1} stride {K1} no padding 1->{C1} (patchify, {N}x{N} -> {S1}x{S1}x{C1}) -> per-channel a*y^2+b*y+c (a >= {MIN_ACT_A}) -> avg pool 2x2/2 ({S2}x{S2}x{C1}) -> conv2 {K2}x{K2} stride 1 zero pad 1 {C1}->{C2} -> per-channel a*y^2+b*y+c -> global average pool ({C2}) -> fc {C2}->3. No batch-norm."
    )
}

/// Trains both networks and writes `classifier.safetensors` and `classifier.json` to `cfg.out`.
pub fn run(cfg: &TrainConfig) -> anyhow::Result<()> {
    if let Some((extra, cap)) = &cfg.series_cv {
        return series_cv::cross_validate(cfg, extra, *cap);
    }
    // Refused before any image is loaded.
    anyhow::ensure!(
        !(cfg.body_crop && cfg.recipe.distill && cfg.ref_weights.is_some()),
        "a Ref-CNN from --ref-weights saw uncropped slices and cannot teach a --body-crop network: drop --ref-weights (a Ref-CNN is then trained on cropped slices) or add --no-distill"
    );
    let t0 = Instant::now();
    let dev = Device::Cpu;
    let mut ds = data::load(&cfg.data)?;
    let mut per_class = [0usize; NUM_CLASSES];
    ds.samples.iter().for_each(|s| per_class[s.label] += 1);
    eprintln!(
        "loaded {} images {:?} in {:.1}s; data sha256 {}",
        ds.samples.len(),
        per_class,
        t0.elapsed().as_secs_f64(),
        ds.sha256
    );
    let mut groups = data::group(&ds.samples, cfg.group_threshold);
    let mut is_val = data::split(&ds.samples, &groups, cfg.val_fraction, cfg.split_seed);
    // Extra series: training only, at most `cap` evenly spaced slices per series.
    let mut extra_sha = None;
    if let Some((dir, cap)) = &cfg.extra {
        let (xs, names, sha) = series_cv::load_extra(dir)?;
        let first = groups.iter().max().map_or(0, |g| g + 1);
        let (xg, series) = series_cv::ids_by_name(&names, first);
        let all: Vec<usize> = (0..xs.len()).collect();
        let keep = series_cv::cap_per_group(&all, &xg, *cap);
        eprintln!(
            "extra training data: {} of {} slices of {} series from {} (sha256 {sha})",
            keep.len(),
            xs.len(),
            series.len(),
            dir.display()
        );
        let mut xs: Vec<Option<data::Sample>> = xs.into_iter().map(Some).collect();
        for i in keep {
            if let Some(sample) = xs[i].take() {
                ds.samples.push(sample);
                groups.push(xg[i]);
                is_val.push(false);
            }
        }
        extra_sha = Some(sha);
    }
    if cfg.body_crop {
        ds.samples = series_cv::crop_samples(&ds.samples);
    }
    let samples = &ds.samples;
    let mut groups_per_class = [
        std::collections::BTreeSet::new(),
        Default::default(),
        Default::default(),
    ];
    let mut val_groups = [
        std::collections::BTreeSet::new(),
        Default::default(),
        Default::default(),
    ];
    let (mut n_train, mut n_val) = ([0usize; NUM_CLASSES], [0usize; NUM_CLASSES]);
    for (i, s) in samples.iter().enumerate() {
        groups_per_class[s.label].insert(groups[i]);
        if is_val[i] {
            val_groups[s.label].insert(groups[i]);
            n_val[s.label] += 1;
        } else {
            n_train[s.label] += 1;
        }
    }
    let mut sizes: BTreeMap<usize, usize> = BTreeMap::new();
    groups
        .iter()
        .for_each(|&g| *sizes.entry(g).or_default() += 1);
    let largest = sizes.values().copied().max().unwrap_or(0);
    for (k, gs) in groups_per_class.iter().enumerate() {
        let mut v: Vec<usize> = gs.iter().map(|g| sizes[g]).collect();
        v.sort_unstable_by(|a, b| b.cmp(a));
        eprintln!("  {} group sizes {v:?}", CLASSES[k]);
    }
    eprintln!(
        "groups per class {:?} (largest {largest}); train {:?}, validation {:?} images in {:?} groups",
        groups_per_class.iter().map(|g| g.len()).collect::<Vec<_>>(),
        n_train,
        n_val,
        val_groups.iter().map(|g| g.len()).collect::<Vec<_>>()
    );
    let train_idx: Vec<usize> = (0..samples.len()).filter(|&i| !is_val[i]).collect();
    anyhow::ensure!(
        (0.0..1.0).contains(&cfg.recipe.ema),
        "--ema must be in [0, 1)"
    );
    anyhow::ensure!(
        cfg.recipe.mixup >= 0.0 && cfg.recipe.lr > 0.0,
        "--mixup must be ≥ 0 and --approx-lr > 0"
    );
    if let Some(k) = cfg.cv_folds {
        anyhow::ensure!(
            cfg.ref_weights.is_none(),
            "--ref-weights cannot be combined with --cv-folds: each fold trains its own Ref-CNN"
        );
        anyhow::ensure!(
            cfg.recipe.teacher_seeds.is_empty(),
            "--teacher-seeds works with --series-cv and the shipped model's training, not --cv-folds"
        );
        return cross_validate(cfg, samples, &groups, &train_idx, k, &dev);
    }
    let val_idx: Vec<usize> = (0..samples.len()).filter(|&i| is_val[i]).collect();
    let val_labels: Vec<usize> = val_idx.iter().map(|&i| samples[i].label).collect();

    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5eed);
    let refnet = match &cfg.ref_weights {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let rw = weights::load_reference(&bytes)
                .with_context(|| format!("loading the Ref-CNN from {}", path.display()))?;
            eprintln!("Ref-CNN taken from {} (not retrained)", path.display());
            RefNet::from_weights(&rw, &dev)?
        }
        None => train_ref(cfg, samples, &train_idx, &mut rng, &dev)?,
    };
    // Each teacher gets the stream a plain run with its seed and --ref-weights would use.
    let teachers = train_teachers(cfg, samples, &train_idx, |s| s ^ 0x5eed, &dev)?;
    let teacher = match (cfg.recipe.distill, teachers.is_empty()) {
        (false, _) => None,
        (true, true) => Some(Teacher::Reference(&refnet)),
        (true, false) => Some(Teacher::Ensemble(&teachers)),
    };
    let net = train_approx(cfg, samples, &train_idx, teacher, &mut rng, &dev)?;

    // ---- Export, then evaluate the exported weights with the plain-Rust forward passes ----
    let mut meta = std::collections::HashMap::new();
    meta.insert("model".to_string(), "privact-kidney-classifier".to_string());
    let bytes = weights::to_safetensors(&[net.export()?], &refnet.export()?, Some(meta))?;
    std::fs::create_dir_all(&cfg.out)?;
    let wpath = cfg.out.join("classifier.safetensors");
    std::fs::write(&wpath, &bytes).with_context(|| format!("writing {}", wpath.display()))?;
    let (members, rw) = weights::load(&bytes)?;
    let aw = members
        .into_iter()
        .next()
        .context("the exported file has no Approx-CNN")?;
    let runtime_seconds = t0.elapsed().as_secs_f64();

    let results: Vec<_> = (0..samples.len())
        .into_par_iter()
        .map(|i| {
            let x = preprocess(&samples[i].pixels);
            let inter = approx::forward_intermediates(&aw, &x)?;
            let r = if is_val[i] {
                Some(reference::forward(&rw, &x)?)
            } else {
                None
            };
            let input_max = x.iter().fold(0f64, |m, v| m.max(f64::from(v.abs())));
            Ok::<_, crate::model::classifier::ClassifierError>((inter, r, input_max))
        })
        .collect::<Result<_, _>>()?;
    let absmax = |v: &[f64]| v.iter().fold(0f64, |m, x| m.max(x.abs()));
    let mut ranges = ActivationRanges::empty(samples.len());
    let (mut val_approx, mut val_ref, mut val_groups_v) = (Vec::new(), Vec::new(), Vec::new());
    let mut validation_files = Vec::new();
    for (i, (inter, r, input_max)) in results.iter().enumerate() {
        ranges.conv1_pre_activation = ranges.conv1_pre_activation.max(absmax(&inter.conv1));
        ranges.act1_output = ranges.act1_output.max(absmax(&inter.act1));
        ranges.conv2_pre_activation = ranges.conv2_pre_activation.max(absmax(&inter.conv2));
        ranges.act2_output = ranges.act2_output.max(absmax(&inter.act2));
        ranges.logits = ranges.logits.max(absmax(&inter.logits));
        ranges.input = ranges.input.max(*input_max);
        if let Some(r) = r {
            let p = softmax64(&inter.logits);
            val_approx.push([p[0], p[1], p[2]]);
            let p = softmax64(r);
            val_ref.push([p[0], p[1], p[2]]);
            val_groups_v.push(groups[i]);
            validation_files.push(ValidationFile {
                path: samples[i].rel_path.clone(),
                label: samples[i].label,
                group: groups[i],
            });
        }
    }
    let m_approx = metrics::evaluate(&val_approx, &val_labels, &val_groups_v);
    let m_ref = metrics::evaluate(&val_ref, &val_labels, &val_groups_v);
    eprintln!("exported ref: {}", auc_line(&val_ref, &val_labels));
    eprintln!("exported approx: {}", auc_line(&val_approx, &val_labels));
    eprintln!("activation ranges: {ranges:?}");
    if ranges.logits >= 40.0 || ranges.act1_output >= 1000.0 || ranges.act2_output >= 1000.0 {
        eprintln!("WARNING: activation ranges exceed the HE limits (|logit| < 40, |y| < 1000)");
    }

    let per = |a: &[usize; NUM_CLASSES]| -> BTreeMap<String, usize> {
        CLASSES
            .iter()
            .map(|c| c.to_string())
            .zip(a.iter().copied())
            .collect()
    };
    let count_params = |t: Vec<(String, Vec<usize>, Vec<f32>)>, prefix: &str| -> usize {
        t.iter()
            .filter(|(n, _, _)| n.starts_with(prefix))
            .map(|(_, _, v)| v.len())
            .sum()
    };
    let mut params = BTreeMap::new();
    params.insert(
        "approx".into(),
        count_params(
            weights::named_tensors(std::slice::from_ref(&aw), &rw),
            "approx.",
        ),
    );
    params.insert(
        "reference".into(),
        count_params(
            weights::named_tensors(std::slice::from_ref(&aw), &rw),
            "ref.",
        ),
    );
    let folder = |p: &std::path::Path| {
        p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    let data_root = match (&cfg.extra, &extra_sha) {
        (Some((dir, cap)), Some(sha)) => format!(
            "{} + {} (training only, {}; file list sha256 {sha})",
            folder(&cfg.data),
            folder(dir),
            if *cap == 0 {
                "every slice of every series".to_string()
            } else {
                format!("at most {cap} evenly spaced slices per series")
            }
        ),
        _ => folder(&cfg.data),
    };
    let desc = ModelDescription {
        ensemble: None,
        decision: None,
        name: "privact-kidney-ct-classifier".into(),
        version: "1.0.0".into(),
        classes: CLASSES.iter().map(|c| c.to_string()).collect(),
        input: InputSpec {
            size: INPUT_SIZE,
            transform: TRANSFORM.into(),
            body_crop: cfg.body_crop,
        },
        architecture: Architecture {
            approx: approx_description(),
            reference: "ref: conv 5x5/2 pad 2 1->8, ReLU, maxpool 2 (64x64) -> conv 3x3 pad 1 8->16, ReLU, maxpool 2 (32x32) -> conv 3x3 pad 1 16->32, ReLU, maxpool 2 (16x16) -> conv 3x3 pad 1 32->32, ReLU -> global average pool (32) -> fc 32->3. No batch-norm.".into(),
            parameters: params,
        },
        parameter_preset: crate::model::classifier::packing::PRESET.into(),
        training: TrainingInfo {
            data_root,
            class_folders: ds.class_folders.clone(),
            images_per_class: per(&per_class),
            data_sha256: ds.sha256.clone(),
            split_method: format!(
                "group-wise, stratified per class: 32x32 thumbnails (8x8 block means, standardised); within a class, pairs with Pearson correlation >= {} are linked and merged by union-find into groups of near-identical slices; whole groups in a seeded random order go to validation until {:.0}% of the class's images are reached; seed {}",
                cfg.group_threshold,
                cfg.val_fraction * 100.0,
                cfg.split_seed
            ),
            groups_per_class: per(&std::array::from_fn(|k| groups_per_class[k].len())),
            train_images: per(&n_train),
            validation_images: per(&n_val),
            validation_groups: per(&std::array::from_fn(|k| val_groups[k].len())),
            validation_files,
            seed: cfg.seed,
            epochs: [
                ("reference".to_string(), cfg.ref_epochs),
                ("approx".to_string(), cfg.recipe.epochs),
            ]
            .into_iter()
            .collect(),
            recipe: format!(
                "AdamW (weight decay 1e-4), batch {}, cosine learning-rate decay with warm-up; class-balanced cross-entropy (weights n/(3 n_k)) with label smoothing {LABEL_SMOOTHING}; augmentation before per-image standardisation. Ref-CNN: peak learning rate {LR_REF}, basic augmentation (horizontal flip, rotation +-12 deg, scale 0.88-1.12, shift +-16 px, bilinear, zero fill; gamma e^U(-0.25,0.25); uniform noise sigma <= 0.02). Approx-CNN: {}; strong augmentation adds window jitter (black point U(-0.1,0.1), white point U(0.85,1.1)), gamma e^U(-0.4,0.4), Gaussian blur sigma U(0.3,1.5) on half the images, noise sigma <= 0.04, rotation +-15 deg, scale 0.85-1.18, shift +-20 px; plus {RANGE_WEIGHT} * range penalty mean(relu(|y| - {PRE_LIMIT})^2) on both pre-activations and mean(relu(|z| - {LOGIT_LIMIT})^2) on logits; fixed epochs, no model selection on validation; recipe chosen by group-wise cross-validation on the training groups",
                cfg.batch,
                cfg.recipe.describe()
            ) + &cfg.ref_weights.as_ref().map_or_else(String::new, |p| {
                format!(
                    "; the Ref-CNN was not retrained in this run: taken from {} (trained earlier on the same training groups with the recipe above, {} epochs)",
                    p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned()),
                    cfg.ref_epochs
                )
            }),
            runtime_seconds,
            machine: machine(),
        },
        metrics: Metrics {
            reference: m_ref,
            approx: m_approx,
            ci_method: metrics::CI_METHOD.into(),
        },
        activation_ranges: ranges,
    };
    let jpath = cfg.out.join("classifier.json");
    std::fs::write(&jpath, serde_json::to_string_pretty(&desc)? + "\n")
        .with_context(|| format!("writing {}", jpath.display()))?;
    eprintln!(
        "wrote {} and {} (training {runtime_seconds:.0}s)",
        wpath.display(),
        jpath.display()
    );
    Ok(())
}

fn class_weights(samples: &[Sample], idx: &[usize]) -> [f64; NUM_CLASSES] {
    let mut n = [0usize; NUM_CLASSES];
    idx.iter().for_each(|&i| n[samples[i].label] += 1);
    std::array::from_fn(|k| idx.len() as f64 / (NUM_CLASSES * n[k].max(1)) as f64)
}

/// Trains the Ref-CNN on `train_idx` (fixed recipe).
pub(crate) fn train_ref(
    cfg: &TrainConfig,
    samples: &[Sample],
    train_idx: &[usize],
    rng: &mut ChaCha8Rng,
    dev: &Device,
) -> anyhow::Result<RefNet> {
    let class_w = class_weights(samples, train_idx);
    let steps_per_epoch = train_idx.len().div_ceil(cfg.batch);
    let refnet = RefNet::new(cfg.seed, dev)?;
    let mut opt = AdamW::new(
        refnet.vars(),
        ParamsAdamW {
            lr: LR_REF,
            weight_decay: 1e-4,
            ..Default::default()
        },
    )?;
    let total_steps = steps_per_epoch * cfg.ref_epochs;
    let mut step = 0;
    for epoch in 0..cfg.ref_epochs {
        let te = Instant::now();
        let mut order = train_idx.to_vec();
        order.shuffle(rng);
        let mut loss_sum = 0.0;
        for chunk in order.chunks(cfg.batch) {
            opt.set_learning_rate(cosine_lr(LR_REF, step, total_steps));
            let x = batch_tensor(samples, chunk, Some((Augment::Basic, &mut *rng)), dev)?;
            let (t, wsum) = weighted_targets(samples, chunk, &class_w, dev)?;
            let logits = refnet.forward(&x)?;
            let loss = ((log_softmax(&logits, D::Minus1)? * t)?.sum_all()? / -wsum)?;
            opt.backward_step(&loss)?;
            loss_sum += f64::from(loss.to_scalar::<f32>()?);
            step += 1;
        }
        eprintln!(
            "ref epoch {:>2}: loss {:.4} ({:.0}s)",
            epoch + 1,
            loss_sum / steps_per_epoch as f64,
            te.elapsed().as_secs_f64()
        );
    }
    Ok(refnet)
}

/// What a distilled Approx-CNN learns the soft targets from.
pub enum Teacher<'a> {
    /// The plaintext Ref-CNN.
    Reference(&'a RefNet),
    /// Approx-CNNs whose logits are averaged, as the served ensemble averages them.
    Ensemble(&'a [ApproxNet]),
}

impl Teacher<'_> {
    /// Teacher logits of a batch, `[B, 3]`, without gradient.
    fn logits(&self, x: &Tensor) -> anyhow::Result<Tensor> {
        Ok(match self {
            Teacher::Reference(r) => r.forward(x)?.detach(),
            Teacher::Ensemble(nets) => {
                let mut sum = nets
                    .first()
                    .context("an ensemble teacher needs at least one network")?
                    .forward(x)?
                    .logits;
                for n in &nets[1..] {
                    sum = (sum + n.forward(x)?.logits)?;
                }
                (sum / nets.len() as f64)?.detach()
            }
        })
    }
}

/// Trains the ensemble teachers of `cfg.recipe.teacher_seeds` on `train_idx` (hard labels,
/// otherwise `cfg.recipe`); none unless the recipe distils from them. `rng_seed(s)` gives each
/// teacher's stream, chosen by the caller so that a teacher is bit for bit the network a plain
/// run with seed `s` would train.
fn train_teachers(
    cfg: &TrainConfig,
    samples: &[Sample],
    train_idx: &[usize],
    rng_seed: impl Fn(u64) -> u64,
    dev: &Device,
) -> anyhow::Result<Vec<ApproxNet>> {
    if !cfg.recipe.ensemble_teaches() {
        return Ok(Vec::new());
    }
    cfg.recipe
        .teacher_seeds
        .iter()
        .map(|&s| {
            eprintln!("training ensemble teacher, seed {s}");
            let mut c = cfg.clone();
            c.seed = s;
            c.recipe.distill = false;
            c.recipe.teacher_seeds.clear();
            let mut rng = ChaCha8Rng::seed_from_u64(rng_seed(s));
            train_approx(&c, samples, train_idx, None, &mut rng, dev)
        })
        .collect()
}

/// Trains the Approx-CNN on `train_idx` with `cfg.recipe`, distilled from `teacher` if given.
/// With weight averaging on, the returned network holds the averaged weights.
fn train_approx(
    cfg: &TrainConfig,
    samples: &[Sample],
    train_idx: &[usize],
    teacher: Option<Teacher<'_>>,
    rng: &mut ChaCha8Rng,
    dev: &Device,
) -> anyhow::Result<ApproxNet> {
    let recipe = &cfg.recipe;
    let class_w = class_weights(samples, train_idx);
    let steps_per_epoch = train_idx.len().div_ceil(cfg.batch);
    let net = ApproxNet::new(cfg.seed.wrapping_add(1), dev)?;
    let mut opt = AdamW::new(
        net.vars(),
        ParamsAdamW {
            lr: recipe.lr,
            weight_decay: 1e-4,
            ..Default::default()
        },
    )?;
    let mut ema = (recipe.ema > 0.0).then(|| net.values()).transpose()?;
    let beta = (recipe.mixup > 0.0)
        .then(|| rand_distr::Beta::new(recipe.mixup, recipe.mixup))
        .transpose()?;
    let total_steps = steps_per_epoch * recipe.epochs;
    let mut step = 0;
    for epoch in 0..recipe.epochs {
        let te = Instant::now();
        let mut order = train_idx.to_vec();
        order.shuffle(rng);
        let (mut loss_sum, mut pen_sum) = (0.0, 0.0);
        for chunk in order.chunks(cfg.batch) {
            opt.set_learning_rate(cosine_lr(recipe.lr, step, total_steps));
            let mut x = batch_tensor(samples, chunk, Some((recipe.augment, &mut *rng)), dev)?;
            let (mut t, wsum) = weighted_targets(samples, chunk, &class_w, dev)?;
            if let Some(beta) = &beta {
                // Mix each image with another of the batch; the weighted targets mix alike
                // (their total weight is unchanged by the permutation).
                let lam = rand_distr::Distribution::sample(beta, rng);
                let mut perm: Vec<u32> = (0..chunk.len() as u32).collect();
                perm.shuffle(rng);
                let perm = Tensor::from_vec(perm, chunk.len(), dev)?;
                x = ((&x * lam)? + (x.index_select(&perm, 0)? * (1.0 - lam))?)?;
                t = ((&t * lam)? + (t.index_select(&perm, 0)? * (1.0 - lam))?)?;
            }
            let out = net.forward(&x)?;
            let hard = ((log_softmax(&out.logits, D::Minus1)? * t)?.sum_all()? / -wsum)?;
            let loss = match &teacher {
                Some(teacher) => {
                    let soft_t = softmax(&(teacher.logits(&x)? / TEMPERATURE)?, D::Minus1)?;
                    let soft = ((log_softmax(&(&out.logits / TEMPERATURE)?, D::Minus1)?
                        * soft_t)?
                        .sum(D::Minus1)?
                        .mean_all()?
                        * (-TEMPERATURE * TEMPERATURE))?;
                    ((hard * HARD_WEIGHT)? + (soft * (1.0 - HARD_WEIGHT))?)?
                }
                None => hard,
            };
            let pen = ((range_penalty(&out.pre1, PRE_LIMIT)?
                + range_penalty(&out.pre2, PRE_LIMIT)?)?
                + range_penalty(&out.logits, LOGIT_LIMIT)?)?;
            let loss = (loss + (&pen * RANGE_WEIGHT)?)?;
            opt.backward_step(&loss)?;
            if let Some(avg) = ema.as_mut() {
                // Bias-free warm-up: early on the average follows the weights closely.
                let d = recipe.ema.min((1 + step) as f64 / (10 + step) as f64);
                for (a, v) in avg.iter_mut().zip(net.vars()) {
                    *a = ((&*a * d)? + (v.as_tensor().detach() * (1.0 - d))?)?;
                }
            }
            loss_sum += f64::from(loss.to_scalar::<f32>()?);
            pen_sum += f64::from(pen.to_scalar::<f32>()?);
            step += 1;
        }
        eprintln!(
            "approx epoch {:>2}: loss {:.4} range-penalty {:.4} ({:.0}s)",
            epoch + 1,
            loss_sum / steps_per_epoch as f64,
            pen_sum / steps_per_epoch as f64,
            te.elapsed().as_secs_f64()
        );
    }
    if let Some(avg) = ema {
        net.set_values(&avg)?;
    }
    Ok(net)
}

/// Splits the training indices into `k` folds by whole groups: per class, groups in
/// decreasing size (ties by id) each go to the fold that has the fewest images of that class
/// so far, so every class's groups are spread over the folds.
pub fn cv_folds(samples: &[Sample], groups: &[usize], train_idx: &[usize], k: usize) -> Vec<usize> {
    let mut fold_of_group: BTreeMap<usize, usize> = BTreeMap::new();
    for class in 0..NUM_CLASSES {
        let mut sizes: BTreeMap<usize, usize> = BTreeMap::new();
        for &i in train_idx.iter().filter(|&&i| samples[i].label == class) {
            *sizes.entry(groups[i]).or_default() += 1;
        }
        let mut order: Vec<(usize, usize)> = sizes.into_iter().collect();
        order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut load = vec![0usize; k];
        for (g, n) in order {
            let f = (0..k).min_by_key(|&f| (load[f], f)).unwrap_or(0);
            load[f] += n;
            fold_of_group.insert(g, f);
        }
    }
    train_idx
        .iter()
        .map(|&i| fold_of_group.get(&groups[i]).copied().unwrap_or(0))
        .collect()
}

/// Group-wise k-fold cross-validation of the Approx-CNN recipe on the training groups.
fn cross_validate(
    cfg: &TrainConfig,
    samples: &[Sample],
    groups: &[usize],
    train_idx: &[usize],
    k: usize,
    dev: &Device,
) -> anyhow::Result<()> {
    anyhow::ensure!(k >= 2, "--cv-folds must be at least 2");
    let t0 = Instant::now();
    let fold = cv_folds(samples, groups, train_idx, k);
    eprintln!(
        "cross-validation: {k} folds; recipe: {}",
        cfg.recipe.describe()
    );
    let (mut oof_probs, mut oof_labels, mut oof_groups) = (Vec::new(), Vec::new(), Vec::new());
    let mut rows = Vec::new();
    for f in 0..k {
        let fit: Vec<usize> = (0..train_idx.len())
            .filter(|&j| fold[j] != f)
            .map(|j| train_idx[j])
            .collect();
        let held: Vec<usize> = (0..train_idx.len())
            .filter(|&j| fold[j] == f)
            .map(|j| train_idx[j])
            .collect();
        anyhow::ensure!(
            !held.is_empty() && !fit.is_empty(),
            "fold {} is empty: --cv-folds {k} is more than the training groups allow",
            f + 1
        );
        let mut held_groups: [std::collections::BTreeSet<usize>; NUM_CLASSES] = Default::default();
        let mut held_n = [0usize; NUM_CLASSES];
        for &i in &held {
            held_groups[samples[i].label].insert(groups[i]);
            held_n[samples[i].label] += 1;
        }
        eprintln!(
            "fold {}: train {} images, held out {:?} images in {:?} groups",
            f + 1,
            fit.len(),
            held_n,
            held_groups.iter().map(|g| g.len()).collect::<Vec<_>>()
        );
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5eed ^ (f as u64 + 1));
        let teacher = if cfg.recipe.distill {
            Some(train_ref(cfg, samples, &fit, &mut rng, dev)?)
        } else {
            None
        };
        let net = train_approx(
            cfg,
            samples,
            &fit,
            teacher.as_ref().map(Teacher::Reference),
            &mut rng,
            dev,
        )?;
        let probs = eval_candle(samples, &held, dev, |x| Ok(net.forward(x)?.logits))?;
        let labels: Vec<usize> = held.iter().map(|&i| samples[i].label).collect();
        let line = auc_line(&probs, &labels);
        eprintln!("fold {} held-out approx {line}", f + 1);
        rows.push(line);
        oof_probs.extend(probs);
        oof_labels.extend(labels);
        oof_groups.extend(held.iter().map(|&i| groups[i]));
    }
    eprintln!(
        "cross-validation summary ({:.0}s)",
        t0.elapsed().as_secs_f64()
    );
    for (f, r) in rows.iter().enumerate() {
        eprintln!("  fold {}: {r}", f + 1);
    }
    eprintln!(
        "  pooled out-of-fold: {}",
        auc_line(&oof_probs, &oof_labels)
    );
    let m = metrics::evaluate(&oof_probs, &oof_labels, &oof_groups);
    println!("{}", serde_json::to_string(&m)?);
    Ok(())
}

fn eval_candle(
    samples: &[Sample],
    idx: &[usize],
    dev: &Device,
    f: impl Fn(&Tensor) -> anyhow::Result<Tensor>,
) -> anyhow::Result<Vec<[f64; NUM_CLASSES]>> {
    let mut out = Vec::with_capacity(idx.len());
    for chunk in idx.chunks(64) {
        let x = batch_tensor(samples, chunk, None, dev)?;
        out.extend(probs_of(&f(&x)?)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(label: usize) -> Sample {
        Sample {
            rel_path: String::new(),
            label,
            pixels: Vec::new(),
            size: 0,
        }
    }

    #[test]
    fn ensemble_teacher_averages_its_members_logits() -> anyhow::Result<()> {
        let dev = Device::Cpu;
        let n = INPUT_SIZE;
        let x = Tensor::from_vec(
            (0..2 * n * n)
                .map(|i| ((i % 97) as f32 - 48.0) / 40.0)
                .collect(),
            (2, 1, n, n),
            &dev,
        )?;
        let nets = [ApproxNet::new(1, &dev)?, ApproxNet::new(2, &dev)?];
        let (a, b) = (nets[0].forward(&x)?.logits, nets[1].forward(&x)?.logits);
        let lone = Teacher::Ensemble(&nets[..1]).logits(&x)?;
        assert_eq!(lone.to_vec2::<f32>()?, a.to_vec2::<f32>()?);
        let mean = Teacher::Ensemble(&nets).logits(&x)?.to_vec2::<f32>()?;
        let (a, b) = (a.to_vec2::<f32>()?, b.to_vec2::<f32>()?);
        assert_ne!(a, b, "two seeds must give two different networks");
        for ((m, a), b) in mean
            .iter()
            .flatten()
            .zip(a.iter().flatten())
            .zip(b.iter().flatten())
        {
            assert!(
                (m - (a + b) / 2.0).abs() <= 1e-5 * (1.0 + m.abs()),
                "{m} vs {a}, {b}"
            );
        }
        assert!(Teacher::Ensemble(&[]).logits(&x).is_err());
        Ok(())
    }

    #[test]
    fn cv_folds_keep_groups_whole_and_spread_each_class() {
        // Class 0: groups 0 (4 images), 1 (3), 2 (1); class 1: groups 3 (2), 4 (2), 5 (2).
        let sizes = [
            (0, 0, 4),
            (0, 1, 3),
            (0, 2, 1),
            (1, 3, 2),
            (1, 4, 2),
            (1, 5, 2),
        ];
        let (mut samples, mut groups) = (Vec::new(), Vec::new());
        for (label, g, n) in sizes {
            for _ in 0..n {
                samples.push(sample(label));
                groups.push(g);
            }
        }
        let idx: Vec<usize> = (0..samples.len()).collect();
        let fold = cv_folds(&samples, &groups, &idx, 3);
        for i in 0..idx.len() {
            for j in 0..idx.len() {
                if groups[i] == groups[j] {
                    assert_eq!(fold[i], fold[j], "group split across folds");
                }
            }
        }
        // Every fold holds out one group of each class.
        for f in 0..3 {
            for class in 0..2 {
                let held: std::collections::BTreeSet<usize> = (0..idx.len())
                    .filter(|&i| fold[i] == f && samples[i].label == class)
                    .map(|i| groups[i])
                    .collect();
                assert_eq!(held.len(), 1, "fold {f} class {class}: {held:?}");
            }
        }
    }
}
