//! `privact assemble-classifier`: joins `train-classifier` outputs (same split and Ref-CNN,
//! different seeds) into one Approx-CNN ensemble and measures it on the shared validation
//! split (feature `train`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use crate::imaging::io::write_atomic;
use crate::model::classifier::weights;
use crate::model::classifier::{Classifier, NUM_CLASSES, ensemble, metrics, preprocess, softmax};

/// Arguments of `assemble-classifier`.
#[derive(Debug, Args)]
pub struct AssembleClassifierArgs {
    /// Data root the members were trained on (for the validation images).
    #[arg(long)]
    pub data: PathBuf,
    /// Output folder for classifier.safetensors and classifier.json.
    #[arg(long, default_value = "assets")]
    pub out: PathBuf,
    /// Version recorded for the assembled model (default: the first member's).
    #[arg(long)]
    pub model_version: Option<String>,
    /// `train-classifier` output folders, one per member, in the order the members are stored.
    #[arg(required = true, value_name = "MEMBER_DIR")]
    pub members: Vec<PathBuf>,
}

fn load_member(dir: &Path) -> anyhow::Result<Classifier> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
    };
    Classifier::from_bytes(&read("classifier.safetensors")?, &read("classifier.json")?)
        .with_context(|| format!("loading the member in {}", dir.display()))
}

/// Assembles the members, measures the ensemble and writes both files.
pub fn run(args: &AssembleClassifierArgs) -> anyhow::Result<()> {
    let members = args
        .members
        .iter()
        .map(|d| load_member(d))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let first = members.first().context("no member given")?;
    let files = first.description.training.validation_files.clone();
    let networks: Vec<_> = members.iter().flat_map(|m| m.approx.clone()).collect();
    let (mut probs, mut labels, mut groups) = (Vec::new(), Vec::new(), Vec::new());
    for f in &files {
        let x = preprocess::load_model_input(&args.data.join(&f.path))
            .with_context(|| format!("validation image {}", f.path))?;
        let z = crate::model::classifier::approx::forward_mean(&networks, &x)?;
        let p = softmax(&z);
        probs.push(std::array::from_fn::<f64, NUM_CLASSES, _>(|k| p[k]));
        labels.push(f.label);
        groups.push(f.group);
    }
    let measured = metrics::evaluate(&probs, &labels, &groups);
    let mut joined = ensemble::assemble(members, measured)?;
    if let Some(v) = &args.model_version {
        joined.description.version = v.clone();
    }
    for (class, m) in &joined.description.metrics.approx.per_class {
        eprintln!(
            "ensemble of {}: {class} AUC {:.3} [{:.3}, {:.3}]",
            joined.approx.len(),
            m.auc,
            m.auc_ci95[0],
            m.auc_ci95[1]
        );
    }
    let mut meta = std::collections::HashMap::new();
    meta.insert("model".to_string(), "privact-kidney-classifier".to_string());
    let bytes = weights::to_safetensors(&joined.approx, &joined.reference, Some(meta))?;
    std::fs::create_dir_all(&args.out)?;
    write_atomic(&args.out.join("classifier.safetensors"), &bytes)?;
    let json = serde_json::to_string_pretty(&joined.description)? + "\n";
    write_atomic(&args.out.join("classifier.json"), json.as_bytes())?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}
