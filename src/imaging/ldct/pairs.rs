//! Folders of real low-dose / full-dose pairs listed in a `pairs.tsv` (the layout of
//! `ldct-mayo`): a header row with at least the columns `quarter_dose` and `full_dose` (file
//! names relative to the folder); `patient`, `kernel`, `psnr_qd_vs_fd_db` and `ssim_qd_vs_fd`
//! are read when present.

use std::path::{Path, PathBuf};

use crate::imaging::hu::{HuSlice, slice_to_hu};
use crate::imaging::{ImagingError, load};

/// Why a pairs folder could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PairsError {
    #[error("{path}: cannot read")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {what}")]
    Format { path: PathBuf, what: String },
    #[error(transparent)]
    Imaging(#[from] ImagingError),
}

/// One row of `pairs.tsv`.
#[derive(Clone, Debug, PartialEq)]
pub struct PairEntry {
    /// Patient id (`patient` column), or "" when absent.
    pub patient: String,
    /// Reconstruction kernel (`kernel` column), or "" when absent.
    pub kernel: String,
    pub quarter: PathBuf,
    pub full: PathBuf,
    /// Baselines stored in the file (QD against FD), when present.
    pub baseline_psnr: Option<f64>,
    pub baseline_ssim: Option<f64>,
}

impl PairEntry {
    /// A short name: the low-dose file name.
    pub fn name(&self) -> String {
        self.quarter
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Reads `dir/pairs.tsv`.
pub fn read_pairs(dir: &Path) -> Result<Vec<PairEntry>, PairsError> {
    let path = dir.join("pairs.tsv");
    let text = std::fs::read_to_string(&path).map_err(|source| PairsError::Io {
        path: path.clone(),
        source,
    })?;
    parse_pairs(&text, dir).map_err(|what| PairsError::Format { path, what })
}

/// Parses the text of a `pairs.tsv`; file names are joined to `dir`.
pub fn parse_pairs(text: &str, dir: &Path) -> Result<Vec<PairEntry>, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .ok_or("empty file")?
        .split('\t')
        .map(str::trim)
        .collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (Some(q), Some(f)) = (col("quarter_dose"), col("full_dose")) else {
        return Err("the header needs the columns quarter_dose and full_dose".into());
    };
    let (pat, ker, bp, bs) = (
        col("patient"),
        col("kernel"),
        col("psnr_qd_vs_fd_db"),
        col("ssim_qd_vs_fd"),
    );
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split('\t').map(str::trim).collect();
        let get = |c: Option<usize>| c.and_then(|c| cells.get(c)).copied();
        let (Some(qd), Some(fd)) = (get(Some(q)), get(Some(f))) else {
            return Err(format!("row {} has too few columns", i + 2));
        };
        if qd.is_empty() || fd.is_empty() {
            return Err(format!("row {}: empty file name", i + 2));
        }
        out.push(PairEntry {
            patient: get(pat).unwrap_or("").to_string(),
            kernel: get(ker).unwrap_or("").to_string(),
            quarter: dir.join(qd),
            full: dir.join(fd),
            baseline_psnr: get(bp).and_then(|v| v.parse().ok()),
            baseline_ssim: get(bs).and_then(|v| v.parse().ok()),
        });
    }
    if out.is_empty() {
        return Err("no pairs listed".into());
    }
    Ok(out)
}

/// Both scans of a pair in HU; they must have the same size.
pub fn load_pair(e: &PairEntry) -> Result<(HuSlice, HuSlice), PairsError> {
    let one = |p: &Path| -> Result<HuSlice, PairsError> {
        let s = load(p)?;
        slice_to_hu(&s).map_err(|k| PairsError::Imaging(ImagingError::new(p, k)))
    };
    let (qd, fd) = (one(&e.quarter)?, one(&e.full)?);
    if (qd.rows, qd.cols) != (fd.rows, fd.cols) {
        return Err(PairsError::Format {
            path: e.full.clone(),
            what: format!(
                "{}×{} but the low-dose scan is {}×{}",
                fd.rows, fd.cols, qd.rows, qd.cols
            ),
        });
    }
    Ok((qd, fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_header_by_name() {
        let t = "kernel\tfull_dose\tquarter_dose\tpatient\nB30f\tb.IMA\ta.IMA\tL1\n\n";
        let p = parse_pairs(t, Path::new("/d")).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].quarter, Path::new("/d/a.IMA"));
        assert_eq!(p[0].full, Path::new("/d/b.IMA"));
        assert_eq!(
            (p[0].patient.as_str(), p[0].kernel.as_str()),
            ("L1", "B30f")
        );
        assert_eq!(p[0].baseline_psnr, None);
        assert!(parse_pairs("a\tb\n", Path::new("/")).is_err());
        assert!(parse_pairs("quarter_dose\tfull_dose\n", Path::new("/")).is_err());
        assert!(parse_pairs("quarter_dose\tfull_dose\nx\n", Path::new("/")).is_err());
    }
}
