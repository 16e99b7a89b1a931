//! Centre: the payload strip (plaintext vs encrypted bytes) above the slice, which is drawn on
//! black with W/L drag, zoom/pan, double-click reset, HU readout and the "W:400 L:40" overlay.

use super::{amber, client, green, red};
use crate::app::PrivactApp;
use crate::app::intent::Intent;
use crate::app::state::{Display, RoiTool, Task};
use crate::app::view::{self, fmt_bytes, fmt_ratio, group_thousands};
use crate::imaging::roi::Shape;
use egui::{Color32, Pos2, Rect, RichText, Sense, Vec2};

pub fn show(app: &PrivactApp, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
    payload_strip(app, ui);
    image_area(app, ui, intents);
}

fn payload_strip(app: &PrivactApp, ui: &mut egui::Ui) {
    let st = &app.state;
    egui::Frame::new()
        .fill(ui.visuals().extreme_bg_color)
        .inner_margin(egui::Margin::symmetric(10, 6))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            let Some(img) = &st.image else {
                ui.label("Load a slice to see what encrypting it costs.");
                return;
            };
            let Ok(info) = &app.params else {
                if let Err(e) = &app.params {
                    ui.colored_label(red(ui), format!("CKKS parameters unavailable: {e}"));
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
                    client(ui),
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
                            green(ui),
                            format!("Measured {} bytes: matches the plan", group_thousands(o.request_bytes)),
                        );
                    } else {
                        ui.colored_label(
                            amber(ui),
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

/// The payload strip for encrypted denoising: tiles, the ciphertexts that carry them, the keys and the
/// interactive rounds, all exact from the parameters; confirmed by the measured bytes.
fn denoise_strip(app: &PrivactApp, ui: &mut egui::Ui, plain: u64, rows: usize, cols: usize) {
    let st = &app.state;
    let plan = match app.denoise_plan() {
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            ui.colored_label(red(ui), format!("No denoising plan for this image: {e}"));
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
            client(ui),
            RichText::new(format!(
                "Encrypted tiles: {} tiles in {} ciphertexts × {} = {} bytes ({})",
                plan.tiles,
                plan.ciphertexts,
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
                    green(ui),
                    format!(
                        "Measured {} bytes up, {} down: matches the plan",
                        group_thousands(r.upload_bytes),
                        group_thousands(r.download_bytes)
                    ),
                );
            } else {
                ui.colored_label(
                    amber(ui),
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

/// Memory key of the panes drawn in the last frame (`Vec<([f32; 4], [f32; 4])>`).
pub fn panes_id() -> egui::Id {
    egui::Id::unique("privact_image_panes")
}

/// One image pane: where it is on screen and what it shows.
struct Pane<'a> {
    viewport: Rect,
    display: Display,
    tex: &'a egui::TextureHandle,
    /// The image rectangle inside the viewport (zoom and pan applied).
    image: [f32; 4],
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
    let place = |viewport: Rect| {
        st.view.image_rect(
            [
                viewport.min.x,
                viewport.min.y,
                viewport.width(),
                viewport.height(),
            ],
            slice.rows,
            slice.cols,
            aspect,
        )
    };
    // Side by side: two panes with the same window, zoom and pan (one transform for both).
    let mut panes = vec![];
    match (&app.textures.compare, st.compare.side_by_side) {
        (Some((_, second)), true) => {
            let half = (rect.width() - 4.0) / 2.0;
            let left = Rect::from_min_size(rect.min, Vec2::new(half, rect.height()));
            let right = Rect::from_min_size(
                Pos2::new(rect.max.x - half, rect.min.y),
                Vec2::new(half, rect.height()),
            );
            panes.push(Pane {
                viewport: left,
                display: st.shown_display(st.display),
                tex,
                image: place(left),
            });
            panes.push(Pane {
                viewport: right,
                display: st.shown_display(st.compare.b),
                tex: second,
                image: place(right),
            });
        }
        _ => panes.push(Pane {
            viewport: rect,
            display: st.shown_display(st.display),
            tex,
            image: place(rect),
        }),
    }
    let to_rect = |r: [f32; 4]| Rect::from_min_size(Pos2::new(r[0], r[1]), Vec2::new(r[2], r[3]));
    let uv = Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
    for (i, pane) in panes.iter().enumerate() {
        let clip = ui.painter_at(pane.viewport);
        let img_rect = to_rect(pane.image);
        clip.image(pane.tex.id(), img_rect, uv, Color32::WHITE);
        // The map explains the classification of the original slice: drawn once, on the
        // first pane, never on the comparison pane beside it.
        if let Some((_, heat)) = app.textures.heat_map.as_ref().filter(|_| i == 0) {
            clip.image(heat.id(), img_rect, uv, Color32::WHITE);
        }
        if let Some(shape) = &st.roi {
            roi_outline(&clip, pane.image, slice.rows, slice.cols, shape);
        }
        if i > 0 {
            painter.vline(
                pane.viewport.min.x - 2.0,
                rect.y_range(),
                egui::Stroke::new(2.0, Color32::from_gray(90)),
            );
        }
    }
    if app.textures.heat_map.is_some() {
        colour_bar(app, ui, &painter, rect);
    }
    // Where each pane's image was drawn, (viewport, image) as [x, y, w, h], for tests that
    // check the panes share one zoom and pan.
    let drawn: Vec<([f32; 4], [f32; 4])> = panes
        .iter()
        .map(|p| {
            let v = p.viewport;
            ([v.min.x, v.min.y, v.width(), v.height()], p.image)
        })
        .collect();
    ui.data_mut(|d| d.insert_temp(panes_id(), drawn));

    let alt = format!(
        "CT slice {}×{} ({}), window {}",
        slice.cols,
        slice.rows,
        st.shown_display(st.display).label(),
        view::window_label(st.window)
    );
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, &alt));

    // The pane under a point (the first one when none is).
    let pane_at = |p: Pos2| {
        panes
            .iter()
            .find(|q| q.viewport.contains(p))
            .unwrap_or(&panes[0])
    };

    // Interaction.
    let press = ui.input(|i| i.pointer.press_origin());
    if response.double_clicked() {
        intents.push(Intent::ResetView);
    } else if response.dragged_by(egui::PointerButton::Primary) && st.roi_tool != RoiTool::None {
        // Drawing an ROI: from where the button went down to the pointer, in the pixel
        // coordinates of the pane where the drag started.
        if let (Some(p0), Some(p1)) = (press, response.interact_pointer_pos()) {
            let pane = pane_at(p0);
            let a = view::image_coords(pane.image, slice.rows, slice.cols, p0.x, p0.y);
            let b = view::image_coords(pane.image, slice.rows, slice.cols, p1.x, p1.y);
            let shape = match st.roi_tool {
                RoiTool::Circle => Shape::Circle {
                    centre: a,
                    radius: ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt(),
                },
                _ => Shape::Rect { a, b },
            };
            intents.push(Intent::SetRoi(Some(shape)));
        }
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
        wheel(
            app,
            ui,
            intents,
            response.hover_pos().map(|p| (p, pane_at(p).viewport)),
        );
    }

    // Overlays (real labels on a dark backdrop, so screen readers and tests see them and they
    // stay readable over bright tissue).
    let m = 8.0;
    let series = st.image.as_ref().map_or(1, |i| i.slices.len());
    let mut top_left = view::window_label(st.window);
    if series > 1 {
        top_left += &format!("\nslice {}/{series}", st.index + 1);
        if let Some(z) = crate::imaging::dicom::series::normal_position(slice) {
            top_left += &format!(" · z {z:.1} mm");
        }
    }
    overlay(
        ui,
        rect.left_top() + Vec2::new(m, m),
        top_left,
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
    let hover = response.hover_pos().and_then(|p| {
        let pane = pane_at(p);
        let (r, c) = view::pixel_at(pane.image, slice.rows, slice.cols, p.x, p.y)?;
        let v = st
            .values_for(pane.display)
            .or(st.displayed_values())?
            .get(r * slice.cols + c)
            .copied()?;
        Some(view::readout(r, c, v, st.units_for(pane.display)))
    });
    overlay(
        ui,
        rect.left_bottom() + Vec2::new(m, -m),
        hover.unwrap_or_else(|| "hover for HU".into()),
        egui::Align2::LEFT_BOTTOM,
    );
    for (i, pane) in panes.iter().enumerate() {
        let mut which = pane.display.label().to_string();
        if st.compare.flicker {
            which = format!("flicker: {which}");
        }
        if i + 1 == panes.len() {
            which += " · double-click resets";
        }
        let anchor = if panes.len() > 1 && i == 0 {
            pane.viewport.center_bottom() + Vec2::new(0.0, -m)
        } else {
            pane.viewport.right_bottom() + Vec2::new(-m, -m)
        };
        let align = if panes.len() > 1 && i == 0 {
            egui::Align2::CENTER_BOTTOM
        } else {
            egui::Align2::RIGHT_BOTTOM
        };
        overlay(ui, anchor, which, align);
        scale_bar(ui, &painter, pane, slice);
        orientation(ui, pane, slice);
    }
}

/// Mouse wheel over the image: one slice per notch in a series (Ctrl+wheel zooms at the
/// cursor); on a single image the wheel zooms at the cursor. `at` = the pointer and its pane.
fn wheel(app: &PrivactApp, ui: &egui::Ui, intents: &mut Vec<Intent>, at: Option<(Pos2, Rect)>) {
    let series = app.state.image.as_ref().map_or(1, |i| i.slices.len());
    let (zoom, notches) = ui.input(|i| {
        // The raw wheel events, not the smoothed scroll delta: smooth scrolling spreads one
        // notch over several frames, which stepped several slices per notch.
        let mut notches = 0.0f32;
        for e in &i.events {
            if let egui::Event::MouseWheel {
                unit,
                delta,
                modifiers,
                ..
            } = e
                && !modifiers.command
                && !modifiers.ctrl
            {
                notches -= match unit {
                    // One line event is at most one notch (an X server may report a click
                    // as two lines).
                    egui::MouseWheelUnit::Line => delta.y.clamp(-1.0, 1.0),
                    // Trackpads and some backends report points: ~40 points per notch.
                    egui::MouseWheelUnit::Point => delta.y / 40.0,
                    egui::MouseWheelUnit::Page => delta.y.signum(),
                };
            }
        }
        (i.zoom_delta(), notches)
    });
    let cursor = at.map_or([0.0, 0.0], |(p, vp)| {
        [p.x - vp.center().x, p.y - vp.center().y]
    });
    if zoom != 1.0 {
        intents.push(Intent::ZoomAt {
            factor: zoom,
            cursor,
        });
    } else if notches != 0.0 {
        if series > 1 {
            intents.push(Intent::Wheel(notches));
        } else {
            intents.push(Intent::ZoomAt {
                factor: (-notches * 0.15).exp(),
                cursor,
            });
        }
    }
}

/// A label on a dark backdrop anchored at `pos`.
fn overlay(ui: &mut egui::Ui, pos: Pos2, text: String, align: egui::Align2) {
    // The rectangle is the text's own size plus the backdrop's margin, so a centred label's
    // backdrop never spreads over its neighbours.
    let font = egui::TextStyle::Monospace.resolve(ui.style());
    let size = ui
        .painter()
        .layout_no_wrap(text.clone(), font, OVERLAY_TEXT)
        .size()
        + Vec2::new(12.0, 6.0);
    let r = align.anchor_size(pos, size);
    ui.scope_builder(
        egui::UiBuilder::new()
            .max_rect(r)
            .layout(egui::Layout::left_to_right(egui::Align::Min)),
        |ui| {
            backdrop(ui, RichText::new(text).color(OVERLAY_TEXT).monospace());
        },
    );
}

/// Overlay text colour (on `BACKDROP`: contrast well above 4.5:1 whatever the tissue below).
pub const OVERLAY_TEXT: Color32 = Color32::from_rgb(240, 240, 140);
/// The overlays' backdrop: black at 75 % opacity.
pub const BACKDROP: Color32 = Color32::from_rgba_premultiplied(0, 0, 0, 190);

fn backdrop(ui: &mut egui::Ui, text: RichText) {
    egui::Frame::new()
        .fill(BACKDROP)
        .corner_radius(3.0)
        .inner_margin(egui::Margin::symmetric(5, 2))
        .show(ui, |ui| {
            ui.add(
                egui::Label::new(text)
                    .selectable(false)
                    .wrap_mode(egui::TextWrapMode::Extend),
            )
        });
}

/// The ROI outline (a polygon, so a circle stays right under any pixel aspect).
fn roi_outline(painter: &egui::Painter, image: [f32; 4], rows: usize, cols: usize, shape: &Shape) {
    let points: Vec<Pos2> = match *shape {
        Shape::Circle { centre, radius } => (0..72)
            .map(|k| {
                let t = k as f64 / 72.0 * std::f64::consts::TAU;
                [centre[0] + radius * t.cos(), centre[1] + radius * t.sin()]
            })
            .collect::<Vec<_>>(),
        Shape::Rect { a, b } => vec![a, [b[0], a[1]], b, [a[0], b[1]]],
    }
    .into_iter()
    .map(|p| {
        let [x, y] = view::screen_point(image, rows, cols, p);
        Pos2::new(x, y)
    })
    .collect();
    painter.add(egui::Shape::closed_line(
        points.clone(),
        egui::Stroke::new(3.0, Color32::from_black_alpha(200)),
    ));
    painter.add(egui::Shape::closed_line(
        points,
        egui::Stroke::new(1.5, Color32::from_rgb(90, 230, 255)),
    ));
}

/// A scale bar at the bottom right of a pane, from the pixel spacing and the zoom.
fn scale_bar(
    ui: &mut egui::Ui,
    painter: &egui::Painter,
    pane: &Pane,
    slice: &crate::imaging::Slice,
) {
    let Some([_, col_mm]) = slice.pixel_spacing_mm.filter(|s| s[1] > 0.0) else {
        return;
    };
    let points_per_mm = pane.image[2] / (slice.cols as f32 * col_mm as f32);
    let Some((mm, len)) = view::scale_bar(points_per_mm, pane.viewport.width() * 0.25) else {
        return;
    };
    let right = pane.viewport.right() - 12.0;
    let y = pane.viewport.bottom() - 44.0;
    let bar = Rect::from_min_max(Pos2::new(right - len, y - 3.0), Pos2::new(right, y + 3.0));
    painter.rect_filled(bar.expand(2.0), 2.0, BACKDROP);
    painter.rect_filled(bar, 0.0, OVERLAY_TEXT);
    overlay(
        ui,
        Pos2::new(right, y - 8.0),
        format!("scale {}", view::fmt_mm(mm)),
        egui::Align2::RIGHT_BOTTOM,
    );
}

/// R/L, A/P, H/F at the middle of each image edge, from ImageOrientationPatient.
fn orientation(ui: &mut egui::Ui, pane: &Pane, slice: &crate::imaging::Slice) {
    let Some(labels) = slice
        .info
        .as_ref()
        .and_then(|i| i.image_orientation_patient)
        .and_then(view::orientation_labels)
    else {
        return;
    };
    // At the image edges, kept inside the pane (the image may be zoomed past it).
    let img = Rect::from_min_size(
        Pos2::new(pane.image[0], pane.image[1]),
        Vec2::new(pane.image[2], pane.image[3]),
    )
    .intersect(pane.viewport.shrink(30.0));
    if !img.is_positive() {
        return;
    }
    let [left, right, top, bottom] = labels;
    for (pos, text, align) in [
        (
            img.left_center() + Vec2::new(4.0, 0.0),
            left,
            egui::Align2::LEFT_CENTER,
        ),
        (
            img.right_center() + Vec2::new(-4.0, 0.0),
            right,
            egui::Align2::RIGHT_CENTER,
        ),
        (
            img.center_top() + Vec2::new(0.0, 4.0),
            top,
            egui::Align2::CENTER_TOP,
        ),
        (
            img.center_bottom() + Vec2::new(0.0, -4.0),
            bottom,
            egui::Align2::CENTER_BOTTOM,
        ),
    ] {
        let r = align.anchor_size(pos, Vec2::new(40.0, 24.0));
        let layout = match align.x() {
            egui::Align::Min => egui::Layout::left_to_right(egui::Align::Center),
            egui::Align::Max => egui::Layout::right_to_left(egui::Align::Center),
            egui::Align::Center => egui::Layout::top_down(egui::Align::Center),
        };
        ui.scope_builder(egui::UiBuilder::new().max_rect(r).layout(layout), |ui| {
            backdrop(
                ui,
                RichText::new(text).color(OVERLAY_TEXT).strong().monospace(),
            );
        });
    }
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
