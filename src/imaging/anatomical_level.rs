//! Anatomical level of an axial CT slice in Hounsfield units: chest, pelvis, or neither.
//!
//! Why: the kidney classifier answers for any slice, and the rules on the abdomen-windowed
//! image ([`super::input_check`]) cannot tell a slice through the kidneys from one through
//! the lungs or the hips. With HU known, two tissues that kidney-level slices lack are easy
//! to measure:
//!
//! - **Lungs**: air (below −400 HU) filling the back of both sides of the body. At kidney
//!   level the air inside the body is bowel gas, in front and rarely on both sides.
//! - **Wide bone**: bone (above 300 HU after a 3×3 mean) in large pieces far from the
//!   midline. At kidney level the large bone is the spine; the iliac wings and the hips
//!   (pelvis, below the kidneys) and the shoulder girdle (above) reach far to the sides.
//!   Ribs are small in cross-section and excluded by the size limit.
//!
//! Everything is measured on the slice resampled to 256×256 (area averaging, as the model
//! input), with sizes as fractions of the body's area so that no pixel spacing is needed.
//! The limits and how they were chosen and checked are in MODEL_CARD.md › Input check.
//! Not covered: upper-abdominal slices (liver and spleen) above the kidneys, which have
//! neither lungs nor wide bone.

use super::body_crop::{Extent, components, extent, fill_holes, largest_component};
use super::model_input::{MODEL_SIDE, resample_area};

/// HU above which a pixel may belong to the body (fat is about −100 HU).
const BODY_HU: f32 = -300.0;
/// HU below which a pixel inside the body is air (lung parenchyma is −900 to −500 HU).
const AIR_HU: f32 = -400.0;
/// HU above which a 3×3 mean is bone (cancellous bone of older adults is 150–250 HU, cortex
/// above 700; the mean of 3×3 keeps quarter-dose noise from splitting an iliac wing).
const BONE_HU: f32 = 300.0;
/// Least size of an air component counted as lung, fraction of the body's area.
const MIN_LUNG_PART: f64 = 0.005;
/// Least size of a bone component counted, fraction of the body's area (a rib's cross-section
/// is about 0.1 %).
const MIN_BONE_PART: f64 = 0.003;

/// What [`measure`] finds on one slice.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LevelFeatures {
    /// Width of the body (bounding box), mm, when the pixel spacing is known (adult abdomen at
    /// kidney level: 250–400 mm; neck about 130 mm).
    pub body_width_mm: Option<f64>,
    /// Share of the back half of the body covered by large air components, the smaller of
    /// the left and right sides (0 at kidney level, 0.04–0.42 through the lungs).
    pub lung_share: f64,
    /// How far from the body's centre line large bone reaches, as a fraction of half the
    /// body's width (spine alone: below 0.25; iliac wings, hips, shoulders: above 0.65).
    pub lateral_bone: f64,
}

/// How a slice is laid out: its size, and what the image directions mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometry {
    /// Rows of the HU array (row-major).
    pub rows: usize,
    /// Columns of the HU array.
    pub cols: usize,
    /// Row and column spacing, mm, when known (DICOM Pixel Spacing).
    pub pixel_spacing_mm: Option<[f64; 2]>,
    /// True when the image's downward direction points to the patient's back (the usual
    /// display; DICOM column direction with a positive y component).
    pub posterior_down: bool,
}

/// Measures [`LevelFeatures`] on a slice of HU values laid out as `g` says.
/// `None` when the slice has no body (nothing above −300 HU) or the sizes do not match.
pub fn measure(hu: &[f32], g: Geometry) -> Option<LevelFeatures> {
    let (rows, cols) = (g.rows, g.cols);
    if rows == 0 || cols == 0 || hu.len() != rows * cols {
        return None;
    }
    let side = MODEL_SIDE;
    let img = resample_area(hu, rows, cols, side, side);
    let body = fill_columns(
        &fill_holes(
            &largest_component(&img.iter().map(|&v| v > BODY_HU).collect::<Vec<_>>(), side),
            side,
        ),
        side,
    );
    let Extent {
        area,
        centre: [cx, cy],
        cols: (x0, x1),
        ..
    } = extent(&body, side)?;
    let half_width = (x1 - x0 + 1) as f64 / 2.0;
    Some(LevelFeatures {
        body_width_mm: g
            .pixel_spacing_mm
            .map(|[_, sx]| 2.0 * half_width * sx * cols as f64 / side as f64),
        lung_share: lung_share(&img, &body, area, (cx, cy), g.posterior_down),
        lateral_bone: lateral_bone(&img, &body, area, cx) / half_width,
    })
}

/// `mask` with each column filled between its first and last set pixel. Why: when the field
/// of view cuts the chest wall off at the sides, the lungs reach the image border and are not
/// holes of the body; front and back walls still close them in every column. (Rows are not
/// filled: the gap between the trunk and an arm held at the side would become "lung".)
fn fill_columns(mask: &[bool], side: usize) -> Vec<bool> {
    let mut out = mask.to_vec();
    for x in 0..side {
        let set = |y: &usize| mask[y * side + x];
        if let (Some(top), Some(bottom)) = ((0..side).find(set), (0..side).rev().find(set)) {
            for y in top..=bottom {
                out[y * side + x] = true;
            }
        }
    }
    out
}

/// The smaller of the left and right back quarters' shares covered by air components of at
/// least [`MIN_LUNG_PART`] of the body.
fn lung_share(
    img: &[f32],
    body: &[bool],
    area: usize,
    (cx, cy): (f64, f64),
    posterior_down: bool,
) -> f64 {
    let side = MODEL_SIDE;
    let air: Vec<bool> = img
        .iter()
        .zip(body)
        .map(|(&v, &b)| b && v < AIR_HU)
        .collect();
    let (label, sizes) = components(&air, side);
    let min_size = MIN_LUNG_PART * area as f64;
    // [left, right] × (body pixels, lung pixels) in the back half.
    let mut count = [[0usize; 2]; 2];
    for p in (0..side * side).filter(|&p| body[p]) {
        let (y, x) = ((p / side) as f64, (p % side) as f64);
        if (y >= cy) != posterior_down {
            continue;
        }
        let s = usize::from(x >= cx);
        count[s][0] += 1;
        let l = label[p] as usize;
        if l > 0 && sizes[l - 1] as f64 >= min_size {
            count[s][1] += 1;
        }
    }
    let share = |[n, k]: [usize; 2]| k as f64 / n.max(1) as f64;
    share(count[0]).min(share(count[1]))
}

/// Largest distance (pixels) from the column `cx` of a pixel of a bone component of at least
/// [`MIN_BONE_PART`] of the body; 0 without such bone. One side is enough: on the pelvis
/// slices of `ldct-mayo` and of the series in MODEL_CARD, the bone of one side often falls
/// apart into pieces below the size limit. The price: a dense contrast-filled bowel loop far
/// to one side also counts (MODEL_CARD › Input check).
fn lateral_bone(img: &[f32], body: &[bool], area: usize, cx: f64) -> f64 {
    let side = MODEL_SIDE;
    let bone: Vec<bool> = (0..side * side)
        .map(|p| body[p] && mean3x3(img, side, p) > BONE_HU)
        .collect();
    let (label, sizes) = components(&bone, side);
    let min_size = MIN_BONE_PART * area as f64;
    (0..side * side)
        .filter(|&p| label[p] > 0 && sizes[label[p] as usize - 1] as f64 >= min_size)
        .map(|p| ((p % side) as f64 - cx).abs())
        .fold(0.0, f64::max)
}

/// Mean of the 3×3 neighbourhood of pixel `p` (the part inside the image).
fn mean3x3(img: &[f32], side: usize, p: usize) -> f32 {
    let (y, x) = (p / side, p % side);
    let (mut sum, mut n) = (0.0f32, 0.0f32);
    for yy in y.saturating_sub(1)..=(y + 1).min(side - 1) {
        for xx in x.saturating_sub(1)..=(x + 1).min(side - 1) {
            sum += img[yy * side + xx];
            n += 1.0;
        }
    }
    sum / n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(side: usize, posterior_down: bool) -> Geometry {
        Geometry {
            rows: side,
            cols: side,
            pixel_spacing_mm: None,
            posterior_down,
        }
    }

    /// A 256×256 HU slice: soft-tissue ellipse (body) with a spine, plus what `extra` paints.
    fn slice(extra: impl Fn(f64, f64) -> Option<f32>) -> Vec<f32> {
        let n = 256;
        (0..n * n)
            .map(|p| {
                let (x, y) = ((p % n) as f64 / n as f64, (p / n) as f64 / n as f64);
                if let Some(v) = extra(x, y) {
                    return v;
                }
                let in_body = ((x - 0.5) / 0.42).powi(2) + ((y - 0.5) / 0.3).powi(2) <= 1.0;
                let spine = (x - 0.5).hypot(y - 0.68) < 0.04;
                if spine {
                    700.0
                } else if in_body {
                    40.0
                } else {
                    -1000.0
                }
            })
            .collect()
    }

    fn lungs(x: f64, y: f64) -> Option<f32> {
        let lung = |cx: f64| ((x - cx) / 0.13).powi(2) + ((y - 0.5) / 0.2).powi(2) <= 1.0;
        (lung(0.3) || lung(0.7)).then_some(-850.0)
    }

    fn iliac_wings(x: f64, y: f64) -> Option<f32> {
        let wing = |cx: f64| ((x - cx) / 0.12).powi(2) + ((y - 0.62) / 0.03).powi(2) <= 1.0;
        (wing(0.25) || wing(0.75)).then_some(600.0)
    }

    #[test]
    fn a_kidney_level_like_slice_has_no_lungs_and_no_wide_bone() {
        let f = measure(&slice(|_, _| None), geometry(256, true)).expect("body");
        assert_eq!(f.lung_share, 0.0);
        assert!(f.lateral_bone > 0.05 && f.lateral_bone < 0.25, "{f:?}");
    }

    #[test]
    fn lungs_on_both_sides_are_measured_and_one_sided_gas_is_not() {
        let f = measure(&slice(lungs), geometry(256, true)).expect("body");
        assert!(f.lung_share > 0.2, "{f:?}");
        let gas = |x: f64, y: f64| ((x - 0.3).hypot(y - 0.6) < 0.1).then_some(-900.0f32);
        let g = measure(&slice(gas), geometry(256, true)).expect("body");
        assert_eq!(g.lung_share, 0.0, "one side only: {g:?}");
        // Air in front (top of the image) is not lung when the back is down…
        let front = |x: f64, y: f64| {
            let part = |cx: f64| ((x - cx) / 0.1).powi(2) + ((y - 0.38) / 0.08).powi(2) <= 1.0;
            (part(0.3) || part(0.7)).then_some(-850.0f32)
        };
        let f = measure(&slice(front), geometry(256, true)).unwrap();
        assert_eq!(f.lung_share, 0.0, "{f:?}");
        // …but is the back when the image is shown the other way up.
        let b = measure(&slice(front), geometry(256, false)).unwrap();
        assert!(b.lung_share > 0.05, "{b:?}");
    }

    #[test]
    fn lungs_reaching_the_image_border_still_count() {
        // A field of view that cuts the chest wall off at both sides: the lungs touch the
        // border and are no holes of the body, but front and back walls close them in.
        let cut = |x: f64, y: f64| {
            let lung = |cx: f64| ((x - cx) / 0.2).powi(2) + ((y - 0.5) / 0.2).powi(2) <= 1.0;
            if !(0.02..=0.98).contains(&x) {
                Some(-1000.0)
            } else {
                (lung(0.12) || lung(0.88)).then_some(-850.0f32)
            }
        };
        let f = measure(&slice(cut), geometry(256, true)).expect("body");
        assert!(f.lung_share > 0.2, "{f:?}");
    }

    #[test]
    fn the_body_width_needs_the_pixel_spacing() {
        let s = slice(|_, _| None);
        assert_eq!(
            measure(&s, geometry(256, true)).unwrap().body_width_mm,
            None
        );
        let g = Geometry {
            pixel_spacing_mm: Some([1.5, 1.25]),
            ..geometry(256, true)
        };
        // The ellipse spans 0.84 of the 256 columns of 1.25 mm: about 269 mm.
        let w = measure(&s, g).unwrap().body_width_mm.unwrap();
        assert!((w - 0.84 * 320.0).abs() < 4.0, "{w}");
    }

    #[test]
    fn iliac_wings_reach_far_from_the_midline_and_small_ribs_do_not_count() {
        let f = measure(&slice(iliac_wings), geometry(256, true)).expect("body");
        assert!(f.lateral_bone > 0.6, "{f:?}");
        let ribs = |x: f64, y: f64| {
            let rib = |cx: f64| (x - cx).hypot(y - 0.6) < 0.006;
            (rib(0.12) || rib(0.88)).then_some(800.0f32)
        };
        let r = measure(&slice(ribs), geometry(256, true)).expect("body");
        assert!(r.lateral_bone < 0.25, "{r:?}");
    }

    #[test]
    fn the_measurement_does_not_depend_on_the_matrix_size() {
        // 512×512 upsampled copy of the pelvis slice (nearest neighbour).
        let small = slice(iliac_wings);
        let big: Vec<f32> = (0..512 * 512)
            .map(|p| small[(p / 512 / 2) * 256 + (p % 512) / 2])
            .collect();
        let (a, b) = (
            measure(&small, geometry(256, true)).unwrap(),
            measure(&big, geometry(512, true)).unwrap(),
        );
        assert!(
            (a.lateral_bone - b.lateral_bone).abs() < 0.02,
            "{a:?} {b:?}"
        );
    }

    #[test]
    fn no_body_or_a_wrong_size_gives_none() {
        assert_eq!(measure(&vec![-1000.0; 64 * 64], geometry(64, true)), None);
        assert_eq!(measure(&[0.0; 10], geometry(64, true)), None);
        assert_eq!(measure(&[], geometry(0, true)), None);
    }
}
