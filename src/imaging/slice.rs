//! The in-memory image every other layer consumes.

use serde::Serialize;

use super::dicom::DicomInfo;

/// What the numbers in [`Slice::values`] mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Units {
    /// Hounsfield units (CT after the modality LUT).
    Hu,
    /// Modality values without a physical unit we rely on (MR, US, colour luma …).
    Raw,
    /// An already-windowed 8-bit greyscale image (PNG/JPEG/TIFF), 0‥255.
    Windowed8Bit,
}

impl Units {
    pub fn as_str(self) -> &'static str {
        match self {
            Units::Hu => "hu",
            Units::Raw => "raw",
            Units::Windowed8Bit => "windowed_8bit",
        }
    }
}

/// One 2-D greyscale image, row-major.
#[derive(Debug, Clone)]
pub struct Slice {
    pub rows: usize,
    pub cols: usize,
    /// `rows * cols` values, row-major.
    pub values: Vec<f32>,
    pub units: Units,
    /// (row spacing, column spacing) in mm, when known.
    pub pixel_spacing_mm: Option<[f64; 2]>,
    /// Which frame of a multi-frame object this is (0-based).
    pub frame: u32,
    /// Typed DICOM tags; `None` for PNG/JPEG/TIFF and synthetic slices.
    pub info: Option<DicomInfo>,
    /// `rows * cols` flags, true where the pixel is padding outside the image (PS3.3
    /// C.7.5.1.1.2, Pixel Padding Value / Pixel Padding Range Limit); `None` when the
    /// object declares no padding. Padding keeps its rescaled value in `values` (e.g.
    /// −3024 HU) but is not tissue: ranges and readouts skip it.
    pub padding: Option<Vec<bool>>,
}

impl Slice {
    /// A slice without DICOM tags (e.g. the phantom before encoding or a simulation output).
    pub fn from_values(rows: usize, cols: usize, values: Vec<f32>, units: Units) -> Slice {
        Slice {
            rows,
            cols,
            values,
            units,
            pixel_spacing_mm: None,
            frame: 0,
            info: None,
            padding: None,
        }
    }

    /// True when pixel `index` (row-major) is padding outside the image.
    pub fn is_padding(&self, index: usize) -> bool {
        self.padding
            .as_ref()
            .is_some_and(|p| p.get(index).copied().unwrap_or(false))
    }

    /// Number of padding pixels (0 without padding).
    pub fn padding_count(&self) -> usize {
        self.padding
            .as_ref()
            .map_or(0, |p| p.iter().filter(|&&b| b).count())
    }

    /// (min, max) over finite values that are not padding; `None` when there are none.
    pub fn image_min_max(&self) -> Option<(f32, f32)> {
        self.values
            .iter()
            .enumerate()
            .filter(|&(i, v)| v.is_finite() && !self.is_padding(i))
            .fold(None, |acc, (_, &v)| match acc {
                None => Some((v, v)),
                Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
            })
    }

    /// Value at (row, col), `None` outside the image.
    pub fn get(&self, row: usize, col: usize) -> Option<f32> {
        if row >= self.rows || col >= self.cols {
            return None;
        }
        self.values.get(row * self.cols + col).copied()
    }

    /// (min, max) over finite values, padding included; `None` for an empty image.
    pub fn min_max(&self) -> Option<(f32, f32)> {
        self.values
            .iter()
            .filter(|v| v.is_finite())
            .fold(None, |acc, &v| match acc {
                None => Some((v, v)),
                Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
            })
    }
}
