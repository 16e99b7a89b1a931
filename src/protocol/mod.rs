//! The two products (`classify`, `denoise`), each with its client and server role, and what
//! travels between the roles. Everything crosses as bytes (`messages`) over a byte
//! `transport`: a channel to a server thread in this process, or HTTP over TLS to
//! `privact serve`.
//!
//! `client_keys` holds the secret key for both clients. The servers (`classify::server`,
//! `denoise::server`) are written against bytes, evaluation keys and ciphertexts only: they
//! import no secret-key type, and no wire format can carry one (`ckks::wire` has no
//! secret-key encoder), so a server cannot receive it.

pub mod admission;
pub mod classify;
pub mod client_keys;
pub mod denoise;
pub mod expect;
pub mod ledger;
pub mod messages;
pub mod release;
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
    /// The network transport failed (connection, TLS, HTTP status); the text says which.
    #[error("network: {0}")]
    Network(String),
    /// The caller asked the run to stop (see `denoise::local::DenoiseEvent`).
    #[error("cancelled")]
    Cancelled,
    /// Evaluation keys that do not cover the model's rotations (or lack relinearisation).
    #[error("evaluation keys incomplete: {0}")]
    KeysIncomplete(String),
    /// More than the server's limits allow (tiles per request).
    #[error("request too large: {0}")]
    TooLarge(String),
    /// The other side sent something this protocol step never produces (see `expect`).
    #[error("refused a message that does not fit the protocol step: {0}")]
    OffProtocol(&'static str),
}

/// Reads the server's answer to a `Setup` message: the memory its session holds (bytes), or
/// why it refused (`Refused` with its public reason, `Unexpected` for any other message).
pub fn setup_ack(bytes: &[u8]) -> Result<u64, ProtocolError> {
    match Message::decode(bytes)? {
        Message::SetupAck { key_memory_bytes } => Ok(key_memory_bytes),
        Message::Error { message } => Err(ProtocolError::Refused(message)),
        other => Err(ProtocolError::Unexpected {
            expected: "SetupAck",
            found: other.kind_name(),
        }),
    }
}

impl ProtocolError {
    /// What a server may tell the client about a failure: a fixed sentence per kind, never a
    /// number or a value from the model (error texts once carried a bias at full precision).
    /// The full error stays on the server (`Server::last_error`, for its operator's log).
    pub fn public_reason(&self) -> &'static str {
        match self {
            Self::Message(_) | Self::Wire(_) => "malformed message",
            Self::Params(_) | Self::NotAllowed => {
                "parameter set is not on this server's allow-list"
            }
            Self::KeysIncomplete(_) => "evaluation keys incomplete for this server's model",
            Self::TooLarge(_) => "request exceeds the limits of this server",
            Self::NoSession => "no session: send the setup message first",
            Self::Unexpected { .. } => "message not expected in this state of the session",
            Self::OffProtocol(_) => "ciphertexts do not match what this request needs",
            Self::Refused(_) => "request refused",
            Self::Model(_) | Self::Denoiser(_) | Self::Eval(_) => "evaluation failed",
            Self::Closed | Self::Network(_) => "transport closed",
            Self::Cancelled => "cancelled",
        }
    }

    /// A server's answer to a request that failed: the `Error` message with the public reason
    /// only, its bytes ready to send; the full text goes to `log` (the operator's).
    pub fn reply(&self, log: &mut Option<String>) -> Vec<u8> {
        *log = Some(self.to_string());
        Message::Error {
            message: self.public_reason().to_string(),
        }
        .encode()
    }
}
