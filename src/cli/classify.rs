//! `privact classify` and `privact evaluate`: the kidney classifier in reference, approx
//! (plaintext HE-friendly) or encrypted mode.

use crate::imaging;
use crate::imaging::input_check;
use crate::model::classifier::metrics::{auc, average_precision};
use crate::model::classifier::{
    CLASSES, Classifier, NUM_CLASSES, argmax, preprocess::preprocess, shipped, softmax,
};
use crate::protocol::classify::local::LocalSession;
use crate::protocol::release::ReleasePolicy;
use anyhow::Context;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Ref-CNN in plaintext (ReLU, max-pooling).
    Reference,
    /// Approx-CNN in plaintext (the network the server evaluates).
    Approx,
    /// Approx-CNN on CKKS ciphertexts through the client/server protocol.
    Encrypted,
}

#[derive(clap::Args)]
pub struct ClassifyArgs {
    /// DICOM, PNG or JPEG slice.
    pub path: PathBuf,
    #[arg(long, value_enum, default_value_t = Mode::Encrypted)]
    pub mode: Mode,
    #[arg(long)]
    pub json: bool,
    /// Also compute the class-activation map (encrypted mode: returned encrypted by the
    /// server, decrypted here) and write the 256×256 model input with the map over it as PNG
    /// (written atomically). With `--json` the 16×16 maps are in `heat_map`.
    #[arg(long, value_name = "PNG")]
    pub heat_map: Option<PathBuf>,
    /// The class whose map the PNG shows.
    #[arg(long, value_enum, default_value_t = MapClass::Tumor)]
    pub heat_map_class: MapClass,
    #[command(flatten)]
    pub server: super::serve::ServerArgs,
}

/// A class with a class-activation map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MapClass {
    Cyst,
    Tumor,
}

impl MapClass {
    /// Index in `CLASSES`.
    pub fn index(self) -> usize {
        match self {
            MapClass::Cyst => 1,
            MapClass::Tumor => 2,
        }
    }
}

#[derive(clap::Args)]
pub struct EvaluateArgs {
    /// Folder with class subfolders (normal, cyst, tumor; case-insensitive; others ignored).
    pub dir: PathBuf,
    #[arg(long, value_enum, default_value_t = Mode::Approx)]
    pub mode: Mode,
    /// At most N images per class, in sorted file-name order.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Also list every image: file, truth, probabilities, predicted class, input-check warning.
    #[arg(long)]
    pub per_image: bool,
    /// Tab-separated `Class/file<TAB>group` lines (e.g. kidney-ct-extra/series.tsv): the 95 %
    /// intervals then resample whole groups (series), not single images.
    #[arg(long, value_name = "TSV")]
    pub groups: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: super::serve::ServerArgs,
}

/// File → the classifier's input (imaging transform, then per-image standardisation), after
/// the input check: non-CT, colour and non-HU CT images are refused (an error naming why);
/// a slice that fails the plausibility rules comes back with its warning.
pub fn checked_model_input(path: &Path) -> anyhow::Result<(Vec<f32>, Option<String>)> {
    let (unit, warning) = checked_unit_input(path)?;
    Ok((preprocess(&unit), warning))
}

/// [`checked_model_input`] before standardisation: the 256×256 image in [0, 1] as the model
/// sees it (what a heat map is drawn on).
pub fn checked_unit_input(path: &Path) -> anyhow::Result<(Vec<f32>, Option<String>)> {
    let slice = imaging::load(path)?;
    let check = input_check::check_file(path, &slice)
        .map_err(|r| anyhow::anyhow!("{}: {r}", path.display()))?;
    let slice = input_check::as_hounsfield(&slice);
    Ok((
        imaging::model_input::to_model_input(&slice),
        check.warning(),
    ))
}

/// Runs one mode; an encrypted session is created on first use and reused.
pub(crate) struct Runner {
    model: Classifier,
    session: Option<LocalSession>,
    /// Also compute class-activation maps (encrypted: one more ciphertext in the answer);
    /// they appear in the extra JSON as `heat_map`.
    pub(crate) heat_map: bool,
    /// `privact serve` to use instead of the in-process server.
    pub(crate) endpoint: Option<crate::protocol::transport::http_client::Endpoint>,
}

impl Runner {
    pub(crate) fn new() -> anyhow::Result<Self> {
        Ok(Self {
            model: shipped().context("loading the shipped classifier")?,
            session: None,
            heat_map: false,
            endpoint: None,
        })
    }

    fn session(&mut self) -> anyhow::Result<&mut LocalSession> {
        if self.session.is_none() {
            let weights = self.model.he_members();
            let preset = self.model.description.parameter_preset.clone();
            self.session = Some(match &self.endpoint {
                Some(ep) => LocalSession::connect(&preset, ep, &mut |_| {})?,
                None => LocalSession::start(&preset, weights, &mut |_| {})?,
            });
        }
        self.session.as_mut().context("session")
    }

    /// Probabilities and what the run cost ([`RunRecord`]: in encrypted mode the ledger,
    /// bytes and seconds), with the class-activation maps when `heat_map` is set.
    pub(crate) fn probabilities(
        &mut self,
        mode: Mode,
        input: &[f32],
    ) -> anyhow::Result<([f64; NUM_CLASSES], RunRecord)> {
        let logits = match mode {
            Mode::Reference => self.model.reference_logits(input)?,
            Mode::Approx => self.model.approx_logits(input)?,
            Mode::Encrypted => {
                let heat_map = self.heat_map;
                let run = self
                    .session()?
                    .classify_with(input, heat_map, &mut |_| {})?;
                let heat_map = match run.result.maps {
                    Some(mut maps) => {
                        // Decrypted values leave flooded and rounded, like the logits.
                        let policy = ReleasePolicy::new(1e-6, 1e-4)?;
                        crate::protocol::release::release(&mut maps.cyst, &policy);
                        crate::protocol::release::release(&mut maps.tumor, &policy);
                        Some(maps)
                    }
                    None => None,
                };
                let record = RunRecord {
                    ledger: run
                        .setup
                        .steps
                        .iter()
                        .chain(&run.ledger.steps)
                        .map(StepRecord::from)
                        .collect(),
                    upload_bytes: run.upload_bytes,
                    download_bytes: run.download_bytes,
                    eval_key_bytes: run.eval_key_bytes,
                    server_key_memory_bytes: Some(run.server_key_memory),
                    setup_seconds: Some(run.setup.steps.iter().map(|s| s.seconds).sum()),
                    slice_seconds: Some(run.ledger.steps.iter().map(|s| s.seconds).sum()),
                    heat_map,
                };
                return Ok((self.model.decided(&run.result.probabilities), record));
            }
        };
        let p = softmax(&logits);
        let p = [p[0], p[1], p[2]];
        let record = RunRecord {
            heat_map: match self.heat_map && mode == Mode::Approx {
                true => Some(self.model.approx_maps(input)?),
                false => None,
            },
            ..RunRecord::default()
        };
        Ok((
            if mode == Mode::Reference {
                p
            } else {
                self.model.decided(&p)
            },
            record,
        ))
    }
}

/// What one classification cost, as `classify --json` reports it (zeros and no seconds in
/// the plaintext modes, which send nothing).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub(crate) struct RunRecord {
    /// The session's one-time steps (first slice only) and this slice's steps.
    pub ledger: Vec<StepRecord>,
    pub upload_bytes: u64,
    pub download_bytes: u64,
    pub eval_key_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_key_memory_bytes: Option<u64>,
    /// Keys, upload and server setup of the session, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup_seconds: Option<f64>,
    /// This slice alone, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slice_seconds: Option<f64>,
    /// The class-activation maps (released like the probabilities in encrypted mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heat_map: Option<crate::model::classifier::ClassMaps>,
}

/// One step of the ledger: name, side, milliseconds, bytes.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct StepRecord {
    pub stage: String,
    pub side: crate::protocol::Side,
    pub ms: f64,
    pub bytes: u64,
}

impl From<&crate::protocol::Step> for StepRecord {
    fn from(s: &crate::protocol::Step) -> Self {
        Self {
            stage: s.name.clone(),
            side: s.side,
            ms: s.seconds * 1e3,
            bytes: s.bytes,
        }
    }
}

pub(crate) fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Reference => "reference",
        Mode::Approx => "approx",
        Mode::Encrypted => "encrypted",
    }
}

pub fn run_classify(args: &ClassifyArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.heat_map.is_none() || args.mode != Mode::Reference,
        "--heat-map needs --mode approx or encrypted: the maps are the Approx-CNN's"
    );
    if let Some(png) = &args.heat_map {
        crate::imaging::io::check_output_path(png, &["png"])?;
    }
    let (unit, warning) = checked_unit_input(&args.path)?;
    let input = preprocess(&unit);
    let mut runner = Runner::new()?;
    runner.heat_map = args.heat_map.is_some();
    runner.endpoint = args.server.endpoint()?;
    let (mut p, extra) = runner.probabilities(args.mode, &input)?;
    if let Some(png) = &args.heat_map {
        let maps = extra
            .heat_map
            .as_ref()
            .context("the run returned no class-activation map")?;
        write_heat_map(png, &unit, maps, args.heat_map_class)?;
    }
    let extra = serde_json::to_value(&extra)?;
    if args.mode == Mode::Encrypted {
        // Decrypted values leave the client flooded and rounded (see `protocol::release`):
        // logits decrypt to ~1e-8, so σ = 1.6e-5 and a 1e-4 grid hide the error entirely.
        crate::protocol::release::release(&mut p, &ReleasePolicy::new(1e-6, 1e-4)?);
    }
    let params = crate::ckks::Parameters::preset(&runner.model.description.parameter_preset)?;
    // Where the encrypted steps ran: `privact serve` at this URL, or this process.
    let evaluated_by = args.server.evaluated_by(args.mode == Mode::Encrypted);
    let mut out = json!({
        "mode": mode_name(args.mode),
        "evaluated_by": evaluated_by,
        "probabilities": {CLASSES[0]: p[0], CLASSES[1]: p[1], CLASSES[2]: p[2]},
        // No class is named for a slice that failed the input check.
        "predicted": if warning.is_some() { Value::Null } else { json!(CLASSES[argmax(&p)]) },
        "warning": warning,
        "params": {
            "log_n": params.log_n(),
            "log_q": params.literal().log_q,
            "log_p": params.literal().log_p,
            "security_bits": params.security_bits(),
        },
    });
    if let (Some(o), Value::Object(e)) = (out.as_object_mut(), extra) {
        o.extend(e);
    }
    if args.json {
        println!("{out}");
    } else {
        match &warning {
            Some(w) => println!("warning: {w} ({} mode)", mode_name(args.mode)),
            None => println!(
                "{} ({} mode)",
                out["predicted"].as_str().unwrap_or("?"),
                mode_name(args.mode)
            ),
        }
        println!("evaluated by {evaluated_by}");
        for (k, name) in CLASSES.iter().enumerate() {
            println!("  {name:<7} {:.4}", p[k]);
        }
        if args.mode == Mode::Encrypted {
            for s in out["ledger"].as_array().into_iter().flatten() {
                println!(
                    "  {:<28} {:>9.1} ms {:>12} bytes",
                    s["stage"].as_str().unwrap_or(""),
                    s["ms"].as_f64().unwrap_or(0.0),
                    s["bytes"]
                );
            }
        }
    }
    Ok(())
}

/// The 256×256 model input (grey, [0, 1]) with one class's map over it, as an atomically
/// written PNG. The colour range is the map's mean…max (logit units; printed on stderr).
fn write_heat_map(
    png: &Path,
    unit: &[f32],
    maps: &crate::model::classifier::ClassMaps,
    class: MapClass,
) -> anyhow::Result<()> {
    let map = maps
        .for_class(class.index())
        .context("no map for that class")?;
    // Cells above the map's mean (= the class logit) push towards the class: only they are
    // coloured, from the mean (transparent) to the maximum (bright).
    let (_, hi) = imaging::overlay::finite_range(map).context("the map has no finite value")?;
    let range = (map.iter().sum::<f64>() / map.len() as f64, hi);
    let grey: Vec<u8> = unit
        .iter()
        .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    let side = imaging::model_input::MODEL_SIDE;
    let rgb = imaging::overlay::blend(&grey, side, side, map, maps.side, range, 0.6);
    let bytes = imaging::overlay::rgb_png(side, side, &rgb)
        .map_err(|e| anyhow::anyhow!("{}: {e}", png.display()))?;
    imaging::io::write_atomic(png, &bytes)?;
    eprintln!(
        "heat map ({}) written to {}: logit terms {:.2} (the logit, transparent) … {:.2} (bright)",
        CLASSES[class.index()],
        png.display(),
        range.0,
        range.1
    );
    Ok(())
}

/// Class folders of `dir`, matched case-insensitively, each with its sorted files.
fn class_files(dir: &Path, limit: Option<usize>) -> anyhow::Result<Vec<(usize, PathBuf)>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    let mut folders: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    for folder in folders {
        let name = folder
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let Some(label) = CLASSES.iter().position(|c| *c == name) else {
            continue;
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        files.truncate(limit.unwrap_or(usize::MAX));
        out.extend(files.into_iter().map(|f| (label, f)));
    }
    anyhow::ensure!(
        !out.is_empty(),
        "no images found under class folders normal/cyst/tumor in {}",
        dir.display()
    );
    Ok(out)
}

/// `Class/file → group` from a TSV (header lines without a tab are skipped).
fn read_groups(path: &Path) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut map = std::collections::BTreeMap::new();
    for line in text.lines() {
        if let Some((file, group)) = line.split_once('\t')
            && file != "file"
        {
            map.insert(file.trim().to_lowercase(), group.trim().to_string());
        }
    }
    anyhow::ensure!(
        !map.is_empty(),
        "{}: no `file<TAB>group` lines",
        path.display()
    );
    Ok(map)
}

/// Group id of every file for the bootstrap: from `groups` (keyed by `Class/file`, lower
/// case), else one group per image.
fn group_ids(
    dir: &Path,
    files: &[(usize, PathBuf)],
    groups: Option<&std::collections::BTreeMap<String, String>>,
) -> anyhow::Result<Vec<usize>> {
    let mut ids: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    let mut out = Vec::with_capacity(files.len());
    for (i, (_, f)) in files.iter().enumerate() {
        let key = match groups {
            None => format!("#{i}"),
            Some(map) => {
                let rel = f
                    .strip_prefix(dir)
                    .unwrap_or(f)
                    .to_string_lossy()
                    .replace('\\', "/")
                    .to_lowercase();
                map.get(&rel)
                    .cloned()
                    .with_context(|| format!("{rel} is not listed in the --groups file"))?
            }
        };
        let next = ids.len();
        out.push(*ids.entry(key).or_insert(next));
    }
    Ok(out)
}

pub fn run_evaluate(args: &EvaluateArgs) -> anyhow::Result<()> {
    use crate::model::classifier::metrics;
    let files = class_files(&args.dir, args.limit)?;
    let group_map = args.groups.as_deref().map(read_groups).transpose()?;
    let groups = group_ids(&args.dir, &files, group_map.as_ref())?;
    let mut runner = Runner::new()?;
    runner.endpoint = args.server.endpoint()?;
    let (mut probs, mut labels, mut times) = (Vec::new(), Vec::new(), Vec::new());
    let (mut agree, mut max_diff) = (0usize, 0.0f64);
    let (mut rows, mut warned) = (Vec::new(), 0usize);
    for (label, path) in &files {
        let slice = imaging::load(path).with_context(|| format!("{}", path.display()))?;
        // The input check is reported, not enforced, so that every image is scored.
        let warning = match input_check::check_file(path, &slice) {
            Ok(p) => p.warning(),
            Err(r) => Some(r.to_string()),
        };
        warned += usize::from(warning.is_some());
        let slice = input_check::as_hounsfield(&slice);
        let input = preprocess(&imaging::model_input::to_model_input(&slice));
        let t = Instant::now();
        let (p, _) = runner.probabilities(args.mode, &input)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        if args.mode == Mode::Encrypted {
            let (plain, _) = runner.probabilities(Mode::Approx, &input)?;
            agree += usize::from(argmax(&plain) == argmax(&p));
            max_diff = p
                .iter()
                .zip(&plain)
                .map(|(a, b)| (a - b).abs())
                .fold(max_diff, f64::max);
        }
        if args.per_image {
            rows.push(json!({
                "file": path.display().to_string(),
                "truth": CLASSES[*label],
                "probabilities": {CLASSES[0]: p[0], CLASSES[1]: p[1], CLASSES[2]: p[2]},
                "predicted": CLASSES[argmax(&p)],
                "warning": warning,
            }));
        }
        probs.push(p);
        labels.push(*label);
    }
    let n = probs.len();
    let m = metrics::evaluate(&probs, &labels, &groups);
    let confusion = &m.confusion_matrix;
    let mut per_class = serde_json::Map::new();
    for (k, name) in CLASSES.iter().enumerate() {
        let scores: Vec<f64> = probs.iter().map(|p| p[k]).collect();
        let positive: Vec<bool> = labels.iter().map(|&l| l == k).collect();
        let (sens, spec) = metrics::sensitivity_specificity(confusion, k);
        let cm = &m.per_class[*name];
        per_class.insert(
            name.to_string(),
            json!({
                "n": positive.iter().filter(|&&b| b).count(),
                "auc": auc(&scores, &positive),
                "auc_ci95": cm.auc_ci95,
                "auprc": average_precision(&scores, &positive),
                "sensitivity": sens,
                "specificity": spec,
            }),
        );
    }
    let n_groups = groups
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let mut out = json!({
        "n": n,
        "mode": mode_name(args.mode),
        "decision": match (&runner.model.description.decision, args.mode) {
            (Some(rule), Mode::Approx | Mode::Encrypted) => format!(
                "arg-max of softmax(ln p + {:?}) (the model's decision rule: {})",
                rule.logit_bias, rule.method
            ),
            _ => "arg-max of the probabilities".to_string(),
        },
        "per_class": per_class,
        "accuracy": m.accuracy,
        "balanced_accuracy": m.balanced_accuracy,
        "balanced_accuracy_ci95": m.balanced_accuracy_ci95,
        "confusion_matrix": {
            "rows": "true class (normal, cyst, tumor)",
            "columns": "predicted class (normal, cyst, tumor)",
            "counts": confusion,
        },
        "ci": if group_map.is_some() {
            format!("{} ({n_groups} groups from --groups)", metrics::CI_METHOD)
        } else {
            "95% percentile intervals from 2000 stratified bootstrap replicates of single images (no --groups given: adjacent slices are not independent, so these intervals are too narrow)".to_string()
        },
        "input_check_warnings": warned,
        "mean_ms": times.iter().sum::<f64>() / n.max(1) as f64,
    });
    if let Some(o) = out.as_object_mut() {
        if args.mode == Mode::Encrypted {
            o.insert("agreement".into(), json!(agree as f64 / n as f64));
            o.insert("max_abs_prob_diff".into(), json!(max_diff));
        }
        if args.per_image {
            o.insert("images".into(), Value::Array(rows));
        }
    }
    if args.json {
        println!("{out}");
    } else {
        print_evaluation(&out);
    }
    Ok(())
}

/// The evaluation as tables for a reader (`--json` gives the same numbers as one object).
fn print_evaluation(out: &Value) {
    let num = |v: &Value| {
        v.as_f64()
            .map_or_else(|| "-".to_string(), |x| format!("{x:.3}"))
    };
    let ci = |v: &Value| match (v[0].as_f64(), v[1].as_f64()) {
        (Some(a), Some(b)) => format!("[{a:.3}, {b:.3}]"),
        _ => String::new(),
    };
    println!(
        "{} images, {} mode; decision: {}",
        out["n"],
        out["mode"].as_str().unwrap_or("?"),
        out["decision"].as_str().unwrap_or("?")
    );
    println!(
        "{:<8} {:>5}  {:>6} {:<17} {:>6}  {:>11}  {:>11}",
        "class", "n", "AUC", "(95% CI)", "AUPRC", "sensitivity", "specificity"
    );
    for name in CLASSES {
        let c = &out["per_class"][name];
        println!(
            "{:<8} {:>5}  {:>6} {:<17} {:>6}  {:>11}  {:>11}",
            name,
            c["n"],
            num(&c["auc"]),
            ci(&c["auc_ci95"]),
            num(&c["auprc"]),
            num(&c["sensitivity"]),
            num(&c["specificity"])
        );
    }
    println!(
        "balanced accuracy {} {}, accuracy {}",
        num(&out["balanced_accuracy"]),
        ci(&out["balanced_accuracy_ci95"]),
        num(&out["accuracy"])
    );
    println!("confusion matrix (rows: true class, columns: predicted)");
    println!(
        "{:<8} {:>7} {:>7} {:>7}",
        "", CLASSES[0], CLASSES[1], CLASSES[2]
    );
    for (name, row) in CLASSES.iter().zip(
        out["confusion_matrix"]["counts"]
            .as_array()
            .into_iter()
            .flatten(),
    ) {
        let cells: Vec<String> = row
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| format!("{c:>7}"))
            .collect();
        println!("{name:<8} {}", cells.join(" "));
    }
    println!("intervals: {}", out["ci"].as_str().unwrap_or("?"));
    println!(
        "input check warnings: {}; {} ms per image",
        out["input_check_warnings"],
        num(&out["mean_ms"])
    );
    if !out["agreement"].is_null() {
        println!(
            "encrypted vs approx: same class on {} of the images, max |Δp| {:.2e}",
            num(&out["agreement"]),
            out["max_abs_prob_diff"].as_f64().unwrap_or(f64::NAN)
        );
    }
    for row in out["images"].as_array().into_iter().flatten() {
        let p = &row["probabilities"];
        println!(
            "{}  truth {}  predicted {}  p = {} / {} / {}{}",
            row["file"].as_str().unwrap_or("?"),
            row["truth"].as_str().unwrap_or("?"),
            row["predicted"].as_str().unwrap_or("?"),
            num(&p[CLASSES[0]]),
            num(&p[CLASSES[1]]),
            num(&p[CLASSES[2]]),
            row["warning"]
                .as_str()
                .map_or_else(String::new, |w| format!("  warning: {w}"))
        );
    }
}

/// `privact` with no arguments (until the desktop app lands): the built-in phantom classified
/// under encryption, with the full ledger — no file needed.
pub fn run_demo() -> anyhow::Result<()> {
    let bytes = imaging::phantom::builtin_sample_dicom()
        .map_err(|k| anyhow::anyhow!("building the phantom: {k}"))?;
    let slice = imaging::load_bytes(
        &bytes,
        Path::new("built-in phantom"),
        &imaging::LoadOptions::default(),
    )?;
    let input = preprocess(&imaging::model_input::to_model_input(&slice));
    println!(
        "PrivaCT demo: built-in abdominal phantom ({}×{} HU), classified on CKKS ciphertexts",
        slice.rows, slice.cols
    );
    println!(
        "plaintext slice: {} bytes as 16-bit pixels",
        slice.rows * slice.cols * 2
    );
    let mut runner = Runner::new()?;
    let (p, extra) = runner.probabilities(Mode::Encrypted, &input)?;
    for s in &extra.ledger {
        println!("  {:<28} {:>9.1} ms {:>12} bytes", s.stage, s.ms, s.bytes);
    }
    println!("decrypted on this machine (the server never saw the image):");
    for (k, name) in CLASSES.iter().enumerate() {
        println!("  {name:<7} {:.4}", p[k]);
    }
    println!("(model card: MODEL_CARD.md — research software, not for clinical use)");
    Ok(())
}
