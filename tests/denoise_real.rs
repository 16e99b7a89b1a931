//! Denoising judged as a user would: `denoise --reference`, `evaluate-denoise` on a tiny pairs
//! folder made here, `simulate-ldct` and `denoise --dose` agreeing on the same 8-bit input,
//! the shipped models leaving a clean phantom nearly unchanged, and — when the shared
//! `ldct-mayo` data is present — the metric reproducing the baselines of its `pairs.tsv`.

mod common;

use common::run_json;

use std::path::{Path, PathBuf};
use std::process::Command;

use privact::imaging::dicom::write::{CtDescription, ct_bytes};
use privact::imaging::hu::metric_unit;
use privact::imaging::ldct::pairs::{load_pair, read_pairs};
use privact::imaging::phantom::Phantom;
use privact::imaging::raster::png_bytes;
use privact::imaging::window::Window;
use privact::imaging::{ldct, metrics};
use privact::model::denoiser::ModelKind;
use privact::model::denoiser::data::{Quality, finish, to_unit};
use privact::model::denoiser::weights::builtin;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_privact"))
}

fn phantom(size: usize) -> (Vec<f32>, usize, f64) {
    let p = Phantom {
        size,
        ..Phantom::default()
    };
    (p.hu().values, size, p.spacing_mm())
}

fn write_ct(path: &Path, n: usize, hu: &[f32], spacing: f64) {
    let d = CtDescription {
        patient_name: "TEST".into(),
        patient_id: "TEST".into(),
        study_uid: "1.2.3.4".into(),
        series_uid: "1.2.3.4.5".into(),
        sop_instance_uid: format!("1.2.3.4.5.{}", hu.len() % 97),
        series_description: "test".into(),
        pixel_spacing_mm: [spacing, spacing],
        slice_thickness_mm: 3.0,
        kvp: 120.0,
        window: (40.0, 400.0),
        date: "20240101".into(),
    };
    std::fs::write(path, ct_bytes(n, n, hu, &d).unwrap()).unwrap();
}

/// A full-dose phantom and a noisy copy (white noise σ = 30 HU), as DICOM files.
fn noisy_pair(dir: &Path) -> (PathBuf, PathBuf, Vec<f32>, Vec<f32>) {
    let (hu, n, d) = phantom(96);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let normal = Normal::new(0.0f32, 30.0).unwrap();
    let noisy: Vec<f32> = hu
        .iter()
        .map(|&v| (v + normal.sample(&mut rng)).round())
        .collect();
    let (fd, qd) = (dir.join("fd.dcm"), dir.join("qd.dcm"));
    write_ct(&fd, n, &hu, d);
    write_ct(&qd, n, &noisy, d);
    // The HU as stored (the files keep whole HU).
    let back = |p: &Path| {
        privact::imaging::hu::slice_to_hu(&privact::imaging::load(p).unwrap())
            .unwrap()
            .hu
    };
    let (noisy, hu) = (back(&qd), back(&fd));
    (qd, fd, noisy, hu)
}

#[test]
fn evaluate_denoise_scores_a_tiny_pairs_folder() {
    let dir = common::temp_dir("evaluate-denoise");
    let (_, _, noisy, clean) = noisy_pair(&dir);
    std::fs::write(
        dir.join("pairs.tsv"),
        "patient\tkernel\tquarter_dose\tfull_dose\nP1\tB30f\tqd.dcm\tfd.dcm\n",
    )
    .unwrap();
    let v = run_json(&["evaluate-denoise", dir.to_str().unwrap(), "--json"]);
    let pairs = v["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 2, "one pair × two models: {v}");
    // The input score is the metric of the issue, computed independently here.
    let (r, i) = (metric_unit(&clean), metric_unit(&noisy));
    let psnr_in = metrics::psnr(&r, &i, 1.0).unwrap();
    let ssim_in = metrics::ssim_skimage(&r, &i, 96, 96, 1.0).unwrap();
    for p in pairs {
        assert!(
            (p["psnr_in"].as_f64().unwrap() - psnr_in).abs() < 1e-9,
            "{p}"
        );
        assert!(
            (p["ssim_in"].as_f64().unwrap() - ssim_in).abs() < 1e-9,
            "{p}"
        );
        assert!(p["psnr_out"].as_f64().unwrap().is_finite());
        assert_eq!(p["kernel"], "B30f");
    }
    let summary = v["summary"].as_array().unwrap();
    assert!(summary.iter().any(|s| s["group"] == "kernel B30f"));
    assert!(summary.iter().any(|s| s["group"] == "all"));
    // Text output and a missing folder.
    let out = bin()
        .args([
            "evaluate-denoise",
            dir.to_str().unwrap(),
            "--model",
            "linear",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("linear"));
    let out = bin()
        .args(["evaluate-denoise", dir.join("none").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn denoise_with_reference_reports_quality() {
    let dir = common::temp_dir("denoise-reference");
    let (qd, fd, noisy, clean) = noisy_pair(&dir);
    let v = run_json(&[
        "denoise",
        qd.to_str().unwrap(),
        "--reference",
        fd.to_str().unwrap(),
        "--mode",
        "plain",
        "--json",
    ]);
    let psnr_in = metrics::psnr(&metric_unit(&clean), &metric_unit(&noisy), 1.0).unwrap();
    assert!(
        (v["psnr_in"].as_f64().unwrap() - psnr_in).abs() < 1e-9,
        "{v}"
    );
    assert!(v["psnr_out"].as_f64().unwrap().is_finite());
    assert!(v["ssim_out"].as_f64().unwrap() > 0.0);
    // A reference of another size is refused.
    let small = dir.join("small.dcm");
    let (hu, n, d) = phantom(64);
    write_ct(&small, n, &hu, d);
    let out = bin()
        .args([
            "denoise",
            qd.to_str().unwrap(),
            "--reference",
            small.to_str().unwrap(),
            "--mode",
            "plain",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn simulate_ldct_and_denoise_dose_agree_on_an_8_bit_image() {
    let dir = common::temp_dir("sim-agree");
    let (hu, n, _) = phantom(128);
    let png = dir.join("slice.png");
    std::fs::write(
        &png,
        png_bytes(n, n, &Window::ABDOMEN.apply_all(&hu)).unwrap(),
    )
    .unwrap();
    let p = png.to_str().unwrap();
    let out = dir.join("low.png");
    let sim = run_json(&[
        "simulate-ldct",
        p,
        "--dose",
        "0.25",
        "--seed",
        "3",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    let den = run_json(&[
        "denoise", p, "--dose", "0.25", "--seed", "3", "--mode", "plain", "--json",
    ]);
    assert_eq!(sim["approximate_hu"], true);
    let (a, b) = (
        sim["psnr_db"].as_f64().unwrap(),
        den["psnr_in"].as_f64().unwrap(),
    );
    assert!((a - b).abs() < 1e-9, "simulate-ldct {a} dB, denoise {b} dB");
    let (a, b) = (
        sim["ssim"].as_f64().unwrap(),
        den["ssim_in"].as_f64().unwrap(),
    );
    assert!((a - b).abs() < 1e-9, "SSIM {a} vs {b}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The shipped models with the client's gain: a noise-free phantom comes out nearly unchanged,
/// and a dose-1.0 simulation of it loses at most 0.1 dB against its clean reconstruction.
#[test]
fn shipped_models_never_worsen_clean_input_on_the_phantom() {
    let (hu, n, d) = phantom(256);
    let input = to_unit(&hu);
    let sim = ldct::simulate(&hu, n, n, d, 1.0, 9).unwrap();
    let sim_in = to_unit(&sim.low_dose);
    for kind in ModelKind::ALL {
        let model = builtin(kind).unwrap();
        let out = model.denoise(&input, n, n).unwrap();
        let f = finish(kind, &input, &out, n, n).unwrap();
        let change = Quality::measure(&hu, &hu, &f.image, n, n).unwrap().psnr_out;
        assert!(
            change > 40.0,
            "{kind:?}: clean phantom changed, PSNR {change} dB"
        );
        let out = model.denoise(&sim_in, n, n).unwrap();
        let f = finish(kind, &sim_in, &out, n, n).unwrap();
        let q = Quality::measure(&sim.clean, &sim.low_dose, &f.image, n, n).unwrap();
        assert!(
            q.psnr_out >= q.psnr_in - 0.1,
            "{kind:?} at dose 1.0: {} → {} dB",
            q.psnr_in,
            q.psnr_out
        );
    }
}

/// The metric reproduces the baselines stored in `ldct-mayo/pairs.tsv` (scikit-image).
#[test]
fn metric_matches_ldct_mayo_baselines() {
    let Some(root) = common::shared_data() else {
        return;
    };
    let dir = root.join("ldct-mayo");
    if !dir.join("pairs.tsv").is_file() {
        eprintln!("skipping: no ldct-mayo data");
        return;
    }
    let entries = read_pairs(&dir).unwrap();
    // One pair of each kernel.
    for kernel in ["B30f", "D45f"] {
        let e = entries.iter().find(|e| e.kernel == kernel).unwrap();
        let (qd, fd) = load_pair(e).unwrap();
        let (r, i) = (metric_unit(&fd.hu), metric_unit(&qd.hu));
        let psnr = metrics::psnr(&r, &i, 1.0).unwrap();
        let ssim = metrics::ssim_skimage(&r, &i, qd.rows, qd.cols, 1.0).unwrap();
        let (bp, bs) = (e.baseline_psnr.unwrap(), e.baseline_ssim.unwrap());
        assert!(
            (psnr - bp).abs() < 0.01,
            "{}: PSNR {psnr} vs {bp}",
            e.name()
        );
        assert!(
            (ssim - bs).abs() < 0.001,
            "{}: SSIM {ssim} vs {bs}",
            e.name()
        );
    }
}

/// A reference of another patient (another position and pixel spacing) gets a warning (JSON `reference_warning`); the real pair
/// of the same slice gets none.
#[test]
fn a_reference_of_another_patient_is_flagged() {
    let Some(root) = common::shared_data() else {
        eprintln!("skipping: no shared data");
        return;
    };
    let dir = root.join("ldct-mayo");
    let qd = dir.join("L143_B30_3mm_0019_QD.IMA");
    let (fd, other) = (
        dir.join("L143_B30_3mm_0019_FD.IMA"),
        dir.join("L096_D45_3mm_000020_FD.IMA"),
    );
    if !(qd.exists() && fd.exists() && other.exists()) {
        eprintln!("skipping: ldct-mayo pairs absent");
        return;
    }
    let run = |reference: &Path| {
        run_json(&[
            "denoise",
            qd.to_str().unwrap(),
            "--mode",
            "plain",
            "--model",
            "linear",
            "--reference",
            reference.to_str().unwrap(),
            "--json",
        ])
    };
    assert!(run(&fd).get("reference_warning").is_none());
    let v = run(&other);
    let w = v["reference_warning"].as_str().unwrap_or_default();
    // Both files say PatientID "Anonymous": position and pixel spacing tell them apart.
    assert!(
        w.contains("another position") && w.contains("another pixel spacing"),
        "{v}"
    );
}
