//! Which classifier weights the app runs: the ONE place to switch to the trained model.
//!
//! Until `model::classifier::shipped()` lands, `classifier_weights()` returns `None` and the
//! app runs deterministic synthetic weights, labelled everywhere as "demo weights (untrained)":
//! the pipeline, bytes and timings are real, the probabilities mean nothing.

use crate::model::classifier::he::ApproxParams;

/// Seed of the demo weights (fixed, so runs are reproducible).
const DEMO_SEED: u64 = 7;

/// The trained model shipped with PrivaCT, when there is one.
/// Switch: replace the body with `crate::model::classifier::shipped().ok()`.
pub fn classifier_weights() -> Option<ApproxParams> {
    None
}

/// Class names of the kidney classifier, in logit order.
pub const CLASS_NAMES: [&str; 3] = ["normal", "cyst", "tumour"];

pub struct Weights {
    pub params: ApproxParams,
    /// True for the untrained demo weights: no diagnosis may be shown.
    pub demo: bool,
}

pub fn weights_for_run() -> Weights {
    match classifier_weights() {
        Some(params) => Weights {
            params,
            demo: false,
        },
        None => Weights {
            params: ApproxParams::synthetic(DEMO_SEED),
            demo: true,
        },
    }
}

/// True while the app runs the untrained demo weights.
pub fn demo_weights() -> bool {
    classifier_weights().is_none()
}
