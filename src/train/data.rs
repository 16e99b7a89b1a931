//! Kidney-CT data set: loading, hashing, and the group-wise train/validation split.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use crate::model::classifier::preprocess::load_image_file;
use crate::model::classifier::{CLASSES, INPUT_SIZE};

/// One image of the data set, loaded to 256×256 gray values in [0, 1].
pub struct Sample {
    /// `Folder/file.jpg`.
    pub rel_path: String,
    /// Class index into [`CLASSES`].
    pub label: usize,
    /// Pixels in [0, 1] (not standardised).
    pub pixels: Vec<f32>,
    /// File size in bytes.
    pub size: u64,
}

/// The loaded data set.
pub struct Dataset {
    /// All samples, sorted by (class, path).
    pub samples: Vec<Sample>,
    /// Class folder name → class name.
    pub class_folders: BTreeMap<String, String>,
    /// SHA-256 of the sorted `Folder/file\tsize\n` lines.
    pub sha256: String,
}

fn class_of_folder(name: &str) -> Option<usize> {
    CLASSES.iter().position(|c| c.eq_ignore_ascii_case(name))
}

/// Loads every image in the class folders `normal`, `cyst`, `tumor` (case-insensitive) under
/// `root`; other folders (e.g. `Stone`) are ignored.
pub fn load(root: &Path) -> anyhow::Result<Dataset> {
    let mut files: Vec<(usize, String, PathBuf)> = Vec::new();
    let mut class_folders = BTreeMap::new();
    let entries = std::fs::read_dir(root).with_context(|| format!("reading {}", root.display()))?;
    for e in entries {
        let e = e?;
        let folder = e.file_name().to_string_lossy().into_owned();
        let Some(label) = class_of_folder(&folder) else {
            continue;
        };
        if !e.file_type()?.is_dir() {
            continue;
        }
        class_folders.insert(folder.clone(), CLASSES[label].to_string());
        for f in std::fs::read_dir(e.path())? {
            let f = f?;
            let name = f.file_name().to_string_lossy().into_owned();
            let lower = name.to_ascii_lowercase();
            if lower.ends_with(".jpg") || lower.ends_with(".jpeg") || lower.ends_with(".png") {
                files.push((label, format!("{folder}/{name}"), f.path()));
            }
        }
    }
    if class_folders.len() != CLASSES.len() {
        bail!(
            "{} must hold the class folders {:?} (found {:?})",
            root.display(),
            CLASSES,
            class_folders.keys().collect::<Vec<_>>()
        );
    }
    files.sort();
    let mut lines: Vec<String> = Vec::with_capacity(files.len());
    let mut samples = Vec::with_capacity(files.len());
    for (label, rel_path, path) in files {
        let size = std::fs::metadata(&path)?.len();
        lines.push(format!("{rel_path}\t{size}\n"));
        let pixels = load_image_file(&path)?;
        samples.push(Sample {
            rel_path,
            label,
            pixels,
            size,
        });
    }
    lines.sort();
    let mut h = Sha256::new();
    for l in &lines {
        h.update(l.as_bytes());
    }
    let sha256 = h
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    Ok(Dataset {
        samples,
        class_folders,
        sha256,
    })
}

/// 32×32 thumbnail (8×8 block means), standardised to zero mean and unit norm.
fn thumbnail(pixels: &[f32]) -> Vec<f64> {
    const T: usize = 32;
    let b = INPUT_SIZE / T;
    let mut t = vec![0.0f64; T * T];
    for y in 0..INPUT_SIZE {
        for x in 0..INPUT_SIZE {
            t[(y / b) * T + x / b] += f64::from(pixels[y * INPUT_SIZE + x]);
        }
    }
    let mean = t.iter().sum::<f64>() / t.len() as f64;
    t.iter_mut().for_each(|v| *v -= mean);
    let norm = t.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
    t.iter_mut().for_each(|v| *v /= norm);
    t
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Groups of near-identical slices: within each class, images whose 32×32 thumbnails have a
/// Pearson correlation ≥ `threshold` are linked, and linked images are merged by union-find.
/// Returns a group id per sample (ids are unique across classes, numbered in sample order).
pub fn group(samples: &[Sample], threshold: f64) -> Vec<usize> {
    let thumbs: Vec<Vec<f64>> = samples.iter().map(|s| thumbnail(&s.pixels)).collect();
    let n = samples.len();
    let mut parent: Vec<usize> = (0..n).collect();
    for i in 0..n {
        for j in (i + 1)..n {
            if samples[i].label != samples[j].label {
                continue;
            }
            let corr: f64 = thumbs[i].iter().zip(&thumbs[j]).map(|(a, b)| a * b).sum();
            if corr >= threshold {
                let (ri, rj) = (find(&mut parent, i), find(&mut parent, j));
                if ri != rj {
                    parent[ri.max(rj)] = ri.min(rj);
                }
            }
        }
    }
    let mut ids = BTreeMap::new();
    (0..n)
        .map(|i| {
            let r = find(&mut parent, i);
            let next = ids.len();
            *ids.entry(r).or_insert(next)
        })
        .collect()
}

/// Assigns whole groups to validation, per class, so the class's validation images come as
/// close as possible to `fraction` of its images (at least one group, never all groups).
/// Groups are visited in a seeded random order, which breaks ties; with up to 20 groups per
/// class every subset is tried, beyond that groups are taken greedily. Returns `true` for
/// validation samples.
pub fn split(samples: &[Sample], groups: &[usize], fraction: f64, seed: u64) -> Vec<bool> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut is_val = vec![false; samples.len()];
    for k in 0..CLASSES.len() {
        let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, s) in samples.iter().enumerate() {
            if s.label == k {
                members.entry(groups[i]).or_default().push(i);
            }
        }
        let total: usize = members.values().map(Vec::len).sum();
        let target = fraction * total as f64;
        let mut order: Vec<Vec<usize>> = members.into_values().collect();
        order.shuffle(&mut rng);
        let g = order.len();
        let chosen: Vec<usize> = if g < 2 {
            Vec::new()
        } else if g <= 20 {
            let mut best = (f64::INFINITY, 0u32);
            for mask in 1u32..((1u32 << g) - 1) {
                let sum: usize = (0..g)
                    .filter(|b| mask & (1 << b) != 0)
                    .map(|b| order[b].len())
                    .sum();
                let err = (sum as f64 - target).abs();
                if err < best.0 {
                    best = (err, mask);
                }
            }
            (0..g).filter(|b| best.1 & (1 << b) != 0).collect()
        } else {
            let mut taken = 0usize;
            let mut picked = Vec::new();
            for (b, grp) in order.iter().enumerate() {
                if (taken as f64) >= target {
                    break;
                }
                if ((taken + grp.len()) as f64 - target).abs() <= (taken as f64 - target).abs() {
                    taken += grp.len();
                    picked.push(b);
                }
            }
            picked
        };
        for b in chosen {
            for &i in &order[b] {
                is_val[i] = true;
            }
        }
    }
    is_val
}
