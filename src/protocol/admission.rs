//! What a server admits at session setup, shared by every server role: only allow-listed
//! parameter sets, and evaluation keys that cover every rotation its model will apply.

use super::ProtocolError;
use crate::ckks::{EvaluationKeys, Parameters, wire};

/// Decodes the client's parameters and accepts them only if they equal one of `allowed`.
pub fn admit_parameters(bytes: &[u8], allowed: &[&str]) -> Result<Parameters, ProtocolError> {
    let params = wire::decode_parameters(bytes)?;
    let listed = allowed
        .iter()
        .filter_map(|p| Parameters::preset(p).ok())
        .any(|p| p == params);
    if listed {
        Ok(params)
    } else {
        Err(ProtocolError::NotAllowed)
    }
}

/// The rotations in `needed` that `keys` has no Galois key for.
pub fn missing_rotations(params: &Parameters, keys: &EvaluationKeys, needed: &[i64]) -> Vec<i64> {
    needed
        .iter()
        .copied()
        .filter(|&k| {
            keys.galois_key(params.ring_q().galois_element_for_rotation(k))
                .is_none()
        })
        .collect()
}
