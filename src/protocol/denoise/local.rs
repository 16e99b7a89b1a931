//! Denoising sessions inside one process: the server runs on its own thread behind a byte
//! channel, exactly as it would behind a socket. Keys are made once per session and uploaded
//! before the first slice; then any number of slices are denoised.
//!
//! A run reports every step as a [`DenoiseEvent`] to a callback whose answer decides whether
//! it goes on, so the desktop app (progress rows, *Cancel*) and the CLI (progress lines) share
//! this one loop. While the server computes, the callback hears `Waiting` about every 50 ms.

use super::client::{DenoiseClient, REPLY_DROPPED_BITS, Reply, preset};
use super::server::DenoiseServer;
use crate::ckks::{Parameters, wire};
use crate::model::denoiser::he::{
    MaskPolicy, input_level, needs_conjugation, packed_count, rotations,
};
use crate::model::denoiser::weights::{LayerSpec, specs};
use crate::model::denoiser::{Denoiser, ModelKind, TilePlan};
use crate::protocol::ProtocolError;
use crate::protocol::ledger::{Ledger, Side};
use crate::protocol::messages::Message;
use crate::protocol::transport::{ChannelTransport, Transport, channel_pair, serve_in_thread};
use std::ops::ControlFlow;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a waiting client asks its callback whether to go on.
const POLL: Duration = Duration::from_millis(50);

/// Bytes of one interactive round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RoundBytes {
    pub round: usize,
    /// Server → client (masked pre-activations).
    pub download: u64,
    /// Client → server (fresh activations).
    pub upload: u64,
}

/// What a session reports as it works.
#[derive(Clone, Debug, PartialEq)]
pub enum DenoiseEvent {
    /// Client: secret key and evaluation keys made; `bytes` is the setup message.
    KeysMade { seconds: f64, bytes: u64 },
    /// The server accepted the keys (upload + its session preparation).
    KeysUploaded {
        seconds: f64,
        server_key_memory: u64,
    },
    /// Client: the slice tiled, encoded and encrypted; `bytes` is the request.
    Encrypted {
        seconds: f64,
        bytes: u64,
        tiles: usize,
        /// The first tile's ciphertext exactly as it travels (what the server sees).
        first_ciphertext: Vec<u8>,
    },
    /// A message left for the server: the encrypted tiles (round 0) or the fresh activations
    /// of ReLU round `round`.
    Sent {
        round: usize,
        bytes: u64,
        seconds: f64,
    },
    /// Nothing from the server yet (about every 50 ms while it computes).
    Waiting,
    /// The server answered: masked pre-activations of ReLU round `round` (1-based), or the
    /// encrypted result (`None`). `server_seconds` is the server's own computing time.
    Received {
        round: Option<usize>,
        bytes: u64,
        server_seconds: f64,
    },
    /// Client: round `round` decrypted, ReLU applied, freshly encrypted; `bytes` go up next.
    Activations {
        round: usize,
        seconds: f64,
        bytes: u64,
    },
    /// Client: the result decrypted and reassembled.
    Decrypted { seconds: f64 },
}

/// The answer that lets a run go on.
pub const CONTINUE: ControlFlow<()> = ControlFlow::Continue(());

/// A callback for runs nobody watches.
pub fn ignore(_: &DenoiseEvent) -> ControlFlow<()> {
    CONTINUE
}

fn report(
    on: &mut dyn FnMut(&DenoiseEvent) -> ControlFlow<()>,
    event: DenoiseEvent,
) -> Result<(), ProtocolError> {
    match on(&event) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(()) => Err(ProtocolError::Cancelled),
    }
}

/// Pixel-channel values that cross the wire for one `rows × cols` slice (issue 18): up, the
/// input image and every hidden layer's activations (one value per pixel and channel); down,
/// every hidden layer's masked pre-activations and the output image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ValuesCrossing {
    pub up: u64,
    pub down: u64,
}

impl ValuesCrossing {
    pub fn new(layers: &[LayerSpec], rows: usize, cols: usize) -> Self {
        let pixels = (rows * cols) as u64;
        let hidden: u64 = layers
            .split_last()
            .map_or(0, |(_, h)| h.iter().map(|l| l.cout as u64).sum());
        let output = layers.last().map_or(1, |l| l.cout as u64);
        Self {
            up: pixels * (1 + hidden),
            down: pixels * (hidden + output),
        }
    }

    /// Bits on the wire per value crossing, (up, down): bytes × 8 ÷ values, per direction.
    pub fn bits_per_value(&self, upload_bytes: u64, download_bytes: u64) -> (f64, f64) {
        let per = |bytes: u64, values: u64| bytes as f64 * 8.0 / values.max(1) as f64;
        (per(upload_bytes, self.up), per(download_bytes, self.down))
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct DenoiseRun {
    /// The decrypted output, rows × cols on the [0, 1] scale (not clamped).
    #[serde(skip)]
    pub image: Vec<f64>,
    pub ledger: Ledger,
    pub setup: Ledger,
    /// ReLU rounds (0 for the linear model).
    pub rounds: Vec<RoundBytes>,
    pub tiles: usize,
    pub tile_shape: (usize, usize),
    /// All client → server bytes of this slice (input + every round's activations).
    pub upload_bytes: u64,
    /// All server → client bytes of this slice.
    pub download_bytes: u64,
    /// Pixel-channel values crossing in each direction, and the bits each cost on the wire.
    pub values: ValuesCrossing,
    pub bits_per_value_up: f64,
    pub bits_per_value_down: f64,
    pub eval_key_bytes: u64,
    pub server_key_memory: u64,
    /// The server's computing time for this slice, summed over its replies.
    pub server_seconds: f64,
    /// Wall time of this slice (encrypt → result decrypted).
    pub seconds: f64,
}

/// Exact sizes of a session's messages, known from the parameters, the model's public shape
/// and the image size before any key exists.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SizePlan {
    pub tiles: usize,
    /// Ciphertexts that carry the tiles (each way, and per channel in every round):
    /// `he::packed_count(tiles)`.
    pub ciphertexts: usize,
    pub tile_shape: (usize, usize),
    /// One fresh (seeded) ciphertext, as the client sends it.
    pub ciphertext_bytes: u64,
    /// The encrypted tiles.
    pub request_bytes: u64,
    /// Parameters and evaluation keys, once per session.
    pub setup_bytes: u64,
    /// The rotations the convolutions need (one Galois key each).
    pub rotations: Vec<i64>,
    pub galois_keys: usize,
    /// One Galois key.
    pub galois_key_bytes: u64,
    /// Per ReLU round: masked pre-activations down, fresh activations up.
    pub rounds: Vec<RoundBytes>,
    /// The encrypted result.
    pub result_bytes: u64,
}

impl SizePlan {
    /// The plan for a `rows × cols` slice and a model of shape `layers` on its denoising
    /// preset (`denoise::client::preset`).
    pub fn new(
        kind: ModelKind,
        layers: &[LayerSpec],
        rows: usize,
        cols: usize,
    ) -> Result<Self, ProtocolError> {
        Self::with_params(&Parameters::preset(preset(kind))?, layers, rows, cols)
    }

    pub fn with_params(
        params: &Parameters,
        layers: &[LayerSpec],
        rows: usize,
        cols: usize,
    ) -> Result<Self, ProtocolError> {
        let radius: usize = layers.iter().map(|l| l.k / 2).sum();
        let (tile_h, tile_w) = TilePlan::shape_for(params.slots(), radius)?;
        let tiles = TilePlan::with_shape(rows, cols, radius, tile_h, tile_w)?
            .tiles
            .len();
        let rotations = rotations(layers, tile_w);
        let rq = params.ring_q();
        let mut galois: std::collections::BTreeSet<_> = rotations
            .iter()
            .map(|&k| rq.galois_element_for_rotation(k))
            .collect();
        if needs_conjugation(layers.len()) {
            galois.insert(rq.galois_element_conjugate());
        }
        // Ciphertexts that carry the image's tiles (two each), up and back and per channel.
        let carried = packed_count(tiles);
        // Fresh encryptions travel at the level their layer uses.
        let fresh = |layer| wire::ciphertext_size(params, input_level(layer, layers.len()), true);
        // Server outputs leave at the lowest level, compact (the client only decrypts them).
        let computed = wire::compact_ciphertext_size(params, REPLY_DROPPED_BITS);
        // Envelope header; a list field (length, count, length-prefixed items); an 8-byte scalar.
        let header = 10;
        let list = |n: usize, each: usize| 8 + 4 + n * (8 + each);
        let scalar = 8 + 8;
        let hidden = layers.split_last().map_or(&[][..], |(_, h)| h);
        let rounds = hidden
            .iter()
            .enumerate()
            .map(|(i, l)| RoundBytes {
                round: i + 1,
                download: (header + scalar + list(carried * l.cout, computed) + scalar) as u64,
                upload: (header + scalar + list(carried * l.cout, fresh(i + 1))) as u64,
            })
            .collect();
        let keys = |g| wire::evaluation_keys_size(params, g, false);
        Ok(Self {
            tiles,
            ciphertexts: carried,
            tile_shape: (tile_h, tile_w),
            ciphertext_bytes: fresh(0) as u64,
            request_bytes: (header + list(carried, fresh(0))) as u64,
            setup_bytes: (header
                + 3 * 8
                + 1
                + wire::encode_parameters(params).len()
                + keys(galois.len())) as u64,
            galois_keys: galois.len(),
            galois_key_bytes: (keys(1) - keys(0)) as u64,
            rotations,
            rounds,
            result_bytes: (header + list(carried, computed) + scalar) as u64,
        })
    }

    /// Client → server bytes of one slice (tiles + every round's activations).
    pub fn upload_bytes(&self) -> u64 {
        self.request_bytes + self.rounds.iter().map(|r| r.upload).sum::<u64>()
    }

    /// Server → client bytes of one slice (every round's pre-activations + the result).
    pub fn download_bytes(&self) -> u64 {
        self.result_bytes + self.rounds.iter().map(|r| r.download).sum::<u64>()
    }

    /// Planned bits per value crossing, (up, down) (see [`ValuesCrossing`]).
    pub fn bits_per_value(&self, values: &ValuesCrossing) -> (f64, f64) {
        values.bits_per_value(self.upload_bytes(), self.download_bytes())
    }
}

pub struct DenoiseSession {
    client: DenoiseClient,
    transport: ChannelTransport,
    server: Option<JoinHandle<()>>,
    /// The setup message until the keys are uploaded.
    pending_setup: Option<Vec<u8>>,
    /// A message is out and its reply has not been read (a cancelled run).
    in_flight: bool,
    pub setup_ledger: Ledger,
    pub server_key_memory: u64,
    pub eval_key_bytes: u64,
}

impl DenoiseSession {
    /// Starts a server thread with both models and uploads fresh keys for `kind`.
    pub fn start(
        kind: ModelKind,
        linear: Denoiser,
        nonlinear: Denoiser,
        policy: MaskPolicy,
    ) -> Result<Self, ProtocolError> {
        Self::start_with(kind, linear, nonlinear, policy, &mut ignore)
    }

    /// [`start`](Self::start), reporting progress (and stopping when `on` says so).
    pub fn start_with(
        kind: ModelKind,
        linear: Denoiser,
        nonlinear: Denoiser,
        policy: MaskPolicy,
        on: &mut dyn FnMut(&DenoiseEvent) -> ControlFlow<()>,
    ) -> Result<Self, ProtocolError> {
        let mut session = Self::new_with(kind, linear, nonlinear, policy, on)?;
        session.upload_keys(on)?;
        Ok(session)
    }

    /// Starts the server thread and makes fresh keys without uploading them: the first
    /// [`denoise_with`](Self::denoise_with) sends them, right after encrypting its tiles.
    pub fn new_with(
        kind: ModelKind,
        linear: Denoiser,
        nonlinear: Denoiser,
        policy: MaskPolicy,
        on: &mut dyn FnMut(&DenoiseEvent) -> ControlFlow<()>,
    ) -> Result<Self, ProtocolError> {
        let layers = specs(match kind {
            ModelKind::Linear => &linear,
            ModelKind::Nonlinear => &nonlinear,
        });
        let (client_end, server) = serve_in_thread("privact-denoise-server", move || {
            let mut server = DenoiseServer::with_policy(linear, nonlinear, policy);
            move |request: &[u8]| server.handle(request)
        })?;
        Self::with_transport(kind, &layers, client_end, Some(server), on)
    }

    /// A session with `privact serve` at `endpoint` (issue 17): fresh keys for `kind`, made
    /// here and uploaded by the first denoising; `layers` is the model's public shape (the
    /// server holds the weights).
    pub fn connect_with(
        kind: ModelKind,
        layers: &[crate::model::denoiser::weights::LayerSpec],
        endpoint: &crate::protocol::transport::http_client::Endpoint,
        on: &mut dyn FnMut(&DenoiseEvent) -> ControlFlow<()>,
    ) -> Result<Self, ProtocolError> {
        let transport = crate::protocol::transport::http_client::connect(endpoint)?;
        let mut session = Self::with_transport(kind, layers, transport, None, on)?;
        session.upload_keys(on)?;
        Ok(session)
    }

    fn with_transport(
        kind: ModelKind,
        layers: &[crate::model::denoiser::weights::LayerSpec],
        client_end: ChannelTransport,
        server: Option<JoinHandle<()>>,
        on: &mut dyn FnMut(&DenoiseEvent) -> ControlFlow<()>,
    ) -> Result<Self, ProtocolError> {
        let t = Instant::now();
        let mut client = DenoiseClient::new(kind, layers)?;
        let setup = client.setup_message();
        let bytes = setup.len() as u64;
        let setup_ledger = std::mem::take(&mut client.ledger);
        let session = Self {
            client,
            transport: client_end,
            server,
            pending_setup: Some(setup),
            in_flight: false,
            setup_ledger,
            server_key_memory: 0,
            eval_key_bytes: bytes,
        };
        report(
            on,
            DenoiseEvent::KeysMade {
                seconds: t.elapsed().as_secs_f64(),
                bytes,
            },
        )?;
        Ok(session)
    }

    /// Uploads the keys (once) and waits for the server to accept them.
    pub fn upload_keys(
        &mut self,
        on: &mut dyn FnMut(&DenoiseEvent) -> ControlFlow<()>,
    ) -> Result<(), ProtocolError> {
        let Some(setup) = self.pending_setup.take() else {
            return Ok(());
        };
        let t = Instant::now();
        self.transport.send(setup)?;
        self.in_flight = true;
        let ack = self.wait(on)?;
        self.server_key_memory = crate::protocol::setup_ack(&ack)?;
        let elapsed = t.elapsed();
        self.setup_ledger
            .record("Upload keys + server setup", Side::Server, elapsed, 0);
        report(
            on,
            DenoiseEvent::KeysUploaded {
                seconds: elapsed.as_secs_f64(),
                server_key_memory: self.server_key_memory,
            },
        )
    }

    /// The server's next message, asking `on` every 50 ms whether to keep waiting.
    fn wait(
        &mut self,
        on: &mut dyn FnMut(&DenoiseEvent) -> ControlFlow<()>,
    ) -> Result<Vec<u8>, ProtocolError> {
        loop {
            if let Some(bytes) = self.transport.recv_timeout(POLL)? {
                self.in_flight = false;
                return Ok(bytes);
            }
            report(on, DenoiseEvent::Waiting)?;
        }
    }

    pub fn client(&self) -> &DenoiseClient {
        &self.client
    }

    pub fn client_mut(&mut self) -> &mut DenoiseClient {
        &mut self.client
    }

    /// Encrypts, runs every round, decrypts.
    pub fn denoise(
        &mut self,
        image: &[f32],
        rows: usize,
        cols: usize,
    ) -> Result<DenoiseRun, ProtocolError> {
        self.denoise_with(image, rows, cols, &mut ignore)
    }

    /// [`denoise`](Self::denoise), reporting every step to `on`; a `Break` answer stops the
    /// run with [`ProtocolError::Cancelled`] (drop the session afterwards).
    pub fn denoise_with(
        &mut self,
        image: &[f32],
        rows: usize,
        cols: usize,
        on: &mut dyn FnMut(&DenoiseEvent) -> ControlFlow<()>,
    ) -> Result<DenoiseRun, ProtocolError> {
        let start = Instant::now();
        let mut msg = self.client.encrypt_image(image, rows, cols)?;
        let tiles = self.client.tiles();
        report(
            on,
            DenoiseEvent::Encrypted {
                seconds: start.elapsed().as_secs_f64(),
                bytes: msg.len() as u64,
                tiles,
                first_ciphertext: first_ciphertext(&msg).unwrap_or_default(),
            },
        )?;
        self.upload_keys(on)?;
        let relu_rounds = self.client.relu_rounds();
        let mut upload = msg.len() as u64;
        self.client
            .ledger
            .record("Encrypted tiles ↑", Side::Wire, Duration::ZERO, msg.len());
        let mut download = 0u64;
        let mut server_seconds = 0.0;
        let mut rounds: Vec<RoundBytes> = Vec::new();
        let mut round = 0;
        loop {
            let bytes = msg.len() as u64;
            let t = Instant::now();
            self.transport.send(msg)?;
            self.in_flight = true;
            report(
                on,
                DenoiseEvent::Sent {
                    round,
                    bytes,
                    seconds: t.elapsed().as_secs_f64(),
                },
            )?;
            let reply = self.wait(on)?;
            let down = reply.len() as u64;
            download += down;
            let seconds = Message::peek_server_seconds(&reply).unwrap_or(0.0);
            server_seconds += seconds;
            report(
                on,
                DenoiseEvent::Received {
                    round: (rounds.len() < relu_rounds).then_some(rounds.len() + 1),
                    bytes: down,
                    server_seconds: seconds,
                },
            )?;
            let t = Instant::now();
            match self.client.handle_reply(&reply)? {
                Reply::Continue(next) => {
                    round = rounds.len() + 1;
                    rounds.push(RoundBytes {
                        round,
                        download: down,
                        upload: next.len() as u64,
                    });
                    upload += next.len() as u64;
                    report(
                        on,
                        DenoiseEvent::Activations {
                            round,
                            seconds: t.elapsed().as_secs_f64(),
                            bytes: next.len() as u64,
                        },
                    )?;
                    msg = next;
                }
                Reply::Done(image) => {
                    report(
                        on,
                        DenoiseEvent::Decrypted {
                            seconds: t.elapsed().as_secs_f64(),
                        },
                    )?;
                    let values = ValuesCrossing::new(self.client.layers(), rows, cols);
                    let (bits_per_value_up, bits_per_value_down) =
                        values.bits_per_value(upload, download);
                    return Ok(DenoiseRun {
                        image,
                        values,
                        bits_per_value_up,
                        bits_per_value_down,
                        ledger: std::mem::take(&mut self.client.ledger),
                        setup: self.setup_ledger.clone(),
                        rounds,
                        tiles,
                        tile_shape: self.client.tile_shape(),
                        upload_bytes: upload,
                        download_bytes: download,
                        eval_key_bytes: self.eval_key_bytes,
                        server_key_memory: self.server_key_memory,
                        server_seconds,
                        seconds: start.elapsed().as_secs_f64(),
                    });
                }
            }
        }
    }
}

/// The first ciphertext of a request, as it travels.
fn first_ciphertext(request: &[u8]) -> Option<Vec<u8>> {
    match Message::decode(request).ok()? {
        Message::DenoiseRequest { mut tiles } if !tiles.is_empty() => Some(tiles.swap_remove(0)),
        _ => None,
    }
}

impl Drop for DenoiseSession {
    fn drop(&mut self) {
        // Closing our end stops the server at its next receive. A server still computing
        // the reply to a cancelled run is not waited for: it ends once that reply is done.
        let (dead, _) = channel_pair();
        drop(std::mem::replace(&mut self.transport, dead));
        if let Some(h) = self.server.take()
            && (!self.in_flight || h.is_finished())
        {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::denoiser::weights::builtin;

    fn models() -> (Denoiser, Denoiser) {
        (
            builtin(ModelKind::Linear).unwrap(),
            builtin(ModelKind::Nonlinear).unwrap(),
        )
    }

    fn image(rows: usize, cols: usize) -> Vec<f32> {
        (0..rows * cols)
            .map(|i| ((i * 7919 % 101) as f32 / 101.0).clamp(0.0, 1.0))
            .collect()
    }

    #[test]
    fn events_follow_the_protocol_and_sizes_match_the_plan() {
        let (lin, nl) = models();
        let layers = specs(&nl);
        let (rows, cols) = (40, 70);
        let plan = SizePlan::new(ModelKind::Nonlinear, &layers, rows, cols).unwrap();
        let mut events = Vec::new();
        let mut on = |e: &DenoiseEvent| {
            if *e != DenoiseEvent::Waiting {
                events.push(e.clone());
            }
            CONTINUE
        };
        let mut s =
            DenoiseSession::new_with(ModelKind::Nonlinear, lin, nl, MaskPolicy::DEFAULT, &mut on)
                .unwrap();
        let run = s
            .denoise_with(&image(rows, cols), rows, cols, &mut on)
            .unwrap();
        let names: Vec<String> = events
            .iter()
            .map(|e| match e {
                DenoiseEvent::KeysMade { .. } => "keys".into(),
                DenoiseEvent::KeysUploaded { .. } => "uploaded".into(),
                DenoiseEvent::Encrypted { .. } => "encrypted".into(),
                DenoiseEvent::Sent { round, .. } => format!("sent{round}"),
                DenoiseEvent::Received { round: Some(r), .. } => format!("masked{r}"),
                DenoiseEvent::Received { round: None, .. } => "result".into(),
                DenoiseEvent::Activations { round, .. } => format!("relu{round}"),
                DenoiseEvent::Decrypted { .. } => "decrypted".into(),
                DenoiseEvent::Waiting => unreachable!(),
            })
            .collect();
        assert_eq!(
            names,
            [
                "keys",
                "encrypted",
                "uploaded",
                "sent0",
                "masked1",
                "relu1",
                "sent1",
                "masked2",
                "relu2",
                "sent2",
                "masked3",
                "relu3",
                "sent3",
                "result",
                "decrypted"
            ]
        );
        assert_eq!(plan.tiles, run.tiles);
        assert_eq!(plan.tile_shape, run.tile_shape);
        assert_eq!(plan.setup_bytes, run.eval_key_bytes);
        assert_eq!(plan.rounds, run.rounds);
        assert_eq!(plan.upload_bytes(), run.upload_bytes);
        assert_eq!(plan.download_bytes(), run.download_bytes);
        assert!(run.server_seconds > 0.0);
    }

    #[test]
    fn a_break_cancels_between_rounds_and_drop_does_not_hang() {
        let (lin, nl) = models();
        let (rows, cols) = (40, 70);
        let mut s =
            DenoiseSession::start(ModelKind::Nonlinear, lin, nl, MaskPolicy::DEFAULT).unwrap();
        let mut on = |e: &DenoiseEvent| match e {
            DenoiseEvent::Activations { round: 1, .. } => ControlFlow::Break(()),
            _ => CONTINUE,
        };
        let r = s.denoise_with(&image(rows, cols), rows, cols, &mut on);
        assert!(matches!(r, Err(ProtocolError::Cancelled)));
        // Cancelled while the server computes: dropping detaches it.
        let (lin, nl) = models();
        let mut s = DenoiseSession::start(ModelKind::Linear, lin, nl, MaskPolicy::DEFAULT).unwrap();
        let mut on = |e: &DenoiseEvent| match e {
            DenoiseEvent::Sent { .. } => ControlFlow::Break(()),
            _ => CONTINUE,
        };
        let r = s.denoise_with(&image(rows, cols), rows, cols, &mut on);
        assert!(matches!(r, Err(ProtocolError::Cancelled)));
        drop(s);
    }
}
