//! From a loaded slice to the denoisers' intensity scale and back.
//!
//! Models work on [0, 1] over the abdomen window (W400/L40). The kidney data set's JPEGs are
//! 8-bit abdomen-windowed images: they are mapped back to **approximate** HU through the
//! inverse window (so anything outside −160…240 HU was already clipped), with an assumed
//! 360 mm field of view for the simulation's geometry. Pixels clipped at the bottom of the
//! window (value 0) are taken as air (−1000 HU): they are mostly the air around the body, and
//! treating them as −160 HU would fill the whole field of view with fat-like material and
//! starve the simulated projections of photons. After windowing they are 0 again either way.

use super::DenoiserError;
use crate::imaging::window::Window;
use crate::imaging::{Slice, Units};

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
    let spacing_mm = slice
        .pixel_spacing_mm
        .map(|s| (s[0] + s[1]) / 2.0)
        .filter(|s| *s > 0.0 && s.is_finite())
        .unwrap_or(ASSUMED_FOV_MM / slice.rows.max(slice.cols).max(1) as f64);
    Ok(HuSlice {
        rows: slice.rows,
        cols: slice.cols,
        hu,
        spacing_mm,
        approximate,
    })
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
