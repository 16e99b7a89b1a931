//! Plaintext forward pass of the Approx-CNN, in f64, with every intermediate exposed so the
//! HE side can check its fidelity layer by layer.
//!
//! Tensors are channel-major (`[C, H, W]`, row-major), as in the weights.

use super::weights::{ApproxCnnWeights, Conv2d, PolyActivation, approx_arch::*};
use super::{ClassifierError, INPUT_SIZE, NUM_CLASSES, check_input};

/// Every intermediate output of the Approx-CNN for one input (flat `[C, H, W]`).
#[derive(Debug, Clone, PartialEq)]
pub struct ApproxIntermediates {
    /// After the 8×8/8 patchify conv: `[C1, 32, 32]` (pre-activation 1; C1 = 32).
    pub conv1: Vec<f64>,
    /// After `a·y²+b·y+c`: `[C1, 32, 32]`.
    pub act1: Vec<f64>,
    /// After the 2×2/2 average pool: `[C1, 16, 16]`.
    pub pool1: Vec<f64>,
    /// After the 3×3 conv (padding 1): `[C2, 16, 16]` (pre-activation 2; C2 = 64).
    pub conv2: Vec<f64>,
    /// After `a·y²+b·y+c`: `[C2, 16, 16]`.
    pub act2: Vec<f64>,
    /// After global average pooling: `[C2]`.
    pub pool2: Vec<f64>,
    /// Class logits `[normal, cyst, tumor]`.
    pub logits: [f64; NUM_CLASSES],
}

/// Logits of the Approx-CNN for one preprocessed 256×256 input.
pub fn forward(w: &ApproxCnnWeights, input: &[f32]) -> Result<[f64; NUM_CLASSES], ClassifierError> {
    Ok(forward_intermediates(w, input)?.logits)
}

/// Mean logits of an ensemble of Approx-CNNs (what the HE evaluator computes when it adds
/// the members' logit ciphertexts, each scaled by 1/K).
pub fn forward_mean(
    members: &[ApproxCnnWeights],
    input: &[f32],
) -> Result<[f64; NUM_CLASSES], ClassifierError> {
    check_input(input)?;
    let mut mean = [0.0; NUM_CLASSES];
    for w in members {
        let z = forward(w, input)?;
        for (m, z) in mean.iter_mut().zip(z) {
            *m += z / members.len() as f64;
        }
    }
    Ok(mean)
}

/// Class-activation maps of the Approx-CNN (issue 19): for each cell (u, v) of the 16×16
/// grid before global average pooling, the class's logit terms at that cell,
/// `m_k(u, v) = b_k + Σ_c W[k, c] · act2[c, u, v]`, averaged over ensemble members. The mean
/// of a map over its 256 cells is that class's logit exactly, so a cell above the logit
/// pushes towards the class and one below pushes away. Each cell sees a 32×32-pixel window of
/// the 256×256 input (16×16 pixels per cell, plus the 3×3 conv's neighbours).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassMaps {
    /// Cells per side (16).
    pub side: usize,
    /// Cyst map, row-major `[16 × 16]`, logit units.
    pub cyst: Vec<f64>,
    /// Tumour map, row-major `[16 × 16]`, logit units.
    pub tumor: Vec<f64>,
}

impl ClassMaps {
    /// The map of class index `class` (1 = cyst, 2 = tumour); `None` for normal.
    pub fn for_class(&self, class: usize) -> Option<&[f64]> {
        match class {
            1 => Some(&self.cyst),
            2 => Some(&self.tumor),
            _ => None,
        }
    }
}

/// Plaintext class-activation maps of an ensemble (what the encrypted map decrypts to).
pub fn class_maps(
    members: &[ApproxCnnWeights],
    input: &[f32],
) -> Result<ClassMaps, ClassifierError> {
    check_input(input)?;
    let cells = S2 * S2;
    let mut maps = [vec![0.0; cells], vec![0.0; cells]];
    for w in members {
        let act2 = forward_intermediates(w, input)?.act2;
        for (map, class) in maps.iter_mut().zip([1usize, 2]) {
            let row = &w.fc.weight[class * w.fc.in_features..(class + 1) * w.fc.in_features];
            for (cell, m) in map.iter_mut().enumerate() {
                let terms: f64 = row
                    .iter()
                    .enumerate()
                    .map(|(c, &wc)| f64::from(wc) * act2[c * cells + cell])
                    .sum();
                *m += (f64::from(w.fc.bias[class]) + terms) / members.len() as f64;
            }
        }
    }
    let [cyst, tumor] = maps;
    Ok(ClassMaps {
        side: S2,
        cyst,
        tumor,
    })
}

/// The Approx-CNN forward pass keeping every intermediate.
pub fn forward_intermediates(
    w: &ApproxCnnWeights,
    input: &[f32],
) -> Result<ApproxIntermediates, ClassifierError> {
    check_input(input)?;
    let x: Vec<f64> = input.iter().map(|&v| f64::from(v)).collect();
    let conv1 = conv2d_f64(&w.conv1, &x, INPUT_SIZE);
    let act1 = poly(&w.act1, &conv1, S1 * S1);
    let pool1 = avg_pool2(&act1, C1, S1);
    let conv2 = conv2d_f64(&w.conv2, &pool1, S2);
    let act2 = poly(&w.act2, &conv2, S2 * S2);
    let plane = (S2 * S2) as f64;
    let pool2: Vec<f64> = act2
        .chunks_exact(S2 * S2)
        .map(|ch| ch.iter().sum::<f64>() / plane)
        .collect();
    let mut logits = [0.0; NUM_CLASSES];
    for (k, l) in logits.iter_mut().enumerate() {
        let row = &w.fc.weight[k * w.fc.in_features..(k + 1) * w.fc.in_features];
        *l = f64::from(w.fc.bias[k])
            + row
                .iter()
                .zip(&pool2)
                .map(|(&wi, &p)| f64::from(wi) * p)
                .sum::<f64>();
    }
    Ok(ApproxIntermediates {
        conv1,
        act1,
        pool1,
        conv2,
        act2,
        pool2,
        logits,
    })
}

/// Direct convolution of a `[in, n, n]` map, any stride and zero padding.
pub(crate) fn conv2d_f64(c: &Conv2d, x: &[f64], n: usize) -> Vec<f64> {
    let m = c.out_size(n);
    let mut out = vec![0.0; c.out_channels * m * m];
    for o in 0..c.out_channels {
        let plane = &mut out[o * m * m..(o + 1) * m * m];
        for oy in 0..m {
            for ox in 0..m {
                let mut acc = f64::from(c.bias[o]);
                for i in 0..c.in_channels {
                    for ky in 0..c.kernel {
                        let iy = (oy * c.stride + ky) as isize - c.padding as isize;
                        if iy < 0 || iy >= n as isize {
                            continue;
                        }
                        for kx in 0..c.kernel {
                            let ix = (ox * c.stride + kx) as isize - c.padding as isize;
                            if ix < 0 || ix >= n as isize {
                                continue;
                            }
                            acc += f64::from(c.w(o, i, ky, kx))
                                * x[(i * n + iy as usize) * n + ix as usize];
                        }
                    }
                }
                plane[oy * m + ox] = acc;
            }
        }
    }
    out
}

fn poly(act: &PolyActivation, y: &[f64], plane: usize) -> Vec<f64> {
    y.chunks_exact(plane)
        .enumerate()
        .flat_map(|(ch, vals)| vals.iter().map(move |&v| act.eval(ch, v)))
        .collect()
}

/// 2×2 stride-2 average pooling of a `[c, n, n]` map.
fn avg_pool2(x: &[f64], channels: usize, n: usize) -> Vec<f64> {
    let m = n / 2;
    let mut out = vec![0.0; channels * m * m];
    for ch in 0..channels {
        for y in 0..m {
            for xx in 0..m {
                let at = |dy: usize, dx: usize| x[(ch * n + 2 * y + dy) * n + 2 * xx + dx];
                out[(ch * m + y) * m + xx] = (at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1)) / 4.0;
            }
        }
    }
    out
}
