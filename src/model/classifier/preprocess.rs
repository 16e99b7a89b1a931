//! Client-side input transform (plaintext): 8-bit windowed slice → [0, 1] → per-image
//! standardisation. The kidney JPEGs are already abdomen-windowed 8-bit images.

use std::path::Path;

use super::{INPUT_LEN, INPUT_SIZE};

/// Added to the standard deviation so a constant image does not divide by zero.
pub const STD_EPS: f64 = 1e-6;

/// Text of the input transform, as recorded in the model description.
pub const TRANSFORM: &str = "8-bit abdomen-windowed grayscale slice, resized to 256x256 by area averaging if needed; x = v/255; then per-image standardisation x = (x - mean(x)) / (std(x) + 1e-6) (population std)";

/// Errors from reading an image file for the classifier.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    /// The file could not be read or decoded.
    #[error("cannot read image {path}: {source}")]
    Image {
        /// The file.
        path: String,
        /// Decoder error.
        source: image::ImageError,
    },
    /// The image has a zero dimension.
    #[error("image {0} is empty")]
    Empty(String),
}

/// Per-image standardisation of a [0, 1] image: `(x − mean)/(std + 1e-6)`.
///
/// Works on any length (the forward passes check for 65,536 values).
pub fn preprocess(pixels01: &[f32]) -> Vec<f32> {
    if pixels01.is_empty() {
        return Vec::new();
    }
    let n = pixels01.len() as f64;
    let mean = pixels01.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = pixels01
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    let scale = 1.0 / (var.sqrt() + STD_EPS);
    pixels01
        .iter()
        .map(|&v| ((f64::from(v) - mean) * scale) as f32)
        .collect()
}

/// 8-bit gray values → [0, 1].
pub fn gray8_to_unit(values: &[u8]) -> Vec<f32> {
    values.iter().map(|&v| f32::from(v) / 255.0).collect()
}

/// Resizes a `w×h` gray image to `out_w×out_h` by area averaging (each output pixel is the
/// coverage-weighted mean of the input pixels under it). Exact copy when sizes match.
pub fn resize_area(src: &[f32], w: usize, h: usize, out_w: usize, out_h: usize) -> Vec<f32> {
    if w == out_w && h == out_h {
        return src.to_vec();
    }
    // Separable: first along x, then along y.
    let weights = |n_in: usize, n_out: usize| -> Vec<Vec<(usize, f64)>> {
        let scale = n_in as f64 / n_out as f64;
        (0..n_out)
            .map(|o| {
                let (a, b) = (o as f64 * scale, (o + 1) as f64 * scale);
                let mut taps = Vec::new();
                let mut i = a.floor() as usize;
                while (i as f64) < b && i < n_in {
                    let cover = (b.min((i + 1) as f64) - a.max(i as f64)).max(0.0);
                    if cover > 0.0 {
                        taps.push((i, cover / scale));
                    }
                    i += 1;
                }
                taps
            })
            .collect()
    };
    let wx = weights(w, out_w);
    let wy = weights(h, out_h);
    let mut tmp = vec![0.0f64; out_w * h];
    for y in 0..h {
        for (ox, taps) in wx.iter().enumerate() {
            tmp[y * out_w + ox] = taps
                .iter()
                .map(|&(i, t)| f64::from(src[y * w + i]) * t)
                .sum();
        }
    }
    let mut out = vec![0.0f32; out_w * out_h];
    for (oy, taps) in wy.iter().enumerate() {
        for ox in 0..out_w {
            out[oy * out_w + ox] = taps
                .iter()
                .map(|&(i, t)| tmp[i * out_w + ox] * t)
                .sum::<f64>() as f32;
        }
    }
    out
}

/// Decodes an image file (PNG/JPEG/TIFF) to 256×256 gray values in [0, 1] (not standardised).
pub fn load_image_file(path: &Path) -> Result<Vec<f32>, PreprocessError> {
    let img = image::open(path).map_err(|source| PreprocessError::Image {
        path: path.display().to_string(),
        source,
    })?;
    let gray = img.to_luma8();
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    if w == 0 || h == 0 {
        return Err(PreprocessError::Empty(path.display().to_string()));
    }
    let unit = gray8_to_unit(gray.as_raw());
    let out = resize_area(&unit, w, h, INPUT_SIZE, INPUT_SIZE);
    debug_assert_eq!(out.len(), INPUT_LEN);
    Ok(out)
}

/// [`load_image_file`] followed by [`preprocess`]: the model input for an image file.
pub fn load_model_input(path: &Path) -> Result<Vec<f32>, PreprocessError> {
    Ok(preprocess(&load_image_file(path)?))
}
