//! The model-input transform: abdomen window to [0, 1] and area averaging.

use privact::imaging::model_input::{MODEL_SIDE, resample_area, to_model_input};
use privact::imaging::{Slice, Units};

#[test]
fn area_average_of_2x2_blocks() {
    // 4×4 → 2×2: each output is the mean of one 2×2 block.
    let src: Vec<f32> = (0..16).map(|v| v as f32).collect();
    let out = resample_area(&src, 4, 4, 2, 2);
    assert_eq!(out, vec![2.5, 4.5, 10.5, 12.5]);
    // 3 → 2 in one dimension: [a, b, c] → [(a + b/2)/1.5, (b/2 + c)/1.5].
    let out = resample_area(&[3.0, 6.0, 9.0], 1, 3, 1, 2);
    assert!(
        (out[0] - 4.0).abs() < 1e-6 && (out[1] - 8.0).abs() < 1e-6,
        "{out:?}"
    );
}

#[test]
fn hu_slice_becomes_windowed_256_tensor() {
    // Left half −1000 HU (air → 0), right half 240 HU (above the window → 1).
    let n = 512;
    let values: Vec<f32> = (0..n * n)
        .map(|k| if k % n < n / 2 { -1000.0 } else { 240.0 })
        .collect();
    let t = to_model_input(&Slice::from_values(n, n, values, Units::Hu));
    assert_eq!(t.len(), MODEL_SIDE * MODEL_SIDE);
    assert_eq!(t[0], 0.0);
    assert_eq!(t[MODEL_SIDE - 1], 1.0);
    assert_eq!(t[MODEL_SIDE / 2 - 1], 0.0);
    assert_eq!(t[MODEL_SIDE / 2], 1.0);
    // 40 HU is the window centre: ((40 − 39.5)/399 + 0.5) ≈ 0.50125.
    let mid = to_model_input(&Slice::from_values(4, 4, vec![40.0; 16], Units::Hu));
    assert!(mid.iter().all(|&v| (v - 0.501_253).abs() < 1e-5));
}

#[test]
fn eight_bit_slice_is_scaled_by_255() {
    let t = to_model_input(&Slice::from_values(
        256,
        256,
        vec![51.0; 256 * 256],
        Units::Windowed8Bit,
    ));
    assert!(t.iter().all(|&v| (v - 0.2).abs() < 1e-6));
}
