//! What each side accepts from the other: exactly the ciphertexts a protocol step calls for.
//!
//! Why: a party that decrypts (the client) or evaluates (the server) a ciphertext whose
//! level, degree or scale it did not choose can be made to react to secret values. A server
//! that sent a masked activation at a crafted scale could watch the client's re-encoding
//! fail or not depending on a pixel (a decryption-reaction oracle); a client that sent its
//! tiles at scale 2^100 drove the server's plaintext bias past the modulus and read the bias
//! back from the error text. Both sides therefore pin every field to the one value the
//! protocol step produces, and check counts before decoding anything (each decoded
//! ciphertext expands about 3× in memory).

use super::ProtocolError;
use crate::ckks::{Ciphertext, Parameters, wire};
use rayon::prelude::*;
use std::ops::RangeInclusive;

/// Relative tolerance on scales: they are computed by the same operations on the same
/// primes on both sides, so honest values agree to the last bits.
const SCALE_TOLERANCE: f64 = 1e-9;

/// The shape a step's ciphertexts must have.
#[derive(Clone, Debug, PartialEq)]
pub struct Expected {
    /// How many ciphertexts the step carries (checked before any decoding).
    pub count: RangeInclusive<usize>,
    /// The exact level of each.
    pub level: usize,
    /// The exact scale of each (within `SCALE_TOLERANCE`).
    pub scale: f64,
    /// `Some`: compact replies (`wire::encode_compact_ciphertext`) with exactly these dropped
    /// bits; `None`: full ciphertexts.
    pub compact: Option<wire::DroppedBits>,
}

impl Expected {
    /// `count` fresh encryptions from the client: degree 1 at `level`, default scale.
    pub fn fresh(params: &Parameters, count: RangeInclusive<usize>, level: usize) -> Self {
        Self {
            count,
            level,
            scale: params.default_scale(),
            compact: None,
        }
    }

    /// The same shape, sent compact with exactly `drop` (level 0 only).
    pub fn compact(self, drop: wire::DroppedBits) -> Self {
        Self {
            compact: Some(drop),
            ..self
        }
    }
}

/// Decodes `cts` if their number, and then each one's degree (1), level and scale, are
/// exactly as expected; otherwise refuses with `ProtocolError::OffProtocol`.
pub fn decode_expected(
    params: &Parameters,
    cts: &[Vec<u8>],
    expected: &Expected,
) -> Result<Vec<Ciphertext>, ProtocolError> {
    if !expected.count.contains(&cts.len()) {
        return Err(ProtocolError::OffProtocol("wrong number of ciphertexts"));
    }
    cts.par_iter()
        .map(|bytes| {
            let ct = match expected.compact {
                None => wire::decode_ciphertext(params, bytes)?,
                Some(want) => {
                    let (ct, drop) = wire::decode_compact_ciphertext(params, bytes)?;
                    if drop != want {
                        return Err(ProtocolError::OffProtocol(
                            "compact ciphertext with unexpected dropped bits",
                        ));
                    }
                    ct
                }
            };
            check(&ct, expected)?;
            Ok(ct)
        })
        .collect()
}

/// Checks one decoded ciphertext against `expected` (degree, level, scale).
pub fn check(ct: &Ciphertext, expected: &Expected) -> Result<(), ProtocolError> {
    if ct.degree() != 1 {
        return Err(ProtocolError::OffProtocol("ciphertext of degree ≠ 1"));
    }
    if ct.level() != expected.level {
        return Err(ProtocolError::OffProtocol(
            "ciphertext at an unexpected level",
        ));
    }
    let relative = ((ct.scale() - expected.scale) / expected.scale).abs();
    // NaN (an absurd scale) fails this test too.
    if relative.is_nan() || relative > SCALE_TOLERANCE {
        return Err(ProtocolError::OffProtocol(
            "ciphertext at an unexpected scale",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ckks::{Encoder, Encryptor, KeyGenerator};

    #[test]
    fn only_the_expected_count_level_and_scale_pass() {
        let params = Parameters::preset("depth1-n12").unwrap();
        let sk = KeyGenerator::from_seed(&params, [3; 32]).gen_secret_key();
        let enc = Encoder::new(&params);
        let mut e = Encryptor::new(&params, &sk);
        let mut at = |level, scale| {
            wire::encode_ciphertext(
                &params,
                &e.encrypt(&enc.encode(&[0.5], level, scale).unwrap())
                    .unwrap(),
            )
        };
        let ok = vec![at(1, params.default_scale()); 2];
        let want = Expected::fresh(&params, 2..=2, 1);
        assert_eq!(decode_expected(&params, &ok, &want).unwrap().len(), 2);
        for (bad, what) in [
            (vec![at(1, params.default_scale()); 3], "count"),
            (vec![at(0, params.default_scale()); 2], "level"),
            (vec![at(1, 2f64.powi(40)); 2], "scale"),
            (
                vec![at(1, params.default_scale() * (1.0 + 1e-6)); 2],
                "scale",
            ),
        ] {
            let err = decode_expected(&params, &bad, &want).unwrap_err();
            assert!(
                matches!(err, ProtocolError::OffProtocol(_)),
                "{what}: {err}"
            );
        }
        // Compact replies: only with exactly the expected dropped bits, never a full one.
        let drop = wire::DroppedBits { c0: 6, c1: 1 };
        let ct = e
            .encrypt(&enc.encode(&[0.5], 0, params.default_scale()).unwrap())
            .unwrap();
        let compact = vec![wire::encode_compact_ciphertext(&params, &ct, drop).unwrap()];
        let want = Expected::fresh(&params, 1..=1, 0).compact(drop);
        assert_eq!(decode_expected(&params, &compact, &want).unwrap().len(), 1);
        let other = Expected::fresh(&params, 1..=1, 0).compact(wire::DroppedBits { c0: 5, c1: 1 });
        assert!(matches!(
            decode_expected(&params, &compact, &other),
            Err(ProtocolError::OffProtocol(_))
        ));
        let full = vec![wire::encode_ciphertext(&params, &ct)];
        assert!(decode_expected(&params, &full, &want).is_err());
        assert!(decode_expected(&params, &compact, &Expected::fresh(&params, 1..=1, 0)).is_err());
    }
}
