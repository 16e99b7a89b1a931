//! Loads each file given on the command line and prints a one-line outcome.
//! `cargo run --example imaging_load -- FILE...`
fn main() {
    for a in std::env::args().skip(1) {
        let p = std::path::PathBuf::from(&a);
        match privact::imaging::load(&p) {
            Ok(s) => {
                let i = s.info.as_ref();
                println!(
                    "{a}: ok {}x{} {:?} modality={:?} ts={:?} range={:?}",
                    s.rows,
                    s.cols,
                    s.units,
                    i.and_then(|i| i.modality.clone()),
                    i.map(|i| i.transfer_syntax.clone()),
                    s.min_max()
                );
            }
            Err(e) => println!("{e}"),
        }
    }
}
