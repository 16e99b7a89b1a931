//! Right panel, "Encrypted pipeline": actions, the six numbered steps, parameter card, key
//! inventory, what the server sees, and the overhead table.

use super::{AMBER, CLIENT, GREEN, RED, SERVER, side_badge};
use crate::app::PrivactApp;
use crate::app::intent::{DENOISE_DISABLED, Intent};
use crate::app::job::{self, stage_name, stage_side};
use crate::app::state::StepStatus;
use crate::app::view::{fmt_bytes, fmt_ratio, fmt_seconds, group_thousands, hex_excerpt};
use crate::app::weights;
use crate::model::classifier::packing;
use egui::{RichText, Vec2};

pub fn show(app: &PrivactApp, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
    ui.heading("Encrypted pipeline");
    actions(app, ui, intents);
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
        ui.colored_label(AMBER, "Model: demo weights (untrained)")
            .on_hover_text(
                "The trained classifier is not shipped yet. The encryption, the server's \
                 computation on ciphertexts, the bytes and the timings are real; the \
                 probabilities are not a diagnosis.",
            );
    }
    let busy = app.busy();
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
            .on_hover_text("Stops at the next stage boundary")
            .clicked()
        {
            intents.push(Intent::Cancel);
        }
        ui.add_enabled(false, egui::Button::new("Run encrypted denoising"))
            .on_disabled_hover_text(DENOISE_DISABLED);
    });
    if st.running == Some(crate::app::worker::JobKind::Classify) {
        let p = &st.pipeline;
        let total: f64 = p.estimates.iter().sum();
        let left = p.eta_seconds().unwrap_or(0.0);
        let frac = if total > 0.0 {
            (1.0 - left / total).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let elapsed = p.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
        let text = if st.cancel_requested {
            "cancelling at the next stage boundary…".to_string()
        } else {
            format!(
                "{} elapsed · ≈ {} left",
                fmt_seconds(elapsed),
                fmt_seconds(left)
            )
        };
        ui.add(egui::ProgressBar::new(frac as f32).text(text).animate(true));
    } else if st.running == Some(crate::app::worker::JobKind::Ldct) {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("simulating the low-dose scan…");
        });
    }
}

fn steps(app: &PrivactApp, ui: &mut egui::Ui) {
    let p = &app.state.pipeline;
    egui::Grid::new("steps")
        .num_columns(6)
        .striped(true)
        .spacing([10.0, 4.0])
        .show(ui, |ui| {
            for h in ["#", "Step", "Side", "Status", "Time", "Bytes"] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for (i, s) in p.steps.iter().enumerate() {
                ui.label(format!("{}", i + 1));
                ui.label(stage_name(s.stage));
                side_badge(ui, stage_side(s.stage));
                let color = match s.status {
                    StepStatus::Done => GREEN,
                    StepStatus::Running => CLIENT,
                    StepStatus::Failed => RED,
                    StepStatus::Cancelled => AMBER,
                    StepStatus::Waiting => ui.visuals().weak_text_color(),
                };
                ui.horizontal(|ui| {
                    if s.status == StepStatus::Running {
                        ui.spinner();
                    }
                    // Visible: "done"; accessible name: "Decrypt done".
                    let r = ui.colored_label(color, s.status.label());
                    let name = format!("{} {}", stage_name(s.stage), s.status.label());
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
    if let Some(o) = &p.outcome {
        ui.label(format!(
            "Total {} · client {} · server {}",
            fmt_seconds(o.total_seconds()),
            fmt_seconds(o.ledger.total_seconds(crate::protocol::Side::Client)),
            fmt_seconds(o.ledger.total_seconds(crate::protocol::Side::Server)),
        ));
        ui.weak(
            "Send includes the server importing the keys and encoding the model for this session.",
        );
    }
}

fn parameter_card(app: &PrivactApp, ui: &mut egui::Ui) {
    egui::CollapsingHeader::new("CKKS parameters")
        .default_open(true)
        .show(ui, |ui| {
            let info = match &app.params {
                Ok(i) => i,
                Err(e) => {
                    ui.colored_label(RED, e);
                    return;
                }
            };
            let p = &info.params;
            egui::Grid::new("params")
                .num_columns(2)
                .striped(true)
                .show(ui, |ui| {
                    let mut row = |k: &str, v: String| {
                        ui.label(k);
                        ui.label(v);
                        ui.end_row();
                    };
                    row("Preset", job::PRESET.into());
                    row(
                        "Ring degree N",
                        format!("{} (2^{})", group_thousands(p.n() as u64), p.log_n()),
                    );
                    row("Slots", group_thousands(p.slots() as u64));
                    row(
                        "Levels",
                        format!(
                            "{} available, {} used by the model",
                            p.max_level(),
                            packing::LEVELS_NEEDED
                        ),
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
                    let prec = app
                        .state
                        .pipeline
                        .outcome
                        .as_ref()
                        .and_then(|o| o.precision_bits())
                        .map_or("after a run".into(), |b| {
                            format!("{b:.1} bits (vs plaintext, same circuit)")
                        });
                    row("Precision after decryption", prec);
                });
        });
}

fn key_inventory(app: &PrivactApp, ui: &mut egui::Ui) {
    egui::CollapsingHeader::new("Key inventory")
        .default_open(true)
        .show(ui, |ui| {
            let Ok(info) = &app.params else { return };
            let plan = &info.plan;
            egui::Grid::new("keys")
                .num_columns(3)
                .striped(true)
                .show(ui, |ui| {
                    ui.label(RichText::new("Secret key").strong());
                    ui.colored_label(GREEN, "never leaves this machine");
                    ui.label("fresh each session");
                    ui.end_row();
                    ui.label("Relinearisation key");
                    ui.label(format!("1 × {}", fmt_bytes(plan.relin_key_bytes)));
                    side_badge(ui, crate::protocol::Side::Server);
                    ui.end_row();
                    ui.label("Galois (rotation) keys");
                    ui.label(format!(
                        "{} × {} = {}",
                        plan.galois_keys,
                        fmt_bytes(plan.galois_key_bytes),
                        fmt_bytes(plan.galois_keys as u64 * plan.galois_key_bytes)
                    ));
                    side_badge(ui, crate::protocol::Side::Server);
                    ui.end_row();
                });
            let rot: Vec<String> = plan.rotations.iter().map(|r| r.to_string()).collect();
            ui.weak(format!(
                "Only the rotations the model uses: {}",
                rot.join(", ")
            ));
            if let Some(o) = &app.state.pipeline.outcome {
                ui.label(format!(
                    "Server memory for this session's keys: {}",
                    fmt_bytes(o.server_key_memory)
                ));
            }
        });
}

fn server_view(app: &PrivactApp, ui: &mut egui::Ui) {
    egui::CollapsingHeader::new("What the server sees")
        .default_open(true)
        .show(ui, |ui| {
            let (Some(bytes), Some(tex)) =
                (&app.state.pipeline.server_view, &app.textures.server_view)
            else {
                ui.weak("After encryption: the first ciphertext, exactly as it is sent.");
                return;
            };
            ui.horizontal_top(|ui| {
                let r = ui
                    .add(egui::Image::new((tex.id(), Vec2::splat(150.0))).alt_text(
                        "The first input ciphertext's bytes drawn as grey levels: noise",
                    ));
                r.on_hover_text("16 KiB of the serialized ciphertext, one byte per pixel");
                ui.vertical(|ui| {
                    ui.colored_label(SERVER, "Ciphertext 1 of the encrypted slice");
                    ui.label(format!("{} bytes", group_thousands(bytes.len() as u64)));
                    ui.weak(
                        "Residues mod q look uniformly random: without the secret key this is \
                         indistinguishable from noise.",
                    );
                });
            });
            ui.label(
                RichText::new(hex_excerpt(bytes.get(64..).unwrap_or(&[]), 6))
                    .monospace()
                    .small(),
            );
        });
}

fn overhead(app: &PrivactApp, ui: &mut egui::Ui) {
    egui::CollapsingHeader::new("Overhead")
        .default_open(true)
        .show(ui, |ui| {
            let st = &app.state;
            let plain_bytes = st.image.as_ref().map_or(0, |i| i.plaintext_bytes);
            let plan = app.params.as_ref().ok().map(|i| &i.plan);
            let o = st.pipeline.outcome.as_ref();
            egui::Grid::new("overhead")
                .num_columns(4)
                .striped(true)
                .show(ui, |ui| {
                    for h in ["", "Plaintext", "Encrypted", "Ratio"] {
                        ui.label(RichText::new(h).strong());
                    }
                    ui.end_row();
                    let req = o
                        .map(|o| o.request_bytes)
                        .or(plan.map(|p| p.request_bytes))
                        .unwrap_or(0);
                    ui.label("Upload: image");
                    ui.label(fmt_bytes(plain_bytes));
                    ui.label(fmt_bytes(req));
                    ui.label(fmt_ratio(req as f64, plain_bytes as f64));
                    ui.end_row();
                    let keys = o
                        .map(|o| o.setup_bytes)
                        .or(plan.map(|p| p.setup_bytes))
                        .unwrap_or(0);
                    ui.label("Upload: keys (per session)");
                    ui.label("0 B");
                    ui.label(fmt_bytes(keys));
                    ui.label("–");
                    ui.end_row();
                    let answer_plain = (packing::CLASSES * 8) as u64;
                    ui.label("Download: answer");
                    ui.label(format!(
                        "{} ({} logits)",
                        fmt_bytes(answer_plain),
                        packing::CLASSES
                    ));
                    match o {
                        Some(o) => {
                            ui.label(fmt_bytes(o.response_bytes));
                            ui.label(fmt_ratio(o.response_bytes as f64, answer_plain as f64));
                        }
                        None => {
                            ui.label("after a run");
                            ui.label("–");
                        }
                    }
                    ui.end_row();
                    ui.label("Time: model");
                    match o {
                        Some(o) => {
                            ui.label(fmt_seconds(o.reference_seconds));
                            ui.label(fmt_seconds(o.total_seconds()));
                            ui.label(fmt_ratio(o.total_seconds(), o.reference_seconds.max(1e-6)));
                        }
                        None => {
                            ui.label("after a run");
                            ui.label("–");
                            ui.label("–");
                        }
                    }
                    ui.end_row();
                });
            ui.weak(
                "Plaintext time: the same circuit evaluated on plaintext slots in this process.",
            );
        });
}
