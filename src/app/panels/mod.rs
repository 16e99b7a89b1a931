//! Drawing only: every panel reads the app and returns intents.

pub mod centre;
pub mod left;
pub mod results;
pub mod right;

use super::PrivactApp;
use super::intent::Intent;
use egui::{Color32, RichText};

pub const AMBER: Color32 = Color32::from_rgb(255, 190, 60);
pub const GREEN: Color32 = Color32::from_rgb(110, 210, 120);
pub const RED: Color32 = Color32::from_rgb(255, 110, 100);
pub const CLIENT: Color32 = Color32::from_rgb(120, 180, 255);
pub const SERVER: Color32 = Color32::from_rgb(255, 150, 90);
pub const WIRE: Color32 = Color32::from_rgb(180, 180, 180);

pub fn show(app: &PrivactApp, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
    egui::Panel::top("top_bar").show(ui, |ui| top_bar(app, ui, intents));
    let left = egui::Panel::left("left_panel")
        .resizable(true)
        .default_size(app.prefs.left_panel_width)
        .size_range(220.0..=600.0)
        .show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("left_scroll")
                .show(ui, |ui| left::show(app, ui, intents))
        });
    let right = egui::Panel::right("right_panel")
        .resizable(true)
        .default_size(app.prefs.right_panel_width)
        .size_range(340.0..=800.0)
        .show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("right_scroll")
                .show(ui, |ui| right::show(app, ui, intents))
        });
    // The results sit under the image, inside the central area (so they span only its width).
    egui::CentralPanel::no_frame()
        .frame(egui::Frame::new().fill(Color32::BLACK))
        .show(ui, |ui| {
            egui::Panel::bottom("results_panel")
                .resizable(true)
                .default_size(290.0)
                .size_range(120.0..=600.0)
                .frame(egui::Frame::side_top_panel(ui.style()))
                .show(ui, |ui| {
                    egui::ScrollArea::vertical()
                        .id_salt("results_scroll")
                        .auto_shrink([false, false])
                        .show(ui, |ui| results::show(app, ui, intents))
                });
            centre::show(app, ui, intents);
        });
    let (lw, rw) = (left.response.rect.width(), right.response.rect.width());
    if app.panel_measured != Some([lw, rw]) {
        intents.push(Intent::PanelWidths {
            left: lw,
            right: rw,
            dragging: ui.input(|i| i.pointer.primary_down()),
        });
    }

    toasts(app, ui.ctx(), intents);
}

fn top_bar(app: &PrivactApp, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
    ui.horizontal(|ui| {
        ui.heading(RichText::new("PrivaCT").strong());
        ui.label("encrypted AI on CT slices (CKKS)");
        ui.separator();
        ui.colored_label(
            AMBER,
            "Research and teaching software. Not for clinical use.",
        );
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let theme = match app.prefs.theme {
                super::prefs::Theme::Dark => "Light theme",
                super::prefs::Theme::Light => "Dark theme",
            };
            if ui.button(theme).clicked() {
                intents.push(Intent::ToggleTheme);
            }
            let st = &app.state;
            let frame = if st.frames_during_job > 0 {
                format!(
                    "UI frame {:.1} ms · max {:.1} ms over {} frames of the last job",
                    st.frame_ms, st.max_frame_ms_during_job, st.frames_during_job
                )
            } else {
                format!("UI frame {:.1} ms", st.frame_ms)
            };
            ui.weak(frame);
            ui.separator();
            let status = if app.busy() {
                "worker: busy"
            } else if st.loading {
                "loading…"
            } else {
                "worker: idle"
            };
            ui.label(status);
        });
    });
}

/// Full-window overlay while files are dragged over the window.
pub fn drop_overlay(ctx: &egui::Context) {
    let rect = ctx.content_rect();
    let painter = ctx.layer_painter(egui::LayerId::new(
        egui::Order::Foreground,
        egui::Id::unique("drop_overlay"),
    ));
    painter.rect_filled(rect, 0.0, Color32::from_black_alpha(200));
    painter.rect_stroke(
        rect.shrink(12.0),
        8.0,
        egui::Stroke::new(3.0, CLIENT),
        egui::StrokeKind::Inside,
    );
    painter.text(
        rect.center(),
        egui::Align2::CENTER_CENTER,
        "Drop a DICOM/PNG/JPEG/TIFF file, or a folder holding one series",
        egui::FontId::proportional(26.0),
        Color32::WHITE,
    );
}

fn toasts(app: &PrivactApp, ctx: &egui::Context, intents: &mut Vec<Intent>) {
    let st = &app.state;
    if st.toasts.is_empty() && st.notice.is_none() {
        return;
    }
    egui::Area::new(egui::Id::unique("toasts"))
        .anchor(egui::Align2::RIGHT_BOTTOM, [-16.0, -16.0])
        .order(egui::Order::Foreground)
        .show(ctx, |ui| {
            ui.set_max_width(460.0);
            for (i, t) in st.toasts.iter().enumerate() {
                egui::Frame::popup(ui.style())
                    .fill(Color32::from_rgb(60, 24, 24))
                    .show(ui, |ui| {
                        ui.horizontal(|ui| {
                            ui.colored_label(
                                RED,
                                RichText::new(format!("{} failed", t.title)).strong(),
                            );
                            if ui
                                .small_button(format!("Dismiss error {}", i + 1))
                                .clicked()
                            {
                                intents.push(Intent::DismissToast(i));
                            }
                        });
                        ui.label(&t.message);
                        ui.weak(&t.hint);
                    });
            }
            if let Some(n) = &st.notice {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.horizontal(|ui| {
                        ui.label(n);
                        if ui.small_button("Dismiss notice").clicked() {
                            intents.push(Intent::DismissNotice);
                        }
                    });
                });
            }
        });
}

/// "client side" / "server side" / "wire" badge.
pub fn side_badge(ui: &mut egui::Ui, side: crate::protocol::Side) {
    let (text, color) = match side {
        crate::protocol::Side::Client => ("client side", CLIENT),
        crate::protocol::Side::Server => ("server side", SERVER),
        crate::protocol::Side::Wire => ("wire", WIRE),
    };
    ui.colored_label(color, text);
}

/// A striped two-column "label: value" table; `rows` adds one row per call of `row`.
pub fn key_value_grid(
    ui: &mut egui::Ui,
    id: &str,
    rows: impl FnOnce(&mut dyn FnMut(&str, String)),
) {
    egui::Grid::new(id)
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            rows(&mut |k: &str, v: String| {
                ui.label(k);
                ui.label(v);
                ui.end_row();
            });
        });
}
