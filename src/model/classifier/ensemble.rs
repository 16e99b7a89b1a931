//! Combining separately trained Approx-CNNs into one shipped ensemble.
//!
//! A member only joins if it was trained on the same data and split and distilled from the same
//! Ref-CNN: otherwise its validation images may be another member's training images, and the
//! ensemble's validation metrics would be optimistic.

use super::description::{ActivationRanges, EnsembleInfo, EnsembleMember, ModelMetrics};
use super::weights::MAX_APPROX_MEMBERS;
use super::{Classifier, ClassifierError};

/// How the members' outputs combine (recorded in the description).
pub const RULE: &str = "mean of the members' logits, then softmax; every member trained with the same Approx-CNN recipe, split and Ref-CNN teacher, differing only in the training seed (the first member's run also trained that teacher, the others reuse it); every trained seed is a member, none was selected on validation";

/// Joins single-network classifiers into one whose Approx-CNN is their ensemble. The
/// description is the first member's with the ensemble recorded, activation ranges widened to
/// cover every member, and the Approx-CNN metrics replaced by `ensemble_metrics` (measured by
/// the caller on the shared validation split).
pub fn assemble(
    members: Vec<Classifier>,
    ensemble_metrics: ModelMetrics,
) -> Result<Classifier, ClassifierError> {
    let mismatch = |m: String| Err(ClassifierError::Mismatch(m));
    let Some(first) = members.first() else {
        return mismatch("an ensemble needs at least one member".into());
    };
    if members.len() > MAX_APPROX_MEMBERS {
        return mismatch(format!(
            "{} members (at most {MAX_APPROX_MEMBERS})",
            members.len()
        ));
    }
    let t0 = &first.description.training;
    if let Some(k) = members.iter().position(|m| m.approx.len() != 1) {
        return mismatch(format!("member {k} is itself an ensemble"));
    }
    for (k, m) in members.iter().enumerate().skip(1) {
        let t = &m.description.training;
        if t.data_sha256 != t0.data_sha256
            || t.data_root != t0.data_root
            || t.split_method != t0.split_method
        {
            return mismatch(format!(
                "member {k} was trained on other data or another split"
            ));
        }
        let paths = |v: &[super::description::ValidationFile]| {
            v.iter().map(|f| f.path.clone()).collect::<Vec<_>>()
        };
        if paths(&t.validation_files) != paths(&t0.validation_files) {
            return mismatch(format!("member {k} has other validation images"));
        }
        if m.reference != first.reference {
            return mismatch(format!("member {k} was distilled from another Ref-CNN"));
        }
    }
    let mut description = first.description.clone();
    description.ensemble = Some(EnsembleInfo {
        rule: RULE.into(),
        members: members
            .iter()
            .map(|m| EnsembleMember {
                seed: m.description.training.seed,
                runtime_seconds: m.description.training.runtime_seconds,
                approx: m.description.metrics.approx.clone(),
            })
            .collect(),
    });
    let mut ranges = ActivationRanges::empty(0);
    for m in &members {
        ranges.widen(&m.description.activation_ranges);
    }
    description.activation_ranges = ranges;
    description.metrics.approx = ensemble_metrics;
    if let Some(n) = description.architecture.parameters.get_mut("approx") {
        *n *= members.len();
    }
    let reference = first.reference.clone();
    let approx = members.into_iter().flat_map(|m| m.approx).collect();
    Ok(Classifier {
        description,
        approx,
        reference,
    })
}
