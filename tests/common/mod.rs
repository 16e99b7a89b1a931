//! Helpers shared by the integration tests: the shared data folders, temporary folders and
//! running the `privact` binary.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The shared data folder: `$PRIVACT_DATA`, else `../shared/data` beside the
/// package. `None` (with a message) when absent, so tests skip instead of failing.
pub fn shared_data() -> Option<PathBuf> {
    let p = std::env::var_os("PRIVACT_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipping: shared data not found at {}", p.display());
        None
    }
}

/// The kidney-CT folder of the shared data, or `None` with a "skipping" message.
pub fn kidney_ct() -> Option<PathBuf> {
    let p = shared_data()?.join("kidney-ct");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipping: kidney-CT data not found at {}", p.display());
        None
    }
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "privact-{name}-{}-{:x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

/// Runs the `privact` binary: (exit code, stdout, stderr).
pub fn privact(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_privact"))
        .args(args)
        .output()
        .expect("run privact");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the `privact` binary, which must succeed, and parses its JSON stdout.
pub fn run_json(args: &[&str]) -> serde_json::Value {
    let (code, out, err) = privact(args);
    assert_eq!(code, 0, "privact {args:?}: {err}");
    serde_json::from_str(&out).expect("JSON on stdout")
}

/// A folder `name` holding `n` copies of the built-in phantom (`slice00.dcm`, …): a series
/// for tests that need one without the shared data.
pub fn phantom_series(name: &str, n: usize) -> PathBuf {
    let dir = temp_dir(name);
    let first = dir.join("slice00.dcm");
    let (code, _, err) = privact(&["phantom", "--out", first.to_str().unwrap_or_default()]);
    assert_eq!(code, 0, "{err}");
    for k in 1..n {
        std::fs::copy(&first, dir.join(format!("slice{k:02}.dcm"))).unwrap();
    }
    dir
}
