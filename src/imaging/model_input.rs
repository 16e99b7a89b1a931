//! The one transform from a loaded slice to the models' input tensor.
//!
//! The kidney CT training images are 256×256 8-bit JPEGs windowed for the
//! abdomen. To look like them, an image is:
//! 1. mapped to [0, 1]: HU through the Abdomen window (W400/L40, DICOM VOI
//!    LINEAR); 8-bit images by v/255; other units through the Auto window;
//! 2. resampled to 256×256 by area averaging (each output pixel is the mean of
//!    the source area it covers; non-square images are stretched).

use super::slice::{Slice, Units};
use super::window::Window;

/// Side of the square model input.
pub const MODEL_SIDE: usize = 256;

/// Normalised 256×256 row-major tensor in [0, 1].
pub fn to_model_input(slice: &Slice) -> Vec<f32> {
    let unit: Vec<f32> = match slice.units {
        Units::Hu => slice
            .values
            .iter()
            .map(|&v| Window::ABDOMEN.apply_unit(f64::from(v)))
            .collect(),
        Units::Windowed8Bit => slice
            .values
            .iter()
            .map(|&v| (v / 255.0).clamp(0.0, 1.0))
            .collect(),
        Units::Raw => {
            let w = Window::auto(&slice.values, 0.01, 0.99).unwrap_or(Window::ABDOMEN);
            slice
                .values
                .iter()
                .map(|&v| w.apply_unit(f64::from(v)))
                .collect()
        }
    };
    resample_area(&unit, slice.rows, slice.cols, MODEL_SIDE, MODEL_SIDE)
}

/// For each output index, the (source index, weight) pairs of the source
/// interval it covers; weights sum to 1.
fn area_weights(src: usize, dst: usize) -> Vec<Vec<(usize, f32)>> {
    let scale = src as f64 / dst as f64;
    (0..dst)
        .map(|o| {
            let (a, b) = (o as f64 * scale, (o + 1) as f64 * scale);
            let first = a.floor() as usize;
            let last = (b.ceil() as usize).min(src).max(first + 1);
            (first..last)
                .filter_map(|s| {
                    let overlap = (b.min((s + 1) as f64) - a.max(s as f64)).max(0.0);
                    (overlap > 0.0).then_some((s, (overlap / scale) as f32))
                })
                .collect()
        })
        .collect()
}

/// Area-averaging resample of a row-major image (separable box integration).
pub fn resample_area(
    src: &[f32],
    rows: usize,
    cols: usize,
    out_rows: usize,
    out_cols: usize,
) -> Vec<f32> {
    if rows == 0 || cols == 0 || src.len() != rows * cols {
        return vec![0.0; out_rows * out_cols];
    }
    let wc = area_weights(cols, out_cols);
    let wr = area_weights(rows, out_rows);
    // Columns first: rows × out_cols.
    let mut tmp = vec![0.0f32; rows * out_cols];
    for r in 0..rows {
        let line = &src[r * cols..(r + 1) * cols];
        for (o, ws) in wc.iter().enumerate() {
            tmp[r * out_cols + o] = ws
                .iter()
                .map(|&(s, w)| line.get(s).copied().unwrap_or(0.0) * w)
                .sum();
        }
    }
    let mut out = vec![0.0f32; out_rows * out_cols];
    for (o, ws) in wr.iter().enumerate() {
        for c in 0..out_cols {
            out[o * out_cols + c] = ws
                .iter()
                .map(|&(s, w)| tmp.get(s * out_cols + c).copied().unwrap_or(0.0) * w)
                .sum();
        }
    }
    out
}
