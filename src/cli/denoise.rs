//! `privact denoise PATH [--dose F] [--model linear|nonlinear] [--mode plain|encrypted]
//! [--out OUT.png|OUT.dcm] [--json]`.
//!
//! With `--dose` (< 1) PATH is a normal-dose slice: the low-dose version is simulated, denoised
//! and compared with the clean reconstruction. Without it PATH is the low-dose input and only
//! the output is written. Metrics are on [0, 1] over the abdomen window (W400/L40); 8-bit
//! inputs are mapped to approximate HU through the inverse window (said on stderr).

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde::Serialize;

use crate::imaging::dicom::series::normal_position;
use crate::imaging::io::{check_output_path, ensure_distinct, write_atomic};
use crate::imaging::{ImagingError, LoadOptions, ldct, load_with};
use crate::model::denoiser::data::{
    DicomSource, OutputFormat, Quality, finish, finish_with, full_range_hu, max_abs_diff,
    output_bytes, output_description, to_hu, to_unit,
};
use crate::model::denoiser::he::MaskPolicy;
use crate::model::denoiser::weights::builtin;
use crate::model::denoiser::{ModelKind, TilePlan};
use crate::protocol::Step;
use crate::protocol::denoise::local::{CONTINUE, DenoiseEvent, DenoiseSession, RoundBytes};
use crate::protocol::release::release_image;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Plain,
    Encrypted,
}

#[derive(clap::Args)]
pub struct DenoiseArgs {
    /// CT slice (DICOM in HU, or an 8-bit abdomen-windowed PNG/JPEG).
    pub path: PathBuf,
    /// Simulate this dose (fraction of full dose, < 1) from PATH and report quality.
    #[arg(long)]
    pub dose: Option<f64>,
    /// linear (one-shot under HE) or nonlinear (interactive ReLU rounds).
    #[arg(long, default_value = "linear", value_parser = parse_kind)]
    pub model: ModelKind,
    #[arg(long, value_enum, default_value_t = Mode::Encrypted)]
    pub mode: Mode,
    /// Output: .png (abdomen window) or .dcm (derived CT).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Noise seed of the dose simulation.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Frame of a multi-frame DICOM (0-based).
    #[arg(long, default_value_t = 0)]
    pub frame: u32,
    /// A full-dose scan of the same slice: report PSNR/SSIM of input and output against it.
    #[arg(long, conflicts_with = "dose")]
    pub reference: Option<PathBuf>,
    /// Skip the client's noise-adaptive gain (show the raw model output).
    #[arg(long)]
    pub no_gain: bool,
    #[command(flatten)]
    pub server: super::serve::ServerArgs,
}

fn parse_kind(s: &str) -> Result<ModelKind, String> {
    ModelKind::parse(s).ok_or_else(|| format!("unknown model {s:?} (linear or nonlinear)"))
}

#[derive(Serialize)]
struct Report {
    model: ModelKind,
    mode: Mode,
    /// Where the encrypted steps ran: `privact serve` at a URL, or this process.
    evaluated_by: String,
    dose: Option<f64>,
    rows: usize,
    cols: usize,
    approximate_hu: bool,
    reference: Option<PathBuf>,
    /// Why the reference may not show the same slice (another patient, position or pixel
    /// spacing), when the DICOM tags say so; the metrics against it are then meaningless.
    #[serde(skip_serializing_if = "Option::is_none")]
    reference_warning: Option<String>,
    /// Noise of the input estimated by the client (HU) and the gain it applied.
    noise_estimate_hu: f64,
    gain: f64,
    psnr_in: Option<f64>,
    psnr_out: Option<f64>,
    ssim_in: Option<f64>,
    ssim_out: Option<f64>,
    max_abs_diff_vs_plain: Option<f64>,
    tiled_vs_whole_plain_max_abs_diff: f64,
    rounds: usize,
    round_bytes: Vec<RoundBytes>,
    upload_bytes: u64,
    download_bytes: u64,
    /// Bits on the wire per pixel-channel value crossing, client → server and back
    /// (bytes × 8 ÷ values; the image or result plus every ReLU round's channels).
    upload_bits_per_value: Option<f64>,
    download_bits_per_value: Option<f64>,
    eval_key_bytes: u64,
    tiles: usize,
    tile_shape: Option<(usize, usize)>,
    plain_seconds: f64,
    setup_seconds: Option<f64>,
    slice_seconds: Option<f64>,
    ledger: Vec<Step>,
    setup_ledger: Vec<Step>,
}

pub fn run(args: &DenoiseArgs) -> anyhow::Result<()> {
    if let Some(out) = &args.out {
        check_output_path(out, &OutputFormat::EXTENSIONS)?;
        ensure_distinct(&args.path, out)?;
    }
    let slice = load_with(&args.path, &LoadOptions { frame: args.frame })?;
    let h = to_hu(&slice).with_context(|| args.path.display().to_string())?;
    if h.approximate {
        eprintln!(
            "note: 8-bit input mapped to approximate HU through the inverse abdomen window (W400/L40)"
        );
    }
    let (rows, cols) = (h.rows, h.cols);
    let mut reference_warning = None;
    let (input_hu, clean_hu) = match args.dose {
        Some(d) => {
            if !(d > 0.0 && d < 1.0) {
                bail!("--dose must be in (0, 1), got {d}");
            }
            let sim = ldct::simulate(&h.hu, rows, cols, h.spacing_mm, d, args.seed)
                .map_err(|k| ImagingError::new(&args.path, k))?;
            (sim.low_dose, Some(sim.clean))
        }
        None => match &args.reference {
            Some(r) => {
                let (hu, warning) = load_reference(r, &slice, args.frame)?;
                if let Some(w) = &warning {
                    eprintln!("warning: {}: {w}", r.display());
                }
                reference_warning = warning;
                (h.hu.clone(), Some(hu))
            }
            None => (h.hu.clone(), None),
        },
    };
    let input = to_unit(&input_hu);
    let model = builtin(args.model)?;
    let t = std::time::Instant::now();
    let plain = model.denoise(&input, rows, cols)?;
    let plain_seconds = t.elapsed().as_secs_f64();
    let plan = TilePlan::new(rows, cols, model.radius(), 2048)?;
    let tiled = plan.denoise_tiled(&model, &input)?;
    let tiled_diff = max_abs_diff(&plain, &tiled);

    let mut report = Report {
        model: args.model,
        mode: args.mode,
        dose: args.dose,
        rows,
        cols,
        approximate_hu: h.approximate,
        reference: args.reference.clone(),
        reference_warning,
        noise_estimate_hu: 0.0,
        gain: 1.0,
        psnr_in: None,
        psnr_out: None,
        ssim_in: None,
        ssim_out: None,
        max_abs_diff_vs_plain: None,
        tiled_vs_whole_plain_max_abs_diff: tiled_diff,
        evaluated_by: args.server.evaluated_by(args.mode == Mode::Encrypted),
        rounds: 0,
        round_bytes: Vec::new(),
        upload_bytes: 0,
        download_bytes: 0,
        upload_bits_per_value: None,
        download_bits_per_value: None,
        eval_key_bytes: 0,
        tiles: 0,
        tile_shape: None,
        plain_seconds,
        setup_seconds: None,
        slice_seconds: None,
        ledger: Vec::new(),
        setup_ledger: Vec::new(),
    };
    let output = match args.mode {
        Mode::Plain => plain.clone(),
        Mode::Encrypted => {
            let t = std::time::Instant::now();
            let mut progress = progress_lines(model.relu_rounds());
            let mut session = match args.server.endpoint()? {
                // The client knows the model's public shape only; the server holds weights.
                Some(ep) => DenoiseSession::connect_with(
                    args.model,
                    &crate::model::denoiser::weights::specs(&builtin(args.model)?),
                    &ep,
                    &mut progress,
                )?,
                None => DenoiseSession::start_with(
                    args.model,
                    builtin(ModelKind::Linear)?,
                    builtin(ModelKind::Nonlinear)?,
                    MaskPolicy::DEFAULT,
                    &mut progress,
                )?,
            };
            report.setup_seconds = Some(t.elapsed().as_secs_f64());
            let run = session.denoise_with(&input, rows, cols, &mut progress)?;
            // Reported to one significant digit, rounded up: a bound, not the error itself.
            report.max_abs_diff_vs_plain = Some(one_digit_bound(max_abs_diff(&plain, &run.image)));
            report.rounds = run.rounds.len();
            report.round_bytes = run.rounds.clone();
            report.upload_bytes = run.upload_bytes;
            report.download_bytes = run.download_bytes;
            report.upload_bits_per_value = Some(run.bits_per_value_up);
            report.download_bits_per_value = Some(run.bits_per_value_down);
            report.eval_key_bytes = run.eval_key_bytes;
            report.tiles = run.tiles;
            report.tile_shape = Some(run.tile_shape);
            report.slice_seconds = Some(run.seconds);
            report.ledger = run.ledger.steps.clone();
            report.setup_ledger = run.setup.steps.clone();
            // Decrypted values leave the client only flooded and rounded (`protocol::release`):
            // the metrics below and the file written are computed from the same released values.
            let format = args
                .out
                .as_deref()
                .and_then(OutputFormat::from_path)
                .unwrap_or(OutputFormat::Dicom);
            release_image(&run.image, format)?
        }
    };
    // The client's plaintext gain on the residual (after decryption; no extra round).
    let finished = if args.no_gain {
        finish_with(&[], &input, &output, rows, cols)
    } else {
        finish(args.model, &input, &output, rows, cols)?
    };
    report.noise_estimate_hu = finished.sigma_hu;
    report.gain = finished.alpha;
    let output = finished.image;
    if let Some(clean) = &clean_hu {
        let q = Quality::measure(clean, &input_hu, &output, rows, cols)?;
        report.psnr_in = Some(q.psnr_in);
        report.psnr_out = Some(q.psnr_out);
        report.ssim_in = Some(q.ssim_in);
        report.ssim_out = Some(q.ssim_out);
    }
    if let Some(out) = &args.out {
        write_output(
            args,
            out,
            &slice,
            &full_range_hu(&input_hu, &output),
            h.spacing_mm,
        )?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

/// The reference scan in HU; it must have the input's size.
fn load_reference(
    path: &std::path::Path,
    input: &crate::imaging::Slice,
    frame: u32,
) -> anyhow::Result<(Vec<f32>, Option<String>)> {
    let slice = load_with(path, &LoadOptions { frame })?;
    let h = to_hu(&slice).with_context(|| path.display().to_string())?;
    let (rows, cols) = (input.rows, input.cols);
    if (h.rows, h.cols) != (rows, cols) {
        bail!(
            "{}: reference is {}×{}, the input {rows}×{cols}",
            path.display(),
            h.rows,
            h.cols
        );
    }
    Ok((h.hu, reference_mismatch(input, &slice)))
}

/// Why a reference DICOM is probably not the input's slice: another patient (PatientID),
/// another position along the slice normal (more than 1 mm or half a slice thickness), or
/// another pixel spacing. `None` when the tags agree or are missing (PNG/JPEG).
fn reference_mismatch(
    input: &crate::imaging::Slice,
    reference: &crate::imaging::Slice,
) -> Option<String> {
    let (a, b) = (input.info.as_ref()?, reference.info.as_ref()?);
    let id = |i: &crate::imaging::DicomInfo| {
        i.patient
            .id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let mut why = Vec::new();
    if let (Some(x), Some(y)) = (id(a), id(b))
        && x != y
    {
        why.push("another patient (PatientID differs)".to_string());
    }
    let tolerance = a.slice_thickness_mm.map_or(1.0, |t| (t / 2.0).max(1.0));
    if let (Some(x), Some(y)) = (normal_position(input), normal_position(reference))
        && (x - y).abs() > tolerance
    {
        why.push(format!(
            "another position ({:.1} mm apart along the slice normal)",
            (x - y).abs()
        ));
    }
    if let (Some(x), Some(y)) = (input.pixel_spacing_mm, reference.pixel_spacing_mm)
        && ((x[0] - y[0]).abs() > 1e-3 || (x[1] - y[1]).abs() > 1e-3)
    {
        why.push(format!(
            "another pixel spacing ({:.3} mm against {:.3} mm)",
            y[0], x[0]
        ));
    }
    (!why.is_empty()).then(|| {
        format!(
            "the reference is probably not this slice: {}; PSNR/SSIM against it mean little",
            why.join(", ")
        )
    })
}

/// One stderr line per interactive round (the nonlinear model takes a while).
fn progress_lines(rounds: usize) -> impl FnMut(&DenoiseEvent) -> std::ops::ControlFlow<()> {
    move |e| {
        if let DenoiseEvent::Activations {
            round,
            seconds,
            bytes,
        } = e
        {
            eprintln!(
                "round {round}/{rounds}: ReLU on the client {seconds:.2} s, {:.1} MB of fresh encryptions up",
                mb(*bytes)
            );
        }
        CONTINUE
    }
}

fn write_output(
    args: &DenoiseArgs,
    out: &std::path::Path,
    slice: &crate::imaging::Slice,
    hu: &[f32],
    spacing: f64,
) -> anyhow::Result<()> {
    let description = output_description(args.model, args.mode == Mode::Encrypted);
    let Some(format) = OutputFormat::from_path(out) else {
        bail!("{}: output must end in .png or .dcm", out.display());
    };
    let source = match format {
        OutputFormat::Dicom if slice.info.is_some() => Some(
            std::fs::read(&args.path)
                .with_context(|| format!("{}: cannot re-read the source", args.path.display()))?,
        ),
        _ => None,
    };
    let source = source.as_deref().map(|bytes| DicomSource {
        bytes,
        path: &args.path,
    });
    // An encrypted run's `output` was released (flooded, rounded) right after decryption;
    // a plaintext run's was never encrypted. The format stores its own grid either way.
    let bytes = output_bytes(
        out,
        slice.rows,
        slice.cols,
        hu,
        source,
        spacing,
        &description,
    )?;
    write_atomic(out, &bytes)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// `x` rounded up to one significant digit (3.62e-5 → 4e-5).
/// Pixel-channel values that cross the wire in each direction for one `rows × cols` slice:
/// the image up (the result down) plus the channels of every ReLU round.
fn one_digit_bound(x: f64) -> f64 {
    if !(x.is_finite() && x > 0.0) {
        return x;
    }
    let p = 10f64.powf(x.log10().floor());
    (x / p).ceil() * p
}

fn mb(b: u64) -> f64 {
    b as f64 / 1e6
}

fn print_report(r: &Report) {
    println!(
        "{} model, {} mode ({}), {}×{} slice",
        r.model.name(),
        match r.mode {
            Mode::Plain => "plaintext",
            Mode::Encrypted => "encrypted",
        },
        r.evaluated_by,
        r.rows,
        r.cols
    );
    println!(
        "client: estimated input noise {:.1} HU, gain on the predicted noise {:.2}",
        r.noise_estimate_hu, r.gain
    );
    if let (Some(pi), Some(po), Some(si), Some(so)) = (r.psnr_in, r.psnr_out, r.ssim_in, r.ssim_out)
    {
        let against = match (r.dose, &r.reference) {
            (Some(d), _) => format!("dose {d} vs clean reconstruction"),
            (None, Some(p)) => format!("vs reference {}", p.display()),
            (None, None) => String::new(),
        };
        println!(
            "{against}: PSNR {pi:.2} → {po:.2} dB ({:+.2}), SSIM {si:.4} → {so:.4} ({:+.4}) (W400/L40, HU clipped to −160…240)",
            po - pi,
            so - si
        );
    }
    println!(
        "plaintext: {:.3} s; tiled vs whole image max |diff| {:.1e}",
        r.plain_seconds, r.tiled_vs_whole_plain_max_abs_diff
    );
    if let Some(d) = r.max_abs_diff_vs_plain {
        println!(
            "encrypted: {} tiles of {:?}, keys {:.1} MB (setup {:.2} s), slice {:.2} s, ↑ {:.1} MB, ↓ {:.1} MB ({:.0} / {:.0} bits per value), {} ReLU rounds; max |encrypted − plaintext| = {d:.2e}",
            r.tiles,
            r.tile_shape.unwrap_or_default(),
            mb(r.eval_key_bytes),
            r.setup_seconds.unwrap_or(0.0),
            r.slice_seconds.unwrap_or(0.0),
            mb(r.upload_bytes),
            mb(r.download_bytes),
            r.upload_bits_per_value.unwrap_or(0.0),
            r.download_bits_per_value.unwrap_or(0.0),
            r.rounds
        );
        println!(
            "  (that difference is the decryption's; the values written and scored were then \
             noise-flooded with σ = {:.1e} on [0, 1] and rounded to the output format, so two \
             encrypted runs differ by a grey level or two: see SECURITY.md, release of decrypted values)",
            crate::protocol::release::FLOODING_FACTOR
                * crate::protocol::release::DECRYPTION_ERROR_BOUND
        );
        for s in r.setup_ledger.iter().chain(&r.ledger) {
            println!(
                "  {:<45} {:>7?} {:>8.3} s {:>10.2} MB",
                s.name,
                s.side,
                s.seconds,
                mb(s.bytes)
            );
        }
    }
}
