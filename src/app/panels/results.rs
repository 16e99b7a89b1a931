//! Results: classification probabilities (Ref-CNN / Approx-CNN / HE-CNN side by side, bar chart
//! and numbers) and the denoising section.

use super::{AMBER, CLIENT, WIRE};
use crate::app::PrivactApp;
use crate::app::intent::{DENOISE_DISABLED, Intent};
use crate::app::job;
use crate::app::weights::{self, CLASS_NAMES};
use egui::RichText;
use egui_plot::{Bar, BarChart, Plot};

const NOT_AVAILABLE: &str = "not available";

pub fn show(app: &PrivactApp, ui: &mut egui::Ui, _intents: &mut Vec<Intent>) {
    classification(app, ui);
    ui.separator();
    denoising(app, ui);
}

/// A label whose accessible name carries its context (e.g. "HE tumour: 34.0 %") while the
/// screen shows only the value under a column header.
fn value_label(ui: &mut egui::Ui, visible: String, accessible: String) {
    let r = ui.label(visible);
    r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &accessible));
}

fn pct(p: f64) -> String {
    format!("{:.1} %", p * 100.0)
}

fn classification(app: &PrivactApp, ui: &mut egui::Ui) {
    ui.heading("Classification (kidney: normal / cyst / tumour)");
    let demo = weights::demo_weights();
    if demo {
        ui.colored_label(
            AMBER,
            "Demo weights (untrained): these numbers show that the encrypted pipeline works; they are not a diagnosis.",
        );
    }
    let Some(o) = &app.state.pipeline.outcome else {
        ui.weak("Run encrypted classification to see the decrypted probabilities here.");
        return;
    };
    let plain = o.reference_logits.map(|l| job::probabilities(&l));
    let ref_cnn = o.ref_cnn_logits.map(|l| job::probabilities(&l));
    let approx_cnn = o.approx_cnn_logits.map(|l| job::probabilities(&l));
    ui.horizontal_top(|ui| {
        egui::Grid::new("probs")
            .num_columns(5)
            .striped(true)
            .show(ui, |ui| {
                for h in [
                    "Class",
                    "Ref-CNN",
                    "Approx-CNN",
                    "HE-CNN (decrypted)",
                    "Plaintext (same circuit)",
                ] {
                    ui.label(RichText::new(h).strong());
                }
                ui.end_row();
                for (k, name) in CLASS_NAMES.iter().enumerate() {
                    ui.label(*name);
                    for (net, probs) in [("Ref-CNN", ref_cnn), ("Approx-CNN", approx_cnn)] {
                        match probs {
                            Some(p) => {
                                let v = pct(p[k]);
                                value_label(ui, v.clone(), format!("{net} {name}: {v}"));
                            }
                            None => {
                                ui.weak(NOT_AVAILABLE).on_hover_text(
                                    "Only the trained model has a plaintext network to compare with",
                                );
                            }
                        }
                    }
                    let he = pct(o.probabilities[k]);
                    value_label(ui, he.clone(), format!("HE {name}: {he}"));
                    let pl = plain.map_or("—".into(), |p| pct(p[k]));
                    value_label(ui, pl.clone(), format!("plaintext {name}: {pl}"));
                    ui.end_row();
                }
            });
        let bars = |probs: [f64; 3], offset: f64, name: &str| {
            BarChart::new(
                name,
                probs
                    .iter()
                    .enumerate()
                    .map(|(k, &p)| {
                        Bar::new(k as f64 + offset, p * 100.0)
                            .width(0.35)
                            .name(CLASS_NAMES[k])
                    })
                    .collect(),
            )
        };
        let he = bars(o.probabilities, -0.18, "HE-CNN (decrypted)").color(CLIENT);
        let pl = plain.map(|p| bars(p, 0.18, "plaintext, same circuit").color(WIRE));
        ui.vertical(|ui| {
            Plot::new("prob_plot")
                .height(120.0)
                .width(ui.available_width().clamp(150.0, 320.0))
                .allow_drag(false)
                .allow_zoom(false)
                .allow_scroll(false)
                .allow_boxed_zoom(false)
                .allow_double_click_reset(false)
                .show_x(false)
                .include_y(0.0)
                .include_y(100.0)
                .include_x(-0.6)
                .include_x(2.6)
                .x_grid_spacer(egui_plot::uniform_grid_spacer(|_| [1.0, 5.0, 10.0]))
                .x_axis_formatter(|mark, _range| {
                    let i = mark.value.round();
                    if (mark.value - i).abs() < 1e-6 && (0.0..3.0).contains(&i) {
                        CLASS_NAMES[i as usize].to_string()
                    } else {
                        String::new()
                    }
                })
                .y_axis_formatter(|mark, _range| format!("{:.0} %", mark.value))
                .show(ui, |plot| {
                    plot.bar_chart(he);
                    if let Some(pl) = pl {
                        plot.bar_chart(pl);
                    }
                });
            ui.colored_label(CLIENT, "blue: HE-CNN (decrypted)");
            ui.colored_label(WIRE, "grey: plaintext, same circuit");
        });
    });
    let best = (0..3)
        .max_by(|&a, &b| o.probabilities[a].total_cmp(&o.probabilities[b]))
        .unwrap_or(0);
    if demo {
        ui.label("Predicted class: none (demo weights: no diagnosis is made)");
    } else {
        ui.label(RichText::new(format!("Predicted class: {}", CLASS_NAMES[best])).strong());
    }
    if let Some(e) = o.max_error() {
        ui.label(format!(
            "HE vs plaintext: max |Δ logit| = {e:.2e} ({:.1} bits of precision). Decrypted logits {:.4}, {:.4}, {:.4}.",
            o.precision_bits().unwrap_or(0.0),
            o.logits[0],
            o.logits[1],
            o.logits[2]
        ));
    }
}

fn denoising(app: &PrivactApp, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.heading("Denoising (low-dose CT)");
        ui.add_enabled(false, egui::Button::new("Encrypted denoising"))
            .on_disabled_hover_text(DENOISE_DISABLED);
        ui.colored_label(AMBER, "not implemented yet");
    });
    let st = &app.state;
    match st
        .ldct
        .outcome
        .as_ref()
        .filter(|_| st.ldct.for_generation == st.generation)
    {
        Some(o) => {
            ui.label(format!(
                "Simulated {:.0} % dose: PSNR {} · SSIM {} against the clean reconstruction (Abdomen window), {}.",
                o.dose * 100.0,
                o.psnr_db.map_or("—".into(), |p| format!("{p:.1} dB")),
                o.ssim.map_or("—".into(), |s| format!("{s:.3}")),
                crate::app::view::fmt_seconds(o.seconds),
            ));
            ui.weak("Switch between original, low dose and clean reference in the left panel.");
        }
        None => {
            ui.weak("Simulate a low-dose scan in the left panel: the input an encrypted denoiser would get.");
        }
    }
}
