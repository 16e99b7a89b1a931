//! LDCT denoising (Yang et al. 2023): the linear model in one round, the nonlinear one in the
//! interactive protocol (the server's linear layers on ciphertexts, the client's ReLU on
//! masked, decrypted activations).
//!
//! `client` encrypts tiles and answers the activation rounds; `server` holds the denoisers and
//! the evaluation keys; `local` runs the one client loop against either transport.

pub mod client;
pub mod local;
pub mod server;
