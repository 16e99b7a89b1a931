//! The client role: owns the secret key, encrypts the slice, decrypts the answer. Decrypted
//! values never leave this side.

use crate::ckks::{Parameters, wire};
use crate::model::classifier::{ClassMaps, packing};
use crate::protocol::ProtocolError;
use crate::protocol::client_keys::ClientKeys;
use crate::protocol::expect::{Expected, decode_expected};
use crate::protocol::ledger::{Ledger, Side};
use crate::protocol::messages::{Message, Task};
use std::time::Instant;

pub struct ClassifierClient {
    pub(in crate::protocol) keys: ClientKeys,
    pub ledger: Ledger,
    /// Whether the request in flight asked for the class-activation map: the answer must
    /// match it (a server cannot push a map nobody asked for, nor withhold one silently).
    asked_map: bool,
}

/// The decrypted answer.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Classification {
    pub logits: [f64; packing::CLASSES],
    pub probabilities: [f64; packing::CLASSES],
    /// The decrypted class-activation maps, when the request asked for them.
    pub maps: Option<ClassMaps>,
}

/// The model's softmax on a fixed-size logit array (one implementation, in `model`).
pub fn softmax<const K: usize>(z: &[f64; K]) -> [f64; K] {
    let p = crate::model::classifier::softmax(z);
    std::array::from_fn(|i| p[i])
}

/// Exact bytes of the setup message (parameters + evaluation keys), before generating keys.
pub fn setup_bytes(params: &Parameters) -> usize {
    let envelope = 10 + 3 * 8 + 1;
    envelope
        + wire::encode_parameters(params).len()
        + wire::evaluation_keys_size(
            params,
            packing::rotations().len() + usize::from(packing::NEEDS_CONJUGATION),
            true,
        )
}

/// Exact bytes of the encrypted image (4 seeded ciphertexts), known as soon as a slice loads.
pub fn request_bytes(params: &Parameters) -> usize {
    10 + packing::INPUT_CTS * (8 + wire::ciphertext_size(params, packing::LEVELS_NEEDED, true))
}

impl ClassifierClient {
    /// Fresh keys for a new session (OS-seeded randomness).
    pub fn new(preset: &str) -> Result<Self, ProtocolError> {
        let start = Instant::now();
        let keys = ClientKeys::new(preset)?;
        let mut ledger = Ledger::default();
        ledger.record("Secret key", Side::Client, start.elapsed(), 0);
        Ok(Self {
            keys,
            ledger,
            asked_map: false,
        })
    }

    pub fn params(&self) -> &Parameters {
        self.keys.params()
    }

    /// Parameters plus relinearisation and exactly the Galois keys the packing plan needs.
    pub fn setup_message(&mut self) -> Vec<u8> {
        let start = Instant::now();
        let keys = self
            .keys
            .evaluation_keys(&packing::rotations(), packing::NEEDS_CONJUGATION);
        let params = self.keys.params();
        let eval_keys = wire::encode_evaluation_keys(params, &keys);
        let msg = Message::Setup {
            task: Task::ClassifyKidney,
            params: wire::encode_parameters(params),
            eval_keys,
        }
        .encode();
        self.ledger
            .record("Keys", Side::Client, start.elapsed(), msg.len());
        msg
    }

    /// Lays out, encodes and encrypts a preprocessed 256×256 image (seeded, bit-packed).
    pub fn encrypt_image(&mut self, image: &[f32]) -> Result<Vec<u8>, ProtocolError> {
        self.encrypt_request(image, false)
    }

    /// [`encrypt_image`](Self::encrypt_image), asking the server for the encrypted
    /// class-activation map as well (`heat_map`; issue 19).
    pub fn encrypt_request(
        &mut self,
        image: &[f32],
        heat_map: bool,
    ) -> Result<Vec<u8>, ProtocolError> {
        let start = Instant::now();
        let params = self.keys.params();
        let mut enc = self.keys.encryptor();
        let inputs = packing::input_layout(image)
            .iter()
            .map(|v| {
                Ok(wire::encode_ciphertext(
                    params,
                    &enc.encrypt(&self.keys.encoder().encode_complex(
                        v,
                        packing::LEVELS_NEEDED,
                        params.default_scale(),
                    )?)?,
                ))
            })
            .collect::<Result<Vec<_>, ProtocolError>>()?;
        let msg = if heat_map {
            Message::ClassifyMapRequest { inputs }
        } else {
            Message::ClassifyRequest { inputs }
        }
        .encode();
        self.asked_map = heat_map;
        self.ledger
            .record("Encode & encrypt", Side::Client, start.elapsed(), msg.len());
        Ok(msg)
    }

    /// Decrypts the server's encrypted logits and applies softmax locally.
    pub fn decrypt_response(&mut self, response: &[u8]) -> Result<Classification, ProtocolError> {
        let start = Instant::now();
        let expected_kind = if self.asked_map {
            "ClassifyMapResponse"
        } else {
            "ClassifyResponse"
        };
        let (logits_bytes, map_bytes, server_seconds) = match Message::decode(response)? {
            Message::ClassifyResponse {
                logits,
                server_seconds,
            } if !self.asked_map => (logits, None, server_seconds),
            Message::ClassifyMapResponse {
                logits,
                map,
                server_seconds,
            } if self.asked_map => (logits, Some(map), server_seconds),
            Message::Error { message } => return Err(ProtocolError::Refused(message)),
            other => {
                return Err(ProtocolError::Unexpected {
                    expected: expected_kind,
                    found: other.kind_name(),
                });
            }
        };
        self.ledger.record(
            "Evaluate on ciphertext",
            Side::Server,
            std::time::Duration::from_secs_f64(server_seconds.max(0.0)),
            response.len(),
        );
        // Only the one logit ciphertext the circuit produces: level 0, its exact scale.
        let params = self.keys.params();
        let expected = Expected {
            count: 1..=1,
            level: 0,
            scale: packing::output_scale(params).ok_or(ProtocolError::OffProtocol(
                "parameters without the model's levels",
            ))?,
            compact: None,
        };
        let ct = decode_expected(params, std::slice::from_ref(&logits_bytes), &expected)?
            .into_iter()
            .next()
            .ok_or(ProtocolError::OffProtocol("no logit ciphertext"))?;
        let values = self.keys.decrypt(&ct)?;
        let logits: [f64; packing::CLASSES] =
            std::array::from_fn(|i| values.get(i).copied().unwrap_or(f64::NAN));
        // The map ciphertext: the same level and scale as the logits.
        let maps = match map_bytes {
            Some(bytes) => {
                let ct = decode_expected(params, std::slice::from_ref(&bytes), &expected)?
                    .into_iter()
                    .next()
                    .ok_or(ProtocolError::OffProtocol("no map ciphertext"))?;
                Some(packing::unpack_map(&self.keys.decrypt(&ct)?))
            }
            None => None,
        };
        self.ledger
            .record("Decrypt", Side::Client, start.elapsed(), 0);
        Ok(Classification {
            logits,
            probabilities: softmax(&logits),
            maps,
        })
    }
}
