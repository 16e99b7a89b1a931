//! Classification metrics: one-vs-rest ROC AUC and AUPRC, balanced accuracy, confusion
//! matrix, and a stratified group (cluster) bootstrap for 95 % confidence intervals.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::description::{ClassMetrics, ModelMetrics};
use super::{CLASSES, NUM_CLASSES, argmax};

/// ROC AUC of `scores` for the positives (Mann–Whitney, ties count one half).
/// `None` when either class is absent.
pub fn auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Average ranks over ties (1-based).
    let mut rank_sum_pos = 0.0;
    let (mut n_pos, mut n_neg) = (0usize, 0usize);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if positive[k] {
                rank_sum_pos += avg_rank;
                n_pos += 1;
            } else {
                n_neg += 1;
            }
        }
        i = j + 1;
    }
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let u = rank_sum_pos - (n_pos * (n_pos + 1)) as f64 / 2.0;
    Some(u / (n_pos as f64 * n_neg as f64))
}

/// Average precision (area under the precision–recall curve, step interpolation; tied scores
/// are processed as one threshold). `None` without positives.
pub fn average_precision(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let n_pos = positive.iter().filter(|&&p| p).count();
    if n_pos == 0 {
        return None;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut seen, mut ap, mut prev_recall) = (0usize, 0usize, 0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        for &k in &idx[i..=j] {
            seen += 1;
            if positive[k] {
                tp += 1;
            }
        }
        let recall = tp as f64 / n_pos as f64;
        let precision = tp as f64 / seen as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
        i = j + 1;
    }
    Some(ap)
}

/// Confusion matrix (rows: true class, columns: arg-max prediction).
pub fn confusion_matrix(probs: &[[f64; NUM_CLASSES]], labels: &[usize]) -> Vec<Vec<usize>> {
    let mut m = vec![vec![0usize; NUM_CLASSES]; NUM_CLASSES];
    for (p, &y) in probs.iter().zip(labels) {
        m[y][argmax(p)] += 1;
    }
    m
}

/// Mean per-class recall (classes absent from `labels` are skipped).
pub fn balanced_accuracy(probs: &[[f64; NUM_CLASSES]], labels: &[usize]) -> f64 {
    let m = confusion_matrix(probs, labels);
    let recalls: Vec<f64> = m
        .iter()
        .enumerate()
        .filter_map(|(k, row)| {
            let n: usize = row.iter().sum();
            (n > 0).then(|| row[k] as f64 / n as f64)
        })
        .collect();
    recalls.iter().sum::<f64>() / recalls.len().max(1) as f64
}

/// Sensitivity (recall) and specificity of class `k` from a confusion matrix (rows: truth,
/// columns: prediction); `None` where the denominator is zero.
pub fn sensitivity_specificity(confusion: &[Vec<usize>], k: usize) -> (Option<f64>, Option<f64>) {
    let total: usize = confusion.iter().flatten().sum();
    let positives: usize = confusion.get(k).map_or(0, |r| r.iter().sum());
    let tp = confusion
        .get(k)
        .and_then(|r| r.get(k))
        .copied()
        .unwrap_or(0);
    let predicted_k: usize = confusion.iter().filter_map(|r| r.get(k)).sum();
    let negatives = total - positives;
    let tn = negatives - (predicted_k - tp);
    (
        (positives > 0).then(|| tp as f64 / positives as f64),
        (negatives > 0).then(|| tn as f64 / negatives as f64),
    )
}

/// One-vs-rest AUC of class `k` from class probabilities.
pub fn class_auc(probs: &[[f64; NUM_CLASSES]], labels: &[usize], k: usize) -> Option<f64> {
    let s: Vec<f64> = probs.iter().map(|p| p[k]).collect();
    let pos: Vec<bool> = labels.iter().map(|&y| y == k).collect();
    auc(&s, &pos)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Text describing the confidence intervals of [`evaluate`].
pub const CI_METHOD: &str = "95% percentile intervals from 2000 stratified two-stage bootstrap replicates: within each class, groups of near-identical slices are resampled with replacement, then images within each drawn group; seed 12345. With one validation group in a class the interval reflects only within-patient variation and understates the uncertainty about new patients";

/// All validation metrics of one network. `groups` are the group ids of the images, used to
/// resample whole groups in the bootstrap.
pub fn evaluate(probs: &[[f64; NUM_CLASSES]], labels: &[usize], groups: &[usize]) -> ModelMetrics {
    const REPLICATES: usize = 2000;
    let mut rng = ChaCha8Rng::seed_from_u64(12345);
    // Groups per class, each a list of image indices.
    let mut by_class: Vec<BTreeMap<usize, Vec<usize>>> = vec![BTreeMap::new(); NUM_CLASSES];
    for (i, (&y, &g)) in labels.iter().zip(groups).enumerate() {
        by_class[y].entry(g).or_default().push(i);
    }
    let by_class: Vec<Vec<Vec<usize>>> = by_class
        .into_iter()
        .map(|m| m.into_values().collect())
        .collect();
    let mut boot_auc: Vec<Vec<f64>> = (0..NUM_CLASSES)
        .map(|_| Vec::with_capacity(REPLICATES))
        .collect();
    let mut boot_bacc = Vec::with_capacity(REPLICATES);
    for _ in 0..REPLICATES {
        let mut bp = Vec::with_capacity(probs.len());
        let mut bl = Vec::with_capacity(probs.len());
        for class_groups in &by_class {
            for _ in 0..class_groups.len() {
                let g = &class_groups[rng.random_range(0..class_groups.len())];
                for _ in 0..g.len() {
                    let i = g[rng.random_range(0..g.len())];
                    bp.push(probs[i]);
                    bl.push(labels[i]);
                }
            }
        }
        for (k, v) in boot_auc.iter_mut().enumerate() {
            if let Some(a) = class_auc(&bp, &bl, k) {
                v.push(a);
            }
        }
        boot_bacc.push(balanced_accuracy(&bp, &bl));
    }
    let ci = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        [percentile(&v, 0.025), percentile(&v, 0.975)]
    };
    let confusion = confusion_matrix(probs, labels);
    let mut per_class = BTreeMap::new();
    for (k, name) in CLASSES.iter().enumerate() {
        let s: Vec<f64> = probs.iter().map(|p| p[k]).collect();
        let pos: Vec<bool> = labels.iter().map(|&y| y == k).collect();
        let n_k: usize = confusion[k].iter().sum();
        per_class.insert(
            (*name).to_string(),
            ClassMetrics {
                auc: auc(&s, &pos).unwrap_or(f64::NAN),
                auc_ci95: ci(std::mem::take(&mut boot_auc[k])),
                auprc: average_precision(&s, &pos).unwrap_or(f64::NAN),
                recall: confusion[k][k] as f64 / n_k.max(1) as f64,
            },
        );
    }
    let correct: usize = (0..NUM_CLASSES).map(|k| confusion[k][k]).sum();
    ModelMetrics {
        n: probs.len(),
        per_class,
        balanced_accuracy: balanced_accuracy(probs, labels),
        balanced_accuracy_ci95: ci(boot_bacc),
        accuracy: correct as f64 / probs.len().max(1) as f64,
        confusion_matrix: confusion,
    }
}
