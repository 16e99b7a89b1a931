//! Typed view of the tags the app shows or needs.
//!
//! Parsing is forgiving: a malformed optional tag becomes `None` rather than
//! refusing an otherwise readable image.

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use serde::Serialize;

/// Patient identifiers. The UI masks these by default; never log or persist them.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct PatientIds {
    pub name: Option<String>,
    pub id: Option<String>,
    pub birth_date: Option<String>,
    pub sex: Option<String>,
}

/// Key DICOM attributes of one image object.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct DicomInfo {
    pub modality: Option<String>,
    pub sop_class_uid: Option<String>,
    pub sop_instance_uid: Option<String>,
    pub study_instance_uid: Option<String>,
    pub series_instance_uid: Option<String>,
    pub rows: u32,
    pub columns: u32,
    pub frames: u32,
    pub samples_per_pixel: u16,
    pub photometric_interpretation: Option<String>,
    pub bits_allocated: u16,
    pub bits_stored: u16,
    pub pixel_representation: u16,
    pub transfer_syntax_uid: String,
    pub transfer_syntax: String,
    /// (row spacing, column spacing) in mm.
    pub pixel_spacing_mm: Option<[f64; 2]>,
    pub slice_thickness_mm: Option<f64>,
    pub kvp: Option<f64>,
    pub tube_current_ma: Option<f64>,
    pub exposure_mas: Option<f64>,
    pub ctdi_vol_mgy: Option<f64>,
    pub rescale_slope: Option<f64>,
    pub rescale_intercept: Option<f64>,
    pub rescale_type: Option<String>,
    /// First (center, width) pair of the default VOI window, if any.
    pub window_center: Option<f64>,
    pub window_width: Option<f64>,
    pub instance_number: Option<i64>,
    pub image_position_patient: Option<[f64; 3]>,
    pub image_orientation_patient: Option<[f64; 6]>,
    /// (0012,0062) Patient Identity Removed, when present.
    pub patient_identity_removed: Option<bool>,
    /// (0012,0063) De-identification Method, when present.
    pub deidentification_method: Option<String>,
    pub patient: PatientIds,
    pub image_type: Option<String>,
    /// What the loader repaired to read the file, as other readers do (a stale second file
    /// meta group skipped, CP-246 UN sequences, a malformed private sequence skipped); empty
    /// for a well-formed file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repairs: Vec<String>,
}

impl DicomInfo {
    /// True when the object says it was de-identified (PS3.15 E.1).
    pub fn deidentified(&self) -> bool {
        self.patient_identity_removed == Some(true)
    }
}

/// Text of an element whose VR was lost (UN, e.g. after a private-syntax
/// conversion): the raw bytes, when they are printable ASCII.
fn un_text(e: &dicom_object::mem::InMemElement) -> Option<String> {
    if e.vr() != dicom_core::VR::UN {
        return None;
    }
    let bytes = e.value().to_bytes().ok()?;
    let ok = bytes.iter().all(|&b| b == 0 || (0x20..0x7F).contains(&b));
    ok.then(|| String::from_utf8_lossy(&bytes).to_string())
}

pub(crate) fn string(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let e = obj.element_opt(tag).ok().flatten()?;
    let s = match un_text(e) {
        Some(t) => std::borrow::Cow::Owned(t),
        None => e.to_str().ok()?,
    };
    let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!s.is_empty()).then(|| s.to_string())
}

pub(crate) fn floats(obj: &InMemDicomObject, tag: Tag) -> Option<Vec<f64>> {
    let e = obj.element_opt(tag).ok().flatten()?;
    let v = match un_text(e) {
        // Decimal strings (DS/IS) whose VR was lost.
        Some(t) => t
            .trim_matches(|c: char| c == '\0' || c.is_whitespace())
            .split('\\')
            .map(|p| p.trim().parse::<f64>().ok())
            .collect::<Option<Vec<f64>>>()?,
        None => e.to_multi_float64().ok()?,
    };
    (!v.is_empty() && v.iter().all(|x| x.is_finite())).then_some(v)
}

pub(crate) fn float(obj: &InMemDicomObject, tag: Tag) -> Option<f64> {
    floats(obj, tag).and_then(|v| v.first().copied())
}

pub(crate) fn int(obj: &InMemDicomObject, tag: Tag) -> Option<i64> {
    let e = obj.element_opt(tag).ok().flatten()?;
    e.to_int::<i64>().ok()
}

fn array<const N: usize>(obj: &InMemDicomObject, tag: Tag) -> Option<[f64; N]> {
    let v = floats(obj, tag)?;
    v.get(..N)?.try_into().ok()
}

/// First item of a sequence, if the element is a non-empty sequence.
pub(crate) fn first_item(obj: &InMemDicomObject, tag: Tag) -> Option<&InMemDicomObject> {
    obj.element_opt(tag).ok().flatten()?.items()?.first()
}

/// Rescale slope/intercept/type, looking into the functional groups of
/// enhanced multi-frame objects (PS3.3 C.7.6.16.2.9) when the top level has none.
pub(crate) fn rescale(
    obj: &InMemDicomObject,
    frame: u32,
) -> (Option<f64>, Option<f64>, Option<String>) {
    let top = (
        float(obj, tags::RESCALE_SLOPE),
        float(obj, tags::RESCALE_INTERCEPT),
        string(obj, tags::RESCALE_TYPE),
    );
    if top.0.is_some() || top.1.is_some() {
        return top;
    }
    let per_frame = obj
        .element_opt(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .ok()
        .flatten()
        .and_then(|e| e.items())
        .and_then(|items| items.get(frame as usize));
    let shared = first_item(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
    for group in [per_frame, shared].into_iter().flatten() {
        if let Some(pvt) = first_item(group, tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE) {
            let s = float(pvt, tags::RESCALE_SLOPE);
            let i = float(pvt, tags::RESCALE_INTERCEPT);
            if s.is_some() || i.is_some() {
                return (s, i, string(pvt, tags::RESCALE_TYPE));
            }
        }
    }
    top
}

/// Pixel spacing, also from the functional groups of enhanced objects.
fn spacing(obj: &InMemDicomObject) -> Option<[f64; 2]> {
    if let Some(s) = array::<2>(obj, tags::PIXEL_SPACING) {
        return Some(s);
    }
    let shared = first_item(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE)?;
    let pm = first_item(shared, tags::PIXEL_MEASURES_SEQUENCE)?;
    array::<2>(pm, tags::PIXEL_SPACING)
}

fn window(obj: &InMemDicomObject) -> (Option<f64>, Option<f64>) {
    let c = float(obj, tags::WINDOW_CENTER);
    let w = float(obj, tags::WINDOW_WIDTH);
    if c.is_some() && w.is_some() {
        return (c, w);
    }
    let voi = first_item(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE)
        .and_then(|s| first_item(s, tags::FRAME_VOILUT_SEQUENCE));
    match voi {
        Some(v) => (float(v, tags::WINDOW_CENTER), float(v, tags::WINDOW_WIDTH)),
        None => (c, w),
    }
}

/// Reads the typed tag set from a parsed object.
pub fn read_info(obj: &InMemDicomObject, ts_uid: &str, ts_name: &str) -> DicomInfo {
    let (slope, intercept, rescale_type) = rescale(obj, 0);
    let (wc, ww) = window(obj);
    let u16_tag = |t| int(obj, t).and_then(|v| u16::try_from(v).ok());
    DicomInfo {
        modality: string(obj, tags::MODALITY),
        sop_class_uid: string(obj, tags::SOP_CLASS_UID),
        sop_instance_uid: string(obj, tags::SOP_INSTANCE_UID),
        study_instance_uid: string(obj, tags::STUDY_INSTANCE_UID),
        series_instance_uid: string(obj, tags::SERIES_INSTANCE_UID),
        rows: u16_tag(tags::ROWS).map(u32::from).unwrap_or(0),
        columns: u16_tag(tags::COLUMNS).map(u32::from).unwrap_or(0),
        frames: int(obj, tags::NUMBER_OF_FRAMES)
            .and_then(|v| u32::try_from(v).ok())
            .filter(|&v| v > 0)
            .unwrap_or(1),
        samples_per_pixel: u16_tag(tags::SAMPLES_PER_PIXEL).unwrap_or(1),
        photometric_interpretation: string(obj, tags::PHOTOMETRIC_INTERPRETATION),
        bits_allocated: u16_tag(tags::BITS_ALLOCATED).unwrap_or(0),
        bits_stored: u16_tag(tags::BITS_STORED)
            .or(u16_tag(tags::BITS_ALLOCATED))
            .unwrap_or(0),
        pixel_representation: u16_tag(tags::PIXEL_REPRESENTATION).unwrap_or(0),
        transfer_syntax_uid: ts_uid.to_string(),
        transfer_syntax: ts_name.to_string(),
        pixel_spacing_mm: spacing(obj),
        slice_thickness_mm: float(obj, tags::SLICE_THICKNESS),
        kvp: float(obj, tags::KVP),
        tube_current_ma: float(obj, tags::X_RAY_TUBE_CURRENT),
        exposure_mas: float(obj, tags::EXPOSURE),
        ctdi_vol_mgy: float(obj, tags::CTD_IVOL),
        rescale_slope: slope,
        rescale_intercept: intercept,
        rescale_type,
        window_center: wc,
        window_width: ww,
        instance_number: int(obj, tags::INSTANCE_NUMBER),
        image_position_patient: array::<3>(obj, tags::IMAGE_POSITION_PATIENT),
        image_orientation_patient: array::<6>(obj, tags::IMAGE_ORIENTATION_PATIENT),
        patient_identity_removed: string(obj, tags::PATIENT_IDENTITY_REMOVED)
            .map(|s| s.eq_ignore_ascii_case("YES")),
        deidentification_method: string(obj, tags::DEIDENTIFICATION_METHOD),
        patient: PatientIds {
            name: string(obj, tags::PATIENT_NAME),
            id: string(obj, tags::PATIENT_ID),
            birth_date: string(obj, tags::PATIENT_BIRTH_DATE),
            sex: string(obj, tags::PATIENT_SEX),
        },
        image_type: string(obj, tags::IMAGE_TYPE),
        repairs: Vec::new(),
    }
}
