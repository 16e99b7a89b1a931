//! Engine edge cases that users of SEAL, OpenFHE, Lattigo, TenSEAL, Pyfhel and HElib reported
//! (issue 22), replayed on the public API: each returns the mathematically right value or a
//! typed error — never a silent wrong value, a panic or a hang.

use privact::ckks::scheme::rotate_and_sum_rotations;
use privact::ckks::{
    Ciphertext, Decryptor, Encoder, Encryptor, EvalError, Evaluator, KeyGenerator, Parameters,
    ParametersLiteral, ParamsError, SecretKey, wire,
};
use std::sync::Arc;

struct Ctx {
    params: Parameters,
    sk: SecretKey,
    eval: Evaluator,
    enc: Encoder,
}

impl Ctx {
    fn new(preset: &str, rotations: &[i64]) -> Self {
        Self::from_params(Parameters::preset(preset).unwrap(), rotations)
    }

    fn from_params(params: Parameters, rotations: &[i64]) -> Self {
        let mut kg = KeyGenerator::from_seed(&params, [7; 32]);
        let sk = kg.gen_secret_key();
        let keys = kg.gen_evaluation_keys(&sk, rotations, true);
        Self {
            eval: Evaluator::new(&params, Arc::new(keys)),
            enc: Encoder::new(&params),
            params,
            sk,
        }
    }

    fn encrypt_at(&self, v: &[f64], level: usize, scale: f64) -> Ciphertext {
        let pt = self.enc.encode(v, level, scale).unwrap();
        Encryptor::new(&self.params, &self.sk).encrypt(&pt).unwrap()
    }

    fn encrypt(&self, v: &[f64]) -> Ciphertext {
        self.encrypt_at(v, self.params.max_level(), self.params.default_scale())
    }

    fn decrypt(&self, ct: &Ciphertext) -> Vec<f64> {
        let pt = Decryptor::new(&self.params, &self.sk).decrypt(ct).unwrap();
        self.enc.decode(&pt).unwrap()
    }
}

fn ramp(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i * 7919) % 97) as f64 / 97.0 - 0.5)
        .collect()
}

fn close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "{what}: slot {i}: {g} vs {w}");
    }
}

// ---------- 1. decoding lifts through every prime of the level ----------

#[test]
fn products_decrypt_right_before_rescaling() {
    let c = Ctx::new("depth3-n13", &[]);
    let ct = c.encrypt(&[600.0]);
    let pt = c.enc.encode(&[600.0], 3, c.params.default_scale()).unwrap();
    // 360000 at scale 2^72 needs q0·q1·q2 (50 + 36 + 36 bits): the old two-prime lift wrapped.
    for (what, prod) in [
        ("mul_plain", c.eval.mul_plain(&ct, &pt).unwrap()),
        ("mul_relin", c.eval.mul_relin(&ct, &ct).unwrap()),
    ] {
        let got = c.decrypt(&prod)[0];
        assert!((got - 360000.0).abs() < 1e-3, "{what}: {got}");
        let got = c.decrypt(&c.eval.rescale(&prod).unwrap())[0];
        assert!((got - 360000.0).abs() < 1e-3, "{what} + rescale: {got}");
    }
}

// ---------- 2. values and scales checked against the level's modulus ----------

#[test]
fn values_that_would_wrap_at_the_level_are_refused() {
    let c = Ctx::new("depth1-n12", &[]);
    let scale = c.params.default_scale();
    // 200 in every slot: 200 · 2^30 ≥ q0/2 (q0 has 38 bits); it used to decode as −56.
    let slots = c.params.slots();
    assert!(matches!(
        c.enc.encode(&vec![200.0; slots], 0, scale),
        Err(EvalError::ValueTooLarge(_))
    ));
    // One large slot spreads over every coefficient.
    let mut v = vec![0.5; 16];
    v[3] = 3e5;
    assert!(matches!(
        c.enc.encode(&v, 0, scale),
        Err(EvalError::ValueTooLarge(_))
    ));
    // At level 1 (68 bits) the same values fit and decrypt right.
    let got = c.decrypt(&c.encrypt_at(&v, 1, scale));
    close(&got[..16], &v, 1e-3, "3e5 at level 1");
}

#[test]
fn scales_that_do_not_fit_the_level_are_refused() {
    let c = Ctx::new("depth1-n12", &[]);
    let scale = c.params.default_scale();
    let a = c.encrypt_at(&[1.5], 0, scale);
    // 2^60 over a 38-bit modulus: SEAL's "scale out of bounds".
    assert!(matches!(
        c.eval.mul_relin(&a, &a),
        Err(EvalError::ScaleOutOfBounds { level: 0, .. })
    ));
    let pt = c.enc.encode(&[1.5], 0, scale).unwrap();
    assert!(matches!(
        c.eval.mul_plain(&a, &pt),
        Err(EvalError::ScaleOutOfBounds { .. })
    ));
    assert!(matches!(
        c.eval.mul_const(&a, 1.5, scale),
        Err(EvalError::ScaleOutOfBounds { .. })
    ));
    assert!(matches!(
        c.enc.encode(&[1.0], 0, 2f64.powi(40)),
        Err(EvalError::ScaleOutOfBounds { .. })
    ));
    // The same product at level 1 fits, and 1.5² comes back.
    let b = c.encrypt(&[1.5]);
    let got = c.decrypt(&c.eval.mul_relin_rescale(&b, &b).unwrap())[0];
    assert!((got - 2.25).abs() < 1e-4, "{got}");
}

#[test]
fn parameter_literals_whose_base_prime_cannot_hold_the_scale_are_refused() {
    let lit = ParametersLiteral {
        log_n: 13,
        log_q: vec![25, 40],
        log_p: vec![50],
        log_default_scale: 40,
    };
    assert!(matches!(
        Parameters::new(lit),
        Err(ParamsError::BasePrimeTooSmall {
            q0_bits: 25,
            scale_bits: 40
        })
    ));
}

// ---------- 3. objects of another parameter set ----------

#[test]
fn objects_of_another_parameter_set_are_refused() {
    let c = Ctx::new("depth3-n13", &[1]);
    let small = Ctx::new("depth1-n12", &[1]);
    // Same ring degree, another chain.
    let other_chain = Ctx::from_params(
        Parameters::new(ParametersLiteral {
            log_n: 13,
            log_q: vec![50, 36, 36],
            log_p: vec![50],
            log_default_scale: 36,
        })
        .unwrap(),
        &[1],
    );
    let ct = c.encrypt(&[0.5]);
    for foreign in [small.encrypt(&[0.5]), other_chain.encrypt(&[0.5])] {
        assert_eq!(
            c.eval.add(&ct, &foreign).unwrap_err(),
            EvalError::ParameterMismatch
        );
        assert_eq!(
            c.eval.mul_relin(&ct, &foreign).unwrap_err(),
            EvalError::ParameterMismatch
        );
        // An N = 4096 ciphertext used to trip an assertion in rescale.
        assert_eq!(
            c.eval.rescale(&foreign).unwrap_err(),
            EvalError::ParameterMismatch
        );
        assert_eq!(
            c.eval.rotate(&foreign, 1).unwrap_err(),
            EvalError::ParameterMismatch
        );
        assert!(
            Decryptor::new(&c.params, &c.sk).decrypt(&foreign).is_err(),
            "decrypting a foreign ciphertext"
        );
    }
    let foreign_pt = small
        .enc
        .encode(&[0.5], 1, small.params.default_scale())
        .unwrap();
    assert_eq!(
        c.eval.mul_plain(&ct, &foreign_pt).unwrap_err(),
        EvalError::ParameterMismatch
    );
    assert_eq!(
        c.eval.add_plain(&ct, &foreign_pt).unwrap_err(),
        EvalError::ParameterMismatch
    );
    assert!(c.enc.decode(&foreign_pt).is_err());
    // Keys of another chain handed to this parameter set's evaluator.
    let mut kg = KeyGenerator::from_seed(&other_chain.params, [1; 32]);
    let osk = kg.gen_secret_key();
    let okeys = Arc::new(kg.gen_evaluation_keys(&osk, &[1], true));
    let eval = Evaluator::new(&c.params, okeys);
    assert_eq!(
        eval.rotate(&ct, 1).unwrap_err(),
        EvalError::ParameterMismatch
    );
    assert_eq!(
        eval.mul_relin(&ct, &ct).unwrap_err(),
        EvalError::ParameterMismatch
    );
}

// ---------- 4. rotate_and_sum for every n ----------

#[test]
fn rotate_and_sum_sums_exactly_n_slots_for_any_n() {
    let mut rots: Vec<i64> = (1..=9)
        .flat_map(|n| rotate_and_sum_rotations(n, 2))
        .collect();
    rots.sort_unstable();
    rots.dedup();
    let c = Ctx::new("depth3-n13", &rots);
    let slots = c.params.slots();
    let a = ramp(slots);
    let ct = c.encrypt(&a);
    for n in 1..=9usize {
        let got = c.decrypt(&c.eval.rotate_and_sum(&ct, n, 2).unwrap());
        let want: Vec<f64> = (0..slots)
            .map(|i| (0..n).map(|j| a[(i + 2 * j) % slots]).sum())
            .collect();
        close(&got, &want, 1e-4, &format!("rotate_and_sum n = {n}"));
    }
    for n in [0, slots + 1, usize::MAX] {
        assert!(
            matches!(
                c.eval.rotate_and_sum(&ct, n, 1),
                Err(EvalError::InvalidCount { .. })
            ),
            "n = {n}"
        );
    }
}

// ---------- 5. hoisted rotation misuse ----------

#[test]
fn hoisted_rotation_checks_level_and_degree() {
    let c = Ctx::new("depth3-n13", &[1]);
    let a = ramp(c.params.slots());
    let ct = c.encrypt(&a);
    let dec = c.eval.decompose(&ct).unwrap();
    let lower = c.eval.drop_levels(&ct, 1).unwrap();
    assert_eq!(
        c.eval.rotate_hoisted(&lower, &dec, 1).unwrap_err(),
        EvalError::DecompositionMismatch {
            decomposed: 3,
            ciphertext: 2
        }
    );
    let deg2 = c.eval.mul(&ct, &ct).unwrap();
    assert_eq!(
        c.eval.rotate_hoisted(&deg2, &dec, 1).unwrap_err(),
        EvalError::DegreeTooHigh(2)
    );
    // Used right, it equals a plain rotation.
    let got = c.decrypt(&c.eval.rotate_hoisted(&ct, &dec, 1).unwrap());
    let want: Vec<f64> = (0..a.len()).map(|i| a[(i + 1) % a.len()]).collect();
    close(&got, &want, 1e-5, "hoisted rotation");
}

// ---------- 6. zero, subnormal and sub-1 scales ----------

#[test]
fn scales_below_one_are_refused_at_the_operation() {
    let c = Ctx::new("depth3-n13", &[]);
    for scale in [0.0, -0.0, 1e-320, 0.5, -4.0, f64::NAN, f64::INFINITY] {
        assert!(
            matches!(
                c.enc.encode(&[1.0], 3, scale),
                Err(EvalError::InvalidScale(_))
            ),
            "encode at scale {scale:e}"
        );
    }
    let ct = c.encrypt(&[1.0]);
    assert!(matches!(
        c.eval.mul_const(&ct, 2.0, 0.0),
        Err(EvalError::InvalidScale(_))
    ));
    // A rescale that would leave scale 2^20 / 2^36 < 1.
    let small = c.encrypt_at(&[1.0], 3, 2f64.powi(20));
    assert!(matches!(
        c.eval.rescale(&small),
        Err(EvalError::InvalidScale(_))
    ));
    let mut enc = Encryptor::new(&c.params, &c.sk);
    assert!(matches!(
        enc.encrypt_zero(3, 0.5),
        Err(EvalError::InvalidScale(_))
    ));
}

// ---------- 7. transparent ciphertexts ----------

#[test]
fn no_operation_returns_a_transparent_ciphertext() {
    let c = Ctx::new("depth3-n13", &[]);
    let ct = c.encrypt(&ramp(64));
    let top = c.params.q()[3] as f64;
    let zero = c.enc.encode(&[0.0; 8], 3, top).unwrap();
    let empty = c.enc.encode(&[], 3, top).unwrap();
    assert!(zero.is_zero() && empty.is_zero());
    for (what, r) in [
        ("mul_plain by zero", c.eval.mul_plain(&ct, &zero)),
        ("mul_plain by empty", c.eval.mul_plain(&ct, &empty)),
        ("sub(ct, ct)", c.eval.sub(&ct, &ct)),
        ("add(ct, −ct)", c.eval.add(&ct, &c.eval.neg(&ct).unwrap())),
        ("mul_const by 0", c.eval.mul_const(&ct, 0.0, top)),
        ("mul_int by 0", c.eval.mul_int(&ct, 0)),
    ] {
        assert!(
            matches!(r, Err(EvalError::Transparent(_))),
            "{what}: {:?}",
            r.map(|x| x.is_transparent())
        );
    }
    // An encryption of zero is not transparent, and products with it are fine.
    let z = c.encrypt(&[0.0]);
    assert!(!z.is_transparent());
    let got = c.decrypt(&c.eval.mul_relin_rescale(&ct, &z).unwrap());
    close(&got, &[0.0; 64], 1e-4, "product with an encryption of zero");

    // The wire refuses a transparent ciphertext: zero the c1 bytes of an unseeded encoding.
    let unseeded = c.eval.add(&ct, &z).unwrap();
    let deg1 = wire::encode_ciphertext(&c.params, &unseeded);
    let deg2 = wire::encode_ciphertext(&c.params, &c.eval.mul(&ct, &z).unwrap());
    let poly_bytes = deg2.len() - deg1.len();
    let mut forged = deg1.clone();
    let n = forged.len();
    forged[n - poly_bytes..].fill(0);
    assert!(wire::decode_ciphertext(&c.params, &deg1).is_ok());
    let err = wire::decode_ciphertext(&c.params, &forged).unwrap_err();
    assert!(err.to_string().contains("transparent"), "{err}");
}

// ---------- 8. the error names the right operand ----------

#[test]
fn a_low_plaintext_is_blamed_on_the_plaintext() {
    let c = Ctx::new("depth3-n13", &[]);
    let ct = c.encrypt(&[1.0]);
    let pt = c.enc.encode(&[1.0], 1, c.params.default_scale()).unwrap();
    let err = c.eval.mul_plain(&ct, &pt).unwrap_err();
    assert_eq!(
        err,
        EvalError::PlaintextLevelTooLow {
            plaintext: 1,
            ciphertext: 3
        }
    );
    assert!(
        err.to_string().starts_with("the plaintext is at level 1"),
        "{err}"
    );
}

// ---------- the cases that were already right stay right ----------

#[test]
fn rotation_edges() {
    let c = Ctx::new("depth3-n13", &[1, -1]);
    let slots = c.params.slots() as i64;
    let a = ramp(slots as usize);
    let ct = c.encrypt(&a);
    // 0 and ±slots are the identity and need no key.
    for k in [0, slots, -slots, 2 * slots] {
        close(
            &c.decrypt(&c.eval.rotate(&ct, k).unwrap()),
            &a,
            1e-5,
            &format!("rotate {k}"),
        );
    }
    // slots + 1 ≡ 1 and −1 ≡ slots − 1 use the same keys.
    let left: Vec<f64> = (0..a.len()).map(|i| a[(i + 1) % a.len()]).collect();
    close(
        &c.decrypt(&c.eval.rotate(&ct, slots + 1).unwrap()),
        &left,
        1e-5,
        "rotate slots+1",
    );
    let right: Vec<f64> = (0..a.len())
        .map(|i| a[(i + a.len() - 1) % a.len()])
        .collect();
    close(
        &c.decrypt(&c.eval.rotate(&ct, slots - 1).unwrap()),
        &right,
        1e-5,
        "rotate slots−1",
    );
    // A rotation without its key is a typed error.
    assert!(matches!(
        c.eval.rotate(&ct, 3),
        Err(EvalError::MissingGaloisKey { rotation: 3, .. })
    ));
}

#[test]
fn conjugating_real_values_is_the_identity() {
    let c = Ctx::new("depth3-n13", &[]);
    let a = ramp(128);
    let got = c.decrypt(&c.eval.conjugate(&c.encrypt(&a)).unwrap());
    close(&got[..128], &a, 1e-5, "conjugate");
}

#[test]
fn mismatched_levels_are_aligned_exactly() {
    let c = Ctx::new("depth3-n13", &[]);
    let (a, b) = (ramp(32), vec![0.25; 32]);
    let ca = c.encrypt(&a);
    let cb = c.eval.drop_levels(&c.encrypt(&b), 2).unwrap();
    let got = c.decrypt(&c.eval.add(&ca, &cb).unwrap());
    let want: Vec<f64> = a.iter().map(|x| x + 0.25).collect();
    close(&got[..32], &want, 1e-5, "add across levels");
    assert!(matches!(
        c.eval.drop_levels(&cb, 2),
        Err(EvalError::NotEnoughLevels { .. })
    ));
}

#[test]
fn last_level_rescale_and_double_relinearisation() {
    let c = Ctx::new("depth1-n12", &[]);
    let ct = c.encrypt(&[0.5]);
    let sq = c.eval.mul_relin(&ct, &ct).unwrap();
    // Relinearising a degree-1 ciphertext is the identity.
    let twice = c.eval.relinearize(&sq).unwrap();
    assert_eq!(twice.parts(), sq.parts());
    let r = c.eval.rescale(&sq).unwrap();
    assert!((c.decrypt(&r)[0] - 0.25).abs() < 1e-3);
    assert_eq!(c.eval.rescale(&r).unwrap_err(), EvalError::NoLevelLeft);
    // A depth-0 chain: additions and an integer product at level 0 still work.
    let got = c.decrypt(&c.eval.mul_int(&c.eval.add(&r, &r).unwrap(), 3).unwrap())[0];
    assert!((got - 1.5).abs() < 1e-2, "{got}");
}

#[test]
fn seeded_ciphertexts_round_trip_and_lose_the_seed_when_computed_on() {
    let c = Ctx::new("depth3-n13", &[]);
    let ct = c.encrypt(&[0.75]);
    assert!(ct.seed().is_some());
    let bytes = wire::encode_ciphertext(&c.params, &ct);
    let back = wire::decode_ciphertext(&c.params, &bytes).unwrap();
    assert!((c.decrypt(&back)[0] - 0.75).abs() < 1e-6);
    let sum = c.eval.add_const(&back, 0.25).unwrap();
    let dropped = c.eval.drop_levels(&back, 1).unwrap();
    let round_trip = |ct: &Ciphertext| {
        let bytes = wire::encode_ciphertext(&c.params, ct);
        c.decrypt(&wire::decode_ciphertext(&c.params, &bytes).unwrap())[0]
    };
    // Any edit drops the seed (it travels in full); dropping levels keeps a seed valid.
    assert!(sum.seed().is_none());
    assert!((round_trip(&sum) - 1.0).abs() < 1e-6);
    assert!(dropped.seed().is_some());
    assert!((round_trip(&dropped) - 0.75).abs() < 1e-6);
    let prod = c.eval.mul_int(&back, 2).unwrap();
    assert!(
        prod.seed().is_none(),
        "c1 changed: the seed no longer describes it"
    );
}
