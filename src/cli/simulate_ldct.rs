//! `privact simulate-ldct PATH --dose 0.25 --out FILE`: a lower-dose version
//! of a CT slice (DICOM or PNG output by extension).
//!
//! 8-bit inputs (PNG/JPEG like the kidney dataset) are mapped back to an
//! approximate HU range through the inverse Abdomen window (W400/L40) and an
//! assumed 360 mm field of view; the output says so on stderr.

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::imaging::dicom::write::{CtDescription, ct_bytes, derived_bytes, random_uid};
use crate::imaging::io::{ensure_distinct, write_atomic};
use crate::imaging::raster::png_bytes;
use crate::imaging::window::Window;
use crate::imaging::{ImagingError, LoadOptions, Units, ldct, load_with, metrics};

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
}

/// Field of view assumed for 8-bit images without spacing.
const ASSUMED_FOV_MM: f64 = 360.0;

pub fn run(args: &SimulateLdctArgs) -> anyhow::Result<()> {
    ensure_distinct(&args.path, &args.out)?;
    let slice = load_with(&args.path, &LoadOptions { frame: args.frame })?;
    let hu: Vec<f32> = match slice.units {
        Units::Hu => slice.values.clone(),
        Units::Windowed8Bit => {
            eprintln!(
                "note: 8-bit input mapped to approximate HU through the inverse Abdomen window (W400/L40)"
            );
            let w = Window::ABDOMEN;
            slice
                .values
                .iter()
                .map(|&v| ((f64::from(v) / 255.0 - 0.5) * w.width + w.center) as f32)
                .collect()
        }
        Units::Raw => bail!(
            "{}: values are not Hounsfield units (not a CT image with a HU rescale); cannot simulate dose",
            args.path.display()
        ),
    };
    let spacing = slice
        .pixel_spacing_mm
        .map(|s| (s[0] + s[1]) / 2.0)
        .filter(|s| *s > 0.0)
        .unwrap_or(ASSUMED_FOV_MM / slice.rows.max(slice.cols) as f64);
    let t = std::time::Instant::now();
    let sim = ldct::simulate(&hu, slice.rows, slice.cols, spacing, args.dose, args.seed)
        .map_err(|k| ImagingError::new(&args.path, k))?;
    let elapsed = t.elapsed();
    let w = Window::ABDOMEN;
    let unit = |v: &[f32]| -> Vec<f32> { v.iter().map(|&x| w.apply_unit(f64::from(x))).collect() };
    let (lo, cl) = (unit(&sim.low_dose), unit(&sim.clean));
    eprintln!(
        "simulated dose {} in {:.2} s: vs clean reconstruction PSNR {:.2} dB, SSIM {:.4}, RMSE {:.1} HU (abdomen window)",
        args.dose,
        elapsed.as_secs_f64(),
        metrics::psnr(&cl, &lo, 1.0)?,
        metrics::ssim(&cl, &lo, slice.rows, slice.cols, 1.0)?,
        metrics::rmse(&sim.clean, &sim.low_dose)?,
    );
    let ext = args
        .out
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let description = format!(
        "Simulated low dose {:.0}% (PrivaCT, seed {})",
        args.dose * 100.0,
        args.seed
    );
    let bytes = match ext.as_str() {
        "png" => png_bytes(slice.rows, slice.cols, &w.apply_all(&sim.low_dose))
            .map_err(|k| ImagingError::new(&args.out, k))?,
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
                    &sim.low_dose,
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
                ct_bytes(slice.rows, slice.cols, &sim.low_dose, &d)
                    .map_err(|k| ImagingError::new(&args.out, k))?
            }
        }
        _ => bail!("{}: output must end in .dcm or .png", args.out.display()),
    };
    write_atomic(&args.out, &bytes)?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}
