//! AVX-512 IFMA kernels for the two limb-wise loops of rescaling and ModDown (see `limb`):
//! eight residues per instruction with 52-bit Shoup products (`vpmadd52{lo,hi}uq`), where the
//! portable code does one 64×64→128-bit product per residue. Exact: bit for bit the portable
//! results.

#[cfg(target_arch = "x86_64")]
use super::ifma::{mul_shoup52, shoup52};

#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn sub_mul_const(_: u64, _: &mut [u64], _: &[u64], _: u64) {
    unreachable!("available() is false off x86_64")
}

#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn reduce_sub_const(_: u64, _: &[u64], _: u64, _: &mut [u64]) {
    unreachable!("available() is false off x86_64")
}

/// `x[k] ← (x[k] − t[k])·w mod q`.
///
/// # Safety
/// AVX-512F and AVX-512IFMA are available; q < 2^50, w < q, every x[k] and t[k] < q, and
/// `t` is at least as long as `x`, whose length is a multiple of 8.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512ifma")]
pub unsafe fn sub_mul_const(q: u64, x: &mut [u64], t: &[u64], w: u64) {
    use std::arch::x86_64::*;
    assert!(x.len().is_multiple_of(8) && t.len() >= x.len());
    let (vq, vw, vw52) = (
        _mm512_set1_epi64(q as i64),
        _mm512_set1_epi64(w as i64),
        _mm512_set1_epi64(shoup52(w, q) as i64),
    );
    let mask = _mm512_set1_epi64(((1u64 << 52) - 1) as i64);
    for c in (0..x.len()).step_by(8) {
        // SAFETY: c + 8 ≤ x.len() ≤ t.len() (asserted above).
        unsafe {
            let a = _mm512_loadu_si512(x.as_ptr().add(c).cast());
            let b = _mm512_loadu_si512(t.as_ptr().add(c).cast());
            // a − b + q ∈ (0, 2q) < 2^51: a valid Shoup operand.
            let d = _mm512_add_epi64(_mm512_sub_epi64(a, b), vq);
            let r = mul_shoup52(d, vw, vw52, vq, mask);
            _mm512_storeu_si512(
                x.as_mut_ptr().add(c).cast(),
                _mm512_min_epu64(r, _mm512_sub_epi64(r, vq)),
            );
        }
    }
}

/// `out[k] ← (src[k] mod q − c) mod q`.
///
/// # Safety
/// AVX-512F and AVX-512IFMA are available; q < 2^50, c < q, every src[k] < 2^52, and `src`
/// is at least as long as `out`, whose length is a multiple of 8.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512ifma")]
pub unsafe fn reduce_sub_const(q: u64, src: &[u64], c: u64, out: &mut [u64]) {
    use std::arch::x86_64::*;
    assert!(out.len().is_multiple_of(8) && src.len() >= out.len());
    let (vq, vc) = (_mm512_set1_epi64(q as i64), _mm512_set1_epi64(c as i64));
    // Shoup by w = 1: ⌊a·⌊2^52/q⌋/2^52⌋ undershoots a/q by less than 2.
    let v52 = _mm512_set1_epi64(shoup52(1, q) as i64);
    let mask = _mm512_set1_epi64(((1u64 << 52) - 1) as i64);
    let zero = _mm512_setzero_si512();
    for k in (0..out.len()).step_by(8) {
        // SAFETY: k + 8 ≤ out.len() ≤ src.len() (asserted above).
        unsafe {
            let a = _mm512_loadu_si512(src.as_ptr().add(k).cast());
            let hi = _mm512_madd52hi_epu64(zero, a, v52);
            let r = _mm512_and_si512(
                _mm512_sub_epi64(a, _mm512_madd52lo_epu64(zero, hi, vq)),
                mask,
            );
            let r = _mm512_min_epu64(r, _mm512_sub_epi64(r, vq));
            let d = _mm512_sub_epi64(r, vc);
            _mm512_storeu_si512(
                out.as_mut_ptr().add(k).cast(),
                _mm512_min_epu64(d, _mm512_add_epi64(d, vq)),
            );
        }
    }
}
