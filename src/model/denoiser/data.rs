//! From a loaded slice to the denoisers' intensity scale and back, the quality metrics, and
//! the output files (shared by `privact denoise` and the desktop app).
//!
//! Models work on [0, 1] over the abdomen window (W400/L40). Slices reach HU through the one
//! conversion of [`crate::imaging::hu`] (8-bit images through the inverse window, black = air,
//! 360 mm field of view assumed), which every path uses.

use super::{DenoiserError, ModelKind};
use crate::imaging::dicom::write::{CtDescription, ct_bytes, derived_bytes, random_uid};
use crate::imaging::hu::metric_unit;
use crate::imaging::metrics::{self, MetricError};
use crate::imaging::raster::png_bytes;
use crate::imaging::window::Window;
use crate::imaging::{ErrorKind, ImagingError, Slice};
use std::path::Path;

pub use crate::imaging::hu::{ASSUMED_FOV_MM, CLIPPED_LOW_HU, HuSlice, spacing_mm};

/// 8-bit value → approximate HU (the one conversion, [`crate::imaging::hu::windowed8_to_hu`]).
pub fn unit8_to_hu(v: f32) -> f32 {
    crate::imaging::hu::windowed8_to_hu(v)
}

/// The slice in HU through [`crate::imaging::hu::slice_to_hu`].
pub fn to_hu(slice: &Slice) -> Result<HuSlice, DenoiserError> {
    crate::imaging::hu::slice_to_hu(slice).map_err(|e| DenoiserError::Invalid {
        model: "input".into(),
        what: e.to_string(),
    })
}

/// Series description of a written output, e.g. "Denoised (linear model, under CKKS) PrivaCT".
pub fn output_description(kind: ModelKind, encrypted: bool) -> String {
    format!(
        "Denoised in W400/L40 ({} model, {}) PrivaCT",
        kind.name(),
        if encrypted { "under CKKS" } else { "plaintext" }
    )
}

/// HU → [0, 1] over the abdomen window (no 8-bit rounding).
pub fn to_unit(hu: &[f32]) -> Vec<f32> {
    hu.iter()
        .map(|&v| Window::ABDOMEN.apply_unit(f64::from(v)))
        .collect()
}

/// [0, 1] → HU (inverse of the window inside it; values are clamped to [0, 1] first).
pub fn from_unit(unit: &[f64]) -> Vec<f32> {
    let w = Window::ABDOMEN;
    unit.iter()
        .map(|&u| ((u.clamp(0.0, 1.0) - 0.5) * (w.width - 1.0) + w.center - 0.5) as f32)
        .collect()
}

/// The denoised slice over the input's full HU range: the input plus the model's correction,
/// `HU_in + (y − x)·(W − 1)` with x the input and y the output on the abdomen window W400/L40.
/// Inside the window this is exactly the windowed output; outside it (air, bone, contrast) the
/// input's values are kept, moved only by the model's correction at the window's edge — the
/// networks model the window, not −1024…3071 HU (issue 20).
///
/// `input_hu` and `output_unit` have one value per pixel (equal lengths; extra values of the
/// longer one are ignored).
pub fn full_range_hu(input_hu: &[f32], output_unit: &[f64]) -> Vec<f32> {
    let w = Window::ABDOMEN;
    input_hu
        .iter()
        .zip(output_unit)
        .map(|(&hu, &y)| {
            let x = f64::from(w.apply_unit(f64::from(hu)));
            (f64::from(hu) + (y - x) * (w.width - 1.0)) as f32
        })
        .collect()
}

/// Model output ([0, 1], not clamped) → what is shown, scored and written: clamped to [0, 1].
pub fn clamp_unit(output: &[f64]) -> Vec<f32> {
    output.iter().map(|&v| v.clamp(0.0, 1.0) as f32).collect()
}

/// max |a − b| (infinite when the lengths differ).
pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    let init = if a.len() == b.len() {
        0.0
    } else {
        f64::INFINITY
    };
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(init, f64::max)
}

/// PSNR and SSIM of the low-dose input and of the denoised output against a reference, with
/// the metric of the denoising issue and of `ldct-mayo/pairs.tsv`: HU clipped to [−160, 240]
/// and scaled to [0, 1], PSNR with data range 1, SSIM as scikit-image's default (7 × 7 uniform
/// window, [`metrics::ssim_skimage`]).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Quality {
    pub psnr_in: f64,
    pub psnr_out: f64,
    pub ssim_in: f64,
    pub ssim_out: f64,
}

impl Quality {
    /// `reference_hu` and `input_hu` in HU, `output` the model's output on [0, 1] (clamped and
    /// mapped back to HU here).
    pub fn measure(
        reference_hu: &[f32],
        input_hu: &[f32],
        output: &[f64],
        rows: usize,
        cols: usize,
    ) -> Result<Quality, MetricError> {
        let r = metric_unit(reference_hu);
        let i = metric_unit(input_hu);
        let o = metric_unit(&from_unit(output));
        Ok(Quality {
            psnr_in: metrics::psnr(&r, &i, 1.0)?,
            psnr_out: metrics::psnr(&r, &o, 1.0)?,
            ssim_in: metrics::ssim_skimage(&r, &i, rows, cols, 1.0)?,
            ssim_out: metrics::ssim_skimage(&r, &o, rows, cols, 1.0)?,
        })
    }
}

/// Robust noise level of an image on [0, 1] (abdomen window), in HU: 1.4826 × median |h| of
/// the normalised 5-point Laplacian h = (4x − Σ neighbours)/√20 over soft-tissue pixels
/// (−100…200 HU everywhere in the stencil). Plaintext, computed by the client on its own
/// input; it never leaves the client. 0 when there are fewer than 64 such pixels.
pub fn estimate_noise_hu(unit: &[f32], rows: usize, cols: usize) -> f64 {
    const LO: f32 = 0.15;
    const HI: f32 = 0.9;
    if rows < 3 || cols < 3 || unit.len() != rows * cols {
        return 0.0;
    }
    let mut h: Vec<f32> = Vec::new();
    for y in 1..rows - 1 {
        for x in 1..cols - 1 {
            let c = unit[y * cols + x];
            let n = [
                unit[(y - 1) * cols + x],
                unit[(y + 1) * cols + x],
                unit[y * cols + x - 1],
                unit[y * cols + x + 1],
            ];
            if (LO..=HI).contains(&c) && n.iter().all(|v| (LO..=HI).contains(v)) {
                h.push((4.0 * c - n.iter().sum::<f32>()).abs());
            }
        }
    }
    if h.len() < 64 {
        return 0.0;
    }
    let mid = h.len() / 2;
    let (_, m, _) = h.select_nth_unstable_by(mid, f32::total_cmp);
    f64::from(*m) / 20f64.sqrt() * 1.4826 * Window::ABDOMEN.width
}

/// The client's plaintext step after decryption: `out = x − α(σ̂)·(x − y)` where y = x − f(x)
/// is the model output and α the piecewise-linear gain of the model description at the
/// estimated noise σ̂ ([`estimate_noise_hu`]). α is a public function of the client's own
/// input, applied after decryption, so no round and nothing on the wire changes.
pub fn apply_gain(input: &[f32], model_output: &[f64], alpha: f64) -> Vec<f64> {
    input
        .iter()
        .zip(model_output)
        .map(|(&x, &y)| {
            let x = f64::from(x);
            x - alpha * (x - y)
        })
        .collect()
}

/// α at `sigma` of a gain curve given as (σ̂ in HU, α) knots sorted by σ̂; constant beyond the
/// ends; 1 (the plain model) without knots.
pub fn gain_at(knots: &[[f64; 2]], sigma: f64) -> f64 {
    let (Some(first), Some(last)) = (knots.first(), knots.last()) else {
        return 1.0;
    };
    if sigma <= first[0] {
        return first[1];
    }
    if sigma >= last[0] {
        return last[1];
    }
    for w in knots.windows(2) {
        let ([s0, a0], [s1, a1]) = (w[0], w[1]);
        if sigma <= s1 {
            let t = if s1 > s0 {
                (sigma - s0) / (s1 - s0)
            } else {
                1.0
            };
            return a0 + t * (a1 - a0);
        }
    }
    last[1]
}

/// A denoised slice: the model output after the client's gain step.
#[derive(Clone, Debug)]
pub struct Finished {
    /// Estimated noise of the input (HU).
    pub sigma_hu: f64,
    /// Gain applied to the model's residual.
    pub alpha: f64,
    /// The final image on [0, 1] (not clamped).
    pub image: Vec<f64>,
}

/// Applies the shipped gain curve of `kind` (if any) to a model output.
pub fn finish(
    kind: ModelKind,
    input: &[f32],
    model_output: &[f64],
    rows: usize,
    cols: usize,
) -> Result<Finished, DenoiserError> {
    let d = super::weights::builtin_description()?;
    let knots = d.model(kind)?.gain.clone().unwrap_or_default();
    Ok(finish_with(&knots, input, model_output, rows, cols))
}

/// [`finish`] with an explicit gain curve.
pub fn finish_with(
    knots: &[[f64; 2]],
    input: &[f32],
    model_output: &[f64],
    rows: usize,
    cols: usize,
) -> Finished {
    let sigma_hu = estimate_noise_hu(input, rows, cols);
    let alpha = gain_at(knots, sigma_hu);
    Finished {
        sigma_hu,
        alpha,
        image: apply_gain(input, model_output, alpha),
    }
}

/// The file a denoised slice can be written to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// 8-bit PNG through the abdomen window.
    Png,
    /// A CT DICOM object (derived from the source when there is one).
    Dicom,
}

impl OutputFormat {
    /// Every extension [`Self::from_path`] accepts (for checking an output path up front).
    pub const EXTENSIONS: [&'static str; 3] = ["png", "dcm", "dicom"];

    /// By extension: `.png`, or `.dcm` / `.dicom`.
    pub fn from_path(path: &Path) -> Option<OutputFormat> {
        let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
        match ext.as_str() {
            "png" => Some(OutputFormat::Png),
            "dcm" | "dicom" => Some(OutputFormat::Dicom),
            _ => None,
        }
    }
}

/// Where a derived DICOM takes its tags from: the source file's bytes.
pub struct DicomSource<'a> {
    pub bytes: &'a [u8],
    pub path: &'a Path,
}

/// The bytes of a denoised `rows × cols` slice (`hu`, full range: see [`full_range_hu`]) for
/// `out`: a PNG through the abdomen window, or a DICOM — a derived image of a new series when `source` is a CT
/// DICOM, else a new CT object with pixel spacing `spacing_mm`. `description` becomes the
/// series and derivation description.
pub fn output_bytes(
    out: &Path,
    rows: usize,
    cols: usize,
    hu: &[f32],
    source: Option<DicomSource<'_>>,
    spacing_mm: f64,
    description: &str,
) -> Result<Vec<u8>, ImagingError> {
    if hu.len() != rows * cols {
        return Err(ImagingError::new(
            out,
            ErrorKind::InvalidArgument(format!("{} values for a {rows}×{cols} image", hu.len())),
        ));
    }
    match OutputFormat::from_path(out) {
        Some(OutputFormat::Png) => png_bytes(rows, cols, &Window::ABDOMEN.apply_all(hu))
            .map_err(|k| ImagingError::new(out, k)),
        Some(OutputFormat::Dicom) => match source {
            Some(s) => derived_bytes(s.bytes, s.path, rows, cols, hu, description),
            None => {
                let d = CtDescription {
                    patient_name: "UNKNOWN".into(),
                    patient_id: "UNKNOWN".into(),
                    study_uid: random_uid(),
                    series_uid: random_uid(),
                    sop_instance_uid: random_uid(),
                    series_description: description.into(),
                    pixel_spacing_mm: [spacing_mm, spacing_mm],
                    slice_thickness_mm: 5.0,
                    kvp: 120.0,
                    window: (40.0, 400.0),
                    date: "20240101".into(),
                };
                ct_bytes(rows, cols, hu, &d).map_err(|k| ImagingError::new(out, k))
            }
        },
        None => Err(ImagingError::new(
            out,
            ErrorKind::InvalidArgument("output must end in .png or .dcm".into()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(max_abs_diff(&[1.0, 2.0], &[1.5, 1.0]), 1.0);
        assert!(max_abs_diff(&[1.0], &[]).is_infinite());
        assert_eq!(clamp_unit(&[-0.5, 0.25, 2.0]), [0.0, 0.25, 1.0]);
        assert_eq!(
            OutputFormat::from_path(Path::new("a.PNG")),
            Some(OutputFormat::Png)
        );
        assert_eq!(
            OutputFormat::from_path(Path::new("a.dcm")),
            Some(OutputFormat::Dicom)
        );
        assert_eq!(OutputFormat::from_path(Path::new("a.jpg")), None);
        for ext in OutputFormat::EXTENSIONS {
            assert!(OutputFormat::from_path(Path::new(&format!("a.{ext}"))).is_some());
        }
        // Full range: inside the window the windowed output, outside it the input moved only
        // by the correction (here none: output = input's window value).
        let input_hu = [-1000.0f32, -100.0, 40.0, 200.0, 1500.0];
        let x: Vec<f64> = to_unit(&input_hu).iter().map(|&v| f64::from(v)).collect();
        let same = full_range_hu(&input_hu, &x);
        for (a, b) in same.iter().zip(&input_hu) {
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        }
        let y: Vec<f64> = x.iter().map(|v| v + 0.01).collect();
        let moved = full_range_hu(&input_hu, &y);
        assert!((moved[2] - from_unit(&[y[2]])[0]).abs() < 1e-3);
        assert!((moved[0] - (-1000.0 + 3.99)).abs() < 1e-2 && (moved[4] - 1503.99).abs() < 1e-2);
        let img = vec![40.0f32; 64 * 64];
        let png = output_bytes(Path::new("o.png"), 64, 64, &img, None, 0.7, "t").unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let dcm = output_bytes(Path::new("o.dcm"), 64, 64, &img, None, 0.7, "t").unwrap();
        assert_eq!(&dcm[128..132], b"DICM");
        assert!(output_bytes(Path::new("o.txt"), 64, 64, &img, None, 0.7, "t").is_err());
        assert!(output_bytes(Path::new("o.png"), 64, 65, &img, None, 0.7, "t").is_err());
    }
}
