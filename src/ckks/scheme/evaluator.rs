//! Homomorphic evaluation on NTT-form ciphertexts. The evaluator holds evaluation keys only:
//! it can compute, never decrypt.
//!
//! Levels are aligned automatically (the higher operand is dropped, which is exact); scales
//! must agree, or the operation fails with `ScaleMismatch` rather than computing garbage.
//! Every operand must belong to the evaluator's parameter set (`ParameterMismatch`), every
//! resulting scale must fit its level (`ScaleOutOfBounds`, `InvalidScale`), and no operation
//! returns a transparent ciphertext (`Transparent`).

use super::bounds::{MAX_COEFF, check_scale, max_coeff};
use super::error::EvalError;
use crate::ckks::params::Parameters;
use crate::ckks::ring::{Ntt, Poly, limb};
use crate::ckks::rlwe::keyswitch::{
    Decomposed, decompose, inner_product, inner_product_accumulate, mod_down, switch_key,
};
use crate::ckks::rlwe::{Ciphertext, EvaluationKeys, Plaintext, SwitchingKey};
use rayon::prelude::*;
use std::borrow::Cow;
use std::sync::Arc;

/// Relative tolerance under which two scales count as equal (they come from the same
/// sequence of operations on the same primes, so real mismatches are far larger).
const SCALE_TOLERANCE: f64 = 1e-9;

pub struct Evaluator {
    params: Parameters,
    keys: Arc<EvaluationKeys>,
}

impl Evaluator {
    pub fn new(params: &Parameters, keys: Arc<EvaluationKeys>) -> Self {
        Self {
            params: params.clone(),
            keys,
        }
    }

    /// An evaluator without keys: additions, plaintext products and rescaling only.
    pub fn without_keys(params: &Parameters) -> Self {
        Self::new(params, Arc::new(EvaluationKeys::default()))
    }

    pub fn params(&self) -> &Parameters {
        &self.params
    }

    pub fn keys(&self) -> &EvaluationKeys {
        &self.keys
    }

    /// `ParameterMismatch` unless `params_id` is this evaluator's parameter set.
    fn same_params(&self, params_id: u64) -> Result<(), EvalError> {
        if params_id != self.params.fingerprint() {
            return Err(EvalError::ParameterMismatch);
        }
        Ok(())
    }

    fn own(&self, ct: &Ciphertext) -> Result<(), EvalError> {
        self.same_params(ct.params_id())
    }

    fn own_plain(&self, pt: &Plaintext) -> Result<(), EvalError> {
        self.same_params(pt.params_id())
    }

    fn own_key<'k>(&self, key: &'k SwitchingKey) -> Result<&'k SwitchingKey, EvalError> {
        self.same_params(key.params_id)?;
        if key.digits.len() != self.params.digits_at(self.params.max_level()) {
            return Err(EvalError::ParameterMismatch);
        }
        Ok(key)
    }

    /// Refuses a transparent result (c1 = 0); `what` names the operation for the message.
    fn not_transparent(ct: Ciphertext, what: &'static str) -> Result<Ciphertext, EvalError> {
        if ct.is_transparent() {
            return Err(EvalError::Transparent(what));
        }
        Ok(ct)
    }

    fn check_scales(a: f64, b: f64) -> Result<(), EvalError> {
        if ((a - b) / a).abs() > SCALE_TOLERANCE {
            return Err(EvalError::ScaleMismatch { a, b });
        }
        Ok(())
    }

    /// Views of `a` and `b` at their common (lower) level.
    fn aligned<'a>(
        a: &'a Ciphertext,
        b: &'a Ciphertext,
    ) -> (Cow<'a, Ciphertext>, Cow<'a, Ciphertext>) {
        let level = a.level().min(b.level());
        let at = |c: &'a Ciphertext| {
            if c.level() == level {
                Cow::Borrowed(c)
            } else {
                let mut c = c.clone();
                c.drop_to_level(level);
                Cow::Owned(c)
            }
        };
        (at(a), at(b))
    }

    pub fn add(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext, EvalError> {
        self.combine(a, b, false)
    }

    pub fn sub(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext, EvalError> {
        self.combine(a, b, true)
    }

    fn combine(
        &self,
        a: &Ciphertext,
        b: &Ciphertext,
        subtract: bool,
    ) -> Result<Ciphertext, EvalError> {
        self.own(a)?;
        self.own(b)?;
        Self::check_scales(a.scale(), b.scale())?;
        // Aligning drops the higher operand: its scale must fit the lower level.
        check_scale(&self.params, a.scale(), a.level().min(b.level()))?;
        let rq = self.params.ring_q();
        let (a, b) = Self::aligned(a, b);
        let (long, short, long_is_a) = if a.degree() >= b.degree() {
            (a, b, true)
        } else {
            (b, a, false)
        };
        let mut out = long.into_owned();
        let parts = out.parts_mut();
        if !long_is_a && subtract {
            parts.iter_mut().for_each(|p| rq.neg_assign(p));
        }
        for (o, s) in parts.iter_mut().zip(short.parts()) {
            if subtract && long_is_a {
                rq.sub_assign(o, s);
            } else {
                rq.add_assign(o, s);
            }
        }
        Self::not_transparent(out, if subtract { "sub" } else { "add" })
    }

    /// In-place `acc += b` (levels must already match or `acc` is lowered).
    pub fn add_assign(&self, acc: &mut Ciphertext, b: &Ciphertext) -> Result<(), EvalError> {
        *acc = self.add(acc, b)?;
        Ok(())
    }

    pub fn neg(&self, a: &Ciphertext) -> Result<Ciphertext, EvalError> {
        self.own(a)?;
        let mut out = a.clone();
        out.parts_mut()
            .iter_mut()
            .for_each(|p| self.params.ring_q().neg_assign(p));
        Ok(out)
    }

    fn plain_at<'p>(
        &self,
        pt: &'p Plaintext,
        level: usize,
    ) -> Result<Cow<'p, Poly<Ntt>>, EvalError> {
        self.own_plain(pt)?;
        match pt.level() {
            l if l == level => Ok(Cow::Borrowed(pt.poly())),
            l if l > level => Ok(Cow::Owned(pt.poly().truncated(level + 1))),
            l => Err(EvalError::PlaintextLevelTooLow {
                plaintext: l,
                ciphertext: level,
            }),
        }
    }

    /// ct + pt (same scale); a plaintext above the ciphertext's level is dropped to it.
    pub fn add_plain(&self, ct: &Ciphertext, pt: &Plaintext) -> Result<Ciphertext, EvalError> {
        self.own(ct)?;
        let p = self.plain_at(pt, ct.level())?;
        Self::check_scales(ct.scale(), pt.scale())?;
        let mut out = ct.clone();
        self.params.ring_q().add_assign(&mut out.parts_mut()[0], &p);
        Ok(out)
    }

    /// ct ⊙ pt; the scale becomes the product of scales (rescale afterwards).
    /// Errors: `ParameterMismatch`, `PlaintextLevelTooLow`, `ScaleOutOfBounds` (the product
    /// scale does not fit the level), `Transparent` (a zero plaintext).
    pub fn mul_plain(&self, ct: &Ciphertext, pt: &Plaintext) -> Result<Ciphertext, EvalError> {
        self.own(ct)?;
        let p = self.plain_at(pt, ct.level())?;
        let scale = ct.scale() * pt.scale();
        check_scale(&self.params, scale, ct.level())?;
        let mut out = ct.clone();
        out.parts_mut()
            .iter_mut()
            .for_each(|c| self.params.ring_q().mul_assign(c, &p));
        out.set_scale(scale);
        Self::not_transparent(out, "mul_plain by a zero plaintext")
    }

    /// acc += ct ⊙ pt without an intermediate ciphertext (the core of linear layers).
    pub fn mul_plain_then_add(
        &self,
        acc: &mut Ciphertext,
        ct: &Ciphertext,
        pt: &Plaintext,
    ) -> Result<(), EvalError> {
        self.own(acc)?;
        self.own(ct)?;
        self.own_plain(pt)?;
        Self::check_scales(acc.scale(), ct.scale() * pt.scale())?;
        if acc.level() != ct.level() || acc.degree() < ct.degree() {
            let product = self.mul_plain(ct, pt)?;
            return self.add_assign(acc, &product);
        }
        let p = self.plain_at(pt, ct.level())?;
        let rq = self.params.ring_q();
        for (a, c) in acc.parts_mut().iter_mut().zip(ct.parts()) {
            rq.mul_accumulate(a, c, &p);
        }
        if acc.is_transparent() {
            return Err(EvalError::Transparent("mul_plain_then_add cancelled c1"));
        }
        Ok(())
    }

    /// Adds the real constant `c` to every slot.
    pub fn add_const(&self, ct: &Ciphertext, c: f64) -> Result<Ciphertext, EvalError> {
        self.own(ct)?;
        let residues = self.const_residues(ct, c)?;
        let mut out = ct.clone();
        self.params
            .ring_q()
            .add_scalar_ntt_assign(&mut out.parts_mut()[0], &residues);
        Ok(out)
    }

    /// round(c·scale of `ct`) in every limb of `ct`'s level: the coefficient a constant adds.
    ///
    /// Errors: `NonFinite`, `ValueTooLarge` (it would not fit the level's modulus).
    fn const_residues(&self, ct: &Ciphertext, c: f64) -> Result<Vec<u64>, EvalError> {
        let scaled = (c * ct.scale()).round();
        if !scaled.is_finite() {
            return Err(EvalError::NonFinite);
        }
        if scaled.abs() >= max_coeff(&self.params, ct.level()) {
            return Err(EvalError::ValueTooLarge(scaled));
        }
        Ok(self
            .params
            .ring_q()
            .moduli()
            .iter()
            .take(ct.level() + 1)
            .map(|m| m.reduce_i64(scaled as i64))
            .collect())
    }

    /// Adds the complex constant `c` to every slot: c.re·Δ at X^0 and c.im·Δ at X^{N/2} (the
    /// monomial is i in every slot, since 5^j ≡ 1 mod 4), added in NTT form without encoding.
    ///
    /// Errors: `ParameterMismatch`, `NonFinite`, `ValueTooLarge`.
    pub fn add_const_complex(
        &self,
        ct: &Ciphertext,
        c: num_complex::Complex64,
    ) -> Result<Ciphertext, EvalError> {
        self.own(ct)?;
        let (re, im) = (
            self.const_residues(ct, c.re)?,
            self.const_residues(ct, c.im)?,
        );
        let mut out = ct.clone();
        self.params
            .ring_q()
            .add_binomial_half_ntt_assign(&mut out.parts_mut()[0], &re, &im);
        Ok(out)
    }

    /// Multiplies every slot by `c`, encoded as round(c·const_scale); the scale grows by
    /// `const_scale` (pass the top prime q_ℓ to keep the scale after the next rescale).
    pub fn mul_const(
        &self,
        ct: &Ciphertext,
        c: f64,
        const_scale: f64,
    ) -> Result<Ciphertext, EvalError> {
        if !const_scale.is_finite() || const_scale < 1.0 {
            return Err(EvalError::InvalidScale(const_scale));
        }
        let scaled = (c * const_scale).round();
        if !scaled.is_finite() {
            return Err(EvalError::NonFinite);
        }
        if scaled.abs() > MAX_COEFF {
            return Err(EvalError::ValueTooLarge(scaled));
        }
        let scale = ct.scale() * const_scale;
        check_scale(&self.params, scale, ct.level())?;
        let mut out = self.mul_int(ct, scaled as i64)?;
        out.set_scale(scale);
        Ok(out)
    }

    /// For each row `w` of `weights`, `Σ_j cts[j] · w[j]`, each weight encoded as in
    /// [`Evaluator::mul_const`]: the taps of a convolution whose weights are the same in every
    /// slot, computed as one matrix product (each input read once for all rows), with no
    /// plaintext. A row whose weights all round to zero gives `None` (its sum would be a
    /// transparent zero). The scale grows by `const_scale`.
    ///
    /// Errors: `TermCount` (no inputs, or a row without one weight per input),
    /// `ParameterMismatch`, `ScaleMismatch`, `NotEnoughLevels` (inputs at different levels),
    /// `DegreeTooHigh` (inputs of different degrees), `InvalidScale`, `NonFinite`,
    /// `ValueTooLarge`, `ScaleOutOfBounds`, `Transparent` (a sum cancels c1).
    pub fn linear_combinations(
        &self,
        cts: &[&Ciphertext],
        weights: &[Vec<f64>],
        const_scale: f64,
    ) -> Result<Vec<Option<Ciphertext>>, EvalError> {
        let first = match cts.first() {
            Some(c) if cts.len() < 1 << 20 => *c,
            _ => {
                return Err(EvalError::TermCount {
                    ciphertexts: cts.len(),
                    weights: weights.first().map_or(0, Vec::len),
                });
            }
        };
        if let Some(row) = weights.iter().find(|w| w.len() != cts.len()) {
            return Err(EvalError::TermCount {
                ciphertexts: cts.len(),
                weights: row.len(),
            });
        }
        if !const_scale.is_finite() || const_scale < 1.0 {
            return Err(EvalError::InvalidScale(const_scale));
        }
        let (level, degree) = (first.level(), first.degree());
        for ct in cts {
            self.own(ct)?;
            Self::check_scales(first.scale(), ct.scale())?;
            if ct.level() != level {
                return Err(EvalError::NotEnoughLevels {
                    needed: level.max(ct.level()),
                    available: level.min(ct.level()),
                });
            }
            if ct.degree() != degree {
                return Err(EvalError::DegreeTooHigh(degree.max(ct.degree())));
            }
        }
        let scale = first.scale() * const_scale;
        check_scale(&self.params, scale, level)?;
        let rq = self.params.ring_q();
        // scalars[row][j][limb]; rows of zeros are left out.
        let mut scalars: Vec<Vec<Vec<u64>>> = Vec::with_capacity(weights.len());
        let mut nonzero = Vec::with_capacity(weights.len());
        for row in weights {
            let mut residues = Vec::with_capacity(row.len());
            let mut any = false;
            for &c in row {
                let scaled = (c * const_scale).round();
                if !scaled.is_finite() {
                    return Err(EvalError::NonFinite);
                }
                if scaled.abs() > MAX_COEFF {
                    return Err(EvalError::ValueTooLarge(scaled));
                }
                any |= scaled != 0.0;
                residues.push(
                    rq.moduli()
                        .iter()
                        .take(level + 1)
                        .map(|m| m.reduce_i64(scaled as i64))
                        .collect(),
                );
            }
            nonzero.push(any);
            if any {
                scalars.push(residues);
            }
        }
        let mut parts: Vec<Vec<Poly<Ntt>>> = vec![Vec::with_capacity(degree + 1); scalars.len()];
        if !scalars.is_empty() {
            for d in 0..=degree {
                let inputs: Vec<_> = cts.iter().map(|ct| &ct.parts()[d]).collect();
                for (p, poly) in
                    parts
                        .iter_mut()
                        .zip(rq.linear_combinations(&inputs, &scalars, level + 1))
                {
                    p.push(poly);
                }
            }
        }
        let mut sums = parts.into_iter();
        nonzero
            .into_iter()
            .map(|any| {
                if !any {
                    return Ok(None);
                }
                let parts = sums.next().ok_or(EvalError::Transparent("no sum"))?;
                let out = Ciphertext::new(parts, scale, self.params.fingerprint());
                Self::not_transparent(out, "linear_combinations cancelled c1").map(Some)
            })
            .collect()
    }

    /// Exact multiplication by an integer; the scale is unchanged.
    ///
    /// Errors: `ParameterMismatch`, `Transparent` (k = 0, or k ≡ 0 modulo every prime).
    pub fn mul_int(&self, ct: &Ciphertext, k: i64) -> Result<Ciphertext, EvalError> {
        self.own(ct)?;
        let rq = self.params.ring_q();
        let residues: Vec<u64> = rq.moduli().iter().map(|m| m.reduce_i64(k)).collect();
        let mut out = ct.clone();
        out.parts_mut()
            .iter_mut()
            .for_each(|p| rq.mul_scalar_assign(p, &residues));
        Self::not_transparent(out, "multiplication by zero")
    }

    /// Tensor product (degree 2); follow with `relinearize` and `rescale`.
    pub fn mul(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext, EvalError> {
        for c in [a, b] {
            self.own(c)?;
            if c.degree() != 1 {
                return Err(EvalError::DegreeTooHigh(c.degree()));
            }
        }
        let rq = self.params.ring_q();
        let (a, b) = Self::aligned(a, b);
        let scale = a.scale() * b.scale();
        check_scale(&self.params, scale, a.level())?;
        let (n, limbs) = (self.params.n(), a.level() + 1);
        let (pa, pb) = (a.parts(), b.parts());
        let (a0, a1, b0, b1) = (&pa[0], &pa[1], &pb[0], &pb[1]);
        let mut d = [
            Poly::zero(n, limbs),
            Poly::zero(n, limbs),
            Poly::zero(n, limbs),
        ];
        rq.mul_accumulate(&mut d[0], a0, b0);
        rq.mul_accumulate(&mut d[1], a0, b1);
        rq.mul_accumulate(&mut d[1], a1, b0);
        rq.mul_accumulate(&mut d[2], a1, b1);
        Self::not_transparent(
            Ciphertext::new(d.into(), scale, self.params.fingerprint()),
            "product of transparent ciphertexts",
        )
    }

    /// Degree 2 → 1 with the relinearisation key.
    pub fn relinearize(&self, ct: &Ciphertext) -> Result<Ciphertext, EvalError> {
        self.own(ct)?;
        match ct.degree() {
            1 => return Ok(ct.clone()),
            2 => {}
            d => return Err(EvalError::DegreeTooHigh(d)),
        }
        let key = self.own_key(
            &self
                .keys
                .relin
                .as_ref()
                .ok_or(EvalError::MissingRelinKey)?
                .0,
        )?;
        let parts = ct.parts();
        let (d0, d1) = switch_key(&self.params, &parts[2], key);
        let rq = self.params.ring_q();
        let mut c0 = parts[0].clone();
        let mut c1 = parts[1].clone();
        rq.add_assign(&mut c0, &d0);
        rq.add_assign(&mut c1, &d1);
        Ok(Ciphertext::new(
            vec![c0, c1],
            ct.scale(),
            self.params.fingerprint(),
        ))
    }

    pub fn mul_relin(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext, EvalError> {
        self.relinearize(&self.mul(a, b)?)
    }

    /// Divides by the top prime q_ℓ (rounding), consuming one level.
    pub fn rescale(&self, ct: &Ciphertext) -> Result<Ciphertext, EvalError> {
        self.own(ct)?;
        let level = ct.level();
        if level == 0 {
            return Err(EvalError::NoLevelLeft);
        }
        let q_top = self.params.q()[level] as f64;
        let scale = ct.scale() / q_top;
        if scale < 1.0 {
            return Err(EvalError::InvalidScale(scale));
        }
        let parts = ct
            .parts()
            .par_iter()
            .map(|p| self.rescale_poly(p))
            .collect();
        Self::not_transparent(
            Ciphertext::new(parts, scale, self.params.fingerprint()),
            "rescale",
        )
    }

    fn rescale_poly(&self, p: &Poly<Ntt>) -> Poly<Ntt> {
        let rq = self.params.ring_q();
        let (n, level) = (self.params.n(), p.limbs() - 1);
        let top = *rq.modulus(level);
        let half = top.value() / 2;
        let mut last = p.limb(level).to_vec();
        rq.intt_limb(level, &mut last);
        // Adding ⌊q_ℓ/2⌋ first turns the floor division below into rounding.
        for x in last.iter_mut() {
            *x = top.add(*x, half);
        }
        let mut out = p.truncated(level);
        out.data_mut()
            .par_chunks_mut(n)
            .enumerate()
            .for_each(|(i, limb)| {
                let m = rq.modulus(i);
                let mut t = vec![0u64; n];
                limb::reduce_sub_const(&top, m, &last, m.reduce(half), &mut t);
                rq.ntt_limb(i, &mut t);
                let inv = m.inv(m.reduce(top.value())).unwrap_or(0);
                limb::sub_mul_const(m, limb, &t, inv);
            });
        out
    }

    /// `mul_relin` then `rescale`: the standard CKKS multiplication.
    pub fn mul_relin_rescale(
        &self,
        a: &Ciphertext,
        b: &Ciphertext,
    ) -> Result<Ciphertext, EvalError> {
        self.rescale(&self.mul_relin(a, b)?)
    }

    /// Drops `levels` levels without rescaling (exact; used to align operands).
    pub fn drop_levels(&self, ct: &Ciphertext, levels: usize) -> Result<Ciphertext, EvalError> {
        self.own(ct)?;
        if levels > ct.level() {
            return Err(EvalError::NotEnoughLevels {
                needed: levels,
                available: ct.level(),
            });
        }
        check_scale(&self.params, ct.scale(), ct.level() - levels)?;
        let mut out = ct.clone();
        out.drop_to_level(ct.level() - levels);
        Ok(out)
    }

    fn galois_key(&self, g: u64, rotation: i64) -> Result<&SwitchingKey, EvalError> {
        match self.keys.galois_key(g) {
            Some(k) => self.own_key(&k.key),
            None if g == self.params.ring_q().galois_element_conjugate() && rotation == 0 => {
                Err(EvalError::MissingConjugationKey)
            }
            None => Err(EvalError::MissingGaloisKey {
                rotation,
                galois_element: g,
            }),
        }
    }

    /// Rotates slots left by `k` (negative: right).
    pub fn rotate(&self, ct: &Ciphertext, k: i64) -> Result<Ciphertext, EvalError> {
        let g = self.params.ring_q().galois_element_for_rotation(k);
        self.automorphism(ct, g, k)
    }

    /// Complex conjugation of every slot.
    pub fn conjugate(&self, ct: &Ciphertext) -> Result<Ciphertext, EvalError> {
        self.automorphism(ct, self.params.ring_q().galois_element_conjugate(), 0)
    }

    fn automorphism(
        &self,
        ct: &Ciphertext,
        g: u64,
        rotation: i64,
    ) -> Result<Ciphertext, EvalError> {
        self.own(ct)?;
        if ct.degree() != 1 {
            return Err(EvalError::DegreeTooHigh(ct.degree()));
        }
        if g == 1 {
            return Ok(ct.clone());
        }
        let key = self.galois_key(g, rotation)?;
        // Decompose c1 as it is and let the inner product read the digits through φ_g:
        // the same as decomposing φ_g(c1) (a digit permutes like c1 does), without writing
        // the permuted copy.
        let dec = decompose(&self.params, &ct.parts()[1]);
        Ok(self.switch_hoisted(ct, &dec, g, key))
    }

    /// φ_g(ct) from a decomposition of its c1 (`dec`) and the Galois key of g: the inner
    /// product through φ_g, ModDown, and φ_g(c0) + d0.
    fn switch_hoisted(
        &self,
        ct: &Ciphertext,
        dec: &Decomposed,
        g: u64,
        key: &SwitchingKey,
    ) -> Ciphertext {
        let rq = self.params.ring_q();
        let [(u0q, u0p), (u1q, u1p)] = inner_product(&self.params, dec, key, Some(g));
        let (d0, d1) = rayon::join(
            || mod_down(&self.params, u0q, u0p),
            || mod_down(&self.params, u1q, u1p),
        );
        let mut c0 = rq.automorphism_ntt(&ct.parts()[0], g);
        rq.add_assign(&mut c0, &d0);
        Ciphertext::new(vec![c0, d1], ct.scale(), self.params.fingerprint())
    }

    /// Σ_i rotate(ct_i, k_i) with one ModDown in all (lazy key switching, as in the
    /// baby-step/giant-step sums of Bossuat et al. 2021): each rotated term's inner product
    /// with its Galois key is accumulated over Q_ℓ ∪ P and the sum is divided by P once, not
    /// once per term. Terms with k ≡ 0 are added as they are; terms at different levels meet at
    /// the lowest, like `add`. Equals the sum of `rotate`s up to key-switching noise (one
    /// rounding instead of one per term).
    ///
    /// Errors: `InvalidCount` for no terms; as `rotate` (missing key, degree) and `add`
    /// (scales).
    pub fn rotate_sum(&self, terms: &[(&Ciphertext, i64)]) -> Result<Ciphertext, EvalError> {
        let level =
            terms
                .iter()
                .map(|(ct, _)| ct.level())
                .min()
                .ok_or(EvalError::InvalidCount {
                    n: 0,
                    max: self.params.slots(),
                })?;
        let scale = terms[0].0.scale();
        for (ct, _) in terms {
            self.own(ct)?;
            if ct.degree() != 1 {
                return Err(EvalError::DegreeTooHigh(ct.degree()));
            }
            Self::check_scales(scale, ct.scale())?;
        }
        check_scale(&self.params, scale, level)?;
        let rq = self.params.ring_q();
        // Terms are folded into one accumulator per rayon split as they are made (memory
        // bounded by the splits, not the term count), and the accumulators are then added.
        let total = terms
            .par_iter()
            .try_fold(RotationSum::default, |mut acc, &(ct, k)| {
                let [c0, c1] = [&ct.parts()[0], &ct.parts()[1]];
                let g = rq.galois_element_for_rotation(k);
                if g == 1 {
                    acc.add_unrotated(rq, c0.truncated(level + 1), c1.truncated(level + 1));
                    return Ok(acc);
                }
                let key = self.galois_key(g, k)?;
                // φ_g of the first level + 1 limbs only (the output's length bounds the copy).
                let rotated = |p: &Poly<Ntt>| {
                    let mut out = Poly::zero(p.n(), level + 1);
                    rq.automorphism_ntt_into(p, g, &mut out);
                    out
                };
                let dec = decompose(&self.params, &rotated(c1));
                acc.add_switched(&self.params, rotated(c0), &dec, key);
                Ok(acc)
            })
            .try_reduce(RotationSum::default, |mut a, b| {
                a.merge(&self.params, b);
                Ok::<_, EvalError>(a)
            })?;
        self.finish_rotation_sum(total, scale, "rotate_sum")
    }

    /// Divides a sum's lazy key-switched part by P (one ModDown per polynomial) and adds it
    /// to the sum's c0 and c1.
    fn finish_rotation_sum(
        &self,
        sum: RotationSum,
        scale: f64,
        what: &'static str,
    ) -> Result<Ciphertext, EvalError> {
        let rq = self.params.ring_q();
        let RotationSum {
            mut c0,
            mut c1,
            lazy,
        } = sum;
        if let Some([(u0q, u0p), (u1q, u1p)]) = lazy {
            let (d0, d1) = rayon::join(
                || mod_down(&self.params, u0q, u0p),
                || mod_down(&self.params, u1q, u1p),
            );
            accumulate(rq, &mut c0, d0);
            accumulate(rq, &mut c1, d1);
        }
        // Both are set: there is at least one term, and each term adds to both.
        let (Some(c0), Some(c1)) = (c0, c1) else {
            return Err(EvalError::InvalidCount { n: 0, max: 0 });
        };
        Self::not_transparent(
            Ciphertext::new(vec![c0, c1], scale, self.params.fingerprint()),
            what,
        )
    }

    /// Σ_k rotate(ct, k) over `ks` with one decomposition and one ModDown in all (hoisted and
    /// lazy, as Lattigo's hoisted linear transforms): every rotation's inner product with its
    /// Galois key reads the same decomposed c1 through the automorphism and is accumulated
    /// over Q_ℓ ∪ P. k ≡ 0 adds `ct` itself. Equals the sum of `rotate`s up to key-switching
    /// noise; costs about one key switch instead of one per rotation.
    ///
    /// Errors: `InvalidCount` for no rotations; `DegreeTooHigh`; `MissingGaloisKey`.
    pub fn rotate_sum_hoisted(&self, ct: &Ciphertext, ks: &[i64]) -> Result<Ciphertext, EvalError> {
        self.own(ct)?;
        if ct.degree() != 1 {
            return Err(EvalError::DegreeTooHigh(ct.degree()));
        }
        if ks.is_empty() {
            return Err(EvalError::InvalidCount {
                n: 0,
                max: self.params.slots(),
            });
        }
        let rq = self.params.ring_q();
        let galois: Vec<u64> = ks
            .iter()
            .map(|&k| rq.galois_element_for_rotation(k))
            .collect();
        let keys = galois
            .iter()
            .zip(ks)
            .filter(|(g, _)| **g != 1)
            .map(|(&g, &k)| Ok((g, self.galois_key(g, k)?)))
            .collect::<Result<Vec<_>, EvalError>>()?;
        let [c0, c1] = [&ct.parts()[0], &ct.parts()[1]];
        let mut sum = RotationSum::default();
        for _ in galois.iter().filter(|&&g| g == 1) {
            sum.add_unrotated(rq, c0.clone(), c1.clone());
        }
        if !keys.is_empty() {
            let dec = decompose(&self.params, c1);
            for (g, key) in keys {
                accumulate(rq, &mut sum.c0, rq.automorphism_ntt(c0, g));
                match sum.lazy.as_mut() {
                    Some(pair) => inner_product_accumulate(&self.params, &dec, key, Some(g), pair),
                    None => sum.lazy = Some(inner_product(&self.params, &dec, key, Some(g))),
                }
            }
        }
        self.finish_rotation_sum(sum, ct.scale(), "rotate_sum_hoisted")
    }

    /// Decomposes c1 once (the expensive ModUp) for any number of rotations.
    pub fn decompose(&self, ct: &Ciphertext) -> Result<Decomposed, EvalError> {
        self.own(ct)?;
        if ct.degree() != 1 {
            return Err(EvalError::DegreeTooHigh(ct.degree()));
        }
        Ok(decompose(&self.params, &ct.parts()[1]))
    }

    /// Rotation by `k` reusing a decomposition from `decompose` (hoisting).
    ///
    /// Errors: `DegreeTooHigh` (c2 would be dropped), `DecompositionMismatch` (`dec` was made
    /// from a ciphertext at another level or of another parameter set), as `rotate`.
    pub fn rotate_hoisted(
        &self,
        ct: &Ciphertext,
        dec: &Decomposed,
        k: i64,
    ) -> Result<Ciphertext, EvalError> {
        self.own(ct)?;
        if ct.degree() != 1 {
            return Err(EvalError::DegreeTooHigh(ct.degree()));
        }
        self.same_params(dec.params_id)?;
        if dec.level != ct.level() {
            return Err(EvalError::DecompositionMismatch {
                decomposed: dec.level,
                ciphertext: ct.level(),
            });
        }
        let rq = self.params.ring_q();
        let g = rq.galois_element_for_rotation(k);
        if g == 1 {
            return Ok(ct.clone());
        }
        let key = self.galois_key(g, k)?;
        Ok(self.switch_hoisted(ct, dec, g, key))
    }

    /// Many rotations of one ciphertext sharing one decomposition.
    pub fn rotate_many(&self, ct: &Ciphertext, ks: &[i64]) -> Result<Vec<Ciphertext>, EvalError> {
        let dec = self.decompose(ct)?;
        ks.par_iter()
            .map(|&k| self.rotate_hoisted(ct, &dec, k))
            .collect()
    }

    /// Σ_{i<n} rotate(ct, i·step): every slot ends up holding the sum of its n step-strided
    /// neighbours, for any n in 1..=slots, in ⌊log2 n⌋ doublings plus one rotation per further
    /// set bit of n. Needs the Galois keys of `rotate_and_sum_rotations(n, step)` (for a
    /// power of two n: step·2^j only).
    ///
    /// Errors: `InvalidCount` for n = 0 or n > slots; as `rotate` and `add`.
    pub fn rotate_and_sum(
        &self,
        ct: &Ciphertext,
        n: usize,
        step: i64,
    ) -> Result<Ciphertext, EvalError> {
        let slots = self.params.slots();
        if n == 0 || n > slots {
            return Err(EvalError::InvalidCount { n, max: slots });
        }
        self.own(ct)?;
        let mut acc = ct.clone();
        for (len, plus_one) in sum_plan(n) {
            let rotated = self.rotate(&acc, len * step)?;
            acc = self.add(&acc, &rotated)?;
            if plus_one {
                let shifted = self.rotate(&acc, step)?;
                acc = self.add(ct, &shifted)?;
            }
        }
        Ok(acc)
    }
}

/// A partial `Evaluator::rotate_sum`: Σ c0 parts, Σ unrotated c1 parts, and Σ key-switched
/// pairs still over Q ∪ P (divided by P once, at the end).
#[derive(Default)]
struct RotationSum {
    c0: Option<Poly<Ntt>>,
    c1: Option<Poly<Ntt>>,
    lazy: Option<[(Poly<Ntt>, Poly<Ntt>); 2]>,
}

impl RotationSum {
    fn add_unrotated(&mut self, rq: &crate::ckks::ring::RnsRing, c0: Poly<Ntt>, c1: Poly<Ntt>) {
        accumulate(rq, &mut self.c0, c0);
        accumulate(rq, &mut self.c1, c1);
    }

    /// Adds c0 and the inner product of `dec` with `key`, into the lazy pair in place.
    fn add_switched(
        &mut self,
        params: &Parameters,
        c0: Poly<Ntt>,
        dec: &Decomposed,
        key: &SwitchingKey,
    ) {
        accumulate(params.ring_q(), &mut self.c0, c0);
        match self.lazy.as_mut() {
            Some(pair) => inner_product_accumulate(params, dec, key, None, pair),
            None => self.lazy = Some(inner_product(params, dec, key, None)),
        }
    }

    fn add_pair(&mut self, params: &Parameters, pair: [(Poly<Ntt>, Poly<Ntt>); 2]) {
        match self.lazy.as_mut() {
            Some([(a0q, a0p), (a1q, a1p)]) => {
                let [(u0q, u0p), (u1q, u1p)] = pair;
                let (rq, rp) = (params.ring_q(), params.ring_p());
                rq.add_assign(a0q, &u0q);
                rp.add_assign(a0p, &u0p);
                rq.add_assign(a1q, &u1q);
                rp.add_assign(a1p, &u1p);
            }
            None => self.lazy = Some(pair),
        }
    }

    fn merge(&mut self, params: &Parameters, other: Self) {
        let rq = params.ring_q();
        if let Some(c0) = other.c0 {
            accumulate(rq, &mut self.c0, c0);
        }
        if let Some(c1) = other.c1 {
            accumulate(rq, &mut self.c1, c1);
        }
        if let Some(pair) = other.lazy {
            self.add_pair(params, pair);
        }
    }
}

/// acc ← acc + p, or p itself for the first term.
fn accumulate(rq: &crate::ckks::ring::RnsRing, acc: &mut Option<Poly<Ntt>>, p: Poly<Ntt>) {
    match acc {
        Some(a) => rq.add_assign(a, &p),
        None => *acc = Some(p),
    }
}

/// The rotations `Evaluator::rotate_and_sum(_, n, step)` performs (for key generation).
pub fn rotate_and_sum_rotations(n: usize, step: i64) -> Vec<i64> {
    let mut out: Vec<i64> = Vec::new();
    for (len, plus_one) in sum_plan(n) {
        out.push(len * step);
        if plus_one {
            out.push(step);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Reads n's bits from the top: S_1 = x; doubling S_2m = S_m + rot(S_m, m) and, for a set
/// bit, S_2m+1 = x + rot(S_2m, 1). Each entry is (m, whether the bit adds one).
fn sum_plan(n: usize) -> Vec<(i64, bool)> {
    if n == 0 {
        return Vec::new();
    }
    let top = usize::BITS - 1 - n.leading_zeros();
    let mut len: i64 = 1;
    (0..top)
        .rev()
        .map(|bit| {
            let m = len;
            len *= 2;
            let plus_one = (n >> bit) & 1 == 1;
            if plus_one {
                len += 1;
            }
            (m, plus_one)
        })
        .collect()
}
