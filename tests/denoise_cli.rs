//! The `denoise` command on the built-in phantom (no data needed) and, when the kidney data
//! set is present, on validation images (skipped with a message otherwise).

mod common;

use common::run_json;

use std::path::PathBuf;
use std::process::Command;

use privact::imaging::phantom::Phantom;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_privact"))
}

/// The 512 × 512 phantom (0.7 mm pixels, like real abdomen slices: the calibrated quarter
/// dose has σ ≈ 26 HU there).
fn phantom_file(dir: &std::path::Path) -> PathBuf {
    let p = Phantom::default();
    let path = dir.join("phantom.dcm");
    std::fs::write(&path, p.dicom_bytes().unwrap()).unwrap();
    path
}

#[test]
fn denoise_plain_and_encrypted_linear_on_the_phantom() {
    let dir = std::env::temp_dir().join(format!("privact-denoise-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = phantom_file(&dir);
    let png = dir.join("out.png");
    let input_s = input.to_str().unwrap();
    let plain = run_json(&[
        "denoise",
        input_s,
        "--dose",
        "0.25",
        "--mode",
        "plain",
        "--json",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert!(png.exists());
    let gain = plain["psnr_out"].as_f64().unwrap() - plain["psnr_in"].as_f64().unwrap();
    // The linear model's gain is cautious at the phantom's estimated noise (measured +0.66 dB).
    assert!(gain > 0.3, "PSNR gain {gain}");
    assert_eq!(
        plain["tiled_vs_whole_plain_max_abs_diff"].as_f64(),
        Some(0.0)
    );
    let enc = run_json(&[
        "denoise", input_s, "--dose", "0.25", "--model", "linear", "--json",
    ]);
    assert!(enc["max_abs_diff_vs_plain"].as_f64().unwrap() <= 1e-4);
    assert_eq!(enc["rounds"].as_u64(), Some(0));
    assert!(enc["upload_bytes"].as_u64().unwrap() > 0);
    assert!(enc["download_bytes"].as_u64().unwrap() > 0);
    // One value per pixel crosses each way (no ReLU rounds): bits per value = bytes × 8 / pixels.
    let pixels = (enc["rows"].as_u64().unwrap() * enc["cols"].as_u64().unwrap()) as f64;
    for (bits, bytes) in [
        ("upload_bits_per_value", "upload_bytes"),
        ("download_bits_per_value", "download_bytes"),
    ] {
        let want = enc[bytes].as_u64().unwrap() as f64 * 8.0 / pixels;
        let got = enc[bits].as_f64().unwrap();
        assert!((got - want).abs() < 1e-9 * want, "{bits}: {got} vs {want}");
    }
    assert!(!enc["ledger"].as_array().unwrap().is_empty());
    // Without --dose: no metrics, DICOM output written.
    let dcm = dir.join("out.dcm");
    let o = run_json(&[
        "denoise",
        input_s,
        "--mode",
        "plain",
        "--json",
        "--out",
        dcm.to_str().unwrap(),
    ]);
    assert!(o["psnr_in"].is_null());
    // The export keeps the input's full HU range (air and bone), not the window's −160…240.
    let source = privact::model::denoiser::data::to_hu(&privact::imaging::load(&input).unwrap())
        .unwrap()
        .hu;
    let written = privact::model::denoiser::data::to_hu(&privact::imaging::load(&dcm).unwrap())
        .unwrap()
        .hu;
    let range = |v: &[f32]| {
        v.iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)))
    };
    let ((slo, shi), (wlo, whi)) = (range(&source), range(&written));
    assert!(slo < -500.0 && shi > 500.0, "phantom spans {slo}…{shi} HU");
    assert!(
        (wlo - slo).abs() < 30.0 && (whi - shi).abs() < 30.0,
        "export spans {wlo}…{whi} HU, input {slo}…{shi}"
    );
    // Bad arguments are errors, not panics.
    let bad = bin()
        .args(["denoise", input_s, "--dose", "2"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let bad = bin()
        .args(["denoise", input_s, "--model", "cubic"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn quarter_dose_gains_on_validation_kidney_images() {
    let Some(root) = common::kidney_ct() else {
        return;
    };
    let d = privact::model::denoiser::weights::builtin_description().unwrap();
    let names: Vec<String> = d.training["validation_images"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .filter(|n| !n.starts_with("phantom"))
                .take(3)
                .collect()
        })
        .unwrap_or_default();
    assert!(!names.is_empty(), "the description lists validation images");
    // The kidney JPEGs are 256 × 256 (≈ 1.4 mm pixels): at the calibrated quarter dose their
    // simulated noise is small (≈ 38 dB PSNR in), and their clean reference keeps the JPEG's
    // own noise, so the gains are modest; the models must still never make them worse.
    for (model, target) in [("linear", 0.0), ("nonlinear", 0.0)] {
        let mut gains = Vec::new();
        for n in &names {
            let path = root.join(n);
            let j = run_json(&[
                "denoise",
                path.to_str().unwrap(),
                "--dose",
                "0.25",
                "--model",
                model,
                "--mode",
                "plain",
                "--json",
                "--seed",
                "11",
            ]);
            gains.push(j["psnr_out"].as_f64().unwrap() - j["psnr_in"].as_f64().unwrap());
        }
        let mean = gains.iter().sum::<f64>() / gains.len() as f64;
        assert!(
            mean >= target,
            "{model}: mean PSNR gain {mean:.2} dB on {names:?}"
        );
    }
}
