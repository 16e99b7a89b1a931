use privact::ckks::rlwe::keyswitch::*;
use privact::ckks::*;
use std::time::Instant;
fn t<T>(name: &str, mut f: impl FnMut() -> T) -> T {
    let r = f();
    let s = Instant::now();
    for _ in 0..10 {
        std::hint::black_box(f());
    }
    println!("{name:<20} {:.3} ms", s.elapsed().as_secs_f64() * 100.0);
    r
}
fn main() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(|| {
        // `cargo run --release --example ks_profile -- [PRESET [LEVEL]]`
        let args: Vec<String> = std::env::args().collect();
        let preset = args.get(1).map_or("depth7-n14", String::as_str);
        let params = Parameters::preset(preset).unwrap();
        let level: usize = args
            .get(2)
            .map_or(params.max_level(), |l| l.parse().unwrap());
        let mut kg = KeyGenerator::new(&params);
        let sk = kg.gen_secret_key();
        let keys = kg.gen_evaluation_keys(&sk, &[1], false);
        let enc = Encoder::new(&params);
        let pt = enc
            .encode(&[1.0, 2.0], level, params.default_scale())
            .unwrap();
        let ct = Encryptor::new(&params, &sk).encrypt(&pt).unwrap();
        let rq = params.ring_q();
        let mut limb = ct.parts()[0].limb(0).to_vec();
        t("ntt limb", || rq.ntt_limb(0, &mut limb));
        t("intt poly(8)", || rq.intt(ct.parts()[0].clone()));
        let mut acc = ct.parts()[0].clone();
        t("mul_acc poly(8)", || {
            rq.mul_accumulate(&mut acc, &ct.parts()[0], &ct.parts()[1])
        });
        let key = &keys.relin.as_ref().unwrap().0;
        let dec = t("decompose", || decompose(&params, &ct.parts()[1]));
        let [(a, b), _] = t("inner_product", || inner_product(&params, &dec, key, None));
        t("inner_product perm", || {
            inner_product(&params, &dec, key, Some(5))
        });
        t("mod_down", || mod_down(&params, a.clone(), b.clone()));
        t("automorphism", || rq.automorphism_ntt(&ct.parts()[0], 5));
        let ev = Evaluator::new(&params, std::sync::Arc::new(keys));
        t("mul", || ev.mul(&ct, &ct).unwrap());
        let m = ev.mul(&ct, &ct).unwrap();
        let r = t("relin", || ev.relinearize(&m).unwrap());
        t("rescale", || ev.rescale(&r).unwrap());
    });
}
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
