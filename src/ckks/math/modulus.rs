//! A word-size prime modulus with its Barrett and Shoup constants.
//!
//! All moduli here are below 2^62, so lazy values in `[0, 2q)` and sums of two
//! reduced values never overflow a `u64`. Conditional subtractions are written as
//! `x.min(x - q)` (wrapping): branch-free, so random residues cause no mispredictions and
//! loops can vectorise.

/// A prime modulus `q < 2^62` together with the constants that make reduction cheap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Modulus {
    q: u64,
    /// floor(2^128 / q) split into (low, high) words, for 128-bit Barrett reduction.
    ratio: (u64, u64),
}

impl Modulus {
    /// Largest modulus the lazy-reduction code paths are written for.
    pub const MAX_BITS: u32 = 62;

    /// Panics only on a programming error (q < 2 or q ≥ 2^62); parameters are validated before this.
    pub fn new(q: u64) -> Self {
        assert!(
            (2..(1u64 << Self::MAX_BITS)).contains(&q),
            "modulus out of range"
        );
        let ratio = u128::MAX / q as u128 + u128::from(u128::MAX % q as u128 == q as u128 - 1);
        Self {
            q,
            ratio: (ratio as u64, (ratio >> 64) as u64),
        }
    }

    #[inline(always)]
    pub fn value(&self) -> u64 {
        self.q
    }

    /// Number of bits needed to store a reduced residue.
    pub fn bits(&self) -> u32 {
        64 - (self.q - 1).leading_zeros()
    }

    #[inline(always)]
    pub fn add(&self, a: u64, b: u64) -> u64 {
        Self::reduce_once(a + b, self.q)
    }

    /// x mod q for x < 2q, branch-free.
    #[inline(always)]
    pub fn reduce_once(x: u64, q: u64) -> u64 {
        x.min(x.wrapping_sub(q))
    }

    #[inline(always)]
    pub fn sub(&self, a: u64, b: u64) -> u64 {
        let d = a.wrapping_sub(b);
        d.min(d.wrapping_add(self.q))
    }

    #[inline(always)]
    pub fn neg(&self, a: u64) -> u64 {
        self.sub(0, a)
    }

    /// Barrett reduction of a full 128-bit value (SEAL's two-word variant).
    #[inline(always)]
    pub fn reduce_u128(&self, x: u128) -> u64 {
        let (x0, x1) = (x as u64, (x >> 64) as u64);
        let (r0, r1) = self.ratio;
        let carry = ((x0 as u128 * r0 as u128) >> 64) as u64;
        let t = x0 as u128 * r1 as u128;
        let (tmp1, c1) = (t as u64).overflowing_add(carry);
        let tmp3 = ((t >> 64) as u64) + c1 as u64;
        let t2 = x1 as u128 * r0 as u128;
        let (tmp1, c2) = tmp1.overflowing_add(t2 as u64);
        let carry2 = ((t2 >> 64) as u64) + c2 as u64;
        let _ = tmp1;
        let quot = x1.wrapping_mul(r1).wrapping_add(tmp3).wrapping_add(carry2);
        Self::reduce_once(x0.wrapping_sub(quot.wrapping_mul(self.q)), self.q)
    }

    /// x mod q for any 64-bit x with one 64×64-bit product: μ = ⌊2^64/q⌋ (the high word of
    /// the 128-bit ratio) underestimates x/q by less than 2, so one conditional subtraction
    /// finishes (x − ⌊xμ/2^64⌋·q < 2q < 2^63).
    #[inline(always)]
    pub fn reduce(&self, x: u64) -> u64 {
        let quot = ((x as u128 * self.ratio.1 as u128) >> 64) as u64;
        Self::reduce_once(x.wrapping_sub(quot.wrapping_mul(self.q)), self.q)
    }

    /// Reduces a signed value into `[0, q)`.
    #[inline(always)]
    pub fn reduce_i64(&self, x: i64) -> u64 {
        // Encodings and error polynomials are mostly below q: skip the reduction then.
        let a = x.unsigned_abs();
        let r = if a < self.value() { a } else { self.reduce(a) };
        if x < 0 { self.neg(r) } else { r }
    }

    #[inline(always)]
    pub fn mul(&self, a: u64, b: u64) -> u64 {
        self.reduce_u128(a as u128 * b as u128)
    }

    /// Shoup constant floor(w·2^64/q) for a fixed operand `w < q`.
    #[inline(always)]
    pub fn shoup(&self, w: u64) -> u64 {
        (((w as u128) << 64) / self.q as u128) as u64
    }

    /// a·w mod q in `[0, 2q)` for any `a < 2^64`; `w_shoup = self.shoup(w)`.
    #[inline(always)]
    pub fn mul_shoup_lazy(&self, a: u64, w: u64, w_shoup: u64) -> u64 {
        let hi = ((a as u128 * w_shoup as u128) >> 64) as u64;
        a.wrapping_mul(w).wrapping_sub(hi.wrapping_mul(self.q))
    }

    #[inline(always)]
    pub fn mul_shoup(&self, a: u64, w: u64, w_shoup: u64) -> u64 {
        Self::reduce_once(self.mul_shoup_lazy(a, w, w_shoup), self.q)
    }

    pub fn pow(&self, mut base: u64, mut exp: u64) -> u64 {
        let mut acc = 1 % self.q;
        base = self.reduce(base);
        while exp > 0 {
            if exp & 1 == 1 {
                acc = self.mul(acc, base);
            }
            base = self.mul(base, base);
            exp >>= 1;
        }
        acc
    }

    /// Inverse by Fermat's little theorem; `None` for zero.
    pub fn inv(&self, a: u64) -> Option<u64> {
        let a = self.reduce(a);
        (a != 0).then(|| self.pow(a, self.q - 2))
    }

    /// Centred lift of a residue to `(-q/2, q/2]`.
    #[inline(always)]
    pub fn center(&self, a: u64) -> i64 {
        if a > self.q / 2 {
            a as i64 - self.q as i64
        } else {
            a as i64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const Q: u64 = 1125899906826241; // 50-bit NTT prime

    proptest! {
        #[test]
        fn barrett_matches_u128_remainder(x in any::<u128>(), q in 2u64..(1 << 62)) {
            let m = Modulus::new(q);
            prop_assert_eq!(m.reduce_u128(x), (x % q as u128) as u64);
        }

        #[test]
        fn word_barrett_matches_remainder(x in any::<u64>(), q in 2u64..(1 << 62)) {
            let m = Modulus::new(q);
            prop_assert_eq!(m.reduce(x), x % q);
            prop_assert_eq!(m.reduce(u64::MAX), u64::MAX % q);
            prop_assert_eq!(m.reduce(q - 1), q - 1);
            prop_assert_eq!(m.reduce(q.wrapping_mul(x % (u64::MAX / q).max(1))), 0);
        }

        /// Powers of two (where the ratio's correction term fires) and the extremes.
        #[test]
        fn word_barrett_at_powers_of_two_and_extremes(x in any::<u64>(), k in 1u32..62) {
            for q in [1u64 << k, 2, 3, (1 << 62) - 1, (1 << k) + 1, (1 << k) - 1] {
                if q >= 2 {
                    prop_assert_eq!(Modulus::new(q).reduce(x), x % q, "q = {}", q);
                }
            }
        }

        #[test]
        fn shoup_matches_plain_product(a in any::<u64>(), w in 0u64..Q) {
            let m = Modulus::new(Q);
            let expected = ((a as u128 * w as u128) % Q as u128) as u64;
            prop_assert_eq!(m.mul_shoup(a % (2 * Q), w, m.shoup(w)) , ((a % (2*Q)) as u128 * w as u128 % Q as u128) as u64);
            let lazy = m.mul_shoup_lazy(a, w, m.shoup(w));
            prop_assert!(lazy < 2 * Q);
            prop_assert_eq!(lazy % Q, expected);
        }
    }

    #[test]
    fn inverse_and_signed_reduction() {
        let m = Modulus::new(Q);
        for a in [1u64, 2, 12345, Q - 1] {
            assert_eq!(m.mul(a, m.inv(a).unwrap()), 1);
        }
        assert_eq!(m.inv(0), None);
        assert_eq!(m.reduce_i64(-1), Q - 1);
        assert_eq!(m.center(Q - 1), -1);
        assert_eq!(m.bits(), 50);
    }
}
