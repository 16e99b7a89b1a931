//! Results: classification probabilities (Ref-CNN / Approx-CNN / HE-CNN side by side, bar chart
//! and numbers) and the denoising column.

use super::{AMBER, CLIENT, WIRE};
use crate::app::PrivactApp;
use crate::app::intent::{DENOISE_DISABLED, Intent};
use crate::app::job;
use crate::app::weights::{self, CLASS_NAMES};
use egui::RichText;
use egui_plot::{Bar, BarChart, Legend, Plot};

const NOT_AVAILABLE: &str = "not available";

pub fn show(app: &PrivactApp, ui: &mut egui::Ui, _intents: &mut Vec<Intent>) {
    ui.columns(2, |cols| {
        classification(app, &mut cols[0]);
        denoising(app, &mut cols[1]);
    });
}

fn pct(p: f64) -> String {
    format!("{:.1} %", p * 100.0)
}

fn classification(app: &PrivactApp, ui: &mut egui::Ui) {
    ui.heading("Classification: kidney (normal / cyst / tumour)");
    let demo = weights::demo_weights();
    if demo {
        ui.colored_label(
            AMBER,
            "Demo weights (untrained): these numbers show the encrypted pipeline works, they are not a diagnosis.",
        );
    }
    let Some(o) = &app.state.pipeline.outcome else {
        ui.weak("Run encrypted classification to see the decrypted probabilities here.");
        return;
    };
    let plain = o.reference_logits.map(|l| job::probabilities(&l));
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
                    "Same circuit, plaintext",
                ] {
                    ui.label(RichText::new(h).strong());
                }
                ui.end_row();
                for (k, name) in CLASS_NAMES.iter().enumerate() {
                    ui.label(*name);
                    ui.weak(NOT_AVAILABLE)
                        .on_hover_text("The plaintext Ref-CNN ships with the trained model");
                    ui.weak(NOT_AVAILABLE)
                        .on_hover_text("The plaintext Approx-CNN ships with the trained model");
                    ui.label(format!("HE {name}: {}", pct(o.probabilities[k])));
                    ui.label(plain.map_or("—".into(), |p| pct(p[k])));
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
        Plot::new("prob_plot")
            .height(150.0)
            .width(ui.available_width().max(160.0))
            .allow_drag(false)
            .allow_zoom(false)
            .allow_scroll(false)
            .allow_boxed_zoom(false)
            .include_y(0.0)
            .include_y(100.0)
            .y_axis_label("%")
            .legend(Legend::default())
            .x_axis_formatter(|mark, _range| {
                let i = mark.value.round();
                if (mark.value - i).abs() < 1e-6 && (0.0..3.0).contains(&i) {
                    CLASS_NAMES[i as usize].to_string()
                } else {
                    String::new()
                }
            })
            .show(ui, |plot| {
                plot.bar_chart(he);
                if let Some(pl) = pl {
                    plot.bar_chart(pl);
                }
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
            "HE vs plaintext: max |Δ logit| = {e:.2e} ({:.1} bits of precision); logits {:.4}, {:.4}, {:.4}",
            o.precision_bits().unwrap_or(0.0),
            o.logits[0],
            o.logits[1],
            o.logits[2]
        ));
    }
}

fn denoising(app: &PrivactApp, ui: &mut egui::Ui) {
    ui.heading("Denoising (low-dose CT)");
    ui.add_enabled(false, egui::Button::new("Encrypted denoising"))
        .on_disabled_hover_text(DENOISE_DISABLED);
    ui.colored_label(AMBER, "Encrypted denoising not implemented yet.");
    let st = &app.state;
    match st
        .ldct
        .outcome
        .as_ref()
        .filter(|_| st.ldct.for_generation == st.generation)
    {
        Some(o) => {
            ui.label(format!(
                "Simulated {:.0} % dose: PSNR {} · SSIM {} against the clean reconstruction (Abdomen window).",
                o.dose * 100.0,
                o.psnr_db.map_or("—".into(), |p| format!("{p:.1} dB")),
                o.ssim.map_or("—".into(), |s| format!("{s:.3}")),
            ));
            ui.weak("Switch between original, low dose and clean reference in the left panel.");
        }
        None => {
            ui.weak("Simulate a low-dose scan in the left panel: the input a denoiser would get.");
        }
    }
}
