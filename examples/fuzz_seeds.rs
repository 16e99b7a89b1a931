//! Writes seed corpora for the fuzz targets (valid encodings, prefixed with the selector byte
//! the targets use). The committed seeds in `fuzz/seeds` were written by
//! `cargo run --release --example fuzz_seeds -- fuzz/seeds`.

use privact::ckks::{Encoder, Encryptor, KeyGenerator, Parameters, wire};
use privact::imaging::dicom::write::{CtDescription, ct_bytes};
use privact::imaging::raster::png_bytes;
use privact::protocol::messages::{Message, Task};
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/corpus".into()),
    );
    let params = Parameters::preset("depth1-n12")?;
    let mut kg = KeyGenerator::from_seed(&params, [7; 32]);
    let sk = kg.gen_secret_key();
    let pk = kg.gen_public_key(&sk);
    let keys = kg.gen_evaluation_keys(&sk, &[1], false);
    let pt = Encoder::new(&params).encode(&[0.25, -1.0, 3.0], 0, params.default_scale())?;
    let ct = Encryptor::new(&params, &sk).encrypt(&pt)?;
    let relin = keys
        .relin
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("no relin key"))?;
    let galois = keys
        .galois
        .values()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no galois key"))?;
    let drop = privact::protocol::denoise::client::REPLY_DROPPED_BITS;
    let wire_seeds: [(u8, Vec<u8>); 7] = [
        (0, wire::encode_parameters(&params)),
        (1, wire::encode_ciphertext(&params, &ct)),
        (2, wire::encode_public_key(&params, &pk)),
        (3, wire::encode_relinearization_key(&params, relin)),
        (4, wire::encode_galois_key(&params, galois)),
        (5, wire::encode_evaluation_keys(&params, &keys)),
        (6, wire::encode_compact_ciphertext(&params, &ct, drop)?),
    ];
    let dir = root.join("wire_decoders");
    std::fs::create_dir_all(&dir)?;
    for (selector, bytes) in wire_seeds {
        std::fs::write(
            dir.join(format!("seed-{selector}")),
            [vec![selector], bytes].concat(),
        )?;
    }
    let dir = root.join("protocol_messages");
    std::fs::create_dir_all(&dir)?;
    let msgs = [
        Message::Setup {
            task: Task::ClassifyKidney,
            params: wire::encode_parameters(&params),
            eval_keys: vec![1, 2, 3],
        },
        Message::ClassifyRequest {
            inputs: vec![wire::encode_ciphertext(&params, &ct)],
        },
        Message::SetupAck {
            key_memory_bytes: 7,
        },
        Message::Error {
            message: "x".into(),
        },
        Message::DenoiseRequest {
            tiles: vec![wire::encode_ciphertext(&params, &ct)],
        },
        Message::DenoiseMasked {
            round: 1,
            cts: vec![wire::encode_compact_ciphertext(&params, &ct, drop)?],
            server_seconds: 0.5,
        },
        Message::DenoiseActivations {
            round: 1,
            cts: vec![wire::encode_ciphertext(&params, &ct)],
        },
        Message::DenoiseResult {
            tiles: vec![wire::encode_compact_ciphertext(&params, &ct, drop)?],
            server_seconds: 0.5,
        },
    ];
    // The interactive denoiser's own parameter set: replies at level 0, as its client expects.
    let nl = Parameters::preset(privact::protocol::denoise::client::preset(
        privact::model::denoiser::ModelKind::Nonlinear,
    ))?;
    let nl_sk = KeyGenerator::from_seed(&nl, [8; 32]).gen_secret_key();
    let nl_pt = Encoder::new(&nl).encode(&[0.5, 2.0], 0, nl.default_scale())?;
    // Replies travel compact (`REPLY_DROPPED_BITS`).
    let nl_ct =
        wire::encode_compact_ciphertext(&nl, &Encryptor::new(&nl, &nl_sk).encrypt(&nl_pt)?, drop)?;
    let nl_msgs = [
        Message::DenoiseMasked {
            round: 1,
            cts: vec![nl_ct.clone(); 16],
            server_seconds: 0.5,
        },
        Message::DenoiseResult {
            tiles: vec![nl_ct],
            server_seconds: 0.5,
        },
    ];
    for (i, m) in msgs.iter().chain(&nl_msgs).enumerate() {
        std::fs::write(dir.join(format!("seed-{i}")), m.encode())?;
    }
    // The loader: the smallest valid DICOM we can make (a 16×16 CT) and an 8-bit PNG.
    let dir = root.join("dicom_loader");
    std::fs::create_dir_all(&dir)?;
    let hu: Vec<f32> = (0..256).map(|i| i as f32 * 4.0 - 500.0).collect();
    let d = CtDescription {
        patient_name: "FUZZ^SEED".into(),
        patient_id: "SEED".into(),
        study_uid: "1.2.3".into(),
        series_uid: "1.2.3.4".into(),
        sop_instance_uid: "1.2.3.4.5".into(),
        series_description: "seed".into(),
        pixel_spacing_mm: [1.0, 1.0],
        slice_thickness_mm: 1.0,
        kvp: 120.0,
        window: (40.0, 400.0),
        date: "20260101".into(),
    };
    std::fs::write(dir.join("seed-ct.dcm"), ct_bytes(16, 16, &hu, &d)?)?;
    let grey: Vec<u8> = (0..=255).collect();
    std::fs::write(dir.join("seed-gray.png"), png_bytes(16, 16, &grey)?)?;
    println!("wrote seeds under {}", root.display());
    Ok(())
}
