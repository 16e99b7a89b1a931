//! Low-dose CT denoisers that run under CKKS (issue 5, after Yang et al. 2023).
//!
//! Two models, both in residual form `output = input − predicted noise`, on intensities in
//! [0, 1] over the abdomen window (W400/L40):
//! - **linear**: one learned K×K convolution, evaluated entirely on ciphertexts in one shot;
//! - **nonlinear**: a small RED-CNN-like stack of 3×3 convolutions with ReLU between them,
//!   evaluated interactively (the server computes every convolution on ciphertexts, the client
//!   applies the exact ReLU on masked values, see `he` and `protocol::denoise_*`).
//!
//! Padding semantics (chosen so tiling is exact): the image is padded **once** by the
//! receptive-field radius R with zeros (= air after windowing), then every convolution is
//! "valid". A tile with a halo of R therefore computes exactly the whole-image result on its
//! inner region (`tiling`), and no ciphertext rotation ever needs a mask.
//!
//! Modules: `plain` (reference inference), `weights` (safetensors + JSON description, embedded
//! assets), `tiling` (tile plan with halos), `he` (the layers against `SlotBackend`).

pub mod data;
pub mod he;
pub mod plain;
pub mod tiling;
pub mod weights;

pub use plain::{Conv, Denoiser, ModelKind};
pub use tiling::TilePlan;

/// Everything that can be wrong with a model, its weights or a packing.
#[derive(Debug, thiserror::Error)]
pub enum DenoiserError {
    #[error("model {model}: {what}")]
    Invalid { model: String, what: String },
    #[error("weights file: {0}")]
    Safetensors(String),
    #[error("model description: {0}")]
    Description(String),
    #[error("image is {rows}×{cols} with {values} values")]
    ImageShape {
        rows: usize,
        cols: usize,
        values: usize,
    },
    #[error("tile plan: {0}")]
    Tiling(String),
    #[error("the model needs {needed} levels per round, the ciphertexts have {available}")]
    Levels { needed: usize, available: usize },
    #[error("expected {expected} ciphertexts, got {found}")]
    Count { expected: usize, found: usize },
    #[error(transparent)]
    Eval(#[from] crate::ckks::EvalError),
}
