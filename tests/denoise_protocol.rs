//! Encrypted denoising end to end (CKKS, server thread behind a byte channel): lossless
//! against plaintext, masked rounds, what the client sees, hostile messages.

use privact::ckks::wire;
use privact::model::backend::{SimBackend, SimCt};
use privact::model::denoiser::data::max_abs_diff as max_diff;
use privact::model::denoiser::he::{INTERACTIVE_LEVELS, Interactive, MaskPolicy, Step};
use privact::model::denoiser::weights::{builtin, specs};
use privact::model::denoiser::{Denoiser, ModelKind, TilePlan};
use privact::protocol::Message;
use privact::protocol::denoise::client::{DenoiseClient, Reply};
use privact::protocol::denoise::local::{DenoiseSession, SizePlan};
use privact::protocol::denoise::server::DenoiseServer;

fn image(rows: usize, cols: usize) -> Vec<f32> {
    (0..rows * cols)
        .map(|i| {
            let (y, x) = ((i / cols) as f32, (i % cols) as f32);
            (0.45
                + 0.3 * (y * 0.21).sin() * (x * 0.17).cos()
                + 0.1 * ((i * 7919 % 97) as f32 / 97.0 - 0.5))
                .clamp(0.0, 1.0)
        })
        .collect()
}

fn models() -> (Denoiser, Denoiser) {
    (
        builtin(ModelKind::Linear).unwrap(),
        builtin(ModelKind::Nonlinear).unwrap(),
    )
}

#[test]
fn linear_encrypted_256_is_lossless_and_one_shot() {
    let (lin, nl) = models();
    let (rows, cols) = (256, 256);
    let img = image(rows, cols);
    let want = lin.denoise(&img, rows, cols).unwrap();
    let mut s = DenoiseSession::start(ModelKind::Linear, lin, nl, MaskPolicy::DEFAULT).unwrap();
    let run = s.denoise(&img, rows, cols).unwrap();
    assert!(run.rounds.is_empty());
    let d = max_diff(&run.image, &want);
    assert!(d <= 1e-4, "max |encrypted − plaintext| = {d:e}");
    // Two tiles per ciphertext, each way: the bytes are the plan's, about half of what one
    // tile per ciphertext would upload.
    let plan = SizePlan::new(ModelKind::Linear, &specs(&s_model_linear()), rows, cols).unwrap();
    assert_eq!(plan.ciphertexts, run.tiles.div_ceil(2));
    assert_eq!(run.upload_bytes, plan.upload_bytes());
    assert_eq!(run.download_bytes, plan.download_bytes());
    let one_per_ciphertext = run.tiles as u64 * plan.ciphertext_bytes;
    assert!(
        run.upload_bytes * 10 < one_per_ciphertext * 6,
        "{} bytes up against {one_per_ciphertext} for one tile per ciphertext",
        run.upload_bytes
    );
    // A second slice in the same session (keys reused).
    let img2: Vec<f32> = img.iter().map(|v| 1.0 - v).collect();
    let run2 = s.denoise(&img2, rows, cols).unwrap();
    let want2 = s_model_linear().denoise(&img2, rows, cols).unwrap();
    assert!(max_diff(&run2.image, &want2) <= 1e-4);
}

fn s_model_linear() -> Denoiser {
    builtin(ModelKind::Linear).unwrap()
}

#[test]
fn leak_free_nonlinear_rounds_are_lossless_and_the_client_never_sees_an_unmasked_pre_activation() {
    let (lin, nl) = models();
    let (rows, cols) = (48, 100);
    let img = image(rows, cols);
    let want = nl.denoise(&img, rows, cols).unwrap();
    let rounds = nl.relu_rounds();
    let mut s = DenoiseSession::start(
        ModelKind::Nonlinear,
        lin.clone(),
        nl.clone(),
        MaskPolicy::DEFAULT,
    )
    .unwrap();
    s.client_mut().keep_decrypted(true);
    let run = s.denoise(&img, rows, cols).unwrap();
    assert_eq!(run.rounds.len(), rounds);
    assert!(run.rounds.iter().all(|r| r.upload > 0 && r.download > 0));
    let d = max_diff(&run.image, &want);
    assert!(d <= 1e-4, "max |encrypted − plaintext| = {d:e}");

    // Unmasked server: same result.
    let mut u =
        DenoiseSession::start(ModelKind::Nonlinear, lin, nl.clone(), MaskPolicy::NONE).unwrap();
    let run_u = u.denoise(&img, rows, cols).unwrap();
    assert!(max_diff(&run_u.image, &run.image) <= 1e-4);

    // What the client decrypted is never a true pre-activation: compare with the exact
    // unmasked values from the simulator.
    let slots = s.client().params().slots();
    let plan = TilePlan::new(rows, cols, nl.radius(), slots).unwrap();
    let sim = SimBackend { slots };
    let tiles: Vec<SimCt> = plan
        .layout(&img)
        .unwrap()
        .into_iter()
        .map(|values| SimCt::real(&values, INTERACTIVE_LEVELS))
        .collect();
    let mut rng = rand::rng();
    let (mut st, mut step) =
        Interactive::start(&sim, &nl, plan.tile_w, tiles, MaskPolicy::NONE, &mut rng).unwrap();
    let mut truth = Vec::new();
    while let Step::Masked { cts, .. } = step {
        truth.push(
            cts.iter()
                .map(|c| c.values.iter().map(|v| v.re).collect::<Vec<f64>>())
                .collect::<Vec<_>>(),
        );
        let fresh = cts
            .into_iter()
            .map(|c| {
                let relu: Vec<f64> = c.values.iter().map(|v| v.re.max(0.0)).collect();
                SimCt::real(&relu, INTERACTIVE_LEVELS)
            })
            .collect();
        step = st
            .resume(&sim, &nl, plan.tile_w, fresh, MaskPolicy::NONE, &mut rng)
            .unwrap();
    }
    let seen = s.client().decrypted_rounds();
    assert_eq!(seen.len(), rounds);
    for (r, (sv, tv)) in seen.iter().zip(&truth).enumerate() {
        assert_eq!(sv.len(), tv.len());
        for a in sv {
            // The closest true pre-activation is far from what the client saw.
            let closest = tv
                .iter()
                .map(|b| max_diff(a, b))
                .fold(f64::INFINITY, f64::min);
            assert!(
                closest > 1e-2,
                "round {}: unmasked value seen ({closest:e})",
                r + 1
            );
        }
    }
}

#[test]
fn server_refuses_bad_sessions_and_rounds() {
    let (lin, nl) = models();
    let mut server = DenoiseServer::new(lin, nl.clone());
    let refused = |reply: Vec<u8>| matches!(Message::decode(&reply), Ok(Message::Error { .. }));
    // No session yet.
    assert!(refused(
        server.handle(
            &Message::DenoiseRequest {
                tiles: vec![vec![1]]
            }
            .encode()
        )
    ));
    // Garbage.
    assert!(refused(server.handle(b"not a message")));
    // Activations without a pending round.
    let mut client = DenoiseClient::new(ModelKind::Nonlinear, &specs(&nl)).unwrap();
    assert!(!refused(server.handle(&client.setup_message())));
    assert!(refused(
        server.handle(
            &Message::DenoiseActivations {
                round: 1,
                cts: vec![vec![0; 10]]
            }
            .encode()
        )
    ));
    // A real request, then activations for the wrong round.
    let img = image(20, 20);
    let req = client.encrypt_image(&img, 20, 20).unwrap();
    let reply = server.handle(&req);
    let Ok(Message::DenoiseMasked { round, cts, .. }) = Message::decode(&reply) else {
        panic!("expected masked pre-activations");
    };
    assert_eq!(round, 1);
    assert!(refused(
        server.handle(
            &Message::DenoiseActivations {
                round: 2,
                cts: cts.clone()
            }
            .encode()
        )
    ));
    // The failed round abandoned the evaluation: even the right round is now refused.
    assert!(refused(server.handle(
        &Message::DenoiseActivations { round: 1, cts }.encode()
    )));
    // Corrupted ciphertext bytes are refused, not a panic.
    let mut bad = client.encrypt_image(&img, 20, 20).unwrap();
    let n = bad.len();
    bad[n - 5] ^= 0xff;
    let _ = server.handle(&bad);
    // Missing rotation keys: a client for another model shape.
    let mut other = DenoiseClient::new(
        ModelKind::Nonlinear,
        &[privact::model::denoiser::weights::LayerSpec {
            cin: 1,
            cout: 1,
            k: 1,
            relu: false,
        }],
    )
    .unwrap();
    assert!(refused(server.handle(&other.setup_message())));
    // Every rotation key but no conjugation key: the rounds cannot mask the two tiles of a
    // ciphertext apart, so the nonlinear session is refused.
    let mut third = DenoiseClient::new(ModelKind::Nonlinear, &specs(&nl)).unwrap();
    let Ok(Message::Setup {
        task,
        params,
        eval_keys,
    }) = Message::decode(&third.setup_message())
    else {
        panic!("a setup message")
    };
    let p = wire::decode_parameters(&params).unwrap();
    let mut keys = wire::decode_evaluation_keys(&p, &eval_keys).unwrap();
    assert!(
        keys.galois
            .remove(&p.ring_q().galois_element_conjugate())
            .is_some(),
        "the nonlinear client sends the conjugation key"
    );
    let setup = Message::Setup {
        task,
        params,
        eval_keys: wire::encode_evaluation_keys(&p, &keys),
    };
    let reply = server.handle(&setup.encode());
    let Ok(Message::Error { message }) = Message::decode(&reply) else {
        panic!("a setup without the conjugation key was accepted")
    };
    assert!(message.contains("keys incomplete"), "{message}");
    // The client turns an error reply into an error.
    assert!(matches!(
        client.handle_reply(
            &Message::Error {
                message: "no".into()
            }
            .encode()
        ),
        Err(privact::protocol::ProtocolError::Refused(_))
    ));
}

#[test]
fn reply_is_handled_in_order() {
    let (lin, nl) = models();
    let mut server = DenoiseServer::new(lin, nl.clone());
    let mut client = DenoiseClient::new(ModelKind::Nonlinear, &specs(&nl)).unwrap();
    server.handle(&client.setup_message());
    let img = image(30, 30);
    let mut msg = client.encrypt_image(&img, 30, 30).unwrap();
    let mut rounds = 0;
    let out = loop {
        match client.handle_reply(&server.handle(&msg)).unwrap() {
            Reply::Continue(next) => {
                rounds += 1;
                msg = next;
            }
            Reply::Done(out) => break out,
        }
    };
    assert_eq!(rounds, nl.relu_rounds());
    assert!(max_diff(&out, &nl.denoise(&img, 30, 30).unwrap()) <= 1e-4);
}

/// Largest |value| each layer of `model` can produce for inputs in [0, 1] (interval
/// arithmetic through the ReLUs), `[layer]`.
fn interval_bounds(model: &Denoiser) -> Vec<f64> {
    let (mut lo, mut hi) = (vec![0.0f64], vec![1.0f64]);
    let mut bounds = Vec::new();
    for conv in &model.layers {
        let r = (conv.k / 2) as i64;
        let (mut nlo, mut nhi) = (conv.bias.clone(), conv.bias.clone());
        for co in 0..conv.cout {
            for ci in 0..conv.cin {
                for dy in -r..=r {
                    for dx in -r..=r {
                        let w = conv.w(co, ci, dy, dx);
                        nlo[co] += (w * lo[ci]).min(w * hi[ci]);
                        nhi[co] += (w * lo[ci]).max(w * hi[ci]);
                    }
                }
            }
        }
        bounds.push(nlo.iter().chain(&nhi).fold(0.0f64, |m, v| m.max(v.abs())));
        lo = nlo.iter().map(|v| v.max(0.0)).collect();
        hi = nhi.iter().map(|v| v.max(0.0)).collect();
    }
    bounds
}

#[test]
fn every_reply_value_of_the_shipped_models_fits_level_zero() {
    // A reply coefficient is at most Δ·max|slot|, and a slot holds two tiles (|re + i·im| ≤
    // √2 · max part); it must stay below q0/2 or decryption wraps. Masked pre-activations
    // reach max_scale × the layer's bound; the outputs reach 1 + the last layer's bound
    // (residual). Checked for any input in [0, 1], on each model's own parameter set.
    let (lin, nl) = models();
    for model in [&lin, &nl] {
        let params = privact::ckks::Parameters::preset(privact::protocol::denoise::client::preset(
            model.kind,
        ))
        .unwrap();
        let room = params.ring_q().modulus(0).value() as f64 / 2.0 / params.default_scale();
        let bounds = interval_bounds(model);
        let (last, hidden) = bounds.split_last().unwrap();
        let mut worst = (1.0 + last) * 2f64.sqrt();
        for b in hidden {
            worst = worst.max(MaskPolicy::DEFAULT.max_scale * b * 2f64.sqrt());
        }
        assert!(
            worst < room,
            "{:?}: replies may reach {worst:.0} but level 0 holds ±{room:.0}",
            model.kind
        );
    }
}
