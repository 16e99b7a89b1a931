//! Helpers shared by the imaging integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

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
