//! HE-friendly networks: plaintext references, packing plans and HE execution (via the
//! `backend` abstraction, which also gives an exact plaintext simulator of the packing).

pub mod backend;
pub mod classifier;
pub mod denoiser;
