//! Training of the denoisers (cargo feature `train`).
//!
//! Data: the kidney-CT JPEGs (8-bit abdomen-windowed, mapped to **approximate** HU through the
//! inverse window, 360 mm field of view assumed) and synthetic phantoms, each simulated at
//! several doses with `imaging::ldct::simulate` (projection-domain noise + FBP); the target is
//! the matching noise-free reconstruction. Near-identical adjacent slices are grouped
//! (union-find on 32×32 thumbnails) and the split is by group, so no validation image has a
//! near-twin in training.
//!
//! - linear model: the K×K filter minimising the MSE, solved exactly (normal equations);
//! - nonlinear model: conv stack with ReLU trained with AdamW on random patches (candle; the
//!   convolutions as shifted views + matrix products, flips/rotations as augmentation).
//!
//! Both are evaluated with the plain-Rust reference on the validation images and written to
//! `assets/denoiser.safetensors` + `assets/denoiser.json`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{AdamW, Conv2dConfig, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::cli::evaluate_denoise::{PairScore, score_plain, summarise};
use crate::imaging::hu::{HuSlice, metric_unit};
use crate::imaging::io::write_atomic;
use crate::imaging::ldct::ReconKernel;
use crate::imaging::ldct::pairs::{PairEntry, load_pair, read_pairs};
use crate::imaging::phantom::{Lesion, Phantom};
use crate::imaging::{ldct, load, metrics};
use crate::model::denoiser::data::{estimate_noise_hu, finish_with, from_unit, to_hu, to_unit};
use crate::model::denoiser::weights::{
    Description, DoseMetrics, FORMAT, ModelDescription, specs, to_safetensors,
};
use crate::model::denoiser::{Conv, Denoiser, ModelKind};

#[derive(Debug, Clone)]
pub struct TrainConfig {
    pub data: Option<PathBuf>,
    pub out: PathBuf,
    pub cache: PathBuf,
    pub train_images: usize,
    pub val_images: usize,
    pub train_doses: Vec<f64>,
    pub val_doses: Vec<f64>,
    pub linear_k: usize,
    /// The linear filter is fitted at this dose only (one filter cannot adapt to the noise).
    pub linear_dose: f64,
    /// Thumbnail correlation above which two images count as near-identical.
    pub group_threshold: f64,
    pub channels: usize,
    /// Kernel size of each layer (ReLU between layers).
    pub kernels: Vec<usize>,
    pub steps: usize,
    pub batch: usize,
    pub patch: usize,
    pub lr: f64,
    /// Seed of the nonlinear training (initialisation, batches).
    pub seed: u64,
    /// Seed of the data: the group split, the images picked per group and the simulated noise.
    /// Kept apart from `seed` so continued or repeated training keeps the same validation set.
    pub split_seed: u64,
    /// Start the nonlinear network from these weights (a previous run's output folder).
    pub init: Option<PathBuf>,
    /// Kidney training images per training group (other slices of the same scan; the split
    /// stays by group, validation is unchanged).
    pub per_group: usize,
    /// Simulate every training image at every training dose (else one dose per image, cycled).
    pub all_doses: bool,
    /// Convolutions as shifted views + matrix products (faster on the CPU; same network).
    pub im2col: bool,
    /// Wall-clock budget of the nonlinear training (the LR schedule follows it).
    pub max_seconds: Option<f64>,
    /// Folder of real low-dose / full-dose pairs (`pairs.tsv`, e.g. `ldct-mayo`).
    pub mayo: Option<PathBuf>,
    /// Patients of `mayo` kept out of training and gain fitting (scored only).
    pub holdout: Vec<String>,
    /// Doses simulated (calibrated, kernel matching the scan) from the training patients'
    /// full-dose scans, one per scan, cycled.
    pub mayo_sim_doses: Vec<f64>,
    /// Weight each training pair's loss by (25 HU / σ̂)², σ̂ its estimated input noise, so the
    /// noisy sharp-kernel scans do not dominate the soft-kernel ones.
    pub noise_weighting: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            data: None,
            out: PathBuf::from("assets"),
            cache: PathBuf::from("target/denoiser-cache"),
            train_images: 96,
            val_images: 24,
            train_doses: vec![0.1, 0.25, 0.25, 0.5],
            val_doses: vec![0.1, 0.25, 0.5],
            linear_k: 9,
            linear_dose: 0.25,
            group_threshold: 0.985,
            channels: 16,
            kernels: vec![5, 3, 3, 5],
            steps: 1500,
            batch: 16,
            patch: 40,
            lr: 2e-3,
            seed: 7,
            split_seed: 7,
            init: None,
            per_group: 1,
            all_doses: false,
            im2col: true,
            max_seconds: None,
            mayo: None,
            holdout: Vec::new(),
            mayo_sim_doses: vec![0.1, 0.25, 0.5, 1.0],
            noise_weighting: true,
        }
    }
}

/// One (low-dose, clean) pair in [0, 1].
pub struct Pair {
    pub rows: usize,
    pub cols: usize,
    pub dose: f64,
    pub low: Vec<f32>,
    pub clean: Vec<f32>,
}

struct Image {
    name: String,
    rows: usize,
    cols: usize,
    hu: Vec<f32>,
    spacing: f64,
    kernel: ReconKernel,
}

fn find(parent: &mut [usize], i: usize) -> usize {
    let mut r = i;
    while parent[r] != r {
        r = parent[r];
    }
    let mut i = i;
    while parent[i] != r {
        let n = parent[i];
        parent[i] = r;
        i = n;
    }
    r
}

/// 32×32 block-mean thumbnail, zero mean, unit norm.
fn thumbnail(values: &[f32], rows: usize, cols: usize) -> Vec<f64> {
    const T: usize = 32;
    let mut t = vec![0.0; T * T];
    for y in 0..rows {
        for x in 0..cols {
            t[(y * T / rows) * T + x * T / cols] += f64::from(values[y * cols + x]);
        }
    }
    let m = t.iter().sum::<f64>() / t.len() as f64;
    t.iter_mut().for_each(|v| *v -= m);
    let n = t.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
    t.iter_mut().for_each(|v| *v /= n);
    t
}

/// Groups of near-identical images (correlation of thumbnails ≥ `threshold`).
pub fn group(thumbs: &[Vec<f64>], threshold: f64) -> Vec<usize> {
    let n = thumbs.len();
    let links: Vec<(usize, usize)> = (0..n)
        .into_par_iter()
        .flat_map_iter(|i| {
            (i + 1..n)
                .filter(move |&j| {
                    thumbs[i]
                        .iter()
                        .zip(&thumbs[j])
                        .map(|(a, b)| a * b)
                        .sum::<f64>()
                        >= threshold
                })
                .map(move |j| (i, j))
        })
        .collect();
    let mut parent: Vec<usize> = (0..n).collect();
    for (a, b) in links {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra != rb {
            parent[ra.max(rb)] = ra.min(rb);
        }
    }
    (0..n).map(|i| find(&mut parent, i)).collect()
}

/// Kidney images split by group: (train, validation, groups, files).
fn kidney_split(
    root: &Path,
    cfg: &TrainConfig,
) -> anyhow::Result<(Vec<Image>, Vec<Image>, usize, usize)> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(root).with_context(|| format!("reading {}", root.display()))? {
        let e = e?;
        if e.file_type()?.is_dir() {
            for f in std::fs::read_dir(e.path())? {
                let p = f?.path();
                let ext = p
                    .extension()
                    .map(|x| x.to_string_lossy().to_ascii_lowercase());
                if matches!(ext.as_deref(), Some("jpg" | "jpeg" | "png")) {
                    files.push(p);
                }
            }
        }
    }
    files.sort();
    if files.is_empty() {
        bail!("no images under {}", root.display());
    }
    let slices = files
        .par_iter()
        .map(|p| load(p).with_context(|| p.display().to_string()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let thumbs: Vec<Vec<f64>> = slices
        .iter()
        .map(|s| thumbnail(&s.values, s.rows, s.cols))
        .collect();
    let groups = group(&thumbs, cfg.group_threshold);
    let mut ids: Vec<usize> = groups.clone();
    ids.sort_unstable();
    ids.dedup();
    let n_groups = ids.len();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.split_seed);
    ids.shuffle(&mut rng);
    // One image per group, so both sets are as diverse as possible.
    let pick = |gid: usize, rng: &mut ChaCha8Rng| {
        let members: Vec<usize> = (0..files.len()).filter(|&i| groups[i] == gid).collect();
        members[rng.random_range(0..members.len())]
    };
    let to_image = |i: usize| -> anyhow::Result<Image> {
        let h = to_hu(&slices[i])?;
        Ok(Image {
            name: files[i]
                .strip_prefix(root)
                .unwrap_or(&files[i])
                .display()
                .to_string(),
            rows: h.rows,
            cols: h.cols,
            hu: h.hu,
            spacing: h.spacing_mm,
            kernel: ReconKernel::Soft,
        })
    };
    let val_groups = cfg.val_images.min(n_groups / 5);
    let mut val = Vec::new();
    let mut train = Vec::new();
    let mut extra = Vec::new();
    for (k, &gid) in ids.iter().enumerate() {
        if k < val_groups {
            val.push(to_image(pick(gid, &mut rng))?);
        } else if train.len() < cfg.train_images {
            let first = pick(gid, &mut rng);
            train.push(to_image(first)?);
            extra.push((gid, first));
        }
    }
    // Further slices of the training groups (drawn after the validation picks, so the
    // validation set does not depend on `per_group`).
    for (gid, first) in extra {
        let mut others: Vec<usize> = (0..files.len())
            .filter(|&i| groups[i] == gid && i != first)
            .collect();
        others.shuffle(&mut rng);
        for &i in others.iter().take(cfg.per_group.saturating_sub(1)) {
            if train.len() < cfg.train_images {
                train.push(to_image(i)?);
            }
        }
    }
    Ok((train, val, n_groups, files.len()))
}

fn phantoms() -> Vec<Image> {
    let mut v = Vec::new();
    for (i, lesion) in [Lesion::None, Lesion::Cyst, Lesion::Tumor]
        .into_iter()
        .enumerate()
    {
        for fov in [320.0, 400.0] {
            let p = Phantom {
                lesion,
                size: 256,
                fov_mm: fov + 10.0 * i as f64,
            };
            let s = p.hu();
            v.push(Image {
                name: format!("phantom-{lesion:?}-{}", p.fov_mm),
                rows: s.rows,
                cols: s.cols,
                hu: s.values,
                spacing: p.spacing_mm(),
                kernel: ReconKernel::Soft,
            });
        }
    }
    v
}

fn f32s_to_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Simulates (or reads from the cache) one pair.
fn simulate(cache: &Path, img: &Image, dose: f64, seed: u64) -> anyhow::Result<Pair> {
    let key: String = img
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let params = ldct::LdctParams::with_kernel(img.kernel);
    let path = cache.join(format!(
        "{key}-d{dose}-s{seed}-{}-i{}.f32",
        img.kernel.name(),
        params.i0_per_mm
    ));
    let n = img.rows * img.cols;
    if let Ok(b) = std::fs::read(&path)
        && b.len() == 8 * n
    {
        let f: Vec<f32> = b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        return Ok(Pair {
            rows: img.rows,
            cols: img.cols,
            dose,
            low: f[..n].to_vec(),
            clean: f[n..].to_vec(),
        });
    }
    let r = ldct::simulate_with(
        &params,
        &img.hu,
        img.rows,
        img.cols,
        img.spacing,
        dose,
        seed,
    )
    .map_err(|k| anyhow::anyhow!("{}: {k:?}", img.name))?;
    let (low, clean) = (to_unit(&r.low_dose), to_unit(&r.clean));
    std::fs::create_dir_all(cache)?;
    let mut bytes = f32s_to_bytes(&low);
    bytes.extend(f32s_to_bytes(&clean));
    write_atomic(&path, &bytes)?;
    Ok(Pair {
        rows: img.rows,
        cols: img.cols,
        dose,
        low,
        clean,
    })
}

fn pairs(
    cache: &Path,
    imgs: &[Image],
    doses: &[f64],
    seed: u64,
    per_image: bool,
    dose_seed_stride: u64,
) -> anyhow::Result<Vec<Pair>> {
    // per_image: one dose per image (cycled); else every dose for every image, the j-th dose
    // with noise seed `seed + i + j · dose_seed_stride`.
    let jobs: Vec<(usize, f64, u64)> = if per_image {
        imgs.iter()
            .enumerate()
            .map(|(i, _)| (i, doses[i % doses.len()], seed + i as u64))
            .collect()
    } else {
        (0..imgs.len())
            .flat_map(|i| {
                doses
                    .iter()
                    .enumerate()
                    .map(move |(j, &d)| (i, d, seed + i as u64 + j as u64 * dose_seed_stride))
            })
            .collect()
    };
    jobs.par_iter()
        .map(|&(i, d, s)| simulate(cache, &imgs[i], d, s))
        .collect()
}

/// Loss weight of a pair: (25 HU / σ̂)² of its input, within [0.05, 20] (1 without weighting).
fn pair_weight(p: &Pair, weighting: bool) -> f64 {
    if !weighting {
        return 1.0;
    }
    let s = estimate_noise_hu(&p.low, p.rows, p.cols).max(4.0);
    (25.0 / s).powi(2).clamp(0.05, 20.0)
}

/// Exact weighted least-squares K×K filter (plus bias) predicting the noise low − clean.
fn fit_linear(train: &[Pair], k: usize, weighting: bool) -> anyhow::Result<Denoiser> {
    let r = k / 2;
    let m = k * k + 1;
    let (ata, atb) = train
        .par_iter()
        .map(|p| {
            let wt = pair_weight(p, weighting);
            // Every 2nd pixel of a 256² image, sparser on larger ones (same count).
            let step = (p.rows.max(p.cols) / 128).max(2);
            let mut ata = vec![0.0f64; m * m];
            let mut atb = vec![0.0f64; m];
            let mut a = vec![0.0f64; m];
            let at = |y: i64, x: i64| -> f64 {
                if y < 0 || x < 0 || y >= p.rows as i64 || x >= p.cols as i64 {
                    0.0
                } else {
                    f64::from(p.low[y as usize * p.cols + x as usize])
                }
            };
            for y in (0..p.rows).step_by(step) {
                for x in (0..p.cols).step_by(step) {
                    for ky in 0..k {
                        for kx in 0..k {
                            a[ky * k + kx] = at(
                                y as i64 + ky as i64 - r as i64,
                                x as i64 + kx as i64 - r as i64,
                            );
                        }
                    }
                    a[m - 1] = 1.0;
                    let t = f64::from(p.low[y * p.cols + x] - p.clean[y * p.cols + x]);
                    for i in 0..m {
                        let wa = wt * a[i];
                        atb[i] += wa * t;
                        for j in 0..=i {
                            ata[i * m + j] += wa * a[j];
                        }
                    }
                }
            }
            (ata, atb)
        })
        .reduce(
            || (vec![0.0; m * m], vec![0.0; m]),
            |(mut a, mut b), (c, d)| {
                a.iter_mut().zip(c).for_each(|(x, y)| *x += y);
                b.iter_mut().zip(d).for_each(|(x, y)| *x += y);
                (a, b)
            },
        );
    let mut a = ata;
    for i in 0..m {
        for j in 0..i {
            a[j * m + i] = a[i * m + j];
        }
        a[i * m + i] += 1e-6; // ridge for numerical safety
    }
    let sol = solve(a, atb, m).context("normal equations are singular")?;
    Ok(Denoiser::new(
        ModelKind::Linear,
        vec![Conv {
            cin: 1,
            cout: 1,
            k,
            weight: sol[..k * k].to_vec(),
            bias: vec![sol[m - 1]],
        }],
    )?)
}

/// Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Option<Vec<f64>> {
    for c in 0..n {
        let p = (c..n).max_by(|&i, &j| a[i * n + c].abs().total_cmp(&a[j * n + c].abs()))?;
        if a[p * n + c].abs() < 1e-12 {
            return None;
        }
        if p != c {
            for j in 0..n {
                a.swap(p * n + j, c * n + j);
            }
            b.swap(p, c);
        }
        for i in c + 1..n {
            let f = a[i * n + c] / a[c * n + c];
            for j in c..n {
                a[i * n + j] -= f * a[c * n + j];
            }
            b[i] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|j| a[i * n + j] * x[j]).sum();
        x[i] = (b[i] - s) / a[i * n + i];
    }
    Some(x)
}

struct Net {
    convs: Vec<candle_nn::Conv2d>,
    kernels: Vec<usize>,
}

impl Net {
    fn new(vb: &VarBuilder, channels: usize, kernels: &[usize]) -> candle_core::Result<Self> {
        let layers = kernels.len();
        let mut convs = Vec::new();
        for (i, &k) in kernels.iter().enumerate() {
            let cin = if i == 0 { 1 } else { channels };
            let cout = if i + 1 == layers { 1 } else { channels };
            convs.push(candle_nn::conv2d(
                cin,
                cout,
                k,
                Conv2dConfig::default(),
                vb.pp(format!("layers.{i}")),
            )?);
        }
        Ok(Self {
            convs,
            kernels: kernels.to_vec(),
        })
    }

    /// Noise prediction f(x) on a padded batch (valid convolutions).
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        let last = self.convs.len() - 1;
        for (i, c) in self.convs.iter().enumerate() {
            h = c.forward(&h)?;
            if i != last {
                h = h.relu()?;
            }
        }
        Ok(h)
    }

    /// The same network on a channel-major batch `(C, B, H, W)`, each convolution written as
    /// shifted views + one matrix product (candle's CPU `conv_transpose2d`, used for the
    /// input gradient of `conv2d`, is a slow direct loop).
    fn forward_cbhw(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        let last = self.convs.len() - 1;
        for (i, c) in self.convs.iter().enumerate() {
            let k = self.kernels[i];
            let (cin, b, hh, ww) = h.dims4()?;
            let (oh, ow) = (hh + 1 - k, ww + 1 - k);
            let w = c.weight();
            let cout = w.dim(0)?;
            let bias = c
                .bias()
                .ok_or_else(|| candle_core::Error::Msg("conv without bias".into()))?
                .reshape((cout, 1, 1, 1))?;
            h = if cout < cin {
                // Few outputs: one product per tap on the unshifted input, then the shifted
                // (cout-channel) results are summed.
                let w = w.permute((2, 3, 0, 1))?.reshape((k * k * cout, cin))?;
                let z =
                    w.matmul(&h.reshape((cin, b * hh * ww))?)?
                        .reshape((k * k, cout, b, hh, ww))?;
                let mut acc: Option<Tensor> = None;
                for ky in 0..k {
                    for kx in 0..k {
                        let t = z.get(ky * k + kx)?.narrow(2, ky, oh)?.narrow(3, kx, ow)?;
                        acc = Some(match acc {
                            None => t,
                            Some(a) => (a + t)?,
                        });
                    }
                }
                acc.ok_or_else(|| candle_core::Error::Msg("empty kernel".into()))?
                    .broadcast_add(&bias)?
            } else {
                let mut taps = Vec::with_capacity(k * k);
                for ky in 0..k {
                    for kx in 0..k {
                        taps.push(h.narrow(2, ky, oh)?.narrow(3, kx, ow)?);
                    }
                }
                // Rows ordered (ky, kx, c).
                let cols = Tensor::cat(&taps, 0)?.reshape((k * k * cin, b * oh * ow))?;
                let w = w.permute((0, 2, 3, 1))?.reshape((cout, k * k * cin))?;
                w.matmul(&cols)?
                    .reshape((cout, b, oh, ow))?
                    .broadcast_add(&bias)?
            };
            if i != last {
                h = h.relu()?;
            }
        }
        Ok(h)
    }

    fn export(&self, channels: usize) -> anyhow::Result<Denoiser> {
        let n = self.convs.len();
        let layers = self
            .convs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let cin = if i == 0 { 1 } else { channels };
                let cout = if i + 1 == n { 1 } else { channels };
                let w: Vec<f32> = c.weight().flatten_all()?.to_vec1()?;
                let b: Vec<f32> = c.bias().context("conv without bias")?.to_vec1()?;
                Ok(Conv {
                    cin,
                    cout,
                    k: self.kernels[i],
                    weight: w.into_iter().map(f64::from).collect(),
                    bias: b.into_iter().map(f64::from).collect(),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Denoiser::new(ModelKind::Nonlinear, layers)?)
    }
}

fn train_nonlinear(
    train: &[Pair],
    cfg: &TrainConfig,
    log: &mut dyn FnMut(String),
) -> anyhow::Result<(Denoiser, usize)> {
    let dev = Device::Cpu;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
    let net = Net::new(&vb, cfg.channels, &cfg.kernels)?;
    if let Some(dir) = &cfg.init {
        let desc = Description::parse(&std::fs::read_to_string(dir.join("denoiser.json"))?)?;
        let bytes = std::fs::read(dir.join("denoiser.safetensors"))?;
        let layers = &desc.model(ModelKind::Nonlinear)?.layers;
        let m = crate::model::denoiser::weights::from_safetensors(
            &bytes,
            ModelKind::Nonlinear,
            layers,
        )?;
        if m.layers.iter().map(|l| l.k).collect::<Vec<_>>() != cfg.kernels
            || m.layers[0].cout != cfg.channels
        {
            bail!("--init weights have another shape");
        }
        let data = varmap
            .data()
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?;
        for (i, l) in m.layers.iter().enumerate() {
            let w: Vec<f32> = l.weight.iter().map(|&v| v as f32).collect();
            let b: Vec<f32> = l.bias.iter().map(|&v| v as f32).collect();
            let var = |n: &str| {
                data.get(&format!("layers.{i}.{n}"))
                    .with_context(|| format!("no variable layers.{i}.{n}"))
            };
            var("weight")?.set(&Tensor::from_vec(w, (l.cout, l.cin, l.k, l.k), &dev)?)?;
            var("bias")?.set(&Tensor::from_vec(b, l.cout, &dev)?)?;
        }
        log(format!("initialised from {}", dir.display()));
    }
    let mut opt = AdamW::new(
        varmap.all_vars(),
        ParamsAdamW {
            lr: cfg.lr,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;
    let r: usize = cfg.kernels.iter().map(|k| k / 2).sum();
    let (p, pin) = (cfg.patch, cfg.patch + 2 * r);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5eed);
    let weights: Vec<f32> = train
        .par_iter()
        .map(|p| pair_weight(p, cfg.noise_weighting) as f32)
        .collect();
    let start = Instant::now();
    let mut ema = None::<f64>;
    let mut done = 0;
    for step in 0..cfg.steps {
        let mut xs = Vec::with_capacity(cfg.batch * pin * pin);
        let mut ts = Vec::with_capacity(cfg.batch * p * p);
        let mut ws = Vec::with_capacity(cfg.batch);
        for _ in 0..cfg.batch {
            let pick = rng.random_range(0..train.len());
            let pr = &train[pick];
            ws.push(weights[pick]);
            // Inputs padded by r zeros beyond the image, as at inference.
            let y0 = rng.random_range(0..=pr.rows - p) as i64 - r as i64;
            let x0 = rng.random_range(0..=pr.cols - p) as i64 - r as i64;
            // One of the 8 flips/rotations of the square patch (it commutes with the centre
            // crop, so input and target stay aligned).
            let t = rng.random_range(0..8u8);
            let map = |y: usize, x: usize, n: usize| -> (usize, usize) {
                let (a, b) = if t & 4 != 0 { (x, y) } else { (y, x) };
                (
                    if t & 1 != 0 { n - 1 - a } else { a },
                    if t & 2 != 0 { n - 1 - b } else { b },
                )
            };
            for y in 0..pin {
                for x in 0..pin {
                    let (sy, sx) = map(y, x, pin);
                    let (iy, ix) = (y0 + sy as i64, x0 + sx as i64);
                    let inside = iy >= 0 && ix >= 0 && iy < pr.rows as i64 && ix < pr.cols as i64;
                    xs.push(if inside {
                        pr.low[iy as usize * pr.cols + ix as usize]
                    } else {
                        0.0
                    });
                }
            }
            for y in 0..p {
                for x in 0..p {
                    let (sy, sx) = map(y, x, p);
                    let iy = (y0 + (sy + r) as i64) as usize;
                    let ix = (x0 + (sx + r) as i64) as usize;
                    let i = iy * pr.cols + ix;
                    ts.push(pr.low[i] - pr.clean[i]);
                }
            }
        }
        // Per-sample squared error, weighted (weights of mean 1 over the batch's picks).
        let loss = if cfg.im2col {
            let x = Tensor::from_vec(xs, (1, cfg.batch, pin, pin), &dev)?;
            let t = Tensor::from_vec(ts, (1, cfg.batch, p, p), &dev)?;
            let w = Tensor::from_vec(ws, (1, cfg.batch, 1, 1), &dev)?;
            (net.forward_cbhw(&x)? - t)?
                .sqr()?
                .mean_keepdim(3)?
                .mean_keepdim(2)?
                .broadcast_mul(&w)?
                .mean_all()?
        } else {
            let x = Tensor::from_vec(xs, (cfg.batch, 1, pin, pin), &dev)?;
            let t = Tensor::from_vec(ts, (cfg.batch, 1, p, p), &dev)?;
            let w = Tensor::from_vec(ws, (cfg.batch, 1, 1, 1), &dev)?;
            (net.forward(&x)? - t)?
                .sqr()?
                .mean_keepdim(3)?
                .mean_keepdim(2)?
                .broadcast_mul(&w)?
                .mean_all()?
        };
        // Cosine decay to 5% of the base rate, over the steps or the time budget, whichever
        // runs out first.
        let mut frac = step as f64 / cfg.steps.max(1) as f64;
        if let Some(budget) = cfg.max_seconds {
            frac = frac.max(start.elapsed().as_secs_f64() / budget);
        }
        let stop = frac >= 1.0;
        let frac = frac.min(1.0);
        opt.set_learning_rate(
            cfg.lr * (0.05 + 0.95 * 0.5 * (1.0 + (std::f64::consts::PI * frac).cos())),
        );
        opt.backward_step(&loss)?;
        let l = f64::from(loss.to_scalar::<f32>()?);
        ema = Some(ema.map_or(l, |e| 0.98 * e + 0.02 * l));
        done = step + 1;
        if step % 100 == 0 || step + 1 == cfg.steps || stop {
            log(format!(
                "step {step:5}  loss {:.3e}  (ema {:.3e})  {:.0} s",
                l,
                ema.unwrap_or(l),
                start.elapsed().as_secs_f64()
            ));
        }
        if stop {
            break;
        }
    }
    Ok((net.export(cfg.channels)?, done))
}

/// PSNR/SSIM per dose of a model on validation pairs; also the largest |pre-activation|.
/// (dose, PSNR in, PSNR out, SSIM in, SSIM out, max |pre-activation|) of one image.
type Row = (f64, f64, f64, f64, f64, f64);

pub fn evaluate(
    model: &Denoiser,
    gain: &[[f64; 2]],
    val: &[Pair],
) -> anyhow::Result<(Vec<DoseMetrics>, f64)> {
    let rows = val
        .par_iter()
        .map(|p| {
            let r = model.radius();
            let (h, w) = (p.rows + 2 * r, p.cols + 2 * r);
            let mut padded = vec![0.0; h * w];
            for y in 0..p.rows {
                for x in 0..p.cols {
                    padded[(y + r) * w + x + r] = f64::from(p.low[y * p.cols + x]);
                }
            }
            let mut max_pre = 0.0f64;
            let out = model.forward_padded_with(&padded, h, w, &mut |_, v, _, _| {
                max_pre = v.iter().fold(max_pre, |m, x| m.max(x.abs()));
            });
            let out = finish_with(gain, &p.low, &out, p.rows, p.cols).image;
            // The metric: HU clipped to [−160, 240] over 400; 7 × 7 SSIM.
            let to_metric = |u: &[f32]| {
                metric_unit(&from_unit(
                    &u.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
                ))
            };
            let (clean, low) = (to_metric(&p.clean), to_metric(&p.low));
            let out = metric_unit(&from_unit(&out));
            Ok((
                p.dose,
                metrics::psnr(&clean, &low, 1.0)?,
                metrics::psnr(&clean, &out, 1.0)?,
                metrics::ssim_skimage(&clean, &low, p.rows, p.cols, 1.0)?,
                metrics::ssim_skimage(&clean, &out, p.rows, p.cols, 1.0)?,
                max_pre,
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut doses: Vec<f64> = rows.iter().map(|r| r.0).collect();
    doses.sort_by(f64::total_cmp);
    doses.dedup();
    let out = doses
        .iter()
        .map(|&d| {
            let sel: Vec<_> = rows.iter().filter(|r| r.0 == d).collect();
            let n = sel.len() as f64;
            let mean = |f: fn(&&Row) -> f64| sel.iter().map(f).sum::<f64>() / n;
            DoseMetrics {
                dose: d,
                images: sel.len(),
                psnr_in: mean(|r| r.1),
                psnr_out: mean(|r| r.2),
                ssim_in: mean(|r| r.3),
                ssim_out: mean(|r| r.4),
            }
        })
        .collect();
    Ok((out, rows.iter().map(|r| r.5).fold(0.0, f64::max)))
}

fn describe(model: &Denoiser, gain: &[[f64; 2]], val: &[Pair]) -> anyhow::Result<ModelDescription> {
    let (validation, max_abs_preactivation) = evaluate(model, gain, val)?;
    Ok(ModelDescription {
        kind: model.kind,
        layers: specs(model),
        radius: model.radius(),
        parameters: model
            .layers
            .iter()
            .map(|l| l.weight.len() + l.bias.len())
            .sum(),
        max_abs_preactivation,
        validation,
        gain: Some(gain.to_vec()),
        real_pairs: None,
    })
}

/// Runs the whole pipeline; `log` receives progress lines.
pub fn run(cfg: &TrainConfig, log: &mut dyn FnMut(String)) -> anyhow::Result<Description> {
    let t0 = Instant::now();
    let (mut train_imgs, val_imgs, n_groups, n_files, data_note) = match &cfg.data {
        Some(root) => {
            let (t, v, g, f) = kidney_split(root, cfg)?;
            (t, v, g, f, root.display().to_string())
        }
        None => (Vec::new(), Vec::new(), 0, 0, "none".to_string()),
    };
    let mut val_imgs = val_imgs;
    let ph = phantoms();
    // Phantoms: most in training, one (an unseen field of view) held out.
    let (ph_train, ph_val) = ph.split_at(ph.len() - 1);
    let n_ph_train = ph_train.len();
    train_imgs.extend(ph_train.iter().map(|i| Image {
        name: i.name.clone(),
        rows: i.rows,
        cols: i.cols,
        hu: i.hu.clone(),
        spacing: i.spacing,
        kernel: i.kernel,
    }));
    val_imgs.extend(ph_val.iter().map(|i| Image {
        name: i.name.clone(),
        rows: i.rows,
        cols: i.cols,
        hu: i.hu.clone(),
        spacing: i.spacing,
        kernel: i.kernel,
    }));
    log(format!(
        "{n_files} kidney files in {n_groups} groups; {} training images ({} phantoms), {} validation images; simulating…",
        train_imgs.len(),
        n_ph_train,
        val_imgs.len()
    ));
    let train = pairs(
        &cfg.cache,
        &train_imgs,
        &cfg.train_doses,
        cfg.split_seed * 1000,
        !cfg.all_doses,
        1_000_000,
    )?;
    let val = pairs(
        &cfg.cache,
        &val_imgs,
        &cfg.val_doses,
        cfg.split_seed * 1000 + 500,
        false,
        0,
    )?;
    log(format!("simulated in {:.0} s", t0.elapsed().as_secs_f64()));
    let mut train = train;
    let mayo = match &cfg.mayo {
        Some(dir) => {
            let m = load_mayo(dir, cfg, log)?;
            train.extend(m.train.iter().map(Pair::clone_pair));
            train.extend(m.sims.iter().map(Pair::clone_pair));
            log(format!(
                "{} training pairs in all ({} real, {} simulated from the training patients' full-dose scans)",
                train.len(),
                m.train.len(),
                m.sims.len()
            ));
            Some(m)
        }
        None => None,
    };

    let linear = if mayo.is_some() {
        fit_linear(&train, cfg.linear_k, cfg.noise_weighting)?
    } else {
        let linear_pairs = pairs(
            &cfg.cache,
            &train_imgs,
            &[cfg.linear_dose],
            cfg.split_seed * 1000,
            true,
            0,
        )?;
        fit_linear(&linear_pairs, cfg.linear_k, false)?
    };
    let lin_gain = fit_gain(&linear, &train)?;
    log(format!("linear gain curve (σ̂ HU, α): {lin_gain:?}"));
    let mut lin_desc = describe(&linear, &lin_gain, &val)?;
    for m in &lin_desc.validation {
        log(format!(
            "linear    dose {:.2}: PSNR {:.2} → {:.2} dB ({:+.2}), SSIM {:.3} → {:.3}",
            m.dose,
            m.psnr_in,
            m.psnr_out,
            m.psnr_out - m.psnr_in,
            m.ssim_in,
            m.ssim_out
        ));
    }
    let t1 = Instant::now();
    let (nonlinear, steps_done) = train_nonlinear(&train, cfg, log)?;
    let train_seconds = t1.elapsed().as_secs_f64();
    let nl_gain = fit_gain(&nonlinear, &train)?;
    log(format!("nonlinear gain curve (σ̂ HU, α): {nl_gain:?}"));
    let mut nl_desc = describe(&nonlinear, &nl_gain, &val)?;
    for m in &nl_desc.validation {
        log(format!(
            "nonlinear dose {:.2}: PSNR {:.2} → {:.2} dB ({:+.2}), SSIM {:.3} → {:.3}",
            m.dose,
            m.psnr_in,
            m.psnr_out,
            m.psnr_out - m.psnr_in,
            m.ssim_in,
            m.ssim_out
        ));
    }
    if let Some(m) = &mayo {
        lin_desc.real_pairs = Some(score_heldout(&linear, &lin_gain, m, cfg, log)?);
        nl_desc.real_pairs = Some(score_heldout(&nonlinear, &nl_gain, m, cfg, log)?);
    }
    let desc = Description {
        format: FORMAT.into(),
        intensities: "input and output in [0, 1] over the abdomen window W400/L40 (DICOM VOI LINEAR); \
            the kidney JPEGs are 8-bit abdomen-windowed images mapped to approximate HU through the inverse window (360 mm FOV assumed)"
            .into(),
        residual: "output = input − f(input); the image is zero-padded once by the receptive-field radius, all convolutions are valid".into(),
        models: vec![lin_desc, nl_desc],
        training: serde_json::json!({
            "data": data_note,
            "kidney_files": n_files,
            "kidney_groups": n_groups,
            "grouping": format!("union-find over images whose 32×32 thumbnails correlate ≥ {}; one image per group; split by group", cfg.group_threshold),
            "train_images": train_imgs.iter().map(|i| i.name.clone()).collect::<Vec<_>>(),
            "validation_images": val_imgs.iter().map(|i| i.name.clone()).collect::<Vec<_>>(),
            "simulation": format!("imaging::ldct (calibrated): I0 = {} photons per mm of detector per view, σe = 10, 720 views, FBP ramp×Hann (soft) or plain ramp (sharp, for D45f scans); target = noise-free reconstruction of the same geometry", ldct::CALIBRATED_I0_PER_MM),
            "real_pairs": cfg.mayo.as_ref().map(|p| p.display().to_string()),
            "heldout_patients": cfg.holdout,
            "train_patients": mayo.as_ref().map(|m| m.train_patients.clone()),
            "mayo_sim_doses": cfg.mayo_sim_doses,
            "noise_weighting": cfg.noise_weighting,
            "gain": "client-side α(σ̂) per model: per band of estimated input noise over the training pairs, the least-squares residual gain capped so that no training pair of the band loses > 0.05 dB, made non-decreasing by lowering, knot (0, 0)",
            "train_doses": cfg.train_doses,
            "validation_doses": cfg.val_doses,
            "linear": if cfg.mayo.is_some() { format!("{0}×{0} filter + bias, exact weighted least squares on the noise over all training pairs", cfg.linear_k) } else { format!("{0}×{0} filter + bias, exact least squares on the noise (every 2nd pixel) at dose {1}", cfg.linear_k, cfg.linear_dose) },
            "nonlinear": {
                "optimizer": "AdamW, cosine decay", "lr": cfg.lr, "steps": steps_done, "batch": cfg.batch,
                "patch": cfg.patch, "augmentation": "the 8 flips/rotations",
                "per_group": cfg.per_group, "all_doses": cfg.all_doses, "init": cfg.init.as_ref().map(|p| p.display().to_string()), "channels": cfg.channels,
                "kernels": cfg.kernels, "seconds": train_seconds, "seed": cfg.seed, "split_seed": cfg.split_seed
            },
        }),
    };
    std::fs::create_dir_all(&cfg.out)?;
    write_atomic(
        &cfg.out.join("denoiser.safetensors"),
        &to_safetensors(&[&linear, &nonlinear])?,
    )?;
    write_atomic(
        &cfg.out.join("denoiser.json"),
        (serde_json::to_string_pretty(&desc)? + "\n").as_bytes(),
    )?;
    log(format!(
        "wrote {} in {:.0} s",
        cfg.out.display(),
        t0.elapsed().as_secs_f64()
    ));
    Ok(desc)
}

impl Pair {
    fn clone_pair(&self) -> Pair {
        Pair {
            rows: self.rows,
            cols: self.cols,
            dose: self.dose,
            low: self.low.clone(),
            clean: self.clean.clone(),
        }
    }
}

/// The reconstruction kernel the simulation should use for a scan of kernel `name`.
fn kernel_of(name: &str) -> ReconKernel {
    if name.starts_with('B') || name.starts_with('b') {
        ReconKernel::Soft
    } else {
        ReconKernel::Sharp
    }
}

/// Real pairs split by patient.
struct Mayo {
    /// Real (QD, FD) pairs of the training patients, on [0, 1].
    train: Vec<Pair>,
    /// Calibrated simulations from the training patients' full-dose scans.
    sims: Vec<Pair>,
    /// The held-out patients' pairs, in HU.
    heldout: Vec<(PairEntry, HuSlice, HuSlice)>,
    train_patients: Vec<String>,
}

fn load_mayo(dir: &Path, cfg: &TrainConfig, log: &mut dyn FnMut(String)) -> anyhow::Result<Mayo> {
    let entries = read_pairs(dir)?;
    let loaded = entries
        .par_iter()
        .map(|e| load_pair(e).map(|(q, f)| (e.clone(), q, f)))
        .collect::<Result<Vec<_>, _>>()?;
    let (heldout, rest): (Vec<_>, Vec<_>) = loaded
        .into_iter()
        .partition(|(e, _, _)| cfg.holdout.contains(&e.patient));
    let mut train_patients: Vec<String> = rest.iter().map(|(e, _, _)| e.patient.clone()).collect();
    train_patients.sort();
    train_patients.dedup();
    log(format!(
        "real pairs: {} training ({train_patients:?}), {} held out ({:?})",
        rest.len(),
        heldout.len(),
        cfg.holdout
    ));
    let train: Vec<Pair> = rest
        .iter()
        .map(|(_, q, f)| Pair {
            rows: q.rows,
            cols: q.cols,
            dose: 0.25,
            low: to_unit(&q.hu),
            clean: to_unit(&f.hu),
        })
        .collect();
    let fd_imgs: Vec<Image> = rest
        .iter()
        .map(|(e, _, f)| Image {
            name: format!(
                "mayo-{}",
                e.full
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ),
            rows: f.rows,
            cols: f.cols,
            hu: f.hu.clone(),
            spacing: f.spacing_mm,
            kernel: kernel_of(&e.kernel),
        })
        .collect();
    let sims = if cfg.mayo_sim_doses.is_empty() {
        Vec::new()
    } else {
        pairs(
            &cfg.cache,
            &fd_imgs,
            &cfg.mayo_sim_doses,
            cfg.split_seed * 1000 + 7000,
            true,
            0,
        )?
    };
    Ok(Mayo {
        train,
        sims,
        heldout,
        train_patients,
    })
}

/// Gain curve α(σ̂) of a model: per band of estimated input noise over the training pairs
/// (bands of equal count), the least-squares residual gain, capped so that no training pair
/// of the band loses more than 0.05 dB against its target, then lowered to the smallest value
/// at any higher σ̂ (non-decreasing in σ̂, never raised) and clamped to [0, 1.5]; plus a knot
/// (0 HU, 0): no noise, no change.
fn fit_gain(model: &Denoiser, train: &[Pair]) -> anyhow::Result<Vec<[f64; 2]>> {
    // Per pair: σ̂, a = |x − t|², b = ⟨f, x − t⟩, c = |f|² with f = x − y the predicted noise;
    // the error at gain α is a − 2αb + α²c.
    let mut rows = train
        .par_iter()
        .map(|p| {
            let out = model.denoise(&p.low, p.rows, p.cols)?;
            let (mut a, mut b, mut c) = (0.0, 0.0, 0.0);
            for ((&x, &t), &y) in p.low.iter().zip(&p.clean).zip(&out) {
                let f = f64::from(x) - y;
                let e = f64::from(x - t);
                a += e * e;
                b += f * e;
                c += f * f;
            }
            Ok((estimate_noise_hu(&p.low, p.rows, p.cols), a, b, c))
        })
        .collect::<anyhow::Result<Vec<(f64, f64, f64, f64)>>>()?;
    rows.sort_by(|x, y| x.0.total_cmp(&y.0));
    // Largest α with a − 2αb + α²c ≤ a·10^(0.005) (a loss of at most 0.05 dB).
    let eps = 10f64.powf(0.005) - 1.0;
    let alpha_max = |&(_, a, b, c): &(f64, f64, f64, f64)| -> f64 {
        if c <= 1e-18 {
            return 1.5;
        }
        (b + (b * b + eps * a * c).max(0.0).sqrt()) / c
    };
    let bands = (rows.len() / 8).clamp(1, 8);
    let mut knots: Vec<[f64; 2]> = Vec::new();
    for k in 0..bands {
        let chunk = &rows[k * rows.len() / bands..(k + 1) * rows.len() / bands];
        if chunk.is_empty() {
            continue;
        }
        let sigma = chunk[chunk.len() / 2].0;
        let b: f64 = chunk.iter().map(|r| r.2).sum();
        let c: f64 = chunk.iter().map(|r| r.3).sum();
        let ls = b / c.max(1e-18);
        let cap = chunk.iter().map(alpha_max).fold(f64::INFINITY, f64::min);
        knots.push([sigma, ls.min(cap).clamp(0.0, 1.5)]);
    }
    for k in (0..knots.len().saturating_sub(1)).rev() {
        knots[k][1] = knots[k][1].min(knots[k + 1][1]);
    }
    let mut out = vec![[0.0, 0.0]];
    out.extend(knots);
    Ok(out)
}

/// Scores a model (with its gain) on the held-out real pairs, per kernel; also what it does to
/// the unmodified full-dose scans and to dose-1.0 simulations of them.
fn score_heldout(
    model: &Denoiser,
    gain: &[[f64; 2]],
    m: &Mayo,
    cfg: &TrainConfig,
    log: &mut dyn FnMut(String),
) -> anyhow::Result<serde_json::Value> {
    let scores: Vec<PairScore> = m
        .heldout
        .par_iter()
        .map(|(e, q, f)| score_plain(model, gain, e, &q.hu, &f.hu, q.rows, q.cols))
        .collect::<anyhow::Result<_>>()?;
    for s in &scores {
        log(s.to_string());
    }
    let summary = summarise(&scores);
    for s in &summary {
        log(format!(
            "HELD-OUT {:<9} {:<13} {} pairs: PSNR {:.2} → {:.2} ({:+.2}, worst {:+.2}), SSIM {:.4} → {:.4}",
            s.model.name(),
            s.group,
            s.pairs,
            s.psnr_in,
            s.psnr_out,
            s.psnr_gain,
            s.worst_psnr_gain,
            s.ssim_in,
            s.ssim_out
        ));
    }
    // Clean-input checks: the unmodified full-dose scan (PSNR of the output against the
    // input itself: how little it changes) and a dose-1.0 simulation of it (against the
    // simulation's clean reconstruction).
    let clean_checks = m
        .heldout
        .par_iter()
        .map(|(e, _, f)| {
            let (rows, cols) = (f.rows, f.cols);
            let input = to_unit(&f.hu);
            let out = model.denoise(&input, rows, cols)?;
            let fin = finish_with(gain, &input, &out, rows, cols);
            let change = metrics::psnr(
                &metric_unit(&f.hu),
                &metric_unit(&from_unit(&fin.image)),
                1.0,
            )?;
            let params = ldct::LdctParams::with_kernel(kernel_of(&e.kernel));
            let sim = ldct::simulate_with(
                &params,
                &f.hu,
                rows,
                cols,
                f.spacing_mm,
                1.0,
                cfg.split_seed * 1000 + 9000,
            )
            .map_err(|k| anyhow::anyhow!("{k}"))?;
            let sin = to_unit(&sim.low_dose);
            let sout = model.denoise(&sin, rows, cols)?;
            let sfin = finish_with(gain, &sin, &sout, rows, cols);
            let q = crate::model::denoiser::data::Quality::measure(
                &sim.clean,
                &sim.low_dose,
                &sfin.image,
                rows,
                cols,
            )?;
            Ok(serde_json::json!({
                "pair": e.name(), "kernel": e.kernel,
                "full_dose_input_output_vs_input_psnr_db": change,
                "full_dose_input_noise_estimate_hu": fin.sigma_hu, "full_dose_input_gain": fin.alpha,
                "sim_dose1_psnr_in": q.psnr_in, "sim_dose1_psnr_out": q.psnr_out,
                "sim_dose1_ssim_in": q.ssim_in, "sim_dose1_ssim_out": q.ssim_out,
            }))
        })
        .collect::<anyhow::Result<Vec<serde_json::Value>>>()?;
    let worst_sim1 = clean_checks
        .iter()
        .map(|c| {
            c["sim_dose1_psnr_out"].as_f64().unwrap_or(f64::NAN)
                - c["sim_dose1_psnr_in"].as_f64().unwrap_or(f64::NAN)
        })
        .fold(f64::INFINITY, f64::min);
    let min_change = clean_checks
        .iter()
        .map(|c| {
            c["full_dose_input_output_vs_input_psnr_db"]
                .as_f64()
                .unwrap_or(f64::NAN)
        })
        .fold(f64::INFINITY, f64::min);
    log(format!(
        "HELD-OUT {:<9} clean inputs: worst dose-1.0 simulation gain {worst_sim1:+.2} dB; full-dose scans change by ≥ {min_change:.1} dB PSNR (output vs input)",
        model.kind.name()
    ));
    Ok(serde_json::json!({
        "metric": "HU clipped to [-160, 240] scaled to [0, 1]; PSNR data range 1; SSIM 7x7 uniform window (scikit-image default); after the client's gain",
        "train_patients": m.train_patients,
        "heldout_patients": cfg.holdout,
        "pairs": scores,
        "summary": summary,
        "clean_inputs": clean_checks,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_major_forward_matches_conv2d() {
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let net = Net::new(&vb, 4, &[5, 3, 3, 5]).unwrap();
        let (b, n) = (3, 14);
        let x = Tensor::randn(0f32, 1.0, (b, 1, n, n), &dev).unwrap();
        let a = net.forward(&x).unwrap();
        let c = net
            .forward_cbhw(&x.transpose(0, 1).unwrap().contiguous().unwrap())
            .unwrap()
            .transpose(0, 1)
            .unwrap();
        let d: f32 = (a - c)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar()
            .unwrap();
        assert!(d < 1e-5, "{d}");
    }
}
