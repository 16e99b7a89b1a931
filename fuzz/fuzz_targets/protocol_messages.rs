//! Fuzzes the protocol envelope and both sides' handlers: arbitrary bytes must give a
//! decoded message or an error reply from the server, and a reply or a typed error from the
//! clients (which decrypt what a possibly malicious server sends), never a panic.
//! Run: see SECURITY.md ("Fuzzing").
#![no_main]

use libfuzzer_sys::fuzz_target;
use privact::model::classifier::he::ApproxParams;
use privact::model::classifier::packing;
use privact::model::denoiser::ModelKind;
use privact::model::denoiser::weights::{builtin, specs};
use privact::protocol::Message;
use privact::protocol::classify::client::ClassifierClient;
use privact::protocol::classify::server::Server;
use privact::protocol::denoise::client::DenoiseClient;
use std::sync::{Mutex, OnceLock};

/// One client of each kind, keys made once (key generation would dominate every input).
fn clients() -> &'static Mutex<(DenoiseClient, ClassifierClient)> {
    static C: OnceLock<Mutex<(DenoiseClient, ClassifierClient)>> = OnceLock::new();
    C.get_or_init(|| {
        let model = builtin(ModelKind::Nonlinear).expect("shipped model");
        let denoise = DenoiseClient::new(ModelKind::Nonlinear, &specs(&model)).expect("keys");
        let classify = ClassifierClient::new(packing::PRESET).expect("keys");
        Mutex::new((denoise, classify))
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::decode(data) {
        assert_eq!(Message::decode(&m.encode()).ok(), Some(m));
    }
    let mut server = Server::new(vec![ApproxParams::synthetic(1)]);
    let reply = server.handle(data);
    assert!(
        Message::decode(&reply).is_ok(),
        "the server always answers with a valid message"
    );

    // The clients, fed the bytes as a server reply: the denoising client waiting for
    // round 1 of a one-tile image, the classifier client waiting for logits.
    let mut guard = clients().lock().unwrap_or_else(|e| e.into_inner());
    let (denoise, classify) = &mut *guard;
    denoise
        .encrypt_image(&[0.5; 64], 8, 8)
        .expect("a one-tile image encrypts");
    let _ = denoise.handle_reply(data);
    let _ = classify.decrypt_response(data);
});
