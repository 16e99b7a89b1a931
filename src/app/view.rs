//! Pure view math (no egui types in the signatures that tests need): window/level dragging,
//! image placement with zoom and pan, the pixel under the cursor, and number formatting.

use crate::imaging::window::Window;
use crate::imaging::{Slice, Units};

/// Window width/level change for a mouse drag of (dx, dy) screen points:
/// right widens, down raises the level. Sensitivity grows with the width so that both the
/// Brain (W80) and the Bone (W2000) windows stay controllable.
pub fn drag_window(w: Window, dx: f32, dy: f32) -> Window {
    let gain = (w.width / 400.0).clamp(0.25, 5.0);
    Window {
        width: (w.width + f64::from(dx) * 2.0 * gain).clamp(1.0, 10_000.0),
        center: (w.center + f64::from(dy) * gain).clamp(-3000.0, 8000.0),
    }
}

/// The overlay text, e.g. "W:400 L:40".
pub fn window_label(w: Window) -> String {
    format!("W:{:.0} L:{:.0}", w.width, w.center)
}

/// Zoom and pan of the image inside its viewport.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ViewTransform {
    /// 1 = fit to the viewport.
    pub zoom: f32,
    /// Offset of the image centre from the viewport centre, in points.
    pub pan: [f32; 2],
}

impl Default for ViewTransform {
    fn default() -> Self {
        ViewTransform {
            zoom: 1.0,
            pan: [0.0, 0.0],
        }
    }
}

impl ViewTransform {
    pub fn zoomed(self, factor: f32) -> Self {
        ViewTransform {
            zoom: (self.zoom * factor).clamp(0.1, 40.0),
            ..self
        }
    }

    /// Zoom by `factor` keeping the image point under the cursor still: `cursor` is the
    /// cursor's offset from the viewport centre, in points.
    pub fn zoomed_at(self, factor: f32, cursor: [f32; 2]) -> Self {
        let z = self.zoomed(factor);
        // The image centre sits at pan; a point at offset d from it moves to d·(z'/z).
        let f = z.zoom / self.zoom;
        ViewTransform {
            zoom: z.zoom,
            pan: [
                cursor[0] - (cursor[0] - self.pan[0]) * f,
                cursor[1] - (cursor[1] - self.pan[1]) * f,
            ],
        }
    }

    pub fn panned(self, dx: f32, dy: f32) -> Self {
        ViewTransform {
            pan: [self.pan[0] + dx, self.pan[1] + dy],
            ..self
        }
    }

    /// Image rectangle (min x, min y, width, height) for a `rows`×`cols` image inside the
    /// viewport (x, y, w, h), preserving the pixel aspect ratio `aspect` = row/column spacing.
    pub fn image_rect(
        &self,
        viewport: [f32; 4],
        rows: usize,
        cols: usize,
        aspect: f32,
    ) -> [f32; 4] {
        let [vx, vy, vw, vh] = viewport;
        let (iw, ih) = (cols.max(1) as f32, rows.max(1) as f32 * aspect.max(1e-3));
        let fit = (vw / iw).min(vh / ih).max(1e-6) * self.zoom;
        let (w, h) = (iw * fit, ih * fit);
        let cx = vx + vw / 2.0 + self.pan[0];
        let cy = vy + vh / 2.0 + self.pan[1];
        [cx - w / 2.0, cy - h / 2.0, w, h]
    }
}

/// (row, col) of the pixel under screen point (x, y), if inside the image rectangle.
pub fn pixel_at(
    rect: [f32; 4],
    rows: usize,
    cols: usize,
    x: f32,
    y: f32,
) -> Option<(usize, usize)> {
    let [rx, ry, rw, rh] = rect;
    if rw <= 0.0 || rh <= 0.0 {
        return None;
    }
    let u = (x - rx) / rw;
    let v = (y - ry) / rh;
    if !(0.0..1.0).contains(&u) || !(0.0..1.0).contains(&v) {
        return None;
    }
    let col = ((u * cols as f32) as usize).min(cols.saturating_sub(1));
    let row = ((v * rows as f32) as usize).min(rows.saturating_sub(1));
    Some((row, col))
}

/// Continuous image pixel coordinates (x along columns, y along rows; pixel (r, c) covers
/// [c, c+1) × [r, r+1)) of screen point (x, y), for the image drawn in `rect`; not clamped.
pub fn image_coords(rect: [f32; 4], rows: usize, cols: usize, x: f32, y: f32) -> [f64; 2] {
    let [rx, ry, rw, rh] = rect;
    [
        f64::from((x - rx) / rw.max(1e-6)) * cols as f64,
        f64::from((y - ry) / rh.max(1e-6)) * rows as f64,
    ]
}

/// The screen point of image pixel coordinates `p` (the inverse of [`image_coords`]).
pub fn screen_point(rect: [f32; 4], rows: usize, cols: usize, p: [f64; 2]) -> [f32; 2] {
    let [rx, ry, rw, rh] = rect;
    [
        rx + (p[0] / cols.max(1) as f64) as f32 * rw,
        ry + (p[1] / rows.max(1) as f64) as f32 * rh,
    ]
}

/// A scale bar for `points_per_mm` screen points per millimetre: (length in mm, length in
/// points), the length being 1, 2 or 5 × 10^k mm and the bar at most `max_points` long
/// (at least a fifth of it). `None` for a non-positive scale.
pub fn scale_bar(points_per_mm: f32, max_points: f32) -> Option<(f64, f32)> {
    if !(points_per_mm > 0.0 && points_per_mm.is_finite() && max_points > 0.0) {
        return None;
    }
    let max_mm = f64::from(max_points / points_per_mm);
    let mut unit = 10f64.powf(max_mm.log10().floor());
    let mm = loop {
        if let Some(&m) = [5.0, 2.0, 1.0].iter().find(|&&m| m * unit <= max_mm) {
            break m * unit;
        }
        unit /= 10.0;
    };
    Some((mm, (mm * f64::from(points_per_mm)) as f32))
}

/// "50 mm", "5 cm", "0.5 mm".
pub fn fmt_mm(mm: f64) -> String {
    if mm >= 10.0 && (mm / 10.0).fract() == 0.0 {
        format!("{:.0} cm", mm / 10.0)
    } else if mm >= 1.0 {
        format!("{mm:.0} mm")
    } else {
        format!("{mm} mm")
    }
}

/// The patient direction of a unit vector in DICOM patient coordinates (LPS: +x = left,
/// +y = posterior, +z = head), as up to three letters, strongest first (e.g. "L", "LP",
/// "HL"); components below 0.25 are left out.
pub fn direction_letters(v: [f64; 3]) -> String {
    let mut parts: Vec<(f64, char)> = [
        (v[0], if v[0] > 0.0 { 'L' } else { 'R' }),
        (v[1], if v[1] > 0.0 { 'P' } else { 'A' }),
        (v[2], if v[2] > 0.0 { 'H' } else { 'F' }),
    ]
    .into_iter()
    .filter(|(c, _)| c.abs() >= 0.25)
    .collect();
    parts.sort_by(|a, b| b.0.abs().total_cmp(&a.0.abs()));
    parts.into_iter().map(|(_, l)| l).collect()
}

/// Labels for the image edges [left, right, top, bottom] from ImageOrientationPatient
/// (row direction = towards increasing column, then column direction = towards increasing
/// row). `None` when a direction is degenerate.
pub fn orientation_labels(iop: [f64; 6]) -> Option<[String; 4]> {
    let row = [iop[0], iop[1], iop[2]];
    let col = [iop[3], iop[4], iop[5]];
    let neg = |v: [f64; 3]| [-v[0], -v[1], -v[2]];
    let labels = [
        direction_letters(neg(row)),
        direction_letters(row),
        direction_letters(neg(col)),
        direction_letters(col),
    ];
    labels.iter().all(|l| !l.is_empty()).then_some(labels)
}

/// The unit name of values: "HU", "raw pixel value", "8-bit grey level".
pub fn units_name(units: Units) -> &'static str {
    match units {
        Units::Hu => "HU",
        Units::Raw => "raw pixel value",
        Units::Windowed8Bit => "8-bit grey level",
    }
}

/// The readout under the cursor, e.g. "x 120 y 88: 42 HU".
/// Padding pixels (PS3.3 C.7.5.1.1.2) read "outside the image", not as a value.
pub fn value_readout(slice: &Slice, row: usize, col: usize) -> Option<String> {
    let v = slice.get(row, col)?;
    if slice.is_padding(row * slice.cols + col) {
        return Some(format!("x {col} y {row}: outside the image (padding)"));
    }
    Some(readout(row, col, v, slice.units))
}

/// The readout text for a value already looked up (e.g. in a simulated image).
pub fn readout(row: usize, col: usize, v: f32, units: Units) -> String {
    let unit = match units {
        Units::Hu => " HU",
        Units::Raw => " (raw)",
        Units::Windowed8Bit => " (8-bit grey)",
    };
    format!("x {col} y {row}: {v:.0}{unit}")
}

/// Bytes in binary units with three significant digits: "512 B", "1.50 KiB", "3.86 MiB".
pub fn fmt_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$} {}", UNITS[i])
}

/// Durations: "850 ms", "4.2 s", "2 min 05 s".
pub fn fmt_seconds(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        "–".into()
    } else if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else if s < 60.0 {
        format!("{s:.1} s")
    } else {
        let m = (s / 60.0).floor();
        format!("{m:.0} min {:02.0} s", s - 60.0 * m)
    }
}

/// "×7.9" (or "×1,234" for big ratios).
pub fn fmt_ratio(num: f64, den: f64) -> String {
    if den <= 0.0 || !num.is_finite() || !den.is_finite() {
        return "–".into();
    }
    let r = num / den;
    if r >= 1000.0 {
        format!("×{}", group_thousands(r.round() as u64))
    } else if r >= 10.0 {
        format!("×{r:.0}")
    } else {
        format!("×{r:.1}")
    }
}

/// 1234567 → "1,234,567".
pub fn group_thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A hex dump excerpt: `rows` lines of 16 bytes with offsets.
pub fn hex_excerpt(bytes: &[u8], rows: usize) -> String {
    bytes
        .chunks(16)
        .take(rows)
        .enumerate()
        .map(|(i, line)| {
            let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
            format!("{:06x}  {}", i * 16, hex.join(" "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dragging_right_widens_and_down_raises_level() {
        let w = drag_window(Window::ABDOMEN, 10.0, 0.0);
        assert_eq!(w.center, 40.0);
        assert!(w.width > 400.0);
        let w = drag_window(Window::ABDOMEN, 0.0, 10.0);
        assert_eq!(w.width, 400.0);
        assert!(w.center > 40.0);
        let narrow = drag_window(Window::new(40.0, 5.0), -1000.0, 0.0);
        assert_eq!(narrow.width, 1.0, "width never drops below 1");
        assert_eq!(window_label(Window::ABDOMEN), "W:400 L:40");
        assert_eq!(window_label(Window::new(-600.0, 1500.0)), "W:1500 L:-600");
    }

    #[test]
    fn image_rect_fits_and_centres() {
        let t = ViewTransform::default();
        // 512×512 image in a 1000×500 viewport: 500×500, centred horizontally.
        let r = t.image_rect([0.0, 0.0, 1000.0, 500.0], 512, 512, 1.0);
        assert_eq!(r, [250.0, 0.0, 500.0, 500.0]);
        let r =
            t.zoomed(2.0)
                .panned(10.0, 0.0)
                .image_rect([0.0, 0.0, 1000.0, 500.0], 512, 512, 1.0);
        assert_eq!(r, [10.0, -250.0, 1000.0, 1000.0]);
    }

    #[test]
    fn pixel_under_cursor_and_readout() {
        let rect = [100.0, 100.0, 200.0, 100.0]; // 4 rows × 8 cols at 25 points per pixel
        assert_eq!(pixel_at(rect, 4, 8, 100.0, 100.0), Some((0, 0)));
        assert_eq!(pixel_at(rect, 4, 8, 299.9, 199.9), Some((3, 7)));
        assert_eq!(pixel_at(rect, 4, 8, 126.0, 151.0), Some((2, 1)));
        assert_eq!(pixel_at(rect, 4, 8, 99.0, 150.0), None);
        assert_eq!(pixel_at(rect, 4, 8, 300.0, 150.0), None);
        let slice = Slice::from_values(2, 2, vec![-1000.0, 40.4, 0.0, 1.0], Units::Hu);
        assert_eq!(value_readout(&slice, 0, 1).unwrap(), "x 1 y 0: 40 HU");
        assert_eq!(value_readout(&slice, 2, 0), None);
    }

    #[test]
    fn zoom_at_the_cursor_keeps_the_point_under_it() {
        let vp = [0.0, 0.0, 1000.0, 500.0];
        let t = ViewTransform::default().panned(30.0, -20.0);
        let cursor = [700.0f32, 100.0f32];
        let off = [cursor[0] - 500.0, cursor[1] - 250.0];
        let before = image_coords(
            t.image_rect(vp, 512, 512, 1.0),
            512,
            512,
            cursor[0],
            cursor[1],
        );
        for f in [2.0, 0.5, 1.37] {
            let z = t.zoomed_at(f, off);
            assert!((z.zoom - f).abs() < 1e-6);
            let after = image_coords(
                z.image_rect(vp, 512, 512, 1.0),
                512,
                512,
                cursor[0],
                cursor[1],
            );
            assert!((after[0] - before[0]).abs() < 1e-3 && (after[1] - before[1]).abs() < 1e-3);
        }
        // At the clamp the zoom stops and the pan stays consistent.
        let z = t.zoomed_at(1000.0, off);
        assert_eq!(z.zoom, 40.0);
        let p = screen_point(z.image_rect(vp, 512, 512, 1.0), 512, 512, before);
        assert!((p[0] - cursor[0]).abs() < 1e-2 && (p[1] - cursor[1]).abs() < 1e-2);
    }

    #[test]
    fn scale_bar_lengths_are_round() {
        // 0.7 mm pixels, 512 of them on 500 points: 500/358.4 points per mm.
        let ppm = 500.0 / (512.0 * 0.7);
        let (mm, pts) = scale_bar(ppm, 150.0).unwrap();
        assert_eq!(mm, 100.0);
        assert!((pts - 100.0 * ppm).abs() < 1e-3 && pts <= 150.0);
        assert_eq!(scale_bar(10.0, 150.0).unwrap().0, 10.0);
        assert_eq!(scale_bar(40.0, 150.0).unwrap().0, 2.0);
        assert_eq!(scale_bar(400.0, 150.0).unwrap().0, 0.2);
        assert_eq!(scale_bar(0.0, 150.0), None);
        assert_eq!(fmt_mm(100.0), "10 cm");
        assert_eq!(fmt_mm(5.0), "5 mm");
        assert_eq!(fmt_mm(0.5), "0.5 mm");
    }

    #[test]
    fn orientation_letters_from_the_dicom_geometry() {
        // Axial, patient supine: image right is the patient's left, image bottom posterior.
        let axial = orientation_labels([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]).unwrap();
        assert_eq!(axial, ["R", "L", "A", "P"].map(String::from));
        // Coronal: rows to the left, columns towards the feet.
        let coronal = orientation_labels([1.0, 0.0, 0.0, 0.0, 0.0, -1.0]).unwrap();
        assert_eq!(coronal, ["R", "L", "H", "F"].map(String::from));
        // Oblique: the strongest component first.
        assert_eq!(direction_letters([0.8, 0.0, 0.6]), "LH");
        assert_eq!(orientation_labels([0.0; 6]), None);
    }

    #[test]
    fn sizes_and_ratios() {
        assert_eq!(fmt_bytes(0), "0 B");
        assert_eq!(fmt_bytes(1023), "1023 B");
        assert_eq!(fmt_bytes(1536), "1.50 KiB");
        assert_eq!(fmt_bytes(512 * 1024), "512 KiB");
        assert_eq!(fmt_bytes(5_400_000), "5.15 MiB");
        assert_eq!(fmt_ratio(10.0, 4.0), "×2.5");
        assert_eq!(fmt_ratio(400.0, 4.0), "×100");
        assert_eq!(fmt_ratio(123_456.0, 1.0), "×123,456");
        assert_eq!(fmt_ratio(1.0, 0.0), "–");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
        assert_eq!(fmt_seconds(0.25), "250 ms");
        assert_eq!(fmt_seconds(4.21), "4.2 s");
        assert_eq!(fmt_seconds(125.0), "2 min 05 s");
        assert_eq!(
            hex_excerpt(&[0xab; 20], 2),
            "000000  ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab\n000010  ab ab ab ab"
        );
    }
}
