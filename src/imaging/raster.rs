//! PNG/JPEG/TIFF slices. These are treated as already windowed 8-bit images,
//! which is how the kidney CT training set is stored.

use std::io::Cursor;
use std::path::Path;

use super::error::{ErrorKind, ImagingError, one_line};
use super::slice::{Slice, Units};

/// Which raster format a byte prefix announces, if any.
pub fn sniff(bytes: &[u8]) -> Option<image::ImageFormat> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(image::ImageFormat::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(image::ImageFormat::Jpeg)
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        Some(image::ImageFormat::Tiff)
    } else {
        None
    }
}

/// Decodes a raster image to an 8-bit greyscale slice (colour → luma).
pub fn load_raster_bytes(bytes: &[u8], path: &Path) -> Result<Slice, ImagingError> {
    let err = |k| ImagingError::new(path, k);
    let format = sniff(bytes).ok_or_else(|| err(ErrorKind::NotImage("unknown format".into())))?;
    if format == image::ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        // The decoder fills a cut-off scan with grey and succeeds; a model would then
        // classify an image that is partly made up.
        return Err(err(ErrorKind::Decode(
            "the JPEG file is truncated (no end-of-image marker after its last scan)".into(),
        )));
    }
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(super::dicom::MAX_DIMENSION);
    limits.max_image_height = Some(super::dicom::MAX_DIMENSION);
    limits.max_alloc = Some(1 << 30);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(l) => err(ErrorKind::TooLarge(one_line(l))),
        other => err(ErrorKind::Decode(one_line(other))),
    })?;
    let grey = img.into_luma8();
    let (cols, rows) = (grey.width() as usize, grey.height() as usize);
    let values = grey.into_raw().into_iter().map(f32::from).collect();
    Ok(Slice::from_values(rows, cols, values, Units::Windowed8Bit))
}

/// Whether a JPEG stream ends its last scan: an EOI marker (FF D9) must follow the last SOS
/// marker (FF DA). Entropy-coded data cannot contain either (an FF byte there is stuffed
/// with 00 or starts a restart marker, ITU-T T.81 § B.1.1.5), and a thumbnail's own markers
/// come before the main image's scans, so a file cut inside its image data has none.
pub fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last_sos = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    let last_eoi = bytes.windows(2).rposition(|w| w == [0xFF, 0xD9]);
    matches!((last_sos, last_eoi), (Some(s), Some(e)) if e > s)
}

/// Encodes 8-bit greyscale pixels as PNG.
pub fn png_bytes(rows: usize, cols: usize, pixels: &[u8]) -> Result<Vec<u8>, ErrorKind> {
    let (w, h) = (u32::try_from(cols), u32::try_from(rows));
    let (Ok(w), Ok(h)) = (w, h) else {
        return Err(ErrorKind::InvalidArgument("image too large for PNG".into()));
    };
    let img = image::GrayImage::from_raw(w, h, pixels.to_vec())
        .ok_or_else(|| ErrorKind::InvalidArgument("pixel count does not match size".into()))?;
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .map_err(|e| ErrorKind::Write(one_line(e)))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey_jpeg() -> Vec<u8> {
        let img =
            image::GrayImage::from_fn(64, 48, |x, y| image::Luma([((x * 3 + y * 5) % 256) as u8]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg)
            .unwrap();
        out
    }

    #[test]
    fn a_truncated_jpeg_is_refused_not_filled_in() {
        let full = grey_jpeg();
        assert!(jpeg_is_complete(&full));
        let slice = load_raster_bytes(&full, Path::new("a.jpg")).unwrap();
        assert_eq!((slice.rows, slice.cols), (48, 64));
        // Trailing bytes after the end marker are harmless.
        let mut padded = full.clone();
        padded.extend_from_slice(&[0, 0, 0]);
        assert!(load_raster_bytes(&padded, Path::new("a.jpg")).is_ok());
        for cut in [full.len() - 2, full.len() * 2 / 3, full.len() / 2] {
            let e = load_raster_bytes(&full[..cut], Path::new("cut.jpg")).unwrap_err();
            assert!(e.to_string().contains("truncated"), "{e}");
        }
    }
}
