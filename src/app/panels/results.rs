//! Results: classification probabilities (Ref-CNN / Approx-CNN / HE-CNN side by side, bar chart
//! and numbers) and the denoising section.

use super::{amber, client, green, wire};
use crate::app::PrivactApp;
use crate::app::intent::Intent;
use crate::app::job::{self, StepId};
use crate::app::state::{RoiTool, Task};
use crate::app::view::{self, fmt_bytes, fmt_seconds};
use crate::app::weights::{self, CLASS_NAMES};
use crate::app::worker::DialogPurpose;
use egui::{RichText, Vec2};
use egui_plot::{Bar, BarChart, Plot};

const NOT_AVAILABLE: &str = "not available";

/// Line colours of normal, cyst and tumour in the series plot (text made readable per theme).
pub const CLASS_COLOURS: [egui::Color32; 3] = [
    egui::Color32::from_rgb(120, 200, 120),
    egui::Color32::from_rgb(100, 160, 240),
    egui::Color32::from_rgb(240, 120, 90),
];

pub fn show(app: &PrivactApp, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
    roi(app, ui, intents);
    ui.separator();
    // The task on show comes first.
    match app.state.task {
        Task::Classify => {
            classification(app, ui, intents);
            ui.separator();
            denoising(app, ui, intents);
        }
        Task::Denoise => {
            denoising(app, ui, intents);
            ui.separator();
            classification(app, ui, intents);
        }
    }
}

/// The ROI tool and the statistics of the ROI on every view of the slice.
fn roi(app: &PrivactApp, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
    let st = &app.state;
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("ROI").strong());
        for (tool, label, tip) in [
            (
                RoiTool::None,
                "No ROI tool",
                "Left-drag on the image changes the window",
            ),
            (
                RoiTool::Circle,
                "Circle ROI",
                "Left-drag from the centre outwards",
            ),
            (
                RoiTool::Rect,
                "Rectangle ROI",
                "Left-drag from corner to corner",
            ),
        ] {
            if ui
                .selectable_label(st.roi_tool == tool, label)
                .on_hover_text(tip)
                .clicked()
            {
                intents.push(Intent::SetRoiTool(tool));
            }
        }
        if st.roi.is_some() && ui.button("Clear ROI").clicked() {
            intents.push(Intent::SetRoi(None));
        }
        if st.roi.is_none() {
            ui.weak(
                "Choose a shape and drag on the image: mean ± SD, min/max and area on every view.",
            );
        }
    });
    let stats = st.roi_stats();
    let Some(slice) = st.slice() else { return };
    if st.roi.is_some() && stats.is_empty() {
        ui.weak("The ROI holds no pixel centre of the image.");
        return;
    }
    if stats.is_empty() {
        return;
    }
    egui::Grid::new("roi_stats")
        .num_columns(6)
        .striped(true)
        .show(ui, |ui| {
            for h in ["View", "Mean ± SD", "Min / max", "Pixels", "Area", "Units"] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for (d, r) in &stats {
                let units = view::units_name(st.units_for(*d));
                let (area, area_unit) = crate::imaging::roi::area(r.count, slice.pixel_spacing_mm);
                ui.label(d.short());
                let ms = format!("{:.1} ± {:.1}", r.mean, r.sd);
                value_label(
                    ui,
                    ms.clone(),
                    format!("ROI {} mean ± SD: {ms} {units}", d.short()),
                );
                let mm = format!("{:.0} / {:.0}", r.min, r.max);
                value_label(
                    ui,
                    mm.clone(),
                    format!("ROI {} min / max: {mm} {units}", d.short()),
                );
                let n = group_thousands_usize(r.count);
                value_label(ui, n.clone(), format!("ROI {} pixels: {n}", d.short()));
                let a = format!("{area:.1} {area_unit}");
                value_label(ui, a.clone(), format!("ROI {} area: {a}", d.short()));
                ui.label(units);
                ui.end_row();
            }
        });
    if slice.pixel_spacing_mm.is_none() {
        ui.weak("Pixel spacing unknown: the area is in pixels (px²).");
    }
}

fn group_thousands_usize(n: usize) -> String {
    view::group_thousands(n as u64)
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

fn classification(app: &PrivactApp, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
    ui.heading("Classification (kidney: normal / cyst / tumour)");
    series_plot(app, ui, intents);
    let demo = weights::demo_weights();
    if demo {
        ui.colored_label(
            amber(ui),
            "Demo weights (untrained): these numbers show that the encrypted pipeline works; they are not a diagnosis.",
        );
    }
    let Some((o, warning)) = app.state.classify_outcome() else {
        ui.weak(
            "Run encrypted classification to see the decrypted probabilities of this slice here.",
        );
        return;
    };
    // The decision first: it is what the reader came for, and a warning must not scroll away.
    let best = (0..3)
        .max_by(|&a, &b| o.probabilities[a].total_cmp(&o.probabilities[b]))
        .unwrap_or(0);
    if demo {
        ui.label("Predicted class: none (demo weights: no diagnosis is made)");
    } else if let Some(w) = warning {
        ui.colored_label(
            amber(ui),
            format!("Predicted class: none. Input check: {w}."),
        );
    } else if app.state.input_is_phantom {
        ui.label(format!(
            "Model output: {} (not a diagnosis)",
            CLASS_NAMES[best]
        ));
        ui.colored_label(
            amber(ui),
            "The built-in phantom is synthetic; the classifier was trained on real CT only, so this shows the encrypted pipeline at work, not whether the phantom's painted lesion is recognised.",
        );
    } else {
        ui.label(RichText::new(format!("Predicted class: {}", CLASS_NAMES[best])).strong());
    }
    let plain = o.reference_logits.map(|l| job::probabilities(&l));
    let ref_cnn = o.ref_cnn_logits.map(|l| job::probabilities(&l));
    let approx_cnn = o.approx_cnn_logits.map(|l| job::probabilities(&l));
    let beside = ui.horizontal_top(|ui| {
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
                    let header = ui.label(RichText::new(h).strong());
                    match h {
                        "Ref-CNN" => {
                            header.on_hover_text(
                                "The reference network (Lee et al. 2025): ordinary ReLU and max pooling, \
                                 in plaintext. It cannot run under CKKS, which only adds and multiplies; \
                                 it is shown for comparison (since v1.2.0 the encrypted network learns \
                                 from the labels, not from it).",
                            );
                        }
                        "Approx-CNN" => {
                            let members = weights::shipped().map_or(1, |c| c.approx.len());
                            let ensemble = if members > 1 {
                                format!("the mean logits of {members} networks trained with different seeds")
                            } else {
                                "a single network".to_string()
                            };
                            header.on_hover_text(format!(
                                "The HE-friendly network in plaintext: squares instead of ReLU, average \
                                 instead of max pooling; {ensemble}. It is the network the server \
                                 evaluates."
                            ));
                        }
                        "HE-CNN (decrypted)" => {
                            header.on_hover_text(
                                "The Approx-CNN evaluated by the server on ciphertexts, decrypted here.",
                            );
                        }
                        _ => {
                            header.on_hover_text(
                                "The server's exact sequence of operations (same packing, rotations and \
                                 levels) on unencrypted numbers. HE and this column agree to the \
                                 precision shown because CKKS computes the same circuit with a small \
                                 noise; the Approx-CNN column agrees too, being the same network.",
                            );
                        }
                    }
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
        // Beside the table when it fits, otherwise below it (a narrow window must not clip
        // the chart's legend).
        let fits = ui.available_width() >= MIN_CHART_WIDTH;
        if fits {
            ui.vertical(|ui| probability_chart(ui, o.probabilities, plain));
        }
        fits
    });
    if !beside.inner {
        probability_chart(ui, o.probabilities, plain);
    }
    ui.weak(
        "Why three columns agree: the server runs the Approx-CNN (squares instead of ReLU), so \
         the HE-CNN equals it and the same circuit replayed in plaintext, up to CKKS noise. The \
         Ref-CNN is the ordinary network it approximates; where they differ, encryption is not \
         the cause. Hover a header for more.",
    );
    if let Some(e) = o.max_error() {
        ui.label(format!(
            "HE vs plaintext: max |Δ logit| = {e:.2e} ({:.1} bits of precision). Decrypted logits {:.4}, {:.4}, {:.4}.",
            o.precision_bits().unwrap_or(0.0),
            o.logits[0],
            o.logits[1],
            o.logits[2]
        ));
    }
    heat_map_controls(app, o, ui);
}

/// Least width (points) for the probability chart with its axis labels and legend.
const MIN_CHART_WIDTH: f32 = 180.0;

/// Bar chart of the decrypted probabilities beside those of the same circuit in plaintext.
fn probability_chart(ui: &mut egui::Ui, probabilities: [f64; 3], plain: Option<[f64; 3]>) {
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
    let he = bars(probabilities, -0.18, "HE-CNN (decrypted)").color(client(ui));
    let pl = plain.map(|p| bars(p, 0.18, "plaintext, same circuit").color(wire(ui)));
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
    ui.colored_label(client(ui), "blue: HE-CNN (decrypted)");
    ui.colored_label(wire(ui), "grey: plaintext, same circuit");
}

/// The numbers behind the encrypted heat map (issue 19); its switches are in the right panel.
fn heat_map_controls(app: &PrivactApp, o: &job::ClassifyOutcome, ui: &mut egui::Ui) {
    let hm = &app.state.heat_map;
    let Some(maps) = &o.maps else {
        ui.weak(
            "No heat map for this run: tick \"Heat map (encrypted)\" (right panel) and run again.",
        );
        return;
    };
    if let Some(map) = maps.for_class(hm.class)
        && let Some((_, hi)) = crate::imaging::overlay::finite_range(map)
    {
        let mean = map.iter().sum::<f64>() / map.len().max(1) as f64;
        ui.label(format!(
            "{} map: logit terms from {mean:.2} (= the logit, transparent) to {hi:.2} (brightest); 16×16 cells of 16×16 pixels of the 256×256 model input.",
            CLASS_NAMES[hm.class]
        ));
    }
    if let Some(e) = o.map_error() {
        ui.label(format!(
            "Encrypted map vs plaintext circuit: max |Δ| = {e:.1e} over 512 cells (tolerance 1e-3). One extra ciphertext in the answer: {} down in all.",
            fmt_bytes(o.response_bytes)
        ));
    }
}

/// Probabilities along the series (egui_plot): one line per class against slice number,
/// the slice on screen as a vertical line; a click jumps to the nearest classified slice.
fn series_plot(app: &PrivactApp, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
    let st = &app.state;
    let Some(run) = st.series.as_ref().filter(|r| r.generation == st.generation) else {
        return;
    };
    let status = if let Some(secs) = run.ended {
        format!(
            "{} {} of {} slices in {} ({} per slice; keys {}), {} moved",
            if run.cancelled {
                "Cancelled after"
            } else {
                "Classified"
            },
            run.rows.len(),
            run.indices.len(),
            fmt_seconds(secs),
            fmt_seconds(
                run.rows.iter().map(|r| r.seconds).sum::<f64>() / run.rows.len().max(1) as f64
            ),
            fmt_seconds(run.setup_seconds),
            fmt_bytes(run.bytes()),
        )
    } else {
        format!("{} of {} slices done", run.rows.len(), run.indices.len())
    };
    let classes = [0, 1, 2].map(|k| (k, super::readable_on(CLASS_COLOURS[k], ui.visuals())));
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(format!("Series: {status}")).strong());
        for (k, colour) in classes {
            ui.colored_label(colour, RichText::new(CLASS_NAMES[k]).strong());
        }
    });
    let n = st.image.as_ref().map_or(1, |i| i.slices.len());
    let response = Plot::new("series_plot")
        .height(110.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .allow_double_click_reset(false)
        .include_y(0.0)
        .include_y(100.0)
        .include_x(1.0)
        .include_x(n as f64)
        .x_axis_label("slice")
        .y_axis_formatter(|mark, _range| format!("{:.0} %", mark.value))
        .show(ui, |plot| {
            for (k, colour) in classes {
                let points: Vec<[f64; 2]> = run
                    .rows
                    .iter()
                    .filter_map(|r| Some([(r.index + 1) as f64, r.probabilities?[k] * 100.0]))
                    .collect();
                plot.line(egui_plot::Line::new(CLASS_NAMES[k], points.clone()).color(colour));
                plot.points(
                    egui_plot::Points::new(CLASS_NAMES[k], points)
                        .color(colour)
                        .radius(2.5),
                );
            }
            plot.vline(
                egui_plot::VLine::new("slice on screen", (st.index + 1) as f64)
                    .color(egui::Color32::from_gray(200)),
            );
        });
    response.response.widget_info(|| {
        egui::WidgetInfo::labeled(
            egui::Role::Image,
            true,
            format!(
                "Series plot: probabilities of {} slices; click to jump",
                run.rows.len()
            ),
        )
    });
    if response.response.clicked()
        && let Some(pos) = response.response.interact_pointer_pos()
    {
        let x = response.transform.value_from_position(pos).x;
        if let Some(r) = run.rows.iter().min_by(|a, b| {
            ((a.index + 1) as f64 - x)
                .abs()
                .total_cmp(&((b.index + 1) as f64 - x).abs())
        }) {
            intents.push(Intent::SelectSlice(r.index));
        }
    }
    let top = run.most_suspicious(3);
    if !top.is_empty() {
        ui.horizontal_wrapped(|ui| {
            ui.label("Most suspicious (tumour):");
            for r in top {
                let p = r.probabilities.map_or(0.0, |p| p[2]);
                if ui
                    .button(format!("slice {} · {}", r.index + 1, pct(p)))
                    .on_hover_text("Show this slice")
                    .clicked()
                {
                    intents.push(Intent::SelectSlice(r.index));
                }
            }
        });
    }
    let warned = run.rows.iter().filter(|r| r.warning.is_some()).count();
    if warned > 0 {
        ui.colored_label(
            amber(ui),
            format!("{warned} slice(s) failed the input check: no class is named for them."),
        );
    }
}

fn denoising(app: &PrivactApp, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
    let st = &app.state;
    ui.heading("Denoising (low-dose CT)");
    let Some(o) = st.denoise_outcome() else {
        match st.ldct_outcome() {
            Some(l) => {
                ui.label(format!(
                    "Simulated {:.0} % dose: PSNR {} · SSIM {} against the clean reconstruction (Abdomen window), {}.",
                    l.dose * 100.0,
                    l.psnr_db.map_or("—".into(), |p| format!("{p:.1} dB")),
                    l.ssim.map_or("—".into(), |s| format!("{s:.3}")),
                    fmt_seconds(l.seconds),
                ));
                ui.weak("Run encrypted denoising (right panel) to denoise this low-dose scan under encryption.");
            }
            None => {
                ui.weak(
                    "Run encrypted denoising (right panel): it denoises the simulated low dose when \
                     there is one (left panel), else the loaded slice itself.",
                );
            }
        }
        return;
    };
    let input = match o.dose {
        Some(d) => format!("simulated {:.0} % dose", d * 100.0),
        None if o.approximate_hu => {
            "the loaded slice (8-bit: approximate HU through the inverse window)".into()
        }
        None => "the loaded slice".into(),
    };
    ui.label(format!(
        "{} model, evaluated on ciphertexts ({}) · input: {input}",
        o.kind.name(),
        if o.run.rounds.is_empty() {
            "one shot".to_string()
        } else {
            format!("{} interactive rounds", o.run.rounds.len())
        }
    ));
    if let Some((_, [a, b, c])) = &app.textures.denoise {
        let side = ((ui.available_width() - 32.0) / 3.0).clamp(80.0, 160.0);
        let aspect = o.rows as f32 / o.cols.max(1) as f32;
        let size = Vec2::new(side, side * aspect);
        let half = o.difference_half_width;
        ui.horizontal_top(|ui| {
            for (tex, caption, alt) in [
                (
                    a,
                    format!("Low-dose input · {}", view::window_label(st.window)),
                    "Low-dose input".to_string(),
                ),
                (
                    b,
                    format!("Denoised (decrypted) · {}", view::window_label(st.window)),
                    "Denoised output (decrypted)".to_string(),
                ),
                (
                    c,
                    format!("Difference out − in · ±{half:.0} HU"),
                    format!("Difference image, output minus input, window ±{half:.0} HU"),
                ),
            ] {
                ui.vertical(|ui| {
                    ui.add(egui::Image::new((tex.id(), size)).alt_text(alt));
                    ui.label(caption);
                });
            }
        });
    }
    match &o.quality {
        Some(q) => {
            let text = format!(
                "PSNR {:.2} dB in, {:.2} dB out ({:+.2}) · SSIM {:.3} in, {:.3} out ({:+.3}) against the clean reconstruction",
                q.psnr_in,
                q.psnr_out,
                q.psnr_out - q.psnr_in,
                q.ssim_in,
                q.ssim_out,
                q.ssim_out - q.ssim_in
            );
            let color = if q.psnr_out > q.psnr_in {
                green(ui)
            } else {
                amber(ui)
            };
            ui.colored_label(color, RichText::new(text).strong());
        }
        None => {
            ui.weak(
                "No clean reference (the loaded slice was the input): simulate a low dose first for PSNR/SSIM.",
            );
        }
    }
    ui.label(format!(
        "Encrypted vs plaintext model: max |Δ| = {:.1e} on [0, 1] ({:.1} bits) · plaintext model {} · encrypted {}",
        o.max_abs_diff,
        o.precision_bits(),
        fmt_seconds(o.plain_seconds),
        fmt_seconds(o.total_seconds()),
    ));
    let r = &o.run;
    if !r.rounds.is_empty() {
        egui::Grid::new("denoise_rounds")
            .num_columns(4)
            .striped(true)
            .show(ui, |ui| {
                for h in [
                    "Round",
                    "Down: masked pre-activations",
                    "Client ReLU",
                    "Up: fresh encryptions",
                ] {
                    ui.label(RichText::new(h).strong());
                }
                ui.end_row();
                for b in &r.rounds {
                    let relu = o
                        .ledger
                        .steps
                        .iter()
                        .find(|s| s.name == StepId::RoundRelu(b.round).name())
                        .map_or("–".into(), |s| fmt_seconds(s.seconds));
                    ui.label(format!("{}", b.round));
                    value_label(
                        ui,
                        fmt_bytes(b.download),
                        format!("Round {} download: {}", b.round, fmt_bytes(b.download)),
                    );
                    ui.label(relu);
                    value_label(
                        ui,
                        fmt_bytes(b.upload),
                        format!("Round {} upload: {}", b.round, fmt_bytes(b.upload)),
                    );
                    ui.end_row();
                }
            });
    }
    ui.label(format!(
        "Upload {} · download {} · keys {} once per session (server memory {}) · {} rounds · {} tiles of {}×{} slots",
        fmt_bytes(r.upload_bytes),
        fmt_bytes(r.download_bytes),
        fmt_bytes(r.eval_key_bytes),
        fmt_bytes(r.server_key_memory),
        r.rounds.len(),
        r.tiles,
        r.tile_shape.0,
        r.tile_shape.1,
    ));
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("Export denoised PNG…")
            .on_hover_text("Abdomen window (W400 L40), written atomically")
            .clicked()
        {
            intents.push(Intent::ExportDenoised(DialogPurpose::ExportDenoisedPng));
        }
        if ui
            .button("Export denoised DICOM…")
            .on_hover_text(
                "A derived CT image in a new series (tags copied from the source), written atomically",
            )
            .clicked()
        {
            intents.push(Intent::ExportDenoised(DialogPurpose::ExportDenoisedDicom));
        }
        ui.weak("The model denoises the abdomen window (W400/L40); outside it the input's HU are kept, so the output and its export keep the full HU range.");
    });
}
