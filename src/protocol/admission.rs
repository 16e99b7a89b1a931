//! What a server admits at session setup, shared by every server role: only allow-listed
//! parameter sets, and evaluation keys that cover every rotation its model will apply.

use super::ProtocolError;
use crate::ckks::{EvaluationKeys, Parameters, ParametersLiteral, wire};

/// Accepts the client's parameters only if their literal equals one of the `allowed` presets.
/// The literal is compared before anything is built (no prime search, no NTT tables for a
/// set the server will refuse); an admitted set is the process-wide shared build.
pub fn admit_parameters(bytes: &[u8], allowed: &[&str]) -> Result<Parameters, ProtocolError> {
    let (literal, claimed) = wire::decode_parameters_literal(bytes)?;
    let name = allowed
        .iter()
        .find(|p| ParametersLiteral::preset(p).is_ok_and(|l| l == literal))
        .ok_or(ProtocolError::NotAllowed)?;
    Ok(wire::check_fingerprint(
        Parameters::preset_shared(name)?,
        claimed,
    )?)
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
