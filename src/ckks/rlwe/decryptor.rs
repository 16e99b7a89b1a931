//! Decryption: m = c0 + c1·s (+ c2·s²). Client side only.

use super::ciphertext::{Ciphertext, Plaintext};
use super::keys::SecretKey;
use crate::ckks::params::Parameters;
use crate::ckks::scheme::EvalError;
use zeroize::Zeroizing;

pub struct Decryptor<'a> {
    params: Parameters,
    sk: &'a SecretKey,
}

impl<'a> Decryptor<'a> {
    pub fn new(params: &Parameters, sk: &'a SecretKey) -> Self {
        Self {
            params: params.clone(),
            sk,
        }
    }

    /// Errors: `ParameterMismatch` for a ciphertext of another parameter set.
    pub fn decrypt(&self, ct: &Ciphertext) -> Result<Plaintext, EvalError> {
        if ct.params_id() != self.params.fingerprint() {
            return Err(EvalError::ParameterMismatch);
        }
        let rq = self.params.ring_q();
        let limbs = ct.level() + 1;
        // A copy of s: zeroized when dropped.
        let s = Zeroizing::new(self.sk.q.truncated(limbs));
        // Horner: ((c_k·s + c_{k-1})·s + …) + c0.
        let parts = ct.parts();
        let mut acc = parts[ct.degree()].clone();
        for part in parts[..ct.degree()].iter().rev() {
            rq.mul_assign(&mut acc, &s);
            rq.add_assign(&mut acc, part);
        }
        Ok(Plaintext::new(acc, ct.scale(), ct.params_id()))
    }
}
