//! Canonical-embedding encoder: N/2 complex slots ↔ a real polynomial, via the "special FFT"
//! of Cheon–Kim–Kim–Song (slot j is the evaluation at ζ^{5^j}, so X ↦ X^{5^k} rotates slots
//! left by k).

use super::error::EvalError;
use crate::ckks::params::Parameters;
use crate::ckks::rlwe::Plaintext;
use num_complex::Complex64;

pub struct Encoder {
    params: Parameters,
    /// 5^j mod 2N for j < N/2.
    rot_group: Vec<u64>,
    /// exp(2πik / 2N) for k ≤ 2N.
    roots: Vec<Complex64>,
}

/// Largest |coefficient| we encode; leaves headroom below 2^63 for rounding.
const MAX_COEFF: f64 = 4.0e18;

impl Encoder {
    pub fn new(params: &Parameters) -> Self {
        let m = 2 * params.n() as u64;
        let mut rot_group = Vec::with_capacity(params.slots());
        let mut g = 1u64;
        for _ in 0..params.slots() {
            rot_group.push(g);
            g = g * 5 % m;
        }
        let roots = (0..=m)
            .map(|k| Complex64::from_polar(1.0, std::f64::consts::TAU * k as f64 / m as f64))
            .collect();
        Self {
            params: params.clone(),
            rot_group,
            roots,
        }
    }

    pub fn slots(&self) -> usize {
        self.params.slots()
    }

    /// Encodes real values (padded with zeros to N/2 slots) at `level` and `scale`.
    pub fn encode(&self, values: &[f64], level: usize, scale: f64) -> Result<Plaintext, EvalError> {
        let complex: Vec<Complex64> = values.iter().map(|&v| Complex64::new(v, 0.0)).collect();
        self.encode_complex(&complex, level, scale)
    }

    pub fn encode_complex(
        &self,
        values: &[Complex64],
        level: usize,
        scale: f64,
    ) -> Result<Plaintext, EvalError> {
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
            || !scale.is_finite()
        {
            return Err(EvalError::NonFinite);
        }
        let mut u = values.to_vec();
        u.resize(slots, Complex64::new(0.0, 0.0));
        self.special_ifft(&mut u);
        let mut coeffs = vec![0i64; self.params.n()];
        for (i, v) in u.iter().enumerate() {
            for (slot, x) in [(i, v.re), (i + slots, v.im)] {
                let c = (x * scale).round();
                if c.abs() > MAX_COEFF {
                    return Err(EvalError::ValueTooLarge(c));
                }
                coeffs[slot] = c as i64;
            }
        }
        let rq = self.params.ring_q();
        Ok(Plaintext {
            poly: rq.ntt(rq.from_signed(&coeffs, level + 1)),
            scale,
        })
    }

    /// Decodes to real parts (the imaginary parts carry only noise for real inputs).
    pub fn decode(&self, pt: &Plaintext) -> Vec<f64> {
        self.decode_complex(pt).into_iter().map(|c| c.re).collect()
    }

    /// Decoding reads the centred coefficients from at most two limbs (exact with u128 CRT):
    /// once decrypted, |Δ·m + e| is far below q_0·q_1, so the upper limbs carry nothing more.
    pub fn decode_complex(&self, pt: &Plaintext) -> Vec<Complex64> {
        let rq = self.params.ring_q();
        let limbs = (pt.level() + 1).min(2);
        let poly = rq.intt(pt.poly.truncated(limbs));
        let n = self.params.n();
        let coeff = |i: usize| -> f64 {
            let m0 = rq.modulus(0);
            let x0 = poly.limb(0)[i];
            if limbs == 1 {
                return m0.center(x0) as f64;
            }
            let m1 = rq.modulus(1);
            let (q0, q1) = (m0.value(), m1.value());
            let q0_inv = m1.inv(m1.reduce(q0)).unwrap_or(0);
            let k = m1.mul(m1.sub(poly.limb(1)[i], m1.reduce(x0)), q0_inv);
            let x = x0 as u128 + q0 as u128 * k as u128;
            let big_q = q0 as u128 * q1 as u128;
            if x > big_q / 2 {
                -((big_q - x) as f64)
            } else {
                x as f64
            }
        };
        let slots = n / 2;
        let mut u: Vec<Complex64> = (0..slots)
            .map(|i| Complex64::new(coeff(i) / pt.scale, coeff(i + slots) / pt.scale))
            .collect();
        self.special_fft(&mut u);
        u
    }

    /// Coefficients → slots.
    fn special_fft(&self, vals: &mut [Complex64]) {
        let size = vals.len();
        let m = 2 * self.params.n();
        bit_reverse(vals);
        let mut len = 2;
        while len <= size {
            let (lenh, lenq) = (len / 2, len * 4);
            for i in (0..size).step_by(len) {
                for j in 0..lenh {
                    let idx = (self.rot_group[j] as usize % lenq) * m / lenq;
                    let u = vals[i + j];
                    let v = vals[i + j + lenh] * self.roots[idx];
                    vals[i + j] = u + v;
                    vals[i + j + lenh] = u - v;
                }
            }
            len *= 2;
        }
    }

    /// Slots → coefficients (inverse of `special_fft`).
    fn special_ifft(&self, vals: &mut [Complex64]) {
        let size = vals.len();
        let m = 2 * self.params.n();
        let mut len = size;
        while len >= 2 {
            let (lenh, lenq) = (len / 2, len * 4);
            for i in (0..size).step_by(len) {
                for j in 0..lenh {
                    let idx = (lenq - self.rot_group[j] as usize % lenq) * m / lenq;
                    let u = vals[i + j] + vals[i + j + lenh];
                    let v = (vals[i + j] - vals[i + j + lenh]) * self.roots[idx];
                    vals[i + j] = u;
                    vals[i + j + lenh] = v;
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
