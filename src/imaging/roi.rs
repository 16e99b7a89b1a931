//! Region-of-interest statistics (mean ± SD, min/max, pixel count, area) over one image.
//!
//! Coordinates are continuous **image pixel coordinates**: x runs along the columns, y along
//! the rows, and pixel (row r, column c) covers the unit square [c, c+1) × [r, r+1), so its
//! centre is (c + 0.5, r + 0.5). A shape is therefore independent of zoom and pan, and the same
//! shape measures every view of a slice (original, simulated low dose, reference, denoised).
//!
//! **Which pixels count:** a pixel is inside when its *centre* lies inside the shape, boundary
//! included. Padding pixels (PS3.3 C.7.5.1.1.2) and non-finite values are left out of every
//! statistic and of the count.
//!
//! **Units:** the statistics are in the units of the values given (HU for CT in HU); the area
//! is the number of pixels inside × the pixel area (row spacing × column spacing, mm²), or
//! the pixel count in px² when the spacing is unknown.

/// A region in image pixel coordinates (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    /// Centre (x, y) and radius, in pixels.
    Circle { centre: [f64; 2], radius: f64 },
    /// Two opposite corners (x, y), in pixels, in any order.
    Rect { a: [f64; 2], b: [f64; 2] },
}

impl Shape {
    /// True when the point (x, y) lies inside the shape or on its boundary.
    pub fn contains(&self, x: f64, y: f64) -> bool {
        match *self {
            Shape::Circle { centre, radius } => {
                let (dx, dy) = (x - centre[0], y - centre[1]);
                dx * dx + dy * dy <= radius * radius
            }
            Shape::Rect { a, b } => {
                let (x0, x1) = (a[0].min(b[0]), a[0].max(b[0]));
                let (y0, y1) = (a[1].min(b[1]), a[1].max(b[1]));
                (x0..=x1).contains(&x) && (y0..=y1).contains(&y)
            }
        }
    }

    /// The (x_min, y_min, x_max, y_max) bounding box in pixels.
    pub fn bounds(&self) -> [f64; 4] {
        match *self {
            Shape::Circle { centre, radius } => {
                let r = radius.abs();
                [centre[0] - r, centre[1] - r, centre[0] + r, centre[1] + r]
            }
            Shape::Rect { a, b } => [
                a[0].min(b[0]),
                a[1].min(b[1]),
                a[0].max(b[0]),
                a[1].max(b[1]),
            ],
        }
    }

    /// Pixel indices (row, col) whose centres lie inside, within a rows × cols image.
    fn pixels(&self, rows: usize, cols: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let [x0, y0, x1, y1] = self.bounds();
        // Centres c + 0.5 in [x0, x1] ⇔ c in [x0 − 0.5, x1 − 0.5]; clamp to the image.
        let span = |lo: f64, hi: f64, n: usize| -> (usize, usize) {
            if !(lo.is_finite() && hi.is_finite()) || n == 0 {
                return (1, 0);
            }
            let first = (lo - 0.5).ceil().max(0.0);
            let last = (hi - 0.5).floor().min(n as f64 - 1.0);
            if last < first {
                (1, 0)
            } else {
                (first as usize, last as usize)
            }
        };
        let (c0, c1) = span(x0, x1, cols);
        let (r0, r1) = span(y0, y1, rows);
        (r0..=r1)
            .flat_map(move |r| (c0..=c1).map(move |c| (r, c)))
            .filter(move |&(r, c)| self.contains(c as f64 + 0.5, r as f64 + 0.5))
    }
}

/// Statistics of the pixels inside a shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoiStats {
    /// Pixels inside (padding and non-finite values excluded).
    pub count: usize,
    /// Arithmetic mean, in the values' units.
    pub mean: f64,
    /// Sample standard deviation (n − 1 in the denominator; 0 for a single pixel), as most
    /// DICOM viewers and ImageJ report it.
    pub sd: f64,
    pub min: f32,
    pub max: f32,
}

/// Statistics of `values` (row-major, `rows × cols`) inside `shape`; `padding`, when given,
/// flags pixels to leave out (same layout). `None` when no counted pixel is inside or the
/// slice length does not match `rows × cols`.
pub fn stats(
    values: &[f32],
    rows: usize,
    cols: usize,
    shape: &Shape,
    padding: Option<&[bool]>,
) -> Option<RoiStats> {
    if values.len() != rows.checked_mul(cols)? {
        return None;
    }
    let inside: Vec<f32> = shape
        .pixels(rows, cols)
        .filter_map(|(r, c)| {
            let i = r * cols + c;
            let pad = padding.is_some_and(|p| p.get(i).copied().unwrap_or(false));
            let v = values[i];
            (!pad && v.is_finite()).then_some(v)
        })
        .collect();
    // Two passes in f64 (the mean first) keep the SD exact enough for 12-bit HU.
    let mut count = 0usize;
    let mut sum = 0.0f64;
    let (mut min, mut max) = (f32::INFINITY, f32::NEG_INFINITY);
    for &v in &inside {
        count += 1;
        sum += f64::from(v);
        min = min.min(v);
        max = max.max(v);
    }
    if count == 0 {
        return None;
    }
    let mean = sum / count as f64;
    let ss: f64 = inside.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum();
    let sd = if count > 1 {
        (ss / (count - 1) as f64).sqrt()
    } else {
        0.0
    };
    Some(RoiStats {
        count,
        mean,
        sd,
        min,
        max,
    })
}

/// The area of `count` pixels: (value, unit) with unit "mm²" from the (row, column) pixel
/// spacing in mm, or "px²" when the spacing is unknown or not positive.
pub fn area(count: usize, spacing_mm: Option<[f64; 2]>) -> (f64, &'static str) {
    match spacing_mm {
        Some([r, c]) if r > 0.0 && c > 0.0 && r.is_finite() && c.is_finite() => {
            (count as f64 * r * c, "mm²")
        }
        _ => (count as f64, "px²"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force: every pixel of the image, its centre tested against the shape.
    fn brute(values: &[f32], rows: usize, cols: usize, shape: &Shape) -> Option<RoiStats> {
        let mut v = Vec::new();
        for r in 0..rows {
            for c in 0..cols {
                if shape.contains(c as f64 + 0.5, r as f64 + 0.5) {
                    v.push(f64::from(values[r * cols + c]));
                }
            }
        }
        if v.is_empty() {
            return None;
        }
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = if v.len() > 1 {
            v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        Some(RoiStats {
            count: v.len(),
            mean,
            sd: var.sqrt(),
            min: v.iter().copied().fold(f64::INFINITY, f64::min) as f32,
            max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max) as f32,
        })
    }

    #[test]
    fn rectangle_over_a_known_ramp() {
        // value = 10·row + col on 8 × 10; the rectangle covers centres of rows 2..=4 and
        // columns 3..=6 (corners given reversed on purpose).
        let (rows, cols) = (8, 10);
        let values: Vec<f32> = (0..rows * cols)
            .map(|i| (10 * (i / cols) + i % cols) as f32)
            .collect();
        let shape = Shape::Rect {
            a: [7.0, 5.0],
            b: [3.0, 2.0],
        };
        let s = stats(&values, rows, cols, &shape, None).unwrap();
        assert_eq!(s.count, 12);
        // Mean of 10r + c over r ∈ {2,3,4}, c ∈ {3,…,6}: 30 + 4.5 = 34.5.
        assert!((s.mean - 34.5).abs() < 1e-12);
        assert_eq!((s.min, s.max), (23.0, 46.0));
        // Sample variance: rows contribute 100·var{2,3,4}, columns var{3..6}; over the 12
        // pixels Σ(x − mean)² = 4·3·100·(2/3) + 3·4·(5/4) = 800 + 15 = 815, /11.
        assert!((s.sd - (815.0f64 / 11.0).sqrt()).abs() < 1e-12, "{}", s.sd);
    }

    #[test]
    fn circle_counts_pixel_centres_and_matches_brute_force() {
        let (rows, cols) = (40, 50);
        // A pseudo-random image (xorshift), so every statistic depends on the exact pixel set.
        let mut x = 0x2545F491u32;
        let values: Vec<f32> = (0..rows * cols)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x % 2000) as f32 - 1000.0
            })
            .collect();
        // Centred on a pixel centre with radius 1: the centre pixel and its 4 neighbours.
        let small = Shape::Circle {
            centre: [10.5, 20.5],
            radius: 1.0,
        };
        let s = stats(&values, rows, cols, &small, None).unwrap();
        assert_eq!(s.count, 5);
        let five = [
            values[20 * cols + 10],
            values[19 * cols + 10],
            values[21 * cols + 10],
            values[20 * cols + 9],
            values[20 * cols + 11],
        ];
        let mean = five.iter().map(|&v| f64::from(v)).sum::<f64>() / 5.0;
        assert!((s.mean - mean).abs() < 1e-9);
        for shape in [
            Shape::Circle {
                centre: [17.3, 12.9],
                radius: 9.7,
            },
            // Partly outside the image: only the pixels inside count.
            Shape::Circle {
                centre: [2.0, 3.0],
                radius: 6.0,
            },
            Shape::Rect {
                a: [-3.0, 30.2],
                b: [12.6, 44.0],
            },
        ] {
            let got = stats(&values, rows, cols, &shape, None).unwrap();
            let want = brute(&values, rows, cols, &shape).unwrap();
            assert_eq!(got.count, want.count, "{shape:?}");
            assert!((got.mean - want.mean).abs() < 1e-9, "{shape:?}");
            assert!((got.sd - want.sd).abs() < 1e-9, "{shape:?}");
            assert_eq!((got.min, got.max), (want.min, want.max), "{shape:?}");
        }
        // Wholly outside, or a slice of the wrong length: nothing to measure.
        let away = Shape::Circle {
            centre: [-20.0, -20.0],
            radius: 3.0,
        };
        assert_eq!(stats(&values, rows, cols, &away, None), None);
        assert_eq!(stats(&values[1..], rows, cols, &small, None), None);
    }

    #[test]
    fn padding_and_non_finite_values_are_left_out() {
        let mut values = vec![5.0f32; 16];
        values[5] = f32::NAN;
        values[6] = -3024.0;
        let mut pad = vec![false; 16];
        pad[6] = true;
        let all = Shape::Rect {
            a: [0.0, 0.0],
            b: [4.0, 4.0],
        };
        let s = stats(&values, 4, 4, &all, Some(&pad)).unwrap();
        assert_eq!(s.count, 14);
        assert_eq!((s.mean, s.sd, s.min, s.max), (5.0, 0.0, 5.0, 5.0));
    }

    #[test]
    fn area_from_spacing_or_in_pixels() {
        assert_eq!(area(100, Some([0.5, 0.8])), (40.0, "mm²"));
        assert_eq!(area(100, None), (100.0, "px²"));
        assert_eq!(area(7, Some([0.0, 1.0])), (7.0, "px²"));
    }
}
