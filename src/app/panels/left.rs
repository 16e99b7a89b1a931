//! Left panel: open, series, key DICOM tags (identifiers masked), presets, low-dose simulation.

use super::{AMBER, GREEN};
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
        ui.label(format!(
            "Series: {} slices (wheel or Up/Down keys to step)",
            img.slices.len()
        ));
        egui::ScrollArea::vertical()
            .id_salt("series_list")
            .max_height(140.0)
            .show(ui, |ui| {
                for (i, s) in img.slices.iter().enumerate() {
                    let n = s.info.as_ref().and_then(|i| i.instance_number);
                    let text = match n {
                        Some(n) => format!("Slice {} (instance {n})", i + 1),
                        None => format!("Slice {}", i + 1),
                    };
                    if ui.selectable_label(i == st.index, text).clicked() {
                        intents.push(Intent::SelectSlice(i));
                    }
                }
            });
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
                ui.colored_label(AMBER, "No tags: de-identification status unknown");
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
    if ui
        .button("Export PNG…")
        .on_hover_text("The displayed image with the current window, written atomically")
        .clicked()
    {
        intents.push(Intent::ExportPng);
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
        ui.colored_label(GREEN, format!("De-identified ({method})"));
    } else {
        ui.colored_label(AMBER, "Not marked as de-identified (0012,0062)");
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
    if have.is_some() || denoised {
        ui.horizontal_wrapped(|ui| {
            let mut choices = vec![(Display::Original, "Show original")];
            if have.is_some() {
                choices.push((Display::LowDose, "Show low dose"));
                choices.push((Display::CleanReference, "Show clean reference"));
            }
            if denoised {
                choices.push((Display::Denoised, "Show denoised"));
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
