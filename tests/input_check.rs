//! The classifier's input check (issue 15): non-CT DICOM and colour images are refused before
//! anything is encrypted; CT and 8-bit slices that do not look like an axial abdominal slice
//! at kidney level get a warning instead of a class.

mod common;

use common::{kidney_ct, privact, shared_data, temp_dir};
use privact::imaging::input_check::{self, InputRefused};
use privact::imaging::{self, Slice, Units};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "dcm"));
    v.sort();
    v
}

/// Every DICOM file of `dicom/` and `dicom-extra/` that loads: (path, slice).
fn corpus() -> Vec<(PathBuf, Slice)> {
    let Some(data) = shared_data() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for sub in [
        "dicom/pydicom-test-files",
        "dicom/pydicom-data",
        "dicom-extra",
    ] {
        for f in files_in(&data.join(sub)) {
            if let Ok(s) = imaging::load(&f) {
                out.push((f, s));
            }
        }
    }
    out
}

fn name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[test]
fn non_ct_dicom_of_the_shared_corpus_is_refused() {
    let files = corpus();
    if files.is_empty() {
        return;
    }
    let (mut refused, mut non_ct) = (Vec::new(), 0usize);
    for (path, slice) in &files {
        let info = slice.info.as_ref().expect("DICOM files carry tags");
        let modality = info.modality.clone().unwrap_or_default();
        let colour = info.samples_per_pixel > 1
            || !info
                .photometric_interpretation
                .as_deref()
                .unwrap_or("MONOCHROME2")
                .starts_with("MONOCHROME");
        let verdict = input_check::check_slice(slice);
        if modality != "CT" || colour {
            non_ct += 1;
            match &verdict {
                Err(InputRefused::NotCt { modality: m, .. }) => {
                    assert_eq!(m, &modality, "{}", name(path));
                    refused.push(name(path));
                }
                Err(InputRefused::Colour(_) | InputRefused::NoModality) => {
                    refused.push(name(path));
                }
                other => panic!(
                    "{} (modality {modality:?}, colour {colour}) was not refused: {other:?}",
                    name(path)
                ),
            }
            let msg = verdict.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(!msg.contains('\n'), "one line: {msg}");
        }
    }
    // The files the issue names: MR, ultrasound, NM, radiographs, RGB secondary captures.
    for expected in [
        "MR_small.dcm",
        "US1_UNCR.dcm",
        "nm_sopclass_nm_j2k.dcm",
        "RG1_UNCR.dcm",
        "SC_rgb.dcm",
        "OBXXXX1A.dcm",
        "emri_small.dcm",
    ] {
        assert!(
            refused.iter().any(|r| r == expected),
            "{expected} not among the refused files {refused:?}"
        );
    }
    assert!(non_ct >= 30, "only {non_ct} non-CT files found");
}

#[test]
fn cli_refuses_non_ct_with_one_line_and_a_nonzero_exit() {
    let Some(data) = shared_data() else { return };
    for (file, needle) in [
        ("dicom/pydicom-test-files/MR_small.dcm", "modality MR"),
        ("dicom/pydicom-data/US1_UNCR.dcm", "modality US"),
        ("dicom-extra/nm_sopclass_nm_j2k.dcm", "modality NM"),
        ("dicom/pydicom-data/SC_rgb.dcm", "not a CT image"),
    ] {
        let path = data.join(file);
        if !path.exists() {
            continue;
        }
        for mode in ["approx", "encrypted"] {
            let (code, out, err) =
                privact(&["classify", path.to_str().unwrap(), "--mode", mode, "--json"]);
            assert_eq!(code, 2, "{file}: {out} {err}");
            assert!(out.is_empty(), "nothing is classified: {out}");
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(
                err.starts_with("error: ") && err.contains(needle),
                "{file}: {err}"
            );
        }
    }
}

#[test]
fn colour_raster_is_refused_and_grey_raster_is_not() {
    let dir = temp_dir("input-check-colour");
    let (w, h) = (64u32, 64u32);
    let rgb =
        image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 4) as u8, (y * 4) as u8, 128]));
    let colour = dir.join("pattern.png");
    rgb.save(&colour).unwrap();
    let bytes = std::fs::read(&colour).unwrap();
    assert!(matches!(
        input_check::check_raster_colour(&bytes),
        Err(InputRefused::Colour(_))
    ));
    let (code, _, err) = privact(&["classify", colour.to_str().unwrap(), "--mode", "approx"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("colour image"), "{err}");
    // Equal channels are greyscale stored as RGB (as the kidney JPEGs' source was).
    let grey = image::RgbImage::from_fn(w, h, |x, _| image::Rgb([(x * 4) as u8; 3]));
    let gpath = dir.join("grey.png");
    grey.save(&gpath).unwrap();
    assert!(input_check::check_raster_colour(&std::fs::read(&gpath).unwrap()).is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A 256×256 8-bit slice from a function of (x, y) in [0, 1]².
fn synthetic(f: impl Fn(f64, f64) -> f32) -> Slice {
    let n = 256;
    let v = (0..n * n)
        .map(|i| f((i % n) as f64 / n as f64, (i / n) as f64 / n as f64))
        .collect();
    Slice::from_values(n, n, v, Units::Windowed8Bit)
}

#[test]
fn implausible_slices_get_a_warning() {
    let cases: Vec<(&str, Slice)> = vec![
        ("blank", synthetic(|_, _| 0.0)),
        ("white", synthetic(|_, _| 255.0)),
        (
            "noise",
            synthetic(|x, y| {
                (((x * 7919.0 + y * 104729.0).sin() * 43758.5).fract().abs() * 255.0) as f32
            }),
        ),
        ("gradient", synthetic(|x, _| (x * 255.0) as f32)),
        (
            "small disc",
            synthetic(|x, y| {
                if (x - 0.5).hypot(y - 0.5) < 0.15 {
                    120.0
                } else {
                    0.0
                }
            }),
        ),
    ];
    for (what, s) in cases {
        let p = input_check::check_slice(&s).expect("8-bit grey is not refused");
        assert!(!p.passed(), "{what} passed: {:?}", p.features);
        assert!(p.warning().is_some_and(|w| w.contains("kidney level")));
    }
}

#[test]
fn kidney_ct_slices_pass_and_the_cli_reports_no_warning() {
    let Some(kidney) = kidney_ct() else { return };
    let (mut n, mut passed) = (0usize, 0usize);
    for class in ["Normal", "Cyst", "Tumor"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(kidney.join(class))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        for f in files.iter().step_by(10) {
            let s = imaging::load(f).unwrap();
            n += 1;
            passed += usize::from(input_check::check_file(f, &s).unwrap().passed());
        }
    }
    assert!(n > 100);
    let rate = passed as f64 / n as f64;
    assert!(rate >= 0.95, "only {passed} of {n} kidney-ct slices pass");

    let file = kidney.join("Tumor").join("Tumor- (1).jpg");
    if file.exists() {
        let (code, out, err) = privact(&[
            "classify",
            file.to_str().unwrap(),
            "--mode",
            "approx",
            "--json",
        ]);
        assert_eq!(code, 0, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert!(v["warning"].is_null(), "{v}");
        assert!(v["predicted"].is_string(), "{v}");
    }
}

#[test]
fn a_failing_check_replaces_the_class_by_a_warning_in_the_json() {
    let dir = temp_dir("input-check-json");
    let blank = dir.join("blank.png");
    image::GrayImage::from_pixel(128, 128, image::Luma([0u8]))
        .save(&blank)
        .unwrap();
    let (code, out, err) = privact(&[
        "classify",
        blank.to_str().unwrap(),
        "--mode",
        "approx",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["predicted"].is_null(), "{v}");
    assert!(
        v["warning"].as_str().is_some_and(|w| w.contains("body")),
        "{v}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ct_files_of_the_corpus_are_not_refused() {
    let files = corpus();
    let mut ct = 0;
    for (path, slice) in &files {
        let info = slice.info.as_ref().expect("tags");
        let grey = info.samples_per_pixel <= 1
            && info.photometric_interpretation.as_deref() == Some("MONOCHROME2");
        if info.modality.as_deref() == Some("CT") && grey {
            ct += 1;
            // Rescale type "US" on a CT object means CT numbers: treated as HU.
            if let Err(e) = input_check::check_slice(slice) {
                panic!("{} refused: {e}", name(path));
            }
            assert_eq!(
                input_check::as_hounsfield(slice).units,
                Units::Hu,
                "{}",
                name(path)
            );
        }
    }
    if !files.is_empty() {
        assert!(ct >= 5, "only {ct} CT files");
    }
}

#[test]
fn a_close_up_gets_a_field_of_view_warning() {
    let disc = |spacing: f64| {
        let mut s = synthetic(|x, y| {
            if (x - 0.5).hypot(y - 0.5) < 0.4 {
                150.0
            } else {
                0.0
            }
        });
        s.pixel_spacing_mm = Some([spacing, spacing]);
        s
    };
    let close = |s: &Slice| {
        input_check::plausibility(s)
            .warnings
            .iter()
            .any(|w| w.contains("close-up"))
    };
    // 256 × 0.33 mm = 84 mm: a crop, not an abdomen; 256 × 1.4 mm = 358 mm is one.
    assert!(close(&disc(0.33)));
    assert!(!close(&disc(1.4)));
    // Without a known spacing (PNG/JPEG) the rule cannot apply.
    let mut unknown = disc(0.33);
    unknown.pixel_spacing_mm = None;
    assert!(!close(&unknown));
    // The pydicom corpus's CT_small.dcm is a 128 × 128 crop at 0.66 mm (85 mm).
    if let Some((path, slice)) = corpus()
        .into_iter()
        .find(|(p, _)| p.file_name().is_some_and(|n| n == "CT_small.dcm"))
    {
        let p = input_check::check_slice(&slice).expect("CT is not refused");
        assert!(
            p.warning().is_some_and(|w| w.contains("85 × 85 mm")),
            "{}: {:?}",
            name(&path),
            p.warnings
        );
    }
}

/// Anatomical level of each full-dose slice of `ldct-mayo`, read by eye on the abdomen window
/// (MODEL_CARD › Input check): `K` kidney in view, `C` chest (lungs, shoulders, heart), `P`
/// pelvis (iliac wings, hips) without kidney. Upper-abdominal and doubtful slices are left
/// out: the level rules do not claim to sort them.
const MAYO_LEVELS: &[(&str, char)] = &[
    ("L096_D45_3mm_000020", 'C'),
    ("L096_D45_3mm_000052", 'C'),
    ("L096_D45_3mm_000061", 'C'),
    ("L096_D45_3mm_000078", 'C'),
    ("L096_D45_3mm_000114", 'C'),
    ("L096_D45_3mm_000116", 'C'),
    ("L096_D45_3mm_000235", 'P'),
    ("L096_D45_3mm_000271", 'P'),
    ("L143_B30_3mm_0019", 'C'),
    ("L143_B30_3mm_0022", 'C'),
    ("L143_B30_3mm_0115", 'C'),
    ("L143_B30_3mm_0164", 'K'),
    ("L143_B30_3mm_0184", 'K'),
    ("L143_D45_3mm_000038", 'C'),
    ("L143_D45_3mm_000073", 'C'),
    ("L143_D45_3mm_000105", 'C'),
    ("L192_B30_3mm_0004", 'C'),
    ("L192_B30_3mm_0067", 'K'),
    ("L192_B30_3mm_0078", 'K'),
    ("L192_B30_3mm_0133", 'P'),
    ("L192_B30_3mm_0142", 'P'),
    ("L192_B30_3mm_0184", 'P'),
    ("L192_B30_3mm_0213", 'P'),
    ("L192_D45_3mm_000015", 'C'),
    ("L192_D45_3mm_000024", 'C'),
    ("L192_D45_3mm_000075", 'K'),
    ("L192_D45_3mm_000095", 'K'),
    ("L286_D45_3mm_000007", 'C'),
    ("L286_D45_3mm_000012", 'C'),
    ("L286_D45_3mm_000046", 'K'),
];

#[test]
fn chest_and_pelvis_slices_in_hu_get_a_level_warning_and_kidney_slices_do_not() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("ldct-mayo");
    let mut checked = 0;
    for (stem, level) in MAYO_LEVELS {
        // Full and quarter dose: the rules must not depend on the noise.
        for dose in ["FD", "QD"] {
            let path = dir.join(format!("{stem}_{dose}.IMA"));
            let Ok(slice) = imaging::load(&path) else {
                panic!("{} does not load", path.display());
            };
            let p = input_check::check_slice(&slice).expect("CT in HU is not refused");
            let level_warning = p
                .warnings
                .iter()
                .any(|w| w.contains("lungs fill") || w.contains("large bone reaches"));
            match level {
                'K' => assert!(p.passed(), "{stem} {dose}: {:?}", p.warnings),
                _ => assert!(level_warning, "{stem} {dose} ({level}): {:?}", p.features),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * MAYO_LEVELS.len());

    // The pydicom corpus: its one abdominal slice at kidney level (shown upside down, the
    // back at the top) passes; a chest slice and a head slice get the level warning.
    for (path, slice) in corpus() {
        let n = name(&path);
        let expect_pass = match n.as_str() {
            "explicit_VR-UN.dcm" => true,
            "ct_un_sequence_undefined_length.dcm" | "693_UNCI.dcm" => false,
            _ => continue,
        };
        let p = input_check::check_slice(&slice).expect("CT is not refused");
        assert_eq!(p.passed(), expect_pass, "{n}: {:?}", p.warnings);
    }
}

#[test]
fn eight_bit_images_get_no_level_measurement() {
    // The JPEG window hides the difference between air and fat, so the HU rules stay off.
    let s = synthetic(|x, y| {
        if (x - 0.5).hypot(y - 0.5) < 0.4 {
            120.0
        } else {
            0.0
        }
    });
    assert_eq!(input_check::plausibility(&s).features.level, None);
}

#[test]
fn a_body_narrower_than_an_adult_abdomen_gets_a_warning_in_hu() {
    // A 256 × 256 HU slice at 0.8 mm (205 mm field of view, not a close-up) of a soft-tissue
    // disc with a vertebra: 0.6 of the width is 123 mm, a neck rather than an abdomen.
    let n = 256;
    let v = (0..n * n)
        .map(|i| {
            let (x, y) = ((i % n) as f64 / n as f64, (i / n) as f64 / n as f64);
            if (x - 0.5).hypot(y - 0.62) < 0.05 {
                700.0
            } else if (x - 0.5).hypot(y - 0.5) < 0.3 {
                40.0
            } else {
                -1000.0
            }
        })
        .collect();
    let mut s = Slice::from_values(n, n, v, Units::Hu);
    let narrow = |s: &Slice| {
        input_check::plausibility(s)
            .warnings
            .iter()
            .any(|w| w.contains("mm wide"))
    };
    s.pixel_spacing_mm = Some([0.8, 0.8]);
    assert!(narrow(&s));
    // The same disc at 1.6 mm is 246 mm wide: no width warning.
    s.pixel_spacing_mm = Some([1.6, 1.6]);
    assert!(!narrow(&s));
}
