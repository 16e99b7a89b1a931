//! `privact bench --pipelines`: end-to-end timings of the two products with the shipped
//! models, in-process client and server, all cores: encrypted classification of a 256×256
//! slice (issue 4) and encrypted denoising, linear and interactive (issue 5), of a slice of
//! `--side` pixels square (256 by default; 512 is the size of a CT scan, issue 18's target).
//! CKKS costs do not depend on pixel values, so a fixed synthetic slice is used.

use crate::model::classifier::{packing, shipped};
use crate::model::denoiser::ModelKind;
use crate::model::denoiser::he::MaskPolicy;
use crate::model::denoiser::weights::builtin;
use crate::protocol::classify::local::LocalSession;
use crate::protocol::denoise::local::DenoiseSession;
use serde::Serialize;
use std::time::Instant;

/// The classifier's input side; the denoising side is the caller's.
const CLASSIFIER_SIDE: usize = 256;
/// Smallest and largest `--side`: one tile, and a 1024×1024 slice (4× a CT slice's values).
pub const SIDE_RANGE: std::ops::RangeInclusive<usize> = 16..=1024;

#[derive(Serialize)]
pub struct PipelineReport {
    pub name: String,
    /// Side of the slice in pixels (it is square).
    pub side: usize,
    /// One-time: key generation, upload and server setup.
    pub setup_seconds: f64,
    pub eval_key_bytes: u64,
    /// Median over the timed slices of encrypt → server → decrypt.
    pub slice_seconds_median: f64,
    pub slices: usize,
    pub upload_bytes: u64,
    pub download_bytes: u64,
    /// Bits on the wire per pixel-channel value crossing, (up, down) (denoising only).
    pub bits_per_value: Option<(f64, f64)>,
    pub rounds: usize,
}

/// A smooth, deterministic `side`×`side` slice in [0, 1].
fn synthetic_slice(side: usize) -> Vec<f32> {
    (0..side * side)
        .map(|i| {
            let (y, x) = ((i / side) as f32, (i % side) as f32);
            0.5 + 0.3 * (y * 0.05).sin() * (x * 0.07).cos()
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Upload bytes, download bytes, ReLU rounds and bits per value (up, down) of one slice.
type SliceCost = (u64, u64, usize, Option<(f64, f64)>);

/// Runs `slice` `slices` times; the median wall time and the last run's costs.
fn time_slices(
    slices: usize,
    mut slice: impl FnMut() -> anyhow::Result<SliceCost>,
) -> anyhow::Result<(f64, SliceCost)> {
    let mut times = Vec::with_capacity(slices);
    let mut last = (0, 0, 0, None);
    for _ in 0..slices {
        let t = Instant::now();
        last = slice()?;
        times.push(t.elapsed().as_secs_f64());
    }
    Ok((median(times), last))
}

impl PipelineReport {
    fn new(
        name: &str,
        side: usize,
        setup_seconds: f64,
        eval_key_bytes: u64,
        slices: usize,
        (median, (upload_bytes, download_bytes, rounds, bits_per_value)): (f64, SliceCost),
    ) -> Self {
        Self {
            name: name.to_string(),
            side,
            setup_seconds,
            eval_key_bytes,
            slice_seconds_median: median,
            slices,
            upload_bytes,
            download_bytes,
            bits_per_value,
            rounds,
        }
    }
}

/// `privact serve` to time against instead of the in-process server.
type Remote<'a> = Option<&'a crate::protocol::transport::http_client::Endpoint>;

fn classification(
    slices: usize,
    members: Option<usize>,
    remote: Remote,
) -> anyhow::Result<PipelineReport> {
    let mut weights = shipped()?.he_members();
    if let Some(k) = members {
        anyhow::ensure!(remote.is_none(), "--members applies in process only");
        anyhow::ensure!(
            (1..=weights.len()).contains(&k),
            "--members {k}: the shipped ensemble has 1 to {} members",
            weights.len()
        );
        weights.truncate(k);
    }
    let title = match members {
        Some(k) => format!("classification (kidney CT, 3 classes, {k} of the ensemble's members)"),
        None => "classification (kidney CT, 3 classes)".into(),
    };
    let image = crate::model::classifier::preprocess::preprocess(&synthetic_slice(CLASSIFIER_SIDE));
    let t = Instant::now();
    let mut session = match remote {
        Some(ep) => LocalSession::connect(packing::PRESET, ep, &mut |_| {})?,
        None => LocalSession::start(packing::PRESET, weights, &mut |_| {})?,
    };
    let setup_seconds = t.elapsed().as_secs_f64();
    let timed = time_slices(slices, || {
        let run = session.classify(&image, &mut |_| {})?;
        Ok((run.upload_bytes, run.download_bytes, 0, None))
    })?;
    Ok(PipelineReport::new(
        &title,
        CLASSIFIER_SIDE,
        setup_seconds,
        session.eval_key_bytes,
        slices,
        timed,
    ))
}

fn denoising(
    kind: ModelKind,
    side: usize,
    slices: usize,
    remote: Remote,
) -> anyhow::Result<PipelineReport> {
    let (linear, nonlinear) = (builtin(ModelKind::Linear)?, builtin(ModelKind::Nonlinear)?);
    let image = synthetic_slice(side);
    let t = Instant::now();
    let mut session = match remote {
        Some(ep) => {
            let layers = crate::model::denoiser::weights::specs(match kind {
                ModelKind::Linear => &linear,
                ModelKind::Nonlinear => &nonlinear,
            });
            DenoiseSession::connect_with(kind, &layers, ep, &mut |_| {
                std::ops::ControlFlow::Continue(())
            })?
        }
        None => DenoiseSession::start(kind, linear, nonlinear, MaskPolicy::DEFAULT)?,
    };
    let setup_seconds = t.elapsed().as_secs_f64();
    let timed = time_slices(slices, || {
        let run = session.denoise(&image, side, side)?;
        Ok((
            run.upload_bytes,
            run.download_bytes,
            run.rounds.len(),
            Some((run.bits_per_value_up, run.bits_per_value_down)),
        ))
    })?;
    let name = match kind {
        ModelKind::Linear => "denoising, linear (one shot)",
        ModelKind::Nonlinear => "denoising, nonlinear (interactive)",
    };
    Ok(PipelineReport::new(
        name,
        side,
        setup_seconds,
        session.eval_key_bytes,
        slices,
        timed,
    ))
}

/// All three pipelines, `slices` timed slices each (at least one), denoising `side`×`side`
/// slices, against `remote` when given (else in process).
///
/// Errors: `side` outside `SIDE_RANGE`, or any pipeline's own error.
pub fn run_all(
    side: usize,
    slices: usize,
    members: Option<usize>,
    remote: Remote,
) -> anyhow::Result<Vec<PipelineReport>> {
    anyhow::ensure!(
        SIDE_RANGE.contains(&side),
        "--side {side} is outside {}..={} pixels",
        SIDE_RANGE.start(),
        SIDE_RANGE.end()
    );
    let slices = slices.max(1);
    Ok(vec![
        classification(slices, members, remote)?,
        denoising(ModelKind::Linear, side, slices, remote)?,
        denoising(ModelKind::Nonlinear, side, slices, remote)?,
    ])
}

pub fn print_table(reports: &[PipelineReport], side: usize, remote: bool) {
    println!(
        "pipelines (classification {c}×{c}, denoising {side}×{side}, shipped models, {}, all cores)",
        if remote {
            "client here, privact serve over HTTPS"
        } else {
            "in-process client + server"
        },
        c = CLASSIFIER_SIDE
    );
    for r in reports {
        println!("  {}", r.name);
        println!(
            "    setup (keys, upload, server)  {:>8.2} s   keys {:>8.2} MB",
            r.setup_seconds,
            r.eval_key_bytes as f64 / 1e6
        );
        println!(
            "    per slice (median of {})      {:>8.2} s   ↑ {:.2} MB  ↓ {:.2} MB  rounds {}",
            r.slices,
            r.slice_seconds_median,
            r.upload_bytes as f64 / 1e6,
            r.download_bytes as f64 / 1e6,
            r.rounds
        );
        if let Some((up, down)) = r.bits_per_value {
            println!(
                "    bits per value crossing       ↑ {up:.0}   ↓ {down:.0}   (bytes × 8 ÷ pixel-channel values)"
            );
        }
    }
}
