//! Scale normalisation of the classifier's input: crop the model input to the patient's body.
//!
//! Why: in the kidney CT data (Islam et al. 2022) the reconstruction field of view differs by
//! class and series. The body covers on average 44 % of a `kidney-ct` *normal* image, 20 % of
//! a *cyst* image and 27 % of a *tumour* image (MODEL_CARD, "Body-size shortcut"), so a
//! network can learn the field of view instead of the kidneys, and fails on series and
//! scanners framed otherwise. Cropping every slice to a square around the body, with a fixed
//! margin, removes most of that difference before the network sees the image (a body that
//! already fills the frame is left as it is: never zoomed out).
//!
//! The body is the largest 4-connected component above [`BODY_LEVEL`] after an erosion that
//! removes the thin table lines under the patient.

use super::model_input::resample_area;

/// Intensity in [0, 1] above which a pixel may be body (−128 HU through W400/L40).
pub const BODY_LEVEL: f32 = 0.08;
/// Square side = this × the longer side of the body's bounding box.
pub const MARGIN: f64 = 1.08;
/// Erosion radius (pixels of a 256×256 image) that detaches the table from the body.
const ERODE: usize = 2;
/// Below this share of the image the "body" is too small to trust: no crop.
const MIN_BODY_SHARE: f64 = 0.01;

/// 4-connected components of `mask` (`side × side`, row-major): a label per pixel (0 =
/// background, components numbered from 1) and the size of each component (`sizes[l - 1]`).
/// Empty labels and sizes when `mask` is not `side × side`.
pub fn components(mask: &[bool], side: usize) -> (Vec<u32>, Vec<usize>) {
    let n = side * side;
    if mask.len() != n {
        return (Vec::new(), Vec::new());
    }
    let mut label = vec![0u32; n];
    let mut sizes = Vec::new();
    let mut stack = Vec::new();
    for start in 0..n {
        if !mask[start] || label[start] != 0 {
            continue;
        }
        let next = sizes.len() as u32 + 1;
        let mut size = 0usize;
        label[start] = next;
        stack.push(start);
        while let Some(p) = stack.pop() {
            size += 1;
            for q in neighbours4(p, side) {
                if mask[q] && label[q] == 0 {
                    label[q] = next;
                    stack.push(q);
                }
            }
        }
        sizes.push(size);
    }
    (label, sizes)
}

/// The largest 4-connected component of `mask` (`side × side`, row-major) as a mask; all
/// false when `mask` is empty.
pub fn largest_component(mask: &[bool], side: usize) -> Vec<bool> {
    let (label, sizes) = components(mask, side);
    if label.is_empty() {
        return vec![false; side * side];
    }
    // The first of equally large components, as before.
    let best = sizes
        .iter()
        .enumerate()
        .fold((0u32, 0usize), |(b, bs), (i, &s)| {
            if s > bs { (i as u32 + 1, s) } else { (b, bs) }
        })
        .0;
    label.iter().map(|&l| best != 0 && l == best).collect()
}

/// `mask` with its holes filled: every pixel not reachable from the image border through
/// pixels outside `mask` (4-connected) is set.
pub fn fill_holes(mask: &[bool], side: usize) -> Vec<bool> {
    let n = side * side;
    if mask.len() != n {
        return vec![false; n];
    }
    let mut outside = vec![false; n];
    let mut stack = Vec::new();
    for i in 0..side {
        for p in [i, (side - 1) * side + i, i * side, i * side + side - 1] {
            if !mask[p] && !outside[p] {
                outside[p] = true;
                stack.push(p);
            }
        }
    }
    while let Some(p) = stack.pop() {
        for q in neighbours4(p, side) {
            if !mask[q] && !outside[q] {
                outside[q] = true;
                stack.push(q);
            }
        }
    }
    outside.iter().map(|&o| !o).collect()
}

/// Where a mask lies: its pixel count, centroid and bounding box (pixels).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Extent {
    /// Number of set pixels.
    pub area: usize,
    /// Centroid, (column, row).
    pub centre: [f64; 2],
    /// First and last column with a set pixel.
    pub cols: (usize, usize),
    /// First and last row with a set pixel.
    pub rows: (usize, usize),
}

/// The [`Extent`] of `mask` (`side × side`, row-major), or `None` when nothing is set.
pub fn extent(mask: &[bool], side: usize) -> Option<Extent> {
    let (mut area, mut sx, mut sy) = (0usize, 0.0f64, 0.0f64);
    let (mut x0, mut x1, mut y0, mut y1) = (side, 0usize, side, 0usize);
    for (p, _) in mask.iter().enumerate().filter(|(_, m)| **m) {
        let (y, x) = (p / side, p % side);
        area += 1;
        (sx, sy) = (sx + x as f64, sy + y as f64);
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    (area > 0).then(|| Extent {
        area,
        centre: [sx / area as f64, sy / area as f64],
        cols: (x0, x1),
        rows: (y0, y1),
    })
}

/// The 4-connected neighbours of pixel `p` in a `side × side` image (row-major).
pub fn neighbours4(p: usize, side: usize) -> impl Iterator<Item = usize> {
    let (y, x) = (p / side, p % side);
    [
        (x > 0).then(|| p - 1),
        (x + 1 < side).then(|| p + 1),
        (y > 0).then(|| p - side),
        (y + 1 < side).then(|| p + side),
    ]
    .into_iter()
    .flatten()
}

/// Square crop window in pixels of the input: top-left corner (may be negative: padded with
/// air) and side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropBox {
    /// Left edge (column), may lie left of the image.
    pub x0: i64,
    /// Top edge (row), may lie above the image.
    pub y0: i64,
    /// Side of the square, pixels.
    pub side: usize,
}

/// The square around the body of a `side × side` image in [0, 1], or `None` when no body
/// covering at least 1 % of the image is found.
pub fn body_box(img: &[f32], side: usize) -> Option<CropBox> {
    if side == 0 || img.len() != side * side {
        return None;
    }
    let fg: Vec<bool> = img.iter().map(|&v| v > BODY_LEVEL).collect();
    let eroded = erode(&fg, side, ERODE);
    let body = largest_component(&eroded, side);
    let Extent {
        area,
        cols: (x0, x1),
        rows: (y0, y1),
        ..
    } = extent(&body, side)?;
    if (area as f64) < MIN_BODY_SHARE * (side * side) as f64 {
        return None;
    }
    // Undo the erosion on the box.
    let (x0, y0) = (x0.saturating_sub(ERODE), y0.saturating_sub(ERODE));
    let (x1, y1) = ((x1 + ERODE).min(side - 1), (y1 + ERODE).min(side - 1));
    let (w, h) = ((x1 - x0 + 1) as f64, (y1 - y0 + 1) as f64);
    let s = (w.max(h) * MARGIN).round().max(8.0) as usize;
    let (cx, cy) = ((x0 + x1 + 1) as f64 / 2.0, (y0 + y1 + 1) as f64 / 2.0);
    Some(CropBox {
        x0: (cx - s as f64 / 2.0).round() as i64,
        y0: (cy - s as f64 / 2.0).round() as i64,
        side: s,
    })
}

/// `img` (`side × side`, [0, 1]) cropped to [`body_box`] and resampled back to `side × side`
/// by area averaging; outside the image counts as air (0). Returned unchanged when no body is
/// found or the square would not be smaller than the image (no zooming out).
pub fn crop_to_body(img: &[f32], side: usize) -> Vec<f32> {
    let Some(b) = body_box(img, side).filter(|b| b.side < side) else {
        return img.to_vec();
    };
    let mut square = vec![0.0f32; b.side * b.side];
    for (r, row) in square.chunks_exact_mut(b.side).enumerate() {
        let sy = b.y0 + r as i64;
        if sy < 0 || sy >= side as i64 {
            continue;
        }
        for (c, v) in row.iter_mut().enumerate() {
            let sx = b.x0 + c as i64;
            if sx >= 0 && sx < side as i64 {
                *v = img[sy as usize * side + sx as usize];
            }
        }
    }
    resample_area(&square, b.side, b.side, side, side)
}

/// Binary erosion by a (2r+1)² square (separable min filter); outside the image is background.
fn erode(mask: &[bool], side: usize, r: usize) -> Vec<bool> {
    let inside = |k: usize| k >= r && k + r < side;
    let mut h = vec![false; mask.len()];
    for y in 0..side {
        for x in (0..side).filter(|&x| inside(x)) {
            h[y * side + x] = (x - r..=x + r).all(|k| mask[y * side + k]);
        }
    }
    let mut out = vec![false; mask.len()];
    for y in (0..side).filter(|&y| inside(y)) {
        for x in 0..side {
            out[y * side + x] = (y - r..=y + r).all(|k| h[k * side + x]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bright disc of radius `r` centred at (cx, cy) on a `side` image, plus a table line.
    fn disc(side: usize, cx: f64, cy: f64, r: f64, table: bool) -> Vec<f32> {
        (0..side * side)
            .map(|p| {
                let (y, x) = ((p / side) as f64, (p % side) as f64);
                if (x - cx).hypot(y - cy) <= r {
                    0.5
                } else if table && (p / side) == side - 10 {
                    0.9
                } else {
                    0.0
                }
            })
            .collect()
    }

    #[test]
    fn a_small_body_is_zoomed_to_fill_the_frame_and_the_table_is_ignored() {
        let img = disc(256, 100.0, 120.0, 40.0, true);
        let b = body_box(&img, 256).expect("body");
        // 81 px across (+2 erosion margin each side is undone exactly), × 1.08.
        assert!((85..=92).contains(&b.side), "{b:?}");
        assert!((b.x0 + b.side as i64 / 2 - 100).abs() <= 2, "{b:?}");
        assert!((b.y0 + b.side as i64 / 2 - 120).abs() <= 2, "{b:?}");
        let out = crop_to_body(&img, 256);
        let share = out.iter().filter(|&&v| v > 0.25).count() as f64 / out.len() as f64;
        // A disc inscribed in 1/1.08 of the square covers π/4/1.08² ≈ 0.67 of it.
        assert!((0.6..0.75).contains(&share), "{share}");
    }

    #[test]
    fn a_body_filling_the_frame_is_kept_and_blank_images_pass_through() {
        let full = vec![0.5f32; 64 * 64];
        let b = body_box(&full, 64).expect("body");
        assert!(b.side >= 64);
        assert_eq!(crop_to_body(&full, 64), full, "never zoomed out");
        let blank = vec![0.0f32; 64 * 64];
        assert_eq!(body_box(&blank, 64), None);
        assert_eq!(crop_to_body(&blank, 64), blank);
        assert_eq!(body_box(&[0.5; 10], 64), None);
    }

    #[test]
    fn cropping_twice_changes_little() {
        let img = disc(128, 50.0, 70.0, 20.0, false);
        let once = crop_to_body(&img, 128);
        let twice = crop_to_body(&once, 128);
        let diff = once
            .iter()
            .zip(&twice)
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / once.len() as f32;
        assert!(diff < 0.02, "{diff}");
    }
}
