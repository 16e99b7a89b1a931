//! Training on `kidney-ct` together with `kidney-ct-extra`, validated by leaving whole series
//! out (issue 15).
//!
//! * Groups: `kidney-ct` has no series list, so its images are grouped as before
//!   (union-find over near-identical thumbnails, [`super::data::group`]); `kidney-ct-extra`
//!   brings `series.tsv` (runs of adjacent slices).
//! * Folds: one fold per tumour series of `kidney-ct-extra`; its cyst and normal series are
//!   spread over the folds (largest first, to the fold with the fewest images of that class).
//!   `kidney-ct` is always in training: its Ref-CNN (the shipped one, the distillation teacher
//!   when asked for) was trained on it and has never seen any `kidney-ct-extra` series, so no
//!   held-out series has been seen by anything a fold uses.
//! * Training images: at most `cap` slices per group (evenly spaced in file order; adjacent
//!   slices are near-duplicates), every held-out slice is scored.
//! * Each fold's held-out series are scored by the new Approx-CNN and, for comparison on
//!   exactly the same images, by the shipped Approx-CNN ensemble and Ref-CNN (which never saw
//!   them either).
//! * Decision rule: a logit bias `b` (b_normal = 0) added to `ln p` before arg-max, chosen by
//!   grid search to maximise balanced accuracy. In the cross-validation, fold f's bias is
//!   fitted on the pooled out-of-fold predictions of the *other* folds only; `bias_all`, for
//!   a network later trained on every series, on all out-of-fold predictions.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use candle_core::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::data::{self, Sample};
use super::nets::RefNet;
use super::{Teacher, TrainConfig, eval_candle, train_approx};
use crate::model::classifier::description::ModelMetrics;
use crate::model::classifier::preprocess::preprocess;
use crate::model::classifier::{CLASSES, NUM_CLASSES, metrics, shipped, softmax, weights};

/// Combined data: both folders' samples with a group name per sample.
pub struct Combined {
    /// `kidney-ct` samples first, then `kidney-ct-extra` (their `rel_path` prefixed
    /// `extra/`).
    pub samples: Vec<Sample>,
    /// Group id per sample (unique across both folders).
    pub groups: Vec<usize>,
    /// Group names by id (`kidney-ct/tumor/g12`, `extra/Tumor-1502-1723`, …).
    pub group_names: Vec<String>,
    /// True for `kidney-ct-extra` samples.
    pub is_extra: Vec<bool>,
    /// SHA-256 of each folder's file list.
    pub sha256: [String; 2],
}

/// `file → series` from `series.tsv`.
fn read_series(path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(f, _)| *f != "file")
        .map(|(f, s)| (f.trim().to_string(), s.trim().to_string()))
        .collect())
}

/// Loads a `kidney-ct-extra` folder: its samples (`rel_path` prefixed `extra/`) and each
/// one's series from `series.tsv`, and the SHA-256 of its file list.
pub fn load_extra(extra_root: &Path) -> anyhow::Result<(Vec<Sample>, Vec<String>, String)> {
    let b = data::load(extra_root)?;
    let series = read_series(&extra_root.join("series.tsv"))?;
    let mut names = Vec::with_capacity(b.samples.len());
    let mut samples = Vec::with_capacity(b.samples.len());
    for mut s in b.samples {
        let name = series
            .get(&s.rel_path)
            .with_context(|| format!("{} is not listed in series.tsv", s.rel_path))?;
        names.push(format!("extra/{name}"));
        s.rel_path = format!("extra/{}", s.rel_path);
        samples.push(s);
    }
    Ok((samples, names, b.sha256))
}

/// Group ids numbered from `first` in order of first appearance, one per name, and the
/// distinct names in id order.
pub fn ids_by_name(names: &[String], first: usize) -> (Vec<usize>, Vec<String>) {
    let mut ids: BTreeMap<&str, usize> = BTreeMap::new();
    let mut distinct = Vec::new();
    let groups = names
        .iter()
        .map(|n| {
            *ids.entry(n).or_insert_with(|| {
                distinct.push(n.clone());
                first + distinct.len() - 1
            })
        })
        .collect();
    (groups, distinct)
}

/// Loads both folders and names every sample's group.
pub fn load_combined(
    data_root: &Path,
    extra_root: &Path,
    threshold: f64,
) -> anyhow::Result<Combined> {
    let a = data::load(data_root)?;
    let (b, b_series, extra_sha) = load_extra(extra_root)?;
    let ga = data::group(&a.samples, threshold);
    let mut names: Vec<String> = a
        .samples
        .iter()
        .zip(ga)
        .map(|(s, g)| format!("kidney-ct/{}/g{g}", CLASSES[s.label]))
        .collect();
    let is_extra: Vec<bool> = (0..names.len() + b.len())
        .map(|i| i >= names.len())
        .collect();
    names.extend(b_series);
    let (groups, group_names) = ids_by_name(&names, 0);
    let mut samples = a.samples;
    samples.extend(b);
    Ok(Combined {
        samples,
        groups,
        group_names,
        is_extra,
        sha256: [a.sha256, extra_sha],
    })
}

/// Fold of every `kidney-ct-extra` group (`None` for `kidney-ct`, always trained on): one fold
/// per extra tumour series; cyst and normal series spread largest first.
pub fn series_folds(c: &Combined) -> (usize, Vec<Option<usize>>) {
    let mut by_class: [BTreeMap<usize, usize>; NUM_CLASSES] = Default::default();
    for (i, s) in c.samples.iter().enumerate() {
        if c.is_extra[i] {
            *by_class[s.label].entry(c.groups[i]).or_default() += 1;
        }
    }
    let tumor = CLASSES.iter().position(|&n| n == "tumor").unwrap_or(2);
    let k = by_class[tumor].len().max(2);
    let mut fold_of: BTreeMap<usize, usize> = BTreeMap::new();
    for (class, sizes) in by_class.iter().enumerate() {
        let mut order: Vec<(usize, usize)> = sizes.iter().map(|(&g, &n)| (g, n)).collect();
        if class == tumor {
            // Tumour series in name order, one per fold.
            order.sort_by(|x, y| c.group_names[x.0].cmp(&c.group_names[y.0]));
            for (f, (g, _)) in order.into_iter().enumerate() {
                fold_of.insert(g, f % k);
            }
            continue;
        }
        order.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
        let mut load = vec![0usize; k];
        for (g, n) in order {
            let f = (0..k).min_by_key(|&f| (load[f], f)).unwrap_or(0);
            load[f] += n;
            fold_of.insert(g, f);
        }
    }
    let folds = (0..c.samples.len())
        .map(|i| {
            c.is_extra[i]
                .then(|| fold_of.get(&c.groups[i]).copied())
                .flatten()
        })
        .collect();
    (k, folds)
}

/// At most `cap` indices per group, evenly spaced in sample (file-name) order.
pub fn cap_per_group(idx: &[usize], groups: &[usize], cap: usize) -> Vec<usize> {
    let mut by_group: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &i in idx {
        by_group.entry(groups[i]).or_default().push(i);
    }
    let mut out = Vec::new();
    for (_, v) in by_group {
        if cap == 0 || v.len() <= cap {
            out.extend(v);
        } else {
            out.extend((0..cap).map(|j| v[j * v.len() / cap]));
        }
    }
    out.sort_unstable();
    out
}

/// Arg-max of `ln p + bias`.
pub fn decide(p: &[f64; NUM_CLASSES], bias: &[f64; NUM_CLASSES]) -> usize {
    let mut best = 0;
    let mut best_v = f64::NEG_INFINITY;
    for k in 0..NUM_CLASSES {
        let v = p[k].max(1e-300).ln() + bias[k];
        if v > best_v {
            (best, best_v) = (k, v);
        }
    }
    best
}

/// Balanced accuracy of [`decide`] with `bias`.
pub fn balanced_accuracy_with(
    probs: &[[f64; NUM_CLASSES]],
    labels: &[usize],
    bias: &[f64; NUM_CLASSES],
) -> f64 {
    let (mut hit, mut n) = ([0usize; NUM_CLASSES], [0usize; NUM_CLASSES]);
    for (p, &y) in probs.iter().zip(labels) {
        n[y] += 1;
        hit[y] += usize::from(decide(p, bias) == y);
    }
    let present: Vec<f64> = (0..NUM_CLASSES)
        .filter(|&k| n[k] > 0)
        .map(|k| hit[k] as f64 / n[k] as f64)
        .collect();
    present.iter().sum::<f64>() / present.len().max(1) as f64
}

/// Bias (b_0 = 0; b_1, b_2 on a 0.1 grid in [−4, 4]) with the best balanced accuracy; ties
/// go to the smallest |b|.
pub fn fit_bias(probs: &[[f64; NUM_CLASSES]], labels: &[usize]) -> [f64; NUM_CLASSES] {
    let grid: Vec<f64> = (-40..=40).map(|i| f64::from(i) * 0.1).collect();
    let mut best = ([0.0; NUM_CLASSES], f64::NEG_INFINITY, f64::INFINITY);
    for &b1 in &grid {
        for &b2 in &grid {
            let b = [0.0, b1, b2];
            let acc = balanced_accuracy_with(probs, labels, &b);
            let norm = b1.abs() + b2.abs();
            if acc > best.1 + 1e-12 || ((acc - best.1).abs() <= 1e-12 && norm < best.2) {
                best = (b, acc, norm);
            }
        }
    }
    best.0
}

/// Probabilities after the bias: softmax(ln p + b).
pub fn apply_bias(p: &[f64; NUM_CLASSES], bias: &[f64; NUM_CLASSES]) -> [f64; NUM_CLASSES] {
    let z: Vec<f64> = (0..NUM_CLASSES)
        .map(|k| p[k].max(1e-300).ln() + bias[k])
        .collect();
    let s = softmax(&z);
    [s[0], s[1], s[2]]
}

/// One scored held-out image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OofImage {
    /// `extra/Class/file.jpg`.
    pub file: String,
    /// True class index.
    pub label: usize,
    /// Series name.
    pub series: String,
    /// Fold (0-based).
    pub fold: usize,
    /// New Approx-CNN probabilities.
    pub new: [f64; NUM_CLASSES],
    /// With `--teacher-seeds`: the fold's teacher ensemble (mean logits), for a paired
    /// comparison of the distilled network with what taught it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher: Option<[f64; NUM_CLASSES]>,
    /// Shipped Approx-CNN (ensemble) probabilities.
    pub shipped_approx: [f64; NUM_CLASSES],
    /// Shipped Ref-CNN probabilities.
    pub shipped_ref: [f64; NUM_CLASSES],
}

/// What `--series-cv` writes (`series_cv.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeriesCvReport {
    /// Recipe in words.
    pub recipe: String,
    /// The command's settings.
    pub settings: String,
    /// Folds: held-out series names.
    pub folds: Vec<Vec<String>>,
    /// Per-fold metrics of the new network (arg-max), of the new network with the fold's
    /// bias (fitted on the other folds), and of the shipped ensemble (arg-max).
    pub per_fold: Vec<BTreeMap<String, ModelMetrics>>,
    /// Bias per fold (fitted on the other folds' out-of-fold predictions).
    pub fold_bias: Vec<[f64; NUM_CLASSES]>,
    /// Pooled out-of-fold metrics (CIs resample whole series): `new`, `new_bias`,
    /// `shipped_approx`, `shipped_ref`.
    pub pooled: BTreeMap<String, ModelMetrics>,
    /// Bias fitted on all out-of-fold predictions (for a model trained on everything).
    pub bias_all: [f64; NUM_CLASSES],
    /// Every held-out image.
    pub images: Vec<OofImage>,
    /// Wall time, seconds.
    pub runtime_seconds: f64,
}

fn scored_shipped(
    samples: &[Sample],
    idx: &[usize],
) -> anyhow::Result<Vec<([f64; NUM_CLASSES], [f64; NUM_CLASSES])>> {
    let model = shipped()?;
    idx.par_iter()
        .map(|&i| {
            let x = preprocess(&samples[i].pixels);
            let a = softmax(&model.approx_logits(&x)?);
            let r = softmax(&model.reference_logits(&x)?);
            Ok(([a[0], a[1], a[2]], [r[0], r[1], r[2]]))
        })
        .collect()
}

/// Copies of `samples` with their pixels cropped to the body ([`crate::imaging::body_crop`]).
pub fn crop_samples(samples: &[Sample]) -> Vec<Sample> {
    samples
        .par_iter()
        .map(|s| Sample {
            rel_path: s.rel_path.clone(),
            label: s.label,
            pixels: crate::imaging::body_crop::crop_to_body(
                &s.pixels,
                crate::model::classifier::INPUT_SIZE,
            ),
            size: s.size,
        })
        .collect()
}

/// Series-wise cross-validation of the Approx-CNN recipe on `kidney-ct` + `kidney-ct-extra`.
pub fn cross_validate(cfg: &TrainConfig, extra: &Path, cap: usize) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let dev = Device::Cpu;
    let c = load_combined(&cfg.data, extra, cfg.group_threshold)?;
    let (k, folds) = series_folds(&c);
    eprintln!(
        "loaded {} images ({} extra) in {:.0}s; {k} folds; recipe: {}",
        c.samples.len(),
        c.is_extra.iter().filter(|&&e| e).count(),
        t0.elapsed().as_secs_f64(),
        cfg.recipe.describe()
    );
    let ensemble_teacher = cfg.recipe.ensemble_teaches();
    let teacher = match (&cfg.ref_weights, cfg.recipe.distill) {
        // The fold's own ensemble teaches (below); no Ref-CNN is needed.
        _ if ensemble_teacher => None,
        (Some(_), true) if cfg.body_crop => anyhow::bail!(
            "the shipped Ref-CNN was trained on uncropped slices and cannot teach a --body-crop network: drop --ref-weights (each fold then trains its own Ref-CNN on cropped slices) or add --no-distill"
        ),
        (Some(p), true) => {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            let (_, rw) = weights::load(&bytes)?;
            Some(RefNet::from_weights(&rw, &dev)?)
        }
        // Each fold trains its own teacher on its training slices (below).
        (None, true) | (_, false) => None,
    };
    // What the new network sees (cropped when asked); the shipped model keeps its own input.
    let cropped: Option<Vec<Sample>> = cfg.body_crop.then(|| crop_samples(&c.samples));
    let fit_samples = cropped.as_deref().unwrap_or(&c.samples);
    let mut images = Vec::new();
    let mut fold_names = Vec::new();
    for f in 0..k {
        let tf = Instant::now();
        let held: Vec<usize> = (0..c.samples.len())
            .filter(|&i| folds[i] == Some(f))
            .collect();
        let fit_all: Vec<usize> = (0..c.samples.len())
            .filter(|&i| folds[i] != Some(f))
            .collect();
        let fit = cap_per_group(&fit_all, &c.groups, cap);
        let mut names: Vec<String> = held
            .iter()
            .map(|&i| c.group_names[c.groups[i]].clone())
            .collect();
        names.dedup();
        names.sort();
        names.dedup();
        let mut n_fit = [0usize; NUM_CLASSES];
        fit.iter().for_each(|&i| n_fit[c.samples[i].label] += 1);
        eprintln!(
            "fold {}: held out {} images of {:?}; training on {} images {:?}",
            f + 1,
            held.len(),
            names,
            fit.len(),
            n_fit
        );
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5eed ^ (f as u64 + 1));
        let own_teacher = match (&teacher, cfg.recipe.distill) {
            (None, true) if !ensemble_teacher => {
                Some(super::train_ref(cfg, fit_samples, &fit, &mut rng, &dev)?)
            }
            _ => None,
        };
        // Each teacher gets the stream a plain run with its seed would use in this fold, so
        // the teachers are the networks of those runs.
        let teachers = super::train_teachers(
            cfg,
            fit_samples,
            &fit,
            |s| s ^ 0x5eed ^ (f as u64 + 1),
            &dev,
        )?;
        let net = train_approx(
            cfg,
            fit_samples,
            &fit,
            if ensemble_teacher {
                Some(Teacher::Ensemble(&teachers))
            } else {
                teacher
                    .as_ref()
                    .or(own_teacher.as_ref())
                    .map(Teacher::Reference)
            },
            &mut rng,
            &dev,
        )?;
        let probs = eval_candle(fit_samples, &held, &dev, |x| Ok(net.forward(x)?.logits))?;
        let teacher_probs: Vec<Option<[f64; NUM_CLASSES]>> = if ensemble_teacher {
            eval_candle(fit_samples, &held, &dev, |x| {
                Teacher::Ensemble(&teachers).logits(x)
            })?
            .into_iter()
            .map(Some)
            .collect()
        } else {
            vec![None; held.len()]
        };
        let base = scored_shipped(&c.samples, &held)?;
        for (((&i, p), (a, r)), t) in held.iter().zip(probs).zip(base).zip(teacher_probs) {
            images.push(OofImage {
                file: c.samples[i].rel_path.clone(),
                label: c.samples[i].label,
                series: c.group_names[c.groups[i]].clone(),
                fold: f,
                new: p,
                teacher: t,
                shipped_approx: a,
                shipped_ref: r,
            });
        }
        fold_names.push(names);
        eprintln!("fold {} done in {:.0}s", f + 1, tf.elapsed().as_secs_f64());
    }
    let report = summarise(
        images,
        fold_names,
        cfg.recipe.describe(),
        format!(
            "seed {}, cap {cap} training slices per group, batch {}, group threshold {}, body crop {}",
            cfg.seed, cfg.batch, cfg.group_threshold, cfg.body_crop
        ),
        t0.elapsed().as_secs_f64(),
    );
    std::fs::create_dir_all(&cfg.out)?;
    let path = cfg.out.join("series_cv.json");
    crate::imaging::io::write_atomic(&path, serde_json::to_string_pretty(&report)?.as_bytes())?;
    print_summary(&report);
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// Metrics of the pooled and per-fold predictions (see [`SeriesCvReport`]).
pub fn summarise(
    images: Vec<OofImage>,
    folds: Vec<Vec<String>>,
    recipe: String,
    settings: String,
    runtime_seconds: f64,
) -> SeriesCvReport {
    let k = folds.len();
    let mut series_ids: BTreeMap<&str, usize> = BTreeMap::new();
    for im in &images {
        let n = series_ids.len();
        series_ids.entry(&im.series).or_insert(n);
    }
    let groups: Vec<usize> = images
        .iter()
        .map(|im| series_ids[im.series.as_str()])
        .collect();
    let labels: Vec<usize> = images.iter().map(|im| im.label).collect();
    let new: Vec<_> = images.iter().map(|im| im.new).collect();
    let fold_bias: Vec<[f64; NUM_CLASSES]> = (0..k)
        .map(|f| {
            let (p, l): (Vec<_>, Vec<_>) = images
                .iter()
                .filter(|im| im.fold != f)
                .map(|im| (im.new, im.label))
                .unzip();
            fit_bias(&p, &l)
        })
        .collect();
    let new_bias: Vec<_> = images
        .iter()
        .map(|im| apply_bias(&im.new, &fold_bias[im.fold]))
        .collect();
    // The same cross-fitted bias for the shipped ensemble: is its failure calibration or
    // ranking?
    let shipped_bias: Vec<[f64; NUM_CLASSES]> = (0..k)
        .map(|f| {
            let (p, l): (Vec<_>, Vec<_>) = images
                .iter()
                .filter(|im| im.fold != f)
                .map(|im| (im.shipped_approx, im.label))
                .unzip();
            fit_bias(&p, &l)
        })
        .collect();
    let shipped_biased: Vec<_> = images
        .iter()
        .map(|im| apply_bias(&im.shipped_approx, &shipped_bias[im.fold]))
        .collect();
    let mut sets: Vec<(&str, Vec<[f64; NUM_CLASSES]>)> = vec![
        ("new", new.clone()),
        ("new_bias", new_bias),
        ("shipped_approx_bias", shipped_biased),
        (
            "shipped_approx",
            images.iter().map(|im| im.shipped_approx).collect(),
        ),
        (
            "shipped_ref",
            images.iter().map(|im| im.shipped_ref).collect(),
        ),
    ];
    if let Some(t) = images
        .iter()
        .map(|im| im.teacher)
        .collect::<Option<Vec<_>>>()
        && !t.is_empty()
    {
        sets.push(("teacher", t));
    }
    let mut pooled = BTreeMap::new();
    let mut per_fold: Vec<BTreeMap<String, ModelMetrics>> = vec![BTreeMap::new(); k];
    for (name, probs) in &sets {
        pooled.insert(name.to_string(), metrics::evaluate(probs, &labels, &groups));
        for (f, slot) in per_fold.iter_mut().enumerate() {
            let idx: Vec<usize> = (0..images.len()).filter(|&i| images[i].fold == f).collect();
            let p: Vec<_> = idx.iter().map(|&i| probs[i]).collect();
            let l: Vec<_> = idx.iter().map(|&i| labels[i]).collect();
            let g: Vec<_> = idx.iter().map(|&i| groups[i]).collect();
            slot.insert(name.to_string(), metrics::evaluate(&p, &l, &g));
        }
    }
    let bias_all = fit_bias(&new, &labels);
    SeriesCvReport {
        recipe,
        settings,
        folds,
        per_fold,
        fold_bias,
        pooled,
        bias_all,
        images,
        runtime_seconds,
    }
}

fn line(m: &ModelMetrics) -> String {
    let auc = |c: &str| m.per_class.get(c).map_or(f64::NAN, |x| x.auc);
    let ci = |c: &str| m.per_class.get(c).map_or([f64::NAN; 2], |x| x.auc_ci95);
    let t = ci("tumor");
    format!(
        "AUC n/c/t {:.3}/{:.3}/{:.3} (tumour CI {:.3}–{:.3}), bal.acc {:.3} [{:.3}, {:.3}], tumour sens {:.3}",
        auc("normal"),
        auc("cyst"),
        auc("tumor"),
        t[0],
        t[1],
        m.balanced_accuracy,
        m.balanced_accuracy_ci95[0],
        m.balanced_accuracy_ci95[1],
        m.per_class.get("tumor").map_or(f64::NAN, |x| x.recall)
    )
}

/// Prints the per-fold and pooled lines to stderr.
pub fn print_summary(r: &SeriesCvReport) {
    for (f, m) in r.per_fold.iter().enumerate() {
        for (name, mm) in m {
            eprintln!("fold {} {name:<15} {}", f + 1, line(mm));
        }
    }
    for (name, m) in &r.pooled {
        eprintln!("pooled {name:<15} {}", line(m));
    }
    eprintln!(
        "fold biases {:?}; bias on all out-of-fold predictions {:?}",
        r.fold_bias, r.bias_all
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_ids_follow_first_appearance_from_the_given_start() {
        let names: Vec<String> = ["b", "a", "b", "c", "a"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (ids, distinct) = ids_by_name(&names, 10);
        assert_eq!(ids, vec![10, 11, 10, 12, 11]);
        assert_eq!(distinct, vec!["b", "a", "c"]);
    }

    #[test]
    fn cap_keeps_evenly_spaced_members_of_each_group() {
        let groups = vec![0, 0, 0, 0, 0, 0, 1, 1];
        let idx: Vec<usize> = (0..8).collect();
        assert_eq!(cap_per_group(&idx, &groups, 3), vec![0, 2, 4, 6, 7]);
        assert_eq!(cap_per_group(&idx, &groups, 0), idx);
    }

    #[test]
    fn bias_fit_recovers_a_shifted_decision() {
        // Tumour images whose tumour probability is always a bit below normal's: arg-max
        // calls them normal, a positive tumour bias fixes it.
        let probs = vec![
            [0.6, 0.1, 0.3],
            [0.55, 0.1, 0.35],
            [0.9, 0.05, 0.05],
            [0.1, 0.8, 0.1],
        ];
        let labels = vec![2, 2, 0, 1];
        assert!(balanced_accuracy_with(&probs, &labels, &[0.0; 3]) < 0.7);
        let b = fit_bias(&probs, &labels);
        assert!(
            (balanced_accuracy_with(&probs, &labels, &b) - 1.0).abs() < 1e-12,
            "{b:?}"
        );
        assert!(b[2] > 0.0);
    }
}
