//! Fast approximate basis extension (Bajard et al.), the heart of hybrid key switching:
//! residues modulo a source basis S are lifted to residues modulo a target basis T.
//!
//! The result equals x + u·Q_S for some small integer 0 ≤ u < |S|; key switching and ModDown
//! absorb that overflow into their noise, which is why the cheap variant is enough.

use crate::ckks::math::Modulus;

/// Precomputed constants for lifting from `source` moduli to `target` moduli.
pub struct BasisExtender {
    source: Vec<Modulus>,
    target: Vec<Modulus>,
    /// ((Q_S/s_j)^{-1} mod s_j, its Shoup constant)
    qhat_inv: Vec<(u64, u64)>,
    /// For each target t: (Q_S/s_j mod t, its Shoup constant) for every j.
    qhat_mod_target: Vec<Vec<(u64, u64)>>,
}

impl BasisExtender {
    /// `source` and `target` must be disjoint sets of primes.
    pub fn new(source: &[Modulus], target: &[Modulus]) -> Self {
        let qhat_inv = source
            .iter()
            .enumerate()
            .map(|(j, sj)| {
                let qhat = source.iter().enumerate().filter(|&(k, _)| k != j).fold(1u64, |acc, (_, sk)| sj.mul(acc, sj.reduce(sk.value())));
                let inv = sj.inv(qhat).unwrap_or(0);
                (inv, sj.shoup(inv))
            })
            .collect();
        let qhat_mod_target = target
            .iter()
            .map(|t| {
                (0..source.len())
                    .map(|j| {
                        let v = source.iter().enumerate().filter(|&(k, _)| k != j).fold(1u64, |acc, (_, sk)| t.mul(acc, t.reduce(sk.value())));
                        (v, t.shoup(v))
                    })
                    .collect()
            })
            .collect();
        Self { source: source.to_vec(), target: target.to_vec(), qhat_inv, qhat_mod_target }
    }

    pub fn target(&self) -> &[Modulus] {
        &self.target
    }

    /// Lifts coefficient-form `src` limbs (one per source modulus) into `dst` limbs (one per
    /// target modulus). `scratch` must hold `src.len()·n` words.
    pub fn extend(&self, src: &[&[u64]], dst: &mut [&mut [u64]], scratch: &mut [u64]) {
        let n = src.first().map_or(0, |s| s.len());
        let k = self.source.len();
        // y_j = x_j · (Q_S/s_j)^{-1} mod s_j, stored coefficient-major for locality.
        for (j, (limb, (m, &(w, ws)))) in src.iter().zip(self.source.iter().zip(&self.qhat_inv)).enumerate() {
            for (i, &x) in limb.iter().enumerate() {
                scratch[i * k + j] = m.mul_shoup(x, w, ws);
            }
        }
        for (out, (t, consts)) in dst.iter_mut().zip(self.target.iter().zip(&self.qhat_mod_target)) {
            let tv = t.value();
            for (i, o) in out.iter_mut().enumerate().take(n) {
                let ys = &scratch[i * k..(i + 1) * k];
                let mut acc = 0u64;
                for (&y, &(c, cs)) in ys.iter().zip(consts) {
                    let term = t.mul_shoup_lazy(y, c, cs);
                    let term = if term >= tv { term - tv } else { term };
                    acc = t.add(acc, term);
                }
                *o = acc;
            }
        }
    }
}

/// Convenience for one-off lifts (tests, cold paths).
pub fn extend_basis_lazy(source: &[Modulus], target: &[Modulus], src: &[&[u64]]) -> Vec<Vec<u64>> {
    let n = src.first().map_or(0, |s| s.len());
    let ext = BasisExtender::new(source, target);
    let mut out = vec![vec![0u64; n]; target.len()];
    let mut scratch = vec![0u64; n * source.len()];
    let mut refs: Vec<&mut [u64]> = out.iter_mut().map(|v| v.as_mut_slice()).collect();
    ext.extend(src, &mut refs, &mut scratch);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ckks::math::generate_ntt_primes;

    #[test]
    fn extension_is_exact_up_to_a_small_multiple_of_the_source_modulus() {
        let src_primes = generate_ntt_primes(40, 10, 2, &[]).unwrap();
        let dst_primes = generate_ntt_primes(45, 10, 3, &[]).unwrap();
        let source: Vec<Modulus> = src_primes.iter().map(|&p| Modulus::new(p)).collect();
        let target: Vec<Modulus> = dst_primes.iter().map(|&p| Modulus::new(p)).collect();
        let q_s = src_primes[0] as u128 * src_primes[1] as u128;
        let values: Vec<u128> = vec![0, 1, 12345678901234567, q_s - 1, q_s / 2, q_s / 3 + 7];
        let limbs: Vec<Vec<u64>> = src_primes.iter().map(|&p| values.iter().map(|&x| (x % p as u128) as u64).collect()).collect();
        let refs: Vec<&[u64]> = limbs.iter().map(|v| v.as_slice()).collect();
        let out = extend_basis_lazy(&source, &target, &refs);
        for (t_idx, &t) in dst_primes.iter().enumerate() {
            for (i, &x) in values.iter().enumerate() {
                let got = out[t_idx][i];
                // got ≡ x + u·Q_S (mod t) for u ∈ {0, 1} (|S| = 2).
                let ok = (0..2u128).any(|u| ((x + u * q_s) % t as u128) as u64 == got);
                assert!(ok, "value {x} mod {t}: got {got}");
            }
        }
    }
}
