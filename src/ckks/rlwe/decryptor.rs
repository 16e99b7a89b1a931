//! Decryption: m = c0 + c1·s (+ c2·s²). Client side only.

use super::ciphertext::{Ciphertext, Plaintext};
use super::keys::SecretKey;
use crate::ckks::params::Parameters;
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

    pub fn decrypt(&self, ct: &Ciphertext) -> Plaintext {
        let rq = self.params.ring_q();
        let limbs = ct.level() + 1;
        // A copy of s: zeroized when dropped.
        let s = Zeroizing::new(self.sk.q.truncated(limbs));
        // Horner: ((c_k·s + c_{k-1})·s + …) + c0.
        let mut acc = ct.parts[ct.degree()].clone();
        for part in ct.parts[..ct.degree()].iter().rev() {
            rq.mul_assign(&mut acc, &s);
            rq.add_assign(&mut acc, part);
        }
        Plaintext {
            poly: acc,
            scale: ct.scale,
        }
    }
}
