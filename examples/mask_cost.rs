//! What per-ciphertext masks cost the interactive denoiser: one 256×256 slice through the
//! shipped nonlinear model with the shipped masking (fresh masks per tile, channel and slot,
//! applied on their own levels: unmask, convolve, mask) and without masks (the convolution
//! alone). Same process, same machine load, alternating runs.
//!
//! `cargo run --release --example mask_cost [-- RUNS]`

use privact::model::denoiser::ModelKind;
use privact::model::denoiser::he::MaskPolicy;
use privact::model::denoiser::weights::builtin;
use privact::protocol::denoise::local::DenoiseSession;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let side = 256;
    let image: Vec<f32> = (0..side * side)
        .map(|i| (((i / side) as f32 * 0.05).sin() * 0.2 + 0.5).clamp(0.0, 1.0))
        .collect();
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..runs {
        for (k, policy) in [MaskPolicy::DEFAULT, MaskPolicy::NONE]
            .into_iter()
            .enumerate()
        {
            let mut s = DenoiseSession::start(
                ModelKind::Nonlinear,
                builtin(ModelKind::Linear)?,
                builtin(ModelKind::Nonlinear)?,
                policy,
            )?;
            let t = Instant::now();
            s.denoise(&image, side, side)?;
            times[k].push(t.elapsed().as_secs_f64());
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (masked, unmasked) = (median(&mut times[0]), median(&mut times[1]));
    println!(
        "256×256 nonlinear: masked {masked:.2} s, unmasked {unmasked:.2} s, ratio {:.2} (median of {runs})",
        masked / unmasked
    );
    Ok(())
}
