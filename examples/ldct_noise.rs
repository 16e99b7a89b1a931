//! Calibration measurement of the low-dose simulation: σ (HU) of the simulated noise at the
//! centre of a uniform soft-tissue body (300 × 220 mm ellipse of 40 HU in air, 512 × 512 at
//! 0.7 mm) per dose and kernel. Real 3 mm B30f Mayo scans: σ ≈ 10–17 HU at full dose and
//! 20–35 HU at quarter dose. `cargo run --release --example ldct_noise [I0_PER_MM]`.

use privact::imaging::ldct::{LdctParams, ReconKernel, calibration_body, simulate_with};

fn main() {
    let (hu, n, d) = calibration_body();
    let mut params = LdctParams::default();
    if let Some(i0) = std::env::args().nth(1).and_then(|a| a.parse().ok()) {
        params.i0_per_mm = i0;
    }
    println!("I0 = {} photons per mm per view", params.i0_per_mm);
    for kernel in [ReconKernel::Soft, ReconKernel::Sharp] {
        for dose in [1.0, 0.5, 0.25, 0.1] {
            let p = LdctParams { kernel, ..params };
            let Ok(sim) = simulate_with(&p, &hu, n, n, d, dose, 21) else {
                eprintln!("simulation failed");
                return;
            };
            let (h, noise) = (30usize, sim.noise());
            let mut xs = Vec::new();
            for i in n / 2 - h..=n / 2 + h {
                for j in n / 2 - h..=n / 2 + h {
                    xs.push(f64::from(noise[i * n + j]));
                }
            }
            let m = xs.iter().sum::<f64>() / xs.len() as f64;
            let sd =
                (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64).sqrt();
            println!("{:<5} dose {dose:<4}: σ = {sd:.1} HU", kernel.name());
        }
    }
}
