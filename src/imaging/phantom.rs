//! A procedural abdominal CT phantom: the app's built-in sample and a test
//! fixture that needs no patient data.
//!
//! Shapes are ellipses in millimetres (x to the image right = patient left,
//! y to the image bottom = posterior), painted in order with 4×4
//! supersampling so edges are partial-volume averaged like a real scan.

use super::dicom::write::{CtDescription, ct_bytes, uid_from_u128};
use super::error::ErrorKind;
use super::slice::{Slice, Units};

/// Optional kidney lesion insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lesion {
    #[default]
    None,
    /// Simple renal cyst: round, water density (~5 HU), sharp margin.
    Cyst,
    /// Solid renal tumour: enhancing (~90 HU) with a low-density necrotic core.
    Tumor,
}

impl Lesion {
    pub fn parse(s: &str) -> Option<Lesion> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(Lesion::None),
            "cyst" => Some(Lesion::Cyst),
            "tumor" | "tumour" => Some(Lesion::Tumor),
            _ => None,
        }
    }

    fn code(self) -> u128 {
        match self {
            Lesion::None => 0,
            Lesion::Cyst => 1,
            Lesion::Tumor => 2,
        }
    }
}

/// Phantom parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phantom {
    pub lesion: Lesion,
    /// Image side in pixels.
    pub size: usize,
    /// Field of view in mm (pixel spacing = fov / size).
    pub fov_mm: f64,
}

impl Default for Phantom {
    fn default() -> Self {
        Phantom {
            lesion: Lesion::None,
            size: 512,
            fov_mm: 360.0,
        }
    }
}

/// An axis-aligned-then-rotated ellipse filled with one HU value.
#[derive(Debug, Clone, Copy)]
struct Ellipse {
    cx: f64,
    cy: f64,
    ax: f64,
    ay: f64,
    /// Rotation in degrees.
    rot: f64,
    hu: f32,
}

const fn e(cx: f64, cy: f64, ax: f64, ay: f64, rot: f64, hu: f32) -> Ellipse {
    Ellipse {
        cx,
        cy,
        ax,
        ay,
        rot,
        hu,
    }
}

impl Ellipse {
    fn contains(&self, x: f64, y: f64) -> bool {
        let (s, c) = self.rot.to_radians().sin_cos();
        let (dx, dy) = (x - self.cx, y - self.cy);
        let u = dx * c + dy * s;
        let v = -dx * s + dy * c;
        (u / self.ax).powi(2) + (v / self.ay).powi(2) <= 1.0
    }
}

/// Reference HU of the tissues, exposed so tests and docs agree with the drawing.
pub mod hu {
    pub const AIR: f32 = -1000.0;
    pub const FAT: f32 = -100.0;
    pub const MUSCLE: f32 = 50.0;
    pub const LIVER: f32 = 60.0;
    pub const SPLEEN: f32 = 45.0;
    pub const KIDNEY: f32 = 150.0;
    pub const AORTA: f32 = 180.0;
    pub const BONE_CORTEX: f32 = 700.0;
    pub const BONE_MARROW: f32 = 250.0;
    pub const BOWEL: f32 = 25.0;
    pub const CYST: f32 = 5.0;
    pub const TUMOR: f32 = 90.0;
    pub const NECROSIS: f32 = 20.0;
}

/// Where the lesion sits (centre in mm, radius in mm): in the right kidney
/// (image left) for a cyst, the left kidney (image right) for a tumour.
pub const CYST_AT: (f64, f64, f64) = (-68.0, 36.0, 12.0);
pub const TUMOR_AT: (f64, f64, f64) = (70.0, 38.0, 14.0);
/// A point well inside the liver (mm), for tests and ROI demos.
pub const LIVER_POINT: (f64, f64) = (-60.0, -25.0);

impl Phantom {
    pub fn new(lesion: Lesion) -> Phantom {
        Phantom {
            lesion,
            ..Phantom::default()
        }
    }

    /// Pixel spacing in mm.
    pub fn spacing_mm(&self) -> f64 {
        self.fov_mm / self.size as f64
    }

    fn shapes(&self) -> Vec<Ellipse> {
        use hu::*;
        let mut s = vec![
            e(0.0, 0.0, 160.0, 118.0, 0.0, FAT),    // body, subcutaneous fat
            e(0.0, 2.0, 146.0, 104.0, 0.0, MUSCLE), // abdominal wall muscle
            e(0.0, 0.0, 136.0, 94.0, 0.0, -90.0),   // visceral fat
            e(-58.0, -22.0, 72.0, 58.0, -15.0, LIVER), // liver
            e(92.0, 12.0, 30.0, 42.0, 20.0, SPLEEN), // spleen
            e(40.0, -48.0, 38.0, 24.0, 10.0, BOWEL), // stomach
            e(52.0, -56.0, 14.0, 8.0, 10.0, AIR),   // gastric air
            e(10.0, -10.0, 16.0, 12.0, 0.0, BOWEL), // bowel loop
            e(-68.0, 38.0, 26.0, 40.0, -25.0, KIDNEY), // right kidney (image left)
            e(70.0, 40.0, 26.0, 40.0, 25.0, KIDNEY), // left kidney (image right)
            e(-58.0, 42.0, 7.0, 12.0, -25.0, -60.0), // right renal sinus fat
            e(60.0, 44.0, 7.0, 12.0, 25.0, -60.0),  // left renal sinus fat
            e(-36.0, 72.0, 20.0, 26.0, 0.0, MUSCLE), // right psoas/paraspinal
            e(36.0, 72.0, 20.0, 26.0, 0.0, MUSCLE), // left psoas/paraspinal
            e(0.0, 50.0, 19.0, 17.0, 0.0, BONE_CORTEX), // vertebral body cortex
            e(0.0, 50.0, 15.5, 13.5, 0.0, BONE_MARROW), // vertebral body marrow
            e(0.0, 80.0, 20.0, 12.0, 0.0, BONE_CORTEX), // posterior elements
            e(0.0, 77.0, 8.0, 7.0, 0.0, 15.0),      // spinal canal
            e(12.0, 24.0, 11.0, 11.0, 0.0, AORTA),  // aorta
            e(-20.0, 22.0, 11.0, 8.0, 0.0, 130.0),  // inferior vena cava
        ];
        match self.lesion {
            Lesion::None => {}
            Lesion::Cyst => s.push(e(CYST_AT.0, CYST_AT.1, CYST_AT.2, CYST_AT.2, 0.0, CYST)),
            Lesion::Tumor => {
                s.push(e(
                    TUMOR_AT.0,
                    TUMOR_AT.1,
                    TUMOR_AT.2,
                    TUMOR_AT.2 * 0.9,
                    15.0,
                    TUMOR,
                ));
                s.push(e(TUMOR_AT.0 + 2.0, TUMOR_AT.1, 5.0, 4.0, 0.0, NECROSIS));
            }
        }
        s
    }

    /// HU value of the noiseless, continuous phantom at (x, y) mm.
    pub fn hu_at_mm(&self, x: f64, y: f64) -> f32 {
        self.shapes()
            .iter()
            .rev()
            .find(|el| el.contains(x, y))
            .map(|el| el.hu)
            .unwrap_or(hu::AIR)
    }

    /// Pixel centre (x, y) in mm of (row, col).
    pub fn pixel_mm(&self, row: usize, col: usize) -> (f64, f64) {
        let d = self.spacing_mm();
        let half = (self.size as f64 - 1.0) / 2.0;
        ((col as f64 - half) * d, (row as f64 - half) * d)
    }

    /// (row, col) of the pixel containing (x, y) mm.
    pub fn pixel_of_mm(&self, x: f64, y: f64) -> (usize, usize) {
        let d = self.spacing_mm();
        let half = (self.size as f64 - 1.0) / 2.0;
        let clamp = |v: f64| v.round().clamp(0.0, self.size as f64 - 1.0) as usize;
        (clamp(y / d + half), clamp(x / d + half))
    }

    /// Renders the HU image (size × size), 4×4 supersampled.
    pub fn hu(&self) -> Slice {
        const SS: usize = 4;
        let n = self.size;
        let d = self.spacing_mm();
        let shapes = self.shapes();
        let mut values = vec![0.0f32; n * n];
        use rayon::prelude::*;
        values
            .par_chunks_mut(n.max(1))
            .enumerate()
            .for_each(|(r, row)| {
                for (c, out) in row.iter_mut().enumerate() {
                    let (x0, y0) = self.pixel_mm(r, c);
                    let mut acc = 0.0f32;
                    for sy in 0..SS {
                        for sx in 0..SS {
                            let x = x0 + ((sx as f64 + 0.5) / SS as f64 - 0.5) * d;
                            let y = y0 + ((sy as f64 + 0.5) / SS as f64 - 0.5) * d;
                            acc += shapes
                                .iter()
                                .rev()
                                .find(|el| el.contains(x, y))
                                .map(|el| el.hu)
                                .unwrap_or(hu::AIR);
                        }
                    }
                    *out = acc / (SS * SS) as f32;
                }
            });
        let mut s = Slice::from_values(n, n, values, Units::Hu);
        s.pixel_spacing_mm = Some([d, d]);
        s
    }

    /// Encodes the phantom as a CT DICOM file. Deterministic: the same
    /// parameters give the same bytes (UIDs derive from the parameters).
    pub fn dicom_bytes(&self) -> Result<Vec<u8>, ErrorKind> {
        let slice = self.hu();
        let base: u128 = 0x5052_4956_4143_5400_0000_0000_0000_0000; // "PRIVACT"
        let salt = (self.size as u128) << 16 | self.lesion.code() << 8;
        let d = self.spacing_mm();
        let desc = CtDescription {
            patient_name: "PHANTOM^ABDOMEN".into(),
            patient_id: "PHANTOM".into(),
            study_uid: uid_from_u128(base | salt | 1),
            series_uid: uid_from_u128(base | salt | 2),
            sop_instance_uid: uid_from_u128(base | salt | 3),
            series_description: format!(
                "PrivaCT synthetic abdominal phantom (lesion: {:?})",
                self.lesion
            ),
            pixel_spacing_mm: [d, d],
            slice_thickness_mm: 5.0,
            kvp: 120.0,
            window: (40.0, 400.0),
            date: "20240101".into(),
        };
        ct_bytes(slice.rows, slice.cols, &slice.values, &desc)
    }
}

/// The built-in sample shown when the app starts with no file: the phantom
/// with a renal tumour, so the classifier demo has something to find.
pub fn builtin_sample_dicom() -> Result<Vec<u8>, ErrorKind> {
    Phantom::new(Lesion::Tumor).dicom_bytes()
}
