//! `privact bench --pipelines --json`: the end-to-end benchmark runs all three products with the
//! shipped models and reports consistent, measured figures (no timing thresholds here).

use std::process::Command;

#[test]
fn pipeline_benchmark_reports_every_product_with_measured_sizes() {
    let out = Command::new(env!("CARGO_BIN_EXE_privact"))
        .args(["bench", "--pipelines", "--slices", "1", "--json"])
        .output()
        .expect("run privact bench");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let reports = reports.as_array().expect("one report per pipeline");
    assert_eq!(reports.len(), 3);
    for r in reports {
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
}
