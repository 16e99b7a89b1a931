//! Metrics against hand-computed values and an independent brute-force SSIM.
#![allow(clippy::needless_range_loop)] // the reference SSIM mirrors the paper's index notation

use privact::imaging::metrics::{MetricError, psnr, rmse, ssim};

#[test]
fn rmse_and_psnr_hand_values() {
    let a = [0.0f32, 0.0, 0.0, 0.0];
    let b = [1.0f32, -1.0, 1.0, -1.0];
    assert_eq!(rmse(&a, &b).unwrap(), 1.0);
    // MSE 1, range 255 → 20·log10(255) = 48.1308…
    assert!((psnr(&a, &b, 255.0).unwrap() - 48.130_803_608_679_1).abs() < 1e-9);
    let c = [3.0f32, 4.0];
    let d = [0.0f32, 0.0];
    // MSE (9+16)/2 = 12.5.
    assert!((rmse(&c, &d).unwrap() - 12.5f64.sqrt()).abs() < 1e-12);
    assert!((psnr(&d, &c, 1.0).unwrap() - 10.0 * (1.0 / 12.5f64).log10()).abs() < 1e-12);
    assert_eq!(psnr(&a, &a, 1.0).unwrap(), f64::INFINITY);
    assert_eq!(rmse(&a, &c), Err(MetricError::SizeMismatch(4, 2)));
}

/// Straight from Wang et al. 2004, written differently from the library: each
/// 11×11 window explicitly, with 2-D Gaussian weights built from exp() directly.
fn ssim_reference(x: &[f64], y: &[f64], rows: usize, cols: usize, l: f64) -> f64 {
    let mut w = [[0.0f64; 11]; 11];
    let mut sum = 0.0;
    for (i, row) in w.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            let (di, dj) = (i as f64 - 5.0, j as f64 - 5.0);
            *v = (-(di * di + dj * dj) / (2.0 * 1.5 * 1.5)).exp();
            sum += *v;
        }
    }
    let (c1, c2) = ((0.01 * l) * (0.01 * l), (0.03 * l) * (0.03 * l));
    let mut total = 0.0;
    let mut n = 0;
    for r in 0..=rows - 11 {
        for c in 0..=cols - 11 {
            let (mut mx, mut my) = (0.0, 0.0);
            for i in 0..11 {
                for j in 0..11 {
                    let k = (r + i) * cols + c + j;
                    mx += w[i][j] / sum * x[k];
                    my += w[i][j] / sum * y[k];
                }
            }
            let (mut vx, mut vy, mut cxy) = (0.0, 0.0, 0.0);
            for i in 0..11 {
                for j in 0..11 {
                    let k = (r + i) * cols + c + j;
                    let g = w[i][j] / sum;
                    vx += g * (x[k] - mx) * (x[k] - mx);
                    vy += g * (y[k] - my) * (y[k] - my);
                    cxy += g * (x[k] - mx) * (y[k] - my);
                }
            }
            total += (2.0 * mx * my + c1) * (2.0 * cxy + c2)
                / ((mx * mx + my * my + c1) * (vx + vy + c2));
            n += 1;
        }
    }
    total / n as f64
}

#[test]
fn ssim_matches_reference_implementation() {
    let (rows, cols) = (24, 29);
    // Deterministic pseudo-random images with structure.
    let mut state = 12345u64;
    let mut rnd = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f64) / (1u64 << 31) as f64
    };
    let x: Vec<f64> = (0..rows * cols)
        .map(|k| ((k % cols) as f64 / cols as f64) * 0.7 + 0.3 * rnd())
        .collect();
    let y: Vec<f64> = x.iter().map(|v| (v * 0.9 + 0.1 * rnd()).min(1.0)).collect();
    let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let yf: Vec<f32> = y.iter().map(|&v| v as f32).collect();
    // Reference on the same f32-rounded values.
    let xr: Vec<f64> = xf.iter().map(|&v| f64::from(v)).collect();
    let yr: Vec<f64> = yf.iter().map(|&v| f64::from(v)).collect();
    let expected = ssim_reference(&xr, &yr, rows, cols, 1.0);
    let got = ssim(&xf, &yf, rows, cols, 1.0).unwrap();
    assert!(
        (got - expected).abs() < 1e-9,
        "got {got}, expected {expected}"
    );
    assert!(got < 0.99 && got > 0.1);
    assert!((ssim(&xf, &xf, rows, cols, 1.0).unwrap() - 1.0).abs() < 1e-12);
}

#[test]
fn ssim_constant_images_hand_value() {
    // Constant images a and b: σ = 0, so SSIM = (2ab + C1)/(a² + b² + C1).
    let (a, b) = (0.2f32, 0.6f32);
    let x = vec![a; 15 * 15];
    let y = vec![b; 15 * 15];
    let c1 = 0.0001f64;
    let (a, b) = (f64::from(a), f64::from(b));
    let expected = (2.0 * a * b + c1) / (a * a + b * b + c1);
    assert!((ssim(&x, &y, 15, 15, 1.0).unwrap() - expected).abs() < 1e-6);
    assert_eq!(
        ssim(&x, &y, 10, 10, 1.0).unwrap_err(),
        MetricError::SizeMismatch(225, 100)
    );
}
