//! The denoising client: owns the secret key; tiles, encrypts, applies the exact ReLU
//! between rounds and decrypts the result. Decrypted values never leave this side: what goes
//! back to the server is always a fresh encryption (new seed, new noise).

use crate::ckks::{Ciphertext, EvaluationKeys, Parameters, wire};
use crate::model::denoiser::he::{
    REPLY_LEVEL, TILES_PER_CIPHERTEXT, input_level, needs_conjugation, packed_count, rotations,
};
use crate::model::denoiser::tiling::{pack_pairs, unpack_pairs};
use crate::model::denoiser::weights::LayerSpec;
use crate::model::denoiser::{ModelKind, TilePlan};
use crate::protocol::ProtocolError;
use crate::protocol::client_keys::ClientKeys;
use crate::protocol::expect::{Expected, decode_expected};
use crate::protocol::ledger::{Ledger, Side};
use crate::protocol::messages::{Message, Task};
use num_complex::Complex64;
use rayon::prelude::*;
use std::time::{Duration, Instant};

/// The parameter set of a denoising session. The linear model is one convolution: one
/// level, on N = 2^13 for its 64×64 tiles (less halo per pixel than N = 2^12 allows). An
/// interactive round unmasks, convolves and masks: three levels (`he::INTERACTIVE_LEVELS`),
/// with two-prime key-switching digits.
pub fn preset(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::Linear => "depth1-n13",
        ModelKind::Nonlinear => "depth3-n13-p2",
    }
}

/// Bits the server leaves out of every reply ciphertext's c0 and c1, for both models (level 0
/// of `depth3-n13-p2`: q0 ≈ 2^44, Δ = 2^32; of `depth1-n13`: q0 ≈ 2^38, Δ = 2^30; see
/// `wire::DroppedBits`). Measured on real 512×512 slices (README, "Encrypted denoising
/// cost"): 7–10 % fewer bytes down and max |encrypted − plaintext| unchanged (6–8e-6); c1
/// keeps every bit, since one dropped bit of c1 alone raised it to 4e-5.
pub const REPLY_DROPPED_BITS: wire::DroppedBits = wire::DroppedBits { c0: 6, c1: 0 };

/// Upper clamp of the client's ReLU outputs. Honest masked pre-activations stay below
/// `max_scale` (4) × the largest pre-activation of the shipped model (< 10) by far; the
/// clamp makes decrypt → ReLU → encode total, so no decrypted value can make re-encoding
/// fail and show the server a value-dependent abort.
pub const RELU_CLAMP: f64 = 1024.0;

/// The client's ReLU: total on every input (non-finite values become 0, the rest are
/// clamped to [0, `RELU_CLAMP`]), so what it returns never depends on an error path.
pub fn clamped_relu(x: f64) -> f64 {
    if x.is_finite() {
        x.clamp(0.0, RELU_CLAMP)
    } else {
        0.0
    }
}

pub struct DenoiseClient {
    pub(in crate::protocol) keys: ClientKeys,
    kind: ModelKind,
    layers: Vec<LayerSpec>,
    radius: usize,
    tile_h: usize,
    tile_w: usize,
    plan: Option<TilePlan>,
    pub ledger: Ledger,
    record_seen: bool,
    seen: Vec<Vec<Vec<f64>>>,
    /// The ReLU round the client waits for next (1-based); `relu_rounds() + 1` means the
    /// result; 0 before an image was sent.
    next_round: usize,
}

/// What the server returned after a request or a round.
pub enum Reply {
    /// Send these bytes back (the next round's activations).
    Continue(Vec<u8>),
    /// The denoised image (rows × cols, [0, 1] scale, not clamped).
    Done(Vec<f64>),
}

impl DenoiseClient {
    /// The model's public shape (channels and kernel of every layer).
    pub fn layers(&self) -> &[LayerSpec] {
        &self.layers
    }

    /// Fresh keys for a new session; `layers` is the public shape of the model.
    pub fn new(kind: ModelKind, layers: &[LayerSpec]) -> Result<Self, ProtocolError> {
        let start = Instant::now();
        let keys = ClientKeys::new(preset(kind))?;
        let radius = layers.iter().map(|l| l.k / 2).sum();
        let (tile_h, tile_w) = TilePlan::shape_for(keys.params().slots(), radius)?;
        let mut ledger = Ledger::default();
        ledger.record("Secret key", Side::Client, start.elapsed(), 0);
        Ok(Self {
            keys,
            kind,
            layers: layers.to_vec(),
            radius,
            tile_h,
            tile_w,
            plan: None,
            ledger,
            record_seen: false,
            seen: Vec::new(),
            next_round: 0,
        })
    }

    pub fn params(&self) -> &Parameters {
        self.keys.params()
    }

    /// Audit hook: keep every (masked) vector this client decrypts in the rounds, so tests
    /// and audits can check what a client learns. Off by default.
    pub fn keep_decrypted(&mut self, on: bool) {
        self.record_seen = on;
    }

    /// What the client decrypted in each round of the last image (with `keep_decrypted`).
    pub fn decrypted_rounds(&self) -> &[Vec<Vec<f64>>] {
        &self.seen
    }

    /// Tiles of the current image.
    pub fn tiles(&self) -> usize {
        self.plan.as_ref().map_or(0, |p| p.tiles.len())
    }

    pub fn radius(&self) -> usize {
        self.radius
    }

    /// ReLU rounds of the model (interactive round trips before the result).
    pub fn relu_rounds(&self) -> usize {
        self.layers.len().saturating_sub(1)
    }

    pub fn tile_shape(&self) -> (usize, usize) {
        (self.tile_h, self.tile_w)
    }

    /// Exactly the rotations the convolutions need (no relinearisation key: no ct×ct product).
    pub fn rotations(&self) -> Vec<i64> {
        rotations(&self.layers, self.tile_w)
    }

    pub fn setup_message(&mut self) -> Vec<u8> {
        let start = Instant::now();
        let mut galois = std::collections::BTreeMap::new();
        for k in self.rotations() {
            let g = self.keys.params().ring_q().galois_element_for_rotation(k);
            galois.insert(g, self.keys.galois_key(g));
        }
        if needs_conjugation(self.layers.len()) {
            // The rounds mask the real and imaginary tiles apart (`he::mask_parts`).
            let g = self.keys.params().ring_q().galois_element_conjugate();
            galois.insert(g, self.keys.galois_key(g));
        }
        let keys = EvaluationKeys {
            relin: None,
            galois,
        };
        let msg = Message::Setup {
            task: match self.kind {
                ModelKind::Linear => Task::DenoiseLinear,
                ModelKind::Nonlinear => Task::DenoiseNonlinear,
            },
            params: wire::encode_parameters(self.keys.params()),
            eval_keys: wire::encode_evaluation_keys(self.keys.params(), &keys),
        }
        .encode();
        self.ledger
            .record("Keys", Side::Client, start.elapsed(), msg.len());
        msg
    }

    /// Fresh encryptions of the inputs of `layer`, at the level that layer uses.
    fn encrypt_all(
        &self,
        vectors: &[Vec<Complex64>],
        layer: usize,
    ) -> Result<Vec<Vec<u8>>, ProtocolError> {
        let params = self.keys.params();
        let (level, scale) = (
            input_level(layer, self.layers.len()),
            params.default_scale(),
        );
        vectors
            .par_iter()
            .map_init(
                || self.keys.encryptor(),
                |enc, v| {
                    let pt = self.keys.encoder().encode_complex(v, level, scale)?;
                    Ok(wire::encode_ciphertext(params, &enc.encrypt(&pt)?))
                },
            )
            .collect()
    }

    /// Ciphertexts that carry this image's tiles (two per ciphertext).
    fn tile_ciphertexts(&self) -> usize {
        packed_count(self.tiles())
    }

    /// Decrypts ciphertexts that carry two tiles each.
    fn decrypt_pairs(&self, cts: &[Ciphertext]) -> Result<Vec<Vec<Complex64>>, ProtocolError> {
        cts.par_iter()
            .map(|ct| Ok(self.keys.decrypt_complex(ct)?))
            .collect()
    }

    /// What the server's reply for the pending step must hold: `count` ciphertexts at
    /// `REPLY_LEVEL` and the default scale.
    fn expected_reply(&self, count: usize) -> Expected {
        Expected::fresh(self.keys.params(), count..=count, REPLY_LEVEL).compact(REPLY_DROPPED_BITS)
    }

    /// Tiles (halo = receptive-field radius), encodes and encrypts a `rows × cols` image in
    /// [0, 1].
    pub fn encrypt_image(
        &mut self,
        image: &[f32],
        rows: usize,
        cols: usize,
    ) -> Result<Vec<u8>, ProtocolError> {
        let start = Instant::now();
        let plan = TilePlan::with_shape(rows, cols, self.radius, self.tile_h, self.tile_w)?;
        let tiles = self.encrypt_all(&pack_pairs(&plan.layout(image)?), 0)?;
        self.plan = Some(plan);
        self.seen.clear();
        self.next_round = 1;
        let msg = Message::DenoiseRequest { tiles }.encode();
        self.ledger.record(
            "Tile, encode & encrypt",
            Side::Client,
            start.elapsed(),
            msg.len(),
        );
        Ok(msg)
    }

    /// Handles the server's reply: a round of masked pre-activations (decrypt, ReLU,
    /// re-encrypt fresh) or the final result (decrypt, reassemble).
    pub fn handle_reply(&mut self, reply: &[u8]) -> Result<Reply, ProtocolError> {
        let start = Instant::now();
        match Message::decode(reply)? {
            Message::DenoiseMasked {
                round,
                cts,
                server_seconds,
            } => {
                self.ledger.record(
                    format!("Round {round}: server convolution + mask"),
                    Side::Server,
                    Duration::from_secs_f64(server_seconds.max(0.0)),
                    0,
                );
                self.ledger.record(
                    format!("Round {round}: masked pre-activations ↓"),
                    Side::Wire,
                    Duration::ZERO,
                    reply.len(),
                );
                let t = Instant::now();
                let round_index = round as usize;
                if round_index != self.next_round || round_index > self.relu_rounds() {
                    return Err(ProtocolError::OffProtocol("ReLU round out of order"));
                }
                let channels = self.layers[round_index - 1].cout;
                let decoded = decode_expected(
                    self.keys.params(),
                    &cts,
                    &self.expected_reply(self.tile_ciphertexts() * channels),
                )?;
                // Free each stage once the next exists: the round's peak memory is first
                // touched, and that costs time.
                drop(cts);
                let mut values = self.decrypt_pairs(&decoded)?;
                drop(decoded);
                if self.record_seen {
                    // Both tiles of every ciphertext, as separate vectors.
                    let both = values.len() * TILES_PER_CIPHERTEXT;
                    self.seen.push(unpack_pairs(&values, both)?);
                }
                values.par_iter_mut().for_each(|v| {
                    v.iter_mut().for_each(|z| {
                        *z = Complex64::new(clamped_relu(z.re), clamped_relu(z.im));
                    });
                });
                let cts = self.encrypt_all(&values, round_index)?;
                self.next_round += 1;
                let msg = Message::DenoiseActivations { round, cts }.encode();
                self.ledger.record(
                    format!("Round {round}: decrypt, ReLU, re-encrypt"),
                    Side::Client,
                    t.elapsed(),
                    0,
                );
                self.ledger.record(
                    format!("Round {round}: fresh activations ↑"),
                    Side::Wire,
                    Duration::ZERO,
                    msg.len(),
                );
                Ok(Reply::Continue(msg))
            }
            Message::DenoiseResult {
                tiles,
                server_seconds,
            } => {
                self.ledger.record(
                    "Server: final convolution",
                    Side::Server,
                    Duration::from_secs_f64(server_seconds.max(0.0)),
                    0,
                );
                self.ledger
                    .record("Result ↓", Side::Wire, Duration::ZERO, reply.len());
                let plan = self.plan.as_ref().ok_or(ProtocolError::Unexpected {
                    expected: "DenoiseResult after a request",
                    found: "DenoiseResult",
                })?;
                if self.next_round != self.relu_rounds() + 1 {
                    return Err(ProtocolError::OffProtocol(
                        "result before the last ReLU round",
                    ));
                }
                let cts = decode_expected(
                    self.keys.params(),
                    &tiles,
                    &self.expected_reply(self.tile_ciphertexts()),
                )?;
                let values = unpack_pairs(&self.decrypt_pairs(&cts)?, plan.tiles.len())?;
                let image = plan.assemble(&values)?;
                self.next_round = 0;
                self.ledger
                    .record("Decrypt & reassemble", Side::Client, start.elapsed(), 0);
                Ok(Reply::Done(image))
            }
            Message::Error { message } => Err(ProtocolError::Refused(message)),
            other => Err(ProtocolError::Unexpected {
                expected: "DenoiseMasked or DenoiseResult",
                found: other.kind_name(),
            }),
        }
    }
}
