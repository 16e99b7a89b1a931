//! The CKKS scheme proper: slot encoding and homomorphic evaluation with scale/level tracking.

mod encoder;
mod error;
mod evaluator;

pub use encoder::Encoder;
pub use error::EvalError;
pub use evaluator::Evaluator;
