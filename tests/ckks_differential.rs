//! Differential test of the CKKS engine (issue 22): random programs of evaluator operations on
//! random inputs and random legal parameter sets, run on ciphertexts and on a plaintext slot
//! model side by side. Every step must either
//! - succeed and decrypt to the model's values within a bound derived from a noise estimate
//!   (fresh encryption, encoding rounding, rescale rounding, key-switching noise; 6σ each), or
//! - return a typed error, and then only where the model says the step is not allowed
//!   (scale mismatch, scale out of bounds, no level left, transparent result, missing key).
//!
//! What no engine can check — a value that outgrows its level's modulus under encryption — is
//! kept out by the generator, as an application must (SEAL and Lattigo leave it to the user).
//!
//! CI runs a few cases; the long run is
//! `PRIVACT_DIFF_CASES=3000 cargo test --test ckks_differential -- --nocapture`.

use num_complex::Complex64;
use privact::ckks::scheme::{max_coeff, rotate_and_sum_rotations};
use privact::ckks::{
    Ciphertext, Decryptor, Encoder, Encryptor, EvalError, Evaluator, KeyGenerator, Parameters,
    ParametersLiteral, SecretKey,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::sync::Arc;

const SIGMA: f64 = 3.2;
/// Rotations with keys; `rotate_and_sum` uses n ∈ 1..=6 with step 1.
fn key_rotations() -> Vec<i64> {
    let mut r: Vec<i64> = vec![1, -1, 2, 5, -7];
    for n in 1..=6 {
        r.extend(rotate_and_sum_rotations(n, 1));
    }
    r.sort_unstable();
    r.dedup();
    r
}

/// A ciphertext next to the values it should hold and a bound on its error (slot units).
#[derive(Clone)]
struct Reg {
    ct: Ciphertext,
    v: Vec<Complex64>,
    err: f64,
}

fn max_abs(v: &[Complex64]) -> f64 {
    v.iter().map(|z| z.norm()).fold(0.0, f64::max)
}

struct Engine {
    params: Parameters,
    sk: SecretKey,
    eval: Evaluator,
    enc: Encoder,
    rotations: Vec<i64>,
}

impl Engine {
    fn new(params: Parameters, seed: u8) -> Self {
        let mut kg = KeyGenerator::from_seed(&params, [seed; 32]);
        let sk = kg.gen_secret_key();
        let rotations = key_rotations();
        let keys = kg.gen_evaluation_keys(&sk, &rotations, true);
        Self {
            eval: Evaluator::new(&params, Arc::new(keys)),
            enc: Encoder::new(&params),
            params,
            sk,
            rotations,
        }
    }

    fn n(&self) -> f64 {
        self.params.n() as f64
    }

    /// 6σ bound of encoding rounding in slot units at `scale`.
    fn round_err(&self, scale: f64) -> f64 {
        6.0 * (self.n() / 12.0).sqrt() / scale
    }

    /// Rescale / ModDown rounding r0 + r1·s with r uniform in [−½, ½] and s ternary (about
    /// 2N/3 non-zeros). Slots multiply, so ‖r1·s‖ ≤ ‖r1‖·‖s‖ in the canonical embedding, each
    /// factor bounded at 6σ: 6√(N/12) · (1 + 6√(2N/3)).
    fn rescale_err(&self, scale: f64) -> f64 {
        6.0 * (self.n() / 12.0).sqrt() * (1.0 + 6.0 * (2.0 * self.n() / 3.0).sqrt()) / scale
    }

    /// Hybrid key switching: Σ_j d_j·e_j / P plus ModDown rounding. Each digit d_j is uniform
    /// below its modulus D (‖d_j‖ ≤ 6·D·√(N/12)), each key error Gaussian (‖e_j‖ ≤ 6σ√N); the
    /// digits are summed linearly.
    fn keyswitch_err(&self, scale: f64, level: usize) -> f64 {
        let alpha = self.params.digit_size();
        let q = &self.params.q()[..=level];
        let digits = q.len().div_ceil(alpha) as f64;
        let digit_max = q
            .chunks(alpha)
            .map(|d| d.iter().map(|&x| x as f64).product::<f64>())
            .fold(0.0, f64::max);
        let p: f64 = self.params.p().iter().map(|&x| x as f64).product();
        let n = self.n();
        digits * 36.0 * digit_max * (n / 12.0).sqrt() * SIGMA * n.sqrt() / p / scale
            + self.rescale_err(scale)
    }

    fn fresh(&self, v: Vec<Complex64>) -> Reg {
        let (level, scale) = (self.params.max_level(), self.params.default_scale());
        let pt = self.enc.encode_complex(&v, level, scale).unwrap();
        let ct = Encryptor::new(&self.params, &self.sk).encrypt(&pt).unwrap();
        let err = 6.0 * SIGMA * self.n().sqrt() / scale + self.round_err(scale);
        let mut v = v;
        v.resize(self.params.slots(), Complex64::new(0.0, 0.0));
        Reg { ct, v, err }
    }

    fn decrypt(&self, ct: &Ciphertext) -> Vec<Complex64> {
        let pt = Decryptor::new(&self.params, &self.sk).decrypt(ct).unwrap();
        self.enc.decode_complex(&pt).unwrap()
    }

    /// Room left at a level for |v|·scale, with a margin of 4 for noise and rounding.
    fn fits(&self, magnitude: f64, scale: f64, level: usize) -> bool {
        (magnitude.max(1.0) * scale).log2() < self.params.log_q_at(level) - 3.0
    }

    fn scale_ok(&self, scale: f64, level: usize) -> bool {
        scale >= 1.0 && scale.log2() < self.params.log_q_at(level)
    }
}

fn same_scale(a: f64, b: f64) -> bool {
    ((a - b) / a).abs() <= 1e-9
}

fn rotated(v: &[Complex64], k: i64) -> Vec<Complex64> {
    let n = v.len() as i64;
    (0..n).map(|i| v[(i + k).rem_euclid(n) as usize]).collect()
}

/// One step of a program: which operation, on which registers, with which small argument.
#[derive(Clone, Debug)]
struct Step {
    op: u8,
    a: usize,
    b: usize,
    arg: i64,
    x: f64,
}

fn step() -> impl Strategy<Value = Step> {
    (0u8..16, 0usize..8, 0usize..8, -8i64..=8, -2.0f64..2.0).prop_map(|(op, a, b, arg, x)| Step {
        op,
        a,
        b,
        arg,
        x,
    })
}

enum Outcome {
    /// The step ran and its result matched.
    Matched,
    /// The step was refused with a typed error where the model also refuses it.
    Refused,
    /// The generator skipped a step whose values would outgrow the modulus.
    Skipped,
}

/// Runs one step; `Err` describes a divergence.
fn run_step(e: &Engine, regs: &mut Vec<Reg>, s: &Step) -> Result<Outcome, String> {
    let a = regs[s.a % regs.len()].clone();
    let b = regs[s.b % regs.len()].clone();
    let (level, scale) = (a.ct.level(), a.ct.scale());
    let q_top = e.params.q()[level] as f64;
    let aligned = a.ct.level().min(b.ct.level());
    let zip = |f: &dyn Fn(Complex64, Complex64) -> Complex64| -> Vec<Complex64> {
        a.v.iter().zip(&b.v).map(|(x, y)| f(*x, *y)).collect()
    };
    // (engine result, expected values, expected error, whether the model allows the step)
    let (got, v, err, allowed): (Result<Ciphertext, EvalError>, Vec<Complex64>, f64, bool) = match s
        .op
    {
        0 | 1 => {
            let sub = s.op == 1;
            let v = zip(&|x, y| if sub { x - y } else { x + y });
            let r = if sub {
                e.eval.sub(&a.ct, &b.ct)
            } else {
                e.eval.add(&a.ct, &b.ct)
            };
            if !e.fits(max_abs(&v), scale, aligned) {
                return Ok(Outcome::Skipped);
            }
            // c1 cancels when b's c1 equals a's (sub) or its negation (add): e.g. a
            // register copied by a rotation by 0.
            let other = if sub {
                b.ct.clone()
            } else {
                e.eval.neg(&b.ct).unwrap()
            };
            let (mut x, mut y) = (a.ct.clone(), other);
            x.drop_to_level(aligned);
            y.drop_to_level(aligned);
            let cancels = x.parts()[1..] == y.parts()[1..];
            let ok = same_scale(scale, b.ct.scale()) && e.scale_ok(scale, aligned) && !cancels;
            (r, v, a.err + b.err, ok)
        }
        2 => (
            e.eval.neg(&a.ct),
            a.v.iter().map(|x| -x).collect(),
            a.err,
            true,
        ),
        3 => {
            let v = a.v.iter().map(|x| x + s.x).collect::<Vec<_>>();
            if !e.fits(max_abs(&v), scale, level) {
                return Ok(Outcome::Skipped);
            }
            // The constant is encoded as one integer: refused beyond min(Q_ℓ/2, 2^62).
            let ok = (s.x * scale).round().abs() < max_coeff(&e.params, level);
            (e.eval.add_const(&a.ct, s.x), v, a.err + 0.5 / scale, ok)
        }
        4 => {
            let p: Vec<Complex64> = (0..8)
                .map(|i| Complex64::new(s.x * (i as f64 - 3.5) / 4.0, 0.0))
                .collect();
            let Ok(pt) = e.enc.encode_complex(&p, level, scale) else {
                return Ok(Outcome::Skipped);
            };
            let mut pv = p.clone();
            pv.resize(a.v.len(), Complex64::new(0.0, 0.0));
            let v: Vec<Complex64> = a.v.iter().zip(&pv).map(|(x, y)| x + y).collect();
            if !e.fits(max_abs(&v), scale, level) {
                return Ok(Outcome::Skipped);
            }
            (
                e.eval.add_plain(&a.ct, &pt),
                v,
                a.err + e.round_err(scale),
                true,
            )
        }
        5 => {
            // mul_plain by a slot vector at scale q_top, then rescale.
            let p: Vec<f64> = (0..a.v.len())
                .map(|i| s.x * ((i % 5) as f64 - 2.0) / 2.0)
                .collect();
            let Ok(pt) = e.enc.encode(&p, level, q_top) else {
                return Ok(Outcome::Skipped);
            };
            let v: Vec<Complex64> = a.v.iter().zip(&p).map(|(x, y)| x * y).collect();
            if !e.fits(max_abs(&v), scale * q_top, level) {
                return Ok(Outcome::Skipped);
            }
            let pmax = p.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            let err = a.err * pmax + max_abs(&a.v) * e.round_err(q_top) + e.rescale_err(scale);
            let transparent = pmax == 0.0;
            let ok = level > 0 && !transparent && e.scale_ok(scale * q_top, level);
            let r = e
                .eval
                .mul_plain(&a.ct, &pt)
                .and_then(|c| e.eval.rescale(&c));
            (r, v, err, ok)
        }
        6 => {
            let v: Vec<Complex64> = a.v.iter().map(|x| x * s.x).collect();
            if !e.fits(max_abs(&v), scale * q_top, level) {
                return Ok(Outcome::Skipped);
            }
            let err = a.err * s.x.abs() + max_abs(&a.v) * 0.5 / q_top + e.rescale_err(scale);
            let ok = level > 0 && (s.x * q_top).round() != 0.0 && e.scale_ok(scale * q_top, level);
            let r = e
                .eval
                .mul_const(&a.ct, s.x, q_top)
                .and_then(|c| e.eval.rescale(&c));
            (r, v, err, ok)
        }
        7 => {
            let m = s.arg.clamp(-3, 3);
            let v: Vec<Complex64> = a.v.iter().map(|x| x * m as f64).collect();
            if !e.fits(max_abs(&v), scale, level) {
                return Ok(Outcome::Skipped);
            }
            (e.eval.mul_int(&a.ct, m), v, a.err * m.abs() as f64, m != 0)
        }
        8 | 9 => {
            let rescale = s.op == 8;
            let v = zip(&|x, y| x * y);
            let pscale = scale * b.ct.scale();
            if !e.fits(max_abs(&v), pscale, aligned) {
                return Ok(Outcome::Skipped);
            }
            let mut err = a.err * max_abs(&b.v)
                + b.err * max_abs(&a.v)
                + a.err * b.err
                + e.keyswitch_err(pscale, aligned);
            let q_al = e.params.q()[aligned] as f64;
            let mut ok = e.scale_ok(pscale, aligned) && a.ct.degree() == 1 && b.ct.degree() == 1;
            let mut r = e.eval.mul_relin(&a.ct, &b.ct);
            if rescale {
                err += e.rescale_err(pscale / q_al);
                ok &= aligned > 0 && pscale / q_al >= 1.0;
                r = r.and_then(|c| e.eval.rescale(&c));
            }
            (r, v, err, ok)
        }
        10 => {
            let ok = level > 0 && scale / q_top >= 1.0;
            let err = a.err + e.rescale_err(scale / q_top);
            (e.eval.rescale(&a.ct), a.v.clone(), err, ok)
        }
        11 => {
            if level >= 1
                && !e.fits(max_abs(&a.v), scale, level - 1)
                && e.scale_ok(scale, level - 1)
            {
                return Ok(Outcome::Skipped);
            }
            let ok = level >= 1 && e.scale_ok(scale, level - 1);
            (e.eval.drop_levels(&a.ct, 1), a.v.clone(), a.err, ok)
        }
        12 => {
            let k = s.arg;
            let has_key = k == 0 || e.rotations.contains(&k);
            let err = a.err + e.keyswitch_err(scale, level);
            (e.eval.rotate(&a.ct, k), rotated(&a.v, k), err, has_key)
        }
        13 => {
            let ks: Vec<i64> = vec![1, 2, -7];
            let r = e.eval.rotate_many(&a.ct, &ks).map(|mut v| v.remove(2));
            let err = a.err + e.keyswitch_err(scale, level);
            (r, rotated(&a.v, -7), err, true)
        }
        14 => {
            let n = s.arg.unsigned_abs() as usize;
            let n = n.min(6);
            let mut v = vec![Complex64::new(0.0, 0.0); a.v.len()];
            for j in 0..n {
                for (o, x) in v.iter_mut().zip(rotated(&a.v, j as i64)) {
                    *o += x;
                }
            }
            if !e.fits(max_abs(&v), scale, level) {
                return Ok(Outcome::Skipped);
            }
            let rots = rotate_and_sum_rotations(n, 1).len() as f64 * 2.0 + 1.0;
            let err = n as f64 * (a.err + rots * e.keyswitch_err(scale, level));
            (e.eval.rotate_and_sum(&a.ct, n, 1), v, err, n >= 1)
        }
        _ => {
            let v = a.v.iter().map(|x| x.conj()).collect();
            let err = a.err + e.keyswitch_err(scale, level);
            (e.eval.conjugate(&a.ct), v, err, true)
        }
    };
    match got {
        Err(error) if allowed => Err(format!(
            "step {s:?} refused ({error}) though the model allows it"
        )),
        Err(_) => Ok(Outcome::Refused),
        Ok(ct) if !allowed => Err(format!(
            "step {s:?} succeeded though the model refuses it (level {}, scale 2^{:.1})",
            ct.level(),
            ct.scale().log2()
        )),
        Ok(ct) => {
            let dec = e.decrypt(&ct);
            let tol = err + 1e-9 * (1.0 + max_abs(&v));
            let worst = dec
                .iter()
                .zip(&v)
                .map(|(g, w)| (g - w).norm())
                .fold(0.0, f64::max);
            if worst.is_nan() || worst > tol {
                return Err(format!(
                    "step {s:?} diverged: max error {worst:e} > bound {tol:e} (level {}, scale 2^{:.1})",
                    ct.level(),
                    ct.scale().log2()
                ));
            }
            let new = Reg { ct, v, err };
            if regs.len() < 8 {
                regs.push(new);
            } else {
                regs[s.b % 8] = new;
            }
            Ok(Outcome::Matched)
        }
    }
}

/// A random legal parameter set: N = 2^12 or 2^13, 1–3 levels, scale 25–36 bits, 128-bit.
fn params() -> impl Strategy<Value = ParametersLiteral> {
    (12u32..=13, 1usize..=3, 25u32..=36, 6u32..=12).prop_filter_map(
        "insecure or invalid",
        |(log_n, levels, scale, extra)| {
            let q0 = scale + extra;
            let lit = ParametersLiteral {
                log_n,
                log_q: [vec![q0], vec![scale; levels]].concat(),
                log_p: vec![q0.max(scale)],
                log_default_scale: scale,
            };
            Parameters::new(lit.clone()).ok().map(|_| lit)
        },
    )
}

#[test]
fn random_programs_match_the_plaintext_model_or_fail_typed() {
    let cases = std::env::var("PRIVACT_DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let totals = std::sync::Mutex::new([0usize; 3]);
    let program = (
        params(),
        any::<u8>(),
        proptest::collection::vec(-1.0f64..1.0, 16),
        proptest::collection::vec(step(), 24..48),
    );
    runner
        .run(&program, |(lit, seed, inputs, steps)| {
            let e = Engine::new(Parameters::new(lit).unwrap(), seed);
            let slots = e.params.slots();
            let v = |shift: usize| -> Vec<Complex64> {
                (0..slots)
                    .map(|i| {
                        Complex64::new(
                            inputs[(i + shift) % inputs.len()],
                            inputs[(i * 3 + shift + 1) % inputs.len()] / 2.0,
                        )
                    })
                    .collect()
            };
            let mut regs = vec![e.fresh(v(0)), e.fresh(v(5)), e.fresh(v(11))];
            for s in &steps {
                let outcome = run_step(&e, &mut regs, s).map_err(TestCaseError::fail)?;
                let mut t = totals.lock().unwrap();
                t[match outcome {
                    Outcome::Matched => 0,
                    Outcome::Refused => 1,
                    Outcome::Skipped => 2,
                }] += 1;
            }
            Ok(())
        })
        .unwrap();
    let [matched, refused, skipped] = *totals.lock().unwrap();
    println!(
        "differential: {matched} steps matched, {refused} refused (typed, as the model says), {skipped} skipped (would outgrow the modulus)"
    );
    // The property is not vacuous: most steps run and are checked.
    assert!(
        matched > refused + skipped,
        "{matched} / {refused} / {skipped}"
    );
}
