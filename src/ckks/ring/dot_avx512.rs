//! AVX-512 IFMA kernel for `RnsRing::linear_combinations` on one limb: Σ_j x_j·s_oj with eight
//! coefficients per instruction. `vpmadd52luq`/`vpmadd52huq` add the low and high 52 bits of
//! each 104-bit product into two 64-bit accumulators that stay in registers across all the
//! terms; each coefficient is reduced once at the end. Chosen at run time; the result is the
//! exact residue, bit for bit the portable path's.

use crate::ckks::math::Modulus;
use std::sync::OnceLock;

/// Residues and scalars must fit 52 bits; moduli are kept below this.
pub const MAX_MODULUS: u64 = 1 << 50;
/// Low halves are < 2^52 each, so 2^12 of them fit a 64-bit accumulator.
pub const MAX_TERMS: usize = 1 << 12;

/// Runtime check, once per process; `PRIVACT_PORTABLE=1` forces the portable path (used by
/// CI to test both).
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        if std::env::var_os("PRIVACT_PORTABLE").is_some_and(|v| v == "1") {
            return false;
        }
        #[cfg(target_arch = "x86_64")]
        {
            std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512ifma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn linear_combinations(_: &Modulus, _: &[&[u64]], _: &[Vec<u64>], _: &mut [&mut [u64]]) {
    unreachable!("available() is false off x86_64")
}

/// `outs[o][k] = Σ_j inputs[j][k]·scalars[o][j] mod q` for every output `o`: a block of 32
/// coefficients of every input stays in L1 while all the outputs are accumulated from it, so
/// each input is read from memory once, not once per output.
///
/// # Safety
/// The CPU must support AVX-512F and AVX-512IFMA (see `available`); `m` is below
/// `MAX_MODULUS`, every input value and scalar is below 2^52, there are fewer than
/// `MAX_TERMS` inputs, every `scalars[o]` has one entry per input, and every input is at
/// least as long as each output.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512ifma")]
pub unsafe fn linear_combinations(
    m: &Modulus,
    inputs: &[&[u64]],
    scalars: &[Vec<u64>],
    outs: &mut [&mut [u64]],
) {
    use std::arch::x86_64::*;
    /// Registers of eight coefficients accumulated at once (2·LANES accumulators).
    const LANES: usize = 4;
    const BLOCK: usize = 8 * LANES;
    let n = outs.first().map_or(0, |o| o.len());
    let full = n - n % BLOCK;
    let splat: Vec<Vec<__m512i>> = scalars
        .iter()
        .map(|row| row.iter().map(|&s| _mm512_set1_epi64(s as i64)).collect())
        .collect();
    let mut lo = [0u64; BLOCK];
    let mut hi = [0u64; BLOCK];
    for base in (0..full).step_by(BLOCK) {
        for (out, row) in outs.iter_mut().zip(&splat) {
            let mut acc_lo = [_mm512_setzero_si512(); LANES];
            let mut acc_hi = [_mm512_setzero_si512(); LANES];
            for (x, &s) in inputs.iter().zip(row) {
                for l in 0..LANES {
                    // SAFETY: base + 8l + 8 ≤ full ≤ n ≤ x.len().
                    let v = unsafe { _mm512_loadu_si512(x.as_ptr().add(base + 8 * l).cast()) };
                    acc_lo[l] = _mm512_madd52lo_epu64(acc_lo[l], v, s);
                    acc_hi[l] = _mm512_madd52hi_epu64(acc_hi[l], v, s);
                }
            }
            for l in 0..LANES {
                // SAFETY: each store writes 8 words inside the 32-word arrays.
                unsafe {
                    _mm512_storeu_si512(lo.as_mut_ptr().add(8 * l).cast(), acc_lo[l]);
                    _mm512_storeu_si512(hi.as_mut_ptr().add(8 * l).cast(), acc_hi[l]);
                }
            }
            for (k, o) in out[base..base + BLOCK].iter_mut().enumerate() {
                *o = m.reduce_u128(((hi[k] as u128) << 52) + lo[k] as u128);
            }
        }
    }
    for (out, row) in outs.iter_mut().zip(scalars) {
        for (k, o) in out.iter_mut().enumerate().skip(full) {
            let sum: u128 = inputs
                .iter()
                .zip(row)
                .map(|(x, &s)| x[k] as u128 * s as u128)
                .sum();
            *o = m.reduce_u128(sum);
        }
    }
}
