//! Leak tests: the secret key never appears in anything the server receives, in any encoding
//! we can think of, and the server code cannot even name it.

use super::classify::client::ClassifierClient;
use super::classify::server::Server;
use crate::ckks::wire;
use crate::model::classifier::he::ApproxParams;

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Byte patterns the secret key would leave in a message if it leaked.
fn secret_key_fingerprints(client: &ClassifierClient) -> Vec<(&'static str, Vec<u8>)> {
    fingerprints_of(&client.keys.sk, client.params())
}

fn fingerprints_of(
    sk: &crate::ckks::SecretKey,
    params: &crate::ckks::Parameters,
) -> Vec<(&'static str, Vec<u8>)> {
    let window = 100..132;
    let mut out = Vec::new();
    out.push((
        "ternary as i8",
        sk.coeffs[window.clone()]
            .iter()
            .map(|&c| c as i8 as u8)
            .collect(),
    ));
    out.push((
        "ternary as i64",
        sk.coeffs[window.clone()]
            .iter()
            .flat_map(|c| c.to_le_bytes())
            .collect(),
    ));
    let q0 = params.ring_q().modulus(0);
    out.push((
        "residues mod q0 as u64",
        sk.coeffs[window.clone()]
            .iter()
            .flat_map(|&c| q0.reduce_i64(c).to_le_bytes())
            .collect(),
    ));
    out.push((
        "NTT limb 0 as u64",
        sk.q.limb(0)[window.clone()]
            .iter()
            .flat_map(|c| c.to_le_bytes())
            .collect(),
    ));
    let mut w = wire::testing::Writer::default();
    w.limb(sk.q.limb(0), q0);
    let end = w.buf.len().min(4040);
    out.push(("NTT limb 0 bit-packed", w.buf[end - 40..end].to_vec()));
    out
}

#[test]
fn leak_secret_key_never_reaches_the_server() {
    let mut client = ClassifierClient::new(crate::model::classifier::packing::PRESET).unwrap();
    let mut server = Server::new(vec![ApproxParams::synthetic(1)]);
    let setup = client.setup_message();
    let image: Vec<f32> = (0..256 * 256)
        .map(|i| ((i % 251) as f32 / 251.0) - 0.5)
        .collect();
    let request = client.encrypt_image(&image).unwrap();
    let reply = server.handle(&setup);
    assert!(matches!(
        super::Message::decode(&reply),
        Ok(super::Message::SetupAck { .. })
    ));
    let response = server.handle(&request);
    client.decrypt_response(&response).unwrap();
    for (what, pattern) in secret_key_fingerprints(&client) {
        for (name, msg) in [("setup", &setup), ("request", &request)] {
            assert!(
                !contains(msg, &pattern),
                "{what} found in the {name} message"
            );
        }
    }
    // Positive control: the same search does find material that really is in the request.
    let decoded = super::Message::decode(&request).unwrap();
    let super::Message::ClassifyRequest { inputs } = decoded else {
        panic!("not a request")
    };
    assert!(contains(&request, &inputs[3][5000..5040]));
}

#[test]
fn leak_server_code_cannot_name_secret_key_types() {
    for (file, src) in [
        ("classify/server.rs", include_str!("classify/server.rs")),
        ("denoise/server.rs", include_str!("denoise/server.rs")),
    ] {
        for forbidden in ["SecretKey", "Decryptor", "KeyGenerator", "Encryptor"] {
            let hits = src
                .lines()
                .filter(|l| !l.trim_start().starts_with("//") && l.contains(forbidden))
                .count();
            assert_eq!(hits, 0, "{file} mentions {forbidden}");
        }
    }
}

#[test]
fn leak_denoising_messages_never_carry_the_secret_key() {
    use super::denoise::client::{DenoiseClient, Reply};
    use super::denoise::server::DenoiseServer;
    use crate::model::denoiser::weights::specs;
    use crate::model::denoiser::{Conv, Denoiser, ModelKind};
    let conv = |cin, cout, seed: f64| Conv {
        cin,
        cout,
        k: 3,
        weight: (0..cin * cout * 9)
            .map(|i| ((i as f64 * seed).sin()) * 0.3)
            .collect(),
        bias: vec![0.05; cout],
    };
    let linear = Denoiser::new(ModelKind::Linear, vec![conv(1, 1, 0.7)]).unwrap();
    let nonlinear =
        Denoiser::new(ModelKind::Nonlinear, vec![conv(1, 2, 1.1), conv(2, 1, 1.3)]).unwrap();
    let mut client = DenoiseClient::new(ModelKind::Nonlinear, &specs(&nonlinear)).unwrap();
    let mut server = DenoiseServer::new(linear, nonlinear);
    let mut sent = vec![client.setup_message()];
    assert!(matches!(
        super::Message::decode(&server.handle(&sent[0])),
        Ok(super::Message::SetupAck { .. })
    ));
    let image: Vec<f32> = (0..40 * 40).map(|i| (i % 37) as f32 / 37.0).collect();
    let mut msg = client.encrypt_image(&image, 40, 40).unwrap();
    loop {
        sent.push(msg.clone());
        match client.handle_reply(&server.handle(&msg)).unwrap() {
            Reply::Continue(next) => msg = next,
            Reply::Done(_) => break,
        }
    }
    assert_eq!(sent.len(), 3, "setup, request, one round of activations");
    for (what, pattern) in fingerprints_of(&client.keys.sk, client.params()) {
        for (i, m) in sent.iter().enumerate() {
            assert!(!contains(m, &pattern), "{what} found in message {i}");
        }
    }
}
