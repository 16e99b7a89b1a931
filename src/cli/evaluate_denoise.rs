//! `privact evaluate-denoise DIR [--model linear|nonlinear|both] [--mode plain|encrypted]
//! [--json]`: scores the shipped denoisers on a folder of real low-dose / full-dose pairs
//! listed in `DIR/pairs.tsv` (columns `quarter_dose`, `full_dose`; the layout of
//! `ldct-mayo`). For every pair and model: PSNR/SSIM of the low-dose input and of the output
//! against the full-dose scan, over the abdomen window (HU clipped to [−160, 240], scaled to
//! [0, 1]; PSNR data range 1; SSIM with scikit-image's default 7 × 7 uniform window), then the
//! mean per kernel and overall and the worst pair.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use serde::Serialize;

use super::denoise::Mode;
use crate::imaging::ldct::pairs::{PairEntry, load_pair, read_pairs};
use crate::model::denoiser::data::{Finished, Quality, finish, finish_with, max_abs_diff, to_unit};
use crate::model::denoiser::he::MaskPolicy;
use crate::model::denoiser::weights::builtin;
use crate::model::denoiser::{Denoiser, ModelKind};
use crate::protocol::denoise::local::{CONTINUE, DenoiseSession};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    Linear,
    Nonlinear,
    Both,
}

#[derive(clap::Args)]
pub struct EvaluateDenoiseArgs {
    /// Folder with `pairs.tsv` and the scans it lists.
    pub dir: PathBuf,
    #[arg(long, value_enum, default_value_t = Which::Both)]
    pub model: Which,
    #[arg(long, value_enum, default_value_t = Mode::Plain)]
    pub mode: Mode,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Skip the client's noise-adaptive gain (score the raw model output).
    #[arg(long)]
    pub no_gain: bool,
    /// Only the pairs of these patients (comma-separated; `patient` column).
    #[arg(long, value_delimiter = ',')]
    pub patients: Vec<String>,
    /// Score only the first N pairs (after --patients); N ≥ 1.
    #[arg(long, value_parser = at_least_one)]
    pub max_pairs: Option<usize>,
    #[command(flatten)]
    pub server: super::serve::ServerArgs,
}

/// Scores of one model on one pair.
#[derive(Clone, Debug, Serialize)]
pub struct PairScore {
    pub pair: String,
    pub patient: String,
    pub kernel: String,
    pub model: ModelKind,
    pub psnr_in: f64,
    pub psnr_out: f64,
    pub ssim_in: f64,
    pub ssim_out: f64,
    pub noise_estimate_hu: f64,
    pub gain: f64,
    /// max |encrypted − plaintext| on [0, 1] (encrypted mode only).
    pub max_abs_diff_vs_plain: Option<f64>,
    /// Baselines stored in pairs.tsv, when present.
    pub baseline_psnr: Option<f64>,
    pub baseline_ssim: Option<f64>,
}

impl PairScore {
    /// The score of `kind` on `entry` from its measured quality and gain step.
    fn new(
        entry: &PairEntry,
        kind: ModelKind,
        q: &Quality,
        f: &Finished,
        max_abs_diff_vs_plain: Option<f64>,
    ) -> Self {
        PairScore {
            pair: entry.name(),
            patient: entry.patient.clone(),
            kernel: entry.kernel.clone(),
            model: kind,
            psnr_in: q.psnr_in,
            psnr_out: q.psnr_out,
            ssim_in: q.ssim_in,
            ssim_out: q.ssim_out,
            noise_estimate_hu: f.sigma_hu,
            gain: f.alpha,
            max_abs_diff_vs_plain,
            baseline_psnr: entry.baseline_psnr,
            baseline_ssim: entry.baseline_ssim,
        }
    }
}

/// Mean and worst gain of a group of pair scores.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub model: ModelKind,
    pub group: String,
    pub pairs: usize,
    pub psnr_in: f64,
    pub psnr_out: f64,
    pub psnr_gain: f64,
    pub ssim_in: f64,
    pub ssim_out: f64,
    pub worst_psnr_gain: f64,
    pub worst_pair: String,
}

/// Per-kernel and overall summaries per model.
pub fn summarise(scores: &[PairScore]) -> Vec<Summary> {
    let mut groups: BTreeMap<(String, String), Vec<&PairScore>> = BTreeMap::new();
    for s in scores {
        let model = s.model.name().to_string();
        groups
            .entry((model.clone(), "all".into()))
            .or_default()
            .push(s);
        if !s.kernel.is_empty() {
            groups
                .entry((model, format!("kernel {}", s.kernel)))
                .or_default()
                .push(s);
        }
    }
    groups
        .into_iter()
        .filter_map(|((_, group), v)| {
            let first = v.first()?;
            let n = v.len() as f64;
            let mean = |f: fn(&PairScore) -> f64| v.iter().map(|s| f(s)).sum::<f64>() / n;
            let worst = v
                .iter()
                .min_by(|a, b| (a.psnr_out - a.psnr_in).total_cmp(&(b.psnr_out - b.psnr_in)))?;
            Some(Summary {
                model: first.model,
                group,
                pairs: v.len(),
                psnr_in: mean(|s| s.psnr_in),
                psnr_out: mean(|s| s.psnr_out),
                psnr_gain: mean(|s| s.psnr_out - s.psnr_in),
                ssim_in: mean(|s| s.ssim_in),
                ssim_out: mean(|s| s.ssim_out),
                worst_psnr_gain: worst.psnr_out - worst.psnr_in,
                worst_pair: worst.pair.clone(),
            })
        })
        .collect()
}

/// Scores `model` (plaintext) with the gain curve `gain` on one loaded pair.
pub fn score_plain(
    model: &Denoiser,
    gain: &[[f64; 2]],
    entry: &PairEntry,
    qd_hu: &[f32],
    fd_hu: &[f32],
    rows: usize,
    cols: usize,
) -> anyhow::Result<PairScore> {
    let input = to_unit(qd_hu);
    let out = model.denoise(&input, rows, cols)?;
    let f = finish_with(gain, &input, &out, rows, cols);
    let q = Quality::measure(fd_hu, qd_hu, &f.image, rows, cols)?;
    Ok(PairScore::new(entry, model.kind, &q, &f, None))
}

#[derive(Serialize)]
struct Report<'a> {
    dir: &'a std::path::Path,
    mode: Mode,
    gain: bool,
    pairs: &'a [PairScore],
    summary: &'a [Summary],
}

/// `--max-pairs`: a whole number of at least 1.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

pub fn run(args: &EvaluateDenoiseArgs) -> anyhow::Result<()> {
    let mut entries = read_pairs(&args.dir)?;
    if !args.patients.is_empty() {
        entries.retain(|e| args.patients.contains(&e.patient));
        if entries.is_empty() {
            anyhow::bail!("no pairs of patients {:?}", args.patients);
        }
    }
    if let Some(n) = args.max_pairs {
        entries.truncate(n);
    }
    let kinds: Vec<ModelKind> = match args.model {
        Which::Linear => vec![ModelKind::Linear],
        Which::Nonlinear => vec![ModelKind::Nonlinear],
        Which::Both => ModelKind::ALL.to_vec(),
    };
    let mut scores = Vec::new();
    for kind in kinds {
        let model = builtin(kind)?;
        let mut session = match args.mode {
            Mode::Plain => None,
            Mode::Encrypted => Some(match args.server.endpoint()? {
                Some(ep) => DenoiseSession::connect_with(
                    kind,
                    &crate::model::denoiser::weights::specs(&model),
                    &ep,
                    &mut |_| CONTINUE,
                )?,
                None => DenoiseSession::start_with(
                    kind,
                    builtin(ModelKind::Linear)?,
                    builtin(ModelKind::Nonlinear)?,
                    MaskPolicy::DEFAULT,
                    &mut |_| CONTINUE,
                )?,
            }),
        };
        for e in &entries {
            let (qd, fd) = load_pair(e)?;
            let (rows, cols) = (qd.rows, qd.cols);
            let input = to_unit(&qd.hu);
            let plain = model.denoise(&input, rows, cols)?;
            let (out, diff) = match session.as_mut() {
                None => (plain, None),
                Some(s) => {
                    let run = s
                        .denoise_with(&input, rows, cols, &mut |_| CONTINUE)
                        .with_context(|| e.name())?;
                    let d = max_abs_diff(&plain, &run.image);
                    (run.image, Some(d))
                }
            };
            let f = if args.no_gain {
                finish_with(&[], &input, &out, rows, cols)
            } else {
                finish(kind, &input, &out, rows, cols)?
            };
            let q = Quality::measure(&fd.hu, &qd.hu, &f.image, rows, cols)?;
            let s = PairScore::new(e, kind, &q, &f, diff);
            if !args.json {
                println!("{s}");
            }
            scores.push(s);
        }
    }
    let summary = summarise(&scores);
    if args.json {
        let r = Report {
            dir: &args.dir,
            mode: args.mode,
            gain: !args.no_gain,
            pairs: &scores,
            summary: &summary,
        };
        println!("{}", serde_json::to_string(&r)?);
    } else {
        for s in &summary {
            println!(
                "{:<9} {:<13} {:>3} pairs: PSNR {:.2} → {:.2} dB ({:+.2}; worst {:+.2} {}), SSIM {:.4} → {:.4}",
                s.model.name(),
                s.group,
                s.pairs,
                s.psnr_in,
                s.psnr_out,
                s.psnr_gain,
                s.worst_psnr_gain,
                s.worst_pair,
                s.ssim_in,
                s.ssim_out
            );
        }
    }
    Ok(())
}

/// One line per pair, as `evaluate-denoise` prints it and the trainer logs it.
impl std::fmt::Display for PairScore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<9} {:<32} {:>5} PSNR {:.2} → {:.2} dB ({:+.2}), SSIM {:.4} → {:.4}, σ̂ {:.1} HU, α {:.2}",
            self.model.name(),
            self.pair,
            self.kernel,
            self.psnr_in,
            self.psnr_out,
            self.psnr_out - self.psnr_in,
            self.ssim_in,
            self.ssim_out,
            self.noise_estimate_hu,
            self.gain
        )?;
        if let (Some(p), Some(q)) = (self.baseline_psnr, self.baseline_ssim) {
            write!(f, " (pairs.tsv: {p:.2} dB / {q:.4})")?;
        }
        if let Some(d) = self.max_abs_diff_vs_plain {
            write!(f, ", max |enc − plain| {d:.1e}")?;
        }
        Ok(())
    }
}
