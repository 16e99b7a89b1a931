//! `privact check-input PATH… [--json]`: the classifier's input check (plaintext, nothing is
//! encrypted) on files or folders (searched recursively, sorted). One line per file: `ok`,
//! `warning` (CT or 8-bit slice that does not look like an axial abdominal slice at kidney
//! level), `refused` (not CT, colour, or CT without HU) or `unreadable`, then a summary.
//! Exits 0 when every file passed; otherwise ends with one `error:` line (exit code 2).

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::imaging::input_check::{self, Plausibility};

#[derive(clap::Args)]
pub struct CheckInputArgs {
    /// Files or folders (searched recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// One JSON object per line (with the measured features) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The outcome for one file.
pub enum Outcome {
    /// The check passed.
    Ok(Plausibility),
    /// A CT or 8-bit slice that failed a plausibility rule.
    Warning(Plausibility),
    /// Refused (not CT, colour, CT without HU).
    Refused(input_check::InputRefused),
    /// The file could not be loaded.
    Unreadable(String),
}

impl Outcome {
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Ok(_) => "ok",
            Outcome::Warning(_) => "warning",
            Outcome::Refused(_) => "refused",
            Outcome::Unreadable(_) => "unreadable",
        }
    }
}

/// Loads one file and runs the check.
pub fn check_path(path: &Path) -> Outcome {
    match crate::imaging::load(path) {
        Err(e) => Outcome::Unreadable(e.to_string()),
        Ok(slice) => match input_check::check_file(path, &slice) {
            Err(r) => Outcome::Refused(r),
            Ok(p) if p.passed() => Outcome::Ok(p),
            Ok(p) => Outcome::Warning(p),
        },
    }
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            let skip = e.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with('.')
                    || n.ends_with(".md")
                    || n.ends_with(".tsv")
                    || n.ends_with(".txt")
            });
            if !skip {
                collect(&e, out)?;
            }
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

pub fn run(args: &CheckInputArgs) -> anyhow::Result<()> {
    let mut files = Vec::new();
    for p in &args.paths {
        anyhow::ensure!(p.exists(), "{}: no such file or folder", p.display());
        collect(p, &mut files)?;
    }
    let mut counts = [0usize; 4];
    for f in &files {
        let o = check_path(f);
        let k = match &o {
            Outcome::Ok(_) => 0,
            Outcome::Warning(_) => 1,
            Outcome::Refused(_) => 2,
            Outcome::Unreadable(_) => 3,
        };
        counts[k] += 1;
        let (message, features) = match &o {
            Outcome::Ok(p) => (String::new(), Some(p.features)),
            Outcome::Warning(p) => (p.warning().unwrap_or_default(), Some(p.features)),
            Outcome::Refused(r) => (r.to_string(), None),
            Outcome::Unreadable(e) => (e.clone(), None),
        };
        if args.json {
            println!(
                "{}",
                json!({"file": f.display().to_string(), "status": o.status(), "message": message, "features": features})
            );
        } else if message.is_empty() {
            println!("{:<10} {}", o.status(), f.display());
        } else {
            println!("{:<10} {}: {message}", o.status(), f.display());
        }
    }
    let summary = json!({"files": files.len(), "ok": counts[0], "warning": counts[1], "refused": counts[2], "unreadable": counts[3]});
    if args.json {
        println!("{}", json!({ "summary": summary }));
    } else {
        eprintln!(
            "{} files: {} ok, {} with a warning, {} refused, {} unreadable",
            files.len(),
            counts[0],
            counts[1],
            counts[2],
            counts[3]
        );
    }
    anyhow::ensure!(
        counts[0] == files.len(),
        "{} of {} files did not pass the input check (a warning or worse)",
        files.len() - counts[0],
        files.len()
    );
    Ok(())
}
