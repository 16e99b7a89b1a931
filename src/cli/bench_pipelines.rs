//! `privact bench --pipelines`: end-to-end timings of the two products on one 256×256 slice
//! with the shipped models, in-process client and server, all cores: encrypted
//! classification (issue 4) and encrypted denoising, linear and interactive (issue 5).
//! CKKS costs do not depend on pixel values, so a fixed synthetic slice is used.

use crate::model::classifier::he::ApproxParams;
use crate::model::classifier::{packing, shipped};
use crate::model::denoiser::ModelKind;
use crate::model::denoiser::he::MaskPolicy;
use crate::model::denoiser::weights::builtin;
use crate::protocol::denoise_local::DenoiseSession;
use crate::protocol::local::LocalSession;
use serde::Serialize;
use std::time::Instant;

const SIDE: usize = 256;

#[derive(Serialize)]
pub struct PipelineReport {
    pub name: &'static str,
    /// One-time: key generation, upload and server setup.
    pub setup_seconds: f64,
    pub eval_key_bytes: u64,
    /// Median over the timed slices of encrypt → server → decrypt.
    pub slice_seconds_median: f64,
    pub slices: usize,
    pub upload_bytes: u64,
    pub download_bytes: u64,
    pub rounds: usize,
}

/// A smooth, deterministic slice in [0, 1].
fn synthetic_slice() -> Vec<f32> {
    (0..SIDE * SIDE)
        .map(|i| {
            let (y, x) = ((i / SIDE) as f32, (i % SIDE) as f32);
            0.5 + 0.3 * (y * 0.05).sin() * (x * 0.07).cos()
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn classification(slices: usize) -> anyhow::Result<PipelineReport> {
    let weights = ApproxParams::from(&shipped()?.approx);
    let image = crate::model::classifier::preprocess::preprocess(&synthetic_slice());
    let t = Instant::now();
    let mut session = LocalSession::start(packing::PRESET, weights, &mut |_| {})?;
    let setup_seconds = t.elapsed().as_secs_f64();
    let mut times = Vec::new();
    let (mut up, mut down) = (0, 0);
    for _ in 0..slices {
        let t = Instant::now();
        let run = session.classify(&image, &mut |_| {})?;
        times.push(t.elapsed().as_secs_f64());
        (up, down) = (run.upload_bytes, run.download_bytes);
    }
    Ok(PipelineReport {
        name: "classification (kidney CT, 3 classes)",
        setup_seconds,
        eval_key_bytes: session.eval_key_bytes,
        slice_seconds_median: median(times),
        slices,
        upload_bytes: up,
        download_bytes: down,
        rounds: 0,
    })
}

fn denoising(kind: ModelKind, slices: usize) -> anyhow::Result<PipelineReport> {
    let (linear, nonlinear) = (builtin(ModelKind::Linear)?, builtin(ModelKind::Nonlinear)?);
    let image = synthetic_slice();
    let t = Instant::now();
    let mut session = DenoiseSession::start(kind, linear, nonlinear, MaskPolicy::DEFAULT)?;
    let setup_seconds = t.elapsed().as_secs_f64();
    let mut times = Vec::new();
    let (mut up, mut down, mut rounds) = (0, 0, 0);
    for _ in 0..slices {
        let t = Instant::now();
        let run = session.denoise(&image, SIDE, SIDE)?;
        times.push(t.elapsed().as_secs_f64());
        (up, down, rounds) = (run.upload_bytes, run.download_bytes, run.rounds.len());
    }
    Ok(PipelineReport {
        name: match kind {
            ModelKind::Linear => "denoising, linear (one shot)",
            ModelKind::Nonlinear => "denoising, nonlinear (interactive)",
        },
        setup_seconds,
        eval_key_bytes: session.eval_key_bytes,
        slice_seconds_median: median(times),
        slices,
        upload_bytes: up,
        download_bytes: down,
        rounds,
    })
}

/// All three pipelines, `slices` timed slices each (at least one).
pub fn run_all(slices: usize) -> anyhow::Result<Vec<PipelineReport>> {
    let slices = slices.max(1);
    Ok(vec![
        classification(slices)?,
        denoising(ModelKind::Linear, slices)?,
        denoising(ModelKind::Nonlinear, slices)?,
    ])
}

pub fn print_table(reports: &[PipelineReport]) {
    println!("pipelines (256×256 slice, shipped models, in-process client + server, all cores)");
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
    }
}
