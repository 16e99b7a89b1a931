//! Image quality metrics for the denoising demo: RMSE, PSNR and SSIM
//! (Wang et al., IEEE TIP 2004: 11×11 Gaussian window σ = 1.5, K1 = 0.01,
//! K2 = 0.03, mean over the "valid" positions where the window fits).
//!
//! Compare images on the same intensity scale; the app normalises HU over
//! the display window first, so `data_range` is then 1.0.

/// Why a metric could not be computed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MetricError {
    #[error("images differ in size: {0} vs {1} values")]
    SizeMismatch(usize, usize),
    #[error("image is empty or smaller than the {0}×{0} SSIM window")]
    TooSmall(usize),
    #[error("data range must be positive, got {0}")]
    BadRange(f64),
}

fn check(a: &[f32], b: &[f32]) -> Result<(), MetricError> {
    if a.len() != b.len() {
        return Err(MetricError::SizeMismatch(a.len(), b.len()));
    }
    if a.is_empty() {
        return Err(MetricError::TooSmall(0));
    }
    Ok(())
}

/// Mean squared error.
pub fn mse(a: &[f32], b: &[f32]) -> Result<f64, MetricError> {
    check(a, b)?;
    let s: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    Ok(s / a.len() as f64)
}

/// Root mean squared error.
pub fn rmse(a: &[f32], b: &[f32]) -> Result<f64, MetricError> {
    mse(a, b).map(f64::sqrt)
}

/// Peak signal-to-noise ratio in dB, 10·log10(R² / MSE); infinite for identical images.
pub fn psnr(reference: &[f32], test: &[f32], data_range: f64) -> Result<f64, MetricError> {
    if data_range <= 0.0 || !data_range.is_finite() {
        return Err(MetricError::BadRange(data_range));
    }
    let m = mse(reference, test)?;
    Ok(if m == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (data_range * data_range / m).log10()
    })
}

const WIN: usize = 11;
const SIGMA: f64 = 1.5;

fn gaussian_1d() -> [f64; WIN] {
    let mut g = [0.0; WIN];
    let c = (WIN / 2) as f64;
    for (i, v) in g.iter_mut().enumerate() {
        *v = (-((i as f64 - c).powi(2)) / (2.0 * SIGMA * SIGMA)).exp();
    }
    let s: f64 = g.iter().sum();
    g.iter_mut().for_each(|v| *v /= s);
    g
}

/// Separable 'valid' Gaussian filtering of a rows × cols image.
fn filter_valid(x: &[f64], rows: usize, cols: usize, g: &[f64; WIN]) -> Vec<f64> {
    let (orows, ocols) = (rows + 1 - WIN, cols + 1 - WIN);
    let mut h = vec![0.0; rows * ocols];
    for r in 0..rows {
        for c in 0..ocols {
            h[r * ocols + c] = (0..WIN).map(|k| g[k] * x[r * cols + c + k]).sum();
        }
    }
    let mut out = vec![0.0; orows * ocols];
    for r in 0..orows {
        for c in 0..ocols {
            out[r * ocols + c] = (0..WIN).map(|k| g[k] * h[(r + k) * ocols + c]).sum();
        }
    }
    out
}

/// The checks both SSIM variants make: equal lengths, `rows × cols` pixels, at least one
/// `win × win` window, a positive finite data range.
fn check_ssim_inputs(
    a: &[f32],
    b: &[f32],
    rows: usize,
    cols: usize,
    win: usize,
    data_range: f64,
) -> Result<(), MetricError> {
    check(a, b)?;
    if a.len() != rows * cols {
        return Err(MetricError::SizeMismatch(a.len(), rows * cols));
    }
    if rows < win || cols < win {
        return Err(MetricError::TooSmall(win));
    }
    if data_range <= 0.0 || !data_range.is_finite() {
        return Err(MetricError::BadRange(data_range));
    }
    Ok(())
}

/// Mean SSIM of two rows × cols images with intensities spanning `data_range`.
pub fn ssim(
    a: &[f32],
    b: &[f32],
    rows: usize,
    cols: usize,
    data_range: f64,
) -> Result<f64, MetricError> {
    check_ssim_inputs(a, b, rows, cols, WIN, data_range)?;
    let g = gaussian_1d();
    Ok(mean_ssim(a, b, data_range, None, |v| {
        filter_valid(v, rows, cols, &g)
    }))
}

/// The SSIM formula (K1 = 0.01, K2 = 0.03) averaged over every window position: `local_mean`
/// takes an image (row-major) to its windowed means; `cov_norm`, when given, turns the
/// windowed (co)variances into sample ones (scikit-image's N/(N − 1)).
fn mean_ssim(
    a: &[f32],
    b: &[f32],
    data_range: f64,
    cov_norm: Option<f64>,
    local_mean: impl Fn(&[f64]) -> Vec<f64>,
) -> f64 {
    let x: Vec<f64> = a.iter().map(|&v| f64::from(v)).collect();
    let y: Vec<f64> = b.iter().map(|&v| f64::from(v)).collect();
    let xx: Vec<f64> = x.iter().map(|v| v * v).collect();
    let yy: Vec<f64> = y.iter().map(|v| v * v).collect();
    let xy: Vec<f64> = x.iter().zip(&y).map(|(p, q)| p * q).collect();
    let f = &local_mean;
    let (mx, my, mxx, myy, mxy) = (f(&x), f(&y), f(&xx), f(&yy), f(&xy));
    let norm = |v: f64| cov_norm.map_or(v, |k| k * v);
    let c1 = (0.01 * data_range).powi(2);
    let c2 = (0.03 * data_range).powi(2);
    let n = mx.len();
    let total: f64 = (0..n)
        .map(|i| {
            let (ux, uy) = (mx[i], my[i]);
            let vx = norm(mxx[i] - ux * ux);
            let vy = norm(myy[i] - uy * uy);
            let vxy = norm(mxy[i] - ux * uy);
            ((2.0 * ux * uy + c1) * (2.0 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
        })
        .sum();
    total / n as f64
}

/// Side of the uniform SSIM window of scikit-image's `structural_similarity` default.
pub const SKIMAGE_WIN: usize = 7;

/// Box sums over every `win × win` window that fits ('valid'), divided by win².
fn box_valid(x: &[f64], rows: usize, cols: usize, win: usize) -> Vec<f64> {
    let (orows, ocols) = (rows + 1 - win, cols + 1 - win);
    let inv = 1.0 / (win * win) as f64;
    let mut h = vec![0.0; rows * ocols];
    for r in 0..rows {
        let row = &x[r * cols..(r + 1) * cols];
        let mut s: f64 = row[..win].iter().sum();
        h[r * ocols] = s;
        for c in 1..ocols {
            s += row[c + win - 1] - row[c - 1];
            h[r * ocols + c] = s;
        }
    }
    let mut out = vec![0.0; orows * ocols];
    for c in 0..ocols {
        let mut s: f64 = (0..win).map(|k| h[k * ocols + c]).sum();
        out[c] = s * inv;
        for r in 1..orows {
            s += h[(r + win - 1) * ocols + c] - h[(r - 1) * ocols + c];
            out[r * ocols + c] = s * inv;
        }
    }
    out
}

/// Mean SSIM as scikit-image's `structural_similarity` computes it by default: 7 × 7 uniform
/// window, sample covariances (× 49/48), K1 = 0.01, K2 = 0.03, averaged over the positions
/// where the window fits (scikit-image filters the whole image and crops 3 pixels per side,
/// which leaves exactly those). Comparable with the baselines in `ldct-mayo/pairs.tsv`.
pub fn ssim_skimage(
    a: &[f32],
    b: &[f32],
    rows: usize,
    cols: usize,
    data_range: f64,
) -> Result<f64, MetricError> {
    const W: usize = SKIMAGE_WIN;
    check_ssim_inputs(a, b, rows, cols, W, data_range)?;
    let np = (W * W) as f64;
    Ok(mean_ssim(a, b, data_range, Some(np / (np - 1.0)), |v| {
        box_valid(v, rows, cols, W)
    }))
}
