//! PrivaCT: run AI on a CT slice while the AI service only ever sees CKKS ciphertexts.
//!
//! Data flows one way: `imaging` → `protocol::classify::client` → bytes → `protocol::classify::server`
//! (`model` evaluated by `ckks`) → bytes → client decrypt → `app` or the CLI.

#[cfg(feature = "gui")]
pub mod app;
pub mod ckks;
pub mod cli;
pub mod imaging;
pub mod model;
pub mod protocol;
#[cfg(feature = "train")]
pub mod train;
