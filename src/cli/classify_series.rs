//! `privact classify-series PATH`: every slice of a series (a folder holding one DICOM series,
//! or a multi-frame DICOM file) through the kidney classifier, encrypted by default, with one
//! key set for the whole series (issue 19). One row per slice (instance number, position along
//! the slice normal, probabilities, predicted class or the input check's warning) and totals
//! (bytes, seconds). Nothing is resumed: every run starts from the files; `--csv` is written
//! atomically (temporary file, then rename).

use super::classify::{Mode, Runner, mode_name};
use crate::imaging::dicom::load_dicom_frames;
use crate::imaging::dicom::series::{SkipReason, load_series, normal_position};
use crate::imaging::input_check;
use crate::imaging::io::write_atomic;
use crate::imaging::{LoadOptions, Slice, load_with};
use crate::model::classifier::{CLASSES, argmax, preprocess::preprocess};
use crate::protocol::release::{ReleasePolicy, release};
use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Most frames read from one multi-frame file (the folder limit of `load_series` applies to
/// folders).
const MAX_FRAMES: u32 = 4096;

#[derive(clap::Args)]
pub struct ClassifySeriesArgs {
    /// A folder holding one DICOM series, or a multi-frame DICOM file.
    pub path: PathBuf,
    /// Only slices A..B of the series in anatomical order (0-based, B excluded), e.g. `10:30`,
    /// `:8`, `12:`.
    #[arg(long, value_name = "A:B")]
    pub range: Option<String>,
    #[arg(long, value_enum, default_value_t = Mode::Encrypted)]
    pub mode: Mode,
    /// Also write one CSV row per slice to this file (written atomically).
    #[arg(long, value_name = "OUT")]
    pub csv: Option<PathBuf>,
    /// Print one JSON object (rows and totals) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also return each slice's class-activation maps (encrypted mode: one more ciphertext
    /// per answer); with `--json` every row carries its 16×16 cyst and tumour maps.
    #[arg(long)]
    pub heat_map: bool,
    #[command(flatten)]
    pub server: super::serve::ServerArgs,
}

/// `A:B` → A..B within `0..len`; either end may be omitted. An error for anything else, an
/// empty range or one past the end.
pub fn parse_range(text: &str, len: usize) -> anyhow::Result<Range<usize>> {
    let (a, b) = text
        .split_once(':')
        .with_context(|| format!("--range {text}: expected A:B (for example 10:30)"))?;
    let end_of = |s: &str, default: usize| -> anyhow::Result<usize> {
        if s.trim().is_empty() {
            Ok(default)
        } else {
            s.trim()
                .parse::<usize>()
                .with_context(|| format!("--range {text}: {s:?} is not a slice number"))
        }
    };
    let (a, b) = (end_of(a, 0)?, end_of(b, len)?);
    if a >= b || b > len {
        bail!(
            "--range {text}: the series has slices 0..{len}; the range must be non-empty and within it"
        );
    }
    Ok(a..b)
}

/// One line naming the files of a series folder that were left out, grouped by reason (at
/// most three names each), or `None` when every file was used.
fn skipped_note(skipped: &[(PathBuf, SkipReason)]) -> Option<String> {
    if skipped.is_empty() {
        return None;
    }
    let parts: Vec<String> = [SkipReason::OtherSeries, SkipReason::NotDicom]
        .into_iter()
        .filter_map(|reason| {
            let names: Vec<String> = skipped
                .iter()
                .filter(|(_, r)| *r == reason)
                .map(|(p, _)| {
                    p.file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                })
                .collect();
            let n = names.len();
            (n > 0).then(|| {
                let more = if n > 3 {
                    format!(", … ({} more)", n - 3)
                } else {
                    String::new()
                };
                format!("{n} {reason} ({}{more})", names[..n.min(3)].join(", "))
            })
        })
        .collect();
    Some(format!(
        "note: {} file(s) of the folder left out: {}",
        skipped.len(),
        parts.join("; ")
    ))
}

/// The slices of `path` in anatomical order, with a name for each (file or frame).
fn load_slices(path: &Path) -> anyhow::Result<Vec<(String, Slice)>> {
    if path.is_dir() {
        let series = load_series(path)?;
        if let Some(note) = skipped_note(&series.skipped) {
            eprintln!("{note}");
        }
        return Ok(series
            .paths
            .iter()
            .map(|p| {
                p.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            })
            .zip(series.slices)
            .collect());
    }
    let first = load_with(path, &LoadOptions { frame: 0 })?;
    let frames = first.info.as_ref().map_or(1, |i| i.frames.max(1));
    if frames > MAX_FRAMES {
        bail!(
            "{}: {frames} frames (at most {MAX_FRAMES} are read)",
            path.display()
        );
    }
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let slices = if frames > 1 {
        // Read and parse the file once for all its frames.
        load_dicom_frames(path, MAX_FRAMES)?
    } else {
        vec![first]
    };
    Ok(slices
        .into_iter()
        .enumerate()
        .map(|(frame, s)| (format!("{name}#{frame}"), s))
        .collect())
}

/// One classified slice.
struct Row {
    index: usize,
    name: String,
    instance_number: Option<i64>,
    position_mm: Option<f64>,
    probabilities: [f64; 3],
    warning: Option<String>,
    seconds: f64,
    upload_bytes: u64,
    download_bytes: u64,
    /// The class-activation maps (with `--heat-map`).
    heat_map: Option<crate::model::classifier::ClassMaps>,
}

impl Row {
    fn predicted(&self) -> Option<&'static str> {
        self.warning
            .is_none()
            .then(|| CLASSES[argmax(&self.probabilities)])
    }

    fn json(&self) -> Value {
        json!({
            "index": self.index,
            "file": self.name,
            "instance_number": self.instance_number,
            "position_mm": self.position_mm,
            "probabilities": {CLASSES[0]: self.probabilities[0], CLASSES[1]: self.probabilities[1], CLASSES[2]: self.probabilities[2]},
            "predicted": self.predicted(),
            "warning": self.warning,
            "seconds": self.seconds,
            "upload_bytes": self.upload_bytes,
            "download_bytes": self.download_bytes,
            "heat_map": self.heat_map,
        })
    }
}

fn csv_bytes(rows: &[Row]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "index",
        "file",
        "instance_number",
        "position_mm",
        "p_normal",
        "p_cyst",
        "p_tumor",
        "predicted",
        "warning",
        "seconds",
        "upload_bytes",
        "download_bytes",
    ])?;
    let opt = |v: Option<String>| v.unwrap_or_default();
    for r in rows {
        w.write_record([
            r.index.to_string(),
            r.name.clone(),
            opt(r.instance_number.map(|n| n.to_string())),
            opt(r.position_mm.map(|z| format!("{z:.3}"))),
            format!("{:.6}", r.probabilities[0]),
            format!("{:.6}", r.probabilities[1]),
            format!("{:.6}", r.probabilities[2]),
            r.predicted().unwrap_or("").to_string(),
            opt(r.warning.clone()),
            format!("{:.4}", r.seconds),
            r.upload_bytes.to_string(),
            r.download_bytes.to_string(),
        ])?;
    }
    w.into_inner().context("finishing the CSV")
}

pub fn run(args: &ClassifySeriesArgs) -> anyhow::Result<()> {
    let t_all = Instant::now();
    let slices = load_slices(&args.path)?;
    let range = match &args.range {
        Some(r) => parse_range(r, slices.len())?,
        None => 0..slices.len(),
    };
    // Every slice is checked before anything is encrypted; a refusal (not CT, not HU) stops
    // the whole run with the slice named.
    let mut inputs = Vec::with_capacity(range.len());
    for (index, (name, slice)) in slices
        .iter()
        .enumerate()
        .skip(range.start)
        .take(range.len())
    {
        let check = input_check::check_slice(slice)
            .map_err(|r| anyhow::anyhow!("{}: slice {index} ({name}): {r}", args.path.display()))?;
        let hu = input_check::as_hounsfield(slice);
        inputs.push((
            index,
            name.clone(),
            slice,
            preprocess(&crate::imaging::model_input::to_model_input(&hu)),
            check.warning(),
        ));
    }
    anyhow::ensure!(
        !args.heat_map || args.mode != Mode::Reference,
        "--heat-map needs --mode approx or encrypted: the maps are the Approx-CNN's"
    );
    let mut runner = Runner::new()?;
    runner.heat_map = args.heat_map;
    runner.endpoint = args.server.endpoint()?;
    let mut rows = Vec::with_capacity(inputs.len());
    let mut setup = Value::Null;
    for (index, name, slice, input, warning) in inputs {
        let t = Instant::now();
        let (mut p, extra) = runner.probabilities(args.mode, &input)?;
        if args.mode == Mode::Encrypted {
            // As `privact classify`: decrypted values leave the client flooded and rounded.
            release(&mut p, &ReleasePolicy::new(1e-6, 1e-4)?);
        }
        let info = slice.info.as_ref();
        if setup.is_null() {
            setup = json!({
                "eval_key_bytes": extra.eval_key_bytes,
                "server_key_memory_bytes": extra.server_key_memory_bytes,
                "seconds": extra.setup_seconds,
            });
        }
        rows.push(Row {
            index,
            name,
            instance_number: info.and_then(|i| i.instance_number),
            position_mm: normal_position(slice),
            probabilities: p,
            warning,
            seconds: extra
                .slice_seconds
                .unwrap_or_else(|| t.elapsed().as_secs_f64()),
            upload_bytes: extra.upload_bytes,
            download_bytes: extra.download_bytes,
            heat_map: extra.heat_map,
        });
    }
    let upload: u64 = rows.iter().map(|r| r.upload_bytes).sum();
    let download: u64 = rows.iter().map(|r| r.download_bytes).sum();
    let slice_seconds: f64 = rows.iter().map(|r| r.seconds).sum();
    // The most suspicious slices: highest tumour probability among those that passed the check.
    let mut suspicious: Vec<&Row> = rows.iter().filter(|r| r.warning.is_none()).collect();
    suspicious.sort_by(|a, b| b.probabilities[2].total_cmp(&a.probabilities[2]));
    suspicious.truncate(3);
    let totals = json!({
        "slices": rows.len(),
        "series_slices": slices.len(),
        "range": [range.start, range.end],
        "warnings": rows.iter().filter(|r| r.warning.is_some()).count(),
        "upload_bytes": upload,
        "download_bytes": download,
        "setup": setup,
        "slice_seconds_total": slice_seconds,
        "seconds_per_slice": slice_seconds / rows.len().max(1) as f64,
        "wall_seconds": t_all.elapsed().as_secs_f64(),
        "most_suspicious": suspicious.iter().map(|r| json!({"index": r.index, "file": r.name, "p_tumor": r.probabilities[2]})).collect::<Vec<_>>(),
    });
    if let Some(out) = &args.csv {
        write_atomic(out, &csv_bytes(&rows)?)?;
    }
    let evaluated_by = args.server.evaluated_by(args.mode == Mode::Encrypted);
    if args.json {
        println!(
            "{}",
            json!({
                "mode": mode_name(args.mode),
                "path": args.path.display().to_string(),
                "evaluated_by": evaluated_by,
                "rows": rows.iter().map(Row::json).collect::<Vec<_>>(),
                "totals": totals,
            })
        );
        return Ok(());
    }
    println!(
        "{:>5}  {:>8}  {:>9}  {:>7} {:>7} {:>7}  predicted",
        "slice", "instance", "z (mm)", "normal", "cyst", "tumour"
    );
    for r in &rows {
        println!(
            "{:>5}  {:>8}  {:>9}  {:>7.4} {:>7.4} {:>7.4}  {}",
            r.index,
            r.instance_number.map_or("–".into(), |n| n.to_string()),
            r.position_mm.map_or("–".into(), |z| format!("{z:.1}")),
            r.probabilities[0],
            r.probabilities[1],
            r.probabilities[2],
            match (&r.warning, r.predicted()) {
                (Some(w), _) => format!("none (input check: {w})"),
                (None, Some(c)) => c.to_string(),
                (None, None) => "–".into(),
            }
        );
    }
    println!(
        "{} slices ({} mode): {:.2} s per slice, {} bytes up, {} bytes down{}",
        rows.len(),
        mode_name(args.mode),
        slice_seconds / rows.len().max(1) as f64,
        upload,
        download,
        match (setup["eval_key_bytes"].as_u64(), setup["seconds"].as_f64()) {
            (Some(k), Some(t)) if args.mode == Mode::Encrypted => {
                format!(", keys {k} bytes and {t:.2} s once")
            }
            _ => String::new(),
        }
    );
    if !suspicious.is_empty() {
        println!(
            "most suspicious (tumour): {}",
            suspicious
                .iter()
                .map(|r| format!("slice {} ({}) {:.3}", r.index, r.name, r.probabilities[2]))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!("evaluated by {evaluated_by}");
    if let Some(out) = &args.csv {
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("2:5", 10).unwrap(), 2..5);
        assert_eq!(parse_range(":3", 10).unwrap(), 0..3);
        assert_eq!(parse_range("7:", 10).unwrap(), 7..10);
        assert_eq!(parse_range(":", 4).unwrap(), 0..4);
        for bad in ["5:5", "6:2", "0:11", "x:3", "3", "-1:2"] {
            assert!(parse_range(bad, 10).is_err(), "{bad}");
        }
    }
}
