//! The CKKS layer on top of RLWE: encoding into slots and homomorphic evaluation, with the
//! level/scale bookkeeping and its bounds checks.

mod bounds;
mod encoder;
mod error;
mod evaluator;

pub use bounds::{check_scale, max_coeff};
pub use encoder::Encoder;
pub use error::EvalError;
pub use evaluator::{Evaluator, rotate_and_sum_rotations};
