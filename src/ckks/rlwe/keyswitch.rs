//! Hybrid key switching (Han–Ki): decompose c into digits of α primes, lift each digit to
//! Q_ℓ ∪ P (ModUp), take the inner product with the key digits, divide by P (ModDown).
//!
//! The decomposition is the expensive half, so it is exposed on its own: hoisted rotations
//! decompose once and reuse the digits for every Galois key (a digit permutes like c does).

use super::keys::SwitchingKey;
use crate::ckks::params::Parameters;
use crate::ckks::ring::{BasisExtender, Ntt, Poly, limb};
use rayon::prelude::*;

/// c lifted to Q_ℓ ∪ P, one (Q-part, P-part) pair per digit, in NTT form.
pub struct Decomposed {
    pub level: usize,
    pub digits: Vec<(Poly<Ntt>, Poly<Ntt>)>,
    /// Fingerprint of the parameter set it was made with.
    pub(crate) params_id: u64,
}

/// ModUp of every digit of `c` (NTT form, level ℓ = limbs − 1).
pub fn decompose(params: &Parameters, c: &Poly<Ntt>) -> Decomposed {
    let (rq, rp) = (params.ring_q(), params.ring_p());
    let (n, alpha, level) = (params.n(), params.digit_size(), c.limbs() - 1);
    let c_coeff = rq.intt(c.clone());
    let digits = (0..params.digits_at(level))
        .into_par_iter()
        .map(|d| {
            let (lo, hi) = (d * alpha, ((d + 1) * alpha).min(level + 1));
            let outside = |i: &usize| *i < lo || *i >= hi;
            let mut targets: Vec<_> = (0..=level)
                .filter(outside)
                .map(|i| *rq.modulus(i))
                .collect();
            targets.extend_from_slice(rp.moduli());
            let ext = BasisExtender::new(&rq.moduli()[lo..hi], &targets);
            let mut out_q = Poly::<Ntt>::zero(n, level + 1);
            let mut out_p = Poly::<Ntt>::zero(n, alpha);
            {
                let src: Vec<&[u64]> = (lo..hi).map(|i| c_coeff.limb(i)).collect();
                let mut dst: Vec<&mut [u64]> = out_q
                    .data_mut()
                    .chunks_mut(n)
                    .enumerate()
                    .filter(|(i, _)| outside(i))
                    .map(|(_, l)| l)
                    .collect();
                dst.extend(out_p.data_mut().chunks_mut(n));
                let mut scratch = vec![0u64; n * (hi - lo + 1)];
                ext.extend(&src, &mut dst, &mut scratch);
            }
            for i in (0..=level).filter(outside) {
                rq.ntt_limb(i, out_q.limb_mut(i));
            }
            for i in lo..hi {
                out_q.limb_mut(i).copy_from_slice(c.limb(i));
            }
            for j in 0..alpha {
                rp.ntt_limb(j, out_p.limb_mut(j));
            }
            (out_q, out_p)
        })
        .collect();
    Decomposed {
        level,
        digits,
        params_id: params.fingerprint(),
    }
}

/// Σ_d digit_d ⊙ key_d over Q_ℓ ∪ P, optionally after permuting the digits by φ_g.
/// Returns ((u0_q, u0_p), (u1_q, u1_p)), still scaled by P.
pub fn inner_product(
    params: &Parameters,
    dec: &Decomposed,
    key: &SwitchingKey,
    galois: Option<u64>,
) -> [(Poly<Ntt>, Poly<Ntt>); 2] {
    let (n, limbs, alpha) = (params.n(), dec.level + 1, params.digit_size());
    let mut acc = [
        (Poly::zero(n, limbs), Poly::zero(n, alpha)),
        (Poly::zero(n, limbs), Poly::zero(n, alpha)),
    ];
    inner_product_accumulate(params, dec, key, galois, &mut acc);
    acc
}

/// `inner_product` added into `acc` (whose Q parts have the decomposition's level + 1
/// limbs): lazy sums of key-switched terms accumulate in place.
pub fn inner_product_accumulate(
    params: &Parameters,
    dec: &Decomposed,
    key: &SwitchingKey,
    galois: Option<u64>,
    acc: &mut [(Poly<Ntt>, Poly<Ntt>); 2],
) {
    let (rq, rp) = (params.ring_q(), params.ring_p());
    let digits = &key.digits[..dec.digits.len().min(key.digits.len())];
    let xq: Vec<_> = dec.digits[..digits.len()].iter().map(|(q, _)| q).collect();
    let xp: Vec<_> = dec.digits[..digits.len()].iter().map(|(_, p)| p).collect();
    let (bq, aq): (Vec<_>, Vec<_>) = digits.iter().map(|k| (&k.b_q, &k.a_q)).unzip();
    let (bp, ap): (Vec<_>, Vec<_>) = digits.iter().map(|k| (&k.b_p, &k.a_p)).unzip();
    let [(u0q, u0p), (u1q, u1p)] = acc;
    rayon::join(
        || rq.dot_pair_accumulate(&xq, [&bq, &aq], galois, [u0q, u1q]),
        || rp.dot_pair_accumulate(&xp, [&bp, &ap], galois, [u0p, u1p]),
    );
}

/// (x_q, x_p) ↦ round(x / P) over Q_ℓ, all in NTT form.
pub fn mod_down(params: &Parameters, mut x_q: Poly<Ntt>, x_p: Poly<Ntt>) -> Poly<Ntt> {
    let (rq, rp) = (params.ring_q(), params.ring_p());
    let (n, limbs) = (params.n(), x_q.limbs());
    let x_p = rp.intt(x_p);
    let ext = BasisExtender::new(rp.moduli(), &rq.moduli()[..limbs]);
    let mut lifted = Poly::zero(n, limbs);
    {
        let src: Vec<&[u64]> = (0..x_p.limbs()).map(|j| x_p.limb(j)).collect();
        let mut dst: Vec<&mut [u64]> = lifted.data_mut().chunks_mut(n).collect();
        let mut scratch = vec![0u64; n * (src.len() + 1)];
        ext.extend(&src, &mut dst, &mut scratch);
    }
    let lifted = rq.ntt(lifted);
    x_q.data_mut()
        .par_chunks_mut(n)
        .zip(lifted.data().par_chunks(n))
        .zip(rq.moduli())
        .for_each(|((x, t), m)| {
            let p_inv = m
                .inv(
                    params
                        .p()
                        .iter()
                        .fold(1u64, |acc, &p| m.mul(acc, m.reduce(p))),
                )
                .unwrap_or(0);
            limb::sub_mul_const(m, x, t, p_inv);
        });
    x_q
}

/// Key-switches `c` (which multiplies s') to a pair (d0, d1) with d0 + d1·s ≈ c·s'.
pub fn switch_key(
    params: &Parameters,
    c: &Poly<Ntt>,
    key: &SwitchingKey,
) -> (Poly<Ntt>, Poly<Ntt>) {
    let dec = decompose(params, c);
    let [(u0q, u0p), (u1q, u1p)] = inner_product(params, &dec, key, None);
    let (d0, d1) = rayon::join(|| mod_down(params, u0q, u0p), || mod_down(params, u1q, u1p));
    (d0, d1)
}
