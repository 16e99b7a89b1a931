//! `privact classify` and `privact evaluate`: the kidney classifier in reference, approx
//! (plaintext HE-friendly) or encrypted mode.

use crate::imaging;
use crate::model::classifier::metrics::{auc, average_precision};
use crate::model::classifier::{
    CLASSES, Classifier, NUM_CLASSES, argmax, preprocess::preprocess, shipped, softmax,
};
use crate::protocol::local::LocalSession;
use crate::protocol::release::ReleasePolicy;
use anyhow::Context;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Ref-CNN in plaintext (ReLU, max-pooling).
    Reference,
    /// Approx-CNN in plaintext (the network the server evaluates).
    Approx,
    /// Approx-CNN on CKKS ciphertexts through the client/server protocol.
    Encrypted,
}

#[derive(clap::Args)]
pub struct ClassifyArgs {
    /// DICOM, PNG or JPEG slice.
    pub path: PathBuf,
    #[arg(long, value_enum, default_value_t = Mode::Encrypted)]
    pub mode: Mode,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct EvaluateArgs {
    /// Folder with class subfolders (normal, cyst, tumor; case-insensitive; others ignored).
    pub dir: PathBuf,
    #[arg(long, value_enum, default_value_t = Mode::Approx)]
    pub mode: Mode,
    /// At most N images per class, in sorted file-name order.
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long)]
    pub json: bool,
}

/// File → the classifier's input (imaging transform, then per-image standardisation).
pub fn model_input(path: &Path) -> anyhow::Result<Vec<f32>> {
    let slice = imaging::load(path)?;
    Ok(preprocess(&imaging::model_input::to_model_input(&slice)))
}

/// Runs one mode; an encrypted session is created on first use and reused.
struct Runner {
    model: Classifier,
    session: Option<LocalSession>,
}

impl Runner {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            model: shipped().context("loading the shipped classifier")?,
            session: None,
        })
    }

    fn session(&mut self) -> anyhow::Result<&mut LocalSession> {
        if self.session.is_none() {
            let weights = self.model.he_members();
            let preset = self.model.description.parameter_preset.clone();
            self.session = Some(LocalSession::start(&preset, weights, &mut |_| {})?);
        }
        self.session.as_mut().context("session")
    }

    fn probabilities(
        &mut self,
        mode: Mode,
        input: &[f32],
    ) -> anyhow::Result<([f64; NUM_CLASSES], Value)> {
        let logits = match mode {
            Mode::Reference => self.model.reference_logits(input)?,
            Mode::Approx => self.model.approx_logits(input)?,
            Mode::Encrypted => {
                let run = self.session()?.classify(input, &mut |_| {})?;
                let mut ledger: Vec<Value> = run
                    .setup
                    .steps
                    .iter()
                    .chain(&run.ledger.steps)
                    .map(step_json)
                    .collect();
                ledger.retain(|s| s["stage"] != "Secret key" || s["ms"].as_f64().is_some());
                let extra = json!({
                    "ledger": ledger,
                    "upload_bytes": run.upload_bytes,
                    "download_bytes": run.download_bytes,
                    "eval_key_bytes": run.eval_key_bytes,
                    "server_key_memory_bytes": run.server_key_memory,
                });
                return Ok((run.result.probabilities, extra));
            }
        };
        let p = softmax(&logits);
        Ok((
            [p[0], p[1], p[2]],
            json!({"ledger": [], "upload_bytes": 0, "download_bytes": 0, "eval_key_bytes": 0}),
        ))
    }
}

fn step_json(s: &crate::protocol::Step) -> Value {
    json!({"stage": s.name, "side": s.side, "ms": s.seconds * 1e3, "bytes": s.bytes})
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Reference => "reference",
        Mode::Approx => "approx",
        Mode::Encrypted => "encrypted",
    }
}

pub fn run_classify(args: &ClassifyArgs) -> anyhow::Result<()> {
    let input = model_input(&args.path)?;
    let mut runner = Runner::new()?;
    let (mut p, extra) = runner.probabilities(args.mode, &input)?;
    if args.mode == Mode::Encrypted {
        // Decrypted values leave the client flooded and rounded (see `protocol::release`):
        // logits decrypt to ~1e-8, so σ = 1.6e-5 and a 1e-4 grid hide the error entirely.
        crate::protocol::release::release(&mut p, &ReleasePolicy::new(1e-6, 1e-4)?);
    }
    let params = crate::ckks::Parameters::preset(&runner.model.description.parameter_preset)?;
    let mut out = json!({
        "mode": mode_name(args.mode),
        "probabilities": {CLASSES[0]: p[0], CLASSES[1]: p[1], CLASSES[2]: p[2]},
        "predicted": CLASSES[argmax(&p)],
        "params": {
            "log_n": params.log_n(),
            "log_q": params.literal().log_q,
            "log_p": params.literal().log_p,
            "security_bits": params.security_bits(),
        },
    });
    if let (Some(o), Value::Object(e)) = (out.as_object_mut(), extra) {
        o.extend(e);
    }
    if args.json {
        println!("{out}");
    } else {
        println!(
            "{} ({} mode)",
            out["predicted"].as_str().unwrap_or("?"),
            mode_name(args.mode)
        );
        for (k, name) in CLASSES.iter().enumerate() {
            println!("  {name:<7} {:.4}", p[k]);
        }
        if args.mode == Mode::Encrypted {
            for s in out["ledger"].as_array().into_iter().flatten() {
                println!(
                    "  {:<28} {:>9.1} ms {:>12} bytes",
                    s["stage"].as_str().unwrap_or(""),
                    s["ms"].as_f64().unwrap_or(0.0),
                    s["bytes"]
                );
            }
        }
    }
    Ok(())
}

/// Class folders of `dir`, matched case-insensitively, each with its sorted files.
fn class_files(dir: &Path, limit: Option<usize>) -> anyhow::Result<Vec<(usize, PathBuf)>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    let mut folders: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    for folder in folders {
        let name = folder
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let Some(label) = CLASSES.iter().position(|c| *c == name) else {
            continue;
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        files.truncate(limit.unwrap_or(usize::MAX));
        out.extend(files.into_iter().map(|f| (label, f)));
    }
    anyhow::ensure!(
        !out.is_empty(),
        "no images found under class folders normal/cyst/tumor in {}",
        dir.display()
    );
    Ok(out)
}

pub fn run_evaluate(args: &EvaluateArgs) -> anyhow::Result<()> {
    let files = class_files(&args.dir, args.limit)?;
    let mut runner = Runner::new()?;
    let (mut probs, mut labels, mut times) = (Vec::new(), Vec::new(), Vec::new());
    let (mut agree, mut max_diff) = (0usize, 0.0f64);
    for (label, path) in &files {
        let input = model_input(path).with_context(|| format!("{}", path.display()))?;
        let t = Instant::now();
        let (p, _) = runner.probabilities(args.mode, &input)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        if args.mode == Mode::Encrypted {
            let (plain, _) = runner.probabilities(Mode::Approx, &input)?;
            agree += usize::from(argmax(&plain) == argmax(&p));
            max_diff = p
                .iter()
                .zip(&plain)
                .map(|(a, b)| (a - b).abs())
                .fold(max_diff, f64::max);
        }
        probs.push(p);
        labels.push(*label);
    }
    let n = probs.len();
    let mut per_class = serde_json::Map::new();
    for (k, name) in CLASSES.iter().enumerate() {
        let scores: Vec<f64> = probs.iter().map(|p| p[k]).collect();
        let positive: Vec<bool> = labels.iter().map(|&l| l == k).collect();
        per_class.insert(
            name.to_string(),
            json!({"auc": auc(&scores, &positive), "auprc": average_precision(&scores, &positive)}),
        );
    }
    let correct = probs
        .iter()
        .zip(&labels)
        .filter(|(p, l)| argmax(&p[..]) == **l)
        .count();
    let mut out = json!({
        "n": n,
        "mode": mode_name(args.mode),
        "per_class": per_class,
        "accuracy": correct as f64 / n as f64,
        "mean_ms": times.iter().sum::<f64>() / n as f64,
    });
    if args.mode == Mode::Encrypted
        && let Some(o) = out.as_object_mut()
    {
        o.insert("agreement".into(), json!(agree as f64 / n as f64));
        o.insert("max_abs_prob_diff".into(), json!(max_diff));
    }
    if args.json {
        println!("{out}");
    } else {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(())
}

/// `privact` with no arguments (until the desktop app lands): the built-in phantom classified
/// under encryption, with the full ledger — no file needed.
pub fn run_demo() -> anyhow::Result<()> {
    let bytes = imaging::phantom::builtin_sample_dicom()
        .map_err(|k| anyhow::anyhow!("building the phantom: {k}"))?;
    let slice = imaging::load_bytes(
        &bytes,
        Path::new("built-in phantom"),
        &imaging::LoadOptions::default(),
    )?;
    let input = preprocess(&imaging::model_input::to_model_input(&slice));
    println!(
        "PrivaCT demo: built-in abdominal phantom ({}×{} HU), classified on CKKS ciphertexts",
        slice.rows, slice.cols
    );
    println!(
        "plaintext slice: {} bytes as 16-bit pixels",
        slice.rows * slice.cols * 2
    );
    let mut runner = Runner::new()?;
    let (p, extra) = runner.probabilities(Mode::Encrypted, &input)?;
    for s in extra["ledger"].as_array().into_iter().flatten() {
        println!(
            "  {:<28} {:>9.1} ms {:>12} bytes",
            s["stage"].as_str().unwrap_or(""),
            s["ms"].as_f64().unwrap_or(0.0),
            s["bytes"]
        );
    }
    println!("decrypted on this machine (the server never saw the image):");
    for (k, name) in CLASSES.iter().enumerate() {
        println!("  {name:<7} {:.4}", p[k]);
    }
    println!("(model card: MODEL_CARD.md — research software, not for clinical use)");
    Ok(())
}
