//! Ray-driven parallel-beam forward projection (Joseph's method): each ray
//! steps along the image axis it is most aligned with and interpolates
//! linearly across the other, giving line integrals in mm × μ.

use rayon::prelude::*;

use super::Geometry;

/// Sinogram (views × bins, row-major) of the attenuation image `mu`.
pub fn forward(mu: &[f32], g: &Geometry) -> Vec<f32> {
    let (rows, cols, bins) = (g.rows, g.cols, g.bins);
    let d = g.spacing;
    let rc = (rows as f64 - 1.0) / 2.0;
    let cc = (cols as f64 - 1.0) / 2.0;
    let bc = (bins as f64 - 1.0) / 2.0;
    let mut sino = vec![0.0f32; g.angles.len() * bins];
    sino.par_chunks_mut(bins)
        .zip(g.angles.par_iter())
        .for_each(|(out, &(cos, sin))| {
            for (b, o) in out.iter_mut().enumerate() {
                // Detector coordinate in pixel units; the ray is x·cos + y·sin = t.
                let t = b as f64 - bc;
                let mut acc = 0.0f64;
                if cos.abs() >= sin.abs() {
                    // Step over rows: y = rc - r, x = (t - y sin)/cos.
                    for r in 0..rows {
                        let y = rc - r as f64;
                        let u = (t - y * sin) / cos + cc;
                        acc += interp(mu, r * cols, cols, u);
                    }
                    acc *= d / cos.abs();
                } else {
                    // Step over columns: x = c - cc, y = (t - x cos)/sin, row = rc - y.
                    for c in 0..cols {
                        let x = c as f64 - cc;
                        let v = rc - (t - x * cos) / sin;
                        acc += interp_col(mu, c, cols, rows, v);
                    }
                    acc *= d / sin.abs();
                }
                *o = acc as f32;
            }
        });
    sino
}

/// Linear interpolation at fractional column `u` of the row starting at `base`.
#[inline]
fn interp(mu: &[f32], base: usize, cols: usize, u: f64) -> f64 {
    if u <= -1.0 || u >= cols as f64 {
        return 0.0;
    }
    let f = u.floor();
    let w = u - f;
    let i = f as isize;
    let at = |k: isize| -> f64 {
        if k < 0 || k as usize >= cols {
            0.0
        } else {
            mu.get(base + k as usize).map_or(0.0, |&v| f64::from(v))
        }
    };
    at(i) * (1.0 - w) + at(i + 1) * w
}

/// Linear interpolation at fractional row `v` of column `c`.
#[inline]
fn interp_col(mu: &[f32], c: usize, cols: usize, rows: usize, v: f64) -> f64 {
    if v <= -1.0 || v >= rows as f64 {
        return 0.0;
    }
    let f = v.floor();
    let w = v - f;
    let i = f as isize;
    let at = |k: isize| -> f64 {
        if k < 0 || k as usize >= rows {
            0.0
        } else {
            mu.get(k as usize * cols + c).map_or(0.0, |&x| f64::from(x))
        }
    };
    at(i) * (1.0 - w) + at(i + 1) * w
}
