//! Protocol runs inside one process: the server runs on its own thread behind a byte channel,
//! exactly as it would behind a socket. Used by the app's worker and the CLI.

use super::client::{Classification, ClassifierClient};
use super::server::Server;
use crate::model::classifier::he::ApproxParams;
use crate::protocol::ProtocolError;
use crate::protocol::ledger::{Ledger, Side};
use crate::protocol::transport::http_client::{self, Endpoint};
use crate::protocol::transport::{ChannelTransport, Transport, channel_pair, serve_in_thread};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where a run is; reported before each step starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Keys,
    EncodeEncrypt,
    Send,
    Evaluate,
    Receive,
    Decrypt,
}

/// A client with a live server session: keys are generated and uploaded once, then any
/// number of slices are classified.
pub struct LocalSession {
    client: ClassifierClient,
    transport: ChannelTransport,
    server: Option<JoinHandle<()>>,
    /// Keys and setup (one-time costs).
    pub setup_ledger: Ledger,
    pub server_key_memory: u64,
    pub eval_key_bytes: u64,
}

pub struct ClassificationRun {
    pub result: Classification,
    /// This slice's steps; the session's one-time steps are in `setup`.
    pub ledger: Ledger,
    pub setup: Ledger,
    pub server_key_memory: u64,
    pub upload_bytes: u64,
    pub download_bytes: u64,
    pub eval_key_bytes: u64,
}

impl LocalSession {
    pub fn start(
        preset: &str,
        weights: Vec<ApproxParams>,
        progress: &mut dyn FnMut(Stage),
    ) -> Result<Self, ProtocolError> {
        let (client_end, server) = serve_in_thread("privact-server", move || {
            let mut server = Server::new(weights);
            move |request: &[u8]| server.handle(request)
        })?;
        Self::open(preset, client_end, Some(server), progress)
    }

    /// The same session with `privact serve` at `endpoint` (HTTPS): the keys are uploaded
    /// there once, and every slice travels over the network (issue 17).
    pub fn connect(
        preset: &str,
        endpoint: &Endpoint,
        progress: &mut dyn FnMut(Stage),
    ) -> Result<Self, ProtocolError> {
        Self::open(preset, http_client::connect(endpoint)?, None, progress)
    }

    /// Fresh keys, uploaded over `transport` to whatever server is at its far end.
    fn open(
        preset: &str,
        transport: ChannelTransport,
        server: Option<JoinHandle<()>>,
        progress: &mut dyn FnMut(Stage),
    ) -> Result<Self, ProtocolError> {
        let mut session = Self {
            client: ClassifierClient::new(preset)?,
            transport,
            server,
            setup_ledger: Ledger::default(),
            server_key_memory: 0,
            eval_key_bytes: 0,
        };
        progress(Stage::Keys);
        let setup = session.client.setup_message();
        session.eval_key_bytes = setup.len() as u64;
        let t = Instant::now();
        session.transport.send(setup)?;
        let ack = session.transport.recv()?;
        session.server_key_memory = crate::protocol::setup_ack(&ack)?;
        session
            .client
            .ledger
            .record("Upload keys + server setup", Side::Server, t.elapsed(), 0);
        session.setup_ledger = std::mem::take(&mut session.client.ledger);
        Ok(session)
    }

    /// Encrypts a preprocessed 256×256 image, has the server classify it, decrypts.
    pub fn classify(
        &mut self,
        image: &[f32],
        progress: &mut dyn FnMut(Stage),
    ) -> Result<ClassificationRun, ProtocolError> {
        self.classify_with(image, false, progress)
    }

    /// [`classify`](Self::classify); with `heat_map` the server also returns the encrypted
    /// class-activation map, decrypted into `result.maps`.
    pub fn classify_with(
        &mut self,
        image: &[f32],
        heat_map: bool,
        progress: &mut dyn FnMut(Stage),
    ) -> Result<ClassificationRun, ProtocolError> {
        progress(Stage::EncodeEncrypt);
        let request = self.client.encrypt_request(image, heat_map)?;
        progress(Stage::Send);
        let upload_bytes = request.len() as u64;
        let t = Instant::now();
        self.transport.send(request)?;
        self.client
            .ledger
            .record("Upload", Side::Wire, Duration::ZERO, upload_bytes as usize);
        progress(Stage::Evaluate);
        let response = self.transport.recv()?;
        let round_trip = t.elapsed();
        progress(Stage::Receive);
        let download_bytes = response.len() as u64;
        progress(Stage::Decrypt);
        let result = self.client.decrypt_response(&response)?;
        let server_seconds = self
            .client
            .ledger
            .steps
            .iter()
            .rev()
            .find(|s| s.side == Side::Server)
            .map_or(0.0, |s| s.seconds);
        let wire_seconds = (round_trip.as_secs_f64() - server_seconds).max(0.0);
        self.client.ledger.record(
            "Download",
            Side::Wire,
            Duration::from_secs_f64(wire_seconds),
            download_bytes as usize,
        );
        Ok(ClassificationRun {
            result,
            ledger: std::mem::take(&mut self.client.ledger),
            setup: self.setup_ledger.clone(),
            server_key_memory: self.server_key_memory,
            upload_bytes,
            download_bytes,
            eval_key_bytes: self.eval_key_bytes,
        })
    }

    pub fn params(&self) -> &crate::ckks::Parameters {
        self.client.params()
    }
}

impl Drop for LocalSession {
    fn drop(&mut self) {
        // Closing our end stops the server loop; replace it with a dead channel first.
        let (dead, _) = channel_pair();
        drop(std::mem::replace(&mut self.transport, dead));
        if let Some(h) = self.server.take() {
            let _ = h.join();
        }
    }
}

/// One-shot convenience: a fresh session for a single slice.
pub fn classify_in_process(
    image: &[f32],
    weights: Vec<ApproxParams>,
    mut progress: impl FnMut(Stage),
) -> Result<ClassificationRun, ProtocolError> {
    let mut session = LocalSession::start(
        crate::model::classifier::packing::PRESET,
        weights,
        &mut progress,
    )?;
    session.classify(image, &mut progress)
}
