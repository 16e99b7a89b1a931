//! Evaluation errors: every refusal names what was expected and what was found.

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EvalError {
    #[error("scale mismatch: 2^{a:.3} vs 2^{b:.3} (rescale or re-encode one operand to the other's scale)", a = a.log2(), b = b.log2())]
    ScaleMismatch { a: f64, b: f64 },
    #[error("no level left to rescale: the ciphertext is at level 0")]
    NoLevelLeft,
    #[error("the computation needs {needed} more levels, the ciphertext has {available}")]
    NotEnoughLevels { needed: usize, available: usize },
    #[error("no relinearisation key was provided")]
    MissingRelinKey,
    #[error(
        "no Galois key for rotation by {rotation} (Galois element {galois_element}); generate it on the client"
    )]
    MissingGaloisKey { rotation: i64, galois_element: u64 },
    #[error("no Galois key for conjugation")]
    MissingConjugationKey,
    #[error("ciphertext has degree {0}; relinearise it first")]
    DegreeTooHigh(usize),
    #[error("{given} values do not fit in {slots} slots")]
    TooManyValues { given: usize, slots: usize },
    #[error("value × scale = {0:e} does not fit the 62-bit encoding range; lower the scale")]
    ValueTooLarge(f64),
    #[error("a non-finite value (NaN or infinity) cannot be encoded")]
    NonFinite,
    #[error("level {level} is above the maximum level {max}")]
    LevelTooHigh { level: usize, max: usize },
    #[error("ciphertext and plaintext/ciphertext belong to different parameter sets")]
    ParameterMismatch,
}
