//! The background worker. One thread owns every crypto job (and the LDCT simulation); file
//! loading, exports and native dialogs run on short-lived helper threads. Everything reports
//! back over one crossbeam channel and wakes the UI with `ctx.request_repaint()`, so the UI
//! thread never decodes a file, encrypts, or waits on a dialog.

use super::denoise::{self, DenoiseJob, DenoiseOutcome};
use super::job::{self, ClassifyOutcome, ClassifyRequest, JobError, Progress};
use super::remote::ServerTarget;
use crate::imaging::window::Window;
use crate::imaging::{Slice, ldct, metrics};
use crate::model::classifier::he::ApproxParams;
use crate::protocol::ProtocolError;
use crossbeam_channel::{Receiver, Sender};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// The title of denoising errors (also how the UI recognises them).
pub const DENOISE_WHAT: &str = "Encrypted denoising";

/// A long job for the crypto thread; only one runs at a time.
pub enum Job {
    Classify {
        image: Vec<f32>,
        weights: Vec<ApproxParams>,
        /// Also ask for the encrypted class-activation map.
        heat_map: bool,
        server: ServerTarget,
    },
    /// Every slice of `slices` (index in the series, slice) with one key set (issue 19).
    ClassifySeries {
        slices: Vec<(usize, Slice)>,
        weights: Vec<ApproxParams>,
        heat_map: bool,
        server: ServerTarget,
    },
    Ldct {
        hu: Vec<f32>,
        rows: usize,
        cols: usize,
        spacing_mm: f64,
        dose: f64,
        seed: u64,
    },
    Denoise(Box<DenoiseJob>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    Classify,
    /// A series run of encrypted classifications.
    Series,
    Ldct,
    Denoise,
}

impl Job {
    pub fn kind(&self) -> JobKind {
        match self {
            Job::Classify { .. } => JobKind::Classify,
            Job::ClassifySeries { .. } => JobKind::Series,
            Job::Ldct { .. } => JobKind::Ldct,
            Job::Denoise(_) => JobKind::Denoise,
        }
    }
}

/// A simulated low-dose scan and its quality against the noiseless reconstruction.
#[derive(Debug, Clone)]
pub struct LdctOutcome {
    pub dose: f64,
    pub low_dose: Vec<f32>,
    pub clean: Vec<f32>,
    /// PSNR/SSIM of low-dose vs clean, both normalised through the Abdomen window.
    pub psnr_db: Option<f64>,
    pub ssim: Option<f64>,
    pub seconds: f64,
}

/// One file (or folder) decoded off the UI thread.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// File or folder name only (shown in the UI, never stored).
    pub label: String,
    pub slices: Vec<Slice>,
    /// Stored size of the first slice's pixel data in bytes (the plaintext payload).
    pub plaintext_bytes: u64,
    /// Where the slices came from (kept in memory only, for derived DICOM exports).
    pub source: Source,
}

/// The origin of the loaded slices.
#[derive(Debug, Clone)]
pub enum Source {
    /// The built-in phantom (re-encoded on demand).
    Builtin,
    File(PathBuf),
    /// A series folder: one file per slice, in slice order.
    Series(Vec<PathBuf>),
}

/// What the native dialog was opened for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogPurpose {
    Open,
    ExportPng,
    /// The denoised slice as PNG (abdomen window).
    ExportDenoisedPng,
    /// The denoised slice as DICOM (a derived series).
    ExportDenoisedDicom,
    /// A reference image to compare with (e.g. the matching full dose).
    OpenReference,
    /// The teaching report (one HTML file).
    ExportReport,
}

impl DialogPurpose {
    /// True for every "save as" purpose.
    pub fn is_export(self) -> bool {
        !matches!(self, DialogPurpose::Open | DialogPurpose::OpenReference)
    }

    /// The file extension a save dialog enforces.
    pub fn extension(self) -> &'static str {
        match self {
            DialogPurpose::ExportDenoisedDicom => "dcm",
            DialogPurpose::ExportReport => "html",
            _ => "png",
        }
    }

    pub fn default_name(self) -> &'static str {
        match self {
            DialogPurpose::Open | DialogPurpose::OpenReference | DialogPurpose::ExportPng => {
                "privact-slice.png"
            }
            DialogPurpose::ExportReport => "privact-report.html",
            DialogPurpose::ExportDenoisedPng => "privact-denoised.png",
            DialogPurpose::ExportDenoisedDicom => "privact-denoised.dcm",
        }
    }
}

/// One slice of a series run: its result, or the input check's reason for not classifying it.
#[derive(Debug, Clone)]
pub struct SeriesSlice {
    /// Index of the slice in the loaded series.
    pub index: usize,
    /// `None` when the input check refused the slice (then `warning` says why).
    pub outcome: Option<Box<ClassifyOutcome>>,
    /// The input check's warning (no class is named for such a slice).
    pub warning: Option<String>,
}

#[derive(Debug)]
pub enum Event {
    Progress(JobKind, Progress),
    Classified(Box<ClassifyOutcome>),
    /// One more slice of the running series is done.
    SeriesSlice(Box<SeriesSlice>),
    LdctDone(Box<LdctOutcome>),
    Denoised(Box<DenoiseOutcome>),
    Loaded(Box<Loaded>),
    /// A reference image to compare with.
    ReferenceLoaded(Box<super::state::ReferenceImage>),
    Exported(String),
    Picked {
        purpose: DialogPurpose,
        path: Option<PathBuf>,
    },
    Cancelled(JobKind),
    Failed {
        what: String,
        message: String,
        hint: String,
    },
    /// A job ended (success, failure or cancel); the worker is free again.
    Idle(JobKind),
    /// What the last contact with a remote server showed: its `/healthz` round trip in
    /// seconds (`Some`), a job it answered (`None`), or why it could not be used.
    Server {
        target: ServerTarget,
        result: Result<Option<f64>, String>,
    },
}

/// The reason a job was not started.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubmitError {
    #[error("another job is running; cancel it or wait for it to finish")]
    Busy,
    #[error("the worker thread has stopped")]
    Stopped,
}

/// Sends events and wakes the UI.
#[derive(Clone)]
pub struct Emitter {
    tx: Sender<Event>,
    /// Set on the first frame (the test harness creates its context after the app).
    ctx: Arc<OnceLock<egui::Context>>,
}

impl Emitter {
    pub fn emit(&self, e: Event) {
        let _ = self.tx.send(e);
        if let Some(ctx) = self.ctx.get() {
            ctx.request_repaint();
        }
    }
}

pub struct Worker {
    jobs: Option<Sender<Job>>,
    events: Receiver<Event>,
    emitter: Emitter,
    cancel: Arc<AtomicBool>,
    busy: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    pub fn spawn() -> Worker {
        let (job_tx, job_rx) = crossbeam_channel::unbounded::<Job>();
        let (ev_tx, ev_rx) = crossbeam_channel::unbounded::<Event>();
        let emitter = Emitter {
            tx: ev_tx,
            ctx: Arc::new(OnceLock::new()),
        };
        let cancel = Arc::new(AtomicBool::new(false));
        let busy = Arc::new(AtomicBool::new(false));
        let thread = {
            let (emitter, cancel, busy) = (emitter.clone(), cancel.clone(), busy.clone());
            std::thread::Builder::new()
                .name("privact-worker".into())
                .spawn(move || {
                    // Keys and server state that outlive one job (the worker's session).
                    let mut sessions = Sessions::default();
                    while let Ok(job) = job_rx.recv() {
                        let kind = job.kind();
                        run_job(job, &mut sessions, &cancel, &emitter);
                        busy.store(false, Ordering::SeqCst);
                        emitter.emit(Event::Idle(kind));
                    }
                })
                .ok()
        };
        Worker {
            jobs: thread.as_ref().map(|_| job_tx),
            events: ev_rx,
            emitter,
            cancel,
            busy,
            thread,
        }
    }

    /// The context to wake on every event (first call wins).
    pub fn attach(&self, ctx: &egui::Context) {
        let _ = self.emitter.ctx.set(ctx.clone());
    }

    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst)
    }

    /// Starts a job, or refuses while another one runs.
    pub fn submit(&self, job: Job) -> Result<(), SubmitError> {
        let jobs = self.jobs.as_ref().ok_or(SubmitError::Stopped)?;
        if self
            .busy
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Err(SubmitError::Busy);
        }
        self.cancel.store(false, Ordering::SeqCst);
        jobs.send(job).map_err(|_| {
            self.busy.store(false, Ordering::SeqCst);
            SubmitError::Stopped
        })
    }

    /// Asks the running job to stop at its next stage boundary.
    pub fn cancel(&self) {
        if self.is_busy() {
            self.cancel.store(true, Ordering::SeqCst);
        }
    }

    pub fn try_recv(&self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// Runs `f` on a helper thread and posts its event (file loads, exports, dialogs).
    pub fn spawn_io(&self, name: &str, f: impl FnOnce() -> Event + Send + 'static) {
        let emitter = self.emitter.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("privact-{name}"))
            .spawn(move || emitter.emit(f()));
        if spawned.is_err() {
            self.emitter.emit(Event::Failed {
                what: name.to_string(),
                message: "could not start a helper thread".into(),
                hint: "The system is out of resources; close other programs.".into(),
            });
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::SeqCst);
        self.jobs = None; // closes the job channel: the thread ends after its current job
        if let Some(t) = self.thread.take() {
            // Never block the UI on exit for a long job: detach if it is still running.
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

/// Keys and in-process servers that outlive one job: the app's crypto session, owned by the
/// worker thread (issue 20: keys are made and uploaded once per session and model).
#[derive(Default)]
struct Sessions {
    classify: Option<job::ClassifySession>,
    denoise: denoise::DenoiseSessions,
}

/// Tells the UI how a job went with a remote server (nothing for the built-in worker).
fn report_server<T>(emitter: &Emitter, target: &ServerTarget, result: &Result<T, JobError>) {
    if *target == ServerTarget::Builtin {
        return;
    }
    let result = match result {
        Ok(_) => Ok(None),
        Err(e @ JobError::Protocol(ProtocolError::Network(_))) => Err(e.to_string()),
        // Cancelled or refused: the server itself was reachable.
        Err(_) => return,
    };
    emitter.emit(Event::Server {
        target: target.clone(),
        result,
    });
}

fn run_job(job: Job, sessions: &mut Sessions, cancel: &AtomicBool, emitter: &Emitter) {
    match job {
        Job::ClassifySeries {
            slices,
            weights,
            heat_map,
            server,
        } => classify_series(
            &slices, &weights, heat_map, &server, sessions, cancel, emitter,
        ),
        Job::Classify {
            image,
            weights,
            heat_map,
            server,
        } => {
            let mut on_progress = |p: Progress| emitter.emit(Event::Progress(JobKind::Classify, p));
            let request = ClassifyRequest {
                image: &image,
                weights: &weights,
                heat_map,
                server: &server,
            };
            let result = job::classify(&request, &mut sessions.classify, cancel, &mut on_progress);
            report_server(emitter, &server, &result);
            match result {
                Ok(outcome) => emitter.emit(Event::Classified(Box::new(outcome))),
                Err(JobError::Cancelled) => emitter.emit(Event::Cancelled(JobKind::Classify)),
                Err(e) => emitter.emit(Event::Failed {
                    what: "Encrypted classification".into(),
                    message: e.to_string(),
                    hint: e.hint().into(),
                }),
            }
        }
        Job::Denoise(job) => {
            let mut on_progress = |p: Progress| emitter.emit(Event::Progress(JobKind::Denoise, p));
            let result = denoise::denoise(&job, &mut sessions.denoise, cancel, &mut on_progress);
            report_server(emitter, &job.server, &result);
            match result {
                Ok(outcome) => emitter.emit(Event::Denoised(Box::new(outcome))),
                Err(JobError::Cancelled) => emitter.emit(Event::Cancelled(JobKind::Denoise)),
                Err(e) => emitter.emit(Event::Failed {
                    what: DENOISE_WHAT.into(),
                    message: e.to_string(),
                    hint: e.hint().into(),
                }),
            }
        }
        Job::Ldct {
            hu,
            rows,
            cols,
            spacing_mm,
            dose,
            seed,
        } => {
            let t = std::time::Instant::now();
            let result = ldct::simulate(&hu, rows, cols, spacing_mm, dose, seed);
            if cancel.load(Ordering::SeqCst) {
                emitter.emit(Event::Cancelled(JobKind::Ldct));
                return;
            }
            match result {
                Ok(r) => {
                    let norm = |v: &[f32]| -> Vec<f32> {
                        v.iter()
                            .map(|&x| Window::ABDOMEN.apply_unit(f64::from(x)))
                            .collect()
                    };
                    let (lo, cl) = (norm(&r.low_dose), norm(&r.clean));
                    emitter.emit(Event::LdctDone(Box::new(LdctOutcome {
                        dose,
                        psnr_db: metrics::psnr(&cl, &lo, 1.0).ok(),
                        ssim: metrics::ssim(&cl, &lo, rows, cols, 1.0).ok(),
                        low_dose: r.low_dose,
                        clean: r.clean,
                        seconds: t.elapsed().as_secs_f64(),
                    })))
                }
                Err(e) => emitter.emit(Event::Failed {
                    what: "Low-dose simulation".into(),
                    message: JobError::Imaging(e.to_string()).to_string(),
                    hint: JobError::Imaging(String::new()).hint().into(),
                }),
            }
        }
    }
}

/// A series run: each slice is checked, transformed and classified with the session's one key
/// set; every finished slice is reported at once, so a cancelled run keeps what it did.
fn classify_series(
    slices: &[(usize, Slice)],
    weights: &[ApproxParams],
    heat_map: bool,
    server: &ServerTarget,
    sessions: &mut Sessions,
    cancel: &AtomicBool,
    emitter: &Emitter,
) {
    use crate::imaging::input_check;
    use crate::model::classifier::preprocess::preprocess;
    for (index, slice) in slices {
        let (outcome, warning) = match input_check::check_slice(slice) {
            Err(refused) => (None, Some(refused.to_string())),
            Ok(check) => {
                let image = preprocess(&crate::imaging::model_input::to_model_input(
                    &input_check::as_hounsfield(slice),
                ));
                let mut on_progress =
                    |p: Progress| emitter.emit(Event::Progress(JobKind::Series, p));
                let request = ClassifyRequest {
                    image: &image,
                    weights,
                    heat_map,
                    server,
                };
                let result =
                    job::classify(&request, &mut sessions.classify, cancel, &mut on_progress);
                if result.is_err() || *index == slices.last().map_or(0, |l| l.0) {
                    report_server(emitter, server, &result);
                }
                match result {
                    Ok(o) => (Some(Box::new(o)), check.warning()),
                    Err(JobError::Cancelled) => {
                        emitter.emit(Event::Cancelled(JobKind::Series));
                        return;
                    }
                    Err(e) => {
                        emitter.emit(Event::Failed {
                            what: "Encrypted series classification".into(),
                            message: format!("slice {}: {e}", index + 1),
                            hint: e.hint().into(),
                        });
                        return;
                    }
                }
            }
        };
        emitter.emit(Event::SeriesSlice(Box::new(SeriesSlice {
            index: *index,
            outcome,
            warning,
        })));
    }
}

// ---- Helper-thread tasks (run through `Worker::spawn_io`) ----

fn plaintext_bytes(s: &Slice) -> u64 {
    let per_pixel = s.info.as_ref().map_or(1, |i| {
        u64::from(i.bits_allocated.max(8)).div_ceil(8) * u64::from(i.samples_per_pixel.max(1))
    });
    (s.rows * s.cols) as u64 * per_pixel
}

fn name_of(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "image".into())
}

fn load_failed(e: impl std::fmt::Display, hint: &str) -> Event {
    Event::Failed {
        what: "Open".into(),
        message: e.to_string(),
        hint: hint.into(),
    }
}

fn loaded(label: String, slices: Vec<Slice>, source: Source) -> Event {
    let plaintext_bytes = slices.first().map_or(0, plaintext_bytes);
    Event::Loaded(Box::new(Loaded {
        label,
        slices,
        plaintext_bytes,
        source,
    }))
}

const LOAD_HINT: &str =
    "PrivaCT reads DICOM (uncompressed, RLE, JPEG, JPEG 2000), PNG, JPEG and TIFF slices.";

/// Decodes a file, or a folder as one series.
pub fn load_path(path: PathBuf) -> Event {
    if path.is_dir() {
        match crate::imaging::dicom::series::load_series(&path) {
            Ok(series) => loaded(name_of(&path), series.slices, Source::Series(series.paths)),
            Err(e) => load_failed(e, "Drop a folder that holds the DICOM files of one series."),
        }
    } else {
        match crate::imaging::load(&path) {
            Ok(slice) => loaded(name_of(&path), vec![slice], Source::File(path)),
            Err(e) => load_failed(e, LOAD_HINT),
        }
    }
}

/// A reference image (one file: its first frame) to compare the slice on screen with.
pub fn load_reference(path: PathBuf) -> Event {
    match crate::imaging::load(&path) {
        Ok(slice) => Event::ReferenceLoaded(Box::new(super::state::ReferenceImage {
            label: name_of(&path),
            slice,
        })),
        Err(e) => Event::Failed {
            what: "Load reference".into(),
            message: e.to_string(),
            hint: "Choose one image of the same size as the slice (e.g. the matching full dose)."
                .into(),
        },
    }
}

/// Writes `bytes` atomically (temporary file + rename), e.g. the teaching report.
pub fn write_file(path: PathBuf, bytes: Vec<u8>) -> Event {
    match crate::imaging::io::write_atomic(&path, &bytes) {
        Ok(()) => Event::Exported(name_of(&path)),
        Err(e) => Event::Failed {
            what: "Export".into(),
            message: e.to_string(),
            hint: "Choose a folder you can write to.".into(),
        },
    }
}

/// The built-in synthetic phantom, through the same DICOM decoder as any file.
pub fn load_phantom() -> Event {
    // The label names no lesion: the classifier was never trained on phantoms, and a label
    // saying "tumour" beside a contradicting answer would read as a verdict on the model.
    let label = "Built-in phantom (synthetic abdomen)".to_string();
    match crate::imaging::phantom::builtin_sample_dicom() {
        Ok(bytes) => match crate::imaging::load_bytes(
            &bytes,
            std::path::Path::new("phantom.dcm"),
            &crate::imaging::LoadOptions::default(),
        ) {
            Ok(slice) => loaded(label, vec![slice], Source::Builtin),
            Err(e) => load_failed(e, "The built-in sample failed to decode; please report it."),
        },
        Err(e) => load_failed(e, "The built-in sample failed to encode; please report it."),
    }
}

/// Writes an 8-bit greyscale PNG atomically (temporary file + rename).
pub fn export_png(path: PathBuf, rows: usize, cols: usize, pixels: Vec<u8>) -> Event {
    let result = crate::imaging::raster::png_bytes(rows, cols, &pixels)
        .map_err(|k| crate::imaging::ImagingError::new(&path, k))
        .and_then(|png| crate::imaging::io::write_atomic(&path, &png));
    match result {
        Ok(()) => Event::Exported(name_of(&path)),
        Err(e) => Event::Failed {
            what: "Export".into(),
            message: e.to_string(),
            hint: "Choose a folder you can write to.".into(),
        },
    }
}

/// A denoised slice to write (taken from the result when the user exports it).
pub struct DenoisedExport {
    pub path: PathBuf,
    pub rows: usize,
    pub cols: usize,
    /// The decrypted output after the client's gain, on [0, 1] (the abdomen window).
    pub output: Vec<f64>,
    /// The input it was denoised from (HU): values outside the window are kept from it.
    pub input_hu: Vec<f32>,
    /// Where a derived DICOM copies its tags from (`None`: a new CT object).
    pub source: Option<Source>,
    pub index: usize,
    pub spacing_mm: f64,
    pub description: String,
}

/// The source file's bytes and path for a derived DICOM, if they can be read again.
fn source_bytes(source: &Source, index: usize) -> Option<(Vec<u8>, PathBuf)> {
    match source {
        Source::Builtin => crate::imaging::phantom::builtin_sample_dicom()
            .ok()
            .map(|b| (b, PathBuf::from("phantom.dcm"))),
        Source::File(p) => std::fs::read(p).ok().map(|b| (b, p.clone())),
        Source::Series(paths) => {
            let p = paths.get(index)?;
            std::fs::read(p).ok().map(|b| (b, p.clone()))
        }
    }
}

/// Writes the denoised slice as PNG or DICOM (derived series), atomically.
pub fn export_denoised(e: DenoisedExport) -> Event {
    use crate::model::denoiser::data::{DicomSource, OutputFormat, output_bytes};
    let dicom = OutputFormat::from_path(&e.path) == Some(OutputFormat::Dicom);
    let source = if dicom {
        e.source.as_ref().and_then(|s| source_bytes(s, e.index))
    } else {
        None
    };
    let fresh = dicom && source.is_none();
    // Decrypted values leave the app only flooded and rounded to the stored grid.
    let format = if dicom {
        OutputFormat::Dicom
    } else {
        OutputFormat::Png
    };
    let released = match crate::protocol::release::release_image(&e.output, format) {
        Ok(v) => v,
        Err(err) => {
            return Event::Failed {
                what: "Export".into(),
                message: err.to_string(),
                hint: "This is a bug in the export policy; please report it.".into(),
            };
        }
    };
    let hu = crate::model::denoiser::data::full_range_hu(&e.input_hu, &released);
    let result = output_bytes(
        &e.path,
        e.rows,
        e.cols,
        &hu,
        source
            .as_ref()
            .map(|(bytes, path)| DicomSource { bytes, path }),
        e.spacing_mm,
        &e.description,
    )
    .and_then(|bytes| crate::imaging::io::write_atomic(&e.path, &bytes));
    match result {
        Ok(()) if fresh => Event::Exported(format!(
            "{} (a new CT object: no DICOM source to derive from)",
            name_of(&e.path)
        )),
        Ok(()) => Event::Exported(name_of(&e.path)),
        Err(err) => Event::Failed {
            what: "Export".into(),
            message: err.to_string(),
            hint: "Choose a folder you can write to.".into(),
        },
    }
}
