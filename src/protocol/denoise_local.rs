//! Denoising sessions inside one process: the server runs on its own thread behind a byte
//! channel, exactly as it would behind a socket. Keys are made and uploaded once per session;
//! then any number of slices are denoised.

use super::ProtocolError;
use super::denoise_client::{DenoiseClient, Reply};
use super::denoise_server::DenoiseServer;
use super::ledger::{Ledger, Side};
use super::messages::Message;
use super::transport::{ChannelTransport, Transport, channel_pair};
use crate::model::denoiser::he::MaskPolicy;
use crate::model::denoiser::weights::specs;
use crate::model::denoiser::{Denoiser, ModelKind};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bytes of one interactive round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RoundBytes {
    pub round: usize,
    /// Server → client (masked pre-activations).
    pub download: u64,
    /// Client → server (fresh activations).
    pub upload: u64,
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
    pub eval_key_bytes: u64,
    pub server_key_memory: u64,
    /// Wall time of this slice (encrypt → result decrypted).
    pub seconds: f64,
}

pub struct DenoiseSession {
    client: DenoiseClient,
    transport: ChannelTransport,
    server: Option<JoinHandle<()>>,
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
        let layers = specs(match kind {
            ModelKind::Linear => &linear,
            ModelKind::Nonlinear => &nonlinear,
        });
        let (client_end, mut server_end) = channel_pair();
        let server = std::thread::spawn(move || {
            let mut server = DenoiseServer::with_policy(linear, nonlinear, policy);
            while let Ok(request) = server_end.recv() {
                if server_end.send(server.handle(&request)).is_err() {
                    break;
                }
            }
        });
        let mut session = Self {
            client: DenoiseClient::new(kind, &layers)?,
            transport: client_end,
            server: Some(server),
            setup_ledger: Ledger::default(),
            server_key_memory: 0,
            eval_key_bytes: 0,
        };
        let setup = session.client.setup_message();
        session.eval_key_bytes = setup.len() as u64;
        let t = Instant::now();
        session.transport.send(setup)?;
        let ack = session.transport.recv()?;
        session.server_key_memory = match Message::decode(&ack)? {
            Message::SetupAck { key_memory_bytes } => key_memory_bytes,
            Message::Error { message } => return Err(ProtocolError::Refused(message)),
            other => {
                return Err(ProtocolError::Unexpected {
                    expected: "SetupAck",
                    found: other.kind_name(),
                });
            }
        };
        session
            .client
            .ledger
            .record("Upload keys + server setup", Side::Server, t.elapsed(), 0);
        session.setup_ledger = std::mem::take(&mut session.client.ledger);
        Ok(session)
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
        let start = Instant::now();
        let mut msg = self.client.encrypt_image(image, rows, cols)?;
        let tiles = self.client.tiles();
        let mut upload = msg.len() as u64;
        self.client
            .ledger
            .record("Encrypted tiles ↑", Side::Wire, Duration::ZERO, msg.len());
        let mut download = 0u64;
        let mut rounds = Vec::new();
        loop {
            self.transport.send(msg)?;
            let reply = self.transport.recv()?;
            download += reply.len() as u64;
            let down = reply.len() as u64;
            match self.client.handle_reply(&reply)? {
                Reply::Continue(next) => {
                    rounds.push(RoundBytes {
                        round: rounds.len() + 1,
                        download: down,
                        upload: next.len() as u64,
                    });
                    upload += next.len() as u64;
                    msg = next;
                }
                Reply::Done(image) => {
                    return Ok(DenoiseRun {
                        image,
                        ledger: std::mem::take(&mut self.client.ledger),
                        setup: self.setup_ledger.clone(),
                        rounds,
                        tiles,
                        tile_shape: self.client.tile_shape(),
                        upload_bytes: upload,
                        download_bytes: download,
                        eval_key_bytes: self.eval_key_bytes,
                        server_key_memory: self.server_key_memory,
                        seconds: start.elapsed().as_secs_f64(),
                    });
                }
            }
        }
    }
}

impl Drop for DenoiseSession {
    fn drop(&mut self) {
        let (dead, _) = channel_pair();
        drop(std::mem::replace(&mut self.transport, dead));
        if let Some(h) = self.server.take() {
            let _ = h.join();
        }
    }
}
