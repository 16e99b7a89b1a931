//! `privact classify` and `privact evaluate` as a user runs them: the JSON contract of issue 4,
//! the encrypted mode end to end, and clear errors for bad input.

mod common;

use common::{kidney_ct, privact, temp_dir};
use serde_json::Value;

#[test]
fn encrypted_classification_json_has_the_documented_fields() {
    let dir = temp_dir("classify");
    let phantom = dir.join("phantom.dcm");
    let (code, _, err) = privact(&["phantom", "--out", phantom.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");

    let (code, out, err) = privact(&["classify", phantom.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(v["mode"], "encrypted");
    let p = &v["probabilities"];
    let sum: f64 = ["normal", "cyst", "tumor"]
        .iter()
        .map(|c| p[c].as_f64().expect("probability"))
        .sum();
    assert!((sum - 1.0).abs() < 1e-3, "probabilities sum to {sum}");
    assert!(["normal", "cyst", "tumor"].contains(&v["predicted"].as_str().unwrap()));
    let stages: Vec<&str> = v["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert!(stages.len() >= 5, "ledger {stages:?}");
    for field in ["upload_bytes", "download_bytes", "eval_key_bytes"] {
        assert!(v[field].as_u64().unwrap() > 0, "{field}");
    }
    assert_eq!(v["params"]["security_bits"], 128);
    assert_eq!(v["params"]["log_n"], 14);

    // The same slice in plaintext approx mode agrees with the decrypted answer.
    let (code, out, err) = privact(&[
        "classify",
        phantom.to_str().unwrap(),
        "--mode",
        "approx",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let a: Value = serde_json::from_str(&out).unwrap();
    for c in ["normal", "cyst", "tumor"] {
        let d = (a["probabilities"][c].as_f64().unwrap() - p[c].as_f64().unwrap()).abs();
        assert!(d < 1e-3, "{c}: encrypted vs approx differ by {d}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_inputs_give_one_clear_error_line() {
    let dir = temp_dir("classify-bad");
    let junk = dir.join("junk.dcm");
    std::fs::write(&junk, b"not an image at all").unwrap();
    for args in [
        vec!["classify", junk.to_str().unwrap()],
        vec!["classify", "/nonexistent/slice.dcm"],
        vec!["evaluate", dir.to_str().unwrap()],
    ] {
        let (code, out, err) = privact(&args);
        assert_eq!(code, 2, "{args:?}: {out} {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `privact evaluate DIR --mode MODE --limit LIMIT EXTRA…`.
fn evaluate(
    dir: &std::path::Path,
    mode: &str,
    limit: &str,
    extra: &[&str],
) -> (i32, String, String) {
    let mut args = vec![
        "evaluate",
        dir.to_str().unwrap(),
        "--mode",
        mode,
        "--limit",
        limit,
    ];
    args.extend_from_slice(extra);
    privact(&args)
}

#[test]
fn encrypted_evaluation_reports_agreement_with_approx() {
    let Some(kidney) = kidney_ct() else { return };
    let (code, out, err) = evaluate(&kidney, "encrypted", "2", &["--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["n"], 6, "two images of each of the three classes");
    assert_eq!(v["agreement"], 1.0);
    assert!(v["max_abs_prob_diff"].as_f64().unwrap() <= 1e-3);
    for c in ["normal", "cyst", "tumor"] {
        let auc = v["per_class"][c]["auc"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&auc), "{c} AUC {auc}");
    }
}

#[test]
fn evaluation_reports_decisions_and_per_image_rows() {
    let Some(kidney) = kidney_ct() else { return };
    let (code, out, err) = evaluate(&kidney, "approx", "4", &["--per-image", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let n = v["n"].as_u64().unwrap() as usize;
    assert_eq!(n, 12);
    let classes = ["normal", "cyst", "tumor"];
    let counts: Vec<Vec<u64>> = v["confusion_matrix"]["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_u64().unwrap())
                .collect()
        })
        .collect();
    // Recompute the matrix from the per-image rows.
    let images = v["images"].as_array().unwrap();
    assert_eq!(images.len(), n);
    let mut again = vec![vec![0u64; 3]; 3];
    for im in images {
        let truth = classes.iter().position(|c| im["truth"] == *c).unwrap();
        let p: Vec<f64> = classes
            .iter()
            .map(|c| im["probabilities"][c].as_f64().unwrap())
            .collect();
        let best = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
        assert_eq!(im["predicted"], classes[best], "{im}");
        assert!(
            im["file"]
                .as_str()
                .unwrap()
                .contains(["Normal", "Cyst", "Tumor"][truth])
        );
        again[truth][best] += 1;
    }
    assert_eq!(counts, again);
    let recall: Vec<f64> = (0..3)
        .map(|k| counts[k][k] as f64 / counts[k].iter().sum::<u64>() as f64)
        .collect();
    let bacc = v["balanced_accuracy"].as_f64().unwrap();
    assert!((bacc - recall.iter().sum::<f64>() / 3.0).abs() < 1e-9);
    for (k, c) in classes.iter().enumerate() {
        let sens = v["per_class"][c]["sensitivity"].as_f64().unwrap();
        assert!((sens - recall[k]).abs() < 1e-9);
        let negatives: u64 = (0..3)
            .filter(|&r| r != k)
            .map(|r| counts[r].iter().sum::<u64>())
            .sum();
        let false_pos: u64 = (0..3).filter(|&r| r != k).map(|r| counts[r][k]).sum();
        let spec = v["per_class"][c]["specificity"].as_f64().unwrap();
        assert!((spec - (negatives - false_pos) as f64 / negatives as f64).abs() < 1e-9);
    }
}

#[test]
fn evaluation_with_series_groups_resamples_series() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let extra = data.join("kidney-ct-extra");
    if !extra.is_dir() {
        return;
    }
    let tsv = extra.join("series.tsv");
    let (code, out, err) = privact(&[
        "evaluate",
        extra.to_str().unwrap(),
        "--limit",
        "3",
        "--groups",
        tsv.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["n"], 9);
    assert!(
        v["ci"].as_str().unwrap().contains("groups from --groups"),
        "{}",
        v["ci"]
    );
    // A file missing from the groups list is an error, not a silent single-image group.
    let dir = temp_dir("groups");
    let bad = dir.join("groups.tsv");
    std::fs::write(&bad, "file\tseries\nTumor/none.jpg\tx\n").unwrap();
    let (code, _, err) = privact(&[
        "evaluate",
        extra.to_str().unwrap(),
        "--limit",
        "1",
        "--groups",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not listed"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn evaluation_without_json_prints_tables() {
    let Some(kidney) = kidney_ct() else { return };
    let (code, out, err) = evaluate(&kidney, "approx", "2", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.trim_start().starts_with('{'), "{out}");
    assert!(out.starts_with("6 images, approx mode"), "{out}");
    assert!(out.contains("balanced accuracy "), "{out}");
    for class in ["normal", "cyst", "tumor"] {
        assert!(
            out.lines().filter(|l| l.starts_with(class)).count() == 2,
            "{class}: one metrics row and one confusion row\n{out}"
        );
    }
}

#[test]
fn truncated_images_and_unwritable_outputs_are_refused_before_any_work() {
    let dir = temp_dir("classify-refused-early");
    let phantom = dir.join("phantom.png");
    let (code, _, err) = privact(&["phantom", "--out", phantom.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    // A JPEG cut inside its image data: the decoder would fill it with grey.
    let img = image::open(&phantom).unwrap();
    let jpeg = dir.join("slice.jpg");
    img.save(&jpeg).unwrap();
    let bytes = std::fs::read(&jpeg).unwrap();
    let cut = dir.join("cut.jpg");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let missing = dir.join("no-such-folder").join("out.png");
    let (bad_phantom, bad_map) = (dir.join("p.jpg"), dir.join("map.txt"));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["classify", cut.to_str().unwrap(), "--mode", "approx"],
            "truncated",
        ),
        (
            vec!["phantom", "--out", bad_phantom.to_str().unwrap()],
            "must end in",
        ),
        (
            vec![
                "classify",
                jpeg.to_str().unwrap(),
                "--heat-map",
                bad_map.to_str().unwrap(),
            ],
            "must end in .png",
        ),
        (
            vec![
                "denoise",
                jpeg.to_str().unwrap(),
                "--mode",
                "plain",
                "--out",
                missing.to_str().unwrap(),
            ],
            "does not exist",
        ),
        (vec!["classify", dir.to_str().unwrap()], "classify-series"),
    ];
    for (args, needle) in cases {
        let (code, out, err) = privact(&args);
        assert_eq!(code, 2, "{args:?}: {out} {err}");
        assert!(
            err.starts_with("error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
    assert!(!bad_phantom.exists() && !bad_map.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
