//! One packed computation, two backends: CKKS ciphertexts (the server's real work) and plain
//! slot vectors (an exact simulator of the same packing, for debugging and fidelity checks).
//!
//! Model code is written once against `SlotBackend`, so the simulator cannot drift from what
//! the server evaluates.

use crate::ckks::{Ciphertext, Encoder, EvalError, Evaluator, Plaintext};
use num_complex::Complex64;
use rayon::prelude::*;

pub trait SlotBackend: Sync {
    type Ct: Clone + Send + Sync;
    type Pt: Send + Sync;

    fn slots(&self) -> usize;
    fn level(&self, ct: &Self::Ct) -> usize;
    /// Weights multiplied at `level`; their scale is the prime the next rescale removes, so
    /// `mul_plain` followed by `rescale` returns to the ciphertext's scale exactly.
    fn encode_weights(&self, values: &[f64], level: usize) -> Result<Self::Pt, EvalError>;
    /// Two weight vectors at once, scaled like `encode_weights` (CKKS derives both from one
    /// transform, see `Encoder::encode_real_pair`).
    fn encode_weight_pair(
        &self,
        a: &[f64],
        b: &[f64],
        level: usize,
    ) -> Result<(Self::Pt, Self::Pt), EvalError> {
        Ok((
            self.encode_weights(a, level)?,
            self.encode_weights(b, level)?,
        ))
    }
    /// Complex weights (for inputs packed two real values per slot), scaled like `encode_weights`.
    fn encode_weights_complex(
        &self,
        values: &[Complex64],
        level: usize,
    ) -> Result<Self::Pt, EvalError>;
    /// Values added to `like` (same level and scale).
    fn encode_like(&self, values: &[f64], like: &Self::Ct) -> Result<Self::Pt, EvalError>;
    fn add(&self, a: &Self::Ct, b: &Self::Ct) -> Result<Self::Ct, EvalError>;
    fn add_plain(&self, a: &Self::Ct, pt: &Self::Pt) -> Result<Self::Ct, EvalError>;
    fn mul_plain(&self, a: &Self::Ct, pt: &Self::Pt) -> Result<Self::Ct, EvalError>;
    /// True for an all-zero plaintext: products with it are skipped, because under CKKS they
    /// would be transparent ciphertexts (`EvalError::Transparent`) and add nothing.
    fn is_zero(&self, pt: &Self::Pt) -> bool;
    fn mul_plain_then_add(
        &self,
        acc: &mut Self::Ct,
        a: &Self::Ct,
        pt: &Self::Pt,
    ) -> Result<(), EvalError>;
    /// For each row `w` of `weights`, `Σ_j cts[j] · w[j]` for weights shared by every slot,
    /// at the scale `encode_weights` uses (so a rescale returns to the inputs' scale): no
    /// plaintext is encoded or stored, and a row of zeros gives `None` (a convolution's taps
    /// are such weights). Inputs share one level and scale.
    fn weighted_sums(
        &self,
        cts: &[&Self::Ct],
        weights: &[Vec<f64>],
    ) -> Result<Vec<Option<Self::Ct>>, EvalError>;
    /// `a + c` in every slot, at `a`'s scale.
    fn add_scalar(&self, a: &Self::Ct, c: f64) -> Result<Self::Ct, EvalError>;
    /// `a + c` in every slot for a complex `c` (a bias for two real values packed in one
    /// slot's real and imaginary parts), at `a`'s scale.
    fn add_scalar_complex(&self, a: &Self::Ct, c: Complex64) -> Result<Self::Ct, EvalError>;
    /// The same values at the lower `level` (no rescale: exact).
    fn drop_to_level(&self, a: &Self::Ct, level: usize) -> Result<Self::Ct, EvalError>;
    fn rescale(&self, a: &Self::Ct) -> Result<Self::Ct, EvalError>;
    /// a² with relinearisation and rescaling (one level).
    fn square(&self, a: &Self::Ct) -> Result<Self::Ct, EvalError>;
    fn rotate(&self, a: &Self::Ct, k: i64) -> Result<Self::Ct, EvalError>;
    /// Complex conjugation of every slot.
    fn conjugate(&self, a: &Self::Ct) -> Result<Self::Ct, EvalError>;
    /// Several rotations of one ciphertext (hoisted under CKKS).
    fn rotate_many(&self, a: &Self::Ct, ks: &[i64]) -> Result<Vec<Self::Ct>, EvalError>;
    /// Σ rotate(ct, k) over the terms (one ModDown in all under CKKS, see
    /// `Evaluator::rotate_sum`).
    ///
    /// Errors: `InvalidCount` for no terms; as `rotate` and `add`.
    fn rotate_sum(&self, terms: &[(&Self::Ct, i64)]) -> Result<Self::Ct, EvalError> {
        let mut acc: Option<Self::Ct> = None;
        for &(ct, k) in terms {
            let r = if k == 0 {
                ct.clone()
            } else {
                self.rotate(ct, k)?
            };
            acc = Some(match acc {
                Some(a) => self.add(&a, &r)?,
                None => r,
            });
        }
        acc.ok_or(EvalError::InvalidCount {
            n: 0,
            max: self.slots(),
        })
    }

    /// Σ_k rotate(a, k) over `ks` (one decomposition and one ModDown under CKKS, see
    /// `Evaluator::rotate_sum_hoisted`).
    ///
    /// Errors: `InvalidCount` for no rotations; as `rotate` and `add`.
    fn rotate_sum_hoisted(&self, a: &Self::Ct, ks: &[i64]) -> Result<Self::Ct, EvalError> {
        let terms: Vec<(&Self::Ct, i64)> = ks.iter().map(|&k| (a, k)).collect();
        self.rotate_sum(&terms)
    }

    /// Σ_i a_i ⊙ pt_i, rescaled; zero plaintexts are skipped.
    ///
    /// Errors: `Transparent` when every plaintext is zero (the sum would be a known zero).
    fn dot_plain(&self, cts: &[&Self::Ct], pts: &[&Self::Pt]) -> Result<Self::Ct, EvalError> {
        let mut acc: Option<Self::Ct> = None;
        for (ct, pt) in cts.iter().zip(pts).filter(|(_, pt)| !self.is_zero(pt)) {
            match acc.as_mut() {
                None => acc = Some(self.mul_plain(ct, pt)?),
                Some(a) => self.mul_plain_then_add(a, ct, pt)?,
            }
        }
        self.rescale(&acc.ok_or(EvalError::Transparent("every weight is zero"))?)
    }
}

/// The server's backend: an evaluator holding evaluation keys only.
pub struct CkksBackend<'a> {
    pub eval: &'a Evaluator,
    pub encoder: &'a Encoder,
}

impl CkksBackend<'_> {
    /// The prime q_level, so that mul_plain then rescale returns to the ciphertext's scale.
    fn weight_scale(&self, level: usize) -> Result<f64, EvalError> {
        let params = self.eval.params();
        let q = params.q().get(level).ok_or(EvalError::LevelTooHigh {
            level,
            max: params.max_level(),
        })?;
        Ok(*q as f64)
    }
}

impl SlotBackend for CkksBackend<'_> {
    type Ct = Ciphertext;
    type Pt = Plaintext;

    fn slots(&self) -> usize {
        self.encoder.slots()
    }
    fn level(&self, ct: &Ciphertext) -> usize {
        ct.level()
    }
    fn encode_weights(&self, values: &[f64], level: usize) -> Result<Plaintext, EvalError> {
        self.encoder
            .encode(values, level, self.weight_scale(level)?)
    }
    fn encode_weight_pair(
        &self,
        a: &[f64],
        b: &[f64],
        level: usize,
    ) -> Result<(Plaintext, Plaintext), EvalError> {
        self.encoder
            .encode_real_pair(a, b, level, self.weight_scale(level)?)
    }
    fn encode_weights_complex(
        &self,
        values: &[Complex64],
        level: usize,
    ) -> Result<Plaintext, EvalError> {
        self.encoder
            .encode_complex(values, level, self.weight_scale(level)?)
    }
    fn encode_like(&self, values: &[f64], like: &Ciphertext) -> Result<Plaintext, EvalError> {
        self.encoder.encode(values, like.level(), like.scale())
    }
    fn conjugate(&self, a: &Ciphertext) -> Result<Ciphertext, EvalError> {
        self.eval.conjugate(a)
    }
    fn add(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext, EvalError> {
        self.eval.add(a, b)
    }
    fn add_plain(&self, a: &Ciphertext, pt: &Plaintext) -> Result<Ciphertext, EvalError> {
        self.eval.add_plain(a, pt)
    }
    fn mul_plain(&self, a: &Ciphertext, pt: &Plaintext) -> Result<Ciphertext, EvalError> {
        self.eval.mul_plain(a, pt)
    }
    fn is_zero(&self, pt: &Plaintext) -> bool {
        pt.is_zero()
    }
    fn mul_plain_then_add(
        &self,
        acc: &mut Ciphertext,
        a: &Ciphertext,
        pt: &Plaintext,
    ) -> Result<(), EvalError> {
        self.eval.mul_plain_then_add(acc, a, pt)
    }
    fn weighted_sums(
        &self,
        cts: &[&Ciphertext],
        weights: &[Vec<f64>],
    ) -> Result<Vec<Option<Ciphertext>>, EvalError> {
        let level = cts.first().map_or(0, |c| c.level());
        self.eval
            .linear_combinations(cts, weights, self.weight_scale(level)?)
    }
    fn add_scalar(&self, a: &Ciphertext, c: f64) -> Result<Ciphertext, EvalError> {
        self.eval.add_const(a, c)
    }
    fn add_scalar_complex(&self, a: &Ciphertext, c: Complex64) -> Result<Ciphertext, EvalError> {
        self.eval.add_const_complex(a, c)
    }
    fn drop_to_level(&self, a: &Ciphertext, level: usize) -> Result<Ciphertext, EvalError> {
        self.eval.drop_levels(
            a,
            a.level()
                .checked_sub(level)
                .ok_or(EvalError::NotEnoughLevels {
                    needed: level,
                    available: a.level(),
                })?,
        )
    }
    fn rescale(&self, a: &Ciphertext) -> Result<Ciphertext, EvalError> {
        self.eval.rescale(a)
    }
    fn square(&self, a: &Ciphertext) -> Result<Ciphertext, EvalError> {
        self.eval.mul_relin_rescale(a, a)
    }
    fn rotate(&self, a: &Ciphertext, k: i64) -> Result<Ciphertext, EvalError> {
        self.eval.rotate(a, k)
    }
    fn rotate_many(&self, a: &Ciphertext, ks: &[i64]) -> Result<Vec<Ciphertext>, EvalError> {
        self.eval.rotate_many(a, ks)
    }
    fn rotate_sum_hoisted(&self, a: &Ciphertext, ks: &[i64]) -> Result<Ciphertext, EvalError> {
        self.eval.rotate_sum_hoisted(a, ks)
    }
    fn rotate_sum(&self, terms: &[(&Ciphertext, i64)]) -> Result<Ciphertext, EvalError> {
        self.eval.rotate_sum(terms)
    }
}

/// A slot vector with the level it would have under CKKS.
#[derive(Clone, Debug, PartialEq)]
pub struct SimCt {
    pub values: Vec<Complex64>,
    pub level: usize,
}

impl SimCt {
    /// Real slots (the usual case) at `level`.
    pub fn real(values: &[f64], level: usize) -> Self {
        Self {
            values: values.iter().map(|&v| Complex64::new(v, 0.0)).collect(),
            level,
        }
    }

    /// The real parts of the slots (what a real-packed computation decrypts to).
    pub fn real_parts(&self) -> Vec<f64> {
        self.values.iter().map(|v| v.re).collect()
    }
}

/// Exact simulator: the same packing on plain complex slot vectors, no noise.
pub struct SimBackend {
    pub slots: usize,
}

impl SimBackend {
    fn zip(
        a: &SimCt,
        b: &[Complex64],
        f: impl Fn(Complex64, Complex64) -> Complex64 + Sync,
    ) -> Vec<Complex64> {
        a.values
            .par_iter()
            .zip(b.par_iter())
            .map(|(&x, &y)| f(x, y))
            .collect()
    }

    fn pad(&self, values: impl Iterator<Item = Complex64>) -> Vec<Complex64> {
        let mut v: Vec<Complex64> = values.collect();
        v.resize(self.slots, Complex64::new(0.0, 0.0));
        v
    }
}

impl SlotBackend for SimBackend {
    type Ct = SimCt;
    type Pt = Vec<Complex64>;

    fn slots(&self) -> usize {
        self.slots
    }
    fn level(&self, ct: &SimCt) -> usize {
        ct.level
    }
    fn encode_weights(&self, values: &[f64], _level: usize) -> Result<Self::Pt, EvalError> {
        Ok(self.pad(values.iter().map(|&v| Complex64::new(v, 0.0))))
    }
    fn encode_weights_complex(
        &self,
        values: &[Complex64],
        _level: usize,
    ) -> Result<Self::Pt, EvalError> {
        Ok(self.pad(values.iter().copied()))
    }
    fn encode_like(&self, values: &[f64], _like: &SimCt) -> Result<Self::Pt, EvalError> {
        self.encode_weights(values, 0)
    }
    fn add(&self, a: &SimCt, b: &SimCt) -> Result<SimCt, EvalError> {
        Ok(SimCt {
            values: Self::zip(a, &b.values, |x, y| x + y),
            level: a.level.min(b.level),
        })
    }
    fn add_plain(&self, a: &SimCt, pt: &Self::Pt) -> Result<SimCt, EvalError> {
        Ok(SimCt {
            values: Self::zip(a, pt, |x, y| x + y),
            level: a.level,
        })
    }
    fn mul_plain(&self, a: &SimCt, pt: &Self::Pt) -> Result<SimCt, EvalError> {
        Ok(SimCt {
            values: Self::zip(a, pt, |x, y| x * y),
            level: a.level,
        })
    }
    fn is_zero(&self, pt: &Self::Pt) -> bool {
        pt.iter().all(|z| z.re == 0.0 && z.im == 0.0)
    }
    fn mul_plain_then_add(
        &self,
        acc: &mut SimCt,
        a: &SimCt,
        pt: &Self::Pt,
    ) -> Result<(), EvalError> {
        acc.values
            .par_iter_mut()
            .zip(a.values.par_iter().zip(pt.par_iter()))
            .for_each(|(s, (x, y))| *s += x * y);
        Ok(())
    }
    fn weighted_sums(
        &self,
        cts: &[&SimCt],
        weights: &[Vec<f64>],
    ) -> Result<Vec<Option<SimCt>>, EvalError> {
        if cts.is_empty() || weights.iter().any(|w| w.len() != cts.len()) {
            return Err(EvalError::TermCount {
                ciphertexts: cts.len(),
                weights: weights.first().map_or(0, Vec::len),
            });
        }
        let level = cts.iter().map(|c| c.level).min().unwrap_or(0);
        Ok(weights
            .par_iter()
            .map(|row| {
                row.iter().any(|w| *w != 0.0).then(|| SimCt {
                    values: (0..self.slots)
                        .map(|s| cts.iter().zip(row).map(|(c, w)| c.values[s] * w).sum())
                        .collect(),
                    level,
                })
            })
            .collect())
    }
    fn add_scalar(&self, a: &SimCt, c: f64) -> Result<SimCt, EvalError> {
        Ok(SimCt {
            values: a.values.par_iter().map(|x| x + c).collect(),
            level: a.level,
        })
    }
    fn add_scalar_complex(&self, a: &SimCt, c: Complex64) -> Result<SimCt, EvalError> {
        Ok(SimCt {
            values: a.values.par_iter().map(|x| x + c).collect(),
            level: a.level,
        })
    }
    fn drop_to_level(&self, a: &SimCt, level: usize) -> Result<SimCt, EvalError> {
        if level > a.level {
            return Err(EvalError::NotEnoughLevels {
                needed: level,
                available: a.level,
            });
        }
        Ok(SimCt {
            values: a.values.clone(),
            level,
        })
    }
    fn rescale(&self, a: &SimCt) -> Result<SimCt, EvalError> {
        let level = a.level.checked_sub(1).ok_or(EvalError::NoLevelLeft)?;
        Ok(SimCt {
            values: a.values.clone(),
            level,
        })
    }
    fn square(&self, a: &SimCt) -> Result<SimCt, EvalError> {
        let level = a.level.checked_sub(1).ok_or(EvalError::NoLevelLeft)?;
        Ok(SimCt {
            values: a.values.iter().map(|x| x * x).collect(),
            level,
        })
    }
    fn conjugate(&self, a: &SimCt) -> Result<SimCt, EvalError> {
        Ok(SimCt {
            values: a.values.iter().map(|x| x.conj()).collect(),
            level: a.level,
        })
    }
    fn rotate(&self, a: &SimCt, k: i64) -> Result<SimCt, EvalError> {
        let n = a.values.len() as i64;
        let k = k.rem_euclid(n) as usize;
        let mut values = a.values.clone();
        values.rotate_left(k);
        Ok(SimCt {
            values,
            level: a.level,
        })
    }
    fn rotate_many(&self, a: &SimCt, ks: &[i64]) -> Result<Vec<SimCt>, EvalError> {
        ks.iter().map(|&k| self.rotate(a, k)).collect()
    }
}
