//! Evaluation errors: every refusal names what was expected and what was found.

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EvalError {
    #[error("scale mismatch: 2^{a:.3} vs 2^{b:.3} (rescale or re-encode one operand to the other's scale)", a = a.log2(), b = b.log2())]
    ScaleMismatch { a: f64, b: f64 },
    #[error("scale {0:e} is not a finite number ≥ 1")]
    InvalidScale(f64),
    #[error(
        "scale 2^{log_scale:.1} does not fit the modulus at level {level} (2^{log_q:.1}): rescale first or use a smaller scale"
    )]
    ScaleOutOfBounds {
        log_scale: f64,
        log_q: f64,
        level: usize,
    },
    #[error("no level left to rescale: the ciphertext is at level 0")]
    NoLevelLeft,
    #[error("cannot drop {needed} levels: the ciphertext is at level {available}")]
    NotEnoughLevels { needed: usize, available: usize },
    #[error(
        "the plaintext is at level {plaintext}, below the ciphertext's level {ciphertext}: encode it at level ≥ {ciphertext}"
    )]
    PlaintextLevelTooLow { plaintext: usize, ciphertext: usize },
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
    #[error(
        "value × scale = {0:e} does not fit the modulus at this level (nor more than 62 bits); lower the scale or the values"
    )]
    ValueTooLarge(f64),
    #[error("a non-finite value (NaN or infinity) cannot be encoded")]
    NonFinite,
    #[error("level {level} is above the maximum level {max}")]
    LevelTooHigh { level: usize, max: usize },
    #[error("ciphertext and plaintext/ciphertext/key belong to different parameter sets")]
    ParameterMismatch,
    #[error("the result would be transparent (c1 = 0, readable without the secret key): {0}")]
    Transparent(&'static str),
    #[error("cannot sum {n} rotations: the count must be in 1..={max}")]
    InvalidCount { n: usize, max: usize },
    #[error(
        "a linear combination needs 1 to 2^20 ciphertexts and one weight each: {ciphertexts} ciphertexts, {weights} weights"
    )]
    TermCount { ciphertexts: usize, weights: usize },
    #[error(
        "the decomposition was made at level {decomposed}, the ciphertext is at level {ciphertext}: decompose this ciphertext"
    )]
    DecompositionMismatch {
        decomposed: usize,
        ciphertext: usize,
    },
}
