//! Plaintext reference inference: the exact function the encrypted runs must reproduce.

use super::DenoiserError;
use rayon::prelude::*;

/// Which denoiser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// One learned convolution, no nonlinearity: one-shot under HE.
    Linear,
    /// 3×3 convolutions with ReLU: interactive under HE.
    Nonlinear,
}

impl ModelKind {
    pub const ALL: [ModelKind; 2] = [ModelKind::Linear, ModelKind::Nonlinear];

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Linear => "linear",
            ModelKind::Nonlinear => "nonlinear",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "linear" => Some(ModelKind::Linear),
            "nonlinear" | "non-linear" | "redcnn" => Some(ModelKind::Nonlinear),
            _ => None,
        }
    }
}

/// A 2-D convolution (cross-correlation, PyTorch layout `[cout][cin][k][k]`), odd square
/// kernel, always "valid".
#[derive(Clone, Debug, PartialEq)]
pub struct Conv {
    pub cin: usize,
    pub cout: usize,
    pub k: usize,
    pub weight: Vec<f64>,
    pub bias: Vec<f64>,
}

impl Conv {
    pub fn radius(&self) -> usize {
        self.k / 2
    }

    /// Weight for output channel `co`, input channel `ci`, kernel offset (dy, dx) ∈ [−r, r]².
    pub fn w(&self, co: usize, ci: usize, dy: i64, dx: i64) -> f64 {
        let r = self.radius() as i64;
        let (ky, kx) = ((dy + r) as usize, (dx + r) as usize);
        self.weight[((co * self.cin + ci) * self.k + ky) * self.k + kx]
    }

    /// Valid convolution of `[cin][h][w]` → `[cout][h−k+1][w−k+1]`.
    pub fn apply_valid(&self, input: &[f64], h: usize, w: usize) -> Vec<f64> {
        let (oh, ow) = (h + 1 - self.k, w + 1 - self.k);
        let mut out = vec![0.0; self.cout * oh * ow];
        out.par_chunks_mut(oh * ow)
            .enumerate()
            .for_each(|(co, plane)| {
                for ci in 0..self.cin {
                    let src = &input[ci * h * w..(ci + 1) * h * w];
                    for ky in 0..self.k {
                        for kx in 0..self.k {
                            let wt =
                                self.weight[((co * self.cin + ci) * self.k + ky) * self.k + kx];
                            for y in 0..oh {
                                let row = &src[(y + ky) * w + kx..(y + ky) * w + kx + ow];
                                let dst = &mut plane[y * ow..(y + 1) * ow];
                                for (d, s) in dst.iter_mut().zip(row) {
                                    *d += wt * s;
                                }
                            }
                        }
                    }
                }
                let b = self.bias[co];
                plane.iter_mut().for_each(|v| *v += b);
            });
        out
    }
}

/// Observer of pre-activations: (layer, values `[cout][h][w]`, h, w).
pub type Tap<'a> = dyn FnMut(usize, &[f64], usize, usize) + 'a;

/// A denoiser: `output = centre(input) − f(input)`, f = convolutions with ReLU between them.
#[derive(Clone, Debug, PartialEq)]
pub struct Denoiser {
    pub kind: ModelKind,
    pub layers: Vec<Conv>,
}

impl Denoiser {
    /// Validates the layer chain (1 → … → 1 channels, odd kernels, finite weights).
    pub fn new(kind: ModelKind, layers: Vec<Conv>) -> Result<Self, DenoiserError> {
        let bad = |what: String| DenoiserError::Invalid {
            model: kind.name().into(),
            what,
        };
        if layers.is_empty() {
            return Err(bad("no layers".into()));
        }
        if kind == ModelKind::Linear && layers.len() != 1 {
            return Err(bad(format!(
                "a linear model is one convolution, got {}",
                layers.len()
            )));
        }
        let mut channels = 1;
        for (i, l) in layers.iter().enumerate() {
            if l.cin != channels {
                return Err(bad(format!(
                    "layer {i} takes {} channels, the previous gives {channels}",
                    l.cin
                )));
            }
            if l.k % 2 == 0 || l.k == 0 || l.k > 15 {
                return Err(bad(format!("layer {i}: kernel {} must be odd, ≤ 15", l.k)));
            }
            if l.cout == 0 || l.cout > 64 {
                return Err(bad(format!("layer {i}: {} output channels", l.cout)));
            }
            if l.weight.len() != l.cout * l.cin * l.k * l.k || l.bias.len() != l.cout {
                return Err(bad(format!(
                    "layer {i}: tensor sizes do not match its shape"
                )));
            }
            if !l.weight.iter().chain(&l.bias).all(|v| v.is_finite()) {
                return Err(bad(format!("layer {i}: non-finite weights")));
            }
            channels = l.cout;
        }
        if channels != 1 {
            return Err(bad(format!(
                "the last layer gives {channels} channels, not 1"
            )));
        }
        Ok(Self { kind, layers })
    }

    /// Receptive-field radius R: the halo of a tile and the zero padding of the image.
    pub fn radius(&self) -> usize {
        self.layers.iter().map(Conv::radius).sum()
    }

    /// Number of ReLU rounds (one per layer boundary; zero for the linear model).
    pub fn relu_rounds(&self) -> usize {
        self.layers.len() - 1
    }

    /// Runs the model on an already padded `h × w` image; returns the `(h−2R) × (w−2R)`
    /// denoised centre. Every intermediate pre-activation is passed to `tap` (layer index,
    /// `[cout][h'][w']`) before the ReLU.
    pub fn forward_padded_with(
        &self,
        padded: &[f64],
        h: usize,
        w: usize,
        tap: &mut Tap<'_>,
    ) -> Vec<f64> {
        let r = self.radius();
        let (mut x, mut ch, mut cw) = (padded.to_vec(), h, w);
        let last = self.layers.len() - 1;
        for (i, l) in self.layers.iter().enumerate() {
            x = l.apply_valid(&x, ch, cw);
            ch = ch + 1 - l.k;
            cw = cw + 1 - l.k;
            tap(i, &x, ch, cw);
            if i != last {
                x.iter_mut().for_each(|v| *v = v.max(0.0));
            }
        }
        let (oh, ow) = (h - 2 * r, w - 2 * r);
        let mut out = Vec::with_capacity(oh * ow);
        for y in 0..oh {
            for xx in 0..ow {
                out.push(padded[(y + r) * w + xx + r] - x[y * ow + xx]);
            }
        }
        out
    }

    pub fn forward_padded(&self, padded: &[f64], h: usize, w: usize) -> Vec<f64> {
        self.forward_padded_with(padded, h, w, &mut |_, _, _, _| {})
    }

    /// Denoises a whole `rows × cols` image in [0, 1] (zero padding by R, valid convolutions).
    pub fn denoise(
        &self,
        image: &[f32],
        rows: usize,
        cols: usize,
    ) -> Result<Vec<f64>, DenoiserError> {
        if rows == 0 || cols == 0 || image.len() != rows * cols {
            return Err(DenoiserError::ImageShape {
                rows,
                cols,
                values: image.len(),
            });
        }
        let r = self.radius();
        let (h, w) = (rows + 2 * r, cols + 2 * r);
        let mut padded = vec![0.0; h * w];
        for y in 0..rows {
            for x in 0..cols {
                padded[(y + r) * w + x + r] = f64::from(image[y * cols + x]);
            }
        }
        Ok(self.forward_padded(&padded, h, w))
    }
}
