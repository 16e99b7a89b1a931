//! Ray-driven parallel-beam forward projection (Joseph's method): each ray
//! steps along the image axis it is most aligned with and interpolates
//! linearly across the other, giving line integrals in mm × μ.

use rayon::prelude::*;

use super::Geometry;

/// The image with a one-pixel zero border, so interpolation at positions in
/// (−1, n) never leaves the buffer; `transposed` serves rays stepping over
/// columns with the same contiguous inner loop as rays stepping over rows.
struct Padded {
    data: Vec<f32>,
    /// Row stride (inner length + 2).
    stride: usize,
    outer: usize,
    inner: usize,
}

impl Padded {
    fn new(mu: &[f32], rows: usize, cols: usize, transposed: bool) -> Padded {
        let (outer, inner) = if transposed {
            (cols, rows)
        } else {
            (rows, cols)
        };
        let stride = inner + 2;
        let mut data = vec![0.0f32; (outer + 2) * stride];
        for o in 0..outer {
            for i in 0..inner {
                let v = if transposed {
                    mu[i * cols + o]
                } else {
                    mu[o * cols + i]
                };
                data[(o + 1) * stride + i + 1] = v;
            }
        }
        Padded {
            data,
            stride,
            outer,
            inner,
        }
    }

    /// Σ over outer index o of the image interpolated at inner position a + b·o.
    #[inline]
    fn line_sum(&self, a: f32, b: f32) -> f32 {
        let n = self.inner as f32;
        let mut acc = 0.0f32;
        for o in 0..self.outer {
            let u = a + b * o as f32;
            if u > -1.0 && u < n {
                let f = u.floor();
                let w = u - f;
                // +1 for the border: f ∈ [−1, n−1] → index ∈ [0, n].
                let base = (o + 1) * self.stride + (f as isize + 1) as usize;
                if let (Some(&p), Some(&q)) = (self.data.get(base), self.data.get(base + 1)) {
                    acc += p + (q - p) * w;
                }
            }
        }
        acc
    }
}

/// Sinogram (views × bins, row-major) of the attenuation image `mu`.
pub fn forward(mu: &[f32], g: &Geometry) -> Vec<f32> {
    let (rows, cols, bins) = (g.rows, g.cols, g.bins);
    if mu.len() != rows * cols {
        return vec![0.0; g.angles.len() * bins];
    }
    let d = g.spacing;
    let rc = (rows as f64 - 1.0) / 2.0;
    let cc = (cols as f64 - 1.0) / 2.0;
    let bc = (bins as f64 - 1.0) / 2.0;
    let (by_rows, by_cols) = rayon::join(
        || Padded::new(mu, rows, cols, false),
        || Padded::new(mu, rows, cols, true),
    );
    let mut sino = vec![0.0f32; g.angles.len() * bins];
    sino.par_chunks_mut(bins)
        .zip(g.angles.par_iter())
        .for_each(|(out, &(cos, sin))| {
            for (b, o) in out.iter_mut().enumerate() {
                // Ray: x·cos + y·sin = t (pixel units), x = c − cc, y = rc − r.
                let t = b as f64 - bc;
                *o = if cos.abs() >= sin.abs() {
                    // Step over rows r: column u = (t − (rc − r)·sin)/cos + cc.
                    let a = (t - rc * sin) / cos + cc;
                    let s = sin / cos;
                    by_rows.line_sum(a as f32, s as f32) * (d / cos.abs()) as f32
                } else {
                    // Step over columns c: row v = rc − (t − (c − cc)·cos)/sin.
                    let a = rc - (t + cc * cos) / sin;
                    let s = cos / sin;
                    by_cols.line_sum(a as f32, s as f32) * (d / sin.abs()) as f32
                };
            }
        });
    sino
}
