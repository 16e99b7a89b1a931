//! Stored pixel samples → one grey value per pixel.
//!
//! Works on little-endian frame bytes as produced by the loader (native data
//! normalised to LE, or codec output). Masks to BitsStored, sign-extends
//! signed data, and reduces colour to luma so every image becomes a slice.

use crate::imaging::error::ErrorKind;

/// Photometric interpretation, as far as this layer cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Photometric {
    Monochrome1,
    Monochrome2,
    Rgb,
    YbrFull,
    YbrFull422,
    Palette,
    Other(String),
}

impl Photometric {
    pub fn parse(s: Option<&str>) -> Photometric {
        match s.map(str::trim) {
            Some("MONOCHROME1") => Photometric::Monochrome1,
            Some("MONOCHROME2") | None => Photometric::Monochrome2,
            Some("RGB") => Photometric::Rgb,
            Some("YBR_FULL") => Photometric::YbrFull,
            Some("YBR_FULL_422") => Photometric::YbrFull422,
            Some("PALETTE COLOR") => Photometric::Palette,
            Some(other) => Photometric::Other(other.to_string()),
        }
    }
}

/// Layout of one frame's samples.
#[derive(Debug, Clone)]
pub struct PixelFormat {
    pub rows: usize,
    pub cols: usize,
    pub samples: usize,
    pub bits_allocated: u16,
    pub bits_stored: u16,
    pub signed: bool,
    /// Planar configuration 1: all R, then all G, then all B.
    pub planar: bool,
    pub photometric: Photometric,
}

impl PixelFormat {
    pub fn pixels(&self) -> usize {
        self.rows.saturating_mul(self.cols)
    }

    /// Bytes one frame takes when stored natively, or `None` on overflow.
    pub fn frame_bytes(&self) -> Option<usize> {
        let px = self.rows.checked_mul(self.cols)?;
        if self.photometric == Photometric::YbrFull422 && self.bits_allocated == 8 {
            // Two luma samples share one Cb/Cr pair (PS3.3 C.7.6.3.1.2).
            return px.checked_mul(2);
        }
        let samples = px.checked_mul(self.samples)?;
        if self.bits_allocated == 1 {
            return Some(samples.div_ceil(8));
        }
        samples.checked_mul(usize::from(self.bits_allocated / 8))
    }

    /// Checks the combination is one this module decodes.
    pub fn validate(&self) -> Result<(), ErrorKind> {
        if !matches!(self.bits_allocated, 1 | 8 | 16 | 32) {
            return Err(ErrorKind::UnsupportedImage(format!(
                "BitsAllocated {} (expected 1, 8, 16 or 32)",
                self.bits_allocated
            )));
        }
        if self.bits_stored == 0 || self.bits_stored > self.bits_allocated {
            return Err(ErrorKind::UnsupportedImage(format!(
                "BitsStored {} with BitsAllocated {}",
                self.bits_stored, self.bits_allocated
            )));
        }
        if !matches!(self.samples, 1 | 3) {
            return Err(ErrorKind::UnsupportedImage(format!(
                "SamplesPerPixel {} (expected 1 or 3)",
                self.samples
            )));
        }
        if self.samples == 3 && self.bits_allocated == 1 {
            return Err(ErrorKind::UnsupportedImage("1-bit colour".into()));
        }
        Ok(())
    }
}

/// Reads sample `i` (0-based, LE) from `data`, masked and sign-extended.
fn sample(data: &[u8], i: usize, fmt: &PixelFormat) -> Option<i64> {
    let raw: u32 = match fmt.bits_allocated {
        8 => u32::from(*data.get(i)?),
        16 => {
            let b = data.get(i * 2..i * 2 + 2)?;
            u32::from(u16::from_le_bytes([b[0], b[1]]))
        }
        32 => {
            let b = data.get(i * 4..i * 4 + 4)?;
            u32::from_le_bytes([b[0], b[1], b[2], b[3]])
        }
        _ => return None,
    };
    let bits = u32::from(fmt.bits_stored);
    let mask = if bits >= 32 {
        u32::MAX
    } else {
        (1u32 << bits) - 1
    };
    let v = raw & mask;
    if fmt.signed && bits < 64 && (v >> (bits - 1)) & 1 == 1 {
        Some(i64::from(v) - (1i64 << bits))
    } else {
        Some(i64::from(v))
    }
}

/// Converts one frame (starting at bit `bit_offset` for 1-bit data) to grey values.
///
/// Colour becomes Rec. 601 luma; palette images keep their indices.
pub fn to_grey(data: &[u8], fmt: &PixelFormat, bit_offset: usize) -> Result<Vec<f32>, ErrorKind> {
    let n = fmt.pixels();
    let short = |needed: usize| ErrorKind::InconsistentLength {
        expected: needed as u64,
        found: data.len() as u64,
    };
    if fmt.bits_allocated == 1 {
        let needed = (bit_offset + n).div_ceil(8);
        if data.len() < needed {
            return Err(short(needed));
        }
        return (0..n)
            .map(|i| {
                let bit = bit_offset + i;
                data.get(bit / 8)
                    .map(|b| f32::from((b >> (bit % 8)) & 1))
                    .ok_or_else(|| short(needed))
            })
            .collect();
    }
    let needed = fmt
        .frame_bytes()
        .ok_or_else(|| ErrorKind::TooLarge("frame size overflows".into()))?;
    if data.len() < needed {
        return Err(short(needed));
    }
    let get = |i: usize| sample(data, i, fmt).ok_or_else(|| short(needed));
    if fmt.samples == 1 {
        return (0..n).map(|i| get(i).map(|v| v as f32)).collect();
    }
    let mut out = Vec::with_capacity(n);
    if fmt.photometric == Photometric::YbrFull422 && fmt.bits_allocated == 8 {
        // Y0 Y1 Cb Cr per pair of pixels.
        for i in 0..n {
            let pair = i / 2 * 4;
            let y = get(pair + i % 2)? as f32;
            out.push(y);
        }
        return Ok(out);
    }
    let plane = n;
    for i in 0..n {
        let idx = |s: usize| if fmt.planar { s * plane + i } else { i * 3 + s };
        let (a, b, c) = (
            get(idx(0))? as f32,
            get(idx(1))? as f32,
            get(idx(2))? as f32,
        );
        let luma = match fmt.photometric {
            // Y of YBR_FULL is already luma (PS3.3 C.7.6.3.1.2).
            Photometric::YbrFull | Photometric::YbrFull422 => a,
            _ => 0.299 * a + 0.587 * b + 0.114 * c,
        };
        out.push(luma);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(ba: u16, bs: u16, signed: bool) -> PixelFormat {
        PixelFormat {
            rows: 1,
            cols: 2,
            samples: 1,
            bits_allocated: ba,
            bits_stored: bs,
            signed,
            planar: false,
            photometric: Photometric::Monochrome2,
        }
    }

    #[test]
    fn masks_and_sign_extends_12_bit() {
        // 0xF800 with 12 stored bits: upper nibble is overlay garbage → 0x800 = -2048 signed.
        let data = [0x00, 0xF8, 0xFF, 0x0F];
        assert_eq!(
            to_grey(&data, &fmt(16, 12, true), 0).unwrap(),
            vec![-2048.0, -1.0]
        );
        assert_eq!(
            to_grey(&data, &fmt(16, 12, false), 0).unwrap(),
            vec![2048.0, 4095.0]
        );
        assert_eq!(
            to_grey(&data, &fmt(16, 16, true), 0).unwrap(),
            vec![-2048.0, 4095.0]
        );
    }

    #[test]
    fn short_data_is_an_error_not_a_panic() {
        assert!(matches!(
            to_grey(&[1, 2, 3], &fmt(16, 16, false), 0),
            Err(ErrorKind::InconsistentLength {
                expected: 4,
                found: 3
            })
        ));
    }

    #[test]
    fn one_bit_unpacks_lsb_first() {
        let mut f = fmt(1, 1, false);
        f.cols = 4;
        assert_eq!(
            to_grey(&[0b0000_0101], &f, 0).unwrap(),
            vec![1.0, 0.0, 1.0, 0.0]
        );
        assert_eq!(
            to_grey(&[0b0000_0101], &f, 2).unwrap(),
            vec![1.0, 0.0, 0.0, 0.0]
        );
    }

    #[test]
    fn rgb_becomes_luma() {
        let mut f = fmt(8, 8, false);
        f.samples = 3;
        f.cols = 1;
        f.photometric = Photometric::Rgb;
        let g = to_grey(&[255, 0, 0], &f, 0).unwrap();
        assert!((g[0] - 0.299 * 255.0).abs() < 1e-3);
    }
}
