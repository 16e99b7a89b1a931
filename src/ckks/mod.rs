//! Pure-Rust RNS-CKKS, layered like Lattigo:
//! `math` (modular arithmetic) → `ring` (RNS polynomials, NTT) → `rlwe` (keys, encryption,
//! key switching) → `scheme` (encoder, evaluator) → `wire` (versioned byte formats).
//! It knows nothing of images or models.

pub mod math;
pub mod params;
pub mod ring;
pub mod rlwe;
pub mod scheme;
pub mod wire;

pub use params::{Parameters, ParametersLiteral, ParamsError};
pub use rlwe::{
    Ciphertext, Decryptor, Encryptor, EvaluationKeys, GaloisKey, KeyGenerator, Plaintext,
    PublicKey, SecretKey,
};
pub use scheme::{Encoder, EvalError, Evaluator};
