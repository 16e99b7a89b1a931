//! Left panel: open, series, key DICOM tags (identifiers masked), presets, low-dose simulation.

use super::{amber, green};
use crate::app::PrivactApp;
use crate::app::intent::Intent;
use crate::app::state::Display;
use crate::imaging::DicomInfo;
use crate::imaging::window::Preset;
use egui::RichText;

const MASK: &str = "••••••";

pub fn show(app: &PrivactApp, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
    let st = &app.state;
    ui.heading("Image");
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("Open file…")
            .on_hover_text(
                "Native file dialog (in-app browser when no desktop portal is available)",
            )
            .clicked()
        {
            intents.push(Intent::Open);
        }
        if ui.button("Browse (in-app)…").clicked() {
            intents.push(Intent::OpenBrowser);
        }
        if ui.button("Load built-in phantom").clicked() {
            intents.push(Intent::LoadPhantom);
        }
    });
    ui.weak("…or drop a file, or a folder with one series, onto the window.");
    if st.loading || st.dialog_open {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(if st.dialog_open {
                "waiting for the file dialog…"
            } else {
                "decoding…"
            });
        });
    }
    let Some(img) = &st.image else {
        ui.label("No image loaded.");
        return;
    };
    ui.label(RichText::new(&img.label).strong());

    if img.slices.len() > 1 {
        series(app, ui, intents);
    }

    ui.separator();
    if let Some(slice) = st.slice() {
        match &slice.info {
            Some(info) => tags(app, info, ui, intents),
            None => {
                ui.label(format!(
                    "{}×{} image, 8-bit greyscale (no DICOM tags)",
                    slice.cols, slice.rows
                ));
                ui.colored_label(amber(ui), "No tags: de-identification status unknown");
            }
        }
    }

    ui.separator();
    ui.heading("Window");
    ui.weak("Keys 1–8 · drag on the image: left/right = width, up/down = level");
    egui::Grid::new("presets").num_columns(2).show(ui, |ui| {
        for (i, p) in Preset::ALL.iter().enumerate() {
            let label = format!("{} ({})", p.label(), i + 1);
            let tip = match p.fixed() {
                Some(w) => format!("W{:.0} L{:.0}", w.width, w.center),
                None if *p == Preset::Auto => "1st–99th percentile of the image".to_string(),
                None => "The window stored in the file".to_string(),
            };
            if ui
                .selectable_label(st.preset == Some(*p), label)
                .on_hover_text(tip)
                .clicked()
            {
                intents.push(Intent::SetPreset(*p));
            }
            if i % 2 == 1 {
                ui.end_row();
            }
        }
    });

    ui.separator();
    ldct(app, ui, intents);

    ui.separator();
    compare(app, ui, intents);

    ui.separator();
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("Export PNG…")
            .on_hover_text("The displayed image with the current window, written atomically")
            .clicked()
        {
            intents.push(Intent::ExportPng);
        }
        if ui
            .button("Export teaching report…")
            .on_hover_text(
                "One self-contained HTML file: the image, the result, the step ledger, the \
                 CKKS parameters, the keys and their sizes (no patient identifiers)",
            )
            .clicked()
        {
            intents.push(Intent::ExportReport);
        }
    });
}

/// The slice list (following the slice on screen) and cine playback.
fn series(app: &PrivactApp, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
    let st = &app.state;
    let Some(img) = &st.image else { return };
    ui.label(format!(
        "Series: {} slices (wheel: one slice per notch; Up/Down keys)",
        img.slices.len()
    ));
    // Scroll the list to the current slice only when it changed (wheel, cine, plot), so the
    // list can still be scrolled by hand.
    let follow_id = egui::Id::unique("series_list_follow");
    let last: Option<(u64, usize)> = ui.data(|d| d.get_temp(follow_id));
    let now = (st.generation, st.index);
    let follow = last != Some(now);
    egui::ScrollArea::vertical()
        .id_salt("series_list")
        .max_height(140.0)
        .show(ui, |ui| {
            for (i, s) in img.slices.iter().enumerate() {
                let n = s.info.as_ref().and_then(|i| i.instance_number);
                let mut text = match n {
                    Some(n) => format!("Slice {} (instance {n})", i + 1),
                    None => format!("Slice {}", i + 1),
                };
                if let Some(z) = crate::imaging::dicom::series::normal_position(s) {
                    text += &format!(" · z {z:.1}");
                }
                let r = ui.selectable_label(i == st.index, text);
                if i == st.index && follow {
                    r.scroll_to_me(Some(egui::Align::Center));
                }
                if r.clicked() {
                    intents.push(Intent::SelectSlice(i));
                }
            }
        });
    ui.data_mut(|d| d.insert_temp(follow_id, now));
    ui.horizontal_wrapped(|ui| {
        let label = if st.cine.playing {
            "Pause cine"
        } else {
            "Play cine"
        };
        if ui
            .button(label)
            .on_hover_text("Steps through the series at the chosen frames per second")
            .clicked()
        {
            intents.push(Intent::ToggleCine);
        }
        let mut fps = st.cine.fps;
        if ui
            .add(
                egui::DragValue::new(&mut fps)
                    .range(1.0..=30.0)
                    .suffix(" fps")
                    .speed(0.2),
            )
            .on_hover_text("Cine frames (slices) per second")
            .changed()
        {
            intents.push(Intent::SetCineFps(fps));
        }
        let mut wrap = st.cine.wrap;
        if ui
            .checkbox(&mut wrap, "Loop")
            .on_hover_text("At the last slice start again (else stop)")
            .changed()
        {
            intents.push(Intent::SetCineWrap(wrap));
        }
    });
}

/// Reference image, side by side and flicker, and PSNR/SSIM against the reference.
fn compare(app: &PrivactApp, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
    let st = &app.state;
    ui.heading("Compare");
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("Load reference…")
            .on_hover_text("A second image of the same size, e.g. the matching full dose")
            .clicked()
        {
            intents.push(Intent::LoadReference);
        }
        if st.reference.is_some() && ui.button("Clear reference").clicked() {
            intents.push(Intent::ClearReference);
        }
    });
    if let (Some(r), Some(s)) = (&st.reference, st.slice()) {
        if r.slice.rows == s.rows && r.slice.cols == s.cols {
            ui.label(format!("Reference: {}", r.label));
        } else {
            ui.colored_label(
                super::amber(ui),
                format!(
                    "Reference {} is {}×{}, the slice {}×{}: not comparable",
                    r.label, r.slice.cols, r.slice.rows, s.cols, s.rows
                ),
            );
        }
    }
    let views = st.views();
    if views.len() < 2 {
        ui.weak("Two views are needed (load a reference, simulate a low dose or denoise).");
        return;
    }
    let pick = |ui: &mut egui::Ui, id: &str, current: Display| -> Option<Display> {
        let mut chosen = None;
        egui::ComboBox::from_id_salt(id)
            .selected_text(current.short())
            .show_ui(ui, |ui| {
                for &d in &views {
                    if ui.selectable_label(d == current, d.short()).clicked() {
                        chosen = Some(d);
                    }
                }
            });
        chosen
    };
    let (a, b) = (st.compare.a, st.compare.b);
    ui.horizontal_wrapped(|ui| {
        ui.label("Compare");
        if let Some(a2) = pick(ui, "compare_a", a) {
            intents.push(Intent::SetComparePair(a2, b));
        }
        ui.label("with");
        if let Some(b2) = pick(ui, "compare_b", b) {
            intents.push(Intent::SetComparePair(a, b2));
        }
    });
    let valid = views.contains(&a) && views.contains(&b) && a != b;
    ui.horizontal_wrapped(|ui| {
        let mut sbs = st.compare.side_by_side;
        if ui
            .add_enabled(valid || sbs, egui::Checkbox::new(&mut sbs, "Side by side"))
            .on_hover_text("Both views with one window, zoom and pan")
            .changed()
        {
            intents.push(Intent::SetSideBySide(sbs));
        }
        let mut flicker = st.compare.flicker;
        if ui
            .add_enabled(
                valid || flicker,
                egui::Checkbox::new(&mut flicker, "Flicker"),
            )
            .on_hover_text("Alternates the two views in place")
            .changed()
        {
            intents.push(Intent::SetFlicker(flicker));
        }
    });
    if let Some(m) = &app.compare_metrics {
        ui.label(RichText::new("Against the reference").strong())
            .on_hover_text(format!(
                "Each image scaled to [0, 1] first: {}",
                m.normalisation
            ));
        egui::Grid::new("compare_metrics")
            .num_columns(3)
            .striped(true)
            .show(ui, |ui| {
                for h in ["View", "PSNR", "SSIM"] {
                    ui.label(RichText::new(h).strong());
                }
                ui.end_row();
                for (d, psnr, ssim) in &m.rows {
                    ui.label(d.short());
                    let p = format!("{psnr:.2} dB");
                    let r = ui.label(&p);
                    let name = format!("PSNR {} vs reference: {p}", d.short());
                    r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &name));
                    let s = format!("{ssim:.4}");
                    let r = ui.label(&s);
                    let name = format!("SSIM {} vs reference: {s}", d.short());
                    r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &name));
                    ui.end_row();
                }
            });
    }
}

fn masked(revealed: bool, v: &Option<String>) -> String {
    match (revealed, v) {
        (_, None) => "—".into(),
        (false, Some(_)) => MASK.into(),
        (true, Some(s)) => s.clone(),
    }
}

fn tags(app: &PrivactApp, info: &DicomInfo, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
    let st = &app.state;
    // De-identification badge from (0012,0062) / (0012,0063).
    if info.deidentified() {
        let method = info
            .deidentification_method
            .as_deref()
            .unwrap_or("method not stated");
        ui.colored_label(green(ui), format!("De-identified ({method})"));
    } else {
        ui.colored_label(amber(ui), "Not marked as de-identified (0012,0062)");
    }
    ui.label(RichText::new("Patient").strong());
    let p = &info.patient;
    egui::Grid::new("phi").num_columns(2).show(ui, |ui| {
        let rev = st.phi_revealed;
        for (k, v) in [
            ("Name", &p.name),
            ("ID", &p.id),
            ("Birth date", &p.birth_date),
            ("Sex", &p.sex),
        ] {
            ui.label(k);
            ui.label(masked(rev, v));
            ui.end_row();
        }
    });
    let mut reveal = st.phi_revealed;
    if ui
        .checkbox(&mut reveal, "Reveal patient identifiers")
        .on_hover_text("Shown only in this window; never logged, stored or sent")
        .changed()
    {
        intents.push(Intent::RevealPhi(reveal));
    }
    let mut mask_default = app.prefs.mask_phi_by_default;
    if ui
        .checkbox(&mut mask_default, "Mask identifiers by default")
        .changed()
    {
        intents.push(Intent::MaskPhiByDefault(mask_default));
    }

    ui.label(RichText::new("Image").strong());
    let opt = |v: Option<f64>, unit: &str| {
        v.map_or("—".to_string(), |x| {
            format!("{x:.4} {unit}").replace(".0000", "")
        })
    };
    super::key_value_grid(ui, "tags", |row| {
        row(
            "Modality",
            info.modality.clone().unwrap_or_else(|| "—".into()),
        );
        row("Size", format!("{} × {}", info.columns, info.rows));
        row(
            "Bits",
            format!(
                "{} stored / {} allocated",
                info.bits_stored, info.bits_allocated
            ),
        );
        row(
            "Pixel spacing",
            info.pixel_spacing_mm
                .map_or("—".into(), |s| format!("{:.3} × {:.3} mm", s[0], s[1])),
        );
        row("Slice thickness", opt(info.slice_thickness_mm, "mm"));
        row("kVp", opt(info.kvp, ""));
        row(
            "Rescale",
            format!(
                "slope {}, intercept {}",
                opt(info.rescale_slope, "").trim(),
                opt(info.rescale_intercept, "").trim()
            ),
        );
        row(
            "Window in file",
            match (info.window_width, info.window_center) {
                (Some(w), Some(c)) => format!("W{w:.0} L{c:.0}"),
                _ => "—".into(),
            },
        );
        row("Transfer syntax", info.transfer_syntax.clone());
    });
}

fn ldct(app: &PrivactApp, ui: &mut egui::Ui, intents: &mut Vec<Intent>) {
    let st = &app.state;
    ui.heading("Low-dose CT (simulation)");
    let mut dose_pct = st.ldct.dose * 100.0;
    let r = ui.add(
        egui::Slider::new(&mut dose_pct, 2.0..=100.0)
            .suffix(" %")
            .text("Dose (% of full)"),
    );
    if r.changed() {
        intents.push(Intent::SetDose(dose_pct / 100.0));
    }
    let busy = app.busy();
    if ui
        .add_enabled(!busy, egui::Button::new("Simulate low dose"))
        .on_hover_text(
            "Projection-domain Poisson + electronic noise, then FBP (runs on the worker)",
        )
        .on_disabled_hover_text("Another job is running")
        .clicked()
    {
        intents.push(Intent::SimulateLdct);
    }
    let have = st.ldct_outcome();
    let denoised = st.denoise_outcome().is_some();
    if st.views().len() > 1 {
        ui.horizontal_wrapped(|ui| {
            let mut choices = vec![(Display::Original, "Show original")];
            if have.is_some() {
                choices.push((Display::LowDose, "Show low dose"));
                choices.push((Display::CleanReference, "Show clean reference"));
            }
            if denoised {
                choices.push((Display::Denoised, "Show denoised"));
            }
            if st.values_for(Display::Reference).is_some() {
                choices.push((Display::Reference, "Show reference"));
            }
            for (d, label) in choices {
                if ui.selectable_label(st.display == d, label).clicked() {
                    intents.push(Intent::SetDisplay(d));
                }
            }
        });
    }
    if let Some(o) = have {
        ui.label(format!(
            "{:.0} % dose: PSNR {} · SSIM {} vs clean ({})",
            o.dose * 100.0,
            o.psnr_db.map_or("—".into(), |p| format!("{p:.1} dB")),
            o.ssim.map_or("—".into(), |s| format!("{s:.3}")),
            crate::app::view::fmt_seconds(o.seconds)
        ));
    }
}
