//! Ciphertexts and plaintexts: NTT-form RNS polynomials plus CKKS metadata (scale).

use crate::ckks::ring::{Ntt, Poly};

/// An encoded message at some level; `scale` is the factor Δ the message was multiplied by.
#[derive(Clone, Debug)]
pub struct Plaintext {
    pub poly: Poly<Ntt>,
    pub scale: f64,
}

impl Plaintext {
    pub fn level(&self) -> usize {
        self.poly.limbs() - 1
    }
}

/// (c0, c1[, c2]) with c0 + c1·s (+ c2·s²) ≈ Δ·m modulo q_0⋯q_level.
#[derive(Clone, Debug)]
pub struct Ciphertext {
    pub parts: Vec<Poly<Ntt>>,
    pub scale: f64,
    /// When set, `parts[1]` is the (truncated) expansion of this seed and need not travel.
    pub seed: Option<[u8; 32]>,
}

impl Ciphertext {
    pub fn level(&self) -> usize {
        self.parts[0].limbs() - 1
    }

    /// 1 for a fresh ciphertext, 2 after a multiplication before relinearisation.
    pub fn degree(&self) -> usize {
        self.parts.len() - 1
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
}
