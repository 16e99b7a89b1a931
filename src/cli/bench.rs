//! `privact bench`: medians of single-threaded CKKS primitive timings at the top level, plus
//! the serialized sizes of ciphertexts and keys; with `--pipelines`, the end-to-end encrypted
//! classification and denoising of one slice (`bench_pipelines`).

use crate::ckks::{
    Ciphertext, Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator, Parameters, wire,
};
use anyhow::Context;
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Comma-separated parameter presets.
    #[arg(long, default_value = "depth7-n14,depth18-n15", value_delimiter = ',')]
    pub sets: Vec<String>,
    /// Timed repetitions per operation (the median is reported).
    #[arg(long, default_value_t = 9)]
    pub repeats: usize,
    /// Threads (1 = the single-threaded figures the SEAL comparison uses).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Time the products instead: encrypted classification and linear / interactive
    /// denoising of one slice with the shipped models (all cores; see --side).
    #[arg(long)]
    pub pipelines: bool,
    /// Timed slices per pipeline with --pipelines (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub slices: usize,
    /// With --pipelines, in process: classify with the first K ensemble members only, to
    /// measure what each member costs (default: all, as served).
    #[arg(long, value_name = "K")]
    pub members: Option<usize>,
    /// With --pipelines: side of the denoised slice in pixels (16–1024; 512 = a CT slice).
    #[arg(long, default_value_t = 256)]
    pub side: usize,
    /// Load-test `privact serve` instead (real TLS on loopback): for each client count,
    /// that many clients at once classify and denoise (see `--classifications`).
    #[arg(long)]
    pub serve: bool,
    /// Client counts for --serve.
    #[arg(long, default_value = "1,2,4,8", value_delimiter = ',')]
    pub clients: Vec<usize>,
    /// Classifications per client with --serve.
    #[arg(long, default_value_t = 20)]
    pub classifications: usize,
    /// Interactive (nonlinear) denoisings of a 64×64 slice per client with --serve.
    #[arg(long, default_value_t = 2)]
    pub denoisings: usize,
    /// The server's session-memory budget with --serve (keys plus shared model), MiB.
    #[arg(long, default_value_t = 4096)]
    pub key_memory_mib: u64,
    /// With --pipelines: time against this `privact serve` instead of in process.
    #[command(flatten)]
    pub server: super::serve::ServerArgs,
}

#[derive(Serialize)]
struct Report {
    sets: Vec<SetReport>,
}

#[derive(Serialize)]
struct SetReport {
    name: String,
    log_n: u32,
    log_q: Vec<u32>,
    log_p: Vec<u32>,
    levels: usize,
    threads: usize,
    ops_ms: OpsMs,
    bytes: Bytes,
}

#[derive(Serialize)]
struct OpsMs {
    encode: f64,
    encrypt: f64,
    decrypt: f64,
    decode: f64,
    mul_plain: f64,
    mul_relin_rescale: f64,
    rotate: f64,
    rotate_hoisted_each: f64,
}

#[derive(Serialize)]
struct Bytes {
    ciphertext_seeded: usize,
    ciphertext_full: usize,
    relin_key: usize,
    galois_key: usize,
}

/// Median wall time of `f` in milliseconds after one warm-up call.
fn median_ms<T>(repeats: usize, mut f: impl FnMut() -> T) -> f64 {
    std::hint::black_box(f());
    let mut times: Vec<f64> = (0..repeats.max(1))
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn bench_set(name: &str, repeats: usize, threads: usize) -> anyhow::Result<SetReport> {
    let params = Parameters::preset(name)?;
    let mut kg = KeyGenerator::new(&params);
    let sk = kg.gen_secret_key();
    const HOISTED: [i64; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
    let keys = Arc::new(kg.gen_evaluation_keys(&sk, &HOISTED, false));
    let eval = Evaluator::new(&params, keys.clone());
    let encoder = Encoder::new(&params);
    let (level, scale) = (params.max_level(), params.default_scale());
    let values: Vec<f64> = (0..params.slots())
        .map(|i| ((i * 37) % 101) as f64 / 101.0 - 0.5)
        .collect();
    let pt = encoder.encode(&values, level, scale)?;
    let mut encryptor = Encryptor::new(&params, &sk);
    let decryptor = Decryptor::new(&params, &sk);
    let ct: Ciphertext = encryptor.encrypt(&pt)?;
    let ct2 = encryptor.encrypt(&pt)?;
    let decrypted = decryptor.decrypt(&ct)?;
    let weights = encoder.encode(&values, level, params.q()[level] as f64)?;

    let ops_ms = OpsMs {
        encode: median_ms(repeats, || encoder.encode(&values, level, scale)),
        encrypt: median_ms(repeats, || encryptor.encrypt(&pt)),
        decrypt: median_ms(repeats, || decryptor.decrypt(&ct)),
        decode: median_ms(repeats, || encoder.decode(&decrypted)),
        mul_plain: median_ms(repeats, || eval.mul_plain(&ct, &weights)),
        mul_relin_rescale: median_ms(repeats, || eval.mul_relin_rescale(&ct, &ct2)),
        rotate: median_ms(repeats, || eval.rotate(&ct, 1)),
        rotate_hoisted_each: median_ms(repeats, || eval.rotate_many(&ct, &HOISTED))
            / HOISTED.len() as f64,
    };
    let relin = keys.relin.as_ref().context("relinearisation key missing")?;
    let galois = keys.galois.values().next().context("Galois key missing")?;
    let bytes = Bytes {
        ciphertext_seeded: wire::encode_ciphertext(&params, &ct).len(),
        ciphertext_full: wire::encode_ciphertext(&params, &eval.add(&ct, &ct2)?).len(),
        relin_key: wire::encode_relinearization_key(&params, relin).len(),
        galois_key: wire::encode_galois_key(&params, galois).len(),
    };
    let lit = params.literal();
    Ok(SetReport {
        name: name.to_string(),
        log_n: lit.log_n,
        log_q: lit.log_q.clone(),
        log_p: lit.log_p.clone(),
        levels: params.max_level(),
        threads,
        ops_ms,
        bytes,
    })
}

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    if args.serve {
        let reports = super::bench_serve::run_all(
            &args.clients,
            args.classifications,
            args.denoisings,
            args.key_memory_mib.saturating_mul(1 << 20),
        )?;
        if args.json {
            println!("{}", serde_json::to_string(&reports)?);
        } else {
            super::bench_serve::print_table(&reports);
        }
        let failures: usize = reports.iter().map(|r| r.failures).sum();
        anyhow::ensure!(failures == 0, "{failures} client(s) failed");
        return Ok(());
    }
    if args.pipelines {
        anyhow::ensure!(
            args.members.is_none() || args.server.server.is_none(),
            "--members applies in process only: a remote server serves its whole ensemble"
        );
        let remote = args.server.endpoint()?;
        let reports =
            super::bench_pipelines::run_all(args.side, args.slices, args.members, remote.as_ref())?;
        if args.json {
            println!("{}", serde_json::to_string(&reports)?);
        } else {
            super::bench_pipelines::print_table(&reports, args.side, remote.is_some());
        }
        return Ok(());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.max(1))
        .build()?;
    let sets = pool.install(|| {
        args.sets
            .iter()
            .map(|s| bench_set(s, args.repeats, args.threads.max(1)))
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let report = Report { sets };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    for s in &report.sets {
        println!(
            "{} (N = 2^{}, {} levels, {} thread(s))",
            s.name, s.log_n, s.levels, s.threads
        );
        let o = &s.ops_ms;
        for (op, ms) in [
            ("encode", o.encode),
            ("encrypt", o.encrypt),
            ("decrypt", o.decrypt),
            ("decode", o.decode),
            ("mul_plain", o.mul_plain),
            ("mul_relin_rescale", o.mul_relin_rescale),
            ("rotate", o.rotate),
            ("rotate_hoisted_each", o.rotate_hoisted_each),
        ] {
            println!("  {op:<22}{ms:>10.3} ms");
        }
        let b = &s.bytes;
        for (what, n) in [
            ("ciphertext (seeded)", b.ciphertext_seeded),
            ("ciphertext (full)", b.ciphertext_full),
            ("relinearisation key", b.relin_key),
            ("Galois key (each)", b.galois_key),
        ] {
            println!("  {what:<22}{:>10.3} MB", n as f64 / 1e6);
        }
    }
    Ok(())
}
