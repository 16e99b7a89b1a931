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
