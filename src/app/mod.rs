//! The desktop app (eframe/egui). Layout: left (file, tags, presets, LDCT), centre (payload
//! strip + the slice), right ("Encrypted pipeline"), bottom (results).
//!
//! Structure: `prefs` (persisted, no PHI) · `state` (runtime) · `intent` (what the UI asks
//! for, applied in one place) · `worker` (background thread over channels) · `job` (the
//! encrypted classification driver) · `denoise` (the encrypted denoising driver) · `panels`
//! (drawing only) · `file_dialog` · `weights`.

pub mod denoise;
pub mod file_dialog;
pub mod intent;
pub mod job;
pub mod panels;
pub mod prefs;
pub mod remote;
pub mod report;
pub mod state;
pub mod view;
pub mod weights;
pub mod worker;

use crate::ckks::Parameters;
use crate::model::denoiser::ModelKind;
use crate::protocol::denoise::local::SizePlan as DenoiseSizePlan;
use denoise::DenoiseInfo;
use intent::Intent;
use job::SizePlan;
use prefs::Prefs;
use state::{AppState, Display, StepStatus, Task};
use std::path::PathBuf;
use std::time::Instant;
use worker::{Event, JobKind, Worker};

/// What to do right after start-up (`privact gui --open FILE --run classify`).
#[derive(Clone, Debug, Default)]
pub struct Launch {
    pub open: Option<PathBuf>,
    pub run: Option<AutoRun>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoRun {
    Classify,
    /// Every slice of the loaded series.
    ClassifySeries,
    Denoise,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the window could not be opened: {0}")]
    Window(String),
}

/// The CKKS parameters of the classification protocol and the sizes they imply.
pub struct ParamsInfo {
    pub params: Parameters,
    pub plan: SizePlan,
}

/// GPU textures derived from state (re-uploaded only when their key changes).
#[derive(Default)]
pub struct Textures {
    pub slice: Option<(TexKey, egui::TextureHandle)>,
    /// The first input ciphertext of the task on show.
    pub server_view: Option<(Task, egui::TextureHandle)>,
    /// Low-dose input, denoised output and difference of the last denoising result.
    pub denoise: Option<(DenoiseTexKey, [egui::TextureHandle; 3])>,
    /// The class-activation map of the slice on screen (16×16, drawn with linear filtering).
    pub heat_map: Option<(HeatTexKey, egui::TextureHandle)>,
    /// The second view of a side-by-side comparison.
    pub compare: Option<(TexKey, egui::TextureHandle)>,
}

/// PSNR/SSIM of each view against the loaded reference, computed once per change.
#[derive(Clone, Debug, PartialEq)]
pub struct CompareMetrics {
    key: MetricsKey,
    /// (view, PSNR in dB, SSIM), views in `Display::ALL` order, the reference left out.
    pub rows: Vec<(Display, f64, f64)>,
    /// How the values were scaled to [0, 1] before comparing.
    pub normalisation: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct MetricsKey {
    generation: u64,
    index: usize,
    reference: usize,
    denoised: u64,
    ldct: bool,
}

/// What the heat-map texture shows: slice, class, opacity and the map's values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HeatTexKey {
    generation: u64,
    index: usize,
    class: usize,
    opacity: u32,
    /// Sum of the map's values (bits): a new run of the same slice changes it.
    fingerprint: u64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DenoiseTexKey {
    result: u64,
    window: (u64, u64),
}

/// The denoising size plan for (model, rows, cols).
type DenoisePlanKey = (ModelKind, usize, usize);

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TexKey {
    pub generation: u64,
    pub index: usize,
    pub display: Display,
    /// The window's (centre, width) as bits.
    pub window: (u64, u64),
}

pub struct PrivactApp {
    pub state: AppState,
    pub prefs: Prefs,
    pub(crate) worker: Worker,
    pub textures: Textures,
    pub params: Result<ParamsInfo, String>,
    /// The denoising parameters and the models' public shapes.
    pub denoise_info: Result<DenoiseInfo, String>,
    denoise_plan: Option<(DenoisePlanKey, Result<DenoiseSizePlan, String>)>,
    pub(crate) browser: Option<file_dialog::FileBrowser>,
    pending_run: Option<AutoRun>,
    /// A job to start once the low-dose simulation has finished (`--run denoise`).
    after_ldct: Option<AutoRun>,
    visuals_applied: bool,
    attached: bool,
    /// Last measured outer panel widths (resizing is stored as a change of these).
    panel_measured: Option<[f32; 2]>,
    /// PSNR/SSIM against the reference (see `compare_metrics`).
    pub compare_metrics: Option<CompareMetrics>,
}

impl PrivactApp {
    /// Starts the worker and begins loading the phantom (or `launch.open`) off the UI thread.
    pub fn new(prefs: Prefs, launch: Launch) -> Self {
        let prefs = prefs.sanitised();
        let mut state = AppState::new(prefs.last_preset.into());
        state.phi_revealed = !prefs.mask_phi_by_default;
        if prefs.server.remote {
            state.connection = remote::Connection::Unchecked;
        }
        let params = Parameters::preset(job::PRESET)
            .map(|params| ParamsInfo {
                plan: SizePlan::new(&params),
                params,
            })
            .map_err(|e| e.to_string());
        let mut app = PrivactApp {
            state,
            prefs,
            worker: Worker::spawn(),
            textures: Textures::default(),
            params,
            denoise_info: DenoiseInfo::load(),
            denoise_plan: None,
            browser: None,
            pending_run: launch.run,
            after_ldct: None,
            visuals_applied: false,
            attached: false,
            panel_measured: None,
            compare_metrics: None,
        };
        match launch.open {
            Some(path) => app.apply(Intent::LoadPath(path)),
            None => app.apply(Intent::LoadPhantom),
        }
        app
    }

    /// True while a background job runs.
    pub fn busy(&self) -> bool {
        self.worker.is_busy() || self.state.running.is_some()
    }

    /// Exact denoising sizes for the slice on screen and the chosen model.
    pub fn denoise_plan(&self) -> Option<Result<&DenoiseSizePlan, &str>> {
        let slice = self.state.slice()?;
        let key = (self.state.denoise.model, slice.rows, slice.cols);
        match &self.denoise_plan {
            Some((k, plan)) if *k == key => Some(plan.as_ref().map_err(String::as_str)),
            _ => None,
        }
    }

    fn refresh_denoise_plan(&mut self) {
        let Some(slice) = self.state.slice() else {
            return;
        };
        let key = (self.state.denoise.model, slice.rows, slice.cols);
        if self.denoise_plan.as_ref().map(|(k, _)| *k) == Some(key) {
            return;
        }
        let plan = match &self.denoise_info {
            Ok(info) => {
                DenoiseSizePlan::with_params(info.params(key.0), info.layers(key.0), key.1, key.2)
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(e.clone()),
        };
        self.denoise_plan = Some((key, plan));
    }

    /// Draws one frame: events in, panels, intents applied, frame time recorded.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let t0 = Instant::now();
        let ctx = ui.ctx().clone();
        if !self.attached {
            self.worker.attach(&ctx);
            self.attached = true;
        }
        if !self.visuals_applied {
            ctx.set_visuals(match self.prefs.theme {
                prefs::Theme::Dark => egui::Visuals::dark(),
                prefs::Theme::Light => egui::Visuals::light(),
            });
            ctx.all_styles_mut(legible_text);
            self.visuals_applied = true;
        }
        self.drain_events();
        self.refresh_denoise_plan();
        self.refresh_compare_metrics();
        self.prepare_textures(&ctx);

        let mut intents = Vec::new();
        self.timers(&ctx, &mut intents);
        self.keyboard(&ctx, &mut intents);
        self.drag_and_drop(&ctx, &mut intents);
        panels::show(self, ui, &mut intents);
        if let Some(b) = &mut self.browser {
            intents.extend(b.show(&ctx));
        }
        let changed = !intents.is_empty();
        for i in intents {
            self.apply(i);
        }
        if changed {
            ctx.request_repaint();
        }
        if self.state.running.is_some() {
            // Keep the clock and ETA moving between worker events.
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
        let ms = t0.elapsed().as_secs_f32() * 1000.0;
        self.state.frame_ms = ms;
        if self.state.running.is_some() {
            self.state.frames_during_job += 1;
            self.state.max_frame_ms_during_job = self.state.max_frame_ms_during_job.max(ms);
        }
    }

    /// Cine frames and flicker swaps: an intent when one is due, else a repaint when it will be.
    fn timers(&self, ctx: &egui::Context, intents: &mut Vec<Intent>) {
        let st = &self.state;
        let mut due = |playing: bool, last: Option<Instant>, period: f32, intent: Intent| {
            if !playing {
                return;
            }
            let period = std::time::Duration::from_secs_f32(period.max(0.01));
            let spent = last.map_or(period, |t| t.elapsed());
            if spent >= period {
                intents.push(intent);
                ctx.request_repaint_after(period);
            } else {
                ctx.request_repaint_after(period - spent);
            }
        };
        due(
            st.cine.playing,
            st.cine.last,
            1.0 / st.cine.fps.max(1.0),
            Intent::CineStep,
        );
        due(
            st.compare.flicker,
            st.compare.last_swap,
            st.compare.period_s,
            Intent::FlickerSwap,
        );
    }

    /// PSNR/SSIM of every view against the reference, each scaled to [0, 1] as the denoising
    /// results are: through the abdomen window (W400/L40) for CT in HU, else over the
    /// reference's own min…max.
    fn refresh_compare_metrics(&mut self) {
        let st = &self.state;
        let (Some(slice), Some(reference)) = (st.slice(), st.values_for(Display::Reference)) else {
            self.compare_metrics = None;
            return;
        };
        let key = MetricsKey {
            generation: st.generation,
            index: st.index,
            reference: reference.as_ptr() as usize,
            denoised: st.denoise.results_seen,
            ldct: st.ldct_outcome().is_some(),
        };
        if self.compare_metrics.as_ref().map(|m| m.key) == Some(key) {
            return;
        }
        let (norm, normalisation) = compare_normalisation(st, reference);
        let r = norm(reference);
        let rows = st
            .views()
            .into_iter()
            .filter(|&d| d != Display::Reference)
            .filter_map(|d| {
                let v = norm(st.values_for(d)?);
                let psnr = crate::imaging::metrics::psnr(&r, &v, 1.0).ok()?;
                let ssim =
                    crate::imaging::metrics::ssim(&r, &v, slice.rows, slice.cols, 1.0).ok()?;
                Some((d, psnr, ssim))
            })
            .collect();
        self.compare_metrics = Some(CompareMetrics {
            key,
            rows,
            normalisation,
        });
    }

    fn drain_events(&mut self) {
        while let Some(ev) = self.worker.try_recv() {
            self.on_event(ev);
        }
    }

    fn on_event(&mut self, ev: Event) {
        let st = &mut self.state;
        match ev {
            Event::Progress(kind, p) => {
                let pipeline = match kind {
                    JobKind::Denoise => &mut st.denoise.pipeline,
                    JobKind::Classify | JobKind::Series | JobKind::Ldct => &mut st.pipeline,
                };
                match p {
                    job::Progress::Started(id) => {
                        if let Some(step) = pipeline.step_mut(id) {
                            step.status = StepStatus::Running;
                            step.started = Some(Instant::now());
                        }
                    }
                    job::Progress::Done {
                        step: id,
                        seconds,
                        bytes,
                    } => {
                        if let Some(step) = pipeline.step_mut(id) {
                            step.status = StepStatus::Done;
                            step.seconds = Some(seconds);
                            step.bytes = Some(bytes);
                        }
                    }
                    job::Progress::Reused(id) => {
                        if let Some(step) = pipeline.step_mut(id) {
                            step.status = StepStatus::Reused;
                            step.seconds = Some(0.0);
                            step.bytes = Some(0);
                        }
                    }
                    job::Progress::ServerView(bytes) => {
                        pipeline.server_view = Some(bytes);
                        self.textures.server_view = None;
                    }
                }
            }
            Event::Classified(outcome) => {
                st.pipeline.learn();
                st.pipeline.started = None;
                st.pipeline.outcome = Some(outcome);
            }
            Event::SeriesSlice(done) => {
                let worker::SeriesSlice {
                    index,
                    outcome,
                    warning,
                } = *done;
                let generation = st.generation;
                let Some(run) = st.series.as_mut().filter(|r| r.generation == generation) else {
                    return;
                };
                let row = state::SeriesRow {
                    outcome: None,
                    index,
                    probabilities: outcome.as_ref().map(|o| o.probabilities),
                    warning,
                    seconds: outcome.as_ref().map_or(0.0, |o| o.per_slice_seconds()),
                    bytes: outcome.as_ref().map_or(0, |o| {
                        o.request_bytes
                            + o.response_bytes
                            + if o.keys_reused { 0 } else { o.setup_bytes }
                    }),
                };
                if let Some(o) = outcome.as_ref().filter(|o| !o.keys_reused) {
                    run.setup_seconds = o.setup_seconds;
                }
                run.rows.push(state::SeriesRow {
                    outcome: outcome.clone(),
                    ..row
                });
                // The step table shows the slice just done; the next slice starts afresh. The
                // last outcome feeds the overhead and key tables; the results panel reads
                // each slice's own row.
                st.pipeline.learn();
                if run.rows.len() < run.indices.len() {
                    st.pipeline.reset_for_run();
                }
                if outcome.is_some() {
                    st.pipeline.outcome = outcome;
                    st.outcome_for = None;
                }
            }
            Event::Denoised(outcome) => {
                st.denoise.pipeline.learn();
                st.denoise.pipeline.started = None;
                st.denoise.results_seen += 1;
                st.denoise.outcome = Some(outcome);
            }
            Event::LdctDone(o) => {
                st.ldct.outcome = Some(o);
                st.ldct.for_generation = st.generation;
                st.ldct.for_index = st.index;
                st.display = Display::LowDose;
            }
            Event::Loaded(loaded) => {
                st.loading = false;
                // Remember the folder (never the file) for the next dialog.
                let folder = match &loaded.source {
                    worker::Source::File(p) => p.parent().map(std::path::Path::to_path_buf),
                    worker::Source::Series(files) => files
                        .first()
                        .and_then(|p| p.parent())
                        .map(std::path::Path::to_path_buf),
                    worker::Source::Builtin => None,
                };
                if let Some(f) = folder.filter(|f| !f.as_os_str().is_empty()) {
                    let f = f.display().to_string();
                    if prefs::folder_is_free_of(&f, &loaded.slices) {
                        self.prefs.last_folder = f;
                    }
                }
                st.image = Some(*loaded);
                st.index = 0;
                st.generation += 1;
                st.display = Display::Original;
                st.roi = None;
                st.cine.playing = false;
                st.wheel_accum = 0.0;
                st.ldct.outcome = None;
                st.pipeline.clear();
                st.outcome_for = None;
                st.series = None;
                st.series_range = (
                    0,
                    st.image
                        .as_ref()
                        .map_or(0, |i| i.slices.len().saturating_sub(1)),
                );
                st.denoise.pipeline.clear();
                st.phi_revealed = !self.prefs.mask_phi_by_default;
                st.view = view::ViewTransform::default();
                st.open_with_preset(self.prefs.last_preset.into());
                match self.pending_run.take() {
                    Some(AutoRun::Classify) => self.apply(Intent::RunClassify),
                    Some(AutoRun::ClassifySeries) => self.apply(Intent::RunClassifySeries),
                    Some(AutoRun::Denoise) => {
                        // The built-in phantom is noise-free: it is first turned into a
                        // simulated low-dose scan (so the result has a clean reference). A
                        // file is denoised as it is: it may already be a real low-dose scan,
                        // and simulating a further 25 % silently would hide that (issue 20).
                        let builtin = self
                            .state
                            .image
                            .as_ref()
                            .is_some_and(|i| matches!(i.source, worker::Source::Builtin));
                        if builtin {
                            self.after_ldct = Some(AutoRun::Denoise);
                            self.apply(Intent::SimulateLdct);
                        } else {
                            self.apply(Intent::RunDenoise);
                        }
                    }
                    None => {}
                }
            }
            Event::ReferenceLoaded(r) => {
                st.reference = Some(*r);
                st.compare.b = Display::Reference;
            }
            Event::Exported(name) => st.notice = Some(format!("Exported {name}")),
            Event::Picked { purpose, path } => {
                st.dialog_open = false;
                if let Some(p) = path {
                    self.apply(file_dialog::open_intent(purpose, p));
                }
            }
            Event::Cancelled(kind) => {
                match kind {
                    JobKind::Classify => st.pipeline.stop(StepStatus::Cancelled),
                    JobKind::Series => {
                        st.pipeline.stop(StepStatus::Cancelled);
                        if let Some(run) = st.series.as_mut() {
                            run.cancelled = true;
                        }
                    }
                    JobKind::Denoise => st.denoise.pipeline.stop(StepStatus::Cancelled),
                    JobKind::Ldct => {}
                }
                st.notice = Some("Job cancelled".into());
            }
            Event::Failed {
                what,
                message,
                hint,
            } => {
                if what == "Open" {
                    st.loading = false;
                }
                if what == "Encrypted classification" || what == "Encrypted series classification" {
                    st.pipeline.stop(StepStatus::Failed);
                }
                if what == worker::DENOISE_WHAT {
                    st.denoise.pipeline.stop(StepStatus::Failed);
                }
                st.error(what, message, hint);
            }
            Event::Server { target, result } => {
                // Only news about the server still chosen counts.
                if target == remote::ServerTarget::from_pref(&self.prefs.server) {
                    st.connection = match result {
                        Ok(Some(seconds)) => remote::Connection::Reachable(seconds),
                        Ok(None) => remote::Connection::InUse,
                        Err(reason) => remote::Connection::Failed(reason),
                    };
                }
            }
            Event::Idle(kind) => {
                st.running = None;
                st.cancel_requested = false;
                if kind == JobKind::Series
                    && let Some(run) = st.series.as_mut()
                {
                    run.ended = Some(run.started.elapsed().as_secs_f64());
                    st.pipeline.started = None;
                }
                let next = self.after_ldct.take();
                if kind == JobKind::Ldct
                    && next == Some(AutoRun::Denoise)
                    && self.state.ldct_outcome().is_some()
                {
                    self.apply(Intent::RunDenoise);
                }
            }
        }
    }

    /// The heat map as a 16×16 RGBA texture: inferno colour, alpha ∝ how far a cell lies
    /// above the map's mean (its logit), times the chosen opacity.
    fn prepare_heat_map(&mut self, ctx: &egui::Context) {
        let st = &self.state;
        let map = st
            .maps_on_screen()
            .filter(|_| st.heat_map.show)
            .and_then(|m| Some((m.side, m.for_class(st.heat_map.class)?)));
        let Some((side, map)) = map else {
            self.textures.heat_map = None;
            return;
        };
        let key = HeatTexKey {
            generation: st.generation,
            index: st.index,
            class: st.heat_map.class,
            opacity: st.heat_map.opacity.to_bits(),
            fingerprint: map.iter().sum::<f64>().to_bits(),
        };
        if self.textures.heat_map.as_ref().map(|(k, _)| *k) == Some(key) {
            return;
        }
        let Some((_, hi)) = crate::imaging::overlay::finite_range(map) else {
            self.textures.heat_map = None;
            return;
        };
        let mean = map.iter().sum::<f64>() / map.len().max(1) as f64;
        let span = (hi - mean).max(1e-12);
        let rgba: Vec<u8> = map
            .iter()
            .flat_map(|&v| {
                let t = ((v - mean) / span).clamp(0.0, 1.0);
                let t = if t.is_nan() { 0.0 } else { t };
                let [r, g, b] = crate::imaging::overlay::inferno(t);
                let a = (f64::from(st.heat_map.opacity) * t * 255.0).round() as u8;
                [r, g, b, a]
            })
            .collect();
        let img = egui::ColorImage::from_rgba_unmultiplied([side, side], &rgba);
        let tex = ctx.load_texture("heat-map", img, egui::TextureOptions::LINEAR);
        self.textures.heat_map = Some((key, tex));
    }

    fn prepare_textures(&mut self, ctx: &egui::Context) {
        let st = &self.state;
        if let (Some(slice), Some(values)) = (st.slice(), st.displayed_values()) {
            let key = TexKey {
                generation: st.generation,
                index: st.index,
                display: st.display,
                window: (st.window.center.to_bits(), st.window.width.to_bits()),
            };
            if self.textures.slice.as_ref().map(|(k, _)| *k) != Some(key) {
                let img = egui::ColorImage::from_gray(
                    [slice.cols, slice.rows],
                    &st.window.apply_all(values),
                );
                match &mut self.textures.slice {
                    Some((k, tex)) => {
                        tex.set(img, egui::TextureOptions::NEAREST);
                        *k = key;
                    }
                    None => {
                        let tex = ctx.load_texture("slice", img, egui::TextureOptions::NEAREST);
                        self.textures.slice = Some((key, tex));
                    }
                }
            }
        }
        self.prepare_heat_map(ctx);
        self.prepare_compare_texture(ctx);
        let st = &self.state;
        if self.textures.server_view.as_ref().map(|(t, _)| *t) != Some(st.task) {
            self.textures.server_view = None;
        }
        if self.textures.server_view.is_none()
            && let Some(bytes) = &st.shown_pipeline().server_view
        {
            let side = 128;
            let body = bytes.get(64..).unwrap_or(&[]);
            let gray: Vec<u8> = (0..side * side)
                .map(|i| body.get(i).copied().unwrap_or(0))
                .collect();
            let img = egui::ColorImage::from_gray([side, side], &gray);
            self.textures.server_view = Some((
                st.task,
                ctx.load_texture("server-view", img, egui::TextureOptions::NEAREST),
            ));
        }
        match st.denoise_outcome() {
            Some(o) => {
                let key = DenoiseTexKey {
                    result: st.denoise.results_seen,
                    window: (st.window.center.to_bits(), st.window.width.to_bits()),
                };
                if self.textures.denoise.as_ref().map(|(k, _)| *k) != Some(key) {
                    let size = [o.cols, o.rows];
                    let images = [
                        egui::ColorImage::from_gray(size, &st.window.apply_all(&o.input_hu)),
                        egui::ColorImage::from_gray(size, &st.window.apply_all(&o.output_hu)),
                        egui::ColorImage::from_gray(
                            size,
                            &o.difference_window().apply_all(&o.difference_hu),
                        ),
                    ];
                    let opts = egui::TextureOptions::LINEAR;
                    match &mut self.textures.denoise {
                        Some((k, texs)) => {
                            for (t, img) in texs.iter_mut().zip(images) {
                                t.set(img, opts);
                            }
                            *k = key;
                        }
                        None => {
                            let [a, b, c] = images;
                            self.textures.denoise = Some((
                                key,
                                [
                                    ctx.load_texture("denoise-input", a, opts),
                                    ctx.load_texture("denoise-output", b, opts),
                                    ctx.load_texture("denoise-difference", c, opts),
                                ],
                            ));
                        }
                    }
                }
            }
            None => self.textures.denoise = None,
        }
    }

    /// The right-hand view of a side-by-side comparison, in the same window.
    fn prepare_compare_texture(&mut self, ctx: &egui::Context) {
        let st = &self.state;
        let b = st.compare.b;
        let (Some(slice), Some(values), true) =
            (st.slice(), st.values_for(b), st.compare.side_by_side)
        else {
            self.textures.compare = None;
            return;
        };
        let key = TexKey {
            generation: st.generation,
            index: st.index,
            display: b,
            window: (st.window.center.to_bits(), st.window.width.to_bits()),
        };
        if self.textures.compare.as_ref().map(|(k, _)| *k) == Some(key) {
            return;
        }
        let img =
            egui::ColorImage::from_gray([slice.cols, slice.rows], &st.window.apply_all(values));
        match &mut self.textures.compare {
            Some((k, tex)) => {
                tex.set(img, egui::TextureOptions::NEAREST);
                *k = key;
            }
            None => {
                let tex = ctx.load_texture("compare", img, egui::TextureOptions::NEAREST);
                self.textures.compare = Some((key, tex));
            }
        }
    }

    fn keyboard(&self, ctx: &egui::Context, intents: &mut Vec<Intent>) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        use crate::imaging::window::Preset;
        let keys = [
            egui::Key::Num1,
            egui::Key::Num2,
            egui::Key::Num3,
            egui::Key::Num4,
            egui::Key::Num5,
            egui::Key::Num6,
            egui::Key::Num7,
            egui::Key::Num8,
        ];
        ctx.input(|i| {
            for (k, p) in keys.iter().zip(Preset::ALL) {
                if i.key_pressed(*k) {
                    intents.push(Intent::SetPreset(p));
                }
            }
            if i.key_pressed(egui::Key::ArrowUp) || i.key_pressed(egui::Key::PageUp) {
                intents.push(Intent::StepSlice(-1));
            }
            if i.key_pressed(egui::Key::ArrowDown) || i.key_pressed(egui::Key::PageDown) {
                intents.push(Intent::StepSlice(1));
            }
            if i.key_pressed(egui::Key::Escape) && self.browser.is_some() {
                intents.push(Intent::CloseBrowser);
            }
        });
    }

    fn drag_and_drop(&self, ctx: &egui::Context, intents: &mut Vec<Intent>) {
        let (hovering, dropped) =
            ctx.input(|i| (!i.raw.hovered_files.is_empty(), i.raw.dropped_files.clone()));
        if hovering {
            panels::drop_overlay(ctx);
        }
        if let Some(f) = dropped.first() {
            // One item at a time: a file, or a folder as a series.
            intents.push(Intent::LoadPath(f.path().to_path_buf()));
        }
    }
}

impl eframe::App for PrivactApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        PrivactApp::ui(self, ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        storage.set_string(prefs::STORAGE_KEY, self.prefs.to_json());
    }

    /// egui's own memory holds window positions and widget state, which can include text
    /// typed into fields; only our typed preferences are stored.
    fn persist_egui_memory(&self) -> bool {
        false
    }
}

/// Opens the window (blocks until it is closed).
pub fn run(launch: Launch) -> Result<(), AppError> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("PrivaCT — encrypted AI on CT slices")
            .with_inner_size([1600.0, 1000.0])
            .with_min_inner_size([1100.0, 700.0])
            .with_drag_and_drop(true),
        persist_window: false,
        ..Default::default()
    };
    eframe::run_native(
        "privact",
        options,
        Box::new(move |cc| {
            let prefs = cc
                .storage
                .and_then(|s| s.get_string(prefs::STORAGE_KEY))
                .map(|s| Prefs::from_json(&s))
                .unwrap_or_default();
            let app = PrivactApp::new(prefs, launch);
            app.worker.attach(&cc.egui_ctx);
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| AppError::Window(e.to_string()))
}

/// No text style below 11 points (egui's Small is 9: the hex dump and round rows were ~7 px
/// on screen).
pub fn legible_text(style: &mut egui::Style) {
    for font in style.text_styles.values_mut() {
        font.size = font.size.max(MIN_TEXT_POINTS);
    }
}

/// The smallest text size the app uses, in points.
pub const MIN_TEXT_POINTS: f32 = 11.0;

/// A scaling of pixel values to [0, 1].
type Normalise = Box<dyn Fn(&[f32]) -> Vec<f32>>;

/// How views are scaled to [0, 1] before PSNR/SSIM against the reference: the abdomen window
/// for a reference in HU (as the denoising results), else the reference's min…max (8-bit or
/// raw pixel values have no HU window). Returns the scaling and its description.
pub fn compare_normalisation(st: &AppState, reference: &[f32]) -> (Normalise, &'static str) {
    let (lo, hi) = reference
        .iter()
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let span = f64::from(hi - lo).max(1e-6);
    let hu_reference = st.units_for(Display::Reference) == crate::imaging::Units::Hu;
    if hu_reference {
        (
            Box::new(|v: &[f32]| {
                v.iter()
                    .map(|&x| crate::imaging::window::Window::ABDOMEN.apply_unit(f64::from(x)))
                    .collect()
            }),
            "abdomen window W400/L40 → [0, 1]",
        )
    } else {
        (
            Box::new(move |v: &[f32]| {
                v.iter()
                    .map(|&x| ((f64::from(x) - f64::from(lo)) / span).clamp(0.0, 1.0) as f32)
                    .collect()
            }),
            "reference min…max → [0, 1]",
        )
    }
}
