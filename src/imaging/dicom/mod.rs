//! DICOM reading: structure check, typed tags, pixel decoding, series.

mod cp246;
mod frames;
mod libjpeg;
pub(crate) mod load;
pub mod pixels;
pub mod rle;
pub mod scan;
pub mod series;
pub mod tags;
pub mod transfer_syntax;
pub mod write;

pub use load::{
    LoadOptions, MAX_DIMENSION, MAX_FILE_BYTES, MAX_FRAME_PIXELS, load_dicom, load_dicom_bytes,
    load_dicom_frames, read_info_bytes,
};
pub use tags::{DicomInfo, PatientIds};
