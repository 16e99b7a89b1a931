//! Diagnostic: validation AUCs of Approx-CNNs from several training output folders, each alone
//! and as a logit-averaged ensemble. `cargo run --release --example ensemble_auc -- DATA DIR...`
use privact::model::classifier::{Classifier, approx, metrics, preprocess, softmax};
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
    let files = &models[0].description.training.validation_files;
    let mut labels = Vec::new();
    let mut each: Vec<Vec<[f64; 3]>> = vec![Vec::new(); models.len()];
    let mut mean = Vec::new();
    for f in files {
        let x = preprocess::load_model_input(&root.join(&f.path))?;
        let mut sum = [0.0; 3];
        for (m, out) in models.iter().zip(each.iter_mut()) {
            let z = approx::forward(&m.approx, &x)?;
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
