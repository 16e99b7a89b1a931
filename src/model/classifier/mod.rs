//! Kidney-CT slice classifier: classes `normal`, `cyst`, `tumor` (in that order).
//!
//! Two networks ship in `assets/classifier.safetensors`, described by `assets/classifier.json`:
//!
//! * **Ref-CNN** (`ref.*`, [`reference`]): a conventional small CNN (ReLU, max-pooling), the
//!   plaintext reference.
//! * **Approx-CNN** (`approx.*`, [`approx`]): the HE-friendly network that the encrypted evaluator
//!   runs: 8×8/8 patchify conv → a·y²+b·y+c → 2×2 average pool → 3×3 conv (pad 1) →
//!   a·y²+b·y+c → global average pool → fully connected (3 logits). It may be an ensemble of
//!   members trained with different seeds (`approx.0.*`, `approx.1.*`, …) whose logits are
//!   averaged: one network's tumour AUC swings with its seed (MODEL_CARD › Seed variance),
//!   the mean does not, and under HE the members share the input ciphertexts and keys.
//!
//! Both take the same input: a 256×256 slice scaled to [0, 1], then standardised per image
//! ([`preprocess::preprocess`]). The assets are embedded in the binary ([`shipped`]), so they
//! are found whatever the working directory.

pub mod approx;
pub mod description;
pub mod ensemble;
pub mod he;
pub mod metrics;
pub mod packing;
pub mod preprocess;
pub mod reference;
pub mod weights;

pub use approx::{ApproxIntermediates, ClassMaps};
pub use description::ModelDescription;
pub use weights::{ApproxCnnWeights, Conv2d, Linear, PolyActivation, RefCnnWeights, WeightsError};

/// Side length of the (square) model input.
pub const INPUT_SIZE: usize = 256;
/// Number of input values (`INPUT_SIZE²`).
pub const INPUT_LEN: usize = INPUT_SIZE * INPUT_SIZE;
/// Output classes, in logit order.
pub const CLASSES: [&str; 3] = ["normal", "cyst", "tumor"];
/// Number of classes.
pub const NUM_CLASSES: usize = CLASSES.len();
/// Every quadratic coefficient `a` of an Approx-CNN activation is at least this (strictly
/// positive, so the HE side can fold `a·y²+b·y+c` into one square).
pub const MIN_ACT_A: f32 = 0.005;

/// The shipped weights file (safetensors).
pub const SHIPPED_WEIGHTS: &[u8] = include_bytes!("../../../assets/classifier.safetensors");
/// The shipped model description (JSON).
pub const SHIPPED_DESCRIPTION: &[u8] = include_bytes!("../../../assets/classifier.json");

/// Errors from loading a classifier or running it on an input.
#[derive(Debug, thiserror::Error)]
pub enum ClassifierError {
    /// The weights file is unreadable, or a tensor is missing or has the wrong shape.
    #[error("classifier weights: {0}")]
    Weights(#[from] WeightsError),
    /// The model description JSON does not parse.
    #[error("classifier description: {0}")]
    Description(#[from] serde_json::Error),
    /// The description does not match the weights (classes, input size).
    #[error("classifier description does not match the model: {0}")]
    Mismatch(String),
    /// An input of the wrong length was given to a forward pass.
    #[error("model input has {found} values, expected {expected} (a {size}×{size} image)", size = INPUT_SIZE)]
    InputLength {
        /// Expected number of values.
        expected: usize,
        /// Number of values given.
        found: usize,
    },
    /// An input value is NaN or infinite.
    #[error("model input contains a non-finite value at index {0}")]
    NonFiniteInput(usize),
}

/// A loaded classifier: both networks and their description.
#[derive(Debug, Clone)]
pub struct Classifier {
    /// Name, version, input transform, training facts and validation metrics.
    pub description: ModelDescription,
    /// The HE-friendly network's members (at least one); its logits are their mean.
    pub approx: Vec<ApproxCnnWeights>,
    /// The plaintext reference network.
    pub reference: RefCnnWeights,
}

impl Classifier {
    /// Parses a safetensors weights file and its JSON description.
    pub fn from_bytes(weights: &[u8], description_json: &[u8]) -> Result<Self, ClassifierError> {
        let description: ModelDescription = serde_json::from_slice(description_json)?;
        let (approx, reference) = weights::load(weights)?;
        if description.classes != CLASSES {
            return Err(ClassifierError::Mismatch(format!(
                "description lists classes {:?}, the networks output {:?}",
                description.classes, CLASSES
            )));
        }
        if let Some(e) = &description.ensemble
            && e.members.len() != approx.len()
        {
            return Err(ClassifierError::Mismatch(format!(
                "description lists {} ensemble members, the weights hold {}",
                e.members.len(),
                approx.len()
            )));
        }
        if description.input.size != INPUT_SIZE {
            return Err(ClassifierError::Mismatch(format!(
                "description input size {} but the networks take {INPUT_SIZE}",
                description.input.size
            )));
        }
        if description.input.body_crop {
            // The series cross-validation tried it (MODEL_CARD) and it did not pay, so the
            // clients never learnt to apply it: refuse rather than feed uncropped slices.
            return Err(ClassifierError::Mismatch(
                "the model was trained on slices cropped to the body (train-classifier --body-crop); the clients do not apply that crop, so it cannot be served".into(),
            ));
        }
        Ok(Self {
            description,
            approx,
            reference,
        })
    }

    /// Approx-CNN logits (the members' mean) for a preprocessed input (see
    /// [`preprocess::preprocess`]).
    pub fn approx_logits(&self, input: &[f32]) -> Result<[f64; NUM_CLASSES], ClassifierError> {
        approx::forward_mean(&self.approx, input)
    }

    /// Approx-CNN class-activation maps (the members' mean) for a preprocessed input; see
    /// [`ClassMaps`].
    pub fn approx_maps(&self, input: &[f32]) -> Result<ClassMaps, ClassifierError> {
        approx::class_maps(&self.approx, input)
    }

    /// Probabilities after the model's decision rule (softmax of `ln p + bias`); `p` itself
    /// when the description has none. The predicted class is their arg-max.
    pub fn decided(&self, p: &[f64; NUM_CLASSES]) -> [f64; NUM_CLASSES] {
        let Some(rule) = &self.description.decision else {
            return *p;
        };
        let z: Vec<f64> = (0..NUM_CLASSES)
            .map(|k| p[k].max(1e-300).ln() + rule.logit_bias[k])
            .collect();
        let s = softmax(&z);
        [s[0], s[1], s[2]]
    }

    /// The Approx-CNN members as the HE evaluator takes them.
    pub fn he_members(&self) -> Vec<he::ApproxParams> {
        self.approx.iter().map(he::ApproxParams::from).collect()
    }

    /// Ref-CNN logits for a preprocessed input (see [`preprocess::preprocess`]).
    pub fn reference_logits(&self, input: &[f32]) -> Result<[f64; NUM_CLASSES], ClassifierError> {
        reference::forward(&self.reference, input)
    }
}

/// The classifier shipped in `assets/` (embedded at compile time).
pub fn shipped() -> Result<Classifier, ClassifierError> {
    Classifier::from_bytes(SHIPPED_WEIGHTS, SHIPPED_DESCRIPTION)
}

/// Numerically stable softmax.
pub fn softmax(logits: &[f64]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = logits.iter().map(|z| (z - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

/// Index of the largest value (the first one on ties); 0 for an empty slice.
pub fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

pub(crate) fn check_input(input: &[f32]) -> Result<(), ClassifierError> {
    if input.len() != INPUT_LEN {
        return Err(ClassifierError::InputLength {
            expected: INPUT_LEN,
            found: input.len(),
        });
    }
    if let Some(i) = input.iter().position(|v| !v.is_finite()) {
        return Err(ClassifierError::NonFiniteInput(i));
    }
    Ok(())
}
