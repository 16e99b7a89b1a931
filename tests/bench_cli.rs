//! `privact bench --pipelines --json`: the end-to-end benchmark runs all three products with the
//! shipped models and reports consistent, measured figures (no timing thresholds here).

use std::process::Command;

fn bench(extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_privact"))
        .args(["bench", "--pipelines", "--slices", "1", "--json"])
        .args(extra)
        .output()
        .expect("run privact bench")
}

fn pipeline_reports(out: &std::process::Output) -> Vec<serde_json::Value> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let reports = reports.as_array().expect("one report per pipeline").clone();
    assert_eq!(reports.len(), 3);
    reports
}

fn upload(report: &serde_json::Value) -> u64 {
    report["upload_bytes"].as_u64().unwrap_or(0)
}

#[test]
fn pipeline_benchmark_reports_every_product_with_measured_sizes() {
    let reports = pipeline_reports(&bench(&[]));
    for r in &reports {
        for key in ["setup_seconds", "slice_seconds_median"] {
            let v = r[key].as_f64().unwrap_or(-1.0);
            assert!(v > 0.0 && v.is_finite(), "{key} = {v} in {r}");
        }
        for key in ["eval_key_bytes", "upload_bytes", "download_bytes"] {
            assert!(r[key].as_u64().unwrap_or(0) > 0, "{key} in {r}");
        }
    }
    // Classification uploads 4 seeded ciphertexts at N = 2^14 (a few MB); the interactive
    // denoiser does 3 ReLU rounds and so uploads far more than the one-shot linear one.
    assert_eq!(reports[0]["rounds"], 0);
    assert!(reports[0]["upload_bytes"].as_u64().unwrap_or(0) < 3_000_000);
    assert_eq!(reports[1]["rounds"], 0);
    assert_eq!(reports[2]["rounds"], 3);
    assert!(
        reports[2]["upload_bytes"].as_u64().unwrap_or(0)
            > 10 * reports[1]["upload_bytes"].as_u64().unwrap_or(u64::MAX / 20)
    );
    // `--side` sets the denoised slice only: a 64×64 slice is two tiles, a 256×256 one 25,
    // so its interactive upload is much smaller; classification stays 256×256.
    let small = pipeline_reports(&bench(&["--side", "64"]));
    let sides: Vec<_> = small.iter().map(|r| r["side"].as_u64()).collect();
    assert_eq!(sides, [Some(256), Some(64), Some(64)]);
    assert!(reports.iter().all(|r| r["side"].as_u64() == Some(256)));
    assert!(upload(&small[2]) > 0 && 4 * upload(&small[2]) < upload(&reports[2]));
    assert_eq!(upload(&small[0]), upload(&reports[0]));
}

#[test]
fn pipeline_benchmark_refuses_a_side_it_cannot_mean() {
    for side in ["8", "4096"] {
        let out = bench(&["--side", side]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "--side {side} accepted");
        assert!(err.contains("--side") && err.contains("16..=1024"), "{err}");
    }
}

#[test]
fn pipeline_benchmark_refuses_a_member_count_the_ensemble_does_not_have() {
    let members = privact::model::classifier::shipped()
        .expect("shipped classifier")
        .he_members()
        .len();
    let too_many = (members + 1).to_string();
    for k in ["0", too_many.as_str()] {
        let out = bench(&["--members", k]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "--members {k} accepted");
        assert!(
            err.contains(&format!("--members {k}")) && err.contains(&format!("1 to {members}")),
            "{err}"
        );
    }
    // In process only: a remote server serves its whole ensemble.
    let out = bench(&["--members", "1", "--server", "https://127.0.0.1:9"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("in process only"), "{err}");
}
