//! Fuzzes every CKKS wire decoder with arbitrary bytes: each must return an error or a value,
//! never panic, hang or allocate beyond what the (fixed) parameters imply.
//! The first byte picks the decoder. Run: see SECURITY.md ("Fuzzing").
#![no_main]

use libfuzzer_sys::fuzz_target;
use privact::ckks::{Parameters, wire};
use std::sync::OnceLock;

fn params() -> &'static Parameters {
    static P: OnceLock<Parameters> = OnceLock::new();
    P.get_or_init(|| Parameters::preset("depth1-n12").expect("preset"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    let p = params();
    match which % 7 {
        0 => drop(wire::decode_parameters(bytes)),
        1 => {
            if let Ok(ct) = wire::decode_ciphertext(p, bytes) {
                // Whatever decodes must re-encode to the same bytes (canonical encoding).
                assert_eq!(wire::encode_ciphertext(p, &ct), bytes);
            }
        }
        2 => drop(wire::decode_public_key(p, bytes)),
        3 => drop(wire::decode_relinearization_key(p, bytes)),
        4 => drop(wire::decode_galois_key(p, bytes)),
        5 => drop(wire::decode_evaluation_keys(p, bytes)),
        _ => {
            if let Ok((ct, dropped)) = wire::decode_compact_ciphertext(p, bytes) {
                // Compact replies are canonical too.
                assert_eq!(
                    wire::encode_compact_ciphertext(p, &ct, dropped)
                        .ok()
                        .as_deref(),
                    Some(bytes)
                );
            }
        }
    }
});
