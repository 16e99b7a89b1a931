//! Releasing decrypted values (files, reports): noise flooding, then rounding to the output's
//! grid.
//!
//! Why: CKKS decryption returns the message *plus* the ciphertext's error, and Li & Micciancio
//! (Eurocrypt 2021) showed that anyone holding a ciphertext and its exact decryption can
//! recover the secret key. PrivaCT never sends decrypted values to the server, but exported
//! files may travel further. Before a decrypted value leaves the client we add fresh Gaussian
//! noise far larger than the CKKS error (flooding it statistically) and round to the grid the
//! format stores (e.g. 1/255 for an 8-bit PNG, 1 HU for DICOM), so what is written no longer
//! carries the low-order bits in which the error lives.

use crate::model::denoiser::data::OutputFormat;
use rand::Rng;
use rand_distr::{Distribution, Normal};

/// Upper bound we assume for CKKS decryption error on exported values ([0, 1] image scale).
/// Measured errors are ~1e-5 (README: max |enc − plain| ≤ 3.6e-5 for interactive denoising).
pub const DECRYPTION_ERROR_BOUND: f64 = 1e-4;

/// Flooding noise is this many times the error bound (2^4 = 16): a ±1e-4 change of the
/// error moves the flooded distribution by at most 1/16 of its σ, while σ = 1.6e-3 stays
/// below one stored step (1 HU = 1/399 on the abdomen-window scale, 1/255 in an 8-bit PNG).
pub const FLOODING_FACTOR: f64 = 16.0;

/// Why a release was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReleaseError {
    #[error("the output grid step must be positive and finite (got {0})")]
    BadGrid(f64),
    #[error(
        "the output grid step {grid} is finer than the flooding noise σ {sigma}: the format would keep the noise's low bits, pick a coarser grid"
    )]
    GridTooFine { grid: f64, sigma: f64 },
}

/// How decrypted values are released: flooding σ and output grid, both in the values' units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReleasePolicy {
    sigma: f64,
    grid: f64,
}

impl ReleasePolicy {
    /// Flooding σ = FLOODING_FACTOR × `error_bound`, rounding to `grid`. The grid must be at
    /// least σ: otherwise the written values would keep bits finer than the flooding.
    pub fn new(error_bound: f64, grid: f64) -> Result<Self, ReleaseError> {
        if !(grid.is_finite() && grid > 0.0) {
            return Err(ReleaseError::BadGrid(grid));
        }
        let sigma = FLOODING_FACTOR * error_bound;
        if grid < sigma {
            return Err(ReleaseError::GridTooFine { grid, sigma });
        }
        Ok(Self { sigma, grid })
    }

    /// For images on the [0, 1] scale that will be stored with `levels` grey levels.
    pub fn for_unit_image(levels: u32) -> Result<Self, ReleaseError> {
        Self::new(
            DECRYPTION_ERROR_BOUND,
            1.0 / f64::from(levels.max(1) - 1).max(1.0),
        )
    }

    /// Standard deviation of the flooding noise.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// Spacing of the values written.
    pub fn grid(&self) -> f64 {
        self.grid
    }

    /// Adds fresh N(0, σ²) noise to every value and rounds it to the grid, in place.
    /// Non-finite values become 0 (they cannot come from a valid decryption).
    pub fn apply(&self, values: &mut [f64], rng: &mut impl Rng) {
        // σ is checked positive and finite by `new` (fields are private), so this is `Some`.
        let noise = Normal::new(0.0, self.sigma).ok();
        for v in values {
            *v = if v.is_finite() {
                let e = noise.map_or(0.0, |n| n.sample(rng));
                ((*v + e) / self.grid).round() * self.grid
            } else {
                0.0
            };
        }
    }
}

/// The per-process release key (OS-seeded, never stored): with it the flooding noise of a
/// result is a deterministic function of that result, so exporting the same decryption
/// twice writes the same values, and averaging many exports cannot strip the noise.
fn session_release_key() -> &'static [u8; 32] {
    static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        use rand::{RngCore, SeedableRng};
        let mut k = [0u8; 32];
        rand_chacha::ChaCha20Rng::from_os_rng().fill_bytes(&mut k);
        k
    })
}

/// The flooding seed for `values` under `key`: SHA-256 over a domain label, the key, the
/// policy and every value's bits.
fn flooding_seed(key: &[u8; 32], policy: &ReleasePolicy, values: &[f64]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"privact/release/v1");
    h.update(key);
    h.update(policy.sigma.to_le_bytes());
    h.update(policy.grid.to_le_bytes());
    h.update((values.len() as u64).to_le_bytes());
    for v in values {
        h.update(v.to_bits().to_le_bytes());
    }
    h.finalize().into()
}

/// Floods and rounds decrypted values (the usual entry point). The noise is drawn from
/// ChaCha20 seeded by a hash of the values and the per-process release key: the same result
/// released twice gives identical output, different results get independent noise.
pub fn release(values: &mut [f64], policy: &ReleasePolicy) {
    release_with_key(values, policy, session_release_key());
}

/// `release` under an explicit key (tests).
pub fn release_with_key(values: &mut [f64], policy: &ReleasePolicy, key: &[u8; 32]) {
    use rand::SeedableRng;
    let seed = flooding_seed(key, policy, values);
    policy.apply(values, &mut rand_chacha::ChaCha20Rng::from_seed(seed));
}

/// A decrypted [0, 1] image (abdomen-window scale) ready to be written as `format`: flooded
/// and rounded to 8-bit grey levels (PNG) or to 1 HU (DICOM).
pub fn release_image(values: &[f64], format: OutputFormat) -> Result<Vec<f64>, ReleaseError> {
    let levels = match format {
        OutputFormat::Png => 256,
        // One level per HU across the abdomen window's width.
        OutputFormat::Dicom => crate::imaging::window::Window::ABDOMEN.width as u32,
    };
    let mut out = values.to_vec();
    release(&mut out, &ReleasePolicy::for_unit_image(levels)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn released_values_are_on_the_grid_and_close() {
        let p = ReleasePolicy::for_unit_image(256).unwrap();
        let mut v: Vec<f64> = (0..10_000).map(|i| (i as f64 * 0.618_034) % 1.0).collect();
        let orig = v.clone();
        p.apply(&mut v, &mut ChaCha20Rng::seed_from_u64(1));
        for (a, b) in v.iter().zip(&orig) {
            let k = a / p.grid();
            assert!((k - k.round()).abs() < 1e-9, "{a} is on the 1/255 grid");
            assert!((a - b).abs() <= p.grid() / 2.0 + 6.0 * p.sigma());
        }
    }

    #[test]
    fn flooding_is_applied_not_just_rounding() {
        // Values just below a grid midpoint: plain rounding always goes down; with flooding
        // (σ = 1.6e-3 > distance 1e-4) a good share goes up.
        let p = ReleasePolicy::for_unit_image(256).unwrap();
        let x = 100.5 / 255.0 - 1e-4;
        let mut v = vec![x; 4000];
        p.apply(&mut v, &mut ChaCha20Rng::seed_from_u64(2));
        let up = v.iter().filter(|&&a| a > x).count();
        assert!(up > 1000 && up < 3000, "{up} of 4000 rounded up");
    }

    #[test]
    fn the_decryption_error_is_hidden() {
        // Two decryptions of the same message differing by the error bound release
        // statistically close distributions: compare the fraction rounded up.
        let p = ReleasePolicy::for_unit_image(256).unwrap();
        let base = 100.5 / 255.0;
        let frac_up = |x: f64, seed: u64| {
            let mut v = vec![x; 20_000];
            p.apply(&mut v, &mut ChaCha20Rng::seed_from_u64(seed));
            v.iter().filter(|&&a| a > base).count() as f64 / 20_000.0
        };
        let d = (frac_up(base - DECRYPTION_ERROR_BOUND, 3)
            - frac_up(base + DECRYPTION_ERROR_BOUND, 4))
        .abs();
        // Without flooding the two would round to different grid points every time (d = 1).
        assert!(d < 0.1, "distributions differ by {d}");
    }

    #[test]
    fn releasing_the_same_result_twice_gives_the_same_values() {
        // Fresh noise per export would let a recipient average exports and remove it.
        let p = ReleasePolicy::for_unit_image(256).unwrap();
        let x: Vec<f64> = (0..5000).map(|i| (i as f64 * 0.377) % 1.0).collect();
        let once = |key: &[u8; 32]| {
            let mut v = x.clone();
            release_with_key(&mut v, &p, key);
            v
        };
        assert_eq!(once(&[1; 32]), once(&[1; 32]));
        let (mut a, mut b) = (x.clone(), x.clone());
        release(&mut a, &p);
        release(&mut b, &p);
        assert_eq!(a, b, "the process key is stable");
        // Flooding is really applied (not plain rounding) and depends on the key.
        assert_ne!(once(&[1; 32]), once(&[2; 32]));
        let mut rounded = x.clone();
        rounded
            .iter_mut()
            .for_each(|v| *v = (*v / p.grid()).round() * p.grid());
        assert_ne!(once(&[1; 32]), rounded);
        // A different result (one value changed by the error bound) gets other noise.
        let mut y = x.clone();
        y[0] += DECRYPTION_ERROR_BOUND;
        let mut ry = y.clone();
        release_with_key(&mut ry, &p, &[1; 32]);
        assert_ne!(ry[1..], once(&[1; 32])[1..]);
    }

    #[test]
    fn bad_grids_are_refused() {
        assert_eq!(
            ReleasePolicy::new(1e-4, 0.0),
            Err(ReleaseError::BadGrid(0.0))
        );
        assert!(matches!(
            ReleasePolicy::new(1e-4, 1e-6),
            Err(ReleaseError::GridTooFine { .. })
        ));
    }
}
