//! PrivaCT: run AI on a CT slice while the AI service only ever sees CKKS ciphertexts.
//!
//! Data flows one way: `imaging` → `protocol::client` → bytes → `protocol::server`
//! (`model` evaluated by `ckks`) → bytes → client decrypt → `app` or the CLI.

pub mod ckks;
pub mod cli;
pub mod imaging;
pub mod model;
pub mod protocol;
#[cfg(feature = "train")]
pub mod train;
