//! Runtime state: what the window shows right now. Never persisted (see `prefs` for that).

use super::job::{self, ClassifyOutcome, STAGES};
use super::view::ViewTransform;
use super::worker::{JobKind, LdctOutcome, Loaded};
use crate::imaging::Slice;
use crate::imaging::window::{Preset, Window};
use crate::protocol::local::Stage;
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepStatus {
    Waiting,
    Running,
    Done,
    Cancelled,
    Failed,
}

impl StepStatus {
    pub fn label(self) -> &'static str {
        match self {
            StepStatus::Waiting => "waiting",
            StepStatus::Running => "running",
            StepStatus::Done => "done",
            StepStatus::Cancelled => "cancelled",
            StepStatus::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug)]
pub struct StepView {
    pub stage: Stage,
    pub status: StepStatus,
    pub seconds: Option<f64>,
    pub bytes: Option<u64>,
    pub started: Option<Instant>,
}

/// The six pipeline steps as the right panel shows them.
#[derive(Clone, Debug)]
pub struct Pipeline {
    pub steps: Vec<StepView>,
    /// Measured durations of the last finished run (for the ETA of the next one).
    pub estimates: [f64; 6],
    pub started: Option<Instant>,
    pub outcome: Option<Box<ClassifyOutcome>>,
    /// The first input ciphertext as serialized for the server.
    pub server_view: Option<Vec<u8>>,
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline {
            steps: STAGES
                .iter()
                .map(|&stage| StepView {
                    stage,
                    status: StepStatus::Waiting,
                    seconds: None,
                    bytes: None,
                    started: None,
                })
                .collect(),
            estimates: STAGES.map(job::default_estimate),
            started: None,
            outcome: None,
            server_view: None,
        }
    }
}

impl Pipeline {
    pub fn reset_for_run(&mut self) {
        let estimates = self.estimates;
        *self = Pipeline::default();
        self.estimates = estimates;
        self.started = Some(Instant::now());
    }

    pub fn step_mut(&mut self, s: Stage) -> Option<&mut StepView> {
        self.steps.get_mut(job::stage_index(s))
    }

    pub fn status(&self, s: Stage) -> StepStatus {
        self.steps
            .get(job::stage_index(s))
            .map_or(StepStatus::Waiting, |v| v.status)
    }

    /// Seconds left: the running step's remaining estimate plus the waiting steps' estimates.
    pub fn eta_seconds(&self) -> Option<f64> {
        self.started?;
        let mut left = 0.0;
        for (i, st) in self.steps.iter().enumerate() {
            let est = self.estimates.get(i).copied().unwrap_or(0.0);
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

    /// Marks the running step (if any) with `status` when a job stops early.
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

/// Which image the centre shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Display {
    Original,
    LowDose,
    CleanReference,
}

#[derive(Debug)]
pub struct LdctState {
    /// Fraction of the full dose.
    pub dose: f64,
    pub outcome: Option<Box<LdctOutcome>>,
    /// Which slice (generation) the outcome belongs to.
    pub for_generation: u64,
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
    pub pipeline: Pipeline,
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
            running: None,
            cancel_requested: false,
            ldct: LdctState {
                dose: 0.25,
                outcome: None,
                for_generation: 0,
            },
            toasts: Vec::new(),
            notice: None,
            hover: Hover::default(),
            dialog_open: false,
            frame_ms: 0.0,
            max_frame_ms_during_job: 0.0,
            frames_during_job: 0,
        }
    }

    pub fn slice(&self) -> Option<&Slice> {
        self.image.as_ref()?.slices.get(self.index)
    }

    /// The values currently displayed (original, simulated low dose or clean reference).
    pub fn displayed_values(&self) -> Option<&[f32]> {
        let s = self.slice()?;
        let ldct = self
            .ldct
            .outcome
            .as_ref()
            .filter(|_| self.ldct.for_generation == self.generation);
        match (self.display, ldct) {
            (Display::LowDose, Some(o)) => Some(&o.low_dose),
            (Display::CleanReference, Some(o)) => Some(&o.clean),
            _ => Some(&s.values),
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

    #[test]
    fn eta_counts_waiting_steps_and_stop_marks_running() {
        let mut p = Pipeline::default();
        assert_eq!(p.eta_seconds(), None);
        p.reset_for_run();
        let all: f64 = p.estimates.iter().sum();
        assert!((p.eta_seconds().unwrap() - all).abs() < 1e-9);
        p.steps[0].status = StepStatus::Done;
        p.steps[1].status = StepStatus::Running;
        p.steps[1].started = Some(Instant::now());
        let eta = p.eta_seconds().unwrap();
        assert!(eta < all - p.estimates[0] + 1e-6 && eta > 0.0);
        p.stop(StepStatus::Cancelled);
        assert_eq!(p.steps[1].status, StepStatus::Cancelled);
        assert_eq!(p.status(Stage::Keys), StepStatus::Done);
        assert_eq!(p.eta_seconds(), None);
    }
}
