//! The model description shipped beside the weights (`assets/classifier.json`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything a user of the shipped classifier needs to know about it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelDescription {
    /// Model name.
    pub name: String,
    /// Model version.
    pub version: String,
    /// Class names in logit order.
    pub classes: Vec<String>,
    /// Input size and transform.
    pub input: InputSpec,
    /// Architecture of both networks, as text.
    pub architecture: Architecture,
    /// CKKS parameter preset the HE side uses for this model.
    pub parameter_preset: String,
    /// Training data, split and run facts.
    pub training: TrainingInfo,
    /// Validation metrics for both networks.
    pub metrics: Metrics,
    /// Largest |value| seen per Approx-CNN layer over all training and validation images
    /// (over every member of an ensemble).
    pub activation_ranges: ActivationRanges,
    /// Present when the Approx-CNN is an ensemble: its members and how they combine.
    /// `metrics.approx` is then the ensemble's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ensemble: Option<EnsembleInfo>,
    /// Present when the predicted class is not the plain arg-max of the Approx-CNN's
    /// probabilities: a logit bias chosen on training data only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionRule>,
}

/// Prior/threshold correction of the Approx-CNN's decision: the client adds `logit_bias` to
/// `ln p` (equivalently to the decrypted logits) and reports softmax and arg-max of the sum.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DecisionRule {
    /// Added per class (order of `classes`; the first is 0).
    pub logit_bias: [f64; 3],
    /// How and on which data it was chosen.
    pub method: String,
}

/// The members of an Approx-CNN ensemble, in weights-file order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EnsembleInfo {
    /// How member outputs combine.
    pub rule: String,
    /// One entry per member.
    pub members: Vec<EnsembleMember>,
}

/// One ensemble member's training run and its own validation metrics.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EnsembleMember {
    /// Training seed (the only thing that differs between members).
    pub seed: u64,
    /// Wall time of its training run on the 2-core machine.
    pub runtime_seconds: f64,
    /// Its Approx-CNN metrics alone, on the shared validation split.
    pub approx: ModelMetrics,
}

/// Model input.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InputSpec {
    /// Side of the square input (256).
    pub size: usize,
    /// The transform, in words.
    pub transform: String,
    /// The [0, 1] slice is cropped to the patient's body ([`crate::imaging::body_crop`])
    /// before standardisation. Absent in models of v1.1.0 and earlier (false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_crop: bool,
}

/// Architecture texts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Architecture {
    /// The HE-friendly network.
    pub approx: String,
    /// The plaintext reference network.
    pub reference: String,
    /// Parameter counts (`approx`, `reference`).
    pub parameters: BTreeMap<String, usize>,
}

/// Training facts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainingInfo {
    /// Name of the data folder (e.g. `kidney-ct`).
    pub data_root: String,
    /// Class folders used, mapped to class names.
    pub class_folders: BTreeMap<String, String>,
    /// Number of images used per class.
    pub images_per_class: BTreeMap<String, usize>,
    /// SHA-256 of the sorted lines `Folder/file.jpg\tsize_bytes\n` of every file used.
    pub data_sha256: String,
    /// How the train/validation split was made.
    pub split_method: String,
    /// Groups (clusters of near-identical slices) per class.
    pub groups_per_class: BTreeMap<String, usize>,
    /// Train images per class.
    pub train_images: BTreeMap<String, usize>,
    /// Validation images per class.
    pub validation_images: BTreeMap<String, usize>,
    /// Validation groups per class.
    pub validation_groups: BTreeMap<String, usize>,
    /// Validation files (`Folder/file.jpg`), sorted, with their group id.
    pub validation_files: Vec<ValidationFile>,
    /// Random seed.
    pub seed: u64,
    /// Epochs per network (`reference`, `approx`).
    pub epochs: BTreeMap<String, usize>,
    /// Recipe in words (optimiser, augmentation, balancing, distillation, range penalty).
    pub recipe: String,
    /// Wall-clock training time (data loading to export), seconds.
    pub runtime_seconds: f64,
    /// Machine the training ran on.
    pub machine: String,
}

/// One validation image.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ValidationFile {
    /// `Folder/file.jpg`, relative to the data root.
    pub path: String,
    /// Class index (into `classes`).
    pub label: usize,
    /// Group id (unique across classes).
    pub group: usize,
}

/// Validation metrics of both networks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Metrics {
    /// Ref-CNN.
    pub reference: ModelMetrics,
    /// Approx-CNN.
    pub approx: ModelMetrics,
    /// How the confidence intervals were computed.
    pub ci_method: String,
}

/// Metrics of one network on the validation split.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelMetrics {
    /// Number of validation images.
    pub n: usize,
    /// Per-class one-vs-rest metrics.
    pub per_class: BTreeMap<String, ClassMetrics>,
    /// Mean of per-class recall.
    pub balanced_accuracy: f64,
    /// 95 % CI of the balanced accuracy.
    pub balanced_accuracy_ci95: [f64; 2],
    /// Plain accuracy.
    pub accuracy: f64,
    /// Rows: true class, columns: predicted class (order of `classes`).
    pub confusion_matrix: Vec<Vec<usize>>,
}

/// One-vs-rest metrics of one class.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClassMetrics {
    /// ROC AUC.
    pub auc: f64,
    /// 95 % bootstrap CI of the AUC.
    pub auc_ci95: [f64; 2],
    /// Area under the precision-recall curve (average precision).
    pub auprc: f64,
    /// Recall (sensitivity) of arg-max predictions.
    pub recall: f64,
}

/// Observed maxima of |value| per Approx-CNN layer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ActivationRanges {
    /// Images the maxima were taken over.
    pub images: usize,
    /// max |conv1 output| (pre-activation 1).
    pub conv1_pre_activation: f64,
    /// max |act1 output|.
    pub act1_output: f64,
    /// max |conv2 output| (pre-activation 2).
    pub conv2_pre_activation: f64,
    /// max |act2 output|.
    pub act2_output: f64,
    /// max |logit|.
    pub logits: f64,
    /// max |input value| after preprocessing.
    pub input: f64,
}

impl ActivationRanges {
    /// No value seen yet, over `images` images.
    pub fn empty(images: usize) -> Self {
        Self {
            images,
            conv1_pre_activation: 0.0,
            act1_output: 0.0,
            conv2_pre_activation: 0.0,
            act2_output: 0.0,
            logits: 0.0,
            input: 0.0,
        }
    }

    /// Widens every maximum to cover `other` too.
    pub fn widen(&mut self, other: &ActivationRanges) {
        self.images = self.images.max(other.images);
        self.conv1_pre_activation = self.conv1_pre_activation.max(other.conv1_pre_activation);
        self.act1_output = self.act1_output.max(other.act1_output);
        self.conv2_pre_activation = self.conv2_pre_activation.max(other.conv2_pre_activation);
        self.act2_output = self.act2_output.max(other.act2_output);
        self.logits = self.logits.max(other.logits);
        self.input = self.input.max(other.input);
    }
}
