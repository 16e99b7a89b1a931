//! Issue 16: the real-world cases of `<data>/dicom-extra` (reference values from its
//! README: pydicom 3 with pylibjpeg/GDCM; min/max of the rescaled stored values, padding
//! included). Lossless files must match ±1, lossy ones ±1 % of the range; every frame of
//! the multi-frame files decodes.

mod common;

use std::path::PathBuf;

use privact::imaging::{self, LoadOptions, Slice, Units};

fn extra() -> Option<PathBuf> {
    let p = common::shared_data()?.join("dicom-extra");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipping: dicom-extra not found at {}", p.display());
        None
    }
}

fn load(dir: &std::path::Path, name: &str, frame: u32) -> Slice {
    imaging::load_with(&dir.join(name), &LoadOptions { frame })
        .unwrap_or_else(|e| panic!("{name} frame {frame}: {e}"))
}

/// Whole-image (padding included) range of every frame.
fn range_of(frames: &[Slice]) -> (f32, f32) {
    frames
        .iter()
        .map(|s| s.min_max().expect("non-empty"))
        .fold((f32::MAX, f32::MIN), |(a, b), (lo, hi)| {
            (a.min(lo), b.max(hi))
        })
}

struct Case {
    file: &'static str,
    size: (usize, usize),
    frames: u32,
    range: (f32, f32),
    units: Units,
    lossy: bool,
}

const CASES: &[Case] = &[
    Case {
        file: "nm_sopclass_nm_j2k.dcm",
        size: (1024, 256),
        frames: 1,
        range: (0.0, 278.0),
        units: Units::Raw,
        lossy: false,
    },
    Case {
        file: "ct_un_sequence_undefined_length.dcm",
        size: (512, 512),
        frames: 1,
        range: (-3024.0, 1254.0),
        units: Units::Hu,
        lossy: false,
    },
    Case {
        file: "two_file_meta_groups.dcm",
        size: (2457, 1890),
        frames: 1,
        range: (0.0, 2964.0),
        units: Units::Hu,
        lossy: false,
    },
    Case {
        file: "ct_2frames_fragmented_no_bot_jpeg_lossless57.dcm",
        size: (512, 512),
        frames: 2,
        range: (-1024.0, 172.0),
        units: Units::Hu,
        lossy: false,
    },
    Case {
        file: "ct_2frames_jpeg_extended_12bit51.dcm",
        size: (512, 512),
        frames: 2,
        range: (-13.0, 1199.0),
        units: Units::Hu,
        lossy: true,
    },
    Case {
        file: "ct_2frames_jpeg_ls_near_lossless81.dcm",
        size: (512, 512),
        frames: 2,
        range: (-1024.0, 174.0),
        units: Units::Hu,
        lossy: true,
    },
    Case {
        file: "ct_jpeg_ls_lossless80.dcm",
        size: (512, 512),
        frames: 1,
        range: (-3024.0, 1254.0),
        units: Units::Hu,
        lossy: false,
    },
    Case {
        file: "ct_rescale_type_us.dcm",
        size: (512, 512),
        frames: 1,
        range: (-992.0, 3056.0),
        units: Units::Hu,
        lossy: false,
    },
];

#[test]
fn every_decodable_file_matches_its_reference() {
    let Some(dir) = extra() else { return };
    for c in CASES {
        let frames: Vec<Slice> = (0..c.frames).map(|k| load(&dir, c.file, k)).collect();
        let first = &frames[0];
        assert_eq!((first.rows, first.cols), c.size, "{}", c.file);
        let info = first.info.as_ref().expect("DICOM info");
        assert_eq!(info.frames, c.frames, "{}", c.file);
        for s in &frames {
            assert_eq!(s.units, c.units, "{}: units", c.file);
            assert_eq!(s.values.len(), s.rows * s.cols);
            assert!(s.values.iter().all(|v| v.is_finite()), "{}", c.file);
        }
        let (lo, hi) = range_of(&frames);
        let tol = if c.lossy {
            0.01 * (c.range.1 - c.range.0)
        } else {
            1.0
        };
        assert!(
            (lo - c.range.0).abs() <= tol && (hi - c.range.1).abs() <= tol,
            "{}: range {lo}…{hi}, reference {}…{} (±{tol})",
            c.file,
            c.range.0,
            c.range.1
        );
        eprintln!(
            "{}: {}x{}, {} frame(s), {lo}…{hi} {} (reference {}…{})",
            c.file,
            c.size.0,
            c.size.1,
            c.frames,
            c.units.as_str(),
            c.range.0,
            c.range.1
        );
    }
}

#[test]
fn frames_of_a_multi_frame_file_differ_and_the_next_is_out_of_range() {
    let Some(dir) = extra() else { return };
    for c in CASES.iter().filter(|c| c.frames > 1) {
        let a = load(&dir, c.file, 0);
        let b = load(&dir, c.file, 1);
        assert_ne!(
            a.values, b.values,
            "{}: two frames decode to the same image",
            c.file
        );
        let e = imaging::load_with(&dir.join(c.file), &LoadOptions { frame: c.frames })
            .expect_err("frame past the end");
        assert_eq!(e.code(), "frame_out_of_range", "{}", c.file);
    }
}

#[test]
fn padding_is_outside_the_image_not_tissue() {
    let Some(dir) = extra() else { return };
    for name in [
        "ct_jpeg_ls_lossless80.dcm",
        "ct_un_sequence_undefined_length.dcm",
    ] {
        let s = load(&dir, name, 0);
        // Stored -2000 with intercept -1024: -3024 "HU" is padding.
        assert!(s.padding_count() > 0, "{name}: no padding found");
        let (lo, _) = s.image_min_max().unwrap();
        assert!(
            lo > -3024.0,
            "{name}: image range still includes padding ({lo})"
        );
        let k = (0..s.values.len()).find(|&k| s.is_padding(k)).unwrap();
        assert_eq!(s.values[k], -3024.0, "{name}");
    }
}

#[test]
fn refusals_name_the_real_cause() {
    let Some(dir) = extra() else { return };
    let e = imaging::load(&dir.join("parametric_map_float_pixel_data.dcm"))
        .expect_err("float pixel data is refused");
    assert_eq!(e.code(), "float_pixel_data");
    let msg = e.to_string();
    assert!(
        msg.contains("float pixel data") && msg.contains("(7FE0,0008)"),
        "{msg}"
    );
    assert!(!msg.contains("no pixel data"), "{msg}");
}

#[test]
fn malformed_private_sequence_is_skipped_and_the_pixels_found() {
    let Some(dir) = extra() else { return };
    // fo-dicom reads this file (its PR 626); the sequence is skipped and named.
    let s = load(&dir, "implicit_vr_bad_private_sequence.dcm", 0);
    assert_eq!((s.rows, s.cols), (256, 256));
    assert_eq!(s.units, Units::Raw, "MR is never HU");
    let info = s.info.as_ref().unwrap();
    assert!(
        info.repairs
            .iter()
            .any(|r| r.contains("malformed private sequence (2005,140F)")),
        "{:?}",
        info.repairs
    );
    // The test file's pixel data is all zero (anonymised), so only the range is checked.
    let (lo, hi) = s.min_max().unwrap();
    assert!(lo >= 0.0 && hi <= 4095.0, "12-bit MR values {lo}…{hi}");
}

#[test]
fn repairs_are_reported() {
    let Some(dir) = extra() else { return };
    let two = load(&dir, "two_file_meta_groups.dcm", 0);
    let r = &two.info.as_ref().unwrap().repairs;
    assert!(
        r.iter().any(|m| m.contains("second file meta group")),
        "{r:?}"
    );
    assert_eq!(
        two.info.as_ref().unwrap().transfer_syntax_uid,
        "1.2.840.10008.1.2.4.70",
        "the first meta group is authoritative"
    );
    let un = load(&dir, "ct_un_sequence_undefined_length.dcm", 0);
    let r = &un.info.as_ref().unwrap().repairs;
    assert!(r.iter().any(|m| m.contains("CP-246")), "{r:?}");
}

#[test]
fn all_frames_at_once_equal_frame_by_frame() {
    let Some(dir) = extra() else { return };
    for c in CASES.iter().filter(|c| c.frames > 1) {
        let path = dir.join(c.file);
        let all = imaging::dicom::load_dicom_frames(&path, 16).expect("all frames");
        assert_eq!(all.len() as u32, c.frames, "{}", c.file);
        for (k, s) in all.iter().enumerate() {
            assert_eq!(
                s.values,
                load(&dir, c.file, k as u32).values,
                "{} #{k}",
                c.file
            );
        }
        let e = imaging::dicom::load_dicom_frames(&path, 1).unwrap_err();
        assert_eq!(e.code(), "too_large", "{}", c.file);
    }
}
