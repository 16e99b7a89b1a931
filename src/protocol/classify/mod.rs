//! Kidney CT classification (Lee et al. 2025): one request and one answer per slice.
//!
//! `client` encrypts the slice and decrypts the class logits (and heat map); `server` holds the
//! Approx-CNN and the evaluation keys; `local` runs a client session against either transport.

pub mod client;
pub mod local;
pub mod server;
