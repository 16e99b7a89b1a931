//! Low-dose CT simulation in the projection domain (Zeng et al., IEEE TNS 2015).
//!
//! HU → μ, parallel-beam forward projection, Poisson transmission noise at
//! I0 × dose plus Gaussian electronic noise, log, FBP (ramp × Hann), μ → HU.
//! The same pipeline without noise gives the matching clean reference, so a
//! denoiser is judged against what a perfect full-dose scan of this geometry
//! would show (FBP blur included) rather than against the input.

pub mod fbp;
pub mod noise;
pub mod projector;

use super::error::ErrorKind;

/// Physical and geometric parameters of the simulation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LdctParams {
    /// Incident photons per detector bin at full dose.
    pub i0: f64,
    /// Electronic noise standard deviation (photon-count units).
    pub sigma_e: f64,
    /// Views over 180°.
    pub views: usize,
    /// Linear attenuation of water (mm⁻¹) near 60–70 keV.
    pub mu_water: f64,
    /// Detector bins as a multiple of the image side.
    pub bins_factor: f64,
}

impl Default for LdctParams {
    fn default() -> Self {
        LdctParams {
            i0: 1e5,
            sigma_e: 10.0,
            views: 720,
            mu_water: 0.02,
            bins_factor: 1.5,
        }
    }
}

/// Output of [`simulate`]: both images in HU, row-major like the input.
#[derive(Debug, Clone)]
pub struct LdctResult {
    pub low_dose: Vec<f32>,
    pub clean: Vec<f32>,
}

/// Geometry shared by projector and reconstruction.
#[derive(Debug, Clone)]
pub struct Geometry {
    pub rows: usize,
    pub cols: usize,
    /// Pixel size = detector bin size, mm.
    pub spacing: f64,
    pub bins: usize,
    pub angles: Vec<(f64, f64)>,
}

impl Geometry {
    pub fn new(rows: usize, cols: usize, spacing: f64, params: &LdctParams) -> Geometry {
        let side = rows.max(cols) as f64;
        let diag = ((rows * rows + cols * cols) as f64).sqrt();
        let bins = (side * params.bins_factor).max(diag + 2.0).ceil() as usize;
        let views = params.views.max(1);
        let angles = (0..views)
            .map(|k| {
                let th = std::f64::consts::PI * k as f64 / views as f64;
                (th.cos(), th.sin())
            })
            .collect();
        Geometry {
            rows,
            cols,
            spacing,
            bins,
            angles,
        }
    }
}

/// Simulates a scan of `hu` (rows × cols, pixel `spacing_mm`) at `dose`
/// (fraction of full dose, e.g. 0.25) with the default parameters.
pub fn simulate(
    hu: &[f32],
    rows: usize,
    cols: usize,
    spacing_mm: f64,
    dose: f64,
    seed: u64,
) -> Result<LdctResult, ErrorKind> {
    simulate_with(
        &LdctParams::default(),
        hu,
        rows,
        cols,
        spacing_mm,
        dose,
        seed,
    )
}

/// [`simulate`] with explicit parameters.
pub fn simulate_with(
    params: &LdctParams,
    hu: &[f32],
    rows: usize,
    cols: usize,
    spacing_mm: f64,
    dose: f64,
    seed: u64,
) -> Result<LdctResult, ErrorKind> {
    if rows == 0 || cols == 0 || hu.len() != rows * cols {
        return Err(ErrorKind::InvalidArgument(format!(
            "{rows}×{cols} image with {} values",
            hu.len()
        )));
    }
    if !(dose > 0.0 && dose <= 10.0) {
        return Err(ErrorKind::InvalidArgument(format!(
            "dose fraction {dose} (expected 0 < dose ≤ 10)"
        )));
    }
    if !(spacing_mm > 0.0 && spacing_mm.is_finite()) {
        return Err(ErrorKind::InvalidArgument(format!(
            "pixel spacing {spacing_mm} mm"
        )));
    }
    let geo = Geometry::new(rows, cols, spacing_mm, params);
    let mu: Vec<f32> = hu
        .iter()
        .map(|&h| (params.mu_water * (1.0 + f64::from(h) / 1000.0)).max(0.0) as f32)
        .collect();
    let sino = projector::forward(&mu, &geo);
    let noisy = noise::add_noise(&sino, geo.bins, params.i0 * dose, params.sigma_e, seed);
    let (clean_mu, low_mu) = fbp::reconstruct_pair(&sino, &noisy, &geo);
    let to_hu = |m: Vec<f32>| -> Vec<f32> {
        m.into_iter()
            .map(|v| (1000.0 * (f64::from(v) / params.mu_water - 1.0)) as f32)
            .collect()
    };
    Ok(LdctResult {
        low_dose: to_hu(low_mu),
        clean: to_hu(clean_mu),
    })
}
