//! Writes seed corpora for the fuzz targets (valid encodings, prefixed with the selector byte
//! the targets use): `cargo run --release --example fuzz_seeds -- fuzz/corpus`.

use privact::ckks::{Encoder, Encryptor, KeyGenerator, Parameters, wire};
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
    let ct = Encryptor::new(&params, &sk).encrypt(&pt);
    let relin = keys
        .relin
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("no relin key"))?;
    let galois = keys
        .galois
        .values()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no galois key"))?;
    let wire_seeds: [(u8, Vec<u8>); 6] = [
        (0, wire::encode_parameters(&params)),
        (1, wire::encode_ciphertext(&params, &ct)),
        (2, wire::encode_public_key(&params, &pk)),
        (3, wire::encode_relinearization_key(&params, relin)),
        (4, wire::encode_galois_key(&params, galois)),
        (5, wire::encode_evaluation_keys(&params, &keys)),
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
    ];
    for (i, m) in msgs.iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{i}")), m.encode())?;
    }
    println!("wrote seeds under {}", root.display());
    Ok(())
}
