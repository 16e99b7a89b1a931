//! Phantom, DICOM round trip, HU conversion and windowing; no external data.

use std::path::Path;

use privact::imaging::phantom::{CYST_AT, LIVER_POINT, Lesion, Phantom, TUMOR_AT, hu};
use privact::imaging::window::{Preset, Window};
use privact::imaging::{LoadOptions, Units, load_bytes};

#[test]
fn phantom_has_expected_tissues() {
    let p = Phantom::new(Lesion::None);
    let s = p.hu();
    assert_eq!((s.rows, s.cols, s.units), (512, 512, Units::Hu));
    let at = |x: f64, y: f64| {
        let (r, c) = p.pixel_of_mm(x, y);
        s.get(r, c).unwrap()
    };
    assert_eq!(at(-175.0, -170.0), hu::AIR);
    assert_eq!(at(LIVER_POINT.0, LIVER_POINT.1), hu::LIVER);
    assert_eq!(at(0.0, 50.0), hu::BONE_MARROW);
    assert_eq!(at(12.0, 24.0), hu::AORTA);
    // Without a lesion the lesion sites are plain kidney.
    assert_eq!(at(CYST_AT.0, CYST_AT.1), hu::KIDNEY);
    let cyst = Phantom::new(Lesion::Cyst).hu();
    let (r, c) = p.pixel_of_mm(CYST_AT.0, CYST_AT.1);
    assert_eq!(cyst.get(r, c).unwrap(), hu::CYST);
    let tumor = Phantom::new(Lesion::Tumor).hu();
    let (r, c) = p.pixel_of_mm(TUMOR_AT.0 - 8.0, TUMOR_AT.1);
    assert_eq!(tumor.get(r, c).unwrap(), hu::TUMOR);
}

#[test]
fn phantom_dicom_round_trip_preserves_hu_and_tags() {
    let p = Phantom::new(Lesion::Tumor);
    let bytes = p.dicom_bytes().unwrap();
    assert_eq!(&bytes[128..132], b"DICM");
    assert_eq!(bytes, p.dicom_bytes().unwrap(), "deterministic");
    let s = load_bytes(&bytes, Path::new("phantom.dcm"), &LoadOptions::default()).unwrap();
    let reference = p.hu();
    assert_eq!(s.units, Units::Hu);
    // Stored as integers: at most 0.5 HU rounding.
    let worst = s
        .values
        .iter()
        .zip(&reference.values)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= 0.5, "worst {worst}");
    let info = s.info.unwrap();
    assert_eq!(info.modality.as_deref(), Some("CT"));
    assert_eq!(info.patient.id.as_deref(), Some("PHANTOM"));
    assert!(info.deidentified());
    assert_eq!(info.rescale_intercept, Some(-1024.0));
    assert_eq!(
        (info.window_center, info.window_width),
        (Some(40.0), Some(400.0))
    );
    let d = p.spacing_mm();
    assert_eq!(info.pixel_spacing_mm, Some([d, d]));
    assert!(info.sop_instance_uid.unwrap().starts_with("2.25."));
}

#[test]
fn voi_lut_linear_matches_hand_values() {
    // Abdomen: c = 40, w = 400 → lower edge 40 − 0.5 − 199.5 = −160, upper 239.
    let w = Window::new(40.0, 400.0);
    assert_eq!(w.apply(-160.0), 0);
    assert_eq!(w.apply(-1000.0), 0);
    assert_eq!(w.apply(239.5), 255);
    // x = 39.5 → ((39.5 − 39.5)/399 + 0.5)·255 = 127.5 → 128.
    assert_eq!(w.apply(39.5), 128);
    // x = 100 → ((100 − 39.5)/399 + 0.5)·255 = 166.166… → 166.
    assert_eq!(w.apply(100.0), 166);
    // x = −100 → ((−139.5)/399 + 0.5)·255 = 38.346… → 38.
    assert_eq!(w.apply(-100.0), 38);
    assert!((w.apply_unit(100.0) - 166.166_f32 / 255.0).abs() < 1e-4);
    // Width 1 is a threshold at c − 0.5.
    let t = Window::new(10.0, 1.0);
    assert_eq!((t.apply(9.5), t.apply(9.6)), (0, 255));
}

#[test]
fn presets_have_standard_values() {
    let pairs = [
        (Preset::Abdomen, 400.0, 40.0),
        (Preset::Kidney, 350.0, 40.0),
        (Preset::Liver, 150.0, 90.0),
        (Preset::Bone, 2000.0, 400.0),
        (Preset::Lung, 1500.0, -600.0),
        (Preset::Brain, 80.0, 40.0),
    ];
    for (p, w, l) in pairs {
        assert_eq!(p.fixed(), Some(Window::new(l, w)), "{}", p.label());
    }
    let dflt = Window::new(50.0, 350.0);
    assert_eq!(Preset::DicomDefault.resolve(Some(dflt), &[]), dflt);
    assert_eq!(Preset::DicomDefault.resolve(None, &[]), Window::ABDOMEN);
    let values: Vec<f32> = (0..=100).map(|v| v as f32).collect();
    let auto = Preset::Auto.resolve(None, &values);
    assert_eq!((auto.center, auto.width), (50.0, 98.0));
}
