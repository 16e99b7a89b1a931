//! Centre: the payload strip (plaintext vs encrypted bytes) above the slice, which is drawn on
//! black with W/L drag, zoom/pan, double-click reset, HU readout and the "W:400 L:40" overlay.

use super::{AMBER, CLIENT, GREEN};
use crate::app::PrivactApp;
use crate::app::intent::Intent;
use crate::app::state::{Display, Task};
use crate::app::view::{self, fmt_bytes, fmt_ratio, group_thousands};
use egui::{Color32, Pos2, Rect, RichText, Sense, Vec2};

pub fn show(app: &PrivactApp, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
    payload_strip(app, ui);
    image_area(app, ui, intents);
}

fn payload_strip(app: &PrivactApp, ui: &mut egui::Ui) {
    let st = &app.state;
    egui::Frame::new()
        .fill(Color32::from_gray(24))
        .inner_margin(egui::Margin::symmetric(10, 6))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            let Some(img) = &st.image else {
                ui.label("Load a slice to see what encrypting it costs.");
                return;
            };
            let Ok(info) = &app.params else {
                if let Err(e) = &app.params {
                    ui.colored_label(super::RED, format!("CKKS parameters unavailable: {e}"));
                }
                return;
            };
            let plan = &info.plan;
            let plain = img.plaintext_bytes;
            let (rows, cols) = st.slice().map_or((0, 0), |s| (s.rows, s.cols));
            if st.task == Task::Denoise {
                denoise_strip(app, ui, plain, rows, cols);
                return;
            }
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new("Payload").strong());
                ui.label(format!("Plaintext slice {cols}×{rows}: {}", fmt_bytes(plain)));
                ui.label("»");
                ui.colored_label(
                    CLIENT,
                    RichText::new(format!(
                        "Encrypted request: {} ciphertexts × {} = {} bytes ({})",
                        plan.ciphertexts,
                        fmt_bytes(plan.ciphertext_bytes),
                        group_thousands(plan.request_bytes),
                        fmt_bytes(plan.request_bytes)
                    ))
                    .strong(),
                );
                ui.label(format!("{} the plaintext", fmt_ratio(plan.request_bytes as f64, plain as f64)));
            });
            ui.horizontal_wrapped(|ui| {
                ui.weak(format!(
                    "+ evaluation keys once per session: {} ({} bytes) · sizes exact from the parameters, before encrypting",
                    fmt_bytes(plan.setup_bytes),
                    group_thousands(plan.setup_bytes)
                ));
                if let Some(o) = &st.pipeline.outcome {
                    if o.request_bytes == plan.request_bytes {
                        ui.colored_label(
                            GREEN,
                            format!("Measured {} bytes: matches the plan", group_thousands(o.request_bytes)),
                        );
                    } else {
                        ui.colored_label(
                            AMBER,
                            format!(
                                "measured {} bytes (plan said {})",
                                group_thousands(o.request_bytes),
                                group_thousands(plan.request_bytes)
                            ),
                        );
                    }
                }
            });
        });
}

/// The payload strip for encrypted denoising: tiles × ciphertext bytes, the keys and the
/// interactive rounds, all exact from the parameters; confirmed by the measured bytes.
fn denoise_strip(app: &PrivactApp, ui: &mut egui::Ui, plain: u64, rows: usize, cols: usize) {
    let st = &app.state;
    let plan = match app.denoise_plan() {
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            ui.colored_label(super::RED, format!("No denoising plan for this image: {e}"));
            return;
        }
        None => return,
    };
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Payload (denoising)").strong());
        ui.label(format!(
            "Plaintext slice {cols}×{rows}: {}",
            fmt_bytes(plain)
        ));
        ui.label("»");
        ui.colored_label(
            CLIENT,
            RichText::new(format!(
                "Encrypted tiles: {} tiles × {} = {} bytes ({})",
                plan.tiles,
                fmt_bytes(plan.ciphertext_bytes),
                group_thousands(plan.request_bytes),
                fmt_bytes(plan.request_bytes)
            ))
            .strong(),
        );
        ui.label(format!(
            "{} the plaintext",
            fmt_ratio(plan.request_bytes as f64, plain as f64)
        ));
    });
    ui.horizontal_wrapped(|ui| {
        let rounds = if plan.rounds.is_empty() {
            "one shot, no interaction".to_string()
        } else {
            let r = &plan.rounds[0];
            format!(
                "{} ReLU rounds of {} down / {} up",
                plan.rounds.len(),
                fmt_bytes(r.download),
                fmt_bytes(r.upload)
            )
        };
        ui.weak(format!(
            "{} model · {rounds} · slice total {} up, {} down · keys once per session {} · tiles of {}×{} slots, exact before encrypting",
            st.denoise.model.name(),
            fmt_bytes(plan.upload_bytes()),
            fmt_bytes(plan.download_bytes()),
            fmt_bytes(plan.setup_bytes),
            plan.tile_shape.0,
            plan.tile_shape.1,
        ));
        if let Some(o) = st.denoise_outcome().filter(|o| o.kind == st.denoise.model) {
            let r = &o.run;
            let matches = r.upload_bytes == plan.upload_bytes()
                && r.download_bytes == plan.download_bytes()
                && r.eval_key_bytes == plan.setup_bytes;
            if matches {
                ui.colored_label(
                    GREEN,
                    format!(
                        "Measured {} bytes up, {} down: matches the plan",
                        group_thousands(r.upload_bytes),
                        group_thousands(r.download_bytes)
                    ),
                );
            } else {
                ui.colored_label(
                    AMBER,
                    format!(
                        "measured {} bytes up, {} down (plan said {} up, {} down)",
                        group_thousands(r.upload_bytes),
                        group_thousands(r.download_bytes),
                        group_thousands(plan.upload_bytes()),
                        group_thousands(plan.download_bytes())
                    ),
                );
            }
        }
    });
}

fn image_area(app: &PrivactApp, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
    let st = &app.state;
    let rect = ui.available_rect_before_wrap();
    let response = ui.allocate_rect(rect, Sense::click_and_drag());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, Color32::BLACK);

    let (Some(slice), Some((_, tex))) = (st.slice(), &app.textures.slice) else {
        let text = if st.loading {
            "decoding…"
        } else {
            "No image"
        };
        ui.put(
            Rect::from_center_size(rect.center(), Vec2::new(200.0, 30.0)),
            egui::Label::new(RichText::new(text).color(Color32::GRAY)),
        );
        return;
    };
    let aspect = slice.pixel_spacing_mm.map_or(1.0, |s| {
        if s[1] > 0.0 {
            (s[0] / s[1]) as f32
        } else {
            1.0
        }
    });
    let [x, y, w, h] = st.view.image_rect(
        [rect.min.x, rect.min.y, rect.width(), rect.height()],
        slice.rows,
        slice.cols,
        aspect,
    );
    let img_rect = Rect::from_min_size(Pos2::new(x, y), Vec2::new(w, h));
    painter.image(
        tex.id(),
        img_rect,
        Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
        Color32::WHITE,
    );

    if let Some((_, heat)) = &app.textures.heat_map {
        painter.image(
            heat.id(),
            img_rect,
            Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
            Color32::WHITE,
        );
        colour_bar(app, ui, &painter, rect);
    }

    let which = match st.display {
        Display::Original => "original",
        Display::LowDose => "simulated low dose",
        Display::CleanReference => "clean reference reconstruction",
        Display::Denoised => "denoised (decrypted)",
    };
    let alt = format!(
        "CT slice {}×{} ({which}), window {}",
        slice.cols,
        slice.rows,
        view::window_label(st.window)
    );
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, &alt));

    // Interaction.
    if response.double_clicked() {
        intents.push(Intent::ResetView);
    } else if response.dragged_by(egui::PointerButton::Primary) {
        let d = response.drag_delta();
        if d != Vec2::ZERO {
            intents.push(Intent::DragWindow { dx: d.x, dy: d.y });
        }
    } else if response.dragged_by(egui::PointerButton::Secondary)
        || response.dragged_by(egui::PointerButton::Middle)
    {
        let d = response.drag_delta();
        if d != Vec2::ZERO {
            intents.push(Intent::Pan { dx: d.x, dy: d.y });
        }
    }
    if response.hovered() {
        let (zoom, scroll) = ui.input(|i| (i.zoom_delta(), i.smooth_scroll_delta.y));
        let series = st.image.as_ref().map_or(1, |i| i.slices.len());
        if zoom != 1.0 {
            intents.push(Intent::Zoom(zoom));
        } else if scroll != 0.0 {
            if series > 1 {
                intents.push(Intent::StepSlice(if scroll > 0.0 { -1 } else { 1 }));
            } else {
                intents.push(Intent::Zoom((scroll / 400.0).exp()));
            }
        }
    }

    // Overlays (real labels, so screen readers and tests see them).
    let overlay = |ui: &mut egui::Ui, pos: Pos2, text: String, align: egui::Align2| {
        let r = align.anchor_size(pos, Vec2::new(440.0, 20.0));
        let layout = if align.x() == egui::Align::Max {
            egui::Layout::right_to_left(egui::Align::Center)
        } else {
            egui::Layout::left_to_right(egui::Align::Center)
        };
        ui.scope_builder(egui::UiBuilder::new().max_rect(r).layout(layout), |ui| {
            ui.add(
                egui::Label::new(
                    RichText::new(text)
                        .color(Color32::from_rgb(230, 230, 120))
                        .monospace(),
                )
                .selectable(false),
            )
        });
    };
    let m = 8.0;
    overlay(
        ui,
        rect.left_top() + Vec2::new(m, m),
        view::window_label(st.window),
        egui::Align2::LEFT_TOP,
    );
    let preset = st
        .preset
        .map_or("custom window".to_string(), |p| p.label().to_string());
    overlay(
        ui,
        rect.right_top() + Vec2::new(-m, m),
        format!("{preset} · zoom {:.0} %", st.view.zoom * 100.0),
        egui::Align2::RIGHT_TOP,
    );
    let hover = response
        .hover_pos()
        .and_then(|p| view::pixel_at([x, y, w, h], slice.rows, slice.cols, p.x, p.y))
        .and_then(|(r, c)| {
            let v = st.displayed_values()?.get(r * slice.cols + c).copied()?;
            Some(view::readout(r, c, v, slice.units))
        });
    overlay(
        ui,
        rect.left_bottom() + Vec2::new(m, -m),
        hover.unwrap_or_else(|| "hover for HU".into()),
        egui::Align2::LEFT_BOTTOM,
    );
    overlay(
        ui,
        rect.right_bottom() + Vec2::new(-m, -m),
        format!("{which} · double-click resets"),
        egui::Align2::RIGHT_BOTTOM,
    );
}

/// The heat map's colour bar at the right edge of the image area: inferno from the logit
/// (transparent) up to the map's maximum, with both values.
fn colour_bar(app: &PrivactApp, ui: &mut egui::Ui, painter: &egui::Painter, area: Rect) {
    let st = &app.state;
    let Some(map) = st
        .maps_on_screen()
        .and_then(|m| m.for_class(st.heat_map.class))
    else {
        return;
    };
    let Some((_, hi)) = crate::imaging::overlay::finite_range(map) else {
        return;
    };
    let mean = map.iter().sum::<f64>() / map.len().max(1) as f64;
    let bar = Rect::from_min_size(
        Pos2::new(area.right() - 30.0, area.center().y - 80.0),
        Vec2::new(14.0, 160.0),
    );
    painter.rect_filled(bar.expand(3.0), 2.0, Color32::from_black_alpha(170));
    let steps = 32;
    for i in 0..steps {
        let t = 1.0 - (i as f64 + 0.5) / steps as f64;
        let [r, g, b] = crate::imaging::overlay::inferno(t);
        let y0 = bar.top() + bar.height() * i as f32 / steps as f32;
        let cell = Rect::from_min_max(
            Pos2::new(bar.left(), y0),
            Pos2::new(bar.right(), y0 + bar.height() / steps as f32 + 0.5),
        );
        painter.rect_filled(cell, 0.0, Color32::from_rgb(r, g, b));
    }
    let class = crate::app::weights::CLASS_NAMES
        .get(st.heat_map.class)
        .copied()
        .unwrap_or("?");
    let label = |ui: &mut egui::Ui, y: f32, text: String| {
        let r = egui::Align2::RIGHT_CENTER
            .anchor_size(Pos2::new(bar.left() - 6.0, y), Vec2::new(160.0, 18.0));
        ui.scope_builder(
            egui::UiBuilder::new()
                .max_rect(r)
                .layout(egui::Layout::right_to_left(egui::Align::Center)),
            |ui| {
                egui::Frame::new()
                    .fill(Color32::from_black_alpha(170))
                    .inner_margin(egui::Margin::symmetric(4, 1))
                    .show(ui, |ui| {
                        ui.add(
                            egui::Label::new(
                                RichText::new(text).color(Color32::from_rgb(230, 230, 120)),
                            )
                            .selectable(false),
                        )
                    });
            },
        );
    };
    label(ui, bar.top(), format!("{class} {hi:+.1}"));
    label(ui, bar.bottom(), format!("logit {mean:+.1}"));
}
