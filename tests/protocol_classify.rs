#![allow(clippy::needless_range_loop)]
//! The classification protocol end to end over the byte channel, and the server's refusals.

use privact::ckks::{KeyGenerator, Parameters, wire};
use privact::model::backend::{SimBackend, SimCt};
use privact::model::classifier::he::{ApproxParams, PreparedClassifier};
use privact::model::classifier::packing::{self, LEVELS_NEEDED, SLOTS};
use privact::protocol::classify::client::{ClassifierClient, softmax};
use privact::protocol::classify::local::{Stage, classify_in_process};
use privact::protocol::classify::server::Server;
use privact::protocol::messages::{Message, Task};

fn image() -> Vec<f32> {
    (0..256 * 256)
        .map(|i| (((i * 37) % 211) as f32 / 211.0 - 0.5) * 2.0)
        .collect()
}

#[test]
fn in_process_run_matches_the_plaintext_simulation() {
    // A two-member ensemble: the server adds the members' logit ciphertexts.
    let weights = vec![ApproxParams::synthetic(7), ApproxParams::synthetic(9)];
    let img = image();
    let mut stages = Vec::new();
    let run = classify_in_process(&img, weights.clone(), |s| stages.push(s)).unwrap();
    assert_eq!(
        stages,
        [
            Stage::Keys,
            Stage::EncodeEncrypt,
            Stage::Send,
            Stage::Evaluate,
            Stage::Receive,
            Stage::Decrypt
        ]
    );

    let sim = SimBackend { slots: SLOTS };
    let model = PreparedClassifier::new(&sim, &weights, LEVELS_NEEDED).unwrap();
    let inputs: Vec<SimCt> = packing::input_layout(&img)
        .into_iter()
        .map(|values| SimCt {
            values,
            level: LEVELS_NEEDED,
        })
        .collect();
    let want = model.evaluate(&sim, &inputs).unwrap();
    for k in 0..3 {
        assert!(
            (run.result.logits[k] - want.values[k].re).abs() < 1e-3,
            "logit {k}"
        );
    }
    let p = softmax(&[want.values[0].re, want.values[1].re, want.values[2].re]);
    for k in 0..3 {
        assert!((run.result.probabilities[k] - p[k]).abs() < 1e-4);
    }
    // Upload: 4 seeded ciphertexts at level 6 (7 limbs of 49 + 6·40 bits), plus envelope.
    let upload = run.upload_bytes;
    assert_eq!(run.ledger.bytes("Encode & encrypt"), upload);
    let per_ct = 16 + 2 + 8 + 32 + 16384 * 289 / 8;
    assert_eq!(upload as usize, 10 + 4 * (8 + per_ct));
    assert!(upload < 3_000_000, "upload {upload} bytes");
    let params = Parameters::preset(packing::PRESET).unwrap();
    assert_eq!(
        upload as usize,
        privact::protocol::classify::client::request_bytes(&params)
    );
    assert_eq!(
        run.setup.bytes("Keys") as usize,
        privact::protocol::classify::client::setup_bytes(&params)
    );
    assert_eq!(
        run.eval_key_bytes as usize,
        privact::protocol::classify::client::setup_bytes(&params)
    );
    assert!(run.server_key_memory > 0);
}

#[test]
fn one_session_classifies_many_slices() {
    use privact::protocol::classify::local::LocalSession;
    let mut session = LocalSession::start(
        packing::PRESET,
        vec![ApproxParams::synthetic(8)],
        &mut |_| {},
    )
    .unwrap();
    let a = session.classify(&image(), &mut |_| {}).unwrap();
    let flipped: Vec<f32> = (0..256 * 256)
        .map(|i| if (i / 256) < 128 { 1.5 } else { -0.5 })
        .collect();
    let b = session.classify(&flipped, &mut |_| {}).unwrap();
    let c = session.classify(&image(), &mut |_| {}).unwrap();
    assert!(
        a.result
            .logits
            .iter()
            .zip(&c.result.logits)
            .all(|(x, y)| (x - y).abs() < 1e-3),
        "same input, same answer"
    );
    assert!(
        a.result
            .logits
            .iter()
            .zip(&b.result.logits)
            .any(|(x, y)| (x - y).abs() > 1e-3),
        "different input, different answer"
    );
    assert!(
        b.ledger.steps.iter().all(|s| s.name != "Keys"),
        "keys are generated once per session"
    );
}

#[test]
fn server_refuses_bad_sessions_with_messages_not_panics() {
    let mut server = Server::new(vec![ApproxParams::synthetic(1)]);
    let refused = |reply: Vec<u8>| match Message::decode(&reply) {
        Ok(Message::Error { message }) => message,
        other => panic!("expected an error reply, got {other:?}"),
    };
    assert!(refused(server.handle(b"garbage")).contains("malformed"));
    let mut client = ClassifierClient::new("depth7-n14").unwrap();
    let request = client.encrypt_image(&image()).unwrap();
    assert!(refused(server.handle(&request)).contains("setup"));

    // A parameter set outside the allow-list.
    let small = Parameters::preset("depth3-n13").unwrap();
    let mut kg = KeyGenerator::new(&small);
    let sk = kg.gen_secret_key();
    let keys = kg.gen_evaluation_keys(&sk, &[1], false);
    let setup = Message::Setup {
        task: Task::ClassifyKidney,
        params: wire::encode_parameters(&small),
        eval_keys: wire::encode_evaluation_keys(&small, &keys),
    };
    assert!(refused(server.handle(&setup.encode())).contains("allow-list"));

    // Keys missing the packing plan's rotations.
    let params = Parameters::preset(packing::PRESET).unwrap();
    let mut kg = KeyGenerator::new(&params);
    let sk = kg.gen_secret_key();
    let keys = kg.gen_evaluation_keys(&sk, &[1], false);
    let setup = Message::Setup {
        task: Task::ClassifyKidney,
        params: wire::encode_parameters(&params),
        eval_keys: wire::encode_evaluation_keys(&params, &keys),
    };
    assert!(refused(server.handle(&setup.encode())).contains("incomplete"));
}
