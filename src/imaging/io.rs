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

/// Checks an output path before any work is done, so that a long run does not end in a
/// refusal: its extension must be one of `extensions` (lower case, without the dot, case
/// ignored), its folder must exist, and it must not be a folder itself.
///
/// Errors: [`ErrorKind::InvalidArgument`] naming what is wrong.
pub fn check_output_path(path: &Path, extensions: &[&str]) -> Result<(), ImagingError> {
    let err = |m: String| Err(ImagingError::new(path, ErrorKind::InvalidArgument(m)));
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    if !ext.as_deref().is_some_and(|e| extensions.contains(&e)) {
        let list: Vec<String> = extensions.iter().map(|e| format!(".{e}")).collect();
        return err(format!("the output must end in {}", list.join(" or ")));
    }
    if path.is_dir() {
        return err("the output is a folder, not a file name".into());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return err(format!(
            "the output folder {} does not exist",
            dir.display()
        ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_paths_are_checked_before_any_work() {
        let dir = std::env::temp_dir();
        let ok = dir.join("privact-check-output.PNG");
        assert!(check_output_path(&ok, &["png", "dcm"]).is_ok());
        let msg = |p: &Path, e: &[&str]| check_output_path(p, e).unwrap_err().to_string();
        assert!(msg(&dir.join("x.jpg"), &["png", "dcm"]).contains("must end in .png or .dcm"));
        assert!(msg(&dir.join("no-extension"), &["png"]).contains("must end in .png"));
        assert!(msg(&dir.join("missing-folder-9f2c/x.png"), &["png"]).contains("does not exist"));
        let folder = dir.join("privact-check-output.dcm");
        std::fs::create_dir_all(&folder).unwrap();
        assert!(msg(&folder, &["dcm"]).contains("is a folder"));
        std::fs::remove_dir(&folder).unwrap();
    }
}
