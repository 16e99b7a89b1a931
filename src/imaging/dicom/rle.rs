//! RLE Lossless (PS3.5 Annex G) decoder.
//!
//! Our own because the codec in `dicom-transfer-syntax-registry` refuses
//! 32-bit samples (RT dose grids, some secondary captures) and because every
//! length here is checked against the frame size before writing.

use crate::imaging::error::ErrorKind;

fn bad(msg: impl Into<String>) -> ErrorKind {
    ErrorKind::Decode(format!("RLE: {}", msg.into()))
}

/// PackBits-decodes one segment into exactly `out.len()` bytes (a trailing
/// pad byte in the input is allowed).
fn unpack_segment(src: &[u8], out: &mut [u8]) -> Result<(), ErrorKind> {
    let (mut i, mut o) = (0usize, 0usize);
    while o < out.len() {
        let Some(&h) = src.get(i) else {
            return Err(bad(format!(
                "segment ends after {o} of {} bytes",
                out.len()
            )));
        };
        i += 1;
        let n = h as i8;
        if n >= 0 {
            let len = n as usize + 1;
            let lit = src
                .get(i..i + len)
                .ok_or_else(|| bad("literal run past segment end"))?;
            let dst = out
                .get_mut(o..o + len)
                .ok_or_else(|| bad("literal run past frame end"))?;
            dst.copy_from_slice(lit);
            i += len;
            o += len;
        } else if n != -128 {
            let len = 1 - n as isize;
            let len = len as usize;
            let &b = src
                .get(i)
                .ok_or_else(|| bad("replicate run past segment end"))?;
            let dst = out
                .get_mut(o..o + len)
                .ok_or_else(|| bad("replicate run past frame end"))?;
            dst.fill(b);
            i += 1;
            o += len;
        }
    }
    Ok(())
}

/// Decodes one RLE frame to little-endian interleaved samples
/// (`pixels × samples × bytes_per_sample` bytes).
pub fn decode_frame(
    data: &[u8],
    pixels: usize,
    samples: usize,
    bytes_per_sample: usize,
) -> Result<Vec<u8>, ErrorKind> {
    let header = data
        .get(..64)
        .ok_or_else(|| bad("frame shorter than its 64-byte header"))?;
    let word = |k: usize| -> usize {
        header
            .get(k * 4..k * 4 + 4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, |b: [u8; 4]| u32::from_le_bytes(b) as usize)
    };
    let nseg = word(0);
    let expected = samples * bytes_per_sample;
    if nseg != expected || nseg > 15 {
        return Err(bad(format!("{nseg} segments, expected {expected}")));
    }
    let total = pixels
        .checked_mul(expected)
        .ok_or_else(|| ErrorKind::TooLarge("RLE frame size overflows".into()))?;
    let mut out = vec![0u8; total];
    let mut plane = vec![0u8; pixels];
    for seg in 0..nseg {
        let start = word(seg + 1);
        let end = if seg + 1 < nseg {
            word(seg + 2)
        } else {
            data.len()
        };
        let src = data
            .get(start..end.max(start).min(data.len()))
            .filter(|_| start >= 64 && start <= end)
            .ok_or_else(|| bad(format!("segment {seg} offsets {start}..{end} out of range")))?;
        unpack_segment(src, &mut plane)?;
        // Segments run sample by sample, most significant byte first.
        let (s, byte_from_msb) = (seg / bytes_per_sample, seg % bytes_per_sample);
        let byte = bytes_per_sample - 1 - byte_from_msb;
        for (i, &v) in plane.iter().enumerate() {
            if let Some(dst) = out.get_mut((i * samples + s) * bytes_per_sample + byte) {
                *dst = v;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packbits_runs() {
        let mut out = [0u8; 6];
        // literal 2 bytes [1,2], replicate 3× 7, no-op, literal [9]
        unpack_segment(&[1, 1, 2, 0xFE, 7, 0x80, 0, 9], &mut out).unwrap();
        assert_eq!(out, [1, 2, 7, 7, 7, 9]);
        assert!(unpack_segment(&[0xFE], &mut [0u8; 3]).is_err());
    }

    #[test]
    fn sixteen_bit_two_segments() {
        // 2 pixels: 0x0102, 0x0304 → MSB segment [1,3], LSB segment [2,4].
        let mut data = vec![0u8; 64];
        data[0] = 2;
        data[4] = 64;
        data[8] = 67;
        data.extend_from_slice(&[1, 1, 3]);
        data.extend_from_slice(&[1, 2, 4]);
        let out = decode_frame(&data, 2, 1, 2).unwrap();
        assert_eq!(out, vec![0x02, 0x01, 0x04, 0x03]);
    }
}
