//! Plaintext forward pass of the Ref-CNN (f32 convolutions, f64 head).
//!
//! conv1 (5×5/2, pad 2) → ReLU → max-pool 2 → conv2 (3×3) → ReLU → max-pool 2 → conv3 (3×3)
//! → ReLU → max-pool 2 → conv4 (3×3) → ReLU → global average pool → fc.

use super::weights::{Conv2d, RefCnnWeights};
use super::{ClassifierError, INPUT_SIZE, NUM_CLASSES, check_input};

/// Logits of the Ref-CNN for one preprocessed 256×256 input.
pub fn forward(w: &RefCnnWeights, input: &[f32]) -> Result<[f64; NUM_CLASSES], ClassifierError> {
    check_input(input)?;
    let mut x = input.to_vec();
    let mut n = INPUT_SIZE;
    let last = w.convs.len().saturating_sub(1);
    for (li, c) in w.convs.iter().enumerate() {
        x = conv2d_f32(c, &x, n);
        n = c.out_size(n);
        x.iter_mut().for_each(|v| *v = v.max(0.0));
        if li < last {
            x = max_pool2(&x, c.out_channels, n);
            n /= 2;
        }
    }
    let plane = n * n;
    let pooled: Vec<f64> = x
        .chunks_exact(plane)
        .map(|ch| ch.iter().map(|&v| f64::from(v)).sum::<f64>() / plane as f64)
        .collect();
    let mut logits = [0.0; NUM_CLASSES];
    for (k, l) in logits.iter_mut().enumerate() {
        let row = &w.fc.weight[k * w.fc.in_features..(k + 1) * w.fc.in_features];
        *l = f64::from(w.fc.bias[k])
            + row
                .iter()
                .zip(&pooled)
                .map(|(&wi, &p)| f64::from(wi) * p)
                .sum::<f64>();
    }
    Ok(logits)
}

/// Convolution of a `[in, n, n]` map: loops ordered so the inner loop runs along a row.
fn conv2d_f32(c: &Conv2d, x: &[f32], n: usize) -> Vec<f32> {
    let m = c.out_size(n);
    let mut out = vec![0.0f32; c.out_channels * m * m];
    let (s, p) = (c.stride, c.padding as isize);
    for o in 0..c.out_channels {
        let plane = &mut out[o * m * m..(o + 1) * m * m];
        plane.iter_mut().for_each(|v| *v = c.bias[o]);
        for i in 0..c.in_channels {
            let src = &x[i * n * n..(i + 1) * n * n];
            for ky in 0..c.kernel {
                for kx in 0..c.kernel {
                    let wv = c.w(o, i, ky, kx);
                    // Output columns whose input column ox*s + kx - p lies in [0, n).
                    let lo = ((p - kx as isize).max(0) as usize).div_ceil(s);
                    let hi_excl = {
                        let lim = n as isize + p - kx as isize; // need ox*s < lim
                        if lim <= 0 {
                            0
                        } else {
                            ((lim as usize).div_ceil(s)).min(m)
                        }
                    };
                    if lo >= hi_excl {
                        continue;
                    }
                    for oy in 0..m {
                        let iy = (oy * s + ky) as isize - p;
                        if iy < 0 || iy >= n as isize {
                            continue;
                        }
                        let row = &src[iy as usize * n..(iy as usize + 1) * n];
                        let orow = &mut plane[oy * m..(oy + 1) * m];
                        if s == 1 {
                            let off = kx as isize - p;
                            for ox in lo..hi_excl {
                                orow[ox] += wv * row[(ox as isize + off) as usize];
                            }
                        } else {
                            for ox in lo..hi_excl {
                                orow[ox] += wv * row[((ox * s + kx) as isize - p) as usize];
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

fn max_pool2(x: &[f32], channels: usize, n: usize) -> Vec<f32> {
    let m = n / 2;
    let mut out = vec![0.0f32; channels * m * m];
    for ch in 0..channels {
        for y in 0..m {
            for xx in 0..m {
                let at = |dy: usize, dx: usize| x[(ch * n + 2 * y + dy) * n + 2 * xx + dx];
                out[(ch * m + y) * m + xx] = at(0, 0).max(at(0, 1)).max(at(1, 0)).max(at(1, 1));
            }
        }
    }
    out
}
