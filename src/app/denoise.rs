//! The encrypted denoising job: the real `DenoiseSession` (client here, server on its own
//! thread behind a byte channel), its progress events turned into pipeline rows, *Cancel*
//! honoured at every event (and every 50 ms while the server computes), then the plaintext
//! model on the same input for the comparison and the quality metrics.
//!
//! Conventions are those of `privact denoise`: the model works on [0, 1] over the abdomen
//! window (`model::denoiser::data`).

use super::job::{JobError, Progress, StepId};
use super::remote::ServerTarget;
use crate::ckks::Parameters;
use crate::imaging::window::Window;
use crate::model::denoiser::data::{Quality, finish, full_range_hu, max_abs_diff, to_unit};
use crate::model::denoiser::he::MaskPolicy;
use crate::model::denoiser::weights::{LayerSpec, builtin, specs};
use crate::model::denoiser::{DenoiserError, ModelKind};
use crate::protocol::ProtocolError;
use crate::protocol::classify::local::Stage;
use crate::protocol::denoise::client::preset;
use crate::protocol::denoise::local::{CONTINUE, DenoiseEvent, DenoiseRun, DenoiseSession};
use crate::protocol::ledger::Ledger;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The denoising parameters and the public shape of both models (for the size plan, the
/// parameter card and the key inventory, before any key exists).
pub struct DenoiseInfo {
    /// `[linear, nonlinear]`: each model's parameter set (`denoise::client::preset`).
    params: [Parameters; 2],
    pub linear: Vec<LayerSpec>,
    pub nonlinear: Vec<LayerSpec>,
}

impl DenoiseInfo {
    pub fn load() -> Result<DenoiseInfo, String> {
        let spec = |k| builtin(k).map(|m| specs(&m)).map_err(|e| e.to_string());
        Ok(DenoiseInfo {
            params: [ModelKind::Linear, ModelKind::Nonlinear]
                .map(|k| Parameters::preset(preset(k)).map_err(|e| e.to_string()))
                .into_iter()
                .collect::<Result<Vec<_>, _>>()?
                .try_into()
                .map_err(|_| "two parameter sets".to_string())?,
            linear: spec(ModelKind::Linear)?,
            nonlinear: spec(ModelKind::Nonlinear)?,
        })
    }

    /// The parameter set `kind` runs on.
    pub fn params(&self, kind: ModelKind) -> &Parameters {
        match kind {
            ModelKind::Linear => &self.params[0],
            ModelKind::Nonlinear => &self.params[1],
        }
    }

    pub fn layers(&self, kind: ModelKind) -> &[LayerSpec] {
        match kind {
            ModelKind::Linear => &self.linear,
            ModelKind::Nonlinear => &self.nonlinear,
        }
    }

    /// Interactive rounds of a model (0 for the linear one).
    pub fn relu_rounds(&self, kind: ModelKind) -> usize {
        self.layers(kind).len().saturating_sub(1)
    }
}

/// What the worker is asked to denoise.
#[derive(Clone, Debug)]
pub struct DenoiseJob {
    pub kind: ModelKind,
    /// Where the encrypted steps run.
    pub server: ServerTarget,
    /// The low-dose input in HU (simulated, or the loaded slice itself).
    pub input_hu: Vec<f32>,
    /// The clean reconstruction of a simulated low dose (for PSNR/SSIM).
    pub clean_hu: Option<Vec<f32>>,
    pub rows: usize,
    pub cols: usize,
    /// Dose of the simulation, if the input is simulated.
    pub dose: Option<f64>,
    /// The input's HU came from an 8-bit image through the inverse window.
    pub approximate_hu: bool,
    /// Which image and slice this is (results are shown only for it).
    pub generation: u64,
    pub index: usize,
}

/// The result of one encrypted denoising, with everything the results panel shows.
#[derive(Clone, Debug)]
pub struct DenoiseOutcome {
    pub kind: ModelKind,
    pub rows: usize,
    pub cols: usize,
    pub generation: u64,
    pub index: usize,
    pub dose: Option<f64>,
    pub approximate_hu: bool,
    /// The low-dose input as denoised (HU).
    pub input_hu: Vec<f32>,
    /// The decrypted output after the gain, on [0, 1] over the abdomen window.
    pub output_unit: Vec<f64>,
    /// The output over the input's full HU range (`full_range_hu`, as `privact denoise`
    /// writes it): denoised inside W400/L40, the input's values outside it.
    pub output_hu: Vec<f32>,
    /// Output − input (HU): what the denoiser removed.
    pub difference_hu: Vec<f32>,
    /// Half width of the symmetric window the difference is shown on (HU).
    pub difference_half_width: f64,
    /// PSNR/SSIM in → out against the clean reference (simulated inputs only).
    pub quality: Option<Quality>,
    /// max |encrypted − plaintext| on [0, 1].
    pub max_abs_diff: f64,
    pub plain_seconds: f64,
    /// The protocol run: decrypted image ([0, 1]), bytes per round, detailed ledgers.
    pub run: DenoiseRun,
    /// Key generation in this run (0 when the session's keys were reused).
    pub keys_seconds: f64,
    /// True when this run used the keys of an earlier run of the same model.
    pub keys_reused: bool,
    /// The session's evaluation keys (uploaded once, by its first run).
    pub eval_key_bytes: u64,
    /// The session's one-time cost: key generation, key upload and server setup (seconds).
    pub setup_seconds: f64,
    /// One entry per pipeline row, in the order they finished.
    pub ledger: Ledger,
}

impl DenoiseOutcome {
    /// Keys, encryption, the rounds and decryption: the wall time of the whole job's protocol.
    pub fn total_seconds(&self) -> f64 {
        self.keys_seconds + self.run.seconds
    }

    /// [`total_seconds`](Self::total_seconds) without the session's one-time cost (key
    /// generation and upload, server setup) when this run paid it: what every further slice
    /// costs.
    pub fn per_slice_seconds(&self) -> f64 {
        if self.keys_reused {
            self.total_seconds()
        } else {
            (self.total_seconds() - self.setup_seconds).max(0.0)
        }
    }

    /// Bits of agreement with the plaintext model: −log2(max error).
    pub fn precision_bits(&self) -> f64 {
        if self.max_abs_diff > 0.0 {
            -self.max_abs_diff.log2()
        } else {
            52.0
        }
    }

    /// The window the difference image is drawn with (centred on 0).
    pub fn difference_window(&self) -> Window {
        Window::new(0.0, 2.0 * self.difference_half_width)
    }
}

fn protocol(e: ProtocolError) -> JobError {
    match e {
        ProtocolError::Cancelled => JobError::Cancelled,
        e => JobError::Protocol(e),
    }
}

/// Turns session events into pipeline rows and a ledger; answers `Break` once cancelled.
struct Tracker<'a> {
    cancel: &'a AtomicBool,
    progress: &'a mut dyn FnMut(Progress),
    ledger: Ledger,
    keys_seconds: f64,
    key_bytes: u64,
    send_started: Option<Instant>,
    server_seconds: f64,
}

impl Tracker<'_> {
    fn started(&mut self, step: StepId) {
        (self.progress)(Progress::Started(step));
    }

    fn done(&mut self, step: StepId, seconds: f64, bytes: u64) {
        self.ledger.record(
            step.name(),
            step.side(),
            Duration::from_secs_f64(seconds.max(0.0)),
            bytes as usize,
        );
        (self.progress)(Progress::Done {
            step,
            seconds,
            bytes,
        });
    }

    fn on(&mut self, e: &DenoiseEvent) -> ControlFlow<()> {
        use DenoiseEvent as E;
        let stage = StepId::Stage;
        match e {
            E::KeysMade { seconds, bytes } => {
                self.keys_seconds = *seconds;
                self.key_bytes = *bytes;
                self.done(stage(Stage::Keys), *seconds, *bytes);
                self.started(stage(Stage::EncodeEncrypt));
            }
            E::Encrypted {
                seconds,
                bytes,
                first_ciphertext,
                ..
            } => {
                (self.progress)(Progress::ServerView(first_ciphertext.clone()));
                self.done(stage(Stage::EncodeEncrypt), *seconds, *bytes);
                self.started(stage(Stage::Send));
                self.send_started = Some(Instant::now());
            }
            E::KeysUploaded { .. } | E::Waiting => {}
            E::Sent {
                round: 0, bytes, ..
            } => {
                let seconds = self.send_started.map_or(0.0, |t| t.elapsed().as_secs_f64());
                self.done(stage(Stage::Send), seconds, self.key_bytes + bytes);
                self.started(stage(Stage::Evaluate));
            }
            E::Sent {
                round,
                bytes,
                seconds,
            } => self.done(StepId::RoundUp(*round), *seconds, *bytes),
            E::Received {
                round: Some(r),
                bytes,
                server_seconds,
            } => {
                self.server_seconds += server_seconds;
                self.done(StepId::RoundDown(*r), 0.0, *bytes);
                self.started(StepId::RoundRelu(*r));
            }
            E::Received {
                round: None,
                bytes,
                server_seconds,
            } => {
                self.server_seconds += server_seconds;
                self.done(stage(Stage::Evaluate), self.server_seconds, 0);
                self.started(stage(Stage::Receive));
                self.done(stage(Stage::Receive), 0.0, *bytes);
                self.started(stage(Stage::Decrypt));
            }
            E::Activations { round, seconds, .. } => {
                self.done(StepId::RoundRelu(*round), *seconds, 0);
                self.started(StepId::RoundUp(*round));
            }
            E::Decrypted { seconds } => self.done(stage(Stage::Decrypt), *seconds, 0),
        }
        if self.cancel.load(Ordering::Relaxed) {
            ControlFlow::Break(())
        } else {
            CONTINUE
        }
    }
}

/// Half width of the difference window: the 99th percentile of |difference|, at least 5 HU.
fn symmetric_half_width(diff: &[f32]) -> f64 {
    let mut a: Vec<f32> = diff
        .iter()
        .map(|d| d.abs())
        .filter(|d| d.is_finite())
        .collect();
    if a.is_empty() {
        return 5.0;
    }
    let k = ((a.len() - 1) as f64 * 0.99) as usize;
    let (_, v, _) = a.select_nth_unstable_by(k, f32::total_cmp);
    (f64::from(*v) / 5.0).ceil().max(1.0) * 5.0
}

/// The denoising sessions of the app, one per model (each has its own parameter set and
/// keys): made by a model's first run, reused by its next ones, dropped when a run stops
/// midway (the server may still owe that run's reply).
#[derive(Default)]
pub struct DenoiseSessions {
    linear: Option<DenoiseSession>,
    nonlinear: Option<DenoiseSession>,
    /// The server both sessions talk to; another target drops them.
    target: ServerTarget,
}

impl DenoiseSessions {
    fn slot(&mut self, kind: ModelKind) -> &mut Option<DenoiseSession> {
        match kind {
            ModelKind::Linear => &mut self.linear,
            ModelKind::Nonlinear => &mut self.nonlinear,
        }
    }
}

/// Keys (first run of a model in the session only) → encode & encrypt → send → evaluate on
/// ciphertexts (with the interactive rounds) → receive → decrypt; then the plaintext model on
/// the same input.
pub fn denoise(
    job: &DenoiseJob,
    sessions: &mut DenoiseSessions,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
) -> Result<DenoiseOutcome, JobError> {
    if sessions.target != job.server {
        *sessions = DenoiseSessions {
            target: job.server.clone(),
            ..DenoiseSessions::default()
        };
    }
    let result = denoise_in_session(job, sessions.slot(job.kind), cancel, progress);
    if result.is_err() {
        *sessions.slot(job.kind) = None;
    }
    result
}

fn denoise_in_session(
    job: &DenoiseJob,
    session: &mut Option<DenoiseSession>,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
) -> Result<DenoiseOutcome, JobError> {
    let (rows, cols) = (job.rows, job.cols);
    if job.input_hu.len() != rows * cols {
        return Err(DenoiserError::ImageShape {
            rows,
            cols,
            values: job.input_hu.len(),
        }
        .into());
    }
    let input = to_unit(&job.input_hu);
    let linear = builtin(ModelKind::Linear)?;
    let nonlinear = builtin(ModelKind::Nonlinear)?;
    let model = match job.kind {
        ModelKind::Linear => linear.clone(),
        ModelKind::Nonlinear => nonlinear.clone(),
    };
    if cancel.load(Ordering::Relaxed) {
        return Err(JobError::Cancelled);
    }

    let mut tracker = Tracker {
        cancel,
        progress,
        ledger: Ledger::default(),
        keys_seconds: 0.0,
        key_bytes: 0,
        send_started: None,
        server_seconds: 0.0,
    };
    let keys_reused = session.is_some();
    if keys_reused {
        (tracker.progress)(Progress::Reused(StepId::Stage(Stage::Keys)));
        tracker.started(StepId::Stage(Stage::EncodeEncrypt));
    } else {
        tracker.started(StepId::Stage(Stage::Keys));
    }
    let run = {
        let mut on = |e: &DenoiseEvent| tracker.on(e);
        let s = match session {
            Some(s) => s,
            None => session.insert(
                match job.server.endpoint()? {
                    None => DenoiseSession::new_with(
                        job.kind,
                        linear,
                        nonlinear,
                        MaskPolicy::DEFAULT,
                        &mut on,
                    ),
                    // The remote server holds the weights; the client needs their shape. Its
                    // health is checked first, so an unreachable one fails before the keys.
                    Some(endpoint) => crate::protocol::transport::http_client::health(&endpoint)
                        .and_then(|_| {
                            DenoiseSession::connect_with(
                                job.kind,
                                &specs(&model),
                                &endpoint,
                                &mut on,
                            )
                        }),
                }
                .map_err(protocol)?,
            ),
        };
        s.denoise_with(&input, rows, cols, &mut on)
            .map_err(protocol)?
    };
    let (eval_key_bytes, setup_seconds) = session.as_ref().map_or((0, 0.0), |s| {
        (
            s.eval_key_bytes,
            s.setup_ledger.steps.iter().map(|st| st.seconds).sum(),
        )
    });
    if cancel.load(Ordering::Relaxed) {
        return Err(JobError::Cancelled);
    }

    // The plaintext model on the same input: the reference the decryption must match.
    let t = Instant::now();
    let plain = model.denoise(&input, rows, cols)?;
    let plain_seconds = t.elapsed().as_secs_f64();
    // The client's plaintext gain on the predicted noise (after decryption, no extra round).
    let finished = finish(job.kind, &input, &run.image, rows, cols)?;
    let quality = match &job.clean_hu {
        Some(clean) => Some(
            Quality::measure(clean, &job.input_hu, &finished.image, rows, cols)
                .map_err(|e| JobError::Imaging(e.to_string()))?,
        ),
        None => None,
    };
    let output_hu = full_range_hu(&job.input_hu, &finished.image);
    let difference_hu: Vec<f32> = output_hu
        .iter()
        .zip(&job.input_hu)
        .map(|(o, i)| o - i)
        .collect();
    Ok(DenoiseOutcome {
        kind: job.kind,
        rows,
        cols,
        generation: job.generation,
        index: job.index,
        dose: job.dose,
        approximate_hu: job.approximate_hu,
        input_hu: job.input_hu.clone(),
        difference_half_width: symmetric_half_width(&difference_hu),
        difference_hu,
        output_unit: finished.image,
        output_hu,
        quality,
        max_abs_diff: max_abs_diff(&plain, &run.image),
        plain_seconds,
        keys_seconds: tracker.keys_seconds,
        keys_reused,
        eval_key_bytes,
        setup_seconds,
        ledger: tracker.ledger,
        run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn difference_window_is_symmetric_and_robust() {
        let mut d = vec![0.0f32; 1000];
        d[0] = 500.0; // one outlier does not set the window
        d[1..20].iter_mut().for_each(|v| *v = -12.0);
        assert_eq!(symmetric_half_width(&d), 15.0);
        assert_eq!(symmetric_half_width(&[]), 5.0);
        assert_eq!(symmetric_half_width(&[0.0; 10]), 5.0);
    }
}
