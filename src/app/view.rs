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
