//! Plaintext models: the kidney-CT classifier (a conventional reference network and its
//! HE-friendly approximation, whose weights the encrypted evaluator consumes).

pub mod classifier;
