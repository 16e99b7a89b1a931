//! Transmission noise: I = Poisson(I0·e^(−p)) + N(0, σe²), clipped to ≥ 1,
//! then p = −ln(I / I0). Each view has its own seeded stream so the result
//! does not depend on the thread count.

use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;
use rand_distr::{Distribution, Normal, Poisson};
use rayon::prelude::*;

/// Noisy copy of the sinogram `p` (views × bins) at `i0` incident photons.
pub fn add_noise(p: &[f32], bins: usize, i0: f64, sigma_e: f64, seed: u64) -> Vec<f32> {
    let normal = Normal::new(0.0, sigma_e.max(0.0)).ok();
    let mut out = vec![0.0f32; p.len()];
    out.par_chunks_mut(bins.max(1))
        .zip(p.par_chunks(bins.max(1)))
        .enumerate()
        .for_each(|(view, (o, src))| {
            let mut rng = ChaCha12Rng::seed_from_u64(
                seed ^ (view as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            for (dst, &pv) in o.iter_mut().zip(src) {
                let mean = i0 * (-f64::from(pv)).exp();
                let counts = match Poisson::new(mean) {
                    Ok(d) => d.sample(&mut rng),
                    // mean underflowed to 0 (an opaque ray): no photons.
                    Err(_) => 0.0,
                };
                let e = normal.map_or(0.0, |n| n.sample(&mut rng));
                let i = (counts + e).max(1.0);
                *dst = (-(i / i0).ln()) as f32;
            }
        });
    out
}
