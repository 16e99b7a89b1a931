//! Precision budgets: encoding at scale 2^40 and a depth-7 multiplication chain at N = 2^14.

use privact::ckks::{Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator, Parameters};
use std::sync::Arc;

fn bits_of_precision(got: &[f64], want: &[f64]) -> f64 {
    -want
        .iter()
        .zip(got)
        .map(|(w, g)| (w - g).abs())
        .fold(f64::MIN_POSITIVE, f64::max)
        .log2()
}

fn inputs(n: usize, salt: usize) -> Vec<f64> {
    // Magnitudes in [0.5, 1] keep a product of eight factors well away from zero.
    (0..n)
        .map(|i| {
            let t = ((i * 7919 + salt * 104729) % 10007) as f64 / 10007.0;
            let sign = if (i + salt).is_multiple_of(3) {
                -1.0
            } else {
                1.0
            };
            sign * (0.5 + 0.5 * t)
        })
        .collect()
}

#[test]
fn encode_decode_keeps_at_least_30_bits_at_scale_2_40() {
    let params = Parameters::preset("depth7-n14").unwrap();
    let enc = Encoder::new(&params);
    let v = inputs(params.slots(), 1);
    let plain_bits = bits_of_precision(
        &enc.decode(&enc.encode(&v, params.max_level(), 2f64.powi(40)).unwrap())
            .unwrap(),
        &v,
    );
    assert!(plain_bits >= 30.0, "encode/decode: {plain_bits:.1} bits");
    let mut kg = KeyGenerator::new(&params);
    let sk = kg.gen_secret_key();
    let ct = Encryptor::new(&params, &sk)
        .encrypt(&enc.encode(&v, params.max_level(), 2f64.powi(40)).unwrap())
        .unwrap();
    let decrypted = Decryptor::new(&params, &sk).decrypt(&ct).unwrap();
    let enc_bits = bits_of_precision(&enc.decode(&decrypted).unwrap(), &v);
    assert!(enc_bits >= 25.0, "encrypt/decrypt: {enc_bits:.1} bits");
}

#[test]
fn depth7_chain_at_n14_keeps_at_least_15_bits() {
    let params = Parameters::preset("depth7-n14").unwrap();
    let enc = Encoder::new(&params);
    let mut kg = KeyGenerator::new(&params);
    let sk = kg.gen_secret_key();
    let eval = Evaluator::new(&params, Arc::new(kg.gen_evaluation_keys(&sk, &[], false)));
    let mut encryptor = Encryptor::new(&params, &sk);
    let slots = params.slots();
    let mut want = inputs(slots, 0);
    let mut acc = encryptor
        .encrypt(
            &enc.encode(&want, params.max_level(), params.default_scale())
                .unwrap(),
        )
        .unwrap();
    for depth in 1..=7 {
        let x = inputs(slots, depth);
        let ct = encryptor
            .encrypt(&enc.encode(&x, acc.level(), acc.scale()).unwrap())
            .unwrap();
        acc = eval.mul_relin_rescale(&acc, &ct).unwrap();
        want.iter_mut().zip(&x).for_each(|(w, x)| *w *= x);
    }
    assert_eq!(acc.level(), 0, "all seven levels consumed");
    let bits = bits_of_precision(
        &enc.decode(&Decryptor::new(&params, &sk).decrypt(&acc).unwrap())
            .unwrap(),
        &want,
    );
    assert!(bits >= 15.0, "depth-7 chain: {bits:.1} bits");
    println!("depth-7 chain precision: {bits:.1} bits");
}
