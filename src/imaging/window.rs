//! CT display windows: the DICOM VOI LUT linear function (PS3.3 C.11.2.1.2)
//! and the usual presets.

use serde::Serialize;

/// A display window in the units of the image (HU for CT).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Window {
    pub center: f64,
    pub width: f64,
}

/// Named windows; `Abdomen` is the app default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Abdomen,
    Kidney,
    Liver,
    Bone,
    Lung,
    Brain,
    /// The window stored in the file (falls back to Abdomen).
    DicomDefault,
    /// 1st–99th percentile of the image.
    Auto,
}

impl Preset {
    pub const ALL: [Preset; 8] = [
        Preset::Abdomen,
        Preset::Kidney,
        Preset::Liver,
        Preset::Bone,
        Preset::Lung,
        Preset::Brain,
        Preset::DicomDefault,
        Preset::Auto,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Preset::Abdomen => "Abdomen",
            Preset::Kidney => "Kidney",
            Preset::Liver => "Liver",
            Preset::Bone => "Bone",
            Preset::Lung => "Lung",
            Preset::Brain => "Brain",
            Preset::DicomDefault => "DICOM default",
            Preset::Auto => "Auto",
        }
    }

    /// The fixed (width, level) of a CT preset; `None` for the data-dependent ones.
    pub fn fixed(self) -> Option<Window> {
        let (width, center) = match self {
            Preset::Abdomen => (400.0, 40.0),
            Preset::Kidney => (350.0, 40.0),
            Preset::Liver => (150.0, 90.0),
            Preset::Bone => (2000.0, 400.0),
            Preset::Lung => (1500.0, -600.0),
            Preset::Brain => (80.0, 40.0),
            Preset::DicomDefault | Preset::Auto => return None,
        };
        Some(Window { center, width })
    }

    /// Resolves the preset for an image: `dicom_default` is the file's window,
    /// `values` feed the Auto percentiles.
    pub fn resolve(self, dicom_default: Option<Window>, values: &[f32]) -> Window {
        match self {
            Preset::DicomDefault => dicom_default.unwrap_or(Window::ABDOMEN),
            Preset::Auto => Window::auto(values, 0.01, 0.99).unwrap_or(Window::ABDOMEN),
            p => p.fixed().unwrap_or(Window::ABDOMEN),
        }
    }
}

impl Window {
    pub const ABDOMEN: Window = Window {
        center: 40.0,
        width: 400.0,
    };

    pub fn new(center: f64, width: f64) -> Window {
        Window { center, width }
    }

    /// VOI LUT LINEAR mapped to 0‥255 (PS3.3 C.11.2.1.2.1):
    /// x ≤ c − ½ − (w−1)/2 → 0; x > c − ½ + (w−1)/2 → 255;
    /// else ((x − (c − ½)) / (w − 1) + ½) · 255. Width is clamped to ≥ 1.
    pub fn apply(&self, x: f64) -> u8 {
        let w = self.width.max(1.0);
        let c = self.center;
        if x.is_nan() {
            return 0;
        }
        if x <= c - 0.5 - (w - 1.0) / 2.0 {
            0
        } else if x > c - 0.5 + (w - 1.0) / 2.0 {
            255
        } else if w <= 1.0 {
            // Degenerate width: the interval above is empty, unreachable in practice.
            255
        } else {
            let y = ((x - (c - 0.5)) / (w - 1.0) + 0.5) * 255.0;
            y.round().clamp(0.0, 255.0) as u8
        }
    }

    /// Same mapping to [0, 1] as a float (no 8-bit rounding), for model input.
    pub fn apply_unit(&self, x: f64) -> f32 {
        let w = self.width.max(1.0);
        let c = self.center;
        if x.is_nan() || x <= c - 0.5 - (w - 1.0) / 2.0 {
            0.0
        } else if x > c - 0.5 + (w - 1.0) / 2.0 || w <= 1.0 {
            1.0
        } else {
            (((x - (c - 0.5)) / (w - 1.0) + 0.5).clamp(0.0, 1.0)) as f32
        }
    }

    /// Windows a whole image to 8 bits.
    pub fn apply_all(&self, values: &[f32]) -> Vec<u8> {
        values.iter().map(|&v| self.apply(f64::from(v))).collect()
    }

    /// Window spanning the `lo`–`hi` quantiles of the finite values.
    pub fn auto(values: &[f32], lo: f64, hi: f64) -> Option<Window> {
        let mut v: Vec<f32> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f32::total_cmp);
        let q = |p: f64| {
            let i = ((v.len() - 1) as f64 * p.clamp(0.0, 1.0)).round() as usize;
            f64::from(v.get(i).copied().unwrap_or(0.0))
        };
        let (a, b) = (q(lo), q(hi));
        let width = (b - a).max(1.0);
        Some(Window {
            center: (a + b) / 2.0,
            width,
        })
    }
}
