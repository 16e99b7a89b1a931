//! Word-size modular arithmetic: the layer every other CKKS layer stands on.

mod modulus;
mod primes;

pub use modulus::Modulus;
pub use primes::{generate_ntt_primes, is_prime};
