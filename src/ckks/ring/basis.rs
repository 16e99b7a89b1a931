//! Fast approximate basis extension (Bajard et al.), the heart of hybrid key switching:
//! residues modulo a source basis S are lifted to residues modulo a target basis T.
//!
//! The lift is the *centred* representative of x in (−Q_S/2, Q_S/2]: a floating-point estimate
//! of the overflow count u (as in Halevi–Polyakov–Shoup) removes the u·Q_S term. Uncentred
//! digits in [0, Q_S) bias key-switching noise towards low frequencies, which the canonical
//! embedding turns into large errors in a few slots, so the centring is not optional.

use super::basis_avx512;
use crate::ckks::math::Modulus;

/// Precomputed constants for lifting from `source` moduli to `target` moduli.
pub struct BasisExtender {
    source: Vec<Modulus>,
    target: Vec<Modulus>,
    /// ((Q_S/s_j)^{-1} mod s_j, its Shoup constant)
    qhat_inv: Vec<(u64, u64)>,
    /// For each target t: (Q_S/s_j mod t, its Shoup constant) for every j.
    qhat_mod_target: Vec<Vec<(u64, u64)>>,
    /// (Q_S mod t, its Shoup constant) for every target t.
    q_mod_target: Vec<(u64, u64)>,
    /// 1 / s_j as f64, for the overflow estimate.
    inv_source: Vec<f64>,
    /// Whether the AVX-512 IFMA kernel applies (CPU support and every modulus < 2^50).
    use_ifma: bool,
}

impl BasisExtender {
    /// `source` and `target` must be disjoint sets of primes.
    pub fn new(source: &[Modulus], target: &[Modulus]) -> Self {
        let qhat_inv = source
            .iter()
            .enumerate()
            .map(|(j, sj)| {
                let qhat = source
                    .iter()
                    .enumerate()
                    .filter(|&(k, _)| k != j)
                    .fold(1u64, |acc, (_, sk)| sj.mul(acc, sj.reduce(sk.value())));
                let inv = sj.inv(qhat).unwrap_or(0);
                (inv, sj.shoup(inv))
            })
            .collect();
        let qhat_mod_target = target
            .iter()
            .map(|t| {
                (0..source.len())
                    .map(|j| {
                        let v = source
                            .iter()
                            .enumerate()
                            .filter(|&(k, _)| k != j)
                            .fold(1u64, |acc, (_, sk)| t.mul(acc, t.reduce(sk.value())));
                        (v, t.shoup(v))
                    })
                    .collect()
            })
            .collect();
        let q_mod_target = target
            .iter()
            .map(|t| {
                let v = source
                    .iter()
                    .fold(1u64, |acc, sk| t.mul(acc, t.reduce(sk.value())));
                (v, t.shoup(v))
            })
            .collect();
        let inv_source = source.iter().map(|s| 1.0 / s.value() as f64).collect();
        let small = source
            .iter()
            .chain(target)
            .all(|m| m.value() < basis_avx512::MAX_MODULUS);
        Self {
            source: source.to_vec(),
            target: target.to_vec(),
            qhat_inv,
            qhat_mod_target,
            q_mod_target,
            inv_source,
            use_ifma: small && basis_avx512::available(),
        }
    }

    pub fn target(&self) -> &[Modulus] {
        &self.target
    }

    /// Lifts coefficient-form `src` limbs (one per source modulus) into `dst` limbs (one per
    /// target modulus). `scratch` must hold `(src.len() + 1)·n` words.
    pub fn extend(&self, src: &[&[u64]], dst: &mut [&mut [u64]], scratch: &mut [u64]) {
        let n = src.first().map_or(0, |s| s.len());
        if self.use_ifma && n.is_multiple_of(8) {
            // SAFETY: `use_ifma` is only set after runtime detection of the CPU features.
            unsafe { basis_avx512::extend(self, src, dst, scratch) };
            return;
        }
        let k = self.source.len();
        let (ys, overflow) = scratch.split_at_mut(n * k);
        // y_j = x_j · (Q_S/s_j)^{-1} mod s_j, stored limb-major.
        for (j, (limb, (m, &(w, ws)))) in src
            .iter()
            .zip(self.source.iter().zip(&self.qhat_inv))
            .enumerate()
        {
            for (y, &x) in ys[j * n..(j + 1) * n].iter_mut().zip(limb.iter()) {
                *y = m.mul_shoup(x, w, ws);
            }
        }
        // Σ y_j·(Q_S/s_j) = x + u·Q_S with u = ⌊Σ y_j/s_j⌋; rounding instead of flooring also
        // moves x into the centred range. (Truncation is floor here: the sum is non-negative; the
        // signed conversions are single instructions, unsigned ones are not on baseline x86-64.)
        overflow[..n].fill(0);
        let mut frac = vec![0.5f64; n];
        for (j, inv) in self.inv_source.iter().enumerate() {
            for (f, &y) in frac.iter_mut().zip(&ys[j * n..(j + 1) * n]) {
                *f += y as i64 as f64 * inv;
            }
        }
        for (u, f) in overflow.iter_mut().zip(&frac) {
            *u = *f as i64 as u64;
        }
        let ys = &*ys;
        for (out, ((t, consts), &qm)) in dst.iter_mut().zip(
            self.target
                .iter()
                .zip(&self.qhat_mod_target)
                .zip(&self.q_mod_target),
        ) {
            let out = &mut out[..n];
            // The lazy kernels hold up to 2(K+1)·t in a u64; wider sums take the reduced path.
            if u128::from(t.value()) * 2 * (k as u128 + 1) >= 1u128 << 64 {
                accumulate_any(t, consts, qm, ys, overflow, out);
                continue;
            }
            match k {
                1 => accumulate::<1>(t, consts, qm, ys, overflow, out),
                2 => accumulate::<2>(t, consts, qm, ys, overflow, out),
                3 => accumulate::<3>(t, consts, qm, ys, overflow, out),
                4 => accumulate::<4>(t, consts, qm, ys, overflow, out),
                _ => accumulate_any(t, consts, qm, ys, overflow, out),
            }
        }
    }

    pub(super) fn source(&self) -> &[Modulus] {
        &self.source
    }
    pub(super) fn qhat_inv(&self) -> &[(u64, u64)] {
        &self.qhat_inv
    }
    pub(super) fn qhat_mod_target(&self) -> &[Vec<(u64, u64)>] {
        &self.qhat_mod_target
    }
    pub(super) fn q_mod_target(&self) -> &[(u64, u64)] {
        &self.q_mod_target
    }
    pub(super) fn inv_source(&self) -> &[f64] {
        &self.inv_source
    }
}

/// out_i = Σ_j y_ij·c_j − u_i·Q_S mod t, with the source count K known at compile time so the
/// inner sum unrolls. Each Shoup product is lazy, in [0, 2t); the negated overflow enters as
/// 2t − x ∈ (0, 2t]; so the sum of K + 1 terms is below 2(K+1)·t, reduced by halving steps at
/// the end. The caller uses this kernel only when 2(K+1)·t < 2^64 (with primes ≤ 50 bits, as
/// in every preset, any K ≤ 4 qualifies by a wide margin; a 61-bit prime with K = 4 would not).
#[inline(always)]
fn accumulate<const K: usize>(
    t: &Modulus,
    consts: &[(u64, u64)],
    (qm, qms): (u64, u64),
    ys: &[u64],
    overflow: &[u64],
    out: &mut [u64],
) {
    let tv = t.value();
    let n = out.len();
    let mut c = [(0u64, 0u64); K];
    c.copy_from_slice(&consts[..K]);
    for (i, (o, &u)) in out.iter_mut().zip(overflow).enumerate() {
        let mut acc = 2 * tv - t.mul_shoup_lazy(u, qm, qms);
        for j in 0..K {
            acc += t.mul_shoup_lazy(ys[j * n + i], c[j].0, c[j].1);
        }
        let mut step = (2 * (K as u64 + 1)).next_power_of_two() / 2;
        while step >= 1 {
            acc = Modulus::reduce_once(acc, step * tv);
            step /= 2;
        }
        *o = acc;
    }
}

fn accumulate_any(
    t: &Modulus,
    consts: &[(u64, u64)],
    (qm, qms): (u64, u64),
    ys: &[u64],
    overflow: &[u64],
    out: &mut [u64],
) {
    let n = out.len();
    for (i, (o, &u)) in out.iter_mut().zip(overflow).enumerate() {
        let mut acc = t.neg(t.mul_shoup(u, qm, qms));
        for (j, &(c, cs)) in consts.iter().enumerate() {
            acc = t.add(acc, t.mul_shoup(ys[j * n + i], c, cs));
        }
        *o = acc;
    }
}

/// Convenience for one-off lifts (tests, cold paths).
pub fn extend_basis_lazy(source: &[Modulus], target: &[Modulus], src: &[&[u64]]) -> Vec<Vec<u64>> {
    let n = src.first().map_or(0, |s| s.len());
    let ext = BasisExtender::new(source, target);
    let mut out = vec![vec![0u64; n]; target.len()];
    let mut scratch = vec![0u64; n * (source.len() + 1)];
    let mut refs: Vec<&mut [u64]> = out.iter_mut().map(|v| v.as_mut_slice()).collect();
    ext.extend(src, &mut refs, &mut scratch);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_kernel_matches_portable_path() {
        let src_primes = generate_ntt_primes(40, 12, 3, &[]).unwrap();
        let dst_primes = generate_ntt_primes(49, 12, 5, &[]).unwrap();
        let source: Vec<Modulus> = src_primes.iter().map(|&p| Modulus::new(p)).collect();
        let target: Vec<Modulus> = dst_primes.iter().map(|&p| Modulus::new(p)).collect();
        let n = 4096;
        let limbs: Vec<Vec<u64>> = src_primes
            .iter()
            .map(|&p| {
                (0..n as u64)
                    .map(|i| i.wrapping_mul(0x9E3779B97F4A7C15u64.wrapping_mul(i + 7)) % p)
                    .collect()
            })
            .collect();
        let refs: Vec<&[u64]> = limbs.iter().map(|v| v.as_slice()).collect();
        let run = |ext: &BasisExtender| {
            let mut out = vec![vec![0u64; n]; target.len()];
            let mut scratch = vec![0u64; n * 4];
            let mut dst: Vec<&mut [u64]> = out.iter_mut().map(|v| v.as_mut_slice()).collect();
            ext.extend(&refs, &mut dst, &mut scratch);
            out
        };
        let fast = BasisExtender::new(&source, &target);
        let portable = BasisExtender {
            use_ifma: false,
            ..BasisExtender::new(&source, &target)
        };
        if !fast.use_ifma {
            eprintln!("AVX-512 IFMA not available: comparing the portable path with itself");
        }
        assert_eq!(run(&fast), run(&portable));
    }
    use crate::ckks::math::generate_ntt_primes;

    #[test]
    fn extension_gives_the_centred_representative() {
        let src_primes = generate_ntt_primes(40, 10, 2, &[]).unwrap();
        let dst_primes = generate_ntt_primes(45, 10, 3, &[]).unwrap();
        let source: Vec<Modulus> = src_primes.iter().map(|&p| Modulus::new(p)).collect();
        let target: Vec<Modulus> = dst_primes.iter().map(|&p| Modulus::new(p)).collect();
        let q_s = src_primes[0] as u128 * src_primes[1] as u128;
        // Exactly Q_S/2 is ambiguous to floating point, so probe either side of it.
        let values: Vec<u128> = vec![
            0,
            1,
            12345678901234567,
            q_s - 1,
            q_s / 2 - q_s / 1000,
            q_s / 2 + q_s / 1000,
            q_s / 3 + 7,
        ];
        let limbs: Vec<Vec<u64>> = src_primes
            .iter()
            .map(|&p| values.iter().map(|&x| (x % p as u128) as u64).collect())
            .collect();
        let refs: Vec<&[u64]> = limbs.iter().map(|v| v.as_slice()).collect();
        let out = extend_basis_lazy(&source, &target, &refs);
        for (t_idx, &t) in dst_primes.iter().enumerate() {
            for (i, &x) in values.iter().enumerate() {
                let got = out[t_idx][i];
                let centred = if x > q_s / 2 {
                    (x + t as u128 - q_s % t as u128) % t as u128
                } else {
                    x % t as u128
                };
                assert_eq!(got as u128, centred, "value {x} mod {t}");
            }
        }
    }
}
