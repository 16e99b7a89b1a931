//! NTT-friendly prime generation: primes p ≡ 1 (mod 2N), so that Z_p has the 2N-th roots of
//! unity a negacyclic NTT of size N needs.

/// Deterministic Miller–Rabin, exact for all 64-bit inputs with these witnesses.
pub fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    for p in [2u64, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37] {
        if n.is_multiple_of(p) {
            return n == p;
        }
    }
    let (mut d, mut s) = (n - 1, 0);
    while d % 2 == 0 {
        d /= 2;
        s += 1;
    }
    let mulmod = |a: u64, b: u64| (a as u128 * b as u128 % n as u128) as u64;
    let powmod = |mut b: u64, mut e: u64| {
        let mut r = 1u64;
        while e > 0 {
            if e & 1 == 1 {
                r = mulmod(r, b);
            }
            b = mulmod(b, b);
            e >>= 1;
        }
        r
    };
    'witness: for a in [2u64, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37] {
        let mut x = powmod(a, d);
        if x == 1 || x == n - 1 {
            continue;
        }
        for _ in 1..s {
            x = mulmod(x, x);
            if x == n - 1 {
                continue 'witness;
            }
        }
        return false;
    }
    true
}

/// Returns `count` distinct primes of exactly `bits` bits with p ≡ 1 (mod 2N), closest to
/// 2^bits first (alternating above and below), skipping any in `exclude`.
///
/// Primes near 2^bits keep the CKKS scale stable across rescalings.
pub fn generate_ntt_primes(
    bits: u32,
    log_n: u32,
    count: usize,
    exclude: &[u64],
) -> Option<Vec<u64>> {
    if !(10..=61).contains(&bits) || log_n + 1 >= bits {
        return None;
    }
    let m = 1u64 << (log_n + 1);
    let center = 1u64 << bits;
    let (lo_bound, hi_bound) = (1u64 << (bits - 1), (1u64 << bits) - 1);
    let mut out = Vec::with_capacity(count);
    let mut up = center + 1; // ≡ 1 mod m
    let mut down = center - m + 1;
    while out.len() < count {
        let mut progressed = false;
        for candidate in [up, down] {
            if out.len() < count
                && (lo_bound..=hi_bound).contains(&candidate)
                && is_prime(candidate)
                && !exclude.contains(&candidate)
                && !out.contains(&candidate)
            {
                out.push(candidate);
            }
        }
        if up <= hi_bound {
            up += m;
            progressed = true;
        }
        if down >= lo_bound + m {
            down -= m;
            progressed = true;
        }
        if !progressed {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primality_agrees_with_trial_division() {
        let trial = |n: u64| {
            n >= 2
                && (2..)
                    .take_while(|d| d * d <= n)
                    .all(|d| !n.is_multiple_of(d))
        };
        for n in 0..5000u64 {
            assert_eq!(is_prime(n), trial(n), "n = {n}");
        }
        assert!(is_prime(1125899906826241));
        assert!(!is_prime(1125899906826241 * 3));
    }

    #[test]
    fn generated_primes_are_ntt_friendly_and_sized() {
        let ps = generate_ntt_primes(40, 14, 7, &[]).unwrap();
        assert_eq!(ps.len(), 7);
        for &p in &ps {
            assert!(is_prime(p));
            assert_eq!(p % (1 << 15), 1);
            assert_eq!(64 - p.leading_zeros(), 40);
        }
        let more = generate_ntt_primes(40, 14, 2, &ps).unwrap();
        assert!(more.iter().all(|p| !ps.contains(p)));
    }
}
