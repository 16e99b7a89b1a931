//! Model training (cargo feature `train`, candle on CPU).

pub mod denoiser;
