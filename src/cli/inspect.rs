//! `privact inspect PATH [--json]`: what the imaging layer sees in a file.
//! Patient identifiers are never printed. Errors exit with code 2.

use std::path::PathBuf;

use crate::imaging::{LoadOptions, Slice, load_with};

#[derive(clap::Args)]
pub struct InspectArgs {
    /// DICOM, PNG, JPEG or TIFF file.
    pub path: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Frame of a multi-frame DICOM (0-based).
    #[arg(long, default_value_t = 0)]
    pub frame: u32,
}

/// The fields `inspect` reports (JSON keys are part of the CLI contract).
#[derive(serde::Serialize)]
pub struct InspectReport {
    pub modality: Option<String>,
    pub rows: usize,
    pub columns: usize,
    pub frames: u32,
    pub transfer_syntax_uid: Option<String>,
    pub transfer_syntax: Option<String>,
    pub min: Option<f32>,
    pub max: Option<f32>,
    pub units: &'static str,
    /// Pixels that are padding outside the image (Pixel Padding Value/Range); `min`/`max`
    /// leave them out.
    pub padding_pixels: usize,
    /// Rescaled value of the padding (the smallest, when a range), if any pixel is padding.
    pub padding_value: Option<f32>,
    /// What the loader repaired to read the file (empty for a well-formed file).
    pub repairs: Vec<String>,
    pub window_center: Option<f64>,
    pub window_width: Option<f64>,
    pub deidentified: bool,
}

impl InspectReport {
    pub fn from_slice(s: &Slice) -> InspectReport {
        let (min, max) = s
            .image_min_max()
            .map_or((None, None), |(a, b)| (Some(a), Some(b)));
        let i = s.info.as_ref();
        InspectReport {
            modality: i.and_then(|i| i.modality.clone()),
            rows: s.rows,
            columns: s.cols,
            frames: i.map_or(1, |i| i.frames),
            transfer_syntax_uid: i.map(|i| i.transfer_syntax_uid.clone()),
            transfer_syntax: i.map(|i| i.transfer_syntax.clone()),
            min,
            max,
            units: s.units.as_str(),
            padding_pixels: s.padding_count(),
            padding_value: s
                .values
                .iter()
                .enumerate()
                .filter(|&(k, _)| s.is_padding(k))
                .map(|(_, &v)| v)
                .reduce(f32::min),
            repairs: i.map(|i| i.repairs.clone()).unwrap_or_default(),
            window_center: i.and_then(|i| i.window_center),
            window_width: i.and_then(|i| i.window_width),
            deidentified: i.is_some_and(|i| i.deidentified()),
        }
    }
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_string(), |x| x.to_string())
}

pub fn run(args: &InspectArgs) -> anyhow::Result<()> {
    let slice = match load_with(&args.path, &LoadOptions { frame: args.frame }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let r = InspectReport::from_slice(&slice);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    println!("modality:         {}", opt(&r.modality));
    println!(
        "size:             {} rows × {} columns, {} frame(s)",
        r.rows, r.columns, r.frames
    );
    println!(
        "transfer syntax:  {} ({})",
        opt(&r.transfer_syntax_uid),
        opt(&r.transfer_syntax)
    );
    println!(
        "value range:      {} … {} ({})",
        opt(&r.min),
        opt(&r.max),
        r.units
    );
    if let Some(v) = r.padding_value {
        println!(
            "padding:          {} pixels at {v} ({}), outside the image",
            r.padding_pixels, r.units
        );
    }
    for repair in &r.repairs {
        println!("repaired:         {repair}");
    }
    println!(
        "default window:   {}",
        match (r.window_width, r.window_center) {
            (Some(w), Some(c)) => format!("W:{w} L:{c}"),
            _ => "-".into(),
        }
    );
    println!(
        "de-identified:    {}",
        if r.deidentified { "yes" } else { "no" }
    );
    Ok(())
}
