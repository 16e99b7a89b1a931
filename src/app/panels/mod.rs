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

/// Relative luminance of an sRGB colour (WCAG 2.x), 0…1.
pub fn luminance(c: Color32) -> f64 {
    let lin = |v: u8| {
        let v = f64::from(v) / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(c.r()) + 0.7152 * lin(c.g()) + 0.0722 * lin(c.b())
}

/// WCAG contrast ratio of two opaque colours, 1…21.
pub fn contrast(a: Color32, b: Color32) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// The backgrounds text sits on in a theme: panels, windows, striped rows, text fields —
/// translucent ones (the striped rows' additive tint) composited over the panel.
pub fn backgrounds(v: &egui::Visuals) -> [Color32; 4] {
    let over = |c: Color32| {
        // Premultiplied: c + base·(1 − alpha).
        let k = 1.0 - f32::from(c.a()) / 255.0;
        let mix = |x: u8, b: u8| (f32::from(x) + f32::from(b) * k).round().min(255.0) as u8;
        let b = v.panel_fill;
        Color32::from_rgb(mix(c.r(), b.r()), mix(c.g(), b.g()), mix(c.b(), b.b()))
    };
    [
        v.panel_fill,
        over(v.window_fill),
        over(v.faint_bg_color),
        over(v.extreme_bg_color),
    ]
}

/// `c`, darkened (light theme) or lightened (dark theme) just enough for a contrast of at
/// least 4.5:1 against every background of the theme.
pub fn readable_on(c: Color32, visuals: &egui::Visuals) -> Color32 {
    let bgs = backgrounds(visuals);
    let target = if visuals.dark_mode {
        Color32::WHITE
    } else {
        Color32::BLACK
    };
    let worst = |x: Color32| {
        bgs.iter()
            .map(|&b| contrast(x, b))
            .fold(f64::INFINITY, f64::min)
    };
    let mut x = c;
    for k in 1..=20 {
        if worst(x) >= 4.6 {
            break;
        }
        x = c.lerp_to_gamma(target, k as f32 / 20.0);
    }
    x
}

/// The status colours, readable in the current theme.
pub fn amber(ui: &egui::Ui) -> Color32 {
    readable_on(AMBER, ui.visuals())
}
pub fn green(ui: &egui::Ui) -> Color32 {
    readable_on(GREEN, ui.visuals())
}
pub fn red(ui: &egui::Ui) -> Color32 {
    readable_on(RED, ui.visuals())
}
pub fn client(ui: &egui::Ui) -> Color32 {
    readable_on(CLIENT, ui.visuals())
}
pub fn server(ui: &egui::Ui) -> Color32 {
    readable_on(SERVER, ui.visuals())
}
pub fn wire(ui: &egui::Ui) -> Color32 {
    readable_on(WIRE, ui.visuals())
}

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
    let results_top = egui::CentralPanel::no_frame()
        .frame(egui::Frame::new().fill(Color32::BLACK))
        .show(ui, |ui| {
            let results = egui::Panel::bottom("results_panel")
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
            results.response.rect.top()
        })
        .inner;
    let (lw, rw) = (left.response.rect.width(), right.response.rect.width());
    if app.panel_measured != Some([lw, rw]) {
        intents.push(Intent::PanelWidths {
            left: lw,
            right: rw,
            dragging: ui.input(|i| i.pointer.primary_down()),
        });
    }

    // Messages sit over the bottom right of the image, never over a panel's controls.
    let screen = ui.ctx().content_rect();
    let offset = [
        -(rw + 16.0),
        -((screen.bottom() - results_top).max(0.0) + 16.0),
    ];
    // As wide as the image area allows, so they never reach over the left panel either.
    let width = (screen.width() - lw - rw - 32.0).clamp(160.0, 460.0);
    toasts(app, ui.ctx(), offset, width, intents);
}

fn top_bar(app: &PrivactApp, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
    ui.horizontal(|ui| {
        ui.heading(RichText::new("PrivaCT").strong());
        ui.label("encrypted AI on CT slices (CKKS)");
        ui.separator();
        ui.colored_label(
            amber(ui),
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

/// Errors and notices, anchored `offset` points from the bottom-right corner of the window,
/// at most `width` points wide.
fn toasts(
    app: &PrivactApp,
    ctx: &egui::Context,
    offset: [f32; 2],
    width: f32,
    intents: &mut Vec<Intent>,
) {
    let st = &app.state;
    if st.toasts.is_empty() && st.notice.is_none() {
        return;
    }
    egui::Area::new(egui::Id::unique("toasts"))
        .anchor(egui::Align2::RIGHT_BOTTOM, offset)
        .order(egui::Order::Foreground)
        .show(ctx, |ui| {
            ui.set_max_width(width);
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
        crate::protocol::Side::Client => ("client side", client(ui)),
        crate::protocol::Side::Server => ("server side", server(ui)),
        crate::protocol::Side::Wire => ("wire", wire(ui)),
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
                let key = ui.label(k);
                if let Some(help) = glossary(k) {
                    key.on_hover_text(help);
                }
                ui.label(v);
                ui.end_row();
            });
        });
}

/// What a CKKS term on screen means, for teachers (hover text of the parameter card and the
/// key inventory). `None` for terms that explain themselves.
pub fn glossary(term: &str) -> Option<&'static str> {
    Some(match term {
        "Preset" => {
            "The named parameter set both sides use; the server accepts only its allow-listed ones."
        }
        "Ring degree N" => {
            "A ciphertext is a pair of polynomials with N coefficients each, stored once per \
             modulus prime. A larger N allows a larger modulus at the same security and gives \
             more slots, but every ciphertext gets bigger and slower."
        }
        "Slots" => {
            "Values packed into one ciphertext: N/2 complex numbers. One homomorphic operation \
             acts on all slots at once, like SIMD."
        }
        "Levels" => {
            "How many more multiplications a ciphertext can take. After each product the \
             ciphertext is rescaled (divided by one prime of the modulus), which uses one level."
        }
        "Scale" => {
            "Δ: encoding multiplies each value by Δ and rounds to an integer, so log2 Δ bits \
             carry the fraction; rescaling keeps Δ steady from level to level."
        }
        "Modulus" => {
            "log Q: bits of the ciphertext modulus (the product of its primes, one per level plus \
             the base). log QP adds the special primes P used only inside key switching. The \
             HomomorphicEncryption.org table bounds log QP at each N for 128-bit security."
        }
        "Security" => {
            "Estimated cost of the best known lattice attack, in bits, for this N and log QP \
             with a ternary secret and error σ = 3.2."
        }
        "Precision after decryption" => {
            "Bits of agreement between the decrypted result and the same circuit in plaintext: \
             −log2 of the largest difference."
        }
        "Relinearisation key" => {
            "A key-switching key that turns the three-part product of two ciphertexts back into \
             two parts; the server holds it, it reveals nothing about the secret key."
        }
        "Galois (rotation) keys" => {
            "Key-switching keys that let the server rotate the slots (move values between \
             positions) without the secret key: one key per rotation amount the model uses."
        }
        "Secret key" => {
            "Decrypts; it is made on this computer, zeroized after use, and never sent."
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contrast_matches_wcag_reference_values() {
        assert!((contrast(Color32::BLACK, Color32::WHITE) - 21.0).abs() < 1e-9);
        assert!((contrast(Color32::WHITE, Color32::WHITE) - 1.0).abs() < 1e-12);
        // #777777 on white is the classic 4.48:1 just below AA.
        assert!((contrast(Color32::from_gray(0x77), Color32::WHITE) - 4.48).abs() < 0.01);
    }

    #[test]
    fn every_coloured_text_reaches_4_5_to_1_in_both_themes() {
        for visuals in [egui::Visuals::dark(), egui::Visuals::light()] {
            for (name, c) in [
                ("amber", AMBER),
                ("green", GREEN),
                ("red", RED),
                ("client", CLIENT),
                ("server", SERVER),
                ("wire", WIRE),
                ("normal", results::CLASS_COLOURS[0]),
                ("cyst", results::CLASS_COLOURS[1]),
                ("tumour", results::CLASS_COLOURS[2]),
            ] {
                let shown = readable_on(c, &visuals);
                for bg in backgrounds(&visuals) {
                    let k = contrast(shown, bg);
                    assert!(
                        k >= 4.5,
                        "{name} {shown:?} on {bg:?} (dark {}): {k:.2}",
                        visuals.dark_mode
                    );
                }
            }
            // The light theme really needed the darker shades (the dark-theme amber on a
            // light panel is far below 4.5:1).
            if !visuals.dark_mode {
                assert!(contrast(AMBER, visuals.panel_fill) < 2.0);
            }
        }
        // Overlay text on its backdrop over the brightest tissue (white under 75 % black).
        let a = f32::from(centre::BACKDROP.a()) / 255.0;
        let under = Color32::from_gray((255.0 * (1.0 - a)).round() as u8);
        assert!(contrast(centre::OVERLAY_TEXT, under) >= 4.5);
    }
}
