//! Input check before anything is encrypted (client side, plaintext; knows nothing of
//! encryption or of the classifier's weights).
//!
//! Two stages:
//!
//! 1. **Refusal** ([`InputRefused`]): images the kidney classifier was never made for are
//!    refused outright — DICOM of any modality other than CT (MR, US, MG, NM, CR, DX, XA, PT,
//!    OT …, also Secondary Capture unless its modality is CT), colour images (RGB, YBR,
//!    palette; colour PNG/JPEG whose channels differ), and CT whose values are not Hounsfield
//!    units.
//! 2. **Plausibility** ([`Plausibility`]): for CT and 8-bit greyscale images, robust rules on
//!    the same 256×256 abdomen-windowed image the models see decide whether the slice looks
//!    like an axial abdominal slice at kidney level; for CT in HU, [`anatomical_level`] also
//!    flags slices through the lungs and through wide bone (pelvis, shoulders, head). A
//!    failing rule gives a warning (the front ends show it instead of a predicted class),
//!    not a refusal. The rules and their thresholds, and how they were validated, are in
//!    MODEL_CARD.md › Input check.

use std::path::Path;

use super::anatomical_level::{self, LevelFeatures};
use super::body_crop::{BODY_LEVEL, Extent, extent, fill_holes, largest_component};
use super::model_input::{MODEL_SIDE, to_model_input};
use super::slice::{Slice, Units};

/// Why an image is refused before classification (one line each).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputRefused {
    /// A DICOM object whose modality is not CT.
    #[error(
        "not a CT image: DICOM modality {modality} ({name}); the kidney classifier only takes axial CT slices"
    )]
    NotCt {
        /// The modality code, e.g. `MR`.
        modality: String,
        /// Its plain name.
        name: &'static str,
    },
    /// A DICOM object without a modality and without a CT SOP class.
    #[error("not a CT image: the DICOM file names no modality and is not a CT storage object")]
    NoModality,
    /// A colour image.
    #[error("colour image ({0}); the kidney classifier only takes greyscale CT slices")]
    Colour(String),
    /// CT whose stored values are not Hounsfield units (other than rescale type "US", which
    /// for CT means CT numbers).
    #[error(
        "CT values are not Hounsfield units ({0}); the classifier needs HU to apply the abdomen window"
    )]
    NotHounsfield(String),
}

/// Result of the plausibility rules: `warnings` empty means the slice looks like what the
/// classifier was trained on.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Plausibility {
    /// Measured features (see [`Features`]).
    pub features: Features,
    /// One sentence per failed rule.
    pub warnings: Vec<String>,
}

impl Plausibility {
    /// True when no rule failed.
    pub fn passed(&self) -> bool {
        self.warnings.is_empty()
    }

    /// All warnings in one line, or `None` when the check passed.
    pub fn warning(&self) -> Option<String> {
        (!self.warnings.is_empty()).then(|| {
            format!(
                "this does not look like an axial abdominal CT slice at kidney level ({}); no class is given",
                self.warnings.join("; ")
            )
        })
    }
}

/// Features of the 256×256 abdomen-windowed image ([0, 1]; 0 = air, 1 = bone or contrast).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Features {
    /// Fraction of the image covered by the body (largest bright component, holes filled).
    pub body_fraction: f64,
    /// Body width / height (bounding box).
    pub body_aspect: f64,
    /// Body centre, as fractions of the image width and height.
    pub body_centre: [f64; 2],
    /// Fraction of the body's pixels that are air-dark (lung, bowel gas).
    pub inner_air: f64,
    /// Fraction of the body's pixels at the window's top (bone, contrast).
    pub bright: f64,
    /// Fraction of the body's pixels in the soft-tissue band.
    pub soft_tissue: f64,
    /// Fraction of the image outside the body that is not dark (a frame, text, another body).
    pub outside_bright: f64,
    /// Lungs and wide bone, measured in HU ([`anatomical_level`]); `None` for images without
    /// HU (8-bit rasters), whose window hides the difference between air and fat.
    pub level: Option<LevelFeatures>,
}

/// Rule thresholds (chosen on the kidney-ct training folder and synthetic negatives, then
/// validated on other data; see MODEL_CARD.md › Input check). Set from the 1,551 images of
/// `kidney-ct` (all four class folders): each limit lies outside the range those images span
/// (their minimum/maximum in brackets), so the rules catch gross mismatches, not subtle ones.
pub mod limits {
    /// Body fraction of the image [0.085, 0.69]: below, too small or no body; above, a
    /// close-up.
    pub const BODY_FRACTION: (f64, f64) = (0.06, 0.90);
    /// Body width / height [0.47, 1.86].
    pub const BODY_ASPECT: (f64, f64) = (0.40, 2.3);
    /// Distance of the body centre from the image centre, fraction of the side [0, 0.27].
    pub const CENTRE_OFFSET: f64 = 0.30;
    /// Most air-dark share inside the body [0, 0.45] (lung level and above exceed it).
    pub const INNER_AIR: f64 = 0.50;
    /// Bright (bone/contrast) share inside the body [0.005, 0.15].
    pub const BRIGHT: (f64, f64) = (0.002, 0.30);
    /// Least soft-tissue share inside the body [0.26, 0.80].
    pub const SOFT_TISSUE: f64 = 0.20;
    /// Most non-dark share outside the body [0, 0.23] (frames, text, a second body).
    pub const OUTSIDE_BRIGHT: f64 = 0.35;
    /// Least field of view (mm, both sides) of a slice whose pixel spacing is known: an
    /// adult abdomen is 250–400 mm across and reconstructed at 300–500 mm; below this the
    /// image is a close-up (a crop or a targeted reconstruction), which the 256×256 model
    /// input would magnify several times.
    pub const MIN_FIELD_OF_VIEW_MM: f64 = 150.0;
    /// Most lung share of the back of each side (HU slices only): 0 on every kidney-level
    /// slice of `ldct-mayo`, 0.04–0.42 on its chest slices.
    pub const LUNG_SHARE: f64 = 0.02;
    /// Most lateral reach of large bone, fraction of half the body's width (HU slices only):
    /// at most 0.24 on the kidney-level slices of `ldct-mayo`, 0.67–0.85 on its pelvis and
    /// shoulder slices.
    pub const LATERAL_BONE: f64 = 0.45;
    /// Least body width, mm (HU slices with a known pixel spacing): an adult abdomen at
    /// kidney level is 250–400 mm wide; a neck is about 130 mm.
    pub const MIN_BODY_WIDTH_MM: f64 = 180.0;
}

/// Plain name of a DICOM modality code.
fn modality_name(code: &str) -> &'static str {
    match code {
        "MR" => "magnetic resonance",
        "US" => "ultrasound",
        "MG" => "mammography",
        "NM" => "nuclear medicine",
        "PT" => "positron emission tomography",
        "CR" => "computed radiography",
        "DX" => "digital radiography",
        "RG" => "radiographic imaging",
        "XA" => "X-ray angiography",
        "RF" => "radio fluoroscopy",
        "IO" => "intra-oral radiography",
        "PX" => "panoramic X-ray",
        "OT" => "other",
        "SC" => "secondary capture",
        "SM" => "slide microscopy",
        "XC" => "external-camera photography",
        "ES" => "endoscopy",
        "OP" => "ophthalmic photography",
        "RTDOSE" => "radiotherapy dose",
        "RTSTRUCT" => "radiotherapy structure set",
        "RTPLAN" => "radiotherapy plan",
        "RTIMAGE" => "radiotherapy image",
        "SR" => "structured report",
        "ECG" => "electrocardiogram",
        _ => "not CT",
    }
}

/// Stage 1 on a loaded slice: refuses non-CT DICOM, colour DICOM and CT without HU.
/// PNG/JPEG/TIFF slices pass here (see [`check_raster_colour`] for their colour test).
pub fn refuse_non_ct(slice: &Slice) -> Result<(), InputRefused> {
    let Some(info) = &slice.info else {
        return Ok(());
    };
    let ct_sop = info
        .sop_class_uid
        .as_deref()
        .is_some_and(|u| u.starts_with("1.2.840.10008.5.1.4.1.1.2"));
    match info.modality.as_deref().map(str::trim) {
        Some("CT") => {}
        Some(m) if !m.is_empty() => {
            return Err(InputRefused::NotCt {
                modality: m.to_string(),
                name: modality_name(m),
            });
        }
        _ if ct_sop => {}
        _ => return Err(InputRefused::NoModality),
    }
    let photometric = info
        .photometric_interpretation
        .as_deref()
        .map(str::trim)
        .unwrap_or("MONOCHROME2");
    if info.samples_per_pixel > 1 || !photometric.starts_with("MONOCHROME") {
        return Err(InputRefused::Colour(format!(
            "photometric interpretation {photometric}, {} samples per pixel",
            info.samples_per_pixel
        )));
    }
    if slice.units != Units::Hu && !ct_numbers_unlabelled(slice) {
        let why = match info.rescale_type.as_deref() {
            Some(t) => format!("rescale type {t}"),
            None if photometric == "MONOCHROME1" => "MONOCHROME1".to_string(),
            None => "no usable rescale".to_string(),
        };
        return Err(InputRefused::NotHounsfield(why));
    }
    Ok(())
}

/// True for a greyscale CT slice whose rescale type is "US" (unspecified) and whose values
/// the loader therefore kept as raw: for a CT modality those are CT numbers (DICOM PS3.3
/// C.11.1.1.2), so [`as_hounsfield`] may relabel them.
fn ct_numbers_unlabelled(slice: &Slice) -> bool {
    slice.units == Units::Raw
        && slice.info.as_ref().is_some_and(|i| {
            i.modality.as_deref().map(str::trim) == Some("CT")
                && i.samples_per_pixel <= 1
                && i.photometric_interpretation.as_deref().map(str::trim) != Some("MONOCHROME1")
                && i.rescale_type.as_deref().map(str::trim) == Some("US")
        })
}

/// The slice with CT numbers of rescale type "US" labelled as Hounsfield units (see
/// `ct_numbers_unlabelled`), so the abdomen window applies; other slices are returned as they
/// are. Call it after [`refuse_non_ct`] and before computing the model input.
pub fn as_hounsfield(slice: &Slice) -> std::borrow::Cow<'_, Slice> {
    if ct_numbers_unlabelled(slice) {
        let mut s = slice.clone();
        s.units = Units::Hu;
        std::borrow::Cow::Owned(s)
    } else {
        std::borrow::Cow::Borrowed(slice)
    }
}

/// Colour test for PNG/JPEG/TIFF bytes (the loader turns colour into luma, so the test needs
/// the file): refused when a noticeable share of pixels has channels that differ by more
/// than 8 grey levels. Bytes that are not a raster image pass (they are DICOM or fail to
/// load elsewhere).
pub fn check_raster_colour(bytes: &[u8]) -> Result<(), InputRefused> {
    if bytes.get(128..132) == Some(b"DICM".as_slice()) || super::raster::sniff(bytes).is_none() {
        return Ok(());
    }
    let Ok(img) = image::load_from_memory(bytes) else {
        return Ok(());
    };
    if !img.color().has_color() {
        return Ok(());
    }
    let rgb = img.to_rgb8();
    let n = (rgb.width() as usize) * (rgb.height() as usize);
    let coloured = rgb
        .pixels()
        .filter(|p| {
            let [r, g, b] = p.0;
            let (lo, hi) = (r.min(g).min(b), r.max(g).max(b));
            hi - lo > 8
        })
        .count();
    let share = coloured as f64 / n.max(1) as f64;
    if share > 0.01 {
        return Err(InputRefused::Colour(format!(
            "{:.0} % of the pixels have unequal colour channels",
            share * 100.0
        )));
    }
    Ok(())
}

/// Both stages for a file: colour test on its bytes (rasters), then [`refuse_non_ct`] and
/// [`plausibility`] on the loaded slice.
pub fn check_file(path: &Path, slice: &Slice) -> Result<Plausibility, InputRefused> {
    if slice.info.is_none()
        && let Ok(bytes) = std::fs::read(path)
    {
        check_raster_colour(&bytes)?;
    }
    check_slice(slice)
}

/// [`refuse_non_ct`] then [`plausibility`] (on [`as_hounsfield`] of the slice).
pub fn check_slice(slice: &Slice) -> Result<Plausibility, InputRefused> {
    refuse_non_ct(slice)?;
    Ok(plausibility(&as_hounsfield(slice)))
}

/// Stage 2: the plausibility rules on the model's 256×256 view of the slice.
pub fn plausibility(slice: &Slice) -> Plausibility {
    let mut warnings = Vec::new();
    if let Some(o) = slice
        .info
        .as_ref()
        .and_then(|i| i.image_orientation_patient)
        && !is_axial(&o)
    {
        warnings.push("the DICOM orientation is not axial".to_string());
    }
    if let Some([sy, sx]) = slice.pixel_spacing_mm {
        let (h, w) = (slice.rows as f64 * sy, slice.cols as f64 * sx);
        if h.min(w) < limits::MIN_FIELD_OF_VIEW_MM {
            warnings.push(format!(
                "the image covers only {w:.0} × {h:.0} mm, a close-up (an abdominal cross-section needs at least {:.0} mm)",
                limits::MIN_FIELD_OF_VIEW_MM
            ));
        }
    }
    let mut features = features(&to_model_input(slice), MODEL_SIDE);
    if slice.units == Units::Hu {
        features.level = anatomical_level::measure(&slice.values, level_geometry(slice));
    }
    warnings.extend(rule_warnings(&features));
    Plausibility { features, warnings }
}

/// The slice's layout for [`anatomical_level::measure`]. The back is down unless the DICOM
/// orientation says the image's columns run towards the patient's front (patient axes: +y
/// is posterior, DICOM PS3.3 C.7.6.2.1.1).
fn level_geometry(slice: &Slice) -> anatomical_level::Geometry {
    anatomical_level::Geometry {
        rows: slice.rows,
        cols: slice.cols,
        pixel_spacing_mm: slice.pixel_spacing_mm,
        posterior_down: slice
            .info
            .as_ref()
            .and_then(|i| i.image_orientation_patient)
            .is_none_or(|o| o[4] >= 0.0),
    }
}

/// True when the row and column directions lie (within ~25°) in the patient's x–y plane.
fn is_axial(o: &[f64; 6]) -> bool {
    let (r, c) = ([o[0], o[1], o[2]], [o[3], o[4], o[5]]);
    let n = [
        r[1] * c[2] - r[2] * c[1],
        r[2] * c[0] - r[0] * c[2],
        r[0] * c[1] - r[1] * c[0],
    ];
    let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
    len > 0.0 && (n[2] / len).abs() > 0.9
}

/// The rules on measured features, one sentence per failure.
pub fn rule_warnings(f: &Features) -> Vec<String> {
    use limits::*;
    let mut w = Vec::new();
    if f.body_fraction < BODY_FRACTION.0 {
        w.push(format!(
            "the body covers only {:.0} % of the image",
            f.body_fraction * 100.0
        ));
        // The other measurements mean little without a body.
        return w;
    }
    if f.body_fraction > BODY_FRACTION.1 {
        w.push(format!(
            "the body fills {:.0} % of the image (a close-up or not a cross-section)",
            f.body_fraction * 100.0
        ));
    }
    if !(BODY_ASPECT.0..=BODY_ASPECT.1).contains(&f.body_aspect) {
        w.push(format!(
            "the body outline's width/height is {:.2} (abdomen: {}–{})",
            f.body_aspect, BODY_ASPECT.0, BODY_ASPECT.1
        ));
    }
    let off = (f.body_centre[0] - 0.5).hypot(f.body_centre[1] - 0.5);
    if off > CENTRE_OFFSET {
        w.push("the body is far from the image centre".to_string());
    }
    if f.inner_air > INNER_AIR {
        w.push(format!(
            "{:.0} % of the body is air-dark (lungs or a lot of gas)",
            f.inner_air * 100.0
        ));
    }
    if f.bright < BRIGHT.0 {
        w.push("no bone is visible".to_string());
    } else if f.bright > BRIGHT.1 {
        w.push(format!(
            "{:.0} % of the body is bone-bright (another window or body region)",
            f.bright * 100.0
        ));
    }
    if f.soft_tissue < SOFT_TISSUE {
        w.push(format!(
            "only {:.0} % of the body is soft tissue",
            f.soft_tissue * 100.0
        ));
    }
    if f.outside_bright > OUTSIDE_BRIGHT {
        w.push(format!(
            "{:.0} % of the area outside the body is not dark",
            f.outside_bright * 100.0
        ));
    }
    if let Some(l) = f.level {
        if let Some(mm) = l.body_width_mm.filter(|&mm| mm < MIN_BODY_WIDTH_MM) {
            w.push(format!(
                "the body is only {mm:.0} mm wide (an adult abdomen: 250–400 mm): a neck, a limb or a small child"
            ));
        }
        if l.lung_share > LUNG_SHARE {
            w.push(format!(
                "lungs fill {:.0} % of the back of the body: a chest slice, above the kidneys",
                l.lung_share * 100.0
            ));
        }
        if l.lateral_bone > LATERAL_BONE {
            w.push(format!(
                "large bone reaches {:.0} % of the way to the body's sides, where at kidney level only the spine is large: a pelvis (iliac wings, hips), shoulder or head slice",
                l.lateral_bone.min(1.0) * 100.0
            ));
        }
    }
    w
}

const AIR_LEVEL: f32 = 0.04;
const BRIGHT_LEVEL: f32 = 0.97;
const SOFT_BAND: (f32, f32) = (0.25, 0.90);

/// Measures [`Features`] on a `side`×`side` image in [0, 1].
pub fn features(img: &[f32], side: usize) -> Features {
    let n = side * side;
    if img.len() != n || side == 0 {
        return Features {
            body_fraction: 0.0,
            body_aspect: 0.0,
            body_centre: [0.0, 0.0],
            inner_air: 0.0,
            bright: 0.0,
            soft_tissue: 0.0,
            outside_bright: 0.0,
            level: None,
        };
    }
    // Largest 4-connected component above the body level.
    let fg: Vec<bool> = img.iter().map(|&v| v > BODY_LEVEL).collect();
    let body = fill_holes(&largest_component(&fg, side), side);
    let (mut air, mut bright, mut soft) = (0usize, 0usize, 0usize);
    let (mut out_n, mut out_bright) = (0usize, 0usize);
    for (&v, &inside) in img.iter().zip(&body) {
        if !inside {
            out_n += 1;
            out_bright += usize::from(v > BODY_LEVEL);
            continue;
        }
        air += usize::from(v < AIR_LEVEL);
        bright += usize::from(v >= BRIGHT_LEVEL);
        soft += usize::from(v > SOFT_BAND.0 && v < SOFT_BAND.1);
    }
    let Some(Extent {
        area,
        centre: [cx, cy],
        cols: (x0, x1),
        rows: (y0, y1),
    }) = extent(&body, side)
    else {
        return Features {
            body_fraction: 0.0,
            body_aspect: 0.0,
            body_centre: [0.0, 0.0],
            inner_air: 0.0,
            bright: 0.0,
            soft_tissue: 0.0,
            outside_bright: out_bright as f64 / out_n.max(1) as f64,
            level: None,
        };
    };
    let (w, h) = ((x1 - x0 + 1) as f64, (y1 - y0 + 1) as f64);
    let a = area as f64;
    Features {
        body_fraction: a / n as f64,
        body_aspect: w / h,
        body_centre: [cx / side as f64, cy / side as f64],
        inner_air: air as f64 / a,
        bright: bright as f64 / a,
        soft_tissue: soft as f64 / a,
        outside_bright: out_bright as f64 / out_n.max(1) as f64,
        level: None,
    }
}
