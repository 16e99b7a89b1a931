//! `privact phantom --out FILE.dcm [--lesion none|cyst|tumor]`: writes the
//! synthetic abdominal phantom (a PNG with the abdomen window when FILE ends in .png).

use std::path::PathBuf;

use anyhow::Context;

use crate::imaging::io::{check_output_path, write_atomic};
use crate::imaging::phantom::{Lesion, Phantom};
use crate::imaging::raster::png_bytes;
use crate::imaging::window::Window;

#[derive(clap::Args)]
pub struct PhantomArgs {
    /// Output file (.dcm, or .png for a windowed preview).
    #[arg(long)]
    pub out: PathBuf,
    /// Kidney lesion insert.
    #[arg(long, default_value = "none", value_parser = ["none", "cyst", "tumor"])]
    pub lesion: String,
}

pub fn run(args: &PhantomArgs) -> anyhow::Result<()> {
    let lesion = Lesion::parse(&args.lesion).context("lesion must be none, cyst or tumor")?;
    check_output_path(&args.out, &["dcm", "dicom", "png"])?;
    let phantom = Phantom::new(lesion);
    let is_png = args
        .out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    let bytes = if is_png {
        let s = phantom.hu();
        png_bytes(s.rows, s.cols, &Window::ABDOMEN.apply_all(&s.values))
    } else {
        phantom.dicom_bytes()
    }
    .map_err(|k| crate::imaging::ImagingError::new(&args.out, k))?;
    write_atomic(&args.out, &bytes)?;
    eprintln!("wrote {} ({} bytes)", args.out.display(), bytes.len());
    Ok(())
}
