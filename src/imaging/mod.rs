//! Imaging: everything between a file on disk and the model's input tensor,
//! plus the CT physics of the low-dose demo. Knows nothing of encryption.
//!
//! Entry points: [`load`] (DICOM or PNG/JPEG/TIFF → [`Slice`]),
//! [`window`], [`model_input::to_model_input`], [`phantom`], [`ldct::simulate`],
//! [`metrics`].

pub mod anatomical_level;
pub mod body_crop;
pub mod dicom;
pub mod error;
pub mod hu;
pub mod input_check;
pub mod io;
pub mod ldct;
pub mod metrics;
pub mod model_input;
pub mod overlay;
pub mod phantom;
pub mod raster;
pub mod roi;
pub mod slice;
pub mod window;

use std::path::Path;

pub use dicom::{DicomInfo, LoadOptions, PatientIds};
pub use error::{ErrorKind, ImagingError};
pub use slice::{Slice, Units};

/// Loads the first frame of a DICOM, PNG, JPEG or TIFF file.
pub fn load(path: &Path) -> Result<Slice, ImagingError> {
    load_with(path, &LoadOptions::default())
}

/// [`load`] with options (frame of a multi-frame DICOM).
pub fn load_with(path: &Path, opts: &LoadOptions) -> Result<Slice, ImagingError> {
    if path.is_dir() {
        return Err(ImagingError::new(
            path,
            ErrorKind::InvalidArgument(
                "is a folder, not an image file (a folder of DICOM slices is a series: `privact classify-series`, or drop the folder on the app window)".into(),
            ),
        ));
    }
    let bytes = dicom::load::read_capped(path).map_err(|k| ImagingError::new(path, k))?;
    load_bytes(&bytes, path, opts)
}

/// Loads from bytes already in memory; `label` names the source in errors.
pub fn load_bytes(bytes: &[u8], label: &Path, opts: &LoadOptions) -> Result<Slice, ImagingError> {
    // Some DICOM preambles are TIFF headers (dual-personality files), so the
    // DICM marker wins; a headless DICOM never starts with these signatures.
    let dicm = bytes.get(128..132) == Some(b"DICM".as_slice());
    if !dicm && raster::sniff(bytes).is_some() {
        return raster::load_raster_bytes(bytes, label);
    }
    dicom::load_dicom_bytes(bytes, label, opts)
}
