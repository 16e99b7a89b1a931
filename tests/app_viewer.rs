//! The viewer of the desktop app (issue 20): ROI measurement, series navigation, synced
//! comparison, legibility and the teaching report, driven through egui_kittest. Every number
//! shown is checked against a computation made here, independently of the app's code.

mod app_common;
mod common;

use app_common::{App, harness_with, has, has_containing, loaded, step_until};

use egui_kittest::kittest::Queryable;
use privact::app::Launch;
use privact::app::intent::Intent;
use privact::app::prefs::Prefs;
use privact::app::state::{Display, RoiTool};
use privact::imaging::window::Window;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn harness_sized(size: [f32; 2]) -> App {
    harness_with(Prefs::default(), Launch::default(), size)
}

fn harness() -> App {
    harness_sized([1600.0, 1000.0])
}

/// Opens `path` (file or series folder) and waits until its `n` slices are on screen.
fn open(h: &mut App, path: &Path, n: usize) {
    let generation = h.state().state.generation;
    h.state_mut().apply(Intent::LoadPath(path.to_path_buf()));
    step_until(h, "the image", Duration::from_secs(120), |h| {
        let st = &h.state().state;
        st.generation > generation && st.image.as_ref().is_some_and(|i| i.slices.len() == n)
    });
    h.run_steps(2);
}

/// The image area's panes drawn last frame: (viewport, image rectangle) as [x, y, w, h].
fn panes(h: &App) -> Vec<([f32; 4], [f32; 4])> {
    h.ctx
        .data(|d| d.get_temp(privact::app::panels::centre::panes_id()))
        .unwrap_or_default()
}

/// Sample mean, SD, min, max and count of the pixels whose centres lie in a circle, by
/// brute force over the whole image.
fn circle_stats(v: &[f32], cols: usize, c: [f64; 2], r: f64) -> (f64, f64, f32, f32, usize) {
    let inside: Vec<f64> = v
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            let (x, y) = ((i % cols) as f64 + 0.5, (i / cols) as f64 + 0.5);
            (x - c[0]).powi(2) + (y - c[1]).powi(2) <= r * r
        })
        .map(|(_, &x)| f64::from(x))
        .collect();
    let n = inside.len() as f64;
    let mean = inside.iter().sum::<f64>() / n;
    let sd = (inside.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let min = inside.iter().copied().fold(f64::INFINITY, f64::min) as f32;
    let max = inside.iter().copied().fold(f64::NEG_INFINITY, f64::max) as f32;
    (mean, sd, min, max, inside.len())
}

/// Issue 20: a circle ROI drawn by dragging on the image of a synthetic slice; mean ± SD,
/// min/max, pixel count and area match a brute-force computation on the file's pixels.
#[test]
fn a_circle_roi_drawn_on_the_image_gives_the_independently_computed_statistics() {
    let dir = common::temp_dir("viewer-roi");
    let path = dir.join("phantom256.dcm");
    let phantom = privact::imaging::phantom::Phantom {
        size: 256,
        fov_mm: 320.0,
        ..Default::default()
    };
    std::fs::write(&path, phantom.dicom_bytes().unwrap()).unwrap();
    let pixels = privact::imaging::load(&path).unwrap();
    let mut h = harness();
    loaded(&mut h);
    open(&mut h, &path, 1);

    h.get_by_label("Circle ROI").click();
    h.run_steps(2);
    assert_eq!(h.state().state.roi_tool, RoiTool::Circle);
    // Drag from the image centre 60 points to the right.
    let (_, img) = panes(&h)[0];
    let c = egui::pos2(img[0] + img[2] / 2.0, img[1] + img[3] / 2.0);
    let window_before = h.state().state.window;
    h.hover_at(c);
    h.step();
    h.drag_at(c);
    h.step();
    for k in 1..=6 {
        h.hover_at(c + egui::vec2(10.0 * k as f32, 0.0));
        h.step();
    }
    h.drop_at(c + egui::vec2(60.0, 0.0));
    h.run_steps(2);
    let st = &h.state().state;
    assert_eq!(
        st.window, window_before,
        "with a ROI tool the drag does not change the window"
    );
    let Some(privact::imaging::roi::Shape::Circle { centre, radius }) = st.roi else {
        panic!("no circle ROI: {:?}", st.roi);
    };
    // 256 pixels on img[2] points: the drag of 60 points is 60·256/img[2] pixels.
    let want_r = 60.0 * 256.0 / f64::from(img[2]);
    assert!((radius - want_r).abs() < 0.6, "radius {radius} vs {want_r}");
    assert!((centre[0] - 128.0).abs() < 1.0 && (centre[1] - 128.0).abs() < 1.0);

    let (mean, sd, min, max, n) = circle_stats(&pixels.values, 256, centre, radius);
    assert!(n > 100, "{n} pixels");
    assert!(sd > 1.0, "the ROI spans tissues of different HU (sd {sd})");
    let spacing = 320.0 / 256.0;
    let area = n as f64 * spacing * spacing;
    for text in [
        format!("ROI Original mean ± SD: {mean:.1} ± {sd:.1} HU"),
        format!("ROI Original min / max: {min:.0} / {max:.0} HU"),
        format!(
            "ROI Original pixels: {}",
            privact::app::view::group_thousands(n as u64)
        ),
        format!("ROI Original area: {area:.1} mm²"),
    ] {
        assert!(has(&h, &text), "shows {text}");
    }

    // A rectangle replaces it; clearing removes the table.
    h.state_mut()
        .apply(Intent::SetRoi(Some(privact::imaging::roi::Shape::Rect {
            a: [10.0, 20.0],
            b: [30.0, 25.0],
        })));
    h.run_steps(2);
    assert!(has(&h, "ROI Original pixels: 100"), "20 columns × 5 rows");
    h.get_by_label("Clear ROI").click();
    h.run_steps(2);
    assert!(h.state().state.roi.is_none());
    assert!(!has_containing(&h, "ROI Original pixels"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A series of at least 3 slices: the ten L096 full-dose slices of the Mayo data when the
/// shared data is present, else three phantom slices of different sizes of lesion-free
/// phantom written by `privact phantom`.
fn series_folder() -> (PathBuf, bool) {
    if let Some(root) = common::shared_data() {
        let mayo = root.join("ldct-mayo");
        let dir = common::temp_dir("viewer-series-l096");
        let mut n = 0;
        for e in std::fs::read_dir(&mayo).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with("L096_") && name.ends_with("_FD.IMA") {
                std::fs::copy(e.path(), dir.join(&name)).unwrap();
                n += 1;
            }
        }
        if n >= 3 {
            return (dir, true);
        }
    }
    (common::phantom_series("viewer-series-phantom", 3), false)
}

fn wheel(h: &App, unit: egui::MouseWheelUnit, dy: f32, ctrl: bool) {
    let modifiers = if ctrl {
        egui::Modifiers::CTRL
    } else {
        egui::Modifiers::NONE
    };
    h.event_modifiers(
        egui::Event::MouseWheel {
            unit,
            delta: egui::vec2(0.0, dy),
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Unknown,
            modifiers,
        },
        modifiers,
    );
}

/// Issue 20: one slice per wheel notch (also when the notch arrives in fractions, as smooth
/// scrolling delivers it), "slice n/N" and z on the overlay, Ctrl+wheel zooming at the
/// cursor, cine play with wrap and stop, the scale bar and orientation letters.
#[test]
fn one_wheel_notch_moves_one_slice_and_the_overlay_shows_n_of_n() {
    let (folder, mayo) = series_folder();
    let mut h = harness();
    loaded(&mut h);
    let n = std::fs::read_dir(&folder).unwrap().count();
    open(&mut h, &folder, n);
    assert_eq!(h.state().state.index, 0);
    assert!(has_containing(&h, &format!("slice 1/{n}")));

    let (vp, img) = panes(&h)[0];
    let c = egui::pos2(img[0] + img[2] * 0.5, img[1] + img[3] * 0.5);
    h.hover_at(c);
    h.step();
    // One notch towards the user (content moves up: negative y) = the next slice.
    wheel(&h, egui::MouseWheelUnit::Line, -1.0, false);
    h.run_steps(3);
    assert_eq!(h.state().state.index, 1, "one notch, one slice");
    assert!(has_containing(&h, &format!("slice 2/{n}")));
    // A notch in three pieces of points (smooth scrolling, trackpads): still one slice.
    for _ in 0..3 {
        wheel(&h, egui::MouseWheelUnit::Point, -40.0 / 3.0, false);
        h.step();
    }
    h.run_steps(2);
    assert_eq!(h.state().state.index, 2, "a notch in pieces is one slice");
    wheel(&h, egui::MouseWheelUnit::Line, 1.0, false);
    h.run_steps(3);
    assert_eq!(h.state().state.index, 1, "back one");

    // z along the slice normal, as computed from the file's own geometry.
    let st = &h.state().state;
    let slice = st.slice().unwrap();
    if let Some(info) = slice.info.as_ref()
        && let (Some(o), Some(p)) = (info.image_orientation_patient, info.image_position_patient)
    {
        let nrm = [
            o[1] * o[5] - o[2] * o[4],
            o[2] * o[3] - o[0] * o[5],
            o[0] * o[4] - o[1] * o[3],
        ];
        let z = p[0] * nrm[0] + p[1] * nrm[1] + p[2] * nrm[2];
        assert!(
            has_containing(&h, &format!("slice 2/{n} · z {z:.1} mm")),
            "z {z:.1} on the overlay"
        );
        // Axial: the patient's right on the image's left, anterior at the top.
        for letter in ["R", "L", "A", "P"] {
            assert!(has(&h, letter), "orientation letter {letter}");
        }
    } else {
        assert!(!mayo, "the Mayo slices carry their geometry");
    }
    assert!(
        has_containing(&h, "scale "),
        "a scale bar from the pixel spacing"
    );

    // Ctrl+wheel zooms at the cursor: the image point under it stays put; no slice step.
    let cursor = egui::pos2(img[0] + img[2] * 0.7, img[1] + img[3] * 0.3);
    let (rows, cols) = (slice.rows, slice.cols);
    let under =
        |img: [f32; 4]| privact::app::view::image_coords(img, rows, cols, cursor.x, cursor.y);
    let before = under(img);
    let _ = vp;
    h.hover_at(cursor);
    h.step();
    wheel(&h, egui::MouseWheelUnit::Line, 3.0, true);
    h.run_steps(3);
    let st = &h.state().state;
    assert_eq!(st.index, 1, "Ctrl+wheel does not step");
    assert!(st.view.zoom > 1.05, "zoomed in: {}", st.view.zoom);
    let (_, img2) = panes(&h)[0];
    let after = under(img2);
    assert!(
        (after[0] - before[0]).abs() < 0.5 && (after[1] - before[1]).abs() < 0.5,
        "the pixel under the cursor stays: {before:?} → {after:?}"
    );

    // Cine: plays on its own at the chosen rate (the frame loop's timer) …
    h.state_mut().apply(Intent::SetCineFps(30.0));
    h.get_by_label("Play cine").click();
    h.run_steps(2);
    assert!(h.state().state.cine.playing);
    assert!(has(&h, "Pause cine"));
    let start = h.state().state.index;
    step_until(&mut h, "a cine frame", Duration::from_secs(10), |h| {
        h.state().state.index != start
    });
    h.get_by_label("Pause cine").click();
    h.run_steps(2);
    assert!(!h.state().state.cine.playing);
    // … forward, wrapping at the end; without wrap it stops at the last slice.
    h.state_mut().apply(Intent::SelectSlice(1));
    for _ in 0..(n - 1) {
        h.state_mut().apply(Intent::CineStep);
    }
    assert_eq!(h.state().state.index, 0, "wrapped to the first slice");
    h.state_mut().apply(Intent::SetCineWrap(false));
    h.state_mut().apply(Intent::ToggleCine);
    assert!(h.state().state.cine.playing);
    for _ in 0..n {
        h.state_mut().apply(Intent::CineStep);
    }
    assert_eq!(h.state().state.index, n - 1, "stopped at the last slice");
    assert!(!h.state().state.cine.playing);
    let _ = std::fs::remove_dir_all(&folder);
}

/// A slice and its reference: the Mayo L096 quarter dose with its full dose when the shared
/// data is present, else a phantom slice and the same slice with a known offset.
fn pair() -> (PathBuf, PathBuf, PathBuf) {
    let dir = common::temp_dir("viewer-compare");
    if let Some(root) = common::shared_data() {
        let qd = root.join("ldct-mayo/L096_D45_3mm_000020_QD.IMA");
        let fd = root.join("ldct-mayo/L096_D45_3mm_000020_FD.IMA");
        if qd.is_file() && fd.is_file() {
            return (qd, fd, dir);
        }
    }
    let a = dir.join("slice.png");
    let b = dir.join("reference.png");
    let img = |shift: u8| {
        image::GrayImage::from_fn(128, 128, |x, y| {
            image::Luma([((x * 2 + y) % 200) as u8 + shift * ((x + y) % 3) as u8])
        })
    };
    img(0).save(&b).unwrap();
    img(7).save(&a).unwrap();
    (a, b, dir)
}

/// The app's normalisation for a comparison in HU (the abdomen window, as the denoising
/// results), done here with the window's own formula.
fn abdomen_unit(v: &[f32]) -> Vec<f32> {
    v.iter()
        .map(|&x| Window::ABDOMEN.apply_unit(f64::from(x)))
        .collect()
}

/// Issue 20: a reference loaded beside the slice; side by side with one window, zoom and pan
/// for both panes; flicker between the two; PSNR/SSIM against the reference equal to direct
/// `metrics` calls; the ROI measured on both views.
#[test]
fn synced_side_by_side_comparison_with_psnr_ssim_against_the_reference() {
    let (slice_path, reference_path, dir) = pair();
    let mut h = harness();
    loaded(&mut h);
    open(&mut h, &slice_path, 1);
    h.state_mut()
        .apply(Intent::LoadReferencePath(reference_path.clone()));
    step_until(&mut h, "the reference", Duration::from_secs(60), |h| {
        h.state().state.reference.is_some()
    });
    h.run_steps(2);
    let a = privact::imaging::load(&slice_path).unwrap();
    let b = privact::imaging::load(&reference_path).unwrap();

    // PSNR/SSIM against the reference, independently.
    let hu = a.units == privact::imaging::Units::Hu;
    let (x, y) = if hu {
        (abdomen_unit(&a.values), abdomen_unit(&b.values))
    } else {
        let (lo, hi) = b.min_max().unwrap();
        let s = |v: &[f32]| -> Vec<f32> {
            v.iter()
                .map(|&p| ((p - lo) / (hi - lo)).clamp(0.0, 1.0))
                .collect()
        };
        (s(&a.values), s(&b.values))
    };
    let psnr = privact::imaging::metrics::psnr(&y, &x, 1.0).unwrap();
    let ssim = privact::imaging::metrics::ssim(&y, &x, a.rows, a.cols, 1.0).unwrap();
    assert!(psnr.is_finite() && psnr > 10.0, "{psnr}");
    assert!(
        has(&h, &format!("PSNR Original vs reference: {psnr:.2} dB")),
        "PSNR {psnr:.2} shown"
    );
    assert!(
        has(&h, &format!("SSIM Original vs reference: {ssim:.4}")),
        "SSIM {ssim:.4} shown"
    );

    // Side by side: two panes, the same window, zoom and pan.
    h.get_by_label("Side by side").click();
    h.run_steps(3);
    assert!(h.state().state.compare.side_by_side);
    assert!(h.state().textures.compare.is_some(), "the second view");
    let same_placement = |p: &[([f32; 4], [f32; 4])]| {
        let (v0, i0) = p[0];
        let (v1, i1) = p[1];
        // Each image sits in its viewport at the same offset and size.
        (i0[0] - v0[0] - (i1[0] - v1[0])).abs() < 0.01
            && (i0[1] - v0[1] - (i1[1] - v1[1])).abs() < 0.01
            && (i0[2] - i1[2]).abs() < 0.01
            && (i0[3] - i1[3]).abs() < 0.01
    };
    let p = panes(&h);
    assert_eq!(p.len(), 2);
    assert!(same_placement(&p));
    let width = p[0].1[2];
    h.state_mut().apply(Intent::ZoomAt {
        factor: 2.0,
        cursor: [40.0, -30.0],
    });
    h.state_mut().apply(Intent::Pan { dx: 25.0, dy: 10.0 });
    h.run_steps(2);
    let p = panes(&h);
    assert!((p[0].1[2] - 2.0 * width).abs() < 0.01, "left zoomed ×2");
    assert!(same_placement(&p), "right zoomed and panned with it: {p:?}");
    assert!(has_containing(&h, "zoom 200 %"));
    // One window for both textures.
    h.state_mut()
        .apply(Intent::DragWindow { dx: 30.0, dy: 0.0 });
    h.run_steps(2);
    let (k0, k1) = (
        h.state().textures.slice.as_ref().unwrap().0,
        h.state().textures.compare.as_ref().unwrap().0,
    );
    assert_eq!(k0.window, k1.window, "one window for both panes");
    assert_eq!(
        (k0.display, k1.display),
        (Display::Original, Display::Reference)
    );
    assert!(
        has_containing(&h, "loaded reference"),
        "the right pane is labelled"
    );

    // The same ROI on both views, each with its own values.
    let shape = privact::imaging::roi::Shape::Circle {
        centre: [a.cols as f64 / 2.0, a.rows as f64 / 2.0],
        radius: a.cols as f64 / 8.0,
    };
    h.state_mut().apply(Intent::SetRoi(Some(shape)));
    h.run_steps(2);
    let units = if hu { "HU" } else { "8-bit grey level" };
    for (view, values) in [("Original", &a.values), ("Reference", &b.values)] {
        let (mean, sd, ..) = circle_stats(
            values,
            a.cols,
            [a.cols as f64 / 2.0, a.rows as f64 / 2.0],
            a.cols as f64 / 8.0,
        );
        let text = format!("ROI {view} mean ± SD: {mean:.1} ± {sd:.1} {units}");
        assert!(has(&h, &text), "shows {text}");
    }

    // Flicker: one pane, alternating between the pair.
    h.get_by_label("Flicker").click();
    h.run_steps(2);
    let st = &h.state().state;
    assert!(st.compare.flicker && !st.compare.side_by_side);
    assert_eq!(st.display, Display::Original);
    h.state_mut().apply(Intent::FlickerSwap);
    h.run_steps(2);
    assert_eq!(h.state().state.display, Display::Reference);
    assert!(has_containing(&h, "flicker: loaded reference"));
    assert_eq!(panes(&h).len(), 1);
    h.state_mut().apply(Intent::FlickerSwap);
    assert_eq!(h.state().state.display, Display::Original);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 20: no text below 11 points, coloured text readable, and at 1280×720 the overlays
/// and the main buttons inside the window.
#[test]
fn text_is_legible_and_nothing_is_clipped_at_1280_by_720() {
    let mut h = harness_sized([1280.0, 720.0]);
    loaded(&mut h);
    h.state_mut().apply(Intent::ToggleTheme);
    h.run_steps(3);
    let style = h.ctx.global_style();
    for (name, font) in &style.text_styles {
        assert!(
            font.size >= privact::app::MIN_TEXT_POINTS,
            "{name:?} is {} points",
            font.size
        );
    }
    let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1280.0, 720.0));
    for label in [
        "W:400 L:40",
        "Run encrypted classification",
        "Open file…",
        "Circle ROI",
    ] {
        let r = h.get_by_label(label).rect();
        assert!(
            screen.contains_rect(r) && r.width() > 5.0,
            "{label} at {r:?} is inside 1280×720"
        );
    }
    // The four corner overlays do not collide.
    let rects: Vec<egui::Rect> = ["W:400 L:40", "hover for HU"]
        .iter()
        .map(|l| h.get_by_label(l).rect())
        .chain(
            h.query_all_by_label_contains("zoom 100 %")
                .map(|n| n.rect()),
        )
        .chain(
            h.query_all_by_label_contains("double-click resets")
                .map(|n| n.rect()),
        )
        .collect();
    assert_eq!(rects.len(), 4);
    // Left overlays share the left margin, right ones the right margin, top above bottom.
    let [tl, bl, tr, br] = [rects[0], rects[1], rects[2], rects[3]];
    assert!((tl.left() - bl.left()).abs() < 2.0, "{tl:?} / {bl:?}");
    assert!((tr.right() - br.right()).abs() < 2.0, "{tr:?} / {br:?}");
    assert!(tl.bottom() < bl.top() && tr.bottom() < br.top());
    assert!(tl.right() < tr.left() && bl.right() < br.left());
    for i in 0..rects.len() {
        for j in i + 1..rects.len() {
            assert!(
                !rects[i].intersects(rects[j]),
                "{:?} and {:?}",
                rects[i],
                rects[j]
            );
        }
    }
}

/// Issue 20: the teaching report is one self-contained HTML file with the image as a PNG,
/// the result, the step ledger, the parameters and the keys, written atomically.
#[test]
fn the_teaching_report_is_one_self_contained_html_file() {
    let dir = common::temp_dir("viewer-report");
    let path = dir.join("report.html");
    let mut h = harness();
    loaded(&mut h);
    h.state_mut()
        .apply(Intent::SetRoi(Some(privact::imaging::roi::Shape::Rect {
            a: [100.0, 100.0],
            b: [140.0, 120.0],
        })));
    h.state_mut().apply(Intent::ExportReportTo(path.clone()));
    step_until(&mut h, "the report", Duration::from_secs(60), |h| {
        has_containing(h, "Exported report.html")
    });
    let html = std::fs::read_to_string(&path).unwrap();
    for part in [
        "<!DOCTYPE html>",
        "<h2>Image</h2>",
        "data:image/png;base64,iVBORw0KGgo",
        "<h2>ROI measurement</h2>",
        "<td>800</td>",
        "<h2>Result</h2>",
        "<h2>Step ledger</h2>",
        "Evaluate on ciphertext",
        "<h2>CKKS parameters</h2>",
        "Ring degree N",
        "<h2>Key inventory and sizes</h2>",
        "Galois (rotation) keys",
        "never leaves this machine",
    ] {
        assert!(html.contains(part), "the report has {part}");
    }
    assert!(!html.contains("PHANTOM^ABDOMEN"), "no patient name");
    assert!(!html.contains("src=\"http"), "nothing external");
    // No temporary file is left beside it.
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(left.len(), 1, "{left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 20, teaching aids: hovering a CKKS term of the parameter card or the key inventory
/// explains it; opening a file remembers its folder (never the file) for the next dialog.
#[test]
fn ckks_terms_are_explained_on_hover_and_the_last_folder_is_remembered() {
    let mut h = harness();
    loaded(&mut h);
    for (term, says) in [
        ("Ring degree N", "N coefficients"),
        ("Slots", "like SIMD"),
        ("Levels", "uses one level"),
        ("Scale", "log2 Δ bits"),
        ("Modulus", "log QP adds the special primes"),
        ("Galois (rotation) keys", "rotate the slots"),
    ] {
        h.query_all_by_label(term)
            .next()
            .unwrap_or_else(|| panic!("{term} is shown"))
            .hover();
        // Tooltips appear once the pointer has rested (egui's tooltip delay).
        let t = Instant::now();
        while !has_containing(&h, says) {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "no explanation of {term}"
            );
            h.step();
        }
    }

    let dir = common::temp_dir("viewer-last-folder");
    let file = dir.join("phantom.dcm");
    let (code, _, err) = common::privact(&["phantom", "--out", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    open(&mut h, &file, 1);
    let remembered = h.state().prefs.last_folder.clone();
    assert_eq!(PathBuf::from(&remembered), dir);
    assert!(
        !remembered.contains("phantom.dcm"),
        "the folder, not the file"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 20: error messages never cover a panel's controls, even at 1280×720 where the image
/// area is narrow: the message sits between the left panel and the pipeline panel.
#[test]
fn an_error_message_stays_between_the_panels_at_1280_by_720() {
    let mut h = harness_sized([1280.0, 720.0]);
    loaded(&mut h);
    let dir = common::temp_dir("viewer-toast");
    let bad = dir.join("corrupt.dcm");
    std::fs::write(&bad, [0x42u8; 3000]).unwrap();
    h.state_mut().apply(Intent::LoadPath(bad));
    step_until(&mut h, "the error message", Duration::from_secs(30), |h| {
        has(h, "Dismiss error 1")
    });
    h.run_steps(3);
    let message = h.get_by_label_contains("not a DICOM file").rect();
    let button = h.get_by_label("Dismiss error 1").rect();
    let left_edge = h.get_by_label("Load built-in phantom").rect().max.x;
    let right_edge = h.get_by_label("Encrypted pipeline").rect().min.x;
    for r in [message, button] {
        assert!(
            r.min.x > left_edge && r.max.x < right_edge,
            "message {r:?} between the panels ({left_edge}, {right_edge})"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
