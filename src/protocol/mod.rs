//! The two roles and what travels between them. Everything crosses as bytes (`messages`), over
//! a byte `transport`, so a network transport can replace the in-process channel unchanged.
//!
//! `client_keys` holds the secret key for both client roles (`client`, `denoise_client`); `server` is written against bytes, evaluation keys and
//! ciphertexts only. It imports no secret-key type, and no wire format can carry one
//! (`ckks::wire` has no secret-key encoder), so the server cannot receive it.

pub mod admission;
pub mod client;
pub mod client_keys;
pub mod denoise_client;
pub mod denoise_local;
pub mod denoise_server;
pub mod ledger;
pub mod local;
pub mod messages;
pub mod release;
pub mod server;
pub mod transport;

#[cfg(test)]
mod leak_tests;

pub use ledger::{Ledger, Side, Step};
pub use messages::{Message, MessageError};

/// Everything that can go wrong in a protocol run, with a one-line message for the UI.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("malformed message: {0}")]
    Message(#[from] MessageError),
    #[error("wire format: {0}")]
    Wire(#[from] crate::ckks::wire::WireError),
    #[error("CKKS parameters: {0}")]
    Params(#[from] crate::ckks::ParamsError),
    #[error("model: {0}")]
    Model(#[from] crate::model::classifier::he::HeModelError),
    #[error("denoiser: {0}")]
    Denoiser(#[from] crate::model::denoiser::DenoiserError),
    #[error("evaluation: {0}")]
    Eval(#[from] crate::ckks::EvalError),
    #[error("the server refused the request: {0}")]
    Refused(String),
    #[error("unexpected message: expected {expected}, got {found}")]
    Unexpected {
        expected: &'static str,
        found: &'static str,
    },
    #[error("the server has no session: send the setup message first")]
    NoSession,
    #[error("parameter set is not on the server's allow-list")]
    NotAllowed,
    #[error("transport closed")]
    Closed,
    /// The caller asked the run to stop (see `denoise_local::DenoiseEvent`).
    #[error("cancelled")]
    Cancelled,
}
