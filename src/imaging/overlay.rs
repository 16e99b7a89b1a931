//! Colour overlays on a greyscale slice: a coarse grid of values (a class-activation map)
//! upsampled bilinearly, coloured with the perceptually uniform *inferno* map (Smith & van der
//! Walt's matplotlib colour maps, through the `colorous` crate) and alpha-blended.
//!
//! Knows nothing of models or encryption: it colours numbers on a grid.

/// The colour of `t` ∈ [0, 1] (clamped; NaN → 0) on the inferno map, as RGB.
pub fn inferno(t: f64) -> [u8; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let c = colorous::INFERNO.eval_continuous(t);
    [c.r, c.g, c.b]
}

/// Smallest and largest finite value of a grid; `None` if it has none.
pub fn finite_range(values: &[f64]) -> Option<(f64, f64)> {
    values
        .iter()
        .filter(|v| v.is_finite())
        .fold(None, |r, &v| match r {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// Bilinear sample of a `side × side` grid at normalised position (x, y) ∈ [0, 1]² with
/// cell centres at (i + 0.5)/side (edges clamp).
fn sample(grid: &[f64], side: usize, x: f64, y: f64) -> f64 {
    let at = |c: f64| (c * side as f64 - 0.5).clamp(0.0, (side - 1) as f64);
    let (fx, fy) = (at(x), at(y));
    let (x0, y0) = (fx.floor() as usize, fy.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(side - 1), (y0 + 1).min(side - 1));
    let (tx, ty) = (fx - x0 as f64, fy - y0 as f64);
    let g = |x: usize, y: usize| grid.get(y * side + x).copied().unwrap_or(f64::NAN);
    let top = g(x0, y0) * (1.0 - tx) + g(x1, y0) * tx;
    let bottom = g(x0, y1) * (1.0 - tx) + g(x1, y1) * tx;
    top * (1.0 - ty) + bottom * ty
}

/// The grid (`side × side`, row-major, covering the whole image) over a `rows × cols` 8-bit
/// grey image: RGB bytes, row-major. Values map linearly from `range` = (lo, hi) to the
/// colour map; the overlay's alpha is `opacity` × the normalised value, so low cells leave the
/// anatomy visible. An empty or mis-sized grid returns the grey image as RGB.
pub fn blend(
    grey: &[u8],
    rows: usize,
    cols: usize,
    grid: &[f64],
    side: usize,
    range: (f64, f64),
    opacity: f64,
) -> Vec<u8> {
    let valid = side > 0 && grid.len() == side * side;
    let span = (range.1 - range.0).max(1e-12);
    let mut out = Vec::with_capacity(rows * cols * 3);
    for r in 0..rows {
        for c in 0..cols {
            let g = f64::from(grey.get(r * cols + c).copied().unwrap_or(0));
            if !valid {
                out.extend([g as u8; 3]);
                continue;
            }
            let v = sample(
                grid,
                side,
                (c as f64 + 0.5) / cols as f64,
                (r as f64 + 0.5) / rows as f64,
            );
            let t = ((v - range.0) / span).clamp(0.0, 1.0);
            let t = if t.is_nan() { 0.0 } else { t };
            let a = opacity.clamp(0.0, 1.0) * t;
            let rgb = inferno(t);
            out.extend(rgb.map(|k| (g * (1.0 - a) + f64::from(k) * a).round() as u8));
        }
    }
    out
}

/// RGB bytes as PNG.
pub fn rgb_png(rows: usize, cols: usize, rgb: &[u8]) -> Result<Vec<u8>, super::ErrorKind> {
    let (Ok(w), Ok(h)) = (u32::try_from(cols), u32::try_from(rows)) else {
        return Err(super::ErrorKind::InvalidArgument(
            "image too large for PNG".into(),
        ));
    };
    let img = image::RgbImage::from_raw(w, h, rgb.to_vec()).ok_or_else(|| {
        super::ErrorKind::InvalidArgument("pixel count does not match size".into())
    })?;
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .map_err(|e| super::ErrorKind::Write(super::error::one_line(e)))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hot_cell_is_coloured_and_cold_cells_keep_the_anatomy() {
        let mut grid = vec![0.0; 16];
        grid[5] = 2.0; // cell (1, 1) of a 4×4 grid
        let grey = vec![100u8; 32 * 32];
        let rgb = blend(&grey, 32, 32, &grid, 4, (0.0, 2.0), 0.8);
        let px = |r: usize, c: usize| &rgb[(r * 32 + c) * 3..(r * 32 + c) * 3 + 3];
        // Centre of cell (1, 1) is pixel (12, 12): bright, not grey.
        assert_ne!(px(12, 12), [100, 100, 100]);
        assert!(px(12, 12)[0] > 150, "{:?}", px(12, 12));
        // A far cold cell stays exactly grey (alpha 0).
        assert_eq!(px(28, 28), [100, 100, 100]);
        assert_eq!(finite_range(&grid), Some((0.0, 2.0)));
        assert_eq!(finite_range(&[f64::NAN]), None);
        // A mis-sized grid leaves the image grey.
        assert_eq!(
            blend(&grey, 32, 32, &grid[..3], 4, (0.0, 1.0), 1.0)[..3],
            [100; 3]
        );
    }

    #[test]
    fn inferno_runs_dark_to_bright() {
        let lum = |c: [u8; 3]| u32::from(c[0]) + u32::from(c[1]) + u32::from(c[2]);
        assert!(lum(inferno(0.0)) < lum(inferno(0.5)));
        assert!(lum(inferno(0.5)) < lum(inferno(1.0)));
        assert_eq!(inferno(f64::NAN), inferno(0.0));
    }
}
