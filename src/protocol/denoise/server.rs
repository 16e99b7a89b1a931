//! The denoising server: holds both denoisers and the client's evaluation keys, computes on
//! ciphertexts, masks every pre-activation before it leaves.
//!
//! It only ever sees bytes. It names no secret-key type (`leak_tests` scans this file too),
//! and no wire format can carry a secret key. Between rounds it keeps the masks and the
//! shuffle of the pending evaluation; the client only ever returns fresh ciphertexts.

use super::client::{REPLY_DROPPED_BITS, preset};
use crate::ckks::{Ciphertext, Encoder, Evaluator, Parameters, wire};
use crate::model::backend::CkksBackend;
use crate::model::denoiser::he::{
    Interactive, LinearHe, MaskPolicy, Step, input_level, model_rotations, needs_conjugation,
};
use crate::model::denoiser::{Denoiser, ModelKind, TilePlan};
use crate::protocol::ProtocolError;
use crate::protocol::admission::{admit_parameters, missing_rotations};
use crate::protocol::classify::server::key_memory_bytes;
use crate::protocol::expect::{Expected, decode_expected};
use crate::protocol::messages::{Message, Task};
use rayon::prelude::*;
use std::sync::Arc;
use std::time::Instant;

/// Largest number of tile ciphertexts in one request (two tiles each; a 2048×2048 slice needs
/// < 2048).
pub const MAX_TILES: usize = 4096;

struct Session {
    params: Parameters,
    eval: Evaluator,
    encoder: Encoder,
    kind: ModelKind,
    tile_w: usize,
    linear: Option<LinearHe>,
    pending: Option<Interactive<Ciphertext>>,
}

pub struct DenoiseServer {
    linear: Denoiser,
    nonlinear: Denoiser,
    policy: MaskPolicy,
    session: Option<Session>,
    /// The full text of the last failure, for the operator's log; the client only gets
    /// `ProtocolError::public_reason`.
    last_error: Option<String>,
}

impl DenoiseServer {
    pub fn new(linear: Denoiser, nonlinear: Denoiser) -> Self {
        Self::with_policy(linear, nonlinear, MaskPolicy::DEFAULT)
    }

    /// A server with another masking policy (tests compare masked and unmasked runs).
    pub fn with_policy(linear: Denoiser, nonlinear: Denoiser, policy: MaskPolicy) -> Self {
        Self {
            linear,
            nonlinear,
            policy,
            session: None,
            last_error: None,
        }
    }

    /// The full text of the last request that failed (server-side log only).
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Answers one message; failures become an `Error` message with a fixed public reason
    /// (details stay in `last_error`), never a panic.
    pub fn handle(&mut self, request: &[u8]) -> Vec<u8> {
        match self.try_handle(request) {
            Ok(reply) => reply.encode(),
            Err(e) => {
                // A failed round abandons the pending evaluation.
                if let Some(s) = self.session.as_mut() {
                    s.pending = None;
                }
                e.reply(&mut self.last_error)
            }
        }
    }

    fn model(&self, kind: ModelKind) -> &Denoiser {
        match kind {
            ModelKind::Linear => &self.linear,
            ModelKind::Nonlinear => &self.nonlinear,
        }
    }

    fn try_handle(&mut self, request: &[u8]) -> Result<Message, ProtocolError> {
        match Message::decode(request)? {
            Message::Setup {
                task,
                params,
                eval_keys,
            } => {
                let kind = match task {
                    Task::DenoiseLinear => ModelKind::Linear,
                    Task::DenoiseNonlinear => ModelKind::Nonlinear,
                    Task::ClassifyKidney => {
                        return Err(ProtocolError::Refused(
                            "this server denoises; it does not classify".into(),
                        ));
                    }
                };
                self.setup(kind, &params, &eval_keys)
            }
            Message::DenoiseRequest { tiles } => self.request(tiles),
            Message::DenoiseActivations { round, cts } => self.activations(round, cts),
            other => Err(ProtocolError::Unexpected {
                expected: "Setup, DenoiseRequest or DenoiseActivations",
                found: other.kind_name(),
            }),
        }
    }

    fn setup(
        &mut self,
        kind: ModelKind,
        params: &[u8],
        eval_keys: &[u8],
    ) -> Result<Message, ProtocolError> {
        // Each model runs on exactly one parameter set (`denoise::client::preset`).
        let params = admit_parameters(params, &[preset(kind)])?;
        let keys = wire::decode_evaluation_keys(&params, eval_keys)?;
        let model = self.model(kind);
        let (_, tile_w) = TilePlan::shape_for(params.slots(), model.radius())?;
        let missing = missing_rotations(&params, &keys, &model_rotations(model, tile_w));
        let conjugation = !needs_conjugation(model.layers.len())
            || keys
                .galois_key(params.ring_q().galois_element_conjugate())
                .is_some();
        if !missing.is_empty() || !conjugation {
            let mut what = Vec::new();
            if !missing.is_empty() {
                what.push(format!("rotations {missing:?}"));
            }
            if !conjugation {
                what.push("the conjugation key".to_string());
            }
            return Err(ProtocolError::KeysIncomplete(format!(
                "missing {}",
                what.join(" and ")
            )));
        }
        let key_memory_bytes = key_memory_bytes(&params, &keys);
        let eval = Evaluator::new(&params, Arc::new(keys));
        let encoder = Encoder::new(&params);
        let linear = match kind {
            ModelKind::Linear => Some(LinearHe::new(model, tile_w, params.max_level())?),
            ModelKind::Nonlinear => None,
        };
        self.session = Some(Session {
            params,
            eval,
            encoder,
            kind,
            tile_w,
            linear,
            pending: None,
        });
        Ok(Message::SetupAck { key_memory_bytes })
    }

    /// Fresh client encryptions only: degree 1, default scale, `count` of them, at the level
    /// the inputs of layer `layer` of `model` use (`he::input_level`).
    fn decode_fresh(
        params: &Parameters,
        cts: &[Vec<u8>],
        count: std::ops::RangeInclusive<usize>,
        model: &Denoiser,
        layer: usize,
    ) -> Result<Vec<Ciphertext>, ProtocolError> {
        let level = input_level(layer, model.layers.len());
        decode_expected(params, cts, &Expected::fresh(params, count, level))
    }

    /// The step's ciphertexts, compact (`REPLY_DROPPED_BITS`): the client only decrypts them.
    fn reply(
        s: &Session,
        step: Step<Ciphertext>,
        start: Instant,
    ) -> Result<Message, ProtocolError> {
        let encode = |cts: &[Ciphertext]| {
            cts.par_iter()
                .map(|c| wire::encode_compact_ciphertext(&s.params, c, REPLY_DROPPED_BITS))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(match step {
            Step::Masked { round, cts } => Message::DenoiseMasked {
                round: round as u32,
                cts: encode(&cts)?,
                server_seconds: start.elapsed().as_secs_f64(),
            },
            Step::Done(tiles) => Message::DenoiseResult {
                tiles: encode(&tiles)?,
                server_seconds: start.elapsed().as_secs_f64(),
            },
        })
    }

    /// Takes the wire bytes by value so that they are freed once decoded, before the
    /// evaluation allocates its own ciphertexts (every megabyte first touched costs time).
    fn request(&mut self, tiles: Vec<Vec<u8>>) -> Result<Message, ProtocolError> {
        let start = Instant::now();
        if tiles.len() > MAX_TILES {
            return Err(ProtocolError::TooLarge(format!(
                "{} tile ciphertexts exceed the limit of {MAX_TILES}",
                tiles.len()
            )));
        }
        let policy = self.policy;
        let model = match self.session.as_ref().map(|s| s.kind) {
            Some(k) => self.model(k).clone(),
            None => return Err(ProtocolError::NoSession),
        };
        let s = self.session.as_mut().ok_or(ProtocolError::NoSession)?;
        let cts = Self::decode_fresh(&s.params, &tiles, 1..=MAX_TILES, &model, 0)?;
        drop(tiles);
        let backend = CkksBackend {
            eval: &s.eval,
            encoder: &s.encoder,
        };
        let step = match &s.linear {
            Some(linear) => Step::Done(linear.evaluate(&backend, &cts)?),
            None => {
                let (state, step) =
                    Interactive::start(&backend, &model, s.tile_w, cts, policy, &mut rand::rng())?;
                s.pending = matches!(step, Step::Masked { .. }).then_some(state);
                step
            }
        };
        Self::reply(s, step, start)
    }

    fn activations(&mut self, round: u32, bytes: Vec<Vec<u8>>) -> Result<Message, ProtocolError> {
        let start = Instant::now();
        let policy = self.policy;
        let model = self.nonlinear.clone();
        let s = self.session.as_mut().ok_or(ProtocolError::NoSession)?;
        let mut state = s.pending.take().ok_or_else(|| {
            ProtocolError::Refused("no interactive evaluation is waiting for activations".into())
        })?;
        if round as usize != state.pending_round() {
            return Err(ProtocolError::Refused(format!(
                "activations for round {round}, but round {} is pending",
                state.pending_round()
            )));
        }
        let count = state.pending_count();
        let cts = Self::decode_fresh(&s.params, &bytes, count..=count, &model, round as usize)?;
        drop(bytes);
        let backend = CkksBackend {
            eval: &s.eval,
            encoder: &s.encoder,
        };
        let step = state.resume(&backend, &model, s.tile_w, cts, policy, &mut rand::rng())?;
        if matches!(step, Step::Masked { .. }) {
            s.pending = Some(state);
        }
        Self::reply(s, step, start)
    }
}
