//! Fuzzes the image loader with arbitrary bytes: it must return an error or a
//! slice whose size matches its values, never panic, hang or over-allocate.
//! Run: see docs/imaging.md ("Fuzzing the loader").
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use privact::imaging::{LoadOptions, dicom, load_bytes};

fuzz_target!(|data: &[u8]| {
    let label = Path::new("fuzz-input");
    if let Ok(s) = load_bytes(data, label, &LoadOptions::default()) {
        assert_eq!(s.values.len(), s.rows * s.cols);
    }
    let _ = dicom::read_info_bytes(data, label);
});
