//! Every evaluator operation checked against the same operation on plaintext slot vectors.

use privact::ckks::{
    Ciphertext, Decryptor, Encoder, Encryptor, EvalError, Evaluator, KeyGenerator, Parameters,
    SecretKey,
};
use proptest::prelude::*;
use std::sync::{Arc, OnceLock};

struct Ctx {
    params: Parameters,
    sk: SecretKey,
    eval: Evaluator,
    encoder: Encoder,
}

const ROTATIONS: [i64; 7] = [1, 2, 3, 5, 64, -1, -17];

fn ctx() -> &'static Ctx {
    static CTX: OnceLock<Ctx> = OnceLock::new();
    CTX.get_or_init(|| {
        let params = Parameters::preset("depth3-n13").unwrap();
        let mut kg = KeyGenerator::from_seed(&params, [42; 32]);
        let sk = kg.gen_secret_key();
        let keys = kg.gen_evaluation_keys(&sk, &ROTATIONS, true);
        let eval = Evaluator::new(&params, Arc::new(keys));
        let encoder = Encoder::new(&params);
        Ctx {
            params,
            sk,
            eval,
            encoder,
        }
    })
}

fn encrypt(c: &Ctx, v: &[f64]) -> Ciphertext {
    let pt = c
        .encoder
        .encode(v, c.params.max_level(), c.params.default_scale())
        .unwrap();
    Encryptor::new(&c.params, &c.sk).encrypt(&pt).unwrap()
}

fn decrypt(c: &Ctx, ct: &Ciphertext) -> Vec<f64> {
    c.encoder
        .decode(&Decryptor::new(&c.params, &c.sk).decrypt(ct).unwrap())
        .unwrap()
}

fn encrypt_complex(c: &Ctx, z: &[num_complex::Complex64]) -> Ciphertext {
    let pt = c
        .encoder
        .encode_complex(z, c.params.max_level(), c.params.default_scale())
        .unwrap();
    Encryptor::new(&c.params, &c.sk).encrypt(&pt).unwrap()
}

fn decrypt_complex(c: &Ctx, ct: &Ciphertext) -> Vec<num_complex::Complex64> {
    c.encoder
        .decode_complex(&Decryptor::new(&c.params, &c.sk).decrypt(ct).unwrap())
        .unwrap()
}

/// `len` complex values from `values(seed, 2·len)`, consecutive pairs as (re, im).
fn complex_values(seed: u64, len: usize) -> Vec<num_complex::Complex64> {
    values(seed, 2 * len)
        .chunks(2)
        .map(|p| num_complex::Complex64::new(p[0], p[1]))
        .collect()
}

fn values(seed: u64, len: usize) -> Vec<f64> {
    // A small LCG keeps the inputs reproducible without pulling a generator into the tests.
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

fn max_err(got: &[f64], want: &[f64]) -> f64 {
    want.iter()
        .zip(got)
        .map(|(w, g)| (w - g).abs())
        .fold(0.0, f64::max)
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    let e = max_err(got, want);
    assert!(e < tol, "{what}: max error {e:e} ≥ {tol:e}");
}

#[test]
fn encrypt_decrypt_round_trip() {
    let c = ctx();
    let v = values(1, c.params.slots());
    assert_close(&decrypt(c, &encrypt(c, &v)), &v, 1e-6, "round trip");
}

#[test]
fn public_key_encryption_decrypts() {
    let c = ctx();
    let mut kg = KeyGenerator::from_seed(&c.params, [42; 32]);
    let sk = kg.gen_secret_key();
    let pk = kg.gen_public_key(&sk);
    let v = values(2, 100);
    let pt = c.encoder.encode(&v, 2, c.params.default_scale()).unwrap();
    let ct = privact::ckks::rlwe::PublicEncryptor::new(&c.params, pk)
        .encrypt(&pt)
        .unwrap();
    let got = c
        .encoder
        .decode(&Decryptor::new(&c.params, &sk).decrypt(&ct).unwrap())
        .unwrap();
    // u·e adds √N more noise than secret-key encryption: ~2^-19 here.
    assert_close(&got[..100], &v, 1e-5, "public-key encryption");
}

#[test]
fn add_const_complex_adds_to_both_parts_of_every_slot_like_an_encoded_constant() {
    use num_complex::Complex64;
    let c = ctx();
    let slots = c.params.slots();
    let (re, im) = (values(3, slots), values(4, slots));
    let z: Vec<Complex64> = re
        .iter()
        .zip(&im)
        .map(|(&a, &b)| Complex64::new(a, b))
        .collect();
    let ct = encrypt_complex(c, &z);
    for k in [
        Complex64::new(0.75, -1.5),
        Complex64::new(-2.0, 0.0),
        Complex64::new(0.0, 3.25),
    ] {
        let fast = decrypt_complex(c, &c.eval.add_const_complex(&ct, k).unwrap());
        let encoded = c
            .encoder
            .encode_complex(&vec![k; slots], ct.level(), ct.scale())
            .unwrap();
        let slow = decrypt_complex(c, &c.eval.add_plain(&ct, &encoded).unwrap());
        for i in 0..slots {
            assert!(
                (fast[i] - (z[i] + k)).norm() < 1e-5,
                "slot {i}: {} vs {}",
                fast[i],
                z[i] + k
            );
            assert!(
                (fast[i] - slow[i]).norm() < 1e-6,
                "slot {i} differs from the encoded constant"
            );
        }
    }
    // Out-of-range constants are refused, not wrapped.
    assert!(
        c.eval
            .add_const_complex(&ct, Complex64::new(0.0, 1e30))
            .is_err()
    );
    assert!(
        c.eval
            .add_const_complex(&ct, Complex64::new(f64::NAN, 0.0))
            .is_err()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn additive_ops_match_plaintext(seed in any::<u64>(), k in -4.0f64..4.0) {
        let c = ctx();
        let (a, b) = (values(seed, c.params.slots()), values(seed ^ 0xabc, c.params.slots()));
        let (ca, cb) = (encrypt(c, &a), encrypt(c, &b));
        let sum: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        let diff: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
        let neg: Vec<f64> = a.iter().map(|x| -x).collect();
        let shifted: Vec<f64> = a.iter().map(|x| x + k).collect();
        assert_close(&decrypt(c, &c.eval.add(&ca, &cb).unwrap()), &sum, 1e-5, "add");
        assert_close(&decrypt(c, &c.eval.sub(&ca, &cb).unwrap()), &diff, 1e-5, "sub");
        assert_close(&decrypt(c, &c.eval.sub(&cb, &ca).unwrap()).iter().map(|x| -x).collect::<Vec<_>>(), &diff, 1e-5, "sub reversed");
        assert_close(&decrypt(c, &c.eval.neg(&ca).unwrap()), &neg, 1e-5, "neg");
        assert_close(&decrypt(c, &c.eval.add_const(&ca, k).unwrap()), &shifted, 1e-5, "add_const");
        let pb = c.encoder.encode(&b, ca.level(), ca.scale()).unwrap();
        assert_close(&decrypt(c, &c.eval.add_plain(&ca, &pb).unwrap()), &sum, 1e-5, "add_plain");
    }

    #[test]
    fn multiplicative_ops_match_plaintext(seed in any::<u64>(), k in -4.0f64..4.0, m in -50i64..50) {
        let c = ctx();
        let (a, b) = (values(seed, c.params.slots()), values(seed ^ 0x5a5a, c.params.slots()));
        let (ca, cb) = (encrypt(c, &a), encrypt(c, &b));
        let prod: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x * y).collect();
        let top = c.params.q()[ca.level()] as f64;
        let pb = c.encoder.encode(&b, ca.level(), top).unwrap();
        let r = c.eval.rescale(&c.eval.mul_plain(&ca, &pb).unwrap()).unwrap();
        assert_close(&decrypt(c, &r), &prod, 1e-4, "mul_plain + rescale");
        prop_assert!((r.scale() / ca.scale() - 1.0).abs() < 1e-12, "rescale by q_l restores the scale");
        let r = c.eval.mul_relin_rescale(&ca, &cb).unwrap();
        assert_close(&decrypt(c, &r), &prod, 1e-4, "mul_relin_rescale");
        prop_assert_eq!(r.level(), ca.level() - 1);
        let scaled: Vec<f64> = a.iter().map(|x| x * k).collect();
        let r = c.eval.rescale(&c.eval.mul_const(&ca, k, top).unwrap()).unwrap();
        assert_close(&decrypt(c, &r), &scaled, 1e-4, "mul_const");
        let times_m: Vec<f64> = a.iter().map(|x| x * m as f64).collect();
        if m == 0 {
            // c1 = 0 would be readable without the key: refused (issue 22).
            prop_assert!(matches!(c.eval.mul_int(&ca, m), Err(EvalError::Transparent(_))));
        } else {
            assert_close(&decrypt(c, &c.eval.mul_int(&ca, m).unwrap()), &times_m, 1e-4, "mul_int");
        }
        let mut acc = c.eval.mul_plain(&ca, &pb).unwrap();
        c.eval.mul_plain_then_add(&mut acc, &ca, &pb).unwrap();
        let twice: Vec<f64> = prod.iter().map(|x| 2.0 * x).collect();
        assert_close(&decrypt(c, &c.eval.rescale(&acc).unwrap()), &twice, 1e-4, "mul_plain_then_add");
    }

    #[test]
    fn rotations_match_plaintext_rotation(seed in any::<u64>()) {
        let c = ctx();
        let slots = c.params.slots();
        let a = values(seed, slots);
        let ca = encrypt(c, &a);
        let rotated = |k: i64| -> Vec<f64> { (0..slots).map(|i| a[(i as i64 + k).rem_euclid(slots as i64) as usize]).collect() };
        for k in [1i64, -17] {
            assert_close(&decrypt(c, &c.eval.rotate(&ca, k).unwrap()), &rotated(k), 1e-5, &format!("rotate {k}"));
        }
        let hoisted = c.eval.rotate_many(&ca, &ROTATIONS).unwrap();
        for (k, ct) in ROTATIONS.iter().zip(&hoisted) {
            assert_close(&decrypt(c, ct), &rotated(*k), 1e-5, &format!("hoisted rotate {k}"));
        }
    }
}

#[test]
fn conjugation_conjugates_complex_slots() {
    let c = ctx();
    let z = complex_values(9, 32);
    let got = decrypt_complex(c, &c.eval.conjugate(&encrypt_complex(c, &z)).unwrap());
    for (g, w) in got.iter().zip(&z) {
        assert!((g - w.conj()).norm() < 1e-5, "{g} vs conj({w})");
    }
}

#[test]
fn lazy_rotation_sum_equals_the_sum_of_rotations() {
    let c = ctx();
    let slots = c.params.slots();
    let xs: Vec<Vec<f64>> = (0..4).map(|i| values(20 + i, slots)).collect();
    let cts: Vec<Ciphertext> = xs.iter().map(|x| encrypt(c, x)).collect();
    let rotated = |x: &[f64], k: i64| -> Vec<f64> {
        (0..slots)
            .map(|i| x[(i as i64 + k).rem_euclid(slots as i64) as usize])
            .collect()
    };
    // Rotations only, one unrotated term, and a term at a lower level (met at the lowest).
    let low = c.eval.drop_levels(&cts[3], 1).unwrap();
    let inputs: [(&Ciphertext, &[f64]); 5] = [
        (&cts[0], &xs[0]),
        (&cts[1], &xs[1]),
        (&cts[2], &xs[2]),
        (&cts[3], &xs[3]),
        (&low, &xs[3]),
    ];
    let cases: [&[(usize, i64)]; 5] = [
        &[(0, 1), (1, -17)],
        &[(0, 64), (1, 0), (2, -1)],
        &[(2, 0), (4, 3)],
        &[(0, 1), (4, 3)],
        &[(1, 5)],
    ];
    for case in cases {
        let terms: Vec<(&Ciphertext, i64)> = case.iter().map(|&(i, k)| (inputs[i].0, k)).collect();
        let sum = c.eval.rotate_sum(&terms).unwrap();
        let level = terms.iter().map(|(ct, _)| ct.level()).min().unwrap();
        assert_eq!(sum.level(), level);
        let mut want = vec![0.0; slots];
        for &(i, k) in case {
            for (w, v) in want.iter_mut().zip(rotated(inputs[i].1, k)) {
                *w += v;
            }
        }
        assert_close(
            &decrypt(c, &sum),
            &want,
            1e-5,
            &format!("rotate_sum {case:?}"),
        );
    }
    // One ciphertext, many rotations, one decomposition (the hoisted form).
    for ks in [&[0, 1, 64][..], &[1, -17], &[0, 0, 3], &[5]] {
        let sum = c.eval.rotate_sum_hoisted(&cts[1], ks).unwrap();
        assert_eq!(sum.level(), cts[1].level());
        let mut want = vec![0.0; slots];
        for &k in ks {
            for (w, v) in want.iter_mut().zip(rotated(&xs[1], k)) {
                *w += v;
            }
        }
        assert_close(
            &decrypt(c, &sum),
            &want,
            1e-5,
            &format!("rotate_sum_hoisted {ks:?}"),
        );
    }
    assert!(matches!(
        c.eval.rotate_sum_hoisted(&cts[0], &[]),
        Err(EvalError::InvalidCount { n: 0, .. })
    ));
    assert!(matches!(
        c.eval.rotate_sum_hoisted(&cts[0], &[1, 7]),
        Err(EvalError::MissingGaloisKey { rotation: 7, .. })
    ));
    assert!(matches!(
        c.eval.rotate_sum(&[]),
        Err(EvalError::InvalidCount { n: 0, .. })
    ));
    assert!(matches!(
        c.eval.rotate_sum(&[(&cts[0], 7)]),
        Err(EvalError::MissingGaloisKey { rotation: 7, .. })
    ));
}

#[test]
fn a_pair_of_real_vectors_encodes_like_two_encodings() {
    let c = ctx();
    let slots = c.params.slots();
    let (a, b) = (values(30, slots), values(31, slots));
    let z = complex_values(32, slots);
    let ct = encrypt_complex(c, &z);
    let top = c.params.q()[3] as f64;
    let (pa, pb) = c.encoder.encode_real_pair(&a, &b, 3, top).unwrap();
    assert_eq!((pa.scale(), pb.scale(), pa.level()), (top, top, 3));
    for (p, want) in [(&pa, &a), (&pb, &b)] {
        let prod = c.eval.rescale(&c.eval.mul_plain(&ct, p).unwrap()).unwrap();
        let got = decrypt_complex(c, &prod);
        for i in 0..slots {
            assert!(
                (got[i] - z[i] * want[i]).norm() < 1e-5,
                "slot {i}: {} vs {}",
                got[i],
                z[i] * want[i]
            );
        }
    }
    // Too large for the level, or of different lengths: refused, not wrapped. A value that one
    // encoding holds but whose pair would not (Π gets half the coefficient bound) is refused.
    let huge = vec![1e30; 4];
    assert!(c.encoder.encode_real_pair(&huge, &huge, 3, top).is_err());
    let q0 = c.params.q()[0] as f64;
    let big = vec![0.7 * q0 / 2.0; slots];
    assert!(c.encoder.encode(&big, 0, 1.0).is_ok());
    assert!(matches!(
        c.encoder.encode_real_pair(&big, &big, 0, 2.0),
        Err(EvalError::ValueTooLarge(_))
    ));
    assert_eq!(
        c.encoder.encode_real_pair(&a, &b, 3, 1.5).unwrap_err(),
        EvalError::InvalidScale(1.5)
    );
    assert!(c.encoder.encode_real_pair(&a, &b[..3], 3, top).is_err());
}

#[test]
fn rotate_and_sum_sums_strided_neighbours() {
    let params = Parameters::preset("depth3-n13").unwrap();
    let mut kg = KeyGenerator::from_seed(&params, [3; 32]);
    let sk = kg.gen_secret_key();
    let keys = kg.gen_evaluation_keys(&sk, &[1, 2, 4], false);
    let eval = Evaluator::new(&params, Arc::new(keys));
    let enc = Encoder::new(&params);
    let a = values(4, params.slots());
    let ct = Encryptor::new(&params, &sk)
        .encrypt(&enc.encode(&a, 3, params.default_scale()).unwrap())
        .unwrap();
    let got = enc
        .decode(
            &Decryptor::new(&params, &sk)
                .decrypt(&eval.rotate_and_sum(&ct, 8, 1).unwrap())
                .unwrap(),
        )
        .unwrap();
    let slots = params.slots();
    let want: Vec<f64> = (0..slots)
        .map(|i| (0..8).map(|j| a[(i + j) % slots]).sum())
        .collect();
    assert_close(&got, &want, 1e-5, "rotate_and_sum");
}

#[test]
fn mismatches_fail_clearly_instead_of_computing_garbage() {
    let c = ctx();
    let a = encrypt(c, &values(5, 10));
    let top = c.params.q()[a.level()] as f64;
    let pt = c.encoder.encode(&values(6, 10), a.level(), top).unwrap();
    let doubled_scale = c.eval.mul_plain(&a, &pt).unwrap();
    assert!(matches!(
        c.eval.add(&a, &doubled_scale),
        Err(EvalError::ScaleMismatch { .. })
    ));
    // Level mismatch is aligned automatically (dropping levels is exact).
    let low = c.eval.drop_levels(&a, 2).unwrap();
    let sum = c.eval.add(&a, &low).unwrap();
    assert_eq!(sum.level(), low.level());
    let want: Vec<f64> = values(5, 10).iter().map(|x| 2.0 * x).collect();
    assert_close(&decrypt(c, &sum)[..10], &want, 1e-5, "aligned add");
    let bottom = c.eval.drop_levels(&a, a.level()).unwrap();
    assert_eq!(c.eval.rescale(&bottom).unwrap_err(), EvalError::NoLevelLeft);
    assert!(matches!(
        c.eval.rotate(&a, 1000),
        Err(EvalError::MissingGaloisKey { rotation: 1000, .. })
    ));
    let keyless = Evaluator::without_keys(&c.params);
    assert_eq!(
        keyless.mul_relin(&a, &a).unwrap_err(),
        EvalError::MissingRelinKey
    );
    assert!(matches!(
        c.encoder.encode(&vec![0.0; c.params.slots() + 1], 0, 1.0),
        Err(EvalError::TooManyValues { .. })
    ));
    assert_eq!(
        c.encoder.encode(&[f64::NAN], 0, 1.0).unwrap_err(),
        EvalError::NonFinite
    );
}
