//! Output files: written to a temporary file beside the target, then renamed,
//! so a crash never leaves a half-written image and inputs are never touched.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::{ErrorKind, ImagingError};

/// Writes `bytes` to `path` atomically (temp file in the same directory + rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ImagingError> {
    let err = |m: String| ImagingError::new(path, ErrorKind::Write(m));
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| err("output path has no file name".into()))?
        .to_string_lossy()
        .to_string();
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{:x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e.to_string()));
    }
    Ok(())
}

/// Refuses an output path that resolves to the input file.
pub fn ensure_distinct(input: &Path, output: &Path) -> Result<(), ImagingError> {
    let same = match (std::fs::canonicalize(input), std::fs::canonicalize(output)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return Err(ImagingError::new(
            output,
            ErrorKind::InvalidArgument("the output would overwrite the input file".into()),
        ));
    }
    Ok(())
}
