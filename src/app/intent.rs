//! Everything the UI can ask for. Panels only read state and return intents;
//! `PrivactApp::apply` is the one place that changes state or starts work.

use super::PrivactApp;
use super::denoise::DenoiseJob;
use super::file_dialog::{self, FileBrowser};
use super::remote::{self, Connection, ServerTarget};
use super::state::{Display, Pipeline, RoiTool, Task};
use super::view;
use super::worker::{self, DENOISE_WHAT, DenoisedExport, DialogPurpose, Job, JobKind, SubmitError};
use crate::imaging::model_input::to_model_input;
use crate::imaging::roi::Shape;
use crate::imaging::window::Preset;
use crate::model::classifier::preprocess::preprocess;
use crate::model::denoiser::ModelKind;
use crate::model::denoiser::data::{output_description, spacing_mm, to_hu};
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub enum Intent {
    /// The native dialog where one exists, else the in-app browser.
    Open,
    OpenBrowser,
    CloseBrowser,
    LoadPath(PathBuf),
    LoadPhantom,
    SelectSlice(usize),
    StepSlice(i64),
    SetPreset(Preset),
    DragWindow {
        dx: f32,
        dy: f32,
    },
    Zoom(f32),
    Pan {
        dx: f32,
        dy: f32,
    },
    ResetView,
    RevealPhi(bool),
    MaskPhiByDefault(bool),
    RunClassify,
    /// Encrypted classification of every slice in `AppState::series_range`.
    RunClassifySeries,
    /// First and last slice (0-based, inclusive) of the series run.
    SetSeriesRange(usize, usize),
    /// Ask for the encrypted class-activation map with each classification.
    RequestHeatMap(bool),
    ShowHeatMap(bool),
    /// 1 = cyst, 2 = tumour.
    HeatMapClass(usize),
    HeatMapOpacity(f32),
    /// Encrypted denoising of the low-dose input with the chosen model.
    RunDenoise,
    /// Which task the right panel, payload strip and overhead table describe.
    SelectTask(Task),
    SetDenoiseModel(ModelKind),
    Cancel,
    SetDose(f64),
    SimulateLdct,
    SetDisplay(Display),
    ExportPng,
    ExportPngTo(PathBuf),
    /// Asks where to write the denoised slice (`ExportDenoisedPng` or `ExportDenoisedDicom`).
    ExportDenoised(DialogPurpose),
    /// Writes the denoised slice; the format follows the extension (.png or .dcm).
    ExportDenoisedTo(PathBuf),
    DismissToast(usize),
    DismissNotice,
    ToggleTheme,
    /// The ROI drawing tool (None = left-drag changes the window).
    SetRoiTool(RoiTool),
    /// Sets (or clears) the ROI, in image pixel coordinates.
    SetRoi(Option<Shape>),
    /// Mouse-wheel movement over the image in notches (lines); positive = towards the user
    /// (next slice). Whole notches step the series, fractions accumulate.
    Wheel(f32),
    /// Zoom by a factor keeping the point under the cursor still (`cursor` = offset from the
    /// viewport centre, points).
    ZoomAt {
        factor: f32,
        cursor: [f32; 2],
    },
    /// Cine: start or pause.
    ToggleCine,
    SetCineFps(f32),
    /// At the end of the series: start again (true) or stop.
    SetCineWrap(bool),
    /// Cine: the next frame is due.
    CineStep,
    /// Asks for a reference image to compare with (dialog).
    LoadReference,
    LoadReferencePath(PathBuf),
    ClearReference,
    SetSideBySide(bool),
    SetFlicker(bool),
    /// The two views compared (side by side, or flickering).
    SetComparePair(Display, Display),
    /// Flicker: the other view of the pair is due.
    FlickerSwap,
    /// Asks where to write the teaching report.
    ExportReport,
    /// Writes the teaching report (one self-contained HTML file).
    ExportReportTo(PathBuf),
    /// Where the encrypted steps run (persisted: URL and fingerprint only).
    SetServer(super::prefs::ServerPref),
    /// Contacts the chosen remote server's `/healthz` (off the UI thread).
    CheckServer,
    /// Measured side-panel widths, and whether the pointer is held (the user resizing).
    PanelWidths {
        left: f32,
        right: f32,
        dragging: bool,
    },
}

impl PrivactApp {
    /// Applies one intent. The only function that mutates state in response to the UI.
    pub fn apply(&mut self, intent: Intent) {
        let st = &mut self.state;
        match intent {
            Intent::Open => {
                if file_dialog::native_dialog_available() {
                    st.dialog_open = true;
                    file_dialog::spawn_native(
                        &self.worker,
                        DialogPurpose::Open,
                        &self.prefs.last_folder,
                    );
                } else {
                    self.browser = Some(FileBrowser::new(
                        DialogPurpose::Open,
                        &self.prefs.last_folder,
                    ));
                }
            }
            Intent::OpenBrowser => {
                self.browser = Some(FileBrowser::new(
                    DialogPurpose::Open,
                    &self.prefs.last_folder,
                ));
            }
            Intent::CloseBrowser => self.browser = None,
            Intent::LoadPath(path) => {
                st.loading = true;
                self.worker
                    .spawn_io("load", move || worker::load_path(path));
            }
            Intent::LoadPhantom => {
                st.loading = true;
                self.worker.spawn_io("load", worker::load_phantom);
            }
            Intent::SelectSlice(i) => {
                if st.image.as_ref().is_some_and(|im| i < im.slices.len()) {
                    st.index = i;
                }
            }
            Intent::StepSlice(d) => {
                if let Some(n) = st.image.as_ref().map(|im| im.slices.len()) {
                    let i = (st.index as i64 + d).clamp(0, n.saturating_sub(1) as i64);
                    st.index = i as usize;
                }
            }
            Intent::SetPreset(p) => {
                st.set_preset(p);
                self.prefs.last_preset = p.into();
            }
            Intent::DragWindow { dx, dy } => {
                st.window = view::drag_window(st.window, dx, dy);
                st.preset = None;
            }
            Intent::Zoom(f) => st.view = st.view.zoomed(f),
            Intent::Pan { dx, dy } => st.view = st.view.panned(dx, dy),
            Intent::ResetView => {
                st.view = view::ViewTransform::default();
                st.open_with_preset(self.prefs.last_preset.into());
            }
            Intent::RevealPhi(on) => st.phi_revealed = on,
            Intent::MaskPhiByDefault(on) => {
                self.prefs.mask_phi_by_default = on;
                if on {
                    st.phi_revealed = false;
                }
            }
            Intent::RunClassify => self.start_classify(),
            Intent::RunClassifySeries => self.start_series(),
            Intent::SetSeriesRange(a, b) => {
                let last = st
                    .image
                    .as_ref()
                    .map_or(0, |i| i.slices.len().saturating_sub(1));
                let (a, b) = (a.min(last), b.min(last));
                st.series_range = (a.min(b), a.max(b));
            }
            Intent::RequestHeatMap(on) => st.heat_map.request = on,
            Intent::ShowHeatMap(on) => st.heat_map.show = on,
            Intent::HeatMapClass(c) => {
                if matches!(c, 1 | 2) {
                    st.heat_map.class = c;
                }
            }
            Intent::HeatMapOpacity(a) => st.heat_map.opacity = a.clamp(0.0, 1.0),
            Intent::RunDenoise => self.start_denoise(),
            Intent::SelectTask(t) => st.task = t,
            Intent::SetDenoiseModel(kind) => {
                st.denoise.model = kind;
                st.task = Task::Denoise;
            }
            Intent::Cancel => {
                if st.running.is_some() {
                    st.cancel_requested = true;
                    self.worker.cancel();
                }
            }
            Intent::SetDose(d) => st.ldct.dose = d.clamp(0.02, 1.0),
            Intent::SimulateLdct => self.start_ldct(),
            Intent::SetDisplay(d) => st.display = d,
            Intent::ExportPng => self.ask_path(DialogPurpose::ExportPng),
            Intent::ExportDenoised(purpose) => {
                if st.denoise_outcome().is_none() {
                    st.error(
                        "Export",
                        "there is no denoised slice",
                        "Run encrypted denoising first.",
                    );
                    return;
                }
                self.ask_path(purpose);
            }
            Intent::ExportDenoisedTo(path) => {
                let (Some(o), Some(slice), Some(image)) =
                    (st.denoise_outcome(), st.slice(), st.image.as_ref())
                else {
                    st.error(
                        "Export",
                        "there is no denoised slice",
                        "Run encrypted denoising first.",
                    );
                    return;
                };
                let export = DenoisedExport {
                    path,
                    rows: o.rows,
                    cols: o.cols,
                    output: o.output_unit.clone(),
                    input_hu: o.input_hu.clone(),
                    source: slice.info.as_ref().map(|_| image.source.clone()),
                    index: st.index,
                    spacing_mm: spacing_mm(slice),
                    description: output_description(o.kind, true),
                };
                self.worker
                    .spawn_io("export", move || worker::export_denoised(export));
            }
            Intent::ExportPngTo(path) => {
                let Some(slice) = st.slice() else {
                    st.error("Export", "no image is loaded", "Open a slice first.");
                    return;
                };
                let (rows, cols) = (slice.rows, slice.cols);
                let pixels = st
                    .displayed_values()
                    .map(|v| st.window.apply_all(v))
                    .unwrap_or_default();
                self.worker.spawn_io("export", move || {
                    worker::export_png(path, rows, cols, pixels)
                });
            }
            Intent::DismissToast(i) => {
                if i < st.toasts.len() {
                    st.toasts.remove(i);
                }
            }
            Intent::DismissNotice => st.notice = None,
            Intent::PanelWidths {
                left,
                right,
                dragging,
            } => {
                // Only the user's own resizing changes the stored widths (by how far the
                // panels moved while the pointer was held), so nothing drifts between sessions.
                if let Some([l0, r0]) = self.panel_measured
                    && dragging
                {
                    self.prefs.left_panel_width += left - l0;
                    self.prefs.right_panel_width += right - r0;
                    self.prefs = self.prefs.clone().sanitised();
                }
                self.panel_measured = Some([left, right]);
            }
            Intent::SetRoiTool(t) => st.roi_tool = t,
            Intent::SetRoi(shape) => st.roi = shape,
            Intent::Wheel(notches) => {
                // One slice per notch however the backend splits it (smooth scrolling
                // delivers a notch as several fractions).
                st.wheel_accum += notches;
                // A notch in pieces (e.g. 3 × 1/3) sums to 0.99999…: count it as whole.
                let steps = (st.wheel_accum + 1e-3 * st.wheel_accum.signum()).trunc();
                st.wheel_accum -= steps;
                if steps != 0.0 {
                    self.apply(Intent::StepSlice(steps as i64));
                }
            }
            Intent::ZoomAt { factor, cursor } => st.view = st.view.zoomed_at(factor, cursor),
            Intent::ToggleCine => {
                st.cine.playing =
                    !st.cine.playing && st.image.as_ref().is_some_and(|i| i.slices.len() > 1);
                st.cine.last = Some(std::time::Instant::now());
            }
            Intent::SetCineFps(f) => st.cine.fps = f.clamp(1.0, 30.0),
            Intent::SetCineWrap(w) => st.cine.wrap = w,
            Intent::CineStep => {
                let n = st.image.as_ref().map_or(0, |i| i.slices.len());
                st.cine.last = Some(std::time::Instant::now());
                if n < 2 {
                    st.cine.playing = false;
                } else if st.index + 1 < n {
                    st.index += 1;
                } else if st.cine.wrap {
                    st.index = 0;
                } else {
                    st.cine.playing = false;
                }
            }
            Intent::LoadReference => self.ask_path(DialogPurpose::OpenReference),
            Intent::LoadReferencePath(path) => {
                self.worker
                    .spawn_io("reference", move || worker::load_reference(path));
            }
            Intent::ClearReference => {
                st.reference = None;
                if st.display == Display::Reference {
                    st.display = Display::Original;
                }
            }
            Intent::SetSideBySide(on) => {
                st.compare.side_by_side = on;
                if on {
                    st.compare.flicker = false;
                    st.display = st.compare.a;
                }
            }
            Intent::SetFlicker(on) => {
                st.compare.flicker = on;
                st.compare.last_swap = Some(std::time::Instant::now());
                if on {
                    st.compare.side_by_side = false;
                    st.display = st.compare.a;
                }
            }
            Intent::SetComparePair(a, b) => {
                st.compare.a = a;
                st.compare.b = b;
                if st.compare.side_by_side || st.compare.flicker {
                    st.display = a;
                }
            }
            Intent::FlickerSwap => {
                st.compare.last_swap = Some(std::time::Instant::now());
                st.display = if st.display == st.compare.a {
                    st.compare.b
                } else {
                    st.compare.a
                };
            }
            Intent::ExportReport => self.ask_path(DialogPurpose::ExportReport),
            Intent::ExportReportTo(path) => {
                let html = super::report::build(self);
                self.worker.spawn_io("export", move || {
                    worker::write_file(path, html.into_bytes())
                });
            }
            Intent::ToggleTheme => {
                self.prefs.theme = match self.prefs.theme {
                    super::prefs::Theme::Dark => super::prefs::Theme::Light,
                    super::prefs::Theme::Light => super::prefs::Theme::Dark,
                };
                self.visuals_applied = false;
            }
            Intent::SetServer(server) => {
                if server != self.prefs.server {
                    // The worker drops sessions made for another server at the next job.
                    st.connection = if server.remote {
                        Connection::Unchecked
                    } else {
                        Connection::Builtin
                    };
                    self.prefs.server = server;
                }
            }
            Intent::CheckServer => {
                let target = ServerTarget::from_pref(&self.prefs.server);
                if target != ServerTarget::Builtin {
                    st.connection = Connection::Checking;
                    self.worker.spawn_io("server check", move || {
                        let result = remote::check(&target).map(Some);
                        worker::Event::Server { target, result }
                    });
                }
            }
        }
    }

    /// The native save/open dialog where one exists, else the in-app browser.
    fn ask_path(&mut self, purpose: DialogPurpose) {
        if file_dialog::native_dialog_available() {
            self.state.dialog_open = true;
            file_dialog::spawn_native(&self.worker, purpose, &self.prefs.last_folder);
        } else {
            self.browser = Some(FileBrowser::new(purpose, &self.prefs.last_folder));
        }
    }

    /// Denoises the simulated low dose of this slice when there is one (and compares with its
    /// clean reference), else the loaded slice itself as the low-dose input.
    fn start_denoise(&mut self) {
        let st = &mut self.state;
        let Some(slice) = st.slice() else {
            st.error(DENOISE_WHAT, "no image is loaded", "Open a slice first.");
            return;
        };
        let (rows, cols) = (slice.rows, slice.cols);
        let (input_hu, clean_hu, dose, approximate_hu) = match st.denoise_input() {
            Some(o) => (
                o.low_dose.clone(),
                Some(o.clean.clone()),
                Some(o.dose),
                false,
            ),
            None => match to_hu(slice) {
                Ok(h) => (h.hu, None, None, h.approximate),
                Err(e) => {
                    st.error(
                        DENOISE_WHAT,
                        e.to_string(),
                        "Open a CT slice in Hounsfield units (DICOM) or an 8-bit abdomen-windowed PNG/JPEG.",
                    );
                    return;
                }
            },
        };
        let kind = st.denoise.model;
        let job = DenoiseJob {
            kind,
            server: ServerTarget::from_pref(&self.prefs.server),
            input_hu,
            clean_hu,
            rows,
            cols,
            dose,
            approximate_hu,
            generation: st.generation,
            index: st.index,
        };
        let rounds = self
            .denoise_info
            .as_ref()
            .map_or(0, |i| i.relu_rounds(kind));
        let tiles = self
            .denoise_plan()
            .and_then(|p| p.ok())
            .map_or(0, |p| p.tiles);
        let st = &mut self.state;
        match self.worker.submit(Job::Denoise(Box::new(job))) {
            Ok(()) => {
                // Same model and tile count: keep the rows and the measured estimates.
                if st.denoise.pipeline_for != Some((kind, tiles)) {
                    st.denoise.pipeline = Pipeline::denoise(rounds);
                    st.denoise.pipeline_for = Some((kind, tiles));
                }
                st.denoise.pipeline.reset_for_run();
                st.task = Task::Denoise;
                st.running = Some(JobKind::Denoise);
                st.cancel_requested = false;
                st.max_frame_ms_during_job = 0.0;
                st.frames_during_job = 0;
            }
            Err(e) => refuse(st, DENOISE_WHAT, e),
        }
    }

    fn start_classify(&mut self) {
        let st = &mut self.state;
        let Some(slice) = st.slice() else {
            st.error(
                "Encrypted classification",
                "no image is loaded",
                "Open a slice first.",
            );
            return;
        };
        // The input check runs before anything is encrypted: other modalities and colour
        // images are refused; a slice that does not look like the training data is still
        // classified (the pipeline is the demonstration) but the results name no class.
        let warning = match crate::imaging::input_check::check_slice(slice) {
            Ok(check) => check.warning(),
            Err(refused) => {
                st.error(
                    "Encrypted classification",
                    refused.to_string(),
                    "The classifier takes axial abdominal CT slices (DICOM in HU, or 8-bit greyscale images).",
                );
                return;
            }
        };
        // The classifier's own input transform: 256×256 model input, then standardisation.
        let image = preprocess(&to_model_input(
            &crate::imaging::input_check::as_hounsfield(slice),
        ));
        let weights = super::weights::weights_for_run().params;
        let heat_map = st.heat_map.request;
        match self.worker.submit(Job::Classify {
            image,
            weights,
            heat_map,
            server: ServerTarget::from_pref(&self.prefs.server),
        }) {
            Ok(()) => {
                st.pipeline.reset_for_run();
                st.outcome_for = Some((st.generation, st.index));
                st.input_warning = warning;
                st.input_is_phantom = st
                    .image
                    .as_ref()
                    .is_some_and(|i| matches!(i.source, super::worker::Source::Builtin));
                st.task = Task::Classify;
                st.running = Some(JobKind::Classify);
                st.cancel_requested = false;
                st.max_frame_ms_during_job = 0.0;
                st.frames_during_job = 0;
            }
            Err(e) => refuse(st, "Encrypted classification", e),
        }
    }

    /// Issue 19: every slice of the chosen range, one key set, on the worker. The first
    /// slice's input check refuses the whole series (one modality per series); later slices
    /// are checked one by one on the worker.
    fn start_series(&mut self) {
        const WHAT: &str = "Encrypted series classification";
        let st = &mut self.state;
        let Some(img) = st.image.as_ref() else {
            st.error(WHAT, "no image is loaded", "Open a series folder first.");
            return;
        };
        let (a, b) = st.series_range;
        let slices: Vec<(usize, crate::imaging::Slice)> = img
            .slices
            .iter()
            .enumerate()
            .skip(a)
            .take(b.saturating_sub(a) + 1)
            .map(|(i, s)| (i, s.clone()))
            .collect();
        let Some((_, first)) = slices.first() else {
            st.error(
                WHAT,
                "the slice range is empty",
                "Choose the first and last slice.",
            );
            return;
        };
        if let Err(refused) = crate::imaging::input_check::check_slice(first) {
            st.error(
                WHAT,
                refused.to_string(),
                "The classifier takes axial abdominal CT slices (DICOM in HU, or 8-bit greyscale images).",
            );
            return;
        }
        let indices = slices.iter().map(|(i, _)| *i).collect();
        let job = Job::ClassifySeries {
            slices,
            weights: super::weights::weights_for_run().params,
            heat_map: st.heat_map.request,
            server: ServerTarget::from_pref(&self.prefs.server),
        };
        match self.worker.submit(job) {
            Ok(()) => {
                st.pipeline.reset_for_run();
                st.series = Some(super::state::SeriesRun {
                    generation: st.generation,
                    indices,
                    rows: Vec::new(),
                    started: std::time::Instant::now(),
                    ended: None,
                    cancelled: false,
                    setup_seconds: 0.0,
                });
                st.input_warning = None;
                st.task = Task::Classify;
                st.running = Some(JobKind::Series);
                st.cancel_requested = false;
                st.max_frame_ms_during_job = 0.0;
                st.frames_during_job = 0;
            }
            Err(e) => refuse(st, WHAT, e),
        }
    }

    fn start_ldct(&mut self) {
        let st = &mut self.state;
        let Some(slice) = st.slice() else {
            st.error(
                "Low-dose simulation",
                "no image is loaded",
                "Open a slice first.",
            );
            return;
        };
        // The one HU conversion of every path (8-bit images through the inverse window).
        let h = match crate::imaging::hu::slice_to_hu(slice) {
            Ok(h) => h,
            Err(e) => {
                st.error(
                    "Low-dose simulation",
                    e.to_string(),
                    "Open a CT slice in Hounsfield units (DICOM) or an 8-bit abdomen-windowed PNG/JPEG.",
                );
                return;
            }
        };
        let job = Job::Ldct {
            hu: h.hu,
            rows: h.rows,
            cols: h.cols,
            spacing_mm: h.spacing_mm,
            dose: st.ldct.dose,
            seed: 0x5EED ^ st.generation,
        };
        match self.worker.submit(job) {
            Ok(()) => {
                st.running = Some(JobKind::Ldct);
                st.cancel_requested = false;
            }
            Err(e) => refuse(st, "Low-dose simulation", e),
        }
    }
}

fn refuse(st: &mut super::state::AppState, what: &str, e: SubmitError) {
    let hint = match e {
        SubmitError::Busy => "Only one job runs at a time.",
        SubmitError::Stopped => "Restart PrivaCT.",
    };
    st.error(what, e.to_string(), hint);
}
