//! Command-line front ends: each subcommand lives in its own file and returns `anyhow::Result`.

pub mod bench;
pub mod classify;
pub mod inspect;
pub mod phantom;
pub mod simulate_ldct;
#[cfg(feature = "train")]
pub mod train_classifier;

/// Version line with the build facts a bug report needs.
pub const LONG_VERSION: &str = env!("CARGO_PKG_VERSION");
