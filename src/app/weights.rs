//! The classifier the app runs: the trained model shipped in `assets/` (embedded at build
//! time), parsed once. Should the embedded asset ever fail to parse, the app falls back to
//! deterministic synthetic weights and labels every result "demo weights (untrained)".

use crate::model::classifier::Classifier;
use crate::model::classifier::he::ApproxParams;
use std::sync::OnceLock;

/// Seed of the fallback demo weights (fixed, so runs are reproducible).
const DEMO_SEED: u64 = 7;

/// Class names of the kidney classifier, in logit order (British spelling for display).
pub const CLASS_NAMES: [&str; 3] = ["normal", "cyst", "tumour"];

/// The shipped classifier (Ref-CNN and Approx-CNN), or `None` if its asset is unusable.
pub fn shipped() -> Option<&'static Classifier> {
    static SHIPPED: OnceLock<Option<Classifier>> = OnceLock::new();
    SHIPPED
        .get_or_init(|| crate::model::classifier::shipped().ok())
        .as_ref()
}

pub struct Weights {
    /// The HE-CNN's member networks (one for the demo weights).
    pub params: Vec<ApproxParams>,
    /// True for the untrained demo weights: no diagnosis may be shown.
    pub demo: bool,
}

/// The HE-CNN weights sent to the server thread.
pub fn weights_for_run() -> Weights {
    match shipped() {
        Some(c) => Weights {
            params: c.he_members(),
            demo: false,
        },
        None => Weights {
            params: vec![ApproxParams::synthetic(DEMO_SEED)],
            demo: true,
        },
    }
}

/// True while the app runs the untrained demo weights.
pub fn demo_weights() -> bool {
    shipped().is_none()
}
