//! Limb-wise loops of rescaling and ModDown, `(x − t)·w` and `x mod q − c`, with the IFMA
//! kernels of `limb_avx512` where the CPU has them and the moduli fit (chosen at run time, the
//! same switch as the other kernels, `simd::SimdLevel`).

use super::{dot_avx512, limb_avx512};
use crate::ckks::math::Modulus;

fn fast(q: u64, len: usize) -> bool {
    q < dot_avx512::MAX_MODULUS && len.is_multiple_of(8) && dot_avx512::available()
}

/// `x[k] ← (x[k] − t[k])·w mod q` for residues `x[k], t[k] < q` and `w < q`.
///
/// Panics (a caller bug) if `t` is shorter than `x`.
pub fn sub_mul_const(m: &Modulus, x: &mut [u64], t: &[u64], w: u64) {
    assert!(t.len() >= x.len() && w < m.value());
    if fast(m.value(), x.len()) {
        // SAFETY: the CPU features were detected, q < 2^50, w < q (asserted), and the
        // inputs are residues mod q by this function's contract.
        unsafe { limb_avx512::sub_mul_const(m.value(), x, t, w) };
        return;
    }
    let ws = m.shoup(w);
    for (x, &t) in x.iter_mut().zip(t) {
        *x = m.mul_shoup(m.sub(*x, t), w, ws);
    }
}

/// `out[k] ← (src[k] mod q − c) mod q` for residues `src[k]` modulo `from` (another prime)
/// and `c < q`: one limb's share of a value lifted from one prime to another.
///
/// Panics (a caller bug) if `src` is shorter than `out`.
pub fn reduce_sub_const(from: &Modulus, m: &Modulus, src: &[u64], c: u64, out: &mut [u64]) {
    assert!(src.len() >= out.len() && c < m.value());
    if from.value() <= 1 << 52 && fast(m.value(), out.len()) {
        // SAFETY: the CPU features were detected, q < 2^50, c < q (asserted), and every
        // src[k] < from ≤ 2^52 by this function's contract.
        unsafe { limb_avx512::reduce_sub_const(m.value(), src, c, out) };
        return;
    }
    for (o, &x) in out.iter_mut().zip(src) {
        *o = m.sub(m.reduce(x), c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Against u128 arithmetic, for 50-, 44- and 32-bit primes, lengths that do and do not
    /// take the kernel (where the CPU has it; CI also runs this with `PRIVACT_PORTABLE=1`).
    #[test]
    fn kernels_match_plain_arithmetic() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let primes = [
            1125899906826241u64,
            17592186028033,
            4294828033,
            1125899906842597,
        ];
        for &q in &primes {
            let m = Modulus::new(q);
            for len in [8usize, 64, 13] {
                let x: Vec<u64> = (0..len).map(|_| rng.random_range(0..q)).collect();
                let t: Vec<u64> = (0..len).map(|_| rng.random_range(0..q)).collect();
                let w = rng.random_range(0..q);
                let mut got = x.clone();
                sub_mul_const(&m, &mut got, &t, w);
                for k in 0..len {
                    let want = ((x[k] + q - t[k]) as u128 * w as u128 % q as u128) as u64;
                    assert_eq!(got[k], want, "sub_mul_const q={q} len={len} k={k}");
                }
                // Sources up to 2^50 and up to 2^52 (the kernel's limit), and one above it
                // (the portable path).
                let from = Modulus::new([primes[0], (1 << 52) - 1, (1 << 53) + 5][len % 3]);
                let src: Vec<u64> = (0..len)
                    .map(|i| {
                        if i == 0 {
                            from.value() - 1
                        } else {
                            rng.random_range(0..from.value())
                        }
                    })
                    .collect();
                let c = rng.random_range(0..q);
                let mut out = vec![0; len];
                reduce_sub_const(&from, &m, &src, c, &mut out);
                for k in 0..len {
                    assert_eq!(out[k], (src[k] % q + q - c) % q, "reduce_sub_const q={q}");
                }
            }
        }
    }
}
