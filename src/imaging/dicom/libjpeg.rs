//! JPEG through libjpeg-turbo 3 (IJG + BSD-3-Clause licences; built from source by
//! `turbojpeg-sys` and linked statically): 12-bit lossy JPEG (JPEG Extended, Process 4;
//! transfer syntax 1.2.840.10008.1.2.4.51) and lossless JPEG of 2–16 bits (Process 14,
//! .57 and .70), PS3.5 §A.4.1 and §8.2.1.
//!
//! The pure-Rust JPEG decoder handles 8-bit DCT only, and mis-decodes some 16-bit lossless
//! streams that libjpeg and GDCM read. This module is only the safe wrapper around the
//! TurboJPEG 3 API (`tj3Decompress8/12/16`): the stream's header is read and checked against
//! the DICOM tags before any sample is written, and the output buffer is sized from the tags.

use std::ffi::CStr;

use turbojpeg_sys as tj;

use crate::imaging::error::ErrorKind;

/// Progressive scans accepted in one stream (bounds decode time on crafted files).
const SCAN_LIMIT: i32 = 500;

fn codec_error(what: &str, handle: tj::tjhandle) -> ErrorKind {
    // SAFETY: `handle` is a live handle; tj3GetErrorStr returns a NUL-terminated string that
    // stays valid until the next call on the handle.
    let msg = unsafe {
        let p = tj::tj3GetErrorStr(handle);
        if p.is_null() {
            String::new()
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    };
    ErrorKind::Decode(format!("JPEG (libjpeg-turbo): {what}: {}", msg.trim()))
}

/// TurboJPEG returns -1 for warnings too (e.g. "Invalid SOS parameters for sequential
/// JPEG", written by some modalities' encoders) after decoding the whole image, as libjpeg,
/// GDCM and pydicom's decoders do; only real errors are refused.
fn only_warned(h: &Handle) -> bool {
    // SAFETY: the handle is live.
    unsafe { tj::tj3GetErrorCode(h.0) == tj::TJERR_TJERR_WARNING as i32 }
}

/// Owns a TurboJPEG decompressor handle and destroys it on drop.
struct Handle(tj::tjhandle);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: created by tj3Init and destroyed exactly once.
        unsafe { tj::tj3Destroy(self.0) }
    }
}

/// Decodes one JPEG stream (DCT of 8 or 12 bits, or lossless of 2–16 bits) into
/// little-endian samples of `bytes_per_sample` bytes (1 or 2), interleaved:
/// `rows × cols × samples × bytes_per_sample` bytes; colour comes out as RGB.
///
/// Errors: [`ErrorKind::Decode`] when the stream's size differs from the tags (`rows`,
/// `cols`), `samples` is not 1 or 3, its precision does not fit `bytes_per_sample`, or
/// libjpeg-turbo reports corrupt data; [`ErrorKind::TooLarge`] when the size overflows.
pub fn decode(
    stream: &[u8],
    rows: usize,
    cols: usize,
    samples: usize,
    bytes_per_sample: usize,
) -> Result<Vec<u8>, ErrorKind> {
    let bad = |m: String| ErrorKind::Decode(format!("JPEG (libjpeg-turbo): {m}"));
    let pixel_format = match samples {
        1 => tj::TJPF_TJPF_GRAY,
        3 => tj::TJPF_TJPF_RGB,
        n => return Err(bad(format!("{n} samples per pixel"))),
    };
    let n = rows
        .checked_mul(cols)
        .and_then(|p| p.checked_mul(samples))
        .ok_or_else(|| ErrorKind::TooLarge("JPEG frame size overflows".into()))?;
    // SAFETY: tj3Init has no preconditions; a null result is checked.
    let raw = unsafe { tj::tj3Init(tj::TJINIT_TJINIT_DECOMPRESS as i32) };
    if raw.is_null() {
        return Err(bad("could not create a decompressor".into()));
    }
    let h = Handle(raw);
    let len = tj::size_t::try_from(stream.len())
        .map_err(|_| ErrorKind::TooLarge("JPEG stream".into()))?;
    // SAFETY: `stream` is a valid slice for the duration of the calls; the handle is live.
    unsafe {
        if tj::tj3Set(h.0, tj::TJPARAM_TJPARAM_SCANLIMIT as i32, SCAN_LIMIT) != 0 {
            return Err(codec_error("setting the scan limit", h.0));
        }
        if tj::tj3DecompressHeader(h.0, stream.as_ptr(), len) != 0 {
            return Err(codec_error("reading the header", h.0));
        }
    }
    // SAFETY: the handle is live and its header was read.
    let (w, hgt, precision) = unsafe {
        (
            tj::tj3Get(h.0, tj::TJPARAM_TJPARAM_JPEGWIDTH as i32),
            tj::tj3Get(h.0, tj::TJPARAM_TJPARAM_JPEGHEIGHT as i32),
            tj::tj3Get(h.0, tj::TJPARAM_TJPARAM_PRECISION as i32),
        )
    };
    if usize::try_from(w).ok() != Some(cols) || usize::try_from(hgt).ok() != Some(rows) {
        return Err(bad(format!(
            "stream is {w}×{hgt} but the tags say {cols}×{rows}"
        )));
    }
    if !(2..=16).contains(&precision) || (precision > 8 && bytes_per_sample < 2) {
        return Err(bad(format!(
            "{precision}-bit stream in {}-byte samples",
            bytes_per_sample
        )));
    }
    // SAFETY (all three calls): the destination holds rows × cols × samples values of the
    // width the function writes (1 or 3 samples per pixel as `pixel_format` says; the
    // stream's own width and height were checked against rows/cols); pitch 0 = packed rows.
    let values: Vec<u16> = if precision <= 8 {
        let mut out = vec![0u8; n];
        let rc = unsafe {
            tj::tj3Decompress8(h.0, stream.as_ptr(), len, out.as_mut_ptr(), 0, pixel_format)
        };
        if rc != 0 && !only_warned(&h) {
            return Err(codec_error("decoding", h.0));
        }
        out.into_iter().map(u16::from).collect()
    } else if precision <= 12 {
        let mut out = vec![0i16; n];
        let rc = unsafe {
            tj::tj3Decompress12(h.0, stream.as_ptr(), len, out.as_mut_ptr(), 0, pixel_format)
        };
        if rc != 0 && !only_warned(&h) {
            return Err(codec_error("decoding", h.0));
        }
        // 12-bit samples are 0..4095 held in a short.
        out.into_iter().map(|v| v as u16).collect()
    } else {
        let mut out = vec![0u16; n];
        let rc = unsafe {
            tj::tj3Decompress16(h.0, stream.as_ptr(), len, out.as_mut_ptr(), 0, pixel_format)
        };
        if rc != 0 && !only_warned(&h) {
            return Err(codec_error("decoding", h.0));
        }
        out
    };
    Ok(match bytes_per_sample {
        1 => values.into_iter().map(|v| v as u8).collect(),
        _ => values.into_iter().flat_map(u16::to_le_bytes).collect(),
    })
}

/// Whether this module decodes a stream with this SOF: DCT of more than 8 bits, or any
/// lossless process (`sof_marker` is the second byte of the SOFn marker, T.81 Table B.1).
pub fn wants(precision: u8, sof_marker: u8) -> bool {
    let lossless = matches!(sof_marker, 0xC3 | 0xC7 | 0xCB | 0xCF);
    lossless || precision > 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_decode_error_not_a_crash() {
        assert!(matches!(
            decode(&[0xFF, 0xD8, 0xFF, 0xC1, 0, 2], 2, 2, 1, 2),
            Err(ErrorKind::Decode(_))
        ));
        assert!(matches!(decode(&[], 2, 2, 1, 2), Err(ErrorKind::Decode(_))));
        assert!(matches!(
            decode(&[0xFF], 2, 2, 4, 2),
            Err(ErrorKind::Decode(_))
        ));
    }

    #[test]
    fn routing_by_frame_header() {
        assert!(wants(12, 0xC1));
        assert!(wants(16, 0xC3));
        assert!(wants(8, 0xC3));
        assert!(
            !wants(8, 0xC1),
            "8-bit DCT stays with the pure-Rust decoder"
        );
    }

    /// Compresses `v` (w × h grey, `precision` bits) with libjpeg-turbo itself.
    fn compress(v: &[u16], w: i32, h: i32, precision: i32, lossless: bool) -> Vec<u8> {
        // SAFETY: test-only use of the compressor with buffers of the stated size.
        unsafe {
            let c = tj::tj3Init(tj::TJINIT_TJINIT_COMPRESS as i32);
            assert!(!c.is_null());
            tj::tj3Set(c, tj::TJPARAM_TJPARAM_PRECISION as i32, precision);
            tj::tj3Set(
                c,
                tj::TJPARAM_TJPARAM_SUBSAMP as i32,
                tj::TJSAMP_TJSAMP_GRAY,
            );
            tj::tj3Set(c, tj::TJPARAM_TJPARAM_QUALITY as i32, 95);
            if lossless {
                tj::tj3Set(c, tj::TJPARAM_TJPARAM_LOSSLESS as i32, 1);
                tj::tj3Set(c, tj::TJPARAM_TJPARAM_LOSSLESSPSV as i32, 1);
            }
            let mut buf: *mut u8 = std::ptr::null_mut();
            let mut size: tj::size_t = 0;
            let rc = if precision <= 12 {
                let s: Vec<i16> = v.iter().map(|&x| x as i16).collect();
                tj::tj3Compress12(
                    c,
                    s.as_ptr(),
                    w,
                    0,
                    h,
                    tj::TJPF_TJPF_GRAY,
                    &mut buf,
                    &mut size,
                )
            } else {
                tj::tj3Compress16(
                    c,
                    v.as_ptr(),
                    w,
                    0,
                    h,
                    tj::TJPF_TJPF_GRAY,
                    &mut buf,
                    &mut size,
                )
            };
            assert_eq!(rc, 0);
            let out = std::slice::from_raw_parts(buf, size as usize).to_vec();
            tj::tj3Free(buf.cast());
            tj::tj3Destroy(c);
            out
        }
    }

    fn ramp(w: usize, h: usize, max: u16) -> Vec<u16> {
        (0..w * h)
            .map(|i| ((i % w) * usize::from(max) / (w - 1)) as u16)
            .collect()
    }

    #[test]
    fn twelve_bit_dct_round_trip_is_close() {
        let (w, h) = (32, 16);
        let v = ramp(w, h, 4095);
        let jpeg = compress(&v, w as i32, h as i32, 12, false);
        assert_eq!(jpeg.get(..2), Some([0xFF, 0xD8].as_slice()));
        let out = decode(&jpeg, h, w, 1, 2).unwrap();
        let got: Vec<u16> = out
            .chunks(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect();
        let worst = v
            .iter()
            .zip(&got)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        assert!(worst <= 41, "max error {worst} > 1 % of 4095");
        assert!(matches!(
            decode(&jpeg, h + 1, w, 1, 2),
            Err(ErrorKind::Decode(_))
        ));
    }

    #[test]
    fn sixteen_bit_lossless_round_trip_is_exact() {
        let (w, h) = (24, 8);
        let v = ramp(w, h, 60_000);
        let jpeg = compress(&v, w as i32, h as i32, 16, true);
        let out = decode(&jpeg, h, w, 1, 2).unwrap();
        let got: Vec<u16> = out
            .chunks(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(got, v);
        assert!(matches!(
            decode(&jpeg, h, w, 1, 1),
            Err(ErrorKind::Decode(_))
        ));
    }
}
