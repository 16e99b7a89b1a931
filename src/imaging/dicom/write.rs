//! Writing CT images as DICOM (the phantom and derived simulation outputs).
//!
//! Output is always Explicit VR Little Endian with 16-bit unsigned samples and
//! RescaleIntercept −1024, the most widely readable CT encoding.

use std::path::Path;

use dicom_core::smallvec::SmallVec;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_object::meta::FileMetaTableBuilder;

use super::transfer_syntax::EXPLICIT_VR_LE;
use crate::imaging::error::{ErrorKind, ImagingError, one_line};

/// Identifies files written by PrivaCT (a 2.25 UUID-derived root).
const IMPLEMENTATION_CLASS_UID: &str = "2.25.242402174516411146658331316547364961812";
const CT_IMAGE_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.2";
const HU_OFFSET: f32 = 1024.0;

/// A UID under the 2.25 root from 128 bits (PS3.5 B.2).
pub fn uid_from_u128(v: u128) -> String {
    format!("2.25.{v}")
}

/// A fresh random UID.
pub fn random_uid() -> String {
    uid_from_u128(rand::random::<u128>())
}

fn put_str(obj: &mut InMemDicomObject, tag: Tag, vr: VR, v: &str) {
    obj.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
}

fn put_u16(obj: &mut InMemDicomObject, tag: Tag, v: u16) {
    obj.put(DataElement::new(tag, VR::US, PrimitiveValue::from(v)));
}

fn ds(v: f64) -> String {
    // DS is at most 16 characters.
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    s.chars().take(16).collect()
}

/// Stores HU values as unsigned 16-bit with the −1024 intercept (clamped).
fn hu_to_stored(hu: &[f32]) -> Vec<u16> {
    hu.iter()
        .map(|&h| {
            let v = if h.is_finite() {
                (h + HU_OFFSET).round()
            } else {
                0.0
            };
            v.clamp(0.0, f32::from(u16::MAX)) as u16
        })
        .collect()
}

/// Sets the image pixel module for a HU image.
fn put_pixels(
    obj: &mut InMemDicomObject,
    rows: usize,
    cols: usize,
    hu: &[f32],
) -> Result<(), ErrorKind> {
    let (r, c) = match (u16::try_from(rows), u16::try_from(cols)) {
        (Ok(r), Ok(c)) if rows * cols == hu.len() && rows > 0 && cols > 0 => (r, c),
        _ => {
            return Err(ErrorKind::InvalidArgument(format!(
                "{rows}×{cols} image with {} values",
                hu.len()
            )));
        }
    };
    put_u16(obj, tags::ROWS, r);
    put_u16(obj, tags::COLUMNS, c);
    put_u16(obj, tags::SAMPLES_PER_PIXEL, 1);
    put_str(obj, tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2");
    put_u16(obj, tags::BITS_ALLOCATED, 16);
    put_u16(obj, tags::BITS_STORED, 16);
    put_u16(obj, tags::HIGH_BIT, 15);
    put_u16(obj, tags::PIXEL_REPRESENTATION, 0);
    put_str(obj, tags::RESCALE_INTERCEPT, VR::DS, "-1024");
    put_str(obj, tags::RESCALE_SLOPE, VR::DS, "1");
    put_str(obj, tags::RESCALE_TYPE, VR::LO, "HU");
    for t in [
        tags::NUMBER_OF_FRAMES,
        tags::PLANAR_CONFIGURATION,
        tags::PIXEL_PADDING_VALUE,
        tags::SMALLEST_IMAGE_PIXEL_VALUE,
        tags::LARGEST_IMAGE_PIXEL_VALUE,
    ] {
        obj.remove_element(t);
    }
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::U16(SmallVec::from_vec(hu_to_stored(hu))),
    ));
    Ok(())
}

fn finish(obj: InMemDicomObject, sop_instance: &str) -> Result<Vec<u8>, ErrorKind> {
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(EXPLICIT_VR_LE)
        .media_storage_sop_class_uid(CT_IMAGE_STORAGE)
        .media_storage_sop_instance_uid(sop_instance)
        .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
        .implementation_version_name("PRIVACT")
        .build()
        .map_err(|e| ErrorKind::Write(one_line(e)))?;
    let file = obj.with_exact_meta(meta);
    let mut out = Vec::new();
    file.write_all(&mut out)
        .map_err(|e| ErrorKind::Write(one_line(e)))?;
    Ok(out)
}

/// Descriptive and identifying fields of a new CT object.
#[derive(Debug, Clone)]
pub struct CtDescription {
    pub patient_name: String,
    pub patient_id: String,
    pub study_uid: String,
    pub series_uid: String,
    pub sop_instance_uid: String,
    pub series_description: String,
    pub pixel_spacing_mm: [f64; 2],
    pub slice_thickness_mm: f64,
    pub kvp: f64,
    /// Default display window (center, width).
    pub window: (f64, f64),
    /// Content date, YYYYMMDD.
    pub date: String,
}

/// Encodes a new single-frame CT Image Storage object from HU values.
pub fn ct_bytes(
    rows: usize,
    cols: usize,
    hu: &[f32],
    d: &CtDescription,
) -> Result<Vec<u8>, ErrorKind> {
    let mut obj = InMemDicomObject::new_empty();
    put_str(&mut obj, tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100");
    put_str(
        &mut obj,
        tags::IMAGE_TYPE,
        VR::CS,
        "ORIGINAL\\PRIMARY\\AXIAL",
    );
    put_str(&mut obj, tags::SOP_CLASS_UID, VR::UI, CT_IMAGE_STORAGE);
    put_str(
        &mut obj,
        tags::SOP_INSTANCE_UID,
        VR::UI,
        &d.sop_instance_uid,
    );
    put_str(&mut obj, tags::STUDY_DATE, VR::DA, &d.date);
    put_str(&mut obj, tags::CONTENT_DATE, VR::DA, &d.date);
    put_str(&mut obj, tags::STUDY_TIME, VR::TM, "120000");
    put_str(&mut obj, tags::ACCESSION_NUMBER, VR::SH, "");
    put_str(&mut obj, tags::MODALITY, VR::CS, "CT");
    put_str(&mut obj, tags::MANUFACTURER, VR::LO, "PrivaCT");
    put_str(&mut obj, tags::REFERRING_PHYSICIAN_NAME, VR::PN, "");
    put_str(
        &mut obj,
        tags::SERIES_DESCRIPTION,
        VR::LO,
        &d.series_description,
    );
    put_str(&mut obj, tags::PATIENT_NAME, VR::PN, &d.patient_name);
    put_str(&mut obj, tags::PATIENT_ID, VR::LO, &d.patient_id);
    put_str(&mut obj, tags::PATIENT_BIRTH_DATE, VR::DA, "");
    put_str(&mut obj, tags::PATIENT_SEX, VR::CS, "O");
    put_str(&mut obj, tags::PATIENT_IDENTITY_REMOVED, VR::CS, "YES");
    put_str(
        &mut obj,
        tags::DEIDENTIFICATION_METHOD,
        VR::LO,
        "Synthetic phantom, no patient data",
    );
    put_str(
        &mut obj,
        tags::SLICE_THICKNESS,
        VR::DS,
        &ds(d.slice_thickness_mm),
    );
    put_str(&mut obj, tags::KVP, VR::DS, &ds(d.kvp));
    put_str(&mut obj, tags::STUDY_INSTANCE_UID, VR::UI, &d.study_uid);
    put_str(&mut obj, tags::SERIES_INSTANCE_UID, VR::UI, &d.series_uid);
    put_str(&mut obj, tags::STUDY_ID, VR::SH, "1");
    put_str(&mut obj, tags::SERIES_NUMBER, VR::IS, "1");
    put_str(&mut obj, tags::INSTANCE_NUMBER, VR::IS, "1");
    put_str(&mut obj, tags::PATIENT_ORIENTATION, VR::CS, "L\\P");
    put_str(
        &mut obj,
        tags::IMAGE_POSITION_PATIENT,
        VR::DS,
        &format!(
            "{}\\{}\\0",
            ds(-(cols as f64) * d.pixel_spacing_mm[1] / 2.0),
            ds(-(rows as f64) * d.pixel_spacing_mm[0] / 2.0)
        ),
    );
    put_str(
        &mut obj,
        tags::IMAGE_ORIENTATION_PATIENT,
        VR::DS,
        "1\\0\\0\\0\\1\\0",
    );
    put_str(&mut obj, tags::FRAME_OF_REFERENCE_UID, VR::UI, &d.study_uid);
    put_str(&mut obj, tags::POSITION_REFERENCE_INDICATOR, VR::LO, "");
    put_str(
        &mut obj,
        tags::PIXEL_SPACING,
        VR::DS,
        &format!(
            "{}\\{}",
            ds(d.pixel_spacing_mm[0]),
            ds(d.pixel_spacing_mm[1])
        ),
    );
    put_str(&mut obj, tags::WINDOW_CENTER, VR::DS, &ds(d.window.0));
    put_str(&mut obj, tags::WINDOW_WIDTH, VR::DS, &ds(d.window.1));
    put_pixels(&mut obj, rows, cols, hu)?;
    finish(obj, &d.sop_instance_uid)
}

/// Re-encodes `source` (a CT DICOM file) with new HU pixels, keeping its tags
/// and marking the object as a derived image of a new series.
pub fn derived_bytes(
    source: &[u8],
    source_path: &Path,
    rows: usize,
    cols: usize,
    hu: &[f32],
    description: &str,
) -> Result<Vec<u8>, ImagingError> {
    let err = |k| ImagingError::new(source_path, k);
    // Parse with the same safety checks as the loader.
    let slice = super::load_dicom_bytes(source, source_path, &super::LoadOptions::default())?;
    if slice.rows != rows || slice.cols != cols {
        return Err(err(ErrorKind::InvalidArgument(format!(
            "derived image is {rows}×{cols} but the source is {}×{}",
            slice.rows, slice.cols
        ))));
    }
    let start = if source.get(128..132) == Some(b"DICM".as_slice()) {
        128
    } else {
        0
    };
    let mut obj = dicom_object::OpenFileOptions::new()
        .read_preamble(dicom_object::file::ReadPreamble::Never)
        .from_reader(source.get(start..).unwrap_or_default())
        .map(|f| f.into_inner())
        .or_else(|_| {
            // Headless source: re-read its data set with the detected syntax.
            let uid = slice
                .info
                .as_ref()
                .map(|i| i.transfer_syntax_uid.clone())
                .unwrap_or_default();
            let ts = dicom_encoding::TransferSyntaxIndex::get(
                &dicom_transfer_syntax_registry::TransferSyntaxRegistry,
                &uid,
            )
            .ok_or_else(|| err(ErrorKind::Malformed("unknown transfer syntax".into())))?;
            InMemDicomObject::read_dataset_with_ts(source, ts)
                .map_err(|e| err(ErrorKind::Malformed(one_line(e))))
        })?;
    let sop = random_uid();
    let orig_type = super::tags::string(&obj, tags::IMAGE_TYPE).unwrap_or_default();
    let rest: Vec<&str> = orig_type.split('\\').skip(2).collect();
    let mut image_type = String::from("DERIVED\\SECONDARY");
    for r in rest {
        image_type.push('\\');
        image_type.push_str(r);
    }
    put_str(&mut obj, tags::IMAGE_TYPE, VR::CS, &image_type);
    put_str(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, &sop);
    put_str(&mut obj, tags::SERIES_INSTANCE_UID, VR::UI, &random_uid());
    put_str(&mut obj, tags::SERIES_DESCRIPTION, VR::LO, description);
    put_str(&mut obj, tags::DERIVATION_DESCRIPTION, VR::ST, description);
    put_str(&mut obj, tags::SOP_CLASS_UID, VR::UI, CT_IMAGE_STORAGE);
    // Functional groups of enhanced objects would contradict the new single frame.
    obj.remove_element(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE);
    obj.remove_element(tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
    put_pixels(&mut obj, rows, cols, hu).map_err(err)?;
    finish(obj, &sop).map_err(err)
}
