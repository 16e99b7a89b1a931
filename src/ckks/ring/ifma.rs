//! What the AVX-512 IFMA kernels share: 52-bit Shoup constants and products. `vpmadd52luq` /
//! `vpmadd52huq` multiply the low 52 bits of two lanes, so a fixed operand w < q < 2^50 gets
//! the constant ⌊w·2^52/q⌋ and a·w mod q comes out in [0, 2q) for any a < 2^52.

/// ⌊w·2^52 / q⌋, the 52-bit Shoup constant of `w < q`.
pub fn shoup52(w: u64, q: u64) -> u64 {
    (((w as u128) << 52) / q as u128) as u64
}

/// a·w mod q in [0, 2q) for a < 2^52, eight lanes at once; `w52 = shoup52(w, q)` and `mask`
/// holds 2^52 − 1 in every lane. The quotient ⌊a·w52/2^52⌋ undershoots a·w/q by less than
/// 2, and the remainder, below 2^52, is exact in the low 52 bits.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub fn mul_shoup52(
    a: std::arch::x86_64::__m512i,
    w: std::arch::x86_64::__m512i,
    w52: std::arch::x86_64::__m512i,
    q: std::arch::x86_64::__m512i,
    mask: std::arch::x86_64::__m512i,
) -> std::arch::x86_64::__m512i {
    use std::arch::x86_64::*;
    let zero = _mm512_setzero_si512();
    let quot = _mm512_madd52hi_epu64(zero, a, w52);
    _mm512_and_si512(
        _mm512_sub_epi64(
            _mm512_madd52lo_epu64(zero, a, w),
            _mm512_madd52lo_epu64(zero, quot, q),
        ),
        mask,
    )
}
