//! HE-friendly networks: plaintext references, packing plans and HE execution.

pub mod backend;
pub mod classifier;
pub mod denoiser;
