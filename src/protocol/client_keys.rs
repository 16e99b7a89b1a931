//! What every client role holds for one session: validated parameters, the secret key and the
//! tools that use it. The classification and denoising clients both build on this, so the
//! secret key lives in exactly one place in the client code and never outside `protocol`'s
//! client modules (the server modules cannot name this type's secret field).

use super::ProtocolError;
use crate::ckks::{
    Ciphertext, Decryptor, Encoder, Encryptor, EvalError, EvaluationKeys, GaloisKey, KeyGenerator,
    Parameters, SecretKey,
};

use num_complex::Complex64;
pub struct ClientKeys {
    params: Parameters,
    /// Zeroized on drop (see `SecretKey`); fresh for every session.
    pub(super) sk: SecretKey,
    keygen: KeyGenerator,
    encoder: Encoder,
}

impl ClientKeys {
    /// Fresh keys for a new session from a named parameter preset (OS-seeded randomness).
    pub fn new(preset: &str) -> Result<Self, ProtocolError> {
        let params = Parameters::preset(preset)?;
        let mut keygen = KeyGenerator::new(&params);
        let sk = keygen.gen_secret_key();
        let encoder = Encoder::new(&params);
        Ok(Self {
            params,
            sk,
            keygen,
            encoder,
        })
    }

    pub fn params(&self) -> &Parameters {
        &self.params
    }

    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// Relinearisation key plus exactly the listed rotations (and conjugation if asked).
    pub fn evaluation_keys(&mut self, rotations: &[i64], conjugation: bool) -> EvaluationKeys {
        self.keygen
            .gen_evaluation_keys(&self.sk, rotations, conjugation)
    }

    /// One Galois key for `galois_element` (for key sets without relinearisation).
    pub fn galois_key(&mut self, galois_element: u64) -> GaloisKey {
        self.keygen.gen_galois_key(&self.sk, galois_element)
    }

    /// A secret-key encryptor (fresh seeds and noise per ciphertext).
    pub fn encryptor(&self) -> Encryptor<'_> {
        Encryptor::new(&self.params, &self.sk)
    }

    /// Decrypts and decodes to real slot values.
    ///
    /// Errors: `ParameterMismatch` for a ciphertext of another parameter set,
    /// `ValueTooLarge` when a coefficient exceeds the range of f64.
    pub fn decrypt(&self, ct: &Ciphertext) -> Result<Vec<f64>, EvalError> {
        self.encoder
            .decode(&Decryptor::new(&self.params, &self.sk).decrypt(ct)?)
    }

    /// Decrypts and decodes to complex slot values (two real values packed per slot).
    ///
    /// Errors: as [`ClientKeys::decrypt`].
    pub fn decrypt_complex(&self, ct: &Ciphertext) -> Result<Vec<Complex64>, EvalError> {
        self.encoder
            .decode_complex(&Decryptor::new(&self.params, &self.sk).decrypt(ct)?)
    }
}
