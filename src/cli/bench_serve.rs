//! `privact bench --serve`: a bounded load test of `privact serve` over real TLS sockets
//! (issue 17). For each client count, that many clients at once each open a classification
//! session and classify `classifications` slices, then open an interactive (nonlinear)
//! denoising session and denoise `denoisings` small slices. Reported per client count:
//! failures, p50/p95 latency per classification and per denoising, classified slices per
//! second, and the server's peak held memory (evaluation keys plus the shared prepared model,
//! from `/metrics`) against its budget, with the process's peak resident set.

use crate::model::classifier::preprocess::preprocess;
use crate::model::denoiser::ModelKind;
use crate::model::denoiser::weights::{builtin, specs};
use crate::protocol::classify::local::LocalSession;
use crate::protocol::denoise::local::DenoiseSession;
use crate::protocol::transport::http_client::Endpoint;
use crate::protocol::transport::http_server::{self, Limits};
use crate::protocol::transport::tls::{self, Identity, Trust};
use serde::Serialize;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Side of the slices denoised interactively (small: the load test is about the service).
const DENOISE_SIDE: usize = 64;

#[derive(Serialize)]
pub struct LoadReport {
    pub clients: usize,
    pub classifications: usize,
    pub denoisings: usize,
    pub failures: usize,
    pub first_failure: Option<String>,
    pub classify_p50_s: f64,
    pub classify_p95_s: f64,
    pub denoise_p50_s: f64,
    pub denoise_p95_s: f64,
    pub slices_per_second: f64,
    pub wall_s: f64,
    /// Peak of keys plus prepared model held by the server (`/metrics`).
    pub peak_held_bytes: u64,
    /// The shared prepared model alone.
    pub model_memory_bytes: u64,
    pub key_memory_budget_bytes: u64,
    /// Peak resident set of this whole process so far (server and clients), `VmHWM`.
    pub process_peak_rss_bytes: u64,
}

fn percentile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let i = ((values.len() - 1) as f64 * q).round() as usize;
    values[i.min(values.len() - 1)]
}

fn slice(side: usize, seed: usize) -> Vec<f32> {
    (0..side * side)
        .map(|i| {
            let (y, x) = ((i / side) as f32, (i % side) as f32);
            0.45 + 0.2 * (y * 0.05 + seed as f32).sin() * (x * 0.07).cos()
        })
        .collect()
}

/// Peak resident set size of this process (`VmHWM` in /proc/self/status), bytes.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Reads one gauge from the server's `/metrics`.
fn gauge(http: &reqwest::blocking::Client, base: &str, name: &str) -> Option<u64> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .ok()?
        .text()
        .ok()?;
    text.lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
}

/// Runs the load test against a fresh in-process `privact serve` on loopback TLS.
pub fn run_all(
    client_counts: &[usize],
    classifications: usize,
    denoisings: usize,
    key_memory_budget: u64,
) -> anyhow::Result<Vec<LoadReport>> {
    let limits = Limits {
        key_memory_budget,
        max_sessions: 64,
        max_concurrent: 16,
        ..Limits::default()
    };
    let server = http_server::spawn(
        "127.0.0.1:0".parse()?,
        Some(Identity::self_signed(&[])?),
        super::serve::shipped_models()?,
        limits,
        false,
    )?;
    let fp = server
        .fingerprint
        .ok_or_else(|| anyhow::anyhow!("no certificate"))?;
    let base = format!("https://{}", server.addr);
    let endpoint = Endpoint::new(&base, Some(Trust::Fingerprint(fp)))?;
    let http = reqwest::blocking::Client::builder()
        .use_preconfigured_tls(tls::client_config(&Trust::Fingerprint(fp))?)
        .build()?;
    let classifier = crate::model::classifier::shipped()?;
    let preset = classifier.description.parameter_preset.clone();
    let layers = specs(&builtin(ModelKind::Nonlinear)?);
    let mut reports = Vec::new();
    for &clients in client_counts {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Sample the server's key memory while the clients run.
        let sampler = {
            let (http, base, peak, stop) = (http.clone(), base.clone(), peak.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let keys = gauge(&http, &base, "privact_key_memory_bytes");
                    let model = gauge(&http, &base, "privact_model_memory_bytes");
                    if let (Some(k), Some(m)) = (keys, model) {
                        peak.fetch_max(k + m, Ordering::SeqCst);
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            })
        };
        let t = Instant::now();
        type ClientResult = Result<(Vec<f64>, Vec<f64>, Instant, Instant), String>;
        let results: Vec<ClientResult> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..clients)
                .map(|c| {
                    let (endpoint, preset, layers) = (&endpoint, &preset, &layers);
                    scope.spawn(move || -> ClientResult {
                        let mut session = LocalSession::connect(preset, endpoint, &mut |_| {})
                            .map_err(|e| e.to_string())?;
                        let mut classify = Vec::with_capacity(classifications);
                        let first = Instant::now();
                        for k in 0..classifications {
                            let image = preprocess(&slice(256, c * 1000 + k));
                            let s = Instant::now();
                            session
                                .classify(&image, &mut |_| {})
                                .map_err(|e| e.to_string())?;
                            classify.push(s.elapsed().as_secs_f64());
                        }
                        let last = Instant::now();
                        drop(session);
                        let mut denoise = Vec::with_capacity(denoisings);
                        let mut d = DenoiseSession::connect_with(
                            ModelKind::Nonlinear,
                            layers,
                            endpoint,
                            &mut |_| ControlFlow::Continue(()),
                        )
                        .map_err(|e| e.to_string())?;
                        for k in 0..denoisings {
                            let img = slice(DENOISE_SIDE, c * 1000 + k);
                            let s = Instant::now();
                            d.denoise(&img, DENOISE_SIDE, DENOISE_SIDE)
                                .map_err(|e| e.to_string())?;
                            denoise.push(s.elapsed().as_secs_f64());
                        }
                        Ok((classify, denoise, first, last))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("client thread panicked".into()))
                })
                .collect()
        });
        let wall = t.elapsed().as_secs_f64();
        stop.store(true, Ordering::SeqCst);
        let _ = sampler.join();
        let (mut cl, mut dn, mut failures, mut first_failure) = (Vec::new(), Vec::new(), 0, None);
        // Throughput over the span in which classifications ran (first start to last end).
        let (mut start, mut end): (Option<Instant>, Option<Instant>) = (None, None);
        for r in results {
            match r {
                Ok((c, d, first, last)) => {
                    cl.extend(c);
                    dn.extend(d);
                    start = Some(start.map_or(first, |s| s.min(first)));
                    end = Some(end.map_or(last, |e| e.max(last)));
                }
                Err(e) => {
                    failures += 1;
                    first_failure.get_or_insert(e);
                }
            }
        }
        reports.push(LoadReport {
            clients,
            classifications: cl.len(),
            denoisings: dn.len(),
            failures,
            first_failure,
            slices_per_second: match (start, end) {
                (Some(s), Some(e)) => cl.len() as f64 / (e - s).as_secs_f64().max(1e-9),
                _ => 0.0,
            },
            classify_p50_s: percentile(&mut cl, 0.5),
            classify_p95_s: percentile(&mut cl, 0.95),
            denoise_p50_s: percentile(&mut dn, 0.5),
            denoise_p95_s: percentile(&mut dn, 0.95),
            wall_s: wall,
            peak_held_bytes: peak.load(Ordering::SeqCst),
            model_memory_bytes: gauge(&http, &base, "privact_model_memory_bytes").unwrap_or(0),
            key_memory_budget_bytes: key_memory_budget,
            process_peak_rss_bytes: peak_rss_bytes().unwrap_or(0),
        });
    }
    server.shutdown(Duration::from_secs(30))?;
    Ok(reports)
}

pub fn print_table(reports: &[LoadReport]) {
    println!(
        "{:>7} {:>8} {:>8} {:>12} {:>12} {:>12} {:>12} {:>9} {:>16}",
        "clients",
        "ok",
        "failed",
        "classify p50",
        "classify p95",
        "denoise p50",
        "denoise p95",
        "slices/s",
        "peak held (keys + model) / budget",
    );
    for r in reports {
        println!(
            "{:>7} {:>8} {:>8} {:>11.2}s {:>11.2}s {:>11.2}s {:>11.2}s {:>9.2} {:>9.0} MiB / {:.0} (model {:.0} MiB; process peak RSS {:.0} MiB)",
            r.clients,
            r.classifications + r.denoisings,
            r.failures,
            r.classify_p50_s,
            r.classify_p95_s,
            r.denoise_p50_s,
            r.denoise_p95_s,
            r.slices_per_second,
            r.peak_held_bytes as f64 / 1048576.0,
            r.key_memory_budget_bytes as f64 / 1048576.0,
            r.model_memory_bytes as f64 / 1048576.0,
            r.process_peak_rss_bytes as f64 / 1048576.0,
        );
        if let Some(e) = &r.first_failure {
            println!("        first failure: {e}");
        }
    }
}
