//! Prints the typed tags of each DICOM file given (patient fields included:
//! for local debugging only). `cargo run --example imaging_info -- FILE...`
fn main() {
    for a in std::env::args().skip(1) {
        let p = std::path::PathBuf::from(&a);
        match std::fs::read(&p) {
            Ok(b) => match privact::imaging::dicom::read_info_bytes(&b, &p) {
                Ok(i) => println!("{a}: {i:#?}"),
                Err(e) => println!("{e}"),
            },
            Err(e) => println!("{a}: {e}"),
        }
    }
}
