//! Leak tests: the secret key never appears in anything the server receives, in any encoding
//! we can think of, and the server code cannot even name it.

use super::client::ClassifierClient;
use super::server::Server;
use crate::ckks::wire;
use crate::model::classifier::he::ApproxParams;

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Byte patterns the secret key would leave in a message if it leaked.
fn secret_key_fingerprints(client: &ClassifierClient) -> Vec<(&'static str, Vec<u8>)> {
    let sk = &client.sk;
    let params = client.params();
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
    out.push(("NTT limb 0 bit-packed", w.buf[4000..4040].to_vec()));
    out
}

#[test]
fn leak_secret_key_never_reaches_the_server() {
    let mut client = ClassifierClient::new(crate::model::classifier::packing::PRESET).unwrap();
    let mut server = Server::new(ApproxParams::synthetic(1));
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
    let server_src = include_str!("server.rs");
    for forbidden in ["SecretKey", "Decryptor", "KeyGenerator", "Encryptor"] {
        let hits = server_src
            .lines()
            .filter(|l| !l.trim_start().starts_with("//") && l.contains(forbidden))
            .count();
        assert_eq!(hits, 0, "server.rs mentions {forbidden}");
    }
}
