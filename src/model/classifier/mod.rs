//! Kidney CT classifier (normal / cyst / tumour).

pub mod he;
pub mod packing;
