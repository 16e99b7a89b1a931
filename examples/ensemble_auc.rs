//! Diagnostic: validation AUCs of Approx-CNNs from several training output folders, each alone
//! and as a logit-averaged ensemble, on the validation images that none of them trained on. `cargo run --release --example ensemble_auc -- DATA DIR...`
use privact::model::classifier::{Classifier, metrics, preprocess, softmax};
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let (root, dirs) = args
        .split_first()
        .ok_or_else(|| anyhow::anyhow!("usage: DATA DIR..."))?;
    let models = dirs
        .iter()
        .map(|d| {
            Ok(Classifier::from_bytes(
                &std::fs::read(d.join("classifier.safetensors"))?,
                &std::fs::read(d.join("classifier.json"))?,
            )?)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Only images that no model trained on: the validation files common to every model's split.
    let files: Vec<_> = models[0]
        .description
        .training
        .validation_files
        .iter()
        .filter(|f| {
            models.iter().all(|m| {
                m.description
                    .training
                    .validation_files
                    .iter()
                    .any(|g| g.path == f.path)
            })
        })
        .collect();
    println!(
        "{} validation images common to every model's split",
        files.len()
    );
    let mut labels = Vec::new();
    let mut each: Vec<Vec<[f64; 3]>> = vec![Vec::new(); models.len()];
    let mut mean = Vec::new();
    for f in &files {
        let x = preprocess::load_model_input(&root.join(&f.path))?;
        let mut sum = [0.0; 3];
        for (m, out) in models.iter().zip(each.iter_mut()) {
            let z = m.approx_logits(&x)?;
            let p = softmax(&z);
            out.push([p[0], p[1], p[2]]);
            for k in 0..3 {
                sum[k] += z[k] / models.len() as f64;
            }
        }
        let p = softmax(&sum);
        mean.push([p[0], p[1], p[2]]);
        labels.push(f.label);
    }
    let show = |name: &str, probs: &[[f64; 3]]| {
        let aucs: Vec<String> = (0..3)
            .map(|k| {
                format!(
                    "{:.3}",
                    metrics::class_auc(probs, &labels, k).unwrap_or(f64::NAN)
                )
            })
            .collect();
        println!("{name}: {}", aucs.join(" / "));
    };
    for (d, p) in dirs.iter().zip(&each) {
        show(&d.display().to_string(), p);
    }
    show("ensemble (mean logits)", &mean);
    Ok(())
}
