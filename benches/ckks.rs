//! Criterion benchmarks of the CKKS primitives at `depth7-n14` (single-threaded, top level).
//! The cross-library comparison lives in `benches/compare_seal.py` (`privact bench --json`).

use criterion::{Criterion, criterion_group, criterion_main};
use privact::ckks::{Encoder, Encryptor, Evaluator, KeyGenerator, Parameters, wire};
use std::hint::black_box;
use std::sync::Arc;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn primitives(c: &mut Criterion) {
    // Single-threaded figures, comparable with SEAL's; an already-built pool is kept as is.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global();
    {
        let params = Parameters::preset("depth7-n14").expect("preset");
        let mut kg = KeyGenerator::new(&params);
        let sk = kg.gen_secret_key();
        let keys = Arc::new(kg.gen_evaluation_keys(&sk, &[1, 2, 3, 4, 5, 6, 7, 8], false));
        let eval = Evaluator::new(&params, keys);
        let encoder = Encoder::new(&params);
        let values: Vec<f64> = (0..params.slots()).map(|i| (i as f64).sin()).collect();
        let level = params.max_level();
        let pt = encoder
            .encode(&values, level, params.default_scale())
            .expect("encode");
        let mut encryptor = Encryptor::new(&params, &sk);
        let (a, b) = (
            encryptor.encrypt(&pt).expect("encrypt"),
            encryptor.encrypt(&pt).expect("encrypt"),
        );
        let rq = params.ring_q();
        let mut limb = a.parts()[0].limb(0).to_vec();

        let mut g = c.benchmark_group("depth7-n14");
        g.sample_size(20);
        g.bench_function("ntt_forward_limb", |bench| {
            bench.iter(|| rq.ntt_limb(0, black_box(&mut limb)))
        });
        g.bench_function("encode", |bench| {
            bench.iter(|| encoder.encode(black_box(&values), level, params.default_scale()))
        });
        g.bench_function("encrypt_seeded", |bench| {
            bench.iter(|| encryptor.encrypt(black_box(&pt)))
        });
        g.bench_function("mul_relin_rescale", |bench| {
            bench.iter(|| eval.mul_relin_rescale(black_box(&a), black_box(&b)))
        });
        g.bench_function("rotate", |bench| {
            bench.iter(|| eval.rotate(black_box(&a), 1))
        });
        g.bench_function("rotate_hoisted_x8", |bench| {
            bench.iter(|| eval.rotate_many(black_box(&a), &[1, 2, 3, 4, 5, 6, 7, 8]))
        });
        g.bench_function("serialize_ciphertext", |bench| {
            bench.iter(|| wire::encode_ciphertext(&params, black_box(&a)))
        });
        let bytes = wire::encode_ciphertext(&params, &a);
        g.bench_function("deserialize_ciphertext", |bench| {
            bench.iter(|| wire::decode_ciphertext(&params, black_box(&bytes)))
        });
        g.finish();
    }
}

criterion_group!(benches, primitives);
criterion_main!(benches);
