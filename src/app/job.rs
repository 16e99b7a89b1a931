//! The jobs the worker runs. The encrypted classification drives the real client and server
//! roles (`protocol::classify::client::ClassifierClient`; `protocol::classify::server::Server`
//! on its own thread behind a byte channel, or `privact serve` over HTTPS), with a cancel
//! check at every stage boundary and while waiting for the server.

use super::remote::ServerTarget;
use crate::ckks::{Parameters, wire};
use crate::model::backend::{SimBackend, SimCt};
use crate::model::classifier::ClassMaps;
use crate::model::classifier::he::{ApproxParams, PreparedClassifier};
use crate::model::classifier::packing::{self, CLASSES, LEVELS_NEEDED, SLOTS};
use crate::protocol::ProtocolError;
use crate::protocol::classify::client::{ClassifierClient, softmax};
use crate::protocol::classify::local::Stage;
use crate::protocol::classify::server::Server;
use crate::protocol::ledger::{Ledger, Side};
use crate::protocol::messages::Message;
use crate::protocol::transport::{ChannelTransport, Transport, http_client, serve_in_thread};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The parameter set of the classification protocol (derived from the packing plan).
pub const PRESET: &str = packing::PRESET;

/// The six pipeline steps in order, with the side that performs each.
pub const STAGES: [Stage; 6] = [
    Stage::Keys,
    Stage::EncodeEncrypt,
    Stage::Send,
    Stage::Evaluate,
    Stage::Receive,
    Stage::Decrypt,
];

/// One row of the pipeline: a protocol stage, or a part of an interactive denoising round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepId {
    Stage(Stage),
    /// ReLU round r (1-based): the server's masked pre-activations arrive.
    RoundDown(usize),
    /// ReLU round r: the client decrypts, applies ReLU, encrypts afresh.
    RoundRelu(usize),
    /// ReLU round r: the fresh encryptions go back up.
    RoundUp(usize),
}

impl StepId {
    pub fn name(self) -> String {
        match self {
            StepId::Stage(s) => stage_name(s).to_string(),
            StepId::RoundDown(r) => format!("Round {r}: masked pre-activations down"),
            StepId::RoundRelu(r) => format!("Round {r}: client ReLU"),
            StepId::RoundUp(r) => format!("Round {r}: fresh encryptions up"),
        }
    }

    pub fn side(self) -> Side {
        match self {
            StepId::Stage(s) => stage_side(s),
            StepId::RoundDown(_) | StepId::RoundUp(_) => Side::Wire,
            StepId::RoundRelu(_) => Side::Client,
        }
    }

    /// Rows inside "Evaluate on ciphertext" (drawn indented).
    pub fn is_round(self) -> bool {
        !matches!(self, StepId::Stage(_))
    }
}

pub fn stage_name(s: Stage) -> &'static str {
    match s {
        Stage::Keys => "Keys",
        Stage::EncodeEncrypt => "Encode & encrypt",
        Stage::Send => "Send",
        Stage::Evaluate => "Evaluate on ciphertext",
        Stage::Receive => "Receive",
        Stage::Decrypt => "Decrypt",
    }
}

pub fn stage_side(s: Stage) -> Side {
    match s {
        Stage::Keys | Stage::EncodeEncrypt | Stage::Decrypt => Side::Client,
        Stage::Evaluate => Side::Server,
        Stage::Send | Stage::Receive => Side::Wire,
    }
}

/// Typical durations on a 2-core machine, used for the ETA before the first run of a session.
pub fn default_estimate(s: Stage) -> f64 {
    match s {
        Stage::Keys => 2.5,
        Stage::EncodeEncrypt => 0.6,
        Stage::Send => 3.0,
        Stage::Evaluate => 6.0,
        Stage::Receive => 0.05,
        Stage::Decrypt => 0.05,
    }
}

/// Why a job stopped.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
    #[error("model: {0}")]
    Model(#[from] crate::model::classifier::he::HeModelError),
    #[error("denoiser: {0}")]
    Denoiser(#[from] crate::model::denoiser::DenoiserError),
    #[error("{0}")]
    Imaging(String),
}

impl JobError {
    /// One line telling the user what to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            JobError::Cancelled => "Run it again when you are ready.",
            JobError::Protocol(ProtocolError::Closed) => {
                "The server thread stopped; run the job again."
            }
            JobError::Protocol(ProtocolError::Refused(_)) => {
                "The server refused the request; see the reason above."
            }
            JobError::Protocol(ProtocolError::Network(_)) => {
                "Check the server URL and fingerprint and that `privact serve` runs there, or choose the built-in worker."
            }
            JobError::Protocol(_) => "A protocol message was rejected; run the job again.",
            JobError::Model(_) => "The model weights do not fit the packing plan.",
            JobError::Denoiser(_) => "The image does not fit the denoiser (size or values).",
            JobError::Imaging(_) => "Check the image and the dose setting.",
        }
    }
}

/// What the UI hears while a job runs.
#[derive(Debug, Clone)]
pub enum Progress {
    Started(StepId),
    Done {
        step: StepId,
        seconds: f64,
        bytes: u64,
    },
    /// The step was not needed: its result from an earlier run of the session is reused.
    Reused(StepId),
    /// The first serialized input ciphertext, exactly as it travels to the server.
    ServerView(Vec<u8>),
}

/// The result of one encrypted classification.
#[derive(Debug, Clone)]
pub struct ClassifyOutcome {
    pub logits: [f64; CLASSES],
    pub probabilities: [f64; CLASSES],
    /// The same circuit evaluated in plaintext (exact slot simulation): the precision baseline.
    pub reference_logits: Option<[f64; CLASSES]>,
    pub reference_seconds: f64,
    /// The shipped networks run in plaintext on the same input (`None` with demo weights).
    pub ref_cnn_logits: Option<[f64; CLASSES]>,
    pub approx_cnn_logits: Option<[f64; CLASSES]>,
    /// The pipeline, one row per stage of this run ("Keys" only in the run that opened the
    /// session: key generation, key upload and the server's key import).
    pub ledger: Ledger,
    /// The session's evaluation keys (uploaded once, by the run that opened it).
    pub setup_bytes: u64,
    /// True when this run used the keys of an earlier run: no keys made, none uploaded.
    pub keys_reused: bool,
    /// The one-time cost of the session (keys, key upload, server preparation), seconds.
    pub setup_seconds: f64,
    /// Classifications done in this session, this one included.
    pub session_runs: u64,
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub server_key_memory: u64,
    pub ciphertexts_sent: usize,
    /// The decrypted class-activation maps, when the run asked for them (issue 19).
    pub maps: Option<ClassMaps>,
    /// The same maps from the plaintext circuit (exact slot simulation).
    pub reference_maps: Option<ClassMaps>,
}

impl ClassifyOutcome {
    /// max |HE − plaintext| over every cell of both maps.
    pub fn map_error(&self) -> Option<f64> {
        let (m, r) = (self.maps.as_ref()?, self.reference_maps.as_ref()?);
        Some(
            m.cyst
                .iter()
                .chain(&m.tumor)
                .zip(r.cyst.iter().chain(&r.tumor))
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max),
        )
    }

    /// max |HE − plaintext| over the logits.
    pub fn max_error(&self) -> Option<f64> {
        let r = self.reference_logits?;
        Some(
            self.logits
                .iter()
                .zip(r)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max),
        )
    }

    /// Bits of precision after decryption: −log2(max error).
    pub fn precision_bits(&self) -> Option<f64> {
        self.max_error()
            .map(|e| if e > 0.0 { -e.log2() } else { 52.0 })
    }

    /// Seconds of this run, the one-time "Keys" row included when this run opened the session.
    pub fn total_seconds(&self) -> f64 {
        self.ledger.steps.iter().map(|s| s.seconds).sum()
    }

    /// Seconds of this run without the one-time session cost: what every further slice costs.
    pub fn per_slice_seconds(&self) -> f64 {
        self.ledger
            .steps
            .iter()
            .filter(|s| s.name != stage_name(Stage::Keys))
            .map(|s| s.seconds)
            .sum()
    }
}

fn begin(s: Stage, progress: &mut dyn FnMut(Progress)) -> Instant {
    progress(Progress::Started(StepId::Stage(s)));
    Instant::now()
}

fn finish(
    s: Stage,
    t: Instant,
    bytes: usize,
    ledger: &mut Ledger,
    progress: &mut dyn FnMut(Progress),
) {
    let e = t.elapsed();
    ledger.record(stage_name(s), stage_side(s), e, bytes);
    progress(Progress::Done {
        step: StepId::Stage(s),
        seconds: e.as_secs_f64(),
        bytes: bytes as u64,
    });
}

fn check(cancel: &AtomicBool) -> Result<(), JobError> {
    if cancel.load(Ordering::Relaxed) {
        Err(JobError::Cancelled)
    } else {
        Ok(())
    }
}

/// Waits for the server's reply, checking the cancel flag every 50 ms.
fn recv(transport: &mut ChannelTransport, cancel: &AtomicBool) -> Result<Vec<u8>, JobError> {
    loop {
        if let Some(bytes) = transport.recv_timeout(Duration::from_millis(50))? {
            return Ok(bytes);
        }
        check(cancel)?;
    }
}

fn refused(found: &Message, expected: &'static str) -> JobError {
    match found {
        Message::Error { message } => ProtocolError::Refused(message.clone()).into(),
        other => ProtocolError::Unexpected {
            expected,
            found: other.kind_name(),
        }
        .into(),
    }
}

/// The keys of encrypted classification and the in-process server that holds the evaluation
/// keys and the prepared model, kept for the app session (issue 20: "keys once per session"
/// must be true). Made by the first run; reused by the next ones while the weights are the
/// same. A run that stops midway (cancel, error) drops it: the server may still owe that run's
/// answer, and a fresh session is cheaper to reason about than draining one.
pub struct ClassifySession {
    client: ClassifierClient,
    /// To the server thread, or to the HTTPS forwarder of a remote `privact serve`.
    transport: ChannelTransport,
    target: ServerTarget,
    weights: Vec<ApproxParams>,
    setup_bytes: u64,
    setup_seconds: f64,
    server_key_memory: u64,
    runs: u64,
}

impl ClassifySession {
    /// Key generation, the server (a thread here, or the connection to `privact serve`),
    /// the key upload and the server's key import and model preparation: the one-time cost
    /// of a session.
    fn open(
        weights: &[ApproxParams],
        target: &ServerTarget,
        cancel: &AtomicBool,
    ) -> Result<Self, JobError> {
        let t = Instant::now();
        let mut transport = match target.endpoint()? {
            // A remote server holds its own model; `weights` stay for the local baselines.
            // Its health is checked first, so an unreachable one fails before key generation.
            Some(endpoint) => {
                http_client::health(&endpoint)?;
                http_client::connect(&endpoint)?
            }
            None => {
                // The server: its own thread, bytes in and out. Dropping our end stops it.
                let server_weights = weights.to_vec();
                serve_in_thread("privact-server", move || {
                    let mut server = Server::new(server_weights);
                    move |request: &[u8]| server.handle(request)
                })?
                .0
            }
        };
        let mut client = ClassifierClient::new(PRESET)?;
        let setup = client.setup_message();
        let setup_bytes = setup.len() as u64;
        check(cancel)?;
        transport.send(setup)?;
        let ack = recv(&mut transport, cancel)?;
        let server_key_memory = crate::protocol::setup_ack(&ack)?;
        Ok(ClassifySession {
            client,
            transport,
            target: target.clone(),
            weights: weights.to_vec(),
            setup_bytes,
            setup_seconds: t.elapsed().as_secs_f64(),
            server_key_memory,
            runs: 0,
        })
    }
}

/// What one classification asks for.
pub struct ClassifyRequest<'a> {
    /// The preprocessed 256×256 model input.
    pub image: &'a [f32],
    pub weights: &'a [ApproxParams],
    pub heat_map: bool,
    pub server: &'a ServerTarget,
}

/// Keys (first run of a session only) → encrypt → send → server evaluates on ciphertexts →
/// receive → decrypt. `session` holds the keys and the server between runs; it is opened
/// when empty or made for other weights or another server, and emptied when a run fails or
/// is cancelled.
pub fn classify(
    request: &ClassifyRequest<'_>,
    session: &mut Option<ClassifySession>,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
) -> Result<ClassifyOutcome, JobError> {
    let ClassifyRequest {
        image,
        weights,
        heat_map,
        server,
    } = *request;
    for member in weights {
        member.validate()?;
    }
    if session
        .as_ref()
        .is_some_and(|s| s.weights != weights || s.target != *server)
    {
        *session = None;
    }
    let result = classify_in_session(image, weights, heat_map, server, session, cancel, progress);
    if result.is_err() {
        *session = None;
    }
    result
}

fn classify_in_session(
    image: &[f32],
    weights: &[ApproxParams],
    heat_map: bool,
    server: &ServerTarget,
    session: &mut Option<ClassifySession>,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
) -> Result<ClassifyOutcome, JobError> {
    let mut ledger = Ledger::default();
    check(cancel)?;
    let keys_reused = session.is_some();
    let s = match session {
        Some(s) => {
            progress(Progress::Reused(StepId::Stage(Stage::Keys)));
            s
        }
        None => {
            let t = begin(Stage::Keys, progress);
            let opened = session.insert(ClassifySession::open(weights, server, cancel)?);
            finish(
                Stage::Keys,
                t,
                opened.setup_bytes as usize,
                &mut ledger,
                progress,
            );
            opened
        }
    };

    check(cancel)?;
    let t = begin(Stage::EncodeEncrypt, progress);
    let request = s.client.encrypt_request(image, heat_map)?;
    let request_bytes = request.len();
    let ciphertexts_sent = match Message::decode(&request) {
        Ok(Message::ClassifyRequest { inputs } | Message::ClassifyMapRequest { inputs }) => {
            if let Some(first) = inputs.first() {
                progress(Progress::ServerView(first.clone()));
            }
            inputs.len()
        }
        Ok(other) => return Err(refused(&other, "ClassifyRequest")),
        Err(e) => return Err(ProtocolError::from(e).into()),
    };
    finish(
        Stage::EncodeEncrypt,
        t,
        request_bytes,
        &mut ledger,
        progress,
    );

    check(cancel)?;
    let t = begin(Stage::Send, progress);
    s.transport.send(request)?;
    finish(Stage::Send, t, request_bytes, &mut ledger, progress);

    let t = begin(Stage::Evaluate, progress);
    let response = recv(&mut s.transport, cancel)?;
    let server_seconds = match Message::decode(&response).map_err(ProtocolError::from)? {
        Message::ClassifyResponse { server_seconds, .. }
        | Message::ClassifyMapResponse { server_seconds, .. } => server_seconds,
        other => return Err(refused(&other, "ClassifyResponse")),
    };
    // The server's own measurement of its work; the wall time also includes the hand-over.
    let wall = t.elapsed().as_secs_f64();
    ledger.record(
        stage_name(Stage::Evaluate),
        Side::Server,
        Duration::from_secs_f64(server_seconds.clamp(0.0, wall.max(0.0))),
        0,
    );
    progress(Progress::Done {
        step: StepId::Stage(Stage::Evaluate),
        seconds: server_seconds,
        bytes: 0,
    });

    check(cancel)?;
    let t = begin(Stage::Receive, progress);
    let response_bytes = response.len();
    finish(Stage::Receive, t, response_bytes, &mut ledger, progress);

    let t = begin(Stage::Decrypt, progress);
    let result = s.client.decrypt_response(&response)?;
    finish(Stage::Decrypt, t, 0, &mut ledger, progress);
    s.runs += 1;

    // Plaintext baseline: the same network on the exact slot simulator.
    let t = Instant::now();
    let (reference_logits, reference_maps) = match plaintext_circuit(image, weights, heat_map) {
        Ok((logits, maps)) => (Some(logits), maps),
        Err(_) => (None, None),
    };
    let reference_seconds = t.elapsed().as_secs_f64();
    let shipped = super::weights::shipped();
    let ref_cnn_logits = shipped.and_then(|c| c.reference_logits(image).ok());
    let approx_cnn_logits = shipped.and_then(|c| c.approx_logits(image).ok());

    Ok(ClassifyOutcome {
        logits: result.logits,
        probabilities: result.probabilities,
        reference_logits,
        reference_seconds,
        ref_cnn_logits,
        approx_cnn_logits,
        ledger,
        setup_bytes: s.setup_bytes,
        keys_reused,
        setup_seconds: s.setup_seconds,
        session_runs: s.runs,
        request_bytes: request_bytes as u64,
        response_bytes: response_bytes as u64,
        server_key_memory: s.server_key_memory,
        ciphertexts_sent,
        maps: result.maps,
        reference_maps,
    })
}

/// The HE-CNN's circuit evaluated on plaintext slot vectors (no encryption).
pub fn plaintext_logits(
    image: &[f32],
    weights: &[ApproxParams],
) -> Result<[f64; CLASSES], JobError> {
    Ok(plaintext_circuit(image, weights, false)?.0)
}

/// The circuit's logits and, with `heat_map`, its class-activation maps, on plaintext slots.
fn plaintext_circuit(
    image: &[f32],
    weights: &[ApproxParams],
    heat_map: bool,
) -> Result<([f64; CLASSES], Option<ClassMaps>), JobError> {
    let sim = SimBackend { slots: SLOTS };
    let model = PreparedClassifier::new(&sim, weights, LEVELS_NEEDED)?;
    let inputs: Vec<SimCt> = packing::input_layout(image)
        .into_iter()
        .map(|values| SimCt {
            values,
            level: LEVELS_NEEDED,
        })
        .collect();
    let (out, maps) = if heat_map {
        let (out, map) = model.evaluate_with_map(&sim, &inputs)?;
        (out, Some(packing::unpack_map(&map.real_parts())))
    } else {
        (model.evaluate(&sim, &inputs)?, None)
    };
    let logits = std::array::from_fn(|i| out.values.get(i).map_or(f64::NAN, |v| v.re));
    Ok((logits, maps))
}

/// Probabilities of plaintext logits (for the "HE vs plaintext" comparison).
pub fn probabilities(logits: &[f64; CLASSES]) -> [f64; CLASSES] {
    softmax(logits)
}

/// Sizes known from the parameters alone, before any key exists.
#[derive(Clone, Debug)]
pub struct SizePlan {
    pub request_bytes: u64,
    pub setup_bytes: u64,
    pub ciphertexts: usize,
    pub ciphertext_bytes: u64,
    pub relin_key_bytes: u64,
    pub galois_keys: usize,
    pub galois_key_bytes: u64,
    pub rotations: Vec<i64>,
}

impl SizePlan {
    pub fn new(params: &Parameters) -> SizePlan {
        let rotations = packing::rotations();
        let base = wire::evaluation_keys_size(params, 0, false);
        SizePlan {
            request_bytes: crate::protocol::classify::client::request_bytes(params) as u64,
            setup_bytes: crate::protocol::classify::client::setup_bytes(params) as u64,
            ciphertexts: packing::INPUT_CTS,
            ciphertext_bytes: wire::ciphertext_size(params, LEVELS_NEEDED, true) as u64,
            relin_key_bytes: (wire::evaluation_keys_size(params, 0, true) - base) as u64,
            // One key per rotation, plus the conjugation key when the packing needs it.
            galois_keys: rotations.len() + usize::from(packing::NEEDS_CONJUGATION),
            galois_key_bytes: (wire::evaluation_keys_size(params, 1, false) - base) as u64,
            rotations,
        }
    }
}
