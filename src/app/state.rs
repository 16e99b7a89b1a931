//! Runtime state: what the window shows right now. Never persisted (see `prefs` for that).

use super::denoise::DenoiseOutcome;
use super::job::{self, ClassifyOutcome, STAGES, StepId};
use super::view::ViewTransform;
use super::worker::{JobKind, LdctOutcome, Loaded};
use crate::imaging::Slice;
use crate::imaging::window::{Preset, Window};
use crate::model::denoiser::ModelKind;
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepStatus {
    Waiting,
    Running,
    Done,
    /// Not run: the result of an earlier run of the session (the keys) is reused.
    Reused,
    Cancelled,
    Failed,
}

impl StepStatus {
    pub fn label(self) -> &'static str {
        match self {
            StepStatus::Waiting => "waiting",
            StepStatus::Running => "running",
            StepStatus::Done => "done",
            StepStatus::Reused => "reused",
            StepStatus::Cancelled => "cancelled",
            StepStatus::Failed => "failed",
        }
    }

    /// Done, or not needed because an earlier result is reused.
    pub fn finished(self) -> bool {
        matches!(self, StepStatus::Done | StepStatus::Reused)
    }
}

#[derive(Clone, Debug)]
pub struct StepView {
    pub id: StepId,
    pub status: StepStatus,
    pub seconds: Option<f64>,
    pub bytes: Option<u64>,
    pub started: Option<Instant>,
}

impl StepView {
    fn waiting(id: StepId) -> StepView {
        StepView {
            id,
            status: StepStatus::Waiting,
            seconds: None,
            bytes: None,
            started: None,
        }
    }
}

/// The steps of one task as the right panel shows them.
#[derive(Clone, Debug)]
pub struct Pipeline {
    pub steps: Vec<StepView>,
    /// Expected seconds per step (same order) for the ETA: typical values, then the measured
    /// durations of the last finished run. `None` while unknown.
    pub estimates: Option<Vec<f64>>,
    pub started: Option<Instant>,
    /// The classification result (the denoising result lives in `DenoiseState`).
    pub outcome: Option<Box<ClassifyOutcome>>,
    /// The first input ciphertext as serialized for the server.
    pub server_view: Option<Vec<u8>>,
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline::classify()
    }
}

impl Pipeline {
    fn with_steps(ids: impl IntoIterator<Item = StepId>, estimates: Option<Vec<f64>>) -> Self {
        Pipeline {
            steps: ids.into_iter().map(StepView::waiting).collect(),
            estimates,
            started: None,
            outcome: None,
            server_view: None,
        }
    }

    /// The six steps of an encrypted classification.
    pub fn classify() -> Self {
        Self::with_steps(
            STAGES.map(StepId::Stage),
            Some(STAGES.map(job::default_estimate).to_vec()),
        )
    }

    /// Encrypted denoising: the six steps, with three rows per ReLU round inside "Evaluate
    /// on ciphertext".
    pub fn denoise(relu_rounds: usize) -> Self {
        let mut ids: Vec<StepId> = STAGES[..4].iter().map(|&s| StepId::Stage(s)).collect();
        for r in 1..=relu_rounds {
            ids.extend([
                StepId::RoundDown(r),
                StepId::RoundRelu(r),
                StepId::RoundUp(r),
            ]);
        }
        ids.extend(STAGES[4..].iter().map(|&s| StepId::Stage(s)));
        Self::with_steps(ids, None)
    }

    /// Every step waiting again (same rows and estimates), no result.
    pub fn clear(&mut self) {
        let ids = self.steps.iter().map(|s| s.id).collect::<Vec<_>>();
        *self = Self::with_steps(ids, self.estimates.take());
    }

    /// Cleared, with the clock started.
    pub fn reset_for_run(&mut self) {
        self.clear();
        self.started = Some(Instant::now());
    }

    pub fn step_mut(&mut self, id: StepId) -> Option<&mut StepView> {
        self.steps.iter_mut().find(|s| s.id == id)
    }

    pub fn status(&self, id: StepId) -> StepStatus {
        self.steps
            .iter()
            .find(|s| s.id == id)
            .map_or(StepStatus::Waiting, |v| v.status)
    }

    /// The measured durations of a finished run become the next run's estimates.
    /// A reused step keeps its estimate (the next session may have to run it).
    pub fn learn(&mut self) {
        if self.steps.iter().all(|s| s.status.finished()) {
            let old = self.estimates.take();
            self.estimates = Some(
                self.steps
                    .iter()
                    .enumerate()
                    .map(
                        |(i, s)| match (s.status, old.as_ref().and_then(|o| o.get(i))) {
                            (StepStatus::Reused, Some(&e)) => e,
                            _ => s.seconds.unwrap_or(0.0).max(0.01),
                        },
                    )
                    .collect(),
            );
        }
    }

    /// Seconds left: the running steps' remaining estimates plus the waiting steps' estimates.
    pub fn eta_seconds(&self) -> Option<f64> {
        self.started?;
        let estimates = self.estimates.as_ref()?;
        let mut left = 0.0;
        for (i, st) in self.steps.iter().enumerate() {
            let est = estimates.get(i).copied().unwrap_or(0.0);
            match st.status {
                StepStatus::Waiting => left += est,
                StepStatus::Running => {
                    let spent = st.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
                    left += (est - spent).max(0.1);
                }
                _ => {}
            }
        }
        Some(left)
    }

    /// Fraction done: by the estimates when known, else by finished rows.
    pub fn fraction_done(&self) -> f32 {
        let total: f64 = self.estimates.iter().flatten().sum();
        match self.eta_seconds() {
            Some(left) if total > 0.0 => (1.0 - left / total).clamp(0.0, 1.0) as f32,
            _ => {
                let done = self.steps.iter().filter(|s| s.status.finished()).count();
                done as f32 / self.steps.len().max(1) as f32
            }
        }
    }

    /// Marks the running steps (if any) with `status` when a job stops early.
    pub fn stop(&mut self, status: StepStatus) {
        for st in &mut self.steps {
            if st.status == StepStatus::Running {
                st.status = status;
                st.seconds = st.started.map(|t| t.elapsed().as_secs_f64());
            }
        }
        self.started = None;
    }
}

/// Which task the right panel, the payload strip and the overhead table describe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    Classify,
    Denoise,
}

/// Encrypted denoising: the chosen model, its pipeline and its last result.
#[derive(Debug)]
pub struct DenoiseState {
    pub model: ModelKind,
    pub pipeline: Pipeline,
    pub outcome: Option<Box<DenoiseOutcome>>,
    /// Increments with every result (keys the result textures).
    pub results_seen: u64,
    /// Which model and tile count the pipeline's rows and estimates belong to.
    pub pipeline_for: Option<(ModelKind, usize)>,
}

/// Which image the centre shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Display {
    Original,
    LowDose,
    CleanReference,
    /// The decrypted output of the last encrypted denoising.
    Denoised,
    /// The loaded reference image (e.g. the matching full dose), when its size matches.
    Reference,
}

impl Display {
    /// Every view, in the order the UI lists them.
    pub const ALL: [Display; 5] = [
        Display::Original,
        Display::LowDose,
        Display::CleanReference,
        Display::Denoised,
        Display::Reference,
    ];

    /// What the view shows, for labels and overlays.
    pub fn label(self) -> &'static str {
        match self {
            Display::Original => "original",
            Display::LowDose => "simulated low dose",
            Display::CleanReference => "clean reference reconstruction",
            Display::Denoised => "denoised (decrypted)",
            Display::Reference => "loaded reference",
        }
    }

    /// A short name for buttons and table rows.
    pub fn short(self) -> &'static str {
        match self {
            Display::Original => "Original",
            Display::LowDose => "Low dose",
            Display::CleanReference => "Clean reference",
            Display::Denoised => "Denoised",
            Display::Reference => "Reference",
        }
    }
}

/// The ROI drawing tool chosen (a left-drag on the image draws with it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoiTool {
    /// Left-drag changes the window.
    None,
    Circle,
    Rect,
}

/// Cine playback through a series.
#[derive(Clone, Debug)]
pub struct Cine {
    pub playing: bool,
    /// Frames (slices) per second, 1…30.
    pub fps: f32,
    /// At the last slice: start again (true) or stop (false).
    pub wrap: bool,
    /// When the last frame was shown.
    pub last: Option<Instant>,
}

/// A second image to compare with (same rows × cols as the slice on screen to be used).
#[derive(Clone, Debug)]
pub struct ReferenceImage {
    /// File name only.
    pub label: String,
    pub slice: Slice,
}

/// Synced comparison: two views side by side (shared window, zoom and pan), or one view
/// that flickers between the two.
#[derive(Clone, Debug)]
pub struct Compare {
    pub side_by_side: bool,
    pub flicker: bool,
    /// The pair: left/right side by side, and the two states of the flicker.
    pub a: Display,
    pub b: Display,
    /// Seconds each view stays on screen while flickering.
    pub period_s: f32,
    pub last_swap: Option<Instant>,
}

#[derive(Debug)]
pub struct LdctState {
    /// Fraction of the full dose.
    pub dose: f64,
    pub outcome: Option<Box<LdctOutcome>>,
    /// Which image (generation) and slice of it the outcome belongs to.
    pub for_generation: u64,
    pub for_index: usize,
}

/// How the class-activation map is asked for and drawn (runtime settings).
#[derive(Clone, Debug)]
pub struct HeatMapView {
    /// Ask the server for the encrypted map with every classification.
    pub request: bool,
    /// Draw the map of the slice on screen over the image.
    pub show: bool,
    /// 1 = cyst, 2 = tumour (index in `CLASSES`).
    pub class: usize,
    /// Overlay opacity at the map's maximum, 0…1.
    pub opacity: f32,
}

/// One finished slice of a series run.
#[derive(Clone, Debug)]
pub struct SeriesRow {
    pub index: usize,
    /// Decrypted probabilities (`None` when the input check refused the slice).
    pub probabilities: Option<[f64; 3]>,
    pub warning: Option<String>,
    /// The slice's full result (maps, ledger, plaintext comparison).
    pub outcome: Option<Box<ClassifyOutcome>>,
    /// This slice's own seconds (the session's one-time key cost apart).
    pub seconds: f64,
    /// Bytes this slice moved (request + response), plus the keys for the first slice.
    pub bytes: u64,
}

/// An encrypted classification of many slices of the loaded series with one key set.
#[derive(Clone, Debug)]
pub struct SeriesRun {
    /// The image (generation) the run belongs to.
    pub generation: u64,
    /// Slice indices asked for, in order.
    pub indices: Vec<usize>,
    pub rows: Vec<SeriesRow>,
    pub started: Instant,
    /// Seconds the run took, once it ended (finished or cancelled).
    pub ended: Option<f64>,
    pub cancelled: bool,
    /// The session's one-time cost (keys), when this run paid it.
    pub setup_seconds: f64,
}

impl SeriesRun {
    /// Bytes moved so far.
    pub fn bytes(&self) -> u64 {
        self.rows.iter().map(|r| r.bytes).sum()
    }

    /// Seconds to go, from the mean time of the slices done so far.
    pub fn eta_seconds(&self) -> Option<f64> {
        let done = self
            .rows
            .iter()
            .filter(|r| r.probabilities.is_some())
            .count();
        let left = self.indices.len().saturating_sub(self.rows.len());
        (done > 0).then(|| {
            let per: f64 = self.rows.iter().map(|r| r.seconds).sum::<f64>() / done as f64;
            per * left as f64
        })
    }

    /// The row of slice `index`, if it is done.
    pub fn row(&self, index: usize) -> Option<&SeriesRow> {
        self.rows.iter().find(|r| r.index == index)
    }

    /// Up to `n` classified slices by decreasing tumour probability (slices with a warning
    /// name no class and are left out).
    pub fn most_suspicious(&self, n: usize) -> Vec<&SeriesRow> {
        let mut rows: Vec<&SeriesRow> = self
            .rows
            .iter()
            .filter(|r| r.warning.is_none() && r.probabilities.is_some())
            .collect();
        rows.sort_by(|a, b| {
            let t = |r: &SeriesRow| r.probabilities.map_or(0.0, |p| p[2]);
            t(b).total_cmp(&t(a))
        });
        rows.truncate(n);
        rows
    }
}

/// A non-modal error: one line and a hint.
#[derive(Clone, Debug)]
pub struct Toast {
    pub title: String,
    pub message: String,
    pub hint: String,
    pub at: Instant,
}

/// Where the image is, and the pixel under the cursor.
#[derive(Clone, Debug, Default)]
pub struct Hover {
    pub readout: Option<String>,
}

pub struct AppState {
    pub image: Option<Loaded>,
    pub index: usize,
    /// Increments on every newly loaded image (textures and results are keyed by it).
    pub generation: u64,
    pub loading: bool,
    pub window: Window,
    pub preset: Option<Preset>,
    pub view: ViewTransform,
    pub display: Display,
    pub phi_revealed: bool,
    /// The classification pipeline.
    pub pipeline: Pipeline,
    /// Which image (generation) and slice the pipeline's outcome belongs to.
    pub outcome_for: Option<(u64, usize)>,
    pub heat_map: HeatMapView,
    /// The last series run (kept when cancelled: its finished slices stay usable).
    pub series: Option<SeriesRun>,
    /// First and last slice (0-based, inclusive) a series run covers.
    pub series_range: (usize, usize),
    /// The input check's warning for the slice of the last classification run (shown
    /// instead of a predicted class); `None` when the check passed.
    pub input_warning: Option<String>,
    /// The last classification ran on the built-in (synthetic) phantom.
    pub input_is_phantom: bool,
    pub denoise: DenoiseState,
    /// The task the right panel describes (the one last run or chosen).
    pub task: Task,
    pub running: Option<JobKind>,
    pub cancel_requested: bool,
    pub ldct: LdctState,
    pub toasts: Vec<Toast>,
    /// Informational line (e.g. "exported slice.png").
    pub notice: Option<String>,
    pub hover: Hover,
    pub dialog_open: bool,
    /// UI frame build times: the last one and the maximum while a job ran (milliseconds).
    pub frame_ms: f32,
    pub max_frame_ms_during_job: f32,
    pub frames_during_job: u64,
    pub roi_tool: RoiTool,
    /// The ROI in image pixel coordinates (applies to every view of the slice).
    pub roi: Option<crate::imaging::roi::Shape>,
    /// Wheel movement not yet turned into a slice step, in notches (lines).
    pub wheel_accum: f32,
    pub cine: Cine,
    pub reference: Option<ReferenceImage>,
    pub compare: Compare,
    /// What the app knows about the chosen server (built-in, or the remote one's state).
    pub connection: super::remote::Connection,
}

impl AppState {
    pub fn new(preset: Preset) -> Self {
        AppState {
            image: None,
            index: 0,
            generation: 0,
            loading: false,
            window: preset.fixed().unwrap_or(Window::ABDOMEN),
            preset: Some(preset),
            view: ViewTransform::default(),
            display: Display::Original,
            phi_revealed: false,
            pipeline: Pipeline::default(),
            outcome_for: None,
            heat_map: HeatMapView {
                request: true,
                show: true,
                class: 2,
                opacity: 0.6,
            },
            series: None,
            series_range: (0, 0),
            input_warning: None,
            input_is_phantom: false,
            denoise: DenoiseState {
                model: ModelKind::Linear,
                pipeline: Pipeline::denoise(0),
                outcome: None,
                results_seen: 0,
                pipeline_for: None,
            },
            task: Task::Classify,
            running: None,
            cancel_requested: false,
            ldct: LdctState {
                dose: 0.25,
                outcome: None,
                for_generation: 0,
                for_index: 0,
            },
            toasts: Vec::new(),
            notice: None,
            hover: Hover::default(),
            dialog_open: false,
            frame_ms: 0.0,
            max_frame_ms_during_job: 0.0,
            frames_during_job: 0,
            roi_tool: RoiTool::None,
            roi: None,
            wheel_accum: 0.0,
            cine: Cine {
                playing: false,
                fps: 5.0,
                wrap: true,
                last: None,
            },
            reference: None,
            connection: super::remote::Connection::Builtin,
            compare: Compare {
                side_by_side: false,
                flicker: false,
                a: Display::Original,
                b: Display::Reference,
                period_s: 0.7,
                last_swap: None,
            },
        }
    }

    pub fn slice(&self) -> Option<&Slice> {
        self.image.as_ref()?.slices.get(self.index)
    }

    /// The low-dose simulation of the slice on screen, if there is one.
    pub fn ldct_outcome(&self) -> Option<&LdctOutcome> {
        self.ldct.outcome.as_deref().filter(|_| {
            self.ldct.for_generation == self.generation && self.ldct.for_index == self.index
        })
    }

    /// The simulated low dose a denoising run takes as input: the slice's simulation, unless
    /// the user chose to look at the original (then the original is denoised, as shown).
    pub fn denoise_input(&self) -> Option<&LdctOutcome> {
        self.ldct_outcome()
            .filter(|_| self.display != Display::Original)
    }

    /// The series run's row of the slice on screen, if the run covered it.
    pub fn series_row(&self) -> Option<&SeriesRow> {
        self.series
            .as_ref()
            .filter(|r| r.generation == self.generation)?
            .row(self.index)
    }

    /// The encrypted classification of the slice on screen and its input-check warning: its
    /// own run, else the series run's row (issue 20: results describe what is on screen).
    pub fn classify_outcome(&self) -> Option<(&ClassifyOutcome, Option<&str>)> {
        match self.pipeline.outcome.as_deref() {
            Some(o) if self.outcome_for == Some((self.generation, self.index)) => {
                Some((o, self.input_warning.as_deref()))
            }
            _ => {
                let row = self.series_row()?;
                Some((row.outcome.as_deref()?, row.warning.as_deref()))
            }
        }
    }

    /// The decrypted class-activation maps of the slice on screen.
    pub fn maps_on_screen(&self) -> Option<&crate::model::classifier::ClassMaps> {
        self.classify_outcome()?.0.maps.as_ref()
    }

    /// The encrypted denoising result of the slice on screen, if there is one.
    pub fn denoise_outcome(&self) -> Option<&DenoiseOutcome> {
        self.denoise
            .outcome
            .as_deref()
            .filter(|o| o.generation == self.generation && o.index == self.index)
    }

    /// The view actually on screen when `d` is chosen: `d` if it exists for this slice, else
    /// the original (labels must name what is drawn, not what was chosen on another slice).
    pub fn shown_display(&self, d: Display) -> Display {
        if self.values_for(d).is_some() {
            d
        } else {
            Display::Original
        }
    }

    /// The values currently displayed (original, simulated low dose, clean reference,
    /// denoised or the loaded reference); the original when the chosen view does not exist.
    pub fn displayed_values(&self) -> Option<&[f32]> {
        self.values_for(self.display)
            .or_else(|| self.slice().map(|s| s.values.as_slice()))
    }

    /// The values of one view of the slice on screen (row-major, its rows × cols), `None`
    /// when that view does not exist for this slice (a reference of another size counts as
    /// absent).
    pub fn values_for(&self, d: Display) -> Option<&[f32]> {
        let s = self.slice()?;
        match d {
            Display::Original => Some(&s.values),
            Display::LowDose => self.ldct_outcome().map(|o| o.low_dose.as_slice()),
            Display::CleanReference => self.ldct_outcome().map(|o| o.clean.as_slice()),
            Display::Denoised => self.denoise_outcome().map(|o| o.output_hu.as_slice()),
            Display::Reference => self
                .reference
                .as_ref()
                .filter(|r| r.slice.rows == s.rows && r.slice.cols == s.cols)
                .map(|r| r.slice.values.as_slice()),
        }
    }

    /// The units of a view: the slice's own for the original and the reference's for it;
    /// the simulation and the denoiser work in HU.
    pub fn units_for(&self, d: Display) -> crate::imaging::Units {
        match d {
            Display::Original => self.slice().map_or(crate::imaging::Units::Raw, |s| s.units),
            Display::Reference => self
                .reference
                .as_ref()
                .map_or(crate::imaging::Units::Raw, |r| r.slice.units),
            _ => crate::imaging::Units::Hu,
        }
    }

    /// The views that exist for the slice on screen, in `Display::ALL` order.
    pub fn views(&self) -> Vec<Display> {
        Display::ALL
            .into_iter()
            .filter(|&d| self.values_for(d).is_some())
            .collect()
    }

    /// Padding flags that apply to a view (only the original and the reference carry them).
    pub fn padding_for(&self, d: Display) -> Option<&[bool]> {
        match d {
            Display::Original => self.slice()?.padding.as_deref(),
            Display::Reference => self.reference.as_ref()?.slice.padding.as_deref(),
            _ => None,
        }
    }

    /// ROI statistics of every view that exists: (view, statistics); empty without an ROI.
    pub fn roi_stats(&self) -> Vec<(Display, crate::imaging::roi::RoiStats)> {
        let (Some(shape), Some(s)) = (self.roi.as_ref(), self.slice()) else {
            return Vec::new();
        };
        self.views()
            .into_iter()
            .filter_map(|d| {
                let v = self.values_for(d)?;
                let st = crate::imaging::roi::stats(v, s.rows, s.cols, shape, self.padding_for(d))?;
                Some((d, st))
            })
            .collect()
    }

    /// The pipeline of the task on show.
    pub fn shown_pipeline(&self) -> &Pipeline {
        match self.task {
            Task::Classify => &self.pipeline,
            Task::Denoise => &self.denoise.pipeline,
        }
    }

    pub fn error(
        &mut self,
        title: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.toasts.push(Toast {
            title: title.into(),
            message: message.into(),
            hint: hint.into(),
            at: Instant::now(),
        });
        if self.toasts.len() > 4 {
            self.toasts.remove(0);
        }
    }

    /// The preset an image opens with: the user's preset for CT in HU; for anything else
    /// (MR, US, 8-bit pictures) a CT window means nothing, so the file's own window, else Auto
    /// (issue 20: an MR opened grey and saturated in the abdomen window).
    pub fn preset_for_image(&self, preferred: Preset) -> Preset {
        match self.slice() {
            Some(s) if s.units != crate::imaging::Units::Hu && preferred.fixed().is_some() => {
                let has_window = s
                    .info
                    .as_ref()
                    .is_some_and(|i| i.window_center.is_some() && i.window_width.is_some());
                if has_window {
                    Preset::DicomDefault
                } else {
                    Preset::Auto
                }
            }
            _ => preferred,
        }
    }

    /// Opens the current image with `preset_for_image(preferred)`.
    pub fn open_with_preset(&mut self, preferred: Preset) {
        self.set_preset(self.preset_for_image(preferred));
    }

    /// Applies a preset to the current image.
    pub fn set_preset(&mut self, p: Preset) {
        let dicom_default = self
            .slice()
            .and_then(|s| s.info.as_ref())
            .and_then(|i| Some(Window::new(i.window_center?, i.window_width?)));
        let values = self.displayed_values().unwrap_or(&[]);
        self.window = p.resolve(dicom_default, values);
        self.preset = Some(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::classify::local::Stage;

    #[test]
    fn non_ct_images_open_in_their_own_window_or_auto() {
        use crate::imaging::{DicomInfo, Slice, Units};
        let open = |slice: Slice| {
            let mut st = AppState::new(Preset::Abdomen);
            st.image = Some(super::super::worker::Loaded {
                label: "x".into(),
                slices: vec![slice],
                plaintext_bytes: 0,
                source: super::super::worker::Source::Builtin,
            });
            st.open_with_preset(Preset::Abdomen);
            (st.preset, st.window)
        };
        let ramp: Vec<f32> = (0..100 * 100).map(|i| (i % 1000) as f32 * 3.0).collect();
        // MR with its own window: W2000/L1000 is kept.
        let mut mr = Slice::from_values(100, 100, ramp.clone(), Units::Raw);
        mr.info = Some(DicomInfo {
            window_center: Some(1000.0),
            window_width: Some(2000.0),
            ..DicomInfo::default()
        });
        let (preset, w) = open(mr);
        assert_eq!(preset, Some(Preset::DicomDefault));
        assert_eq!((w.center, w.width), (1000.0, 2000.0));
        // An 8-bit picture without a window: Auto (1–99 % of its values).
        let pic = Slice::from_values(
            100,
            100,
            ramp.iter().map(|v| v / 12.0).collect(),
            Units::Windowed8Bit,
        );
        let (preset, w) = open(pic);
        assert_eq!(preset, Some(Preset::Auto));
        assert!(w.width < 300.0 && w.center > 50.0, "{w:?}");
        // CT in HU keeps the user's preset.
        let (preset, w) = open(Slice::from_values(100, 100, ramp, Units::Hu));
        assert_eq!(preset, Some(Preset::Abdomen));
        assert_eq!((w.center, w.width), (40.0, 400.0));
    }

    #[test]
    fn eta_counts_waiting_steps_and_stop_marks_running() {
        let mut p = Pipeline::default();
        assert_eq!(p.eta_seconds(), None);
        p.reset_for_run();
        let est = p.estimates.clone().unwrap();
        let all: f64 = est.iter().sum();
        assert!((p.eta_seconds().unwrap() - all).abs() < 1e-9);
        p.steps[0].status = StepStatus::Done;
        p.steps[1].status = StepStatus::Running;
        p.steps[1].started = Some(Instant::now());
        let eta = p.eta_seconds().unwrap();
        assert!(eta < all - est[0] + 1e-6 && eta > 0.0);
        p.stop(StepStatus::Cancelled);
        assert_eq!(p.steps[1].status, StepStatus::Cancelled);
        assert_eq!(p.status(StepId::Stage(Stage::Keys)), StepStatus::Done);
        assert_eq!(p.eta_seconds(), None);
    }

    #[test]
    fn denoise_pipeline_rows_and_progress_without_estimates() {
        let mut p = Pipeline::denoise(3);
        assert_eq!(p.steps.len(), 6 + 9);
        assert_eq!(p.steps[3].id, StepId::Stage(Stage::Evaluate));
        assert_eq!(p.steps[4].id, StepId::RoundDown(1));
        assert_eq!(p.steps[12].id, StepId::RoundUp(3));
        assert_eq!(p.steps[13].id, StepId::Stage(Stage::Receive));
        p.reset_for_run();
        assert_eq!(p.eta_seconds(), None, "no estimate before the first run");
        assert_eq!(p.fraction_done(), 0.0);
        for s in &mut p.steps {
            s.status = StepStatus::Done;
            s.seconds = Some(0.5);
        }
        assert_eq!(p.fraction_done(), 1.0);
        p.learn();
        assert_eq!(p.estimates.as_ref().map(Vec::len), Some(15));
        assert_eq!(Pipeline::denoise(0).steps.len(), 6);
    }
}
