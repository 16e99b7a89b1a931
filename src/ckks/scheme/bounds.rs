//! What fits a level: the checks that turn a silent modular wrap into a typed error.
//!
//! A CKKS value v at scale Δ is stored as the integer Δ·v modulo Q_ℓ = q_0⋯q_ℓ. If Δ ≥ Q_ℓ,
//! or a coefficient of Δ·v reaches Q_ℓ/2, decryption returns the value mod Q_ℓ: a wrong number
//! with no warning. SEAL refuses such scales ("scale out of bounds"); so does this engine,
//! at the operation that would create them.

use super::error::EvalError;
use crate::ckks::params::Parameters;

/// Largest |coefficient| we encode whatever the modulus: headroom below 2^63 for rounding.
pub const MAX_COEFF: f64 = 4.0e18;

/// A scale must be finite, at least 1 (smaller scales round every value to noise) and below
/// the modulus of `level`.
pub fn check_scale(params: &Parameters, scale: f64, level: usize) -> Result<(), EvalError> {
    if !scale.is_finite() || scale < 1.0 {
        return Err(EvalError::InvalidScale(scale));
    }
    let (log_scale, log_q) = (scale.log2(), params.log_q_at(level));
    if log_scale >= log_q {
        return Err(EvalError::ScaleOutOfBounds {
            log_scale,
            log_q,
            level,
        });
    }
    Ok(())
}

/// Largest |coefficient| that decodes without wrapping at `level`: min(Q_ℓ/2, 2^62).
pub fn max_coeff(params: &Parameters, level: usize) -> f64 {
    2f64.powf(params.log_q_at(level) - 1.0).min(MAX_COEFF)
}
