//! Encryption. The client encrypts symmetrically (seeded: the uniform half travels as a
//! 32-byte seed, halving the upload); public-key encryption is for parties without s.

use super::ciphertext::{Ciphertext, Plaintext};
use super::keys::{PublicKey, SecretKey};
use crate::ckks::params::Parameters;
use crate::ckks::ring::{Ntt, Poly, Sampler};
use crate::ckks::scheme::EvalError;
use zeroize::Zeroizing;

/// Secret-key encryptor: c = (−a·s + e + m, a) with a expanded from a fresh seed.
pub struct Encryptor<'a> {
    params: Parameters,
    sk: &'a SecretKey,
    sampler: Sampler,
}

impl<'a> Encryptor<'a> {
    pub fn new(params: &Parameters, sk: &'a SecretKey) -> Self {
        Self {
            params: params.clone(),
            sk,
            sampler: Sampler::from_os(),
        }
    }

    /// Errors: `ParameterMismatch` for a plaintext of another parameter set.
    pub fn encrypt(&mut self, pt: &Plaintext) -> Result<Ciphertext, EvalError> {
        check_params(&self.params, pt)?;
        let rq = self.params.ring_q();
        let limbs = pt.level() + 1;
        let seed = self.sampler.fresh_seed();
        // The seed always expands to a full-level a, so the wire decoder can regenerate it.
        let mut a = Sampler::from_seed(seed).uniform_ntt(rq, rq.len());
        a.truncate(limbs);
        // Temporaries that reveal s (a·s, the error, s itself) are zeroized when dropped.
        let e = Zeroizing::new(self.sampler.gaussian(self.params.n()));
        let mut c0 = rq.ntt(rq.from_signed(&e, limbs));
        rq.add_assign(&mut c0, pt.poly());
        let mut a_s = Zeroizing::new(a.clone());
        rq.mul_assign(&mut a_s, &Zeroizing::new(self.sk.q.truncated(limbs)));
        rq.sub_assign(&mut c0, &a_s);
        Ok(Ciphertext::seeded(
            vec![c0, a],
            pt.scale(),
            seed,
            self.params.fingerprint(),
        ))
    }

    /// An encryption of zero at `level` (used for masking and re-randomisation).
    /// Errors: `LevelTooHigh` above the chain, `InvalidScale` for a scale < 1 or not finite.
    pub fn encrypt_zero(&mut self, level: usize, scale: f64) -> Result<Ciphertext, EvalError> {
        if level > self.params.max_level() {
            return Err(EvalError::LevelTooHigh {
                level,
                max: self.params.max_level(),
            });
        }
        crate::ckks::scheme::check_scale(&self.params, scale, level)?;
        let pt = Plaintext::new(
            Poly::zero(self.params.n(), level + 1),
            scale,
            self.params.fingerprint(),
        );
        self.encrypt(&pt)
    }
}

/// Public-key encryptor: c = (u·b + e0 + m, u·a + e1) with ternary u.
pub struct PublicEncryptor {
    params: Parameters,
    pk: PublicKey,
    sampler: Sampler,
}

impl PublicEncryptor {
    pub fn new(params: &Parameters, pk: PublicKey) -> Self {
        Self {
            params: params.clone(),
            pk,
            sampler: Sampler::from_os(),
        }
    }

    /// Errors: `ParameterMismatch` for a plaintext of another parameter set.
    pub fn encrypt(&mut self, pt: &Plaintext) -> Result<Ciphertext, EvalError> {
        check_params(&self.params, pt)?;
        let rq = self.params.ring_q();
        let limbs = pt.level() + 1;
        let u_coeffs = self.sampler.ternary(self.params.n());
        let u = rq.ntt(rq.from_signed(&u_coeffs, limbs));
        let noisy =
            |s: &mut Sampler| -> Poly<Ntt> { rq.ntt(rq.from_signed(&s.gaussian(rq.n()), limbs)) };
        let mut c0 = noisy(&mut self.sampler);
        let mut c1 = noisy(&mut self.sampler);
        rq.mul_accumulate(&mut c0, &u, &self.pk.b.truncated(limbs));
        rq.mul_accumulate(&mut c1, &u, &self.pk.a.truncated(limbs));
        rq.add_assign(&mut c0, pt.poly());
        Ok(Ciphertext::new(
            vec![c0, c1],
            pt.scale(),
            self.params.fingerprint(),
        ))
    }
}

fn check_params(params: &Parameters, pt: &Plaintext) -> Result<(), EvalError> {
    if pt.params_id() != params.fingerprint() || pt.level() > params.max_level() {
        return Err(EvalError::ParameterMismatch);
    }
    Ok(())
}
