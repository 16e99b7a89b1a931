//! AVX2 kernel for `RnsRing::linear_combinations` on one limb, for CPUs without AVX-512 IFMA
//! (AMD Zen 1–3, older Intel): Σ_j x_j·s_oj with four coefficients per instruction. AVX2 only
//! multiplies 32×32 → 64 bits (`vpmuludq`), so every residue and scalar (< 2^52) is split
//! into 26-bit halves, x = x1·2^26 + x0 and s = s1·2^26 + s0, and the three partial sums
//! Σ x0·s0, Σ (x0·s1 + x1·s0) and Σ x1·s1 are kept in 64-bit lanes across all the terms;
//! each coefficient is recombined and reduced once at the end, with the portable path's
//! 128-bit Barrett, so the result is bit for bit the portable one.

use crate::ckks::math::Modulus;

/// Residues and scalars must fit 52 bits (the two 26-bit halves); moduli are kept below this
/// so that lazy residues in [0, 2q) fit too.
pub const MAX_MODULUS: u64 = 1 << 50;
/// Each partial product is < 2^52 and the middle sum takes two per term, so 2^11 terms fill
/// a 64-bit lane at most to 2^64 − 2^53.
pub const MAX_TERMS: usize = 1 << 11;

#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn linear_combinations(_: &Modulus, _: &[&[u64]], _: &[Vec<u64>], _: &mut [&mut [u64]]) {
    unreachable!("SimdLevel is Portable off x86_64")
}

/// `outs[o][k] = Σ_j inputs[j][k]·scalars[o][j] mod q` for every output `o`. A block of 8
/// coefficients of every input (one cache line each) stays in L1 while all the outputs are
/// accumulated from it.
///
/// # Safety
/// The CPU must support AVX2 (`SimdLevel::current() >= SimdLevel::Avx2`); every input value
/// and scalar is below 2^52; there are fewer than `MAX_TERMS` inputs, every `scalars[o]` has
/// one entry per input, and every input is at least as long as each output.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub unsafe fn linear_combinations(
    m: &Modulus,
    inputs: &[&[u64]],
    scalars: &[Vec<u64>],
    outs: &mut [&mut [u64]],
) {
    use std::arch::x86_64::*;
    /// Registers of four coefficients accumulated at once (three accumulators each).
    const LANES: usize = 2;
    const BLOCK: usize = 4 * LANES;
    const MASK26: u64 = (1 << 26) - 1;
    let n = outs.first().map_or(0, |o| o.len());
    let full = n - n % BLOCK;
    // (s0, s1) of every scalar, broadcast once.
    let halves: Vec<Vec<(__m256i, __m256i)>> = scalars
        .iter()
        .map(|row| {
            row.iter()
                .map(|&s| {
                    (
                        _mm256_set1_epi64x((s & MASK26) as i64),
                        _mm256_set1_epi64x((s >> 26) as i64),
                    )
                })
                .collect()
        })
        .collect();
    let mask = _mm256_set1_epi64x(MASK26 as i64);
    let mut lanes = [[0u64; 4]; 3];
    for base in (0..full).step_by(BLOCK) {
        for (out, row) in outs.iter_mut().zip(&halves) {
            let zero = _mm256_setzero_si256();
            let mut a0 = [zero; LANES];
            let mut a1 = [zero; LANES];
            let mut a2 = [zero; LANES];
            for (x, &(s0, s1)) in inputs.iter().zip(row) {
                for l in 0..LANES {
                    // SAFETY: base + 4l + 4 ≤ full ≤ n ≤ x.len().
                    let v = unsafe { _mm256_loadu_si256(x.as_ptr().add(base + 4 * l).cast()) };
                    let (x0, x1) = (_mm256_and_si256(v, mask), _mm256_srli_epi64::<26>(v));
                    a0[l] = _mm256_add_epi64(a0[l], _mm256_mul_epu32(x0, s0));
                    a1[l] = _mm256_add_epi64(
                        a1[l],
                        _mm256_add_epi64(_mm256_mul_epu32(x0, s1), _mm256_mul_epu32(x1, s0)),
                    );
                    a2[l] = _mm256_add_epi64(a2[l], _mm256_mul_epu32(x1, s1));
                }
            }
            for l in 0..LANES {
                for (dst, acc) in lanes.iter_mut().zip([a0[l], a1[l], a2[l]]) {
                    // SAFETY: `dst` holds four u64, the width of one register.
                    unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), acc) };
                }
                for (k, o) in out[base + 4 * l..base + 4 * l + 4].iter_mut().enumerate() {
                    let sum = ((lanes[2][k] as u128) << 52)
                        + ((lanes[1][k] as u128) << 26)
                        + lanes[0][k] as u128;
                    *o = m.reduce_u128(sum);
                }
            }
        }
    }
    super::dot_avx512::scalar_tail(m, inputs, scalars, outs, full);
}
