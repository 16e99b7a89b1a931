//! Right panel, "Encrypted pipeline": actions, the six numbered steps, parameter card, key
//! inventory, what the server sees, and the overhead table.

use super::{amber, client, green, red, server, side_badge};
use crate::app::PrivactApp;
use crate::app::intent::Intent;
use crate::app::job;
use crate::app::prefs::ServerPref;
use crate::app::state::{StepStatus, Task};
use crate::app::view::{fmt_bytes, fmt_ratio, fmt_seconds, group_thousands, hex_excerpt};
use crate::app::weights;
use crate::app::worker::JobKind;
use crate::model::classifier::packing;
use crate::model::denoiser::ModelKind;
use crate::protocol::Side;
use crate::protocol::denoise;
use crate::protocol::denoise::local::ValuesCrossing;
use egui::{RichText, Vec2};

pub fn show(app: &PrivactApp, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
    ui.heading("Encrypted pipeline");
    actions(app, ui, intents);
    server_choice(app, ui, intents);
    ui.separator();
    steps(app, ui);
    ui.separator();
    parameter_card(app, ui);
    key_inventory(app, ui);
    server_view(app, ui);
    overhead(app, ui);
}

fn actions(app: &PrivactApp, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
    let st = &app.state;
    let demo = weights::demo_weights();
    if demo {
        ui.colored_label(amber(ui), "Model: demo weights (untrained)")
            .on_hover_text(
                "The trained classifier is not shipped yet. The encryption, the server's \
                 computation on ciphertexts, the bytes and the timings are real; the \
                 probabilities are not a diagnosis.",
            );
    }
    let busy = app.busy();
    ui.horizontal_wrapped(|ui| {
        ui.label("Show:");
        for (task, label) in [
            (Task::Classify, "Classification"),
            (Task::Denoise, "Denoising"),
        ] {
            if ui
                .selectable_label(st.task == task, label)
                .on_hover_text("Which task the steps, sizes and keys below describe")
                .clicked()
            {
                intents.push(Intent::SelectTask(task));
            }
        }
    });
    ui.horizontal_wrapped(|ui| {
        let tip = if demo {
            "Runs the full protocol with demo weights (untrained): shows the cost of encryption, not a diagnosis"
        } else {
            "Encrypts the slice, lets the server classify the ciphertexts, decrypts here"
        };
        if ui
            .add_enabled(
                !busy && st.image.is_some(),
                egui::Button::new(RichText::new("Run encrypted classification").strong()),
            )
            .on_hover_text(tip)
            .on_disabled_hover_text("A job is running (one at a time), or no image is loaded")
            .clicked()
        {
            intents.push(Intent::RunClassify);
        }
        if ui
            .add_enabled(busy && !st.cancel_requested, egui::Button::new("Cancel"))
            .on_hover_text("Stops at the next stage boundary (or interactive round)")
            .clicked()
        {
            intents.push(Intent::Cancel);
        }
    });
    heat_map_switches(app, ui, intents);
    series_controls(app, ui, intents);
    ui.horizontal_wrapped(|ui| {
        ui.label("Denoising model:");
        let rounds = app
            .denoise_info
            .as_ref()
            .map_or(0, |i| i.relu_rounds(ModelKind::Nonlinear));
        for (kind, label, tip) in [
            (
                ModelKind::Linear,
                "Linear (one-shot)".to_string(),
                "One 13×13 filter in residual form, evaluated entirely on ciphertexts in one round trip"
                    .to_string(),
            ),
            (
                ModelKind::Nonlinear,
                "Nonlinear (interactive)".to_string(),
                format!(
                    "Convolutions on ciphertexts with {rounds} ReLU rounds: the server sends masked \
                     pre-activations, this client applies ReLU and returns fresh encryptions"
                ),
            ),
        ] {
            if ui
                .radio(st.denoise.model == kind, label)
                .on_hover_text(tip)
                .clicked()
            {
                intents.push(Intent::SetDenoiseModel(kind));
            }
        }
    });
    ui.horizontal_wrapped(|ui| {
        if ui
            .add_enabled(
                !busy && st.image.is_some(),
                egui::Button::new(RichText::new("Run encrypted denoising").strong()),
            )
            .on_hover_text(
                "Encrypts the low-dose slice tile by tile, lets the server denoise the \
                 ciphertexts, decrypts here",
            )
            .on_disabled_hover_text("A job is running (one at a time), or no image is loaded")
            .clicked()
        {
            intents.push(Intent::RunDenoise);
        }
        let input = match (st.denoise_input(), st.ldct_outcome()) {
            (Some(o), _) => format!(
                "input: the simulated {:.0} % dose (clean reference for PSNR/SSIM)",
                o.dose * 100.0
            ),
            (None, Some(_)) => {
                "input: the original slice shown (Show low dose to denoise the simulation)".into()
            }
            (None, None) => {
                "input: the loaded slice as the low-dose scan (no reference)".to_string()
            }
        };
        ui.weak(input);
    });
    match st.running {
        Some(JobKind::Classify | JobKind::Denoise) => {
            let p = st.shown_pipeline();
            let elapsed = p.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
            let text = if st.cancel_requested {
                "cancelling at the next stage boundary…".to_string()
            } else {
                match p.eta_seconds() {
                    Some(left) => format!(
                        "{} elapsed · ≈ {} left",
                        fmt_seconds(elapsed),
                        fmt_seconds(left)
                    ),
                    None => {
                        let done = p.steps.iter().filter(|s| s.status.finished()).count();
                        format!(
                            "{} elapsed · step {} of {}",
                            fmt_seconds(elapsed),
                            (done + 1).min(p.steps.len()),
                            p.steps.len()
                        )
                    }
                }
            };
            ui.add(
                egui::ProgressBar::new(p.fraction_done())
                    .text(text)
                    .animate(true),
            );
        }
        Some(JobKind::Series) => {
            if let Some(run) = &st.series {
                let (done, total) = (run.rows.len(), run.indices.len().max(1));
                let text = if st.cancel_requested {
                    format!("cancelling… {done} of {total} slices kept")
                } else {
                    format!(
                        "slice {} of {total} · {} elapsed{} · {} so far",
                        (done + 1).min(total),
                        fmt_seconds(run.started.elapsed().as_secs_f64()),
                        run.eta_seconds()
                            .map_or(String::new(), |s| format!(" · ≈ {} left", fmt_seconds(s))),
                        fmt_bytes(run.bytes())
                    )
                };
                ui.add(
                    egui::ProgressBar::new(done as f32 / total as f32)
                        .text(text)
                        .animate(true),
                );
            }
        }
        Some(JobKind::Ldct) => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("simulating the low-dose scan…");
            });
        }
        None => {}
    }
}

/// Ask for the encrypted heat map; show it, for which class, how opaque.
/// "Server: built-in worker / remote privact serve", the URL and fingerprint, and the
/// connection state (issue 17). Network errors of a run show here as well as in a toast.
fn server_choice(app: &PrivactApp, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
    use crate::app::remote::Connection;
    let pref = &app.prefs.server;
    let busy = app.busy();
    ui.horizontal_wrapped(|ui| {
        ui.label("Server:");
        ui.add_enabled_ui(!busy, |ui| {
            for (remote, label, tip) in [
                (
                    false,
                    "Built-in worker",
                    "A server thread in this program: nothing leaves the computer",
                ),
                (
                    true,
                    "Remote privact serve",
                    "`privact serve` on another machine, over HTTPS: it receives evaluation keys and ciphertexts only",
                ),
            ] {
                if ui
                    .selectable_label(pref.remote == remote, label)
                    .on_hover_text(tip)
                    .clicked()
                {
                    intents.push(Intent::SetServer(ServerPref {
                        remote,
                        ..pref.clone()
                    }));
                }
            }
        });
    });
    if pref.remote {
        // One labelled text field per row; an edit becomes the edited copy of the setting.
        let field = |ui: &mut egui::Ui, label: &str, tip: &str, hint: &str, value: &str| {
            ui.label(label).on_hover_text(tip);
            let mut text = value.to_string();
            let edit = ui.add_enabled(
                !busy,
                egui::TextEdit::singleline(&mut text)
                    .hint_text(hint)
                    .desired_width(260.0),
            );
            ui.end_row();
            edit.changed().then_some(text)
        };
        egui::Grid::new("server_grid").num_columns(2).show(ui, |ui| {
            let tip = "Where `privact serve` listens: https://host:port";
            if let Some(url) = field(ui, "URL", tip, "https://host:8443", &pref.url) {
                intents.push(Intent::SetServer(ServerPref {
                    url,
                    ..pref.clone()
                }));
            }
            let tip = "SHA-256 of the server's certificate, as `privact serve --self-signed` prints it";
            if let Some(fingerprint) =
                field(ui, "Fingerprint", tip, "64 hex digits", &pref.fingerprint)
            {
                intents.push(Intent::SetServer(ServerPref {
                    fingerprint,
                    ..pref.clone()
                }));
            }
        });
    }
    if pref.remote
        && ui
            .add_enabled(
                !matches!(app.state.connection, Connection::Checking),
                egui::Button::new("Check connection"),
            )
            .on_hover_text("GET /healthz over the pinned TLS connection; sends no keys or images")
            .clicked()
    {
        intents.push(Intent::CheckServer);
    }
    let (colour, text) = match &app.state.connection {
        Connection::Builtin => (green(ui), "Built-in worker (this computer)".to_string()),
        Connection::Unchecked => (amber(ui), "Not contacted yet".to_string()),
        Connection::Checking => (amber(ui), "Contacting…".to_string()),
        Connection::Reachable(s) => (
            green(ui),
            format!("Reachable, TLS verified ({})", fmt_seconds(*s)),
        ),
        Connection::InUse => (
            green(ui),
            "Connected: keys uploaded, last run answered".into(),
        ),
        Connection::Failed(reason) => (red(ui), format!("Unreachable: {reason}")),
    };
    ui.colored_label(colour, text);
}

fn heat_map_switches(app: &PrivactApp, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
    let hm = &app.state.heat_map;
    ui.horizontal_wrapped(|ui| {
        let mut request = hm.request;
        if ui
            .checkbox(&mut request, "Heat map (encrypted)")
            .on_hover_text(
                "The server also returns, encrypted, where the model's cyst and tumour \
                 evidence lies on a 16×16 grid (the logit terms before global pooling): one \
                 more ciphertext down, a few rotations more on the server",
            )
            .changed()
        {
            intents.push(Intent::RequestHeatMap(request));
        }
        let mut show = hm.show;
        if ui
            .checkbox(&mut show, "Show heat map")
            .on_hover_text(
                "Draws the decrypted map over the slice: cells above the class logit (the \
                 map's mean) are coloured; they push towards the class",
            )
            .changed()
        {
            intents.push(Intent::ShowHeatMap(show));
        }
        for (class, label) in [(2, "tumour"), (1, "cyst")] {
            if ui.radio(hm.class == class, label).clicked() {
                intents.push(Intent::HeatMapClass(class));
            }
        }
        let mut opacity = hm.opacity;
        if ui
            .add(egui::Slider::new(&mut opacity, 0.0..=1.0).text("opacity"))
            .changed()
        {
            intents.push(Intent::HeatMapOpacity(opacity));
        }
    });
}

/// "Classify series (encrypted)" with its slice range, for a loaded series of several slices.
fn series_controls(app: &PrivactApp, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
    let st = &app.state;
    let n = st.image.as_ref().map_or(0, |i| i.slices.len());
    if n < 2 {
        return;
    }
    ui.horizontal_wrapped(|ui| {
        let (mut a, mut b) = (st.series_range.0 + 1, st.series_range.1 + 1);
        ui.label("Slices");
        let ra = ui.add(egui::DragValue::new(&mut a).range(1..=n));
        ui.label("to");
        let rb = ui.add(egui::DragValue::new(&mut b).range(1..=n));
        ui.label(format!("of {n}"));
        if ra.changed() || rb.changed() {
            intents.push(Intent::SetSeriesRange(a - 1, b - 1));
        }
        if ui
            .add_enabled(
                !app.busy(),
                egui::Button::new(RichText::new("Classify series (encrypted)").strong()),
            )
            .on_hover_text(
                "Encrypts and classifies every slice of the range with one key set; the plot \
                 below the image shows the probabilities along the series",
            )
            .on_disabled_hover_text("A job is running (one at a time)")
            .clicked()
        {
            intents.push(Intent::RunClassifySeries);
        }
    });
}

fn steps(app: &PrivactApp, ui: &mut egui::Ui) {
    let st = &app.state;
    let p = st.shown_pipeline();
    ui.label(
        RichText::new(match st.task {
            Task::Classify => "Steps: encrypted classification",
            Task::Denoise => "Steps: encrypted denoising",
        })
        .strong(),
    );
    // The rows belong to the last run; say so when that run was on another slice.
    let run_slice = match st.task {
        Task::Classify => p
            .outcome
            .as_ref()
            .and(st.outcome_for)
            .filter(|_| st.classify_outcome().is_none()),
        Task::Denoise => st
            .denoise
            .outcome
            .as_ref()
            .map(|o| (o.generation, o.index))
            .filter(|_| st.denoise_outcome().is_none()),
    };
    let elsewhere = st.running.is_none() && run_slice.is_some();
    if let Some((generation, index)) = run_slice.filter(|_| elsewhere) {
        ui.colored_label(
            amber(ui),
            if generation == st.generation {
                format!(
                    "These steps are the last run's, on slice {}: not the slice on screen.",
                    index + 1
                )
            } else {
                "These steps are the last run's, on another image: not the one on screen.".into()
            },
        );
    }
    egui::Grid::new("steps")
        .num_columns(6)
        .striped(true)
        .spacing([10.0, 4.0])
        .show(ui, |ui| {
            for h in ["#", "Step", "Side", "Status", "Time", "Bytes"] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            let mut n = 0;
            for s in &p.steps {
                let name = s.id.name();
                if s.id.is_round() {
                    ui.label("");
                    ui.label(format!("   {name}"));
                } else {
                    n += 1;
                    ui.label(format!("{n}"));
                    ui.label(&name);
                }
                side_badge(ui, s.id.side());
                let color = match s.status {
                    StepStatus::Done | StepStatus::Reused => green(ui),
                    StepStatus::Running => client(ui),
                    StepStatus::Failed => red(ui),
                    StepStatus::Cancelled => amber(ui),
                    StepStatus::Waiting => ui.visuals().weak_text_color(),
                };
                ui.horizontal(|ui| {
                    if s.status == StepStatus::Running {
                        ui.spinner();
                    }
                    // Visible: "done"; accessible name: "Decrypt done".
                    let r = ui.colored_label(color, s.status.label());
                    let name = format!("{name} {}", s.status.label());
                    r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &name));
                });
                let secs = match (s.status, s.seconds, s.started) {
                    (_, Some(t), _) => fmt_seconds(t),
                    (StepStatus::Running, None, Some(t0)) => {
                        fmt_seconds(t0.elapsed().as_secs_f64())
                    }
                    _ => "–".into(),
                };
                ui.label(secs);
                ui.label(match s.bytes {
                    Some(0) | None => "–".into(),
                    Some(b) => fmt_bytes(b),
                });
                ui.end_row();
            }
        });
    match st.task {
        Task::Classify => {
            if let Some(o) = p.outcome.as_ref().filter(|_| !elsewhere) {
                ui.label(format!(
                    "This slice {} · client {} · server {}",
                    fmt_seconds(o.per_slice_seconds()),
                    fmt_seconds(
                        o.ledger.total_seconds(Side::Client)
                            - (o.total_seconds() - o.per_slice_seconds())
                    ),
                    fmt_seconds(o.ledger.total_seconds(Side::Server)),
                ));
                ui.weak(if o.keys_reused {
                    format!(
                        "Keys reused: made and uploaded once this session ({} in {}), slice {} of the session.",
                        fmt_bytes(o.setup_bytes),
                        fmt_seconds(o.setup_seconds),
                        o.session_runs
                    )
                } else {
                    format!(
                        "Plus once per session: Keys {} (key generation, upload of {}, the server importing them and preparing the model); the next slices reuse them.",
                        fmt_seconds(o.setup_seconds),
                        fmt_bytes(o.setup_bytes)
                    )
                });
            }
        }
        Task::Denoise => {
            if let Some(o) = st.denoise_outcome() {
                ui.label(format!(
                    "This slice {} · server {}",
                    fmt_seconds(o.per_slice_seconds()),
                    fmt_seconds(o.run.server_seconds),
                ));
                ui.weak(if o.keys_reused {
                    format!(
                        "Keys reused: made and uploaded once this session for the {} model ({} in {}).",
                        o.kind.name(),
                        fmt_bytes(o.eval_key_bytes),
                        fmt_seconds(o.setup_seconds)
                    )
                } else {
                    format!(
                        "Plus once per session: keys {} (generation, upload of {}, server setup, inside Keys and Send); the next slices reuse them.",
                        fmt_seconds(o.setup_seconds),
                        fmt_bytes(o.eval_key_bytes)
                    )
                });
            }
            ui.weak(
                "Evaluate: the server's own time over every convolution; the rounds run inside it.",
            );
        }
    }
}

fn parameter_card(app: &PrivactApp, ui: &mut egui::Ui) {
    egui::CollapsingHeader::new("CKKS parameters")
        .default_open(true)
        .show(ui, |ui| {
            let st = &app.state;
            let (preset, p) = match st.task {
                Task::Classify => match &app.params {
                    Ok(i) => (job::PRESET, &i.params),
                    Err(e) => {
                        ui.colored_label(red(ui), e);
                        return;
                    }
                },
                Task::Denoise => match &app.denoise_info {
                    Ok(i) => (
                        denoise::client::preset(st.denoise.model),
                        i.params(st.denoise.model),
                    ),
                    Err(e) => {
                        ui.colored_label(red(ui), e);
                        return;
                    }
                },
            };
            let levels_used = match st.task {
                Task::Classify => format!("{} used by the model", packing::LEVELS_NEEDED),
                Task::Denoise => match st.denoise.model {
                    ModelKind::Linear => "1 for the one convolution".to_string(),
                    ModelKind::Nonlinear => "3 per round (unmask, convolve, mask)".to_string(),
                },
            };
            let precision = match st.task {
                Task::Classify => st
                    .pipeline
                    .outcome
                    .as_ref()
                    .and_then(|o| o.precision_bits())
                    .map(|b| format!("{b:.1} bits (vs plaintext, same circuit)")),
                Task::Denoise => st
                    .denoise_outcome()
                    .map(|o| format!("{:.1} bits (vs the plaintext model)", o.precision_bits())),
            };
            ui.weak("Hover a term for what it means.");
            super::key_value_grid(ui, "params", |row| {
                row("Preset", preset.into());
                row(
                    "Ring degree N",
                    format!("{} (2^{})", group_thousands(p.n() as u64), p.log_n()),
                );
                row("Slots", group_thousands(p.slots() as u64));
                row(
                    "Levels",
                    format!("{} available, {levels_used}", p.max_level()),
                );
                row("Scale", format!("2^{:.0}", p.default_scale().log2()));
                row(
                    "Modulus",
                    format!(
                        "log Q = {:.0} bits, log QP = {:.0} bits",
                        p.log_q(),
                        p.log_qp()
                    ),
                );
                row(
                    "Security",
                    format!("{}-bit (HomomorphicEncryption.org)", p.security_bits()),
                );
                row(
                    "Precision after decryption",
                    precision.unwrap_or_else(|| "after a run".into()),
                );
            });
        });
}

fn key_inventory(app: &PrivactApp, ui: &mut egui::Ui) {
    egui::CollapsingHeader::new("Key inventory")
        .default_open(true)
        .show(ui, |ui| {
            let st = &app.state;
            // (relinearisation key bytes, Galois keys, bytes each, rotations, server memory)
            let (relin, galois, each, rotations, memory) = match st.task {
                Task::Classify => {
                    let Ok(info) = &app.params else { return };
                    let plan = &info.plan;
                    (
                        Some(plan.relin_key_bytes),
                        plan.galois_keys,
                        plan.galois_key_bytes,
                        plan.rotations.clone(),
                        st.pipeline.outcome.as_ref().map(|o| o.server_key_memory),
                    )
                }
                Task::Denoise => {
                    let Some(Ok(plan)) = app.denoise_plan() else {
                        ui.weak("Load a slice to see the keys denoising needs.");
                        return;
                    };
                    (
                        None,
                        plan.galois_keys,
                        plan.galois_key_bytes,
                        plan.rotations.clone(),
                        st.denoise_outcome().map(|o| o.run.server_key_memory),
                    )
                }
            };
            egui::Grid::new("keys")
                .num_columns(3)
                .striped(true)
                .show(ui, |ui| {
                    ui.label(RichText::new("Secret key").strong())
                        .on_hover_text(super::glossary("Secret key").unwrap_or_default());
                    ui.colored_label(green(ui), "never leaves this machine");
                    ui.label("fresh each session");
                    ui.end_row();
                    ui.label("Relinearisation key")
                        .on_hover_text(super::glossary("Relinearisation key").unwrap_or_default());
                    match relin {
                        Some(b) => {
                            ui.label(format!("1 × {}", fmt_bytes(b)));
                            side_badge(ui, Side::Server);
                        }
                        None => {
                            ui.label("none");
                            ui.weak("no ciphertext × ciphertext product");
                        }
                    }
                    ui.end_row();
                    ui.label("Galois (rotation) keys").on_hover_text(
                        super::glossary("Galois (rotation) keys").unwrap_or_default(),
                    );
                    ui.label(format!(
                        "{} × {} = {}",
                        galois,
                        fmt_bytes(each),
                        fmt_bytes(galois as u64 * each)
                    ));
                    side_badge(ui, Side::Server);
                    ui.end_row();
                });
            let rot: Vec<String> = rotations.iter().map(|r| r.to_string()).collect();
            ui.weak(format!(
                "Only the rotations the model uses: {}{}",
                rot.join(", "),
                if galois > rotations.len() {
                    ", and the conjugation (complex slots)"
                } else {
                    ""
                }
            ));
            if let Some(m) = memory {
                ui.label(format!(
                    "Server memory for this session's keys: {}",
                    fmt_bytes(m)
                ));
            }
        });
}

fn server_view(app: &PrivactApp, ui: &mut egui::Ui) {
    egui::CollapsingHeader::new("What the server sees")
        .default_open(true)
        .show(ui, |ui| {
            let st = &app.state;
            let (Some(bytes), Some((_, tex))) =
                (&st.shown_pipeline().server_view, &app.textures.server_view)
            else {
                ui.weak("After encryption: the first ciphertext, exactly as it is sent.");
                return;
            };
            let what = match st.task {
                Task::Classify => "Ciphertext 1 of the encrypted slice".to_string(),
                Task::Denoise => match app.denoise_plan().and_then(|p| p.ok()) {
                    Some(p) if p.tiles == 1 => {
                        "Ciphertext 1 of 1: the only tile (real parts)".to_string()
                    }
                    Some(p) => format!(
                        "Ciphertext 1 of {}: tiles 1 and 2 of {} (real and imaginary parts)",
                        p.ciphertexts, p.tiles
                    ),
                    None => "Ciphertext 1 of the encrypted slice".to_string(),
                },
            };
            ui.horizontal_top(|ui| {
                let r = ui
                    .add(egui::Image::new((tex.id(), Vec2::splat(150.0))).alt_text(
                        "The first input ciphertext's bytes drawn as grey levels: noise",
                    ));
                r.on_hover_text("16 KiB of the serialized ciphertext, one byte per pixel");
                ui.vertical(|ui| {
                    ui.colored_label(server(ui), what);
                    ui.label(format!("{} bytes", group_thousands(bytes.len() as u64)));
                    ui.weak(
                        "Residues mod q look uniformly random: without the secret key this is \
                         indistinguishable from noise.",
                    );
                });
            });
            // 11 px monospace at least (issue 20: the dump was ~7 px); scrolls sideways in a
            // narrow panel instead of shrinking.
            egui::ScrollArea::horizontal()
                .id_salt("hex_dump")
                .show(ui, |ui| {
                    ui.add(
                        egui::Label::new(
                            RichText::new(hex_excerpt(bytes.get(64..).unwrap_or(&[]), 6))
                                .monospace()
                                .size(11.5),
                        )
                        .wrap_mode(egui::TextWrapMode::Extend),
                    );
                });
        });
}

fn overhead(app: &PrivactApp, ui: &mut egui::Ui) {
    egui::CollapsingHeader::new("Overhead")
        .default_open(true)
        .show(ui, |ui| match app.state.task {
            Task::Classify => classify_overhead(app, ui),
            Task::Denoise => denoise_overhead(app, ui),
        });
}

/// One row of an overhead table: label, plaintext, encrypted, ratio.
/// The overhead table: a header row, then the rows `add_rows` draws with `overhead_row`.
fn overhead_grid(ui: &mut egui::Ui, add_rows: impl FnOnce(&mut egui::Ui)) {
    egui::Grid::new("overhead")
        .num_columns(4)
        .striped(true)
        .show(ui, |ui| {
            for h in ["", "Plaintext", "Encrypted", "Ratio"] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            add_rows(ui);
        });
}

fn overhead_row(ui: &mut egui::Ui, label: &str, plain: String, enc: String, ratio: String) {
    ui.label(label);
    ui.label(plain);
    ui.label(enc);
    ui.label(ratio);
    ui.end_row();
}

fn classify_overhead(app: &PrivactApp, ui: &mut egui::Ui) {
    let st = &app.state;
    let plain_bytes = st.image.as_ref().map_or(0, |i| i.plaintext_bytes);
    let plan = app.params.as_ref().ok().map(|i| &i.plan);
    let o = st.pipeline.outcome.as_ref();
    // Measured bytes once a job ran, the exact plan before.
    let measured_or_planned = |m: fn(&job::ClassifyOutcome) -> u64,
                               p: fn(&job::SizePlan) -> u64| {
        o.map(|o| m(o)).or(plan.map(p)).unwrap_or(0)
    };
    overhead_grid(ui, |ui| {
        let req = measured_or_planned(|o| o.request_bytes, |p| p.request_bytes);
        overhead_row(
            ui,
            "Upload: image",
            fmt_bytes(plain_bytes),
            fmt_bytes(req),
            fmt_ratio(req as f64, plain_bytes as f64),
        );
        let keys = measured_or_planned(|o| o.setup_bytes, |p| p.setup_bytes);
        overhead_row(
            ui,
            match o {
                Some(o) if o.keys_reused => "Upload: keys (once; reused)",
                _ => "Upload: keys (once per session)",
            },
            "0 B".into(),
            fmt_bytes(keys),
            "–".into(),
        );
        // With a heat map the answer also carries 2 maps of 16×16 values.
        let map_values = if o.is_some_and(|o| o.maps.is_some()) {
            packing::MAP_CLASSES.len() * packing::MAP_SIDE * packing::MAP_SIDE
        } else {
            0
        };
        let answer_plain = ((packing::CLASSES + map_values) * 8) as u64;
        let answer = if map_values > 0 {
            format!(
                "{} ({} logits + {map_values} map values)",
                fmt_bytes(answer_plain),
                packing::CLASSES
            )
        } else {
            format!("{} ({} logits)", fmt_bytes(answer_plain), packing::CLASSES)
        };
        match o {
            Some(o) => overhead_row(
                ui,
                "Download: answer",
                answer,
                fmt_bytes(o.response_bytes),
                fmt_ratio(o.response_bytes as f64, answer_plain as f64),
            ),
            None => overhead_row(
                ui,
                "Download: answer",
                answer,
                "after a run".into(),
                "–".into(),
            ),
        }
        time_rows(
            ui,
            o.map(|o| (o.reference_seconds, o.per_slice_seconds(), o.setup_seconds)),
        );
    });
    ui.weak(
        "Plaintext time: the same circuit evaluated on plaintext slots in this process. Encrypted: one slice, without the one-time keys.",
    );
}

fn denoise_overhead(app: &PrivactApp, ui: &mut egui::Ui) {
    let st = &app.state;
    let Some(Ok(plan)) = app.denoise_plan() else {
        ui.weak("Load a slice to see what encrypted denoising costs.");
        return;
    };
    let plain_bytes = st.image.as_ref().map_or(0, |i| i.plaintext_bytes);
    let o = st.denoise_outcome();
    let measured = |planned: u64, m: Option<u64>| m.unwrap_or(planned);
    let round_up: u64 = plan.rounds.iter().map(|r| r.upload).sum();
    let round_down: u64 = plan.rounds.iter().map(|r| r.download).sum();
    overhead_grid(ui, |ui| {
        let req = plan.request_bytes;
        overhead_row(
            ui,
            &format!("Upload: image ({} tiles)", plan.tiles),
            fmt_bytes(plain_bytes),
            fmt_bytes(req),
            fmt_ratio(req as f64, plain_bytes as f64),
        );
        let keys = measured(plan.setup_bytes, o.map(|o| o.run.eval_key_bytes));
        overhead_row(
            ui,
            match o {
                Some(o) if o.keys_reused => "Upload: keys (once; reused)",
                _ => "Upload: keys (once per session)",
            },
            "0 B".into(),
            fmt_bytes(keys),
            "–".into(),
        );
        if !plan.rounds.is_empty() {
            let up = measured(
                round_up,
                o.map(|o| o.run.rounds.iter().map(|r| r.upload).sum()),
            );
            let down = measured(
                round_down,
                o.map(|o| o.run.rounds.iter().map(|r| r.download).sum()),
            );
            overhead_row(
                ui,
                &format!("Upload: {} rounds of activations", plan.rounds.len()),
                "0 B".into(),
                fmt_bytes(up),
                "–".into(),
            );
            overhead_row(
                ui,
                &format!("Download: {} rounds of pre-activations", plan.rounds.len()),
                "0 B".into(),
                fmt_bytes(down),
                "–".into(),
            );
        }
        let result = measured(
            plan.result_bytes,
            o.map(|o| {
                let rounds: u64 = o.run.rounds.iter().map(|r| r.download).sum();
                o.run.download_bytes.saturating_sub(rounds)
            }),
        );
        overhead_row(
            ui,
            "Download: denoised image",
            fmt_bytes(plain_bytes),
            fmt_bytes(result),
            fmt_ratio(result as f64, plain_bytes as f64),
        );
        // Issue 18: what each pixel-channel value costs on the wire, each way.
        let bits = match (o, st.slice(), &app.denoise_info) {
            (Some(o), _, _) => Some((o.run.bits_per_value_up, o.run.bits_per_value_down)),
            (None, Some(s), Ok(info)) => Some(plan.bits_per_value(&ValuesCrossing::new(
                info.layers(st.denoise.model),
                s.rows,
                s.cols,
            ))),
            _ => None,
        };
        if let Some((up, down)) = bits {
            overhead_row(
                ui,
                "Bits per value crossing (up / down)",
                "–".into(),
                format!("{up:.0} / {down:.0}"),
                "–".into(),
            );
        }
        time_rows(
            ui,
            o.map(|o| (o.plain_seconds, o.per_slice_seconds(), o.setup_seconds)),
        );
    });
    ui.weak(
        "Sizes are exact from the parameters, the model's shape and the tile plan; a run \
         replaces them with the measured bytes. Plaintext time: the same model in this process.",
    );
}

/// The overhead table's time rows: the plaintext model vs one encrypted slice, then the
/// session's one-time key cost (after a run).
fn time_rows(ui: &mut egui::Ui, seconds: Option<(f64, f64, f64)>) {
    match seconds {
        Some((plain, per_slice, setup)) => {
            overhead_row(
                ui,
                "Time: model",
                fmt_seconds(plain),
                fmt_seconds(per_slice),
                fmt_ratio(per_slice, plain.max(1e-6)),
            );
            overhead_row(
                ui,
                "Time: keys (once per session)",
                "0 s".into(),
                fmt_seconds(setup),
                "–".into(),
            );
        }
        None => overhead_row(
            ui,
            "Time: model",
            "after a run".into(),
            "–".into(),
            "–".into(),
        ),
    }
}
