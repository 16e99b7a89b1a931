//! Low-dose simulation on the phantom: the noiseless path reproduces the
//! phantom within FBP error, and noise grows as dose falls.

use privact::imaging::ldct::{LdctParams, calibration_body, simulate, simulate_with};
use privact::imaging::phantom::{LIVER_POINT, Lesion, Phantom, hu};

/// Standard deviation of `v` in a square ROI of half-side `h` around (r, c).
fn roi_stats(v: &[f32], n: usize, r: usize, c: usize, h: usize) -> (f64, f64) {
    let mut xs = Vec::new();
    for i in r - h..=r + h {
        for j in c - h..=c + h {
            xs.push(f64::from(v[i * n + j]));
        }
    }
    let m = xs.iter().sum::<f64>() / xs.len() as f64;
    let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
    (m, var.sqrt())
}

#[test]
fn clean_path_reproduces_phantom_and_noise_grows_as_dose_falls() {
    // A smaller phantom keeps the test quick; geometry scales with it.
    let p = Phantom {
        lesion: Lesion::None,
        size: 256,
        fov_mm: 360.0,
    };
    let s = p.hu();
    let n = s.rows;
    let d = p.spacing_mm();
    let (r, c) = p.pixel_of_mm(LIVER_POINT.0, LIVER_POINT.1);

    let full = simulate(&s.values, n, n, d, 1.0, 7).unwrap();
    let (m_clean, sd_clean) = roi_stats(&full.clean, n, r, c, 6);
    assert!(
        (m_clean - f64::from(hu::LIVER)).abs() < 5.0,
        "liver mean {m_clean}"
    );
    assert!(sd_clean < 5.0, "noiseless ROI sd {sd_clean}");
    // Inside the body, away from edges, FBP error stays small on average.
    let inner: Vec<usize> = (0..n * n)
        .filter(|&k| {
            let (x, y) = p.pixel_mm(k / n, k % n);
            (x / 120.0).powi(2) + (y / 80.0).powi(2) < 1.0
        })
        .collect();
    let mae: f64 = inner
        .iter()
        .map(|&k| f64::from((full.clean[k] - s.values[k]).abs()))
        .sum::<f64>()
        / inner.len() as f64;
    assert!(mae < 25.0, "mean absolute FBP error {mae} HU");

    let mut sds = Vec::new();
    for dose in [1.0, 0.25, 0.1] {
        let sim = simulate(&s.values, n, n, d, dose, 7).unwrap();
        let diff = sim.noise();
        let (m, sd) = roi_stats(&diff, n, r, c, 15);
        assert!(m.abs() < sd, "noise should be unbiased: mean {m} sd {sd}");
        sds.push(sd);
    }
    assert!(
        sds[0] < sds[1] && sds[1] < sds[2],
        "noise sd by dose 1/0.25/0.1: {sds:?}"
    );
    // Electronic noise matters more as counts fall, so the ratio exceeds 2.
    assert!(sds[1] / sds[0] > 1.8, "{sds:?}");
    // Without electronic noise, quantum noise sd scales as 1/√dose:
    // quarter dose ≈ 2× full dose.
    let quantum = LdctParams {
        sigma_e: 0.0,
        ..LdctParams::default()
    };
    let sd_at = |dose: f64| {
        let sim = simulate_with(&quantum, &s.values, n, n, d, dose, 11).unwrap();
        let diff = sim.noise();
        roi_stats(&diff, n, r, c, 15).1
    };
    let ratio = sd_at(0.25) / sd_at(1.0);
    assert!((1.7..2.35).contains(&ratio), "quantum-only ratio {ratio}");
}

#[test]
fn simulation_is_deterministic_and_validates_input() {
    let p = Phantom {
        lesion: Lesion::Cyst,
        size: 64,
        fov_mm: 360.0,
    };
    let s = p.hu();
    let params = LdctParams {
        views: 90,
        ..LdctParams::default()
    };
    let a = simulate_with(&params, &s.values, 64, 64, p.spacing_mm(), 0.5, 3).unwrap();
    let b = simulate_with(&params, &s.values, 64, 64, p.spacing_mm(), 0.5, 3).unwrap();
    let c = simulate_with(&params, &s.values, 64, 64, p.spacing_mm(), 0.5, 4).unwrap();
    assert_eq!(a.low_dose, b.low_dose);
    assert_eq!(a.clean, c.clean, "clean does not depend on the seed");
    assert_ne!(a.low_dose, c.low_dose);
    assert!(simulate(&s.values, 64, 63, 1.0, 0.5, 1).is_err());
    assert!(simulate(&s.values, 64, 64, 1.0, 0.0, 1).is_err());
    assert!(simulate(&s.values, 64, 64, -1.0, 0.5, 1).is_err());
}

/// σ (HU) of the simulated noise in a 61 × 61 ROI at the centre of the body.
fn body_noise(params: &LdctParams, dose: f64) -> f64 {
    let (hu, n, d) = calibration_body();
    let sim = simulate_with(params, &hu, n, n, d, dose, 21).unwrap();
    let diff = sim.noise();
    roi_stats(&diff, n, n / 2, n / 2, 30).1
}

/// The calibration: real 3 mm B30f Mayo scans show σ ≈ 10–17 HU at full dose and 20–35 HU at
/// quarter dose in soft tissue (`ldct-mayo/README.md`); the sharp kernel is noisier.
#[test]
fn calibrated_noise_matches_real_band() {
    let soft = LdctParams::default();
    let (full, quarter) = (body_noise(&soft, 1.0), body_noise(&soft, 0.25));
    let sharp = LdctParams::with_kernel(privact::imaging::ldct::ReconKernel::Sharp);
    let sharp_quarter = body_noise(&sharp, 0.25);
    eprintln!(
        "soft kernel: σ = {full:.1} HU at full dose, {quarter:.1} HU at quarter dose; sharp kernel: {sharp_quarter:.1} HU at quarter dose"
    );
    assert!((10.0..=17.0).contains(&full), "full dose σ {full} HU");
    assert!(
        (20.0..=35.0).contains(&quarter),
        "quarter dose σ {quarter} HU"
    );
    assert!(
        sharp_quarter > 1.5 * quarter,
        "sharp {sharp_quarter} vs soft {quarter}"
    );
}
