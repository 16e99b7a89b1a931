//! Canonical-embedding encoder: N/2 complex slots ↔ a real polynomial, via the "special FFT"
//! of Cheon–Kim–Kim–Song (slot j is the evaluation at ζ^{5^j}, so X ↦ X^{5^k} rotates slots
//! left by k).

use super::bounds::{check_scale, max_coeff};
use super::error::EvalError;
use crate::ckks::params::Parameters;
use crate::ckks::ring::{Ntt, Poly};
use crate::ckks::rlwe::Plaintext;
use num_complex::Complex64;

pub struct Encoder {
    params: Parameters,
    /// Twiddles of the forward special FFT, stage by stage (len = 2, 4, …, N/2): for stage
    /// `len`, entry j < len/2 is ζ^{5^j mod 4·len} scaled to the 2N-th roots.
    fwd: Vec<Complex64>,
    /// The conjugate twiddles of the inverse transform, in the same layout.
    inv: Vec<Complex64>,
    /// inv_q[j][k] = q_k^{-1} mod q_j (k < j), for the mixed-radix (Garner) CRT lift.
    inv_q: Vec<Vec<u64>>,
    /// q_0 mod q_j, for checking a two-prime lift against the other residues.
    q0_mod: Vec<u64>,
}

impl Encoder {
    pub fn new(params: &Parameters) -> Self {
        let (m, slots) = (2 * params.n(), params.slots());
        let mut rot_group = Vec::with_capacity(slots);
        let mut g = 1usize;
        for _ in 0..slots {
            rot_group.push(g);
            g = g * 5 % m;
        }
        let root =
            |k: usize| Complex64::from_polar(1.0, std::f64::consts::TAU * k as f64 / m as f64);
        let (mut fwd, mut inv) = (Vec::with_capacity(slots), Vec::with_capacity(slots));
        let mut len = 2;
        while len <= slots {
            let lenq = 4 * len;
            for &r in &rot_group[..len / 2] {
                fwd.push(root((r % lenq) * m / lenq));
                inv.push(root((lenq - r % lenq) * m / lenq));
            }
            len *= 2;
        }
        let rq = params.ring_q();
        let inv_q = (0..rq.len())
            .map(|j| {
                let mj = rq.modulus(j);
                (0..j)
                    .map(|k| mj.inv(mj.reduce(rq.modulus(k).value())).unwrap_or(0))
                    .collect()
            })
            .collect();
        let q0_mod = (0..rq.len())
            .map(|j| rq.modulus(j).reduce(rq.modulus(0).value()))
            .collect();
        Self {
            params: params.clone(),
            fwd,
            inv,
            inv_q,
            q0_mod,
        }
    }

    pub fn slots(&self) -> usize {
        self.params.slots()
    }

    /// Encodes real values (padded with zeros to N/2 slots) at `level` and `scale`.
    ///
    /// Errors: `TooManyValues`, `LevelTooHigh`, `NonFinite`, `InvalidScale` /
    /// `ScaleOutOfBounds` (the scale must be ≥ 1 and below Q_level), `ValueTooLarge` (a
    /// coefficient of scale·values reaches Q_level/2 and would wrap).
    pub fn encode(&self, values: &[f64], level: usize, scale: f64) -> Result<Plaintext, EvalError> {
        let complex: Vec<Complex64> = values.iter().map(|&v| Complex64::new(v, 0.0)).collect();
        self.encode_complex(&complex, level, scale)
    }

    /// As `encode`, for complex slot values.
    pub fn encode_complex(
        &self,
        values: &[Complex64],
        level: usize,
        scale: f64,
    ) -> Result<Plaintext, EvalError> {
        let bound = max_coeff(&self.params, level);
        Ok(Plaintext::new(
            self.encode_ntt(values, level, scale, bound)?,
            scale,
            self.params.fingerprint(),
        ))
    }

    /// Two real vectors `a` and `b` (each padded to N/2 slots) encoded at `level` and `scale`
    /// for the price of one: a single transform of Π = a + i·b at scale/2, then, with σ̄ the
    /// conjugation automorphism (a permutation of NTT slots) and X^{N/2} equal to i in every
    /// slot, `Enc(a) = Π + σ̄Π` and `Enc(b) = (σ̄Π − Π)·X^{N/2}`. Each coefficient is the sum
    /// of two roundings instead of one, so the encoding error is at most twice that of
    /// `encode` (relative to the scale). Used where a slot's real and imaginary parts are
    /// scaled apart (`α⊙z + β⊙z̄`).
    ///
    /// Errors: as `encode`, for either vector; `TooManyValues` also when the lengths differ;
    /// `InvalidScale` below 2 (Π is encoded at half the scale).
    pub fn encode_real_pair(
        &self,
        a: &[f64],
        b: &[f64],
        level: usize,
        scale: f64,
    ) -> Result<(Plaintext, Plaintext), EvalError> {
        if a.len() != b.len() {
            return Err(EvalError::TooManyValues {
                given: a.len().max(b.len()),
                slots: a.len().min(b.len()),
            });
        }
        check_scale(&self.params, scale, level)?;
        // Π is encoded at scale/2, which must itself be a valid scale.
        if scale < 2.0 {
            return Err(EvalError::InvalidScale(scale));
        }
        let values: Vec<Complex64> = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| Complex64::new(x, y))
            .collect();
        // Each output coefficient adds two coefficients of Π, so Π gets half the bound.
        let bound = max_coeff(&self.params, level) / 2.0;
        let pi = self.encode_ntt(&values, level, scale / 2.0, bound)?;
        let rq = self.params.ring_q();
        let conj = rq.automorphism_ntt(&pi, rq.galois_element_conjugate());
        let mut sum = pi.clone();
        rq.add_assign(&mut sum, &conj);
        let mut diff = conj;
        rq.sub_assign(&mut diff, &pi);
        rq.mul_half_power_assign(&mut diff);
        let id = self.params.fingerprint();
        Ok((
            Plaintext::new(sum, scale, id),
            Plaintext::new(diff, scale, id),
        ))
    }

    /// Slots → NTT-form polynomial at `level`: the shared body of the encoders, refusing any
    /// coefficient of `scale·values` at or above `bound`.
    fn encode_ntt(
        &self,
        values: &[Complex64],
        level: usize,
        scale: f64,
        bound: f64,
    ) -> Result<Poly<Ntt>, EvalError> {
        let slots = self.slots();
        if values.len() > slots {
            return Err(EvalError::TooManyValues {
                given: values.len(),
                slots,
            });
        }
        if level > self.params.max_level() {
            return Err(EvalError::LevelTooHigh {
                level,
                max: self.params.max_level(),
            });
        }
        if values
            .iter()
            .any(|v| !v.re.is_finite() || !v.im.is_finite())
        {
            return Err(EvalError::NonFinite);
        }
        check_scale(&self.params, scale, level)?;
        let mut u = values.to_vec();
        u.resize(slots, Complex64::new(0.0, 0.0));
        self.special_ifft(&mut u);
        let mut coeffs = vec![0i64; self.params.n()];
        for (i, v) in u.iter().enumerate() {
            for (slot, x) in [(i, v.re), (i + slots, v.im)] {
                let c = (x * scale).round();
                if c.abs() >= bound {
                    return Err(EvalError::ValueTooLarge(c));
                }
                coeffs[slot] = c as i64;
            }
        }
        let rq = self.params.ring_q();
        Ok(rq.ntt(rq.from_signed(&coeffs, level + 1)))
    }

    /// Decodes to real parts (the imaginary parts carry only noise for real inputs).
    /// Errors as `decode_complex`.
    pub fn decode(&self, pt: &Plaintext) -> Result<Vec<f64>, EvalError> {
        Ok(self.decode_complex(pt)?.into_iter().map(|c| c.re).collect())
    }

    /// Decodes every slot, lifting each coefficient through all primes of the plaintext's
    /// level (mixed-radix CRT with balanced digits, exact for |x| < Q_level/2).
    ///
    /// Errors: `ParameterMismatch` (another parameter set), `ValueTooLarge` (a coefficient
    /// beyond the range of f64).
    pub fn decode_complex(&self, pt: &Plaintext) -> Result<Vec<Complex64>, EvalError> {
        if pt.params_id() != self.params.fingerprint() || pt.level() > self.params.max_level() {
            return Err(EvalError::ParameterMismatch);
        }
        let rq = self.params.ring_q();
        let limbs = pt.level() + 1;
        let poly = rq.intt(pt.poly().clone());
        let n = self.params.n();
        let mut digits = vec![0i64; limbs];
        let (m0, q0) = (rq.modulus(0), rq.modulus(0).value());
        let mut coeff = |i: usize| -> f64 {
            let d0 = m0.center(poly.limb(0)[i]);
            if limbs == 1 {
                return d0 as f64;
            }
            // Fast path: the two-prime value X2 = d0 + q0·d1 (|X2| < q0·q1/2). It is the
            // coefficient iff it agrees with every other residue (CRT uniqueness below Q/2),
            // which costs one product per prime instead of Garner's j per prime.
            let m1 = rq.modulus(1);
            let d1 =
                m1.center(m1.mul(m1.sub(poly.limb(1)[i], m1.reduce_i64(d0)), self.inv_q[1][0]));
            let agrees = (2..limbs).all(|j| {
                let mj = rq.modulus(j);
                let x2 = mj.add(mj.reduce_i64(d0), mj.mul(self.q0_mod[j], mj.reduce_i64(d1)));
                x2 == poly.limb(j)[i]
            });
            if agrees {
                return d0 as f64 + q0 as f64 * d1 as f64;
            }
            // Garner: digit j = (x − Σ_{k<j} d_k·W_k)/W_j mod q_j, centred.
            for j in 0..limbs {
                let mj = rq.modulus(j);
                let mut x = poly.limb(j)[i];
                for (k, &d) in digits[..j].iter().enumerate() {
                    x = mj.mul(mj.sub(x, mj.reduce_i64(d)), self.inv_q[j][k]);
                }
                digits[j] = mj.center(x);
            }
            // Horner from the top digit: Σ d_j·q_0⋯q_{j−1}.
            let mut acc = 0.0f64;
            for j in (0..limbs).rev() {
                acc = acc * rq.modulus(j).value() as f64 + digits[j] as f64;
            }
            acc
        };
        let slots = n / 2;
        let scale = pt.scale();
        let mut u = Vec::with_capacity(slots);
        for i in 0..slots {
            let (re, im) = (coeff(i), coeff(i + slots));
            if !re.is_finite() || !im.is_finite() {
                return Err(EvalError::ValueTooLarge(f64::INFINITY));
            }
            u.push(Complex64::new(re / scale, im / scale));
        }
        self.special_fft(&mut u);
        Ok(u)
    }

    /// Coefficients → slots.
    fn special_fft(&self, vals: &mut [Complex64]) {
        let size = vals.len();
        bit_reverse(vals);
        let (mut len, mut base) = (2, 0);
        while len <= size {
            let lenh = len / 2;
            let tw = &self.fwd[base..base + lenh];
            for chunk in vals.chunks_exact_mut(len) {
                let (lo, hi) = chunk.split_at_mut(lenh);
                for ((a, b), &w) in lo.iter_mut().zip(hi.iter_mut()).zip(tw) {
                    let (u, v) = (*a, *b * w);
                    *a = u + v;
                    *b = u - v;
                }
            }
            base += lenh;
            len *= 2;
        }
    }

    /// Slots → coefficients (inverse of `special_fft`).
    fn special_ifft(&self, vals: &mut [Complex64]) {
        let size = vals.len();
        let mut len = size;
        // Stage offsets in the twiddle tables: stage len starts at len/2 − 1.
        while len >= 2 {
            let lenh = len / 2;
            let tw = &self.inv[lenh - 1..lenh - 1 + lenh];
            for chunk in vals.chunks_exact_mut(len) {
                let (lo, hi) = chunk.split_at_mut(lenh);
                for ((a, b), &w) in lo.iter_mut().zip(hi.iter_mut()).zip(tw) {
                    let (u, v) = (*a + *b, (*a - *b) * w);
                    *a = u;
                    *b = v;
                }
            }
            len /= 2;
        }
        bit_reverse(vals);
        let inv = 1.0 / size as f64;
        for v in vals.iter_mut() {
            *v *= inv;
        }
    }
}

fn bit_reverse<T>(vals: &mut [T]) {
    let n = vals.len();
    let bits = n.trailing_zeros();
    if bits == 0 {
        return;
    }
    for i in 0..n {
        let j = i.reverse_bits() >> (usize::BITS - bits);
        if i < j {
            vals.swap(i, j);
        }
    }
}
