//! One conversion from a loaded slice to Hounsfield units, used by every path that needs HU
//! (`privact simulate-ldct`, `privact denoise`, training, the app's simulation and denoising).
//!
//! DICOM CT slices are already in HU. 8-bit images (the kidney data set's JPEGs) are
//! abdomen-windowed (W400/L40): they are mapped back to **approximate** HU through the inverse
//! window, so anything outside −160…240 HU was already clipped. Pixels clipped at the bottom
//! of the window (value 0) are taken as air (−1000 HU): they are mostly the air around the
//! body, and treating them as −160 HU would fill the whole field of view with fat-like material
//! and starve simulated projections of photons. After windowing they are 0 again either way.
//! Images without a pixel spacing get an assumed 360 mm field of view.

use super::error::ErrorKind;
use super::slice::{Slice, Units};
use super::window::Window;

/// Field of view assumed for images without pixel spacing (the larger side spans it).
pub const ASSUMED_FOV_MM: f64 = 360.0;

/// HU given to 8-bit pixels clipped at the bottom of the window.
pub const CLIPPED_LOW_HU: f32 = -1000.0;

/// 8-bit value (0…255) → approximate HU through the inverse abdomen window (0 → air).
pub fn windowed8_to_hu(v: f32) -> f32 {
    if v <= 0.0 {
        return CLIPPED_LOW_HU;
    }
    let w = Window::ABDOMEN;
    ((f64::from(v) / 255.0 - 0.5) * w.width + w.center) as f32
}

/// A slice in HU with its pixel spacing, and how the HU were obtained.
#[derive(Clone, Debug)]
pub struct HuSlice {
    pub rows: usize,
    pub cols: usize,
    pub hu: Vec<f32>,
    pub spacing_mm: f64,
    /// Set when the HU are an approximation (8-bit input through the inverse window).
    pub approximate: bool,
}

/// The slice in HU (see the module notes); an error for values that are not HU.
pub fn slice_to_hu(slice: &Slice) -> Result<HuSlice, ErrorKind> {
    let (hu, approximate) = match slice.units {
        Units::Hu => (slice.values.clone(), false),
        Units::Windowed8Bit => (
            slice.values.iter().map(|&v| windowed8_to_hu(v)).collect(),
            true,
        ),
        Units::Raw => {
            return Err(ErrorKind::InvalidArgument(
                "values are not Hounsfield units (not a CT image with a HU rescale)".into(),
            ));
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

/// HU → [0, 1] over the metric window of the denoising issue and of `ldct-mayo/pairs.tsv`:
/// HU clipped to [−160, 240], minus −160, over 400 (abdomen W400/L40).
pub fn metric_unit(hu: &[f32]) -> Vec<f32> {
    hu.iter()
        .map(|&v| ((v.clamp(-160.0, 240.0) + 160.0) / 400.0).clamp(0.0, 1.0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_bit_mapping() {
        assert_eq!(windowed8_to_hu(0.0), CLIPPED_LOW_HU);
        assert!((windowed8_to_hu(255.0) - 240.0).abs() < 1e-3);
        assert!((windowed8_to_hu(127.5) - 40.0).abs() < 1e-3);
        let s = Slice::from_values(1, 3, vec![0.0, 127.5, 255.0], Units::Windowed8Bit);
        let h = slice_to_hu(&s).unwrap();
        assert!(h.approximate);
        assert_eq!(h.hu[0], CLIPPED_LOW_HU);
        assert!((h.spacing_mm - 120.0).abs() < 1e-9);
        let raw = Slice::from_values(1, 1, vec![1.0], Units::Raw);
        assert!(slice_to_hu(&raw).is_err());
        assert_eq!(metric_unit(&[-1000.0, 40.0, 500.0]), [0.0, 0.5, 1.0]);
    }
}
