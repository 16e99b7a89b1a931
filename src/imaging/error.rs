//! Typed errors of the imaging layer.
//!
//! Every error names the file it came from and one reason, so the CLI and the
//! desktop app can show a single human line without knowing the decoder stack.

use std::fmt;
use std::path::{Path, PathBuf};

/// An imaging failure: which file, and why.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", source_name(.path))]
pub struct ImagingError {
    /// The file (or a label such as `<memory>` for in-memory input).
    pub path: PathBuf,
    /// What went wrong.
    pub kind: ErrorKind,
}

fn source_name(p: &Path) -> String {
    p.display().to_string()
}

/// The reason an input could not be read or processed.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    #[error("cannot read file: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a DICOM file ({0})")]
    NotDicom(String),
    #[error("truncated at byte {offset}: {what}")]
    Truncated { offset: u64, what: String },
    #[error("malformed DICOM: {0}")]
    Malformed(String),
    #[error("no pixel data")]
    NoPixelData,
    /// Float or Double Float Pixel Data (PS3.3 C.7.6.3.1.7; e.g. parametric maps): real
    /// values, not the integer samples this loader decodes.
    #[error(
        "float pixel data ({0}) is not supported: only integer Pixel Data (7FE0,0010) is decoded"
    )]
    FloatPixelData(&'static str),
    /// A sequence whose bytes are present but whose items do not parse in the data set's
    /// encoding (e.g. a private sequence written in explicit VR inside an implicit VR file).
    #[error("malformed sequence ({group:04X},{element:04X}) at byte {offset}: {reason}")]
    MalformedSequence {
        group: u16,
        element: u16,
        offset: u64,
        reason: String,
    },
    #[error("unsupported transfer syntax {uid} ({name}): {reason}")]
    UnsupportedTransferSyntax {
        uid: String,
        name: String,
        reason: String,
    },
    #[error("unsupported image: {0}")]
    UnsupportedImage(String),
    #[error("dimensions exceed limit: {0}")]
    TooLarge(String),
    #[error("inconsistent pixel data length: expected {expected} bytes, found {found}")]
    InconsistentLength { expected: u64, found: u64 },
    #[error("pixel data could not be decoded: {0}")]
    Decode(String),
    #[error("frame {frame} requested but the image has {frames} frame(s)")]
    FrameOutOfRange { frame: u32, frames: u32 },
    #[error("not an image file ({0})")]
    NotImage(String),
    #[error("cannot write output: {0}")]
    Write(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("empty series: {0}")]
    EmptySeries(String),
}

impl ErrorKind {
    /// A stable short code for tests, logs and the outcome table.
    pub fn code(&self) -> &'static str {
        match self {
            ErrorKind::Io(_) => "io",
            ErrorKind::NotDicom(_) => "not_dicom",
            ErrorKind::Truncated { .. } => "truncated",
            ErrorKind::Malformed(_) => "malformed",
            ErrorKind::NoPixelData => "no_pixel_data",
            ErrorKind::FloatPixelData(_) => "float_pixel_data",
            ErrorKind::MalformedSequence { .. } => "malformed_sequence",
            ErrorKind::UnsupportedTransferSyntax { .. } => "unsupported_transfer_syntax",
            ErrorKind::UnsupportedImage(_) => "unsupported_image",
            ErrorKind::TooLarge(_) => "too_large",
            ErrorKind::InconsistentLength { .. } => "inconsistent_length",
            ErrorKind::Decode(_) => "decode",
            ErrorKind::FrameOutOfRange { .. } => "frame_out_of_range",
            ErrorKind::NotImage(_) => "not_image",
            ErrorKind::Write(_) => "write",
            ErrorKind::InvalidArgument(_) => "invalid_argument",
            ErrorKind::EmptySeries(_) => "empty_series",
        }
    }
}

impl ImagingError {
    /// Attach a path to a reason.
    pub fn new(path: impl Into<PathBuf>, kind: ErrorKind) -> Self {
        ImagingError {
            path: path.into(),
            kind,
        }
    }

    /// The stable short code of the reason (see [`ErrorKind::code`]).
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }
}

/// Keeps only the first line of a dependency's message, so ours stays one line.
pub(crate) fn one_line(e: impl fmt::Display) -> String {
    let s = e.to_string();
    s.lines().next().unwrap_or("").trim().to_string()
}
