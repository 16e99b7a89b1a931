//! Ring-LWE: keys, encryption, decryption and hybrid key switching. Scale-agnostic apart from
//! carrying the CKKS scale as ciphertext metadata.

mod ciphertext;
mod decryptor;
mod encryptor;
mod keygen;
mod keys;
pub mod keyswitch;

pub use ciphertext::{Ciphertext, Plaintext};
pub use decryptor::Decryptor;
pub use encryptor::{Encryptor, PublicEncryptor};
pub use keygen::KeyGenerator;
pub use keys::{
    EvaluationKeys, GaloisKey, KeyDigit, PublicKey, RelinearizationKey, SecretKey, SwitchingKey,
    expand_key_a,
};
