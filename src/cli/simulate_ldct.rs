//! `privact simulate-ldct PATH --dose 0.25 --out FILE`: a lower-dose version
//! of a CT slice (DICOM or PNG output by extension).
//!
//! 8-bit inputs (PNG/JPEG like the kidney dataset) are mapped back to an
//! approximate HU range through the inverse Abdomen window (W400/L40) and an
//! assumed 360 mm field of view; the output says so on stderr.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::imaging::dicom::write::{CtDescription, ct_bytes, derived_bytes, random_uid};
use crate::imaging::hu::{metric_unit, slice_to_hu};
use crate::imaging::io::{check_output_path, ensure_distinct, write_atomic};
use crate::imaging::ldct::{LdctParams, ReconKernel};
use crate::imaging::raster::png_bytes;
use crate::imaging::window::Window;
use crate::imaging::{ImagingError, LoadOptions, Slice, ldct, load_with, metrics};
use crate::model::denoiser::data::OutputFormat;

#[derive(clap::Args)]
pub struct SimulateLdctArgs {
    /// Input CT slice (DICOM in HU, or an 8-bit abdomen-windowed PNG/JPEG).
    pub path: PathBuf,
    /// Dose as a fraction of full dose (1.0, 0.5, 0.25, 0.1 …).
    #[arg(long, default_value_t = 0.25)]
    pub dose: f64,
    /// Output file: .dcm (derived CT) or .png (abdomen window).
    #[arg(long)]
    pub out: PathBuf,
    /// Noise seed, for reproducible demos.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Frame of a multi-frame DICOM (0-based).
    #[arg(long, default_value_t = 0)]
    pub frame: u32,
    /// Reconstruction kernel: soft (B30f-like, default) or sharp (towards D45f).
    #[arg(long, value_enum, default_value_t = KernelArg::Soft)]
    pub kernel: KernelArg,
    /// Print one JSON object on stdout (the quality of the simulated scan).
    #[arg(long)]
    pub json: bool,
    /// Also write the noise-free reconstruction of the same geometry and kernel (.dcm or .png):
    /// the reference that `privact denoise --dose` scores against.
    #[arg(long)]
    pub clean_out: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KernelArg {
    Soft,
    Sharp,
}

impl From<KernelArg> for ReconKernel {
    fn from(k: KernelArg) -> Self {
        match k {
            KernelArg::Soft => ReconKernel::Soft,
            KernelArg::Sharp => ReconKernel::Sharp,
        }
    }
}

pub fn run(args: &SimulateLdctArgs) -> anyhow::Result<()> {
    for out in std::iter::once(&args.out).chain(&args.clean_out) {
        check_output_path(out, &OutputFormat::EXTENSIONS)?;
        ensure_distinct(&args.path, out)?;
    }
    let slice = load_with(&args.path, &LoadOptions { frame: args.frame })?;
    let h = slice_to_hu(&slice).map_err(|k| ImagingError::new(&args.path, k))?;
    if h.approximate {
        eprintln!(
            "note: 8-bit input mapped to approximate HU through the inverse abdomen window (W400/L40), black = air"
        );
    }
    let (hu, spacing) = (h.hu.clone(), h.spacing_mm);
    let t = std::time::Instant::now();
    let params = LdctParams::with_kernel(args.kernel.into());
    let sim = ldct::simulate_with(
        &params, &hu, slice.rows, slice.cols, spacing, args.dose, args.seed,
    )
    .map_err(|k| ImagingError::new(&args.path, k))?;
    let elapsed = t.elapsed();
    // The metric of `privact denoise`: HU clipped to −160…240 over 400, 7 × 7 SSIM.
    let (lo, cl) = (metric_unit(&sim.low_dose), metric_unit(&sim.clean));
    let psnr = metrics::psnr(&cl, &lo, 1.0)?;
    let ssim = metrics::ssim_skimage(&cl, &lo, slice.rows, slice.cols, 1.0)?;
    let rmse = metrics::rmse(&sim.clean, &sim.low_dose)?;
    eprintln!(
        "simulated dose {} ({} kernel) in {:.2} s: vs clean reconstruction PSNR {psnr:.2} dB, SSIM {ssim:.4} (W400/L40), RMSE {rmse:.1} HU",
        args.dose,
        params.kernel.name(),
        elapsed.as_secs_f64(),
    );
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "dose": args.dose, "seed": args.seed, "kernel": params.kernel,
                "approximate_hu": h.approximate, "rows": slice.rows, "cols": slice.cols,
                "spacing_mm": spacing, "psnr_db": psnr, "ssim": ssim, "rmse_hu": rmse,
                "seconds": elapsed.as_secs_f64(),
            })
        );
    }
    let description = format!(
        "Simulated low dose {:.0}% (PrivaCT, seed {})",
        args.dose * 100.0,
        args.seed
    );
    write_image(args, &slice, spacing, &args.out, &sim.low_dose, description)?;
    if let Some(clean) = &args.clean_out {
        if clean == &args.out {
            bail!("--clean-out and --out are the same file");
        }
        let description = format!(
            "Noise-free reconstruction ({} kernel, PrivaCT)",
            params.kernel.name()
        );
        write_image(args, &slice, spacing, clean, &sim.clean, description)?;
    }
    Ok(())
}

/// Writes `hu` (the input's size) to `out` as a derived DICOM CT (.dcm) or an abdomen-window
/// PNG, atomically.
fn write_image(
    args: &SimulateLdctArgs,
    slice: &Slice,
    spacing: f64,
    out: &Path,
    hu: &[f32],
    description: String,
) -> anyhow::Result<()> {
    let w = Window::ABDOMEN;
    let ext = out
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let bytes = match ext.as_str() {
        "png" => png_bytes(slice.rows, slice.cols, &w.apply_all(hu))
            .map_err(|k| ImagingError::new(out, k))?,
        "dcm" | "dicom" => {
            if slice.info.is_some() {
                let source = std::fs::read(&args.path).with_context(|| {
                    format!("{}: cannot re-read the source", args.path.display())
                })?;
                derived_bytes(
                    &source,
                    &args.path,
                    slice.rows,
                    slice.cols,
                    hu,
                    &description,
                )?
            } else {
                let d = CtDescription {
                    patient_name: "UNKNOWN".into(),
                    patient_id: "UNKNOWN".into(),
                    study_uid: random_uid(),
                    series_uid: random_uid(),
                    sop_instance_uid: random_uid(),
                    series_description: description,
                    pixel_spacing_mm: [spacing, spacing],
                    slice_thickness_mm: 5.0,
                    kvp: 120.0,
                    window: (40.0, 400.0),
                    date: "20240101".into(),
                };
                ct_bytes(slice.rows, slice.cols, hu, &d).map_err(|k| ImagingError::new(out, k))?
            }
        }
        _ => bail!("{}: output must end in .dcm or .png", out.display()),
    };
    write_atomic(out, &bytes)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}
