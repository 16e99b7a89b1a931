//! Key material. The secret key zeroizes on drop and has no serialisation at all: it cannot
//! be written to the wire by any code path.

use crate::ckks::params::Parameters;
use crate::ckks::ring::{Ntt, Poly, Sampler};
use std::collections::BTreeMap;
use zeroize::Zeroize;

/// Uniform ternary secret s, kept in NTT form over Q and P.
pub struct SecretKey {
    pub(crate) coeffs: Vec<i64>,
    pub(crate) q: Poly<Ntt>,
    pub(crate) p: Poly<Ntt>,
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.coeffs.zeroize();
        self.q.zeroize();
        self.p.zeroize();
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// (b, a) = (−a·s + e, a) over the full Q chain.
#[derive(Clone, Debug)]
pub struct PublicKey {
    pub b: Poly<Ntt>,
    pub a: Poly<Ntt>,
    pub seed: [u8; 32],
}

/// One hybrid key-switching digit: (b, a) over Q ∪ P.
#[derive(Clone, Debug)]
pub struct KeyDigit {
    pub b_q: Poly<Ntt>,
    pub b_p: Poly<Ntt>,
    pub a_q: Poly<Ntt>,
    pub a_p: Poly<Ntt>,
}

/// Encrypts P·s' under s, one digit per group of α primes; the `a` halves come from `seed`.
#[derive(Clone, Debug)]
pub struct SwitchingKey {
    pub digits: Vec<KeyDigit>,
    pub seed: [u8; 32],
    /// Fingerprint of the parameter set the key was made for; evaluators refuse others.
    pub(crate) params_id: u64,
}

impl SwitchingKey {
    pub fn params_id(&self) -> u64 {
        self.params_id
    }
}

/// Switches s² back to s after a ciphertext product.
#[derive(Clone, Debug)]
pub struct RelinearizationKey(pub SwitchingKey);

/// Switches φ_g(s) back to s after the automorphism X ↦ X^g.
#[derive(Clone, Debug)]
pub struct GaloisKey {
    pub galois_element: u64,
    pub key: SwitchingKey,
}

/// What the server is given: everything needed to compute, nothing to decrypt.
#[derive(Clone, Debug, Default)]
pub struct EvaluationKeys {
    pub relin: Option<RelinearizationKey>,
    pub galois: BTreeMap<u64, GaloisKey>,
}

impl EvaluationKeys {
    pub fn galois_key(&self, g: u64) -> Option<&GaloisKey> {
        self.galois.get(&g)
    }
}

/// Deterministically expands the uniform halves (a_q, a_p) of `digits` key digits from a seed.
pub fn expand_key_a(
    params: &Parameters,
    seed: [u8; 32],
    digits: usize,
) -> Vec<(Poly<Ntt>, Poly<Ntt>)> {
    let mut s = Sampler::from_seed(seed);
    (0..digits)
        .map(|_| {
            let a_q = s.uniform_ntt(params.ring_q(), params.max_level() + 1);
            let a_p = s.uniform_ntt(params.ring_p(), params.digit_size());
            (a_q, a_p)
        })
        .collect()
}
