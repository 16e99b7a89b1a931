//! Loader behaviour on synthetic DICOM objects built here: HU conversion,
//! bit masking, MONOCHROME1, frames, headless files, big endian, series order
//! and every refusal path.

mod common;

use std::path::Path;

use dicom_core::smallvec::SmallVec;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_object::meta::FileMetaTableBuilder;
use privact::imaging::dicom::series::load_series;
use privact::imaging::{LoadOptions, Units, load_bytes};

const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";

fn s(tag: Tag, vr: VR, v: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(v))
}
fn us(tag: Tag, v: u16) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::US, PrimitiveValue::from(v))
}

/// A single-sample image object; `pixels` are raw OW words or OB bytes.
fn image(
    modality: &str,
    rows: u16,
    cols: u16,
    bits: (u16, u16),
    signed: bool,
    photometric: &str,
    pixels: PrimitiveValue,
) -> InMemDicomObject {
    let vr = if bits.0 == 8 { VR::OB } else { VR::OW };
    InMemDicomObject::from_element_iter([
        s(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.2"),
        s(tags::SOP_INSTANCE_UID, VR::UI, "2.25.1"),
        s(tags::MODALITY, VR::CS, modality),
        us(tags::SAMPLES_PER_PIXEL, 1),
        s(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, photometric),
        us(tags::ROWS, rows),
        us(tags::COLUMNS, cols),
        us(tags::BITS_ALLOCATED, bits.0),
        us(tags::BITS_STORED, bits.1),
        us(tags::HIGH_BIT, bits.1 - 1),
        us(tags::PIXEL_REPRESENTATION, u16::from(signed)),
        DataElement::new(tags::PIXEL_DATA, vr, pixels),
    ])
}

fn encode(obj: InMemDicomObject, ts: &str) -> Vec<u8> {
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(ts)
        .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.2")
        .media_storage_sop_instance_uid("2.25.1")
        .build()
        .unwrap();
    let mut out = Vec::new();
    obj.with_exact_meta(meta).write_all(&mut out).unwrap();
    out
}

fn words(v: &[u16]) -> PrimitiveValue {
    PrimitiveValue::U16(SmallVec::from_slice(v))
}

fn load(bytes: &[u8]) -> Result<privact::imaging::Slice, privact::imaging::ImagingError> {
    load_bytes(bytes, Path::new("synthetic.dcm"), &LoadOptions::default())
}

#[test]
fn rescale_to_hu_with_bits_stored_masking() {
    // 12 stored bits in 16: the top nibble holds garbage (e.g. overlay bits).
    let mut obj = image(
        "CT",
        1,
        3,
        (16, 12),
        false,
        "MONOCHROME2",
        words(&[0xF000, 0x0400, 0x0FFF]),
    );
    obj.put(s(tags::RESCALE_INTERCEPT, VR::DS, "-1024"));
    obj.put(s(tags::RESCALE_SLOPE, VR::DS, "1"));
    let sl = load(&encode(obj, EXPLICIT_LE)).unwrap();
    assert_eq!(sl.units, Units::Hu);
    assert_eq!(sl.values, vec![-1024.0, 0.0, 3071.0]);
}

#[test]
fn signed_pixels_and_slope() {
    // 16-bit signed, slope 2, intercept 10: −5 → 0, 100 → 210.
    let mut obj = image(
        "CT",
        1,
        2,
        (16, 16),
        true,
        "MONOCHROME2",
        words(&[(-5i16) as u16, 100]),
    );
    obj.put(s(tags::RESCALE_INTERCEPT, VR::DS, "10"));
    obj.put(s(tags::RESCALE_SLOPE, VR::DS, "2"));
    let sl = load(&encode(obj, IMPLICIT_LE)).unwrap();
    assert_eq!(sl.values, vec![0.0, 210.0]);
}

#[test]
fn monochrome1_is_inverted_and_not_hu() {
    let obj = image(
        "CR",
        1,
        3,
        (8, 8),
        false,
        "MONOCHROME1",
        PrimitiveValue::from(vec![0u8, 255, 10, 0]),
    );
    let sl = load(&encode(obj, EXPLICIT_LE)).unwrap();
    assert_eq!(sl.values, vec![255.0, 0.0, 245.0]);
    assert_eq!(sl.units, Units::Raw);
}

#[test]
fn big_endian_and_headless_files_read() {
    let obj = image(
        "MR",
        2,
        2,
        (16, 16),
        false,
        "MONOCHROME2",
        words(&[1, 2, 300, 65535]),
    );
    let be = encode(obj.clone(), EXPLICIT_BE);
    assert_eq!(load(&be).unwrap().values, vec![1.0, 2.0, 300.0, 65535.0]);
    // Headless implicit VR LE: just the data set, no preamble or meta group.
    let mut headless = Vec::new();
    obj.write_dataset_with_ts(
        &mut headless,
        &dicom_transfer_syntax_registry::entries::IMPLICIT_VR_LITTLE_ENDIAN.erased(),
    )
    .unwrap();
    assert_ne!(&headless[..4], b"DICM");
    let sl = load(&headless).unwrap();
    assert_eq!(sl.values, vec![1.0, 2.0, 300.0, 65535.0]);
    assert_eq!(sl.info.unwrap().transfer_syntax_uid, IMPLICIT_LE);
}

#[test]
fn multi_frame_picks_the_frame() {
    let mut obj = image(
        "CT",
        1,
        2,
        (16, 16),
        false,
        "MONOCHROME2",
        words(&[1, 2, 3, 4, 5, 6]),
    );
    obj.put(s(tags::NUMBER_OF_FRAMES, VR::IS, "3"));
    let bytes = encode(obj, EXPLICIT_LE);
    let f2 = load_bytes(&bytes, Path::new("m.dcm"), &LoadOptions { frame: 2 }).unwrap();
    assert_eq!(f2.values, vec![5.0, 6.0]);
    let e = load_bytes(&bytes, Path::new("m.dcm"), &LoadOptions { frame: 3 }).unwrap_err();
    assert_eq!(e.code(), "frame_out_of_range");
}

#[test]
fn refusals_are_typed_and_name_the_file() {
    // Declared 60000×60000 with 8 bytes of data: refused before allocating.
    let huge = image(
        "CT",
        60000,
        60000,
        (16, 16),
        false,
        "MONOCHROME2",
        words(&[0, 0, 0, 0]),
    );
    let e = load(&encode(huge, EXPLICIT_LE)).unwrap_err();
    assert_eq!(e.code(), "too_large");
    assert!(
        e.to_string()
            .starts_with("synthetic.dcm: dimensions exceed limit"),
        "{e}"
    );

    let short = image(
        "CT",
        10,
        10,
        (16, 16),
        false,
        "MONOCHROME2",
        words(&[0; 10]),
    );
    let e = load(&encode(short, EXPLICIT_LE)).unwrap_err();
    assert_eq!(e.code(), "inconsistent_length");
    assert!(
        e.to_string().contains("expected 200 bytes, found 20"),
        "{e}"
    );

    let mut nopix = image("CT", 1, 1, (16, 16), false, "MONOCHROME2", words(&[0]));
    nopix.remove_element(tags::PIXEL_DATA);
    assert_eq!(
        load(&encode(nopix, EXPLICIT_LE)).unwrap_err().code(),
        "no_pixel_data"
    );

    // Video is not an image codec this reader has (JPEG-LS is, since issue 16).
    let mpeg = image("CT", 1, 1, (16, 16), false, "MONOCHROME2", words(&[0]));
    let e = load(&encode(mpeg, "1.2.840.10008.1.2.4.100")).unwrap_err();
    assert_eq!(e.code(), "unsupported_transfer_syntax");
    assert!(e.to_string().contains("1.2.840.10008.1.2.4.100 ("), "{e}");
    // Native (unencapsulated) pixel data under the JPEG-LS syntax is malformed, said so.
    let jls = image("CT", 1, 1, (16, 16), false, "MONOCHROME2", words(&[0]));
    let e = load(&encode(jls, "1.2.840.10008.1.2.4.80")).unwrap_err();
    assert_eq!(e.code(), "malformed", "{e}");

    let e = load(b"hello, this is not an image at all").unwrap_err();
    assert_eq!(e.code(), "not_dicom");

    // Truncation anywhere in a valid file is reported, never a panic.
    let full = privact::imaging::phantom::Phantom::default()
        .dicom_bytes()
        .unwrap();
    for cut in [140usize, 300, 1003, full.len() / 2, full.len() - 1] {
        let e = load(&full[..cut]).unwrap_err();
        assert!(
            matches!(e.code(), "truncated" | "inconsistent_length" | "malformed"),
            "cut {cut}: {e}"
        );
        assert!(!e.to_string().contains('\n'));
    }
    let e = load(&full[..full.len() / 2]).unwrap_err();
    assert_eq!(e.code(), "truncated");
}

#[test]
fn series_is_sorted_along_the_patient_axis() {
    let dir = common::temp_dir("series");
    for (name, z, inst) in [("a.dcm", 10.0, 3), ("b.dcm", -5.0, 1), ("c.dcm", 2.5, 2)] {
        let mut obj = image("CT", 1, 1, (16, 16), false, "MONOCHROME2", words(&[inst]));
        obj.put(s(tags::SERIES_INSTANCE_UID, VR::UI, "2.25.77"));
        obj.put(s(
            tags::IMAGE_ORIENTATION_PATIENT,
            VR::DS,
            "1\\0\\0\\0\\1\\0",
        ));
        obj.put(s(
            tags::IMAGE_POSITION_PATIENT,
            VR::DS,
            &format!("0\\0\\{z}"),
        ));
        obj.put(s(tags::INSTANCE_NUMBER, VR::IS, &inst.to_string()));
        std::fs::write(dir.join(name), encode(obj, EXPLICIT_LE)).unwrap();
    }
    std::fs::write(dir.join("notes.txt"), "not DICOM").unwrap();
    let series = load_series(&dir).unwrap();
    let order: Vec<f32> = series.slices.iter().map(|s| s.values[0]).collect();
    assert_eq!(order, vec![1.0, 2.0, 3.0]);
    std::fs::remove_dir_all(&dir).ok();
}
