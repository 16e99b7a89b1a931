//! The server role: holds the model and the client's evaluation keys, computes on ciphertexts.
//!
//! It only ever sees bytes. It names no secret-key type (a test checks this file), and no wire
//! format can carry a secret key, so it cannot receive one.

use crate::ckks::{Encoder, EvaluationKeys, Evaluator, Parameters, Plaintext, wire};
use crate::model::backend::CkksBackend;
use crate::model::classifier::he::{ApproxParams, PreparedClassifier};
use crate::model::classifier::packing;
use crate::protocol::ProtocolError;
use crate::protocol::admission::{admit_parameters, missing_rotations};
use crate::protocol::expect::{Expected, decode_expected};
use crate::protocol::messages::{Message, Task};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// Parameter sets this server runs; anything else is refused. Only the packing's own: each
/// allowed set costs the server one more copy of the prepared model (about 0.54 GB for v1.4.0), which
/// a client could otherwise make it encode by choosing a deeper set.
pub const ALLOWED_PRESETS: [&str; 1] = [packing::PRESET];

/// The classifier as a server holds it: the Approx-CNN members and, per parameter set, their
/// weight plaintexts, encoded once and shared by every session. They do not depend on the
/// client's keys, and at N = 2^14 they take about 0.54 GB per (32, 64)-channel member (784
/// conv2 plaintexts of four limbs and 128 conv1 plaintexts of seven, counted from the packing
/// plan), far more than a session's keys (75 MB).
pub struct ClassifierModel {
    /// The Approx-CNN member(s); the answer is their mean logits.
    weights: Vec<ApproxParams>,
    /// Prepared plaintexts by parameter fingerprint (at most one per allowed preset).
    prepared: Mutex<HashMap<u64, Arc<PreparedClassifier<Plaintext>>>>,
}

impl ClassifierModel {
    pub fn new(weights: Vec<ApproxParams>) -> Self {
        Self {
            weights,
            prepared: Mutex::new(HashMap::new()),
        }
    }

    /// Bytes of the prepared plaintexts held (every parameter set prepared so far).
    pub fn prepared_bytes(&self) -> u64 {
        let prepared = self.prepared.lock().unwrap_or_else(PoisonError::into_inner);
        prepared
            .values()
            .flat_map(|m| m.plaintexts())
            .map(|p| (p.poly().limbs() * p.poly().n() * 8) as u64)
            .sum()
    }

    /// The prepared model for `backend`'s parameter set, encoded on first use. The lock is
    /// held while encoding, so concurrent first sessions encode it once.
    fn prepared(
        &self,
        backend: &CkksBackend<'_>,
    ) -> Result<Arc<PreparedClassifier<Plaintext>>, ProtocolError> {
        let key = backend.eval.params().fingerprint();
        let mut prepared = self.prepared.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(m) = prepared.get(&key) {
            return Ok(m.clone());
        }
        let model = Arc::new(PreparedClassifier::new(
            backend,
            &self.weights,
            packing::LEVELS_NEEDED,
        )?);
        prepared.insert(key, model.clone());
        Ok(model)
    }
}

struct Session {
    params: Parameters,
    eval: Evaluator,
    encoder: Encoder,
    model: Arc<PreparedClassifier<Plaintext>>,
}

pub struct Server {
    model: Arc<ClassifierModel>,
    session: Option<Session>,
    /// The full text of the last failure, for the operator's log; the client only gets
    /// `ProtocolError::public_reason`.
    last_error: Option<String>,
}

/// Bytes the evaluation keys occupy in memory (what a session costs the server).
pub fn key_memory_bytes(params: &Parameters, keys: &EvaluationKeys) -> u64 {
    let limbs = (params.max_level() + 1 + params.digit_size()) as u64;
    let per_key = params.digits_at(params.max_level()) as u64 * 2 * limbs * params.n() as u64 * 8;
    per_key * (keys.galois.len() as u64 + u64::from(keys.relin.is_some()))
}

impl Server {
    /// A server with its own copy of the model.
    pub fn new(weights: Vec<ApproxParams>) -> Self {
        Self::shared(Arc::new(ClassifierModel::new(weights)))
    }

    /// A server whose sessions share `model`'s prepared plaintexts with other servers
    /// (`privact serve` holds one per parameter set, whatever the number of sessions).
    pub fn shared(model: Arc<ClassifierModel>) -> Self {
        Self {
            model,
            session: None,
            last_error: None,
        }
    }

    /// The full text of the last request that failed (server-side log only).
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Answers one request; failures become an `Error` message with a fixed public reason
    /// (details stay in `last_error`), never a panic.
    pub fn handle(&mut self, request: &[u8]) -> Vec<u8> {
        match self.try_handle(request) {
            Ok(reply) => reply.encode(),
            Err(e) => e.reply(&mut self.last_error),
        }
    }

    fn try_handle(&mut self, request: &[u8]) -> Result<Message, ProtocolError> {
        match Message::decode(request)? {
            Message::Setup {
                task: Task::ClassifyKidney,
                params,
                eval_keys,
            } => self.setup(&params, &eval_keys),
            Message::ClassifyRequest { inputs } => self.classify(&inputs, false),
            Message::ClassifyMapRequest { inputs } => self.classify(&inputs, true),
            other => Err(ProtocolError::Unexpected {
                expected: "Setup, ClassifyRequest or ClassifyMapRequest",
                found: other.kind_name(),
            }),
        }
    }

    fn setup(&mut self, params: &[u8], eval_keys: &[u8]) -> Result<Message, ProtocolError> {
        let params = admit_parameters(params, &ALLOWED_PRESETS)?;
        let keys = wire::decode_evaluation_keys(&params, eval_keys)?;
        let missing = missing_rotations(&params, &keys, &packing::rotations());
        let conjugation = keys
            .galois_key(params.ring_q().galois_element_conjugate())
            .is_some();
        if !missing.is_empty()
            || keys.relin.is_none()
            || (packing::NEEDS_CONJUGATION && !conjugation)
        {
            return Err(ProtocolError::KeysIncomplete(format!(
                "missing rotations {missing:?}, the conjugation key or the relinearisation key"
            )));
        }
        let key_memory_bytes = key_memory_bytes(&params, &keys);
        let eval = Evaluator::new(&params, Arc::new(keys));
        let encoder = Encoder::new(&params);
        let model = self.model.prepared(&CkksBackend {
            eval: &eval,
            encoder: &encoder,
        })?;
        self.session = Some(Session {
            params,
            eval,
            encoder,
            model,
        });
        Ok(Message::SetupAck { key_memory_bytes })
    }

    /// The logits, and with `with_map` the class-activation map too (issue 19).
    fn classify(&mut self, inputs: &[Vec<u8>], with_map: bool) -> Result<Message, ProtocolError> {
        let s = self.session.as_ref().ok_or(ProtocolError::NoSession)?;
        let start = Instant::now();
        // The model's plaintexts are made for exactly this level and scale.
        let cts = decode_expected(
            &s.params,
            inputs,
            &Expected::fresh(
                &s.params,
                packing::INPUT_CTS..=packing::INPUT_CTS,
                packing::LEVELS_NEEDED,
            ),
        )?;
        let backend = CkksBackend {
            eval: &s.eval,
            encoder: &s.encoder,
        };
        if with_map {
            let (logits, map) = s.model.evaluate_with_map(&backend, &cts)?;
            return Ok(Message::ClassifyMapResponse {
                logits: wire::encode_ciphertext(&s.params, &logits),
                map: wire::encode_ciphertext(&s.params, &map),
                server_seconds: start.elapsed().as_secs_f64(),
            });
        }
        let logits = s.model.evaluate(&backend, &cts)?;
        Ok(Message::ClassifyResponse {
            logits: wire::encode_ciphertext(&s.params, &logits),
            server_seconds: start.elapsed().as_secs_f64(),
        })
    }
}
