//! Low-dose CT simulation in the projection domain (Zeng et al., IEEE TNS 2015).
//!
//! HU → μ, parallel-beam forward projection, Poisson transmission noise at
//! I0 × dose plus Gaussian electronic noise, log, FBP (ramp × Hann for the soft
//! kernel, plain ramp for the sharp one), μ → HU. I0 is calibrated on the
//! reconstructed noise against real Mayo scans ([`CALIBRATED_I0_PER_MM`]).
//! The same pipeline without noise gives the matching clean reference, so a
//! denoiser is judged against what a perfect full-dose scan of this geometry
//! would show (FBP blur included) rather than against the input.

pub mod fbp;
pub mod noise;
pub mod pairs;
pub mod projector;

use super::error::ErrorKind;

/// Reconstruction kernel of the FBP (the apodisation of the ramp filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReconKernel {
    /// Ramp × Hann: noise like a soft abdominal kernel (Siemens B30f).
    #[default]
    Soft,
    /// Band-limited ramp without apodisation: a sharper, noisier kernel (towards D45f).
    Sharp,
}

impl ReconKernel {
    pub fn name(self) -> &'static str {
        match self {
            ReconKernel::Soft => "soft",
            ReconKernel::Sharp => "sharp",
        }
    }
}

/// Incident photons per mm of detector width per view at full dose, calibrated so that a
/// uniform soft-tissue body (300 × 220 mm ellipse, 40 HU) reconstructed at 0.7 mm with the soft
/// kernel shows σ ≈ 13 HU at full dose and ≈ 26 HU at quarter dose, the middle of the real
/// 3 mm B30f Mayo band (σ ≈ 10–17 HU full, 20–35 HU quarter; `ldct-mayo/README.md`). Measured
/// by the test `calibrated_noise_matches_real_band` (tests/imaging_ldct.rs).
pub const CALIBRATED_I0_PER_MM: f64 = CALIBRATION_I0;

const CALIBRATION_I0: f64 = 9.0e5;

/// Physical and geometric parameters of the simulation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LdctParams {
    /// Incident photons per mm of detector width per view at full dose (a bin of the pixel
    /// size `d` receives `i0_per_mm · d`), so the noise in HU does not depend on how finely an
    /// image happens to be sampled beyond the physics of larger pixels averaging more photons.
    pub i0_per_mm: f64,
    /// Electronic noise standard deviation (photon-count units, per bin).
    pub sigma_e: f64,
    /// Views over 180°.
    pub views: usize,
    /// Linear attenuation of water (mm⁻¹) near 60–70 keV.
    pub mu_water: f64,
    /// Detector bins as a multiple of the image side.
    pub bins_factor: f64,
    /// FBP kernel.
    pub kernel: ReconKernel,
}

impl Default for LdctParams {
    fn default() -> Self {
        LdctParams {
            i0_per_mm: CALIBRATED_I0_PER_MM,
            sigma_e: 10.0,
            views: 720,
            mu_water: 0.02,
            bins_factor: 1.5,
            kernel: ReconKernel::Soft,
        }
    }
}

impl LdctParams {
    /// The default (calibrated) parameters with reconstruction kernel `kernel`.
    pub fn with_kernel(kernel: ReconKernel) -> Self {
        LdctParams {
            kernel,
            ..LdctParams::default()
        }
    }
}

/// Output of [`simulate`]: both images in HU, row-major like the input.
#[derive(Debug, Clone)]
pub struct LdctResult {
    pub low_dose: Vec<f32>,
    pub clean: Vec<f32>,
}

impl LdctResult {
    /// The simulated noise alone: low dose − clean reconstruction (HU, per pixel).
    pub fn noise(&self) -> Vec<f32> {
        self.low_dose
            .iter()
            .zip(&self.clean)
            .map(|(a, b)| a - b)
            .collect()
    }
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

/// The body the photon count was calibrated on (README, "Calibrated low-dose simulation"): a
/// 300 × 220 mm ellipse of 40 HU in air (−1000 HU), 512 × 512 at 0.7 mm, the size and sampling
/// of the Mayo 3 mm abdomen slices. Returns (HU row-major, side, pixel spacing in mm).
pub fn calibration_body() -> (Vec<f32>, usize, f64) {
    let (n, d) = (512usize, 0.7f64);
    let c = (n as f64 - 1.0) / 2.0;
    let hu = (0..n * n)
        .map(|k| {
            let (y, x) = (((k / n) as f64 - c) * d, ((k % n) as f64 - c) * d);
            if (x / 150.0).powi(2) + (y / 110.0).powi(2) < 1.0 {
                40.0
            } else {
                -1000.0
            }
        })
        .collect();
    (hu, n, d)
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
    let i0_bin = params.i0_per_mm * spacing_mm;
    let noisy = noise::add_noise(&sino, geo.bins, i0_bin * dose, params.sigma_e, seed);
    let (clean_mu, low_mu) = fbp::reconstruct_pair(&sino, &noisy, &geo, params.kernel);
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
