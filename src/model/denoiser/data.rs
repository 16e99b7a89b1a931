//! From a loaded slice to the denoisers' intensity scale and back, the quality metrics, and
//! the output files (shared by `privact denoise` and the desktop app).
//!
//! Models work on [0, 1] over the abdomen window (W400/L40). The kidney data set's JPEGs are
//! 8-bit abdomen-windowed images: they are mapped back to **approximate** HU through the
//! inverse window (so anything outside −160…240 HU was already clipped), with an assumed
//! 360 mm field of view for the simulation's geometry. Pixels clipped at the bottom of the
//! window (value 0) are taken as air (−1000 HU): they are mostly the air around the body, and
//! treating them as −160 HU would fill the whole field of view with fat-like material and
//! starve the simulated projections of photons. After windowing they are 0 again either way.

use super::{DenoiserError, ModelKind};
use crate::imaging::dicom::write::{CtDescription, ct_bytes, derived_bytes, random_uid};
use crate::imaging::metrics::{self, MetricError};
use crate::imaging::raster::png_bytes;
use crate::imaging::window::Window;
use crate::imaging::{ErrorKind, ImagingError, Slice, Units};
use std::path::Path;

/// Field of view assumed for 8-bit images without pixel spacing.
pub const ASSUMED_FOV_MM: f64 = 360.0;

/// A slice in HU with its pixel spacing, and how the HU were obtained.
pub struct HuSlice {
    pub rows: usize,
    pub cols: usize,
    pub hu: Vec<f32>,
    pub spacing_mm: f64,
    /// Set when the HU are an approximation (8-bit input through the inverse window).
    pub approximate: bool,
}

/// HU given to 8-bit pixels clipped at the bottom of the window.
pub const CLIPPED_LOW_HU: f32 = -1000.0;

/// 8-bit value → approximate HU through the inverse abdomen window (0 → air).
pub fn unit8_to_hu(v: f32) -> f32 {
    if v <= 0.0 {
        return CLIPPED_LOW_HU;
    }
    let w = Window::ABDOMEN;
    ((f64::from(v) / 255.0 - 0.5) * w.width + w.center) as f32
}

pub fn to_hu(slice: &Slice) -> Result<HuSlice, DenoiserError> {
    let (hu, approximate) = match slice.units {
        Units::Hu => (slice.values.clone(), false),
        Units::Windowed8Bit => (slice.values.iter().map(|&v| unit8_to_hu(v)).collect(), true),
        Units::Raw => {
            return Err(DenoiserError::Invalid {
                model: "input".into(),
                what: "values are not Hounsfield units (not a CT image with a HU rescale)".into(),
            });
        }
    };
    Ok(HuSlice {
        rows: slice.rows,
        cols: slice.cols,
        hu,
        spacing_mm: spacing_mm(slice),
        approximate,
    })
}

/// Pixel spacing in mm (mean of rows and columns), or the assumed field of view over the
/// larger side when the file has none.
pub fn spacing_mm(slice: &Slice) -> f64 {
    slice
        .pixel_spacing_mm
        .map(|s| (s[0] + s[1]) / 2.0)
        .filter(|s| *s > 0.0 && s.is_finite())
        .unwrap_or(ASSUMED_FOV_MM / slice.rows.max(slice.cols).max(1) as f64)
}

/// Series description of a written output, e.g. "Denoised (linear model, under CKKS) PrivaCT".
pub fn output_description(kind: ModelKind, encrypted: bool) -> String {
    format!(
        "Denoised ({} model, {}) PrivaCT",
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

/// PSNR and SSIM of the low-dose input and of the denoised output against the clean
/// reference, all on [0, 1] over the abdomen window.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Quality {
    pub psnr_in: f64,
    pub psnr_out: f64,
    pub ssim_in: f64,
    pub ssim_out: f64,
}

impl Quality {
    /// `reference` and `input` from [`to_unit`], `output` the model's (clamped here).
    pub fn measure(
        reference: &[f32],
        input: &[f32],
        output: &[f64],
        rows: usize,
        cols: usize,
    ) -> Result<Quality, MetricError> {
        let out = clamp_unit(output);
        Ok(Quality {
            psnr_in: metrics::psnr(reference, input, 1.0)?,
            psnr_out: metrics::psnr(reference, &out, 1.0)?,
            ssim_in: metrics::ssim(reference, input, rows, cols, 1.0)?,
            ssim_out: metrics::ssim(reference, &out, rows, cols, 1.0)?,
        })
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

/// The bytes of a denoised `rows × cols` slice (`output` on [0, 1]) for `out`: a PNG through
/// the abdomen window, or a DICOM — a derived image of a new series when `source` is a CT
/// DICOM, else a new CT object with pixel spacing `spacing_mm`. `description` becomes the
/// series and derivation description.
pub fn output_bytes(
    out: &Path,
    rows: usize,
    cols: usize,
    output: &[f64],
    source: Option<DicomSource<'_>>,
    spacing_mm: f64,
    description: &str,
) -> Result<Vec<u8>, ImagingError> {
    let hu = from_unit(output);
    if hu.len() != rows * cols {
        return Err(ImagingError::new(
            out,
            ErrorKind::InvalidArgument(format!("{} values for a {rows}×{cols} image", hu.len())),
        ));
    }
    match OutputFormat::from_path(out) {
        Some(OutputFormat::Png) => png_bytes(rows, cols, &Window::ABDOMEN.apply_all(&hu))
            .map_err(|k| ImagingError::new(out, k)),
        Some(OutputFormat::Dicom) => match source {
            Some(s) => derived_bytes(s.bytes, s.path, rows, cols, &hu, description),
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
                ct_bytes(rows, cols, &hu, &d).map_err(|k| ImagingError::new(out, k))
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
        let img = vec![0.5; 64 * 64];
        let png = output_bytes(Path::new("o.png"), 64, 64, &img, None, 0.7, "t").unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let dcm = output_bytes(Path::new("o.dcm"), 64, 64, &img, None, 0.7, "t").unwrap();
        assert_eq!(&dcm[128..132], b"DICM");
        assert!(output_bytes(Path::new("o.txt"), 64, 64, &img, None, 0.7, "t").is_err());
        assert!(output_bytes(Path::new("o.png"), 64, 65, &img, None, 0.7, "t").is_err());
    }
}
