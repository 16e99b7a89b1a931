//! Client-side tiling with halos. A slice is cut into tiles of `tile_h × tile_w` slots
//! (row-major; two tiles share a ciphertext, see `pack_pairs`); each tile carries a halo of R pixels (the model's
//! receptive-field radius) on every side, zeros outside the image. Rotations wrap around
//! inside a ciphertext, but only halo outputs are touched by the wrap, and those are
//! discarded: the inner `(tile_h−2R) × (tile_w−2R)` region equals the whole-image result.

use num_complex::Complex64;

use super::DenoiserError;
use super::plain::Denoiser;

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TilePlan {
    pub rows: usize,
    pub cols: usize,
    pub radius: usize,
    pub tile_h: usize,
    pub tile_w: usize,
    /// Top-left image pixel of each tile's inner region.
    pub tiles: Vec<(usize, usize)>,
}

impl TilePlan {
    /// The tile shape `(tile_h, tile_w)` for `slots` and a halo of `radius`: the power-of-two
    /// factorisation that needs the fewest tiles for a 256×256 slice. It depends only on the
    /// parameters and the model, so client and server agree on it (and on the rotation keys)
    /// before any image is seen.
    pub fn shape_for(slots: usize, radius: usize) -> Result<(usize, usize), DenoiserError> {
        if !slots.is_power_of_two() {
            return Err(DenoiserError::Tiling(format!(
                "{slots} slots is not a power of two"
            )));
        }
        let mut best: Option<(usize, usize, usize)> = None;
        let mut tile_w = 1;
        while tile_w <= slots {
            let tile_h = slots / tile_w;
            if tile_h > 2 * radius && tile_w > 2 * radius {
                let (ih, iw) = (tile_h - 2 * radius, tile_w - 2 * radius);
                let n = 256usize.div_ceil(ih) * 256usize.div_ceil(iw);
                if best.is_none_or(|(bn, _, _)| n < bn) {
                    best = Some((n, tile_h, tile_w));
                }
            }
            tile_w *= 2;
        }
        let (_, tile_h, tile_w) = best.ok_or_else(|| {
            DenoiserError::Tiling(format!("{slots} slots cannot hold a halo of {radius}"))
        })?;
        Ok((tile_h, tile_w))
    }

    /// The plan for a `rows × cols` image on `slots`-slot ciphertexts.
    pub fn new(
        rows: usize,
        cols: usize,
        radius: usize,
        slots: usize,
    ) -> Result<Self, DenoiserError> {
        let (tile_h, tile_w) = Self::shape_for(slots, radius)?;
        Self::with_shape(rows, cols, radius, tile_h, tile_w)
    }

    /// A plan with an explicit tile shape.
    pub fn with_shape(
        rows: usize,
        cols: usize,
        radius: usize,
        tile_h: usize,
        tile_w: usize,
    ) -> Result<Self, DenoiserError> {
        if rows == 0 || cols == 0 || rows > 8192 || cols > 8192 {
            return Err(DenoiserError::Tiling(format!(
                "unsupported {rows}×{cols} image"
            )));
        }
        if tile_h <= 2 * radius || tile_w <= 2 * radius {
            return Err(DenoiserError::Tiling(format!(
                "{tile_h}×{tile_w} tiles cannot hold a halo of {radius}"
            )));
        }
        let (ih, iw) = (tile_h - 2 * radius, tile_w - 2 * radius);
        let tiles = (0..rows.div_ceil(ih))
            .flat_map(|ty| (0..cols.div_ceil(iw)).map(move |tx| (ty * ih, tx * iw)))
            .collect();
        Ok(Self {
            rows,
            cols,
            radius,
            tile_h,
            tile_w,
            tiles,
        })
    }

    pub fn slots(&self) -> usize {
        self.tile_h * self.tile_w
    }
    pub fn inner_h(&self) -> usize {
        self.tile_h - 2 * self.radius
    }
    pub fn inner_w(&self) -> usize {
        self.tile_w - 2 * self.radius
    }

    /// The slot vector of tile `t` (halo included, zeros outside the image).
    pub fn extract(&self, image: &[f32], t: usize) -> Vec<f64> {
        let (r0, c0) = self.tiles[t];
        let r = self.radius as i64;
        let mut v = vec![0.0; self.slots()];
        for i in 0..self.tile_h {
            let y = r0 as i64 + i as i64 - r;
            if y < 0 || y >= self.rows as i64 {
                continue;
            }
            for j in 0..self.tile_w {
                let x = c0 as i64 + j as i64 - r;
                if x >= 0 && x < self.cols as i64 {
                    v[i * self.tile_w + j] = f64::from(image[y as usize * self.cols + x as usize]);
                }
            }
        }
        v
    }

    /// All tiles of an image (checks its size).
    pub fn layout(&self, image: &[f32]) -> Result<Vec<Vec<f64>>, DenoiserError> {
        if image.len() != self.rows * self.cols {
            return Err(DenoiserError::ImageShape {
                rows: self.rows,
                cols: self.cols,
                values: image.len(),
            });
        }
        Ok((0..self.tiles.len())
            .map(|t| self.extract(image, t))
            .collect())
    }

    /// Writes the inner region of tile `t` (given as `inner_h × inner_w` values) into `out`.
    fn place_inner(&self, out: &mut [f64], t: usize, inner: &[f64]) {
        let (r0, c0) = self.tiles[t];
        let iw = self.inner_w();
        for i in 0..self.inner_h().min(self.rows - r0) {
            for j in 0..iw.min(self.cols - c0) {
                out[(r0 + i) * self.cols + c0 + j] = inner[i * iw + j];
            }
        }
    }

    /// Reassembles an image from per-tile slot vectors (the halo is dropped).
    pub fn assemble(&self, tiles: &[Vec<f64>]) -> Result<Vec<f64>, DenoiserError> {
        if tiles.len() != self.tiles.len() {
            return Err(DenoiserError::Count {
                expected: self.tiles.len(),
                found: tiles.len(),
            });
        }
        let r = self.radius;
        let mut out = vec![0.0; self.rows * self.cols];
        for (t, v) in tiles.iter().enumerate() {
            if v.len() < self.slots() {
                return Err(DenoiserError::Count {
                    expected: self.slots(),
                    found: v.len(),
                });
            }
            let inner: Vec<f64> = (0..self.inner_h())
                .flat_map(|i| {
                    let start = (i + r) * self.tile_w + r;
                    v[start..start + self.inner_w()].iter().copied()
                })
                .collect();
            self.place_inner(&mut out, t, &inner);
        }
        Ok(out)
    }

    /// Plaintext tiled inference: each tile through the reference model independently.
    pub fn denoise_tiled(
        &self,
        model: &Denoiser,
        image: &[f32],
    ) -> Result<Vec<f64>, DenoiserError> {
        if model.radius() != self.radius {
            return Err(DenoiserError::Tiling(format!(
                "plan halo {} ≠ model radius {}",
                self.radius,
                model.radius()
            )));
        }
        let tiles = self.layout(image)?;
        let mut out = vec![0.0; self.rows * self.cols];
        for (t, v) in tiles.iter().enumerate() {
            let inner = model.forward_padded(v, self.tile_h, self.tile_w);
            self.place_inner(&mut out, t, &inner);
        }
        Ok(out)
    }
}

/// Tiles per ciphertext, for both models: two tiles share each slot vector, one in the real
/// and one in the imaginary parts. Rotations and real weights act on both alike and the bias
/// is added to both (`b + b·i`), so half as many ciphertexts travel each way. The
/// interactive model masks the two parts with independent masks (`he::mask_parts`), so the
/// client never sees the ratio of two values that share a slot.
pub const TILES_PER_CIPHERTEXT: usize = 2;

/// Ciphertexts that carry `tiles` tiles.
pub const fn packed_count(tiles: usize) -> usize {
    tiles.div_ceil(TILES_PER_CIPHERTEXT)
}

/// Two tiles per slot vector: tile `2k` in the real parts, tile `2k+1` in the imaginary
/// parts (zero for an odd last one).
pub fn pack_pairs(tiles: &[Vec<f64>]) -> Vec<Vec<Complex64>> {
    tiles
        .chunks(TILES_PER_CIPHERTEXT)
        .map(|pair| {
            let (re, im) = (&pair[0], pair.get(1));
            re.iter()
                .enumerate()
                .map(|(i, &r)| Complex64::new(r, im.and_then(|v| v.get(i)).copied().unwrap_or(0.0)))
                .collect()
        })
        .collect()
}

/// The inverse of [`pack_pairs`]: the first `tiles` real slot vectors.
///
/// Errors: `Count` when the vectors cannot hold `tiles` tiles.
pub fn unpack_pairs(
    packed: &[Vec<Complex64>],
    tiles: usize,
) -> Result<Vec<Vec<f64>>, DenoiserError> {
    if packed.len() != packed_count(tiles) {
        return Err(DenoiserError::Count {
            expected: packed_count(tiles),
            found: packed.len(),
        });
    }
    Ok(packed
        .iter()
        .flat_map(|v| {
            [
                v.iter().map(|z| z.re).collect::<Vec<f64>>(),
                v.iter().map(|z| z.im).collect(),
            ]
        })
        .take(tiles)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_round_trip_for_odd_and_even_counts() {
        for n in [1usize, 2, 5] {
            let tiles: Vec<Vec<f64>> = (0..n)
                .map(|t| (0..4).map(|i| (t * 10 + i) as f64).collect())
                .collect();
            let packed = pack_pairs(&tiles);
            assert_eq!(packed.len(), n.div_ceil(2));
            assert_eq!(unpack_pairs(&packed, n).unwrap(), tiles);
        }
        assert!(unpack_pairs(&[vec![Complex64::new(0.0, 0.0)]], 3).is_err());
    }
}
