//! A folder holding one series, sorted along the patient axis.

use std::path::{Path, PathBuf};

use super::load::{LoadOptions, load_dicom};
use crate::imaging::error::{ErrorKind, ImagingError};
use crate::imaging::slice::Slice;

/// Most files read from one series folder.
const MAX_SERIES_FILES: usize = 4096;

/// Slices of one series in anatomical order.
#[derive(Debug, Clone)]
pub struct Series {
    pub series_instance_uid: Option<String>,
    pub slices: Vec<Slice>,
    pub paths: Vec<PathBuf>,
    /// Files of the folder that are not part of it, with the reason, so that front ends
    /// can say what was left out.
    pub skipped: Vec<(PathBuf, SkipReason)>,
}

/// Why a file of a series folder was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SkipReason {
    /// Not a DICOM file.
    NotDicom,
    /// A DICOM image of another series (SeriesInstanceUID) than the first readable file.
    OtherSeries,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SkipReason::NotDicom => "not DICOM",
            SkipReason::OtherSeries => "another series",
        })
    }
}

/// Position along the slice normal (ImagePositionPatient · (row × col), mm), when known.
pub fn normal_position(s: &Slice) -> Option<f64> {
    let info = s.info.as_ref()?;
    let o = info.image_orientation_patient?;
    let p = info.image_position_patient?;
    let n = [
        o[1] * o[5] - o[2] * o[4],
        o[2] * o[3] - o[0] * o[5],
        o[0] * o[4] - o[1] * o[3],
    ];
    Some(p[0] * n[0] + p[1] * n[1] + p[2] * n[2])
}

/// Loads every DICOM file of `dir` (not recursive) belonging to the series of
/// the first readable file, sorted by position along the normal, else by
/// InstanceNumber, else by file name. Files that are not DICOM are skipped;
/// any other failure is reported.
pub fn load_series(dir: &Path) -> Result<Series, ImagingError> {
    let err = |k| ImagingError::new(dir, k);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| err(ErrorKind::Io(e)))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    if paths.len() > MAX_SERIES_FILES {
        return Err(err(ErrorKind::TooLarge(format!(
            "{} files in the folder (limit {MAX_SERIES_FILES})",
            paths.len()
        ))));
    }
    paths.sort();
    let mut items: Vec<(PathBuf, Slice)> = Vec::new();
    let mut skipped = Vec::new();
    for p in paths {
        match load_dicom(&p, &LoadOptions::default()) {
            Ok(s) => items.push((p, s)),
            Err(e) if matches!(e.kind, ErrorKind::NotDicom(_)) => {
                skipped.push((p, SkipReason::NotDicom))
            }
            Err(e) => return Err(e),
        }
    }
    let uid = items
        .first()
        .and_then(|(_, s)| s.info.as_ref())
        .and_then(|i| i.series_instance_uid.clone());
    let (mut items, others): (Vec<_>, Vec<_>) = items.into_iter().partition(|(_, s)| {
        s.info
            .as_ref()
            .and_then(|i| i.series_instance_uid.as_deref())
            == uid.as_deref()
    });
    skipped.extend(
        others
            .into_iter()
            .map(|(p, _)| (p, SkipReason::OtherSeries)),
    );
    if items.is_empty() {
        return Err(err(ErrorKind::EmptySeries(
            "no DICOM image in the folder".into(),
        )));
    }
    let all_pos = items.iter().all(|(_, s)| normal_position(s).is_some());
    let all_num = items
        .iter()
        .all(|(_, s)| s.info.as_ref().and_then(|i| i.instance_number).is_some());
    if all_pos {
        items.sort_by(|a, b| {
            let (pa, pb) = (normal_position(&a.1), normal_position(&b.1));
            pa.partial_cmp(&pb).unwrap_or(std::cmp::Ordering::Equal)
        });
    } else if all_num {
        items.sort_by_key(|(_, s)| s.info.as_ref().and_then(|i| i.instance_number));
    }
    let (paths, slices) = items.into_iter().unzip();
    Ok(Series {
        series_instance_uid: uid,
        slices,
        paths,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::phantom::{Lesion, Phantom};

    #[test]
    fn files_of_other_series_and_non_dicom_files_are_named_not_dropped_silently() {
        let dir = std::env::temp_dir().join(format!("privact-series-skip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // The phantom's series UID derives from its lesion: two lesions, two series.
        for (name, lesion) in [("a.dcm", Lesion::None), ("b.dcm", Lesion::Cyst)] {
            std::fs::write(dir.join(name), Phantom::new(lesion).dicom_bytes().unwrap()).unwrap();
        }
        std::fs::write(dir.join("notes.txt"), b"not an image").unwrap();
        let series = load_series(&dir).unwrap();
        assert_eq!(series.paths, vec![dir.join("a.dcm")]);
        let mut skipped = series.skipped.clone();
        skipped.sort();
        assert_eq!(
            skipped,
            vec![
                (dir.join("b.dcm"), SkipReason::OtherSeries),
                (dir.join("notes.txt"), SkipReason::NotDicom)
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
