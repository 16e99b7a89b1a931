//! Runs the `privact` binary: inspect (valid and invalid files), phantom and
//! simulate-ldct, and checks inputs are never modified.

mod common;

use std::process::{Command, Output};

fn privact(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_privact"))
        .args(args)
        .output()
        .expect("run privact")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

#[test]
fn phantom_then_inspect_json() {
    let dir = common::temp_dir("cli-phantom");
    let out = dir.join("phantom.dcm");
    let o = privact(&[
        "phantom",
        "--out",
        out.to_str().unwrap(),
        "--lesion",
        "cyst",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = privact(&["inspect", out.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let keys = [
        "modality",
        "rows",
        "columns",
        "frames",
        "transfer_syntax_uid",
        "transfer_syntax",
        "min",
        "max",
        "units",
        "padding_pixels",
        "padding_value",
        "repairs",
        "window_center",
        "window_width",
        "deidentified",
    ];
    let obj = v.as_object().unwrap();
    for k in keys {
        assert!(obj.contains_key(k), "missing {k}");
    }
    assert_eq!(obj.len(), keys.len());
    assert_eq!(v["modality"], "CT");
    assert_eq!(
        (v["rows"].as_u64(), v["columns"].as_u64()),
        (Some(512), Some(512))
    );
    assert_eq!(v["transfer_syntax_uid"], "1.2.840.10008.1.2.1");
    assert_eq!(v["units"], "hu");
    assert_eq!(v["padding_pixels"].as_u64(), Some(0));
    assert_eq!(v["repairs"].as_array().map(Vec::len), Some(0));
    assert_eq!(v["min"].as_f64(), Some(-1000.0));
    assert_eq!(v["max"].as_f64(), Some(700.0));
    assert_eq!(v["deidentified"], true);
    // The patient identifiers never reach the output.
    assert!(!text(&o.stdout).contains("PHANTOM"));
    let o = privact(&["inspect", out.to_str().unwrap()]);
    assert!(text(&o.stdout).contains("W:400 L:40"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn inspect_refuses_bad_files_with_exit_2() {
    let dir = common::temp_dir("cli-bad");
    let bad = dir.join("notes.dcm");
    std::fs::write(&bad, b"definitely not DICOM").unwrap();
    let o = privact(&["inspect", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        err.contains("notes.dcm") && err.contains("not a DICOM file"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1);

    let full = privact::imaging::phantom::Phantom::default()
        .dicom_bytes()
        .unwrap();
    let cut = dir.join("cut.dcm");
    std::fs::write(&cut, &full[..full.len() / 2]).unwrap();
    let o = privact(&["inspect", cut.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("truncated at byte"),
        "{}",
        text(&o.stderr)
    );
    assert!(o.stdout.is_empty());

    let missing = dir.join("missing.dcm");
    let o = privact(&["inspect", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("cannot read file"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn simulate_ldct_writes_derived_dicom_and_png_without_touching_input() {
    let dir = common::temp_dir("cli-ldct");
    let src = dir.join("src.dcm");
    std::fs::write(
        &src,
        privact::imaging::phantom::builtin_sample_dicom().unwrap(),
    )
    .unwrap();
    let before = std::fs::read(&src).unwrap();
    let out_dcm = dir.join("low.dcm");
    let o = privact(&[
        "simulate-ldct",
        src.to_str().unwrap(),
        "--dose",
        "0.25",
        "--out",
        out_dcm.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out_png = dir.join("low.png");
    let o = privact(&[
        "simulate-ldct",
        src.to_str().unwrap(),
        "--dose",
        "0.5",
        "--out",
        out_png.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(&src).unwrap(), before, "input modified");

    let derived = privact::imaging::load(&out_dcm).unwrap();
    let info = derived.info.unwrap();
    let source = privact::imaging::load(&src).unwrap().info.unwrap();
    assert!(info.image_type.unwrap().starts_with("DERIVED\\SECONDARY"));
    assert_ne!(info.series_instance_uid, source.series_instance_uid);
    assert_ne!(info.sop_instance_uid, source.sop_instance_uid);
    assert_eq!(info.study_instance_uid, source.study_instance_uid);
    assert_eq!(info.patient, source.patient);
    let png = privact::imaging::load(&out_png).unwrap();
    assert_eq!(
        (png.rows, png.cols, png.units),
        (512, 512, privact::imaging::Units::Windowed8Bit)
    );

    // --clean-out writes the noise-free reconstruction the metrics are computed against: the
    // RMSE between the two written files is the one reported (up to the DICOM's integer HU).
    let out_clean = dir.join("clean.dcm");
    let o = privact(&[
        "simulate-ldct",
        src.to_str().unwrap(),
        "--dose",
        "0.25",
        "--json",
        "--out",
        out_dcm.to_str().unwrap(),
        "--clean-out",
        out_clean.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let (low, clean) = (
        privact::imaging::load(&out_dcm).unwrap(),
        privact::imaging::load(&out_clean).unwrap(),
    );
    let rmse = (low
        .values
        .iter()
        .zip(&clean.values)
        .map(|(a, b)| f64::from(a - b).powi(2))
        .sum::<f64>()
        / low.values.len() as f64)
        .sqrt();
    let reported = j["rmse_hu"].as_f64().unwrap();
    assert!(reported > 1.0, "no noise simulated: {reported}");
    assert!(
        (rmse - reported).abs() < 0.5,
        "files {rmse} HU, reported {reported} HU"
    );

    // Refuses to overwrite its input and leaves no temp files behind.
    let o = privact(&[
        "simulate-ldct",
        src.to_str().unwrap(),
        "--out",
        src.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert_eq!(std::fs::read(&src).unwrap(), before);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
    std::fs::remove_dir_all(&dir).ok();
}
