//! Command-line front ends: each subcommand lives in its own file and returns `anyhow::Result`.

pub mod bench;
pub mod denoise;
pub mod inspect;
pub mod phantom;
pub mod simulate_ldct;
#[cfg(feature = "train")]
pub mod train_denoiser;

/// Version line with the build facts a bug report needs.
pub const LONG_VERSION: &str = env!("CARGO_PKG_VERSION");
