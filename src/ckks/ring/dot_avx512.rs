//! AVX-512 IFMA kernel for `RnsRing::linear_combinations` on one limb: Σ_j x_j·s_oj with eight
//! coefficients per instruction. `vpmadd52luq`/`vpmadd52huq` add the low and high 52 bits of
//! each 104-bit product into two 64-bit accumulators that stay in registers across all the
//! terms; each coefficient is reduced once at the end, in registers too (`Reducer`). Chosen at
//! run time; the result is the exact residue, bit for bit the portable path's.

use super::simd::SimdLevel;
use crate::ckks::math::Modulus;

/// Residues and scalars must fit 52 bits; moduli are kept below this.
pub const MAX_MODULUS: u64 = 1 << 50;
/// Low halves are < 2^52 each, so 2^12 of them fit a 64-bit accumulator.
pub const MAX_TERMS: usize = 1 << 12;

/// Whether the engine uses this kernel (`simd::SimdLevel::current`).
pub fn available() -> bool {
    SimdLevel::current() == SimdLevel::Avx512Ifma
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
    let reducer = Reducer::new(m.value());
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
                let r = reducer.reduce(acc_lo[l], acc_hi[l]);
                // SAFETY: base + 8l + 8 ≤ full ≤ n = out.len().
                unsafe { _mm512_storeu_si512(out.as_mut_ptr().add(base + 8 * l).cast(), r) };
            }
        }
    }
    scalar_tail(m, inputs, scalars, outs, full);
}

/// The coefficients from `from` on, which fill no whole register block, summed in 128 bits
/// (both SIMD kernels' remainder; never reached for power-of-two rings of 8 or more).
#[cfg(target_arch = "x86_64")]
pub(super) fn scalar_tail(
    m: &Modulus,
    inputs: &[&[u64]],
    scalars: &[Vec<u64>],
    outs: &mut [&mut [u64]],
    from: usize,
) {
    for (out, row) in outs.iter_mut().zip(scalars) {
        for (k, o) in out.iter_mut().enumerate().skip(from) {
            let sum: u128 = inputs
                .iter()
                .zip(row)
                .map(|(x, &s)| x[k] as u128 * s as u128)
                .sum();
            *o = m.reduce_u128(sum);
        }
    }
}

/// Reduces the two accumulators of a sum of 52×52-bit products, x = hi·2^52 + lo, to
/// x mod q in registers: x is rewritten as h1·2^104 + h0·2^52 + l0 with every part below
/// 2^52, each part is multiplied by its power of two mod q with a 52-bit Shoup product
/// (result in [0, 2q)), and the sum (< 6q) is brought into [0, q) by three conditional
/// subtractions. Valid while lo and hi + (lo >> 52) fit 64 bits, i.e. fewer than
/// `MAX_TERMS` products.
#[cfg(target_arch = "x86_64")]
struct Reducer {
    q: std::arch::x86_64::__m512i,
    q2: std::arch::x86_64::__m512i,
    q4: std::arch::x86_64::__m512i,
    mask: std::arch::x86_64::__m512i,
    /// (w, ⌊w·2^52/q⌋) for w = 1, 2^52 mod q and 2^104 mod q.
    one: [std::arch::x86_64::__m512i; 2],
    r52: [std::arch::x86_64::__m512i; 2],
    r104: [std::arch::x86_64::__m512i; 2],
}

#[cfg(target_arch = "x86_64")]
impl Reducer {
    #[target_feature(enable = "avx512f")]
    fn new(q: u64) -> Self {
        use std::arch::x86_64::*;
        let splat = |w: u64| {
            [
                _mm512_set1_epi64(w as i64),
                _mm512_set1_epi64(super::ifma::shoup52(w, q) as i64),
            ]
        };
        let r52 = ((1u128 << 52) % q as u128) as u64;
        let r104 = ((1u128 << 104) % q as u128) as u64;
        Self {
            q: _mm512_set1_epi64(q as i64),
            q2: _mm512_set1_epi64((2 * q) as i64),
            q4: _mm512_set1_epi64((4 * q) as i64),
            mask: _mm512_set1_epi64(((1u64 << 52) - 1) as i64),
            one: splat(1),
            r52: splat(r52),
            r104: splat(r104),
        }
    }

    /// a·w mod q in [0, 2q) for a < 2^52.
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn shoup(
        &self,
        a: std::arch::x86_64::__m512i,
        [w, w52]: [std::arch::x86_64::__m512i; 2],
    ) -> std::arch::x86_64::__m512i {
        super::ifma::mul_shoup52(a, w, w52, self.q, self.mask)
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn reduce(
        &self,
        lo: std::arch::x86_64::__m512i,
        hi: std::arch::x86_64::__m512i,
    ) -> std::arch::x86_64::__m512i {
        use std::arch::x86_64::*;
        let l0 = _mm512_and_si512(lo, self.mask);
        let h = _mm512_add_epi64(hi, _mm512_srli_epi64::<52>(lo));
        let (h0, h1) = (_mm512_and_si512(h, self.mask), _mm512_srli_epi64::<52>(h));
        let s = _mm512_add_epi64(
            _mm512_add_epi64(self.shoup(l0, self.one), self.shoup(h0, self.r52)),
            self.shoup(h1, self.r104),
        );
        // s < 6q < 2^53; x − kq wraps to a huge value when negative, so `min` keeps x.
        let s = _mm512_min_epu64(s, _mm512_sub_epi64(s, self.q4));
        let s = _mm512_min_epu64(s, _mm512_sub_epi64(s, self.q2));
        _mm512_min_epu64(s, _mm512_sub_epi64(s, self.q))
    }
}

#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn dot_pair(
    _: u64,
    _: &[&[u64]],
    _: Option<&[u32]>,
    _: [&[&[u64]]; 2],
    _: [&mut [u64]; 2],
) {
    unreachable!("available() is false off x86_64")
}

/// `outs[o][k] ← outs[o][k] + Σ_d xs[d][π(k)]·ys[o][d][k] mod q` for o = 0, 1, where π is
/// `perm` (the identity when `None`): the inner product of key switching, with the digits'
/// Galois permutation read through a gather instead of written out first, both key halves
/// served by one read of the digits, and one reduction per coefficient.
///
/// # Safety
/// AVX-512F and AVX-512IFMA are available; q < `MAX_MODULUS`; fewer than `MAX_TERMS` − 1
/// digits, each `ys[o]` holding one entry per digit; every value (outputs included) is
/// below 2^52; the output length is a multiple of 8, no longer than any `xs[d]` or
/// `ys[o][d]`, and every `perm[k]` indexes into each `xs[d]` (with `perm` at least as long
/// as the output).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512ifma")]
pub unsafe fn dot_pair(
    q: u64,
    xs: &[&[u64]],
    perm: Option<&[u32]>,
    ys: [&[&[u64]]; 2],
    outs: [&mut [u64]; 2],
) {
    use std::arch::x86_64::*;
    let reducer = Reducer::new(q);
    let [out0, out1] = outs;
    let n = out0.len();
    for base in (0..n).step_by(8) {
        let zero = _mm512_setzero_si512();
        // SAFETY (all loads and stores below): base + 8 ≤ n, which bounds every slice and
        // `perm`; gathered indices are inside each digit (the caller's contract).
        // The outputs' values enter as one more term of the low accumulators.
        let (mut lo0, mut lo1) = unsafe {
            (
                _mm512_loadu_si512(out0.as_ptr().add(base).cast()),
                _mm512_loadu_si512(out1.as_ptr().add(base).cast()),
            )
        };
        let (mut hi0, mut hi1) = (zero, zero);
        let idx = perm.map(|p| unsafe { _mm256_loadu_si256(p.as_ptr().add(base).cast()) });
        for (d, x) in xs.iter().enumerate() {
            let v = match idx {
                Some(i) => unsafe { _mm512_i32gather_epi64::<8>(i, x.as_ptr().cast()) },
                None => unsafe { _mm512_loadu_si512(x.as_ptr().add(base).cast()) },
            };
            let (k0, k1) = unsafe {
                (
                    _mm512_loadu_si512(ys[0][d].as_ptr().add(base).cast()),
                    _mm512_loadu_si512(ys[1][d].as_ptr().add(base).cast()),
                )
            };
            lo0 = _mm512_madd52lo_epu64(lo0, v, k0);
            hi0 = _mm512_madd52hi_epu64(hi0, v, k0);
            lo1 = _mm512_madd52lo_epu64(lo1, v, k1);
            hi1 = _mm512_madd52hi_epu64(hi1, v, k1);
        }
        unsafe {
            _mm512_storeu_si512(out0.as_mut_ptr().add(base).cast(), reducer.reduce(lo0, hi0));
            _mm512_storeu_si512(out1.as_mut_ptr().add(base).cast(), reducer.reduce(lo1, hi1));
        }
    }
}
