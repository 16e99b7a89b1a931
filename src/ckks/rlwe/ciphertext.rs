//! Ciphertexts and plaintexts: NTT-form RNS polynomials plus CKKS metadata (scale) and the
//! fingerprint of the parameter set they belong to.
//!
//! The fields are private so that metadata cannot drift from the polynomials: a caller cannot
//! edit `c1` while a stale seed would still be serialised, nor relabel a scale, nor hand one
//! parameter set's object to another's evaluator (every operation compares fingerprints).

use crate::ckks::ring::{Ntt, Poly};

/// An encoded message at some level; `scale` is the factor Δ the message was multiplied by.
#[derive(Clone, Debug)]
pub struct Plaintext {
    poly: Poly<Ntt>,
    scale: f64,
    params_id: u64,
}

impl Plaintext {
    pub(crate) fn new(poly: Poly<Ntt>, scale: f64, params_id: u64) -> Self {
        Self {
            poly,
            scale,
            params_id,
        }
    }

    pub fn level(&self) -> usize {
        self.poly.limbs() - 1
    }

    /// Δ: the factor the encoded values were multiplied by.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Fingerprint of the parameter set (`Parameters::fingerprint`) this plaintext is for.
    pub fn params_id(&self) -> u64 {
        self.params_id
    }

    /// The encoded polynomial (NTT form), read-only.
    pub fn poly(&self) -> &Poly<Ntt> {
        &self.poly
    }

    /// True when every coefficient is zero (multiplying by it would make a transparent
    /// ciphertext).
    pub fn is_zero(&self) -> bool {
        self.poly.is_zero()
    }
}

/// (c0, c1[, c2]) with c0 + c1·s (+ c2·s²) ≈ Δ·m modulo q_0⋯q_level.
#[derive(Clone, Debug)]
pub struct Ciphertext {
    parts: Vec<Poly<Ntt>>,
    scale: f64,
    /// When set, `parts[1]` is the (truncated) expansion of this seed and need not travel.
    seed: Option<[u8; 32]>,
    params_id: u64,
}

impl Ciphertext {
    /// An unseeded ciphertext; `parts` has 2 or 3 polynomials of equal limb count.
    pub(crate) fn new(parts: Vec<Poly<Ntt>>, scale: f64, params_id: u64) -> Self {
        Self {
            parts,
            scale,
            seed: None,
            params_id,
        }
    }

    /// A fresh symmetric encryption whose `c1` is the expansion of `seed`.
    pub(crate) fn seeded(
        parts: Vec<Poly<Ntt>>,
        scale: f64,
        seed: [u8; 32],
        params_id: u64,
    ) -> Self {
        Self {
            parts,
            scale,
            seed: Some(seed),
            params_id,
        }
    }

    pub fn level(&self) -> usize {
        self.parts[0].limbs() - 1
    }

    /// 1 for a fresh ciphertext, 2 after a multiplication before relinearisation.
    pub fn degree(&self) -> usize {
        self.parts.len() - 1
    }

    /// Δ: the factor the encrypted values were multiplied by.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The seed `c1` expands from, for fresh symmetric encryptions (the wire then omits c1).
    pub fn seed(&self) -> Option<[u8; 32]> {
        self.seed
    }

    /// Fingerprint of the parameter set (`Parameters::fingerprint`) this ciphertext is for.
    pub fn params_id(&self) -> u64 {
        self.params_id
    }

    /// (c0, c1[, c2]) in NTT form, read-only: edits go through the evaluator.
    pub fn parts(&self) -> &[Poly<Ntt>] {
        &self.parts
    }

    /// Mutable parts: any edit invalidates the seed, so it is dropped here.
    pub(crate) fn parts_mut(&mut self) -> &mut Vec<Poly<Ntt>> {
        self.seed = None;
        &mut self.parts
    }

    pub(crate) fn set_scale(&mut self, scale: f64) {
        self.scale = scale;
    }

    /// True when c1 (and c2) are zero: c0 then *is* Δ·m, readable without the key. SEAL calls
    /// these "transparent"; no evaluator operation returns one.
    pub fn is_transparent(&self) -> bool {
        self.parts[1..].iter().all(|p| p.is_zero())
    }

    /// Drops the top limbs down to `level` (exact: no noise, scale unchanged).
    pub fn drop_to_level(&mut self, level: usize) {
        if level < self.level() {
            // A seed expands to the full-level `a`; truncating it keeps the seed valid.
            for p in &mut self.parts {
                p.truncate(level + 1);
            }
        }
    }

    /// Relabels the scale without touching the polynomials. The result decrypts to
    /// (old scale / `scale`) × the old values: only for modelling a dishonest party in tests
    /// (the protocols' `expect` checks must refuse what it makes).
    #[doc(hidden)]
    pub fn forge_scale(&mut self, scale: f64) {
        self.scale = scale;
    }
}
