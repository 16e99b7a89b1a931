//! AVX-512 IFMA kernel for basis extension: eight residues per instruction with 52-bit Shoup
//! multiplication (`vpmadd52{lo,hi}uq`). Basis extension dominates hybrid key switching once
//! the NTTs are vectorised, so this is where the CPU time goes. Chosen at run time. It computes
//! the same extension as the portable path in `basis.rs` except, rarely, for the overflow count
//! u = round(Σ y_j/s_j), which both take from a floating-point sum: a fused multiply-add can
//! round a tie the other way, so u differs by one and the output by Q_S. Both are valid
//! approximate extensions (x + u·Q_S, |u| small); key switching absorbs the difference as
//! noise, so results agree to within the noise bound, not bit for bit.

use super::basis::BasisExtender;
use super::simd::SimdLevel;

/// The 52-bit Shoup trick needs 2t < 2^52 with room for a few lazy terms.
pub const MAX_MODULUS: u64 = 1 << 50;

/// Whether the engine uses this kernel (`simd::SimdLevel::current`).
pub fn available() -> bool {
    SimdLevel::current() == SimdLevel::Avx512Ifma
}

#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn extend(_: &BasisExtender, _: &[&[u64]], _: &mut [&mut [u64]], _: &mut [u64]) {
    unreachable!("available() is false off x86_64")
}

/// Same contract as `BasisExtender::extend`; `n` must be a multiple of 8.
///
/// # Safety
/// The CPU must support AVX-512F, AVX-512DQ and AVX-512IFMA (see `available`), and every
/// modulus must be below `MAX_MODULUS`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
pub unsafe fn extend(
    ext: &BasisExtender,
    src: &[&[u64]],
    dst: &mut [&mut [u64]],
    scratch: &mut [u64],
) {
    use super::ifma::{mul_shoup52, shoup52};
    use std::arch::x86_64::*;

    let n = src.first().map_or(0, |s| s.len());
    let k = ext.source().len();
    assert!(
        n.is_multiple_of(8)
            && scratch.len() >= n * (k + 1)
            && src.len() == k
            && dst.iter().all(|d| d.len() >= n)
    );
    let (ys, overflow) = scratch.split_at_mut(n * k);
    let mask = _mm512_set1_epi64(((1u64 << 52) - 1) as i64);
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn set(x: u64) -> __m512i {
        _mm512_set1_epi64(x as i64)
    }

    // SAFETY (all loads/stores below): offsets are < n within slices checked by the assert.
    unsafe {
        // Pass 1: y_j = x_j · (Q_S/s_j)^{-1} mod s_j, limb-major.
        for (j, (limb, (m, &(w, _)))) in src
            .iter()
            .zip(ext.source().iter().zip(ext.qhat_inv()))
            .enumerate()
        {
            let q = m.value();
            let (vq, vw, vw52) = (set(q), set(w), set(shoup52(w, q)));
            let out = ys.as_mut_ptr().add(j * n);
            for c in (0..n).step_by(8) {
                let a = _mm512_loadu_si512(limb.as_ptr().add(c).cast());
                let r = mul_shoup52(a, vw, vw52, vq, mask);
                _mm512_storeu_si512(
                    out.add(c).cast(),
                    _mm512_min_epu64(r, _mm512_sub_epi64(r, vq)),
                );
            }
        }
        // Pass 2: overflow count u = round(Σ y_j / s_j).
        for c in (0..n).step_by(8) {
            let mut f = _mm512_set1_pd(0.5);
            for (j, &inv) in ext.inv_source().iter().enumerate() {
                let y = _mm512_cvtepu64_pd(_mm512_loadu_si512(ys.as_ptr().add(j * n + c).cast()));
                f = _mm512_fmadd_pd(y, _mm512_set1_pd(inv), f);
            }
            _mm512_storeu_si512(overflow.as_mut_ptr().add(c).cast(), _mm512_cvttpd_epu64(f));
        }
        // Pass 3: out = Σ_j y_j·(Q_S/s_j) − u·Q_S mod t, lazily, then halving reductions.
        let top_step = (2 * (k as u64 + 1)).next_power_of_two() / 2;
        for (out, ((t, consts), &(qm, _))) in dst.iter_mut().zip(
            ext.target()
                .iter()
                .zip(ext.qhat_mod_target())
                .zip(ext.q_mod_target()),
        ) {
            let tv = t.value();
            let vt = set(tv);
            let v2t = set(2 * tv);
            let (vqm, vqm52) = (set(qm), set(shoup52(qm, tv)));
            let mut cs: Vec<(__m512i, __m512i)> = Vec::with_capacity(consts.len());
            for &(c, _) in consts {
                cs.push((set(c), set(shoup52(c, tv))));
            }
            let mut steps: Vec<__m512i> = Vec::new();
            let mut s = top_step;
            while s >= 1 {
                steps.push(set(s * tv));
                s /= 2;
            }
            let out = out.as_mut_ptr();
            for c in (0..n).step_by(8) {
                let u = _mm512_loadu_si512(overflow.as_ptr().add(c).cast());
                let mut acc = _mm512_sub_epi64(v2t, mul_shoup52(u, vqm, vqm52, vt, mask));
                for (j, &(cj, cj52)) in cs.iter().enumerate() {
                    let y = _mm512_loadu_si512(ys.as_ptr().add(j * n + c).cast());
                    acc = _mm512_add_epi64(acc, mul_shoup52(y, cj, cj52, vt, mask));
                }
                for &s in &steps {
                    acc = _mm512_min_epu64(acc, _mm512_sub_epi64(acc, s));
                }
                _mm512_storeu_si512(out.add(c).cast(), acc);
            }
        }
    }
}
