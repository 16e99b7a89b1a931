//! `privact serve` over real loopback sockets and real TLS (issue 17): results equal the
//! in-process ones, an evicted session is re-established transparently, limits refuse with
//! clear 4xx answers while the server keeps serving, and a server killed mid-round gives the
//! client a clear error (and the CLI no output file), after which a restarted server works.

mod common;

use privact::model::classifier::preprocess::preprocess;
use privact::model::classifier::shipped;
use privact::model::denoiser::ModelKind;
use privact::model::denoiser::weights::{builtin, specs};
use privact::protocol::ProtocolError;
use privact::protocol::classify::client::ClassifierClient;
use privact::protocol::classify::local::LocalSession;
use privact::protocol::denoise::local::{DenoiseEvent, DenoiseSession};
use privact::protocol::messages::{Message, Task};
use privact::protocol::transport::http_client::{Endpoint, SESSION_HEADER};
use privact::protocol::transport::http_server::{self, Limits, Running};
use privact::protocol::transport::tls::{self, Identity, Trust};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::time::Duration;

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn serve(limits: Limits) -> Running {
    serve_at(loopback(), limits)
}

/// `privact serve` with a fresh self-signed certificate on `addr`.
fn serve_at(addr: SocketAddr, limits: Limits) -> Running {
    http_server::spawn(
        addr,
        Some(Identity::self_signed(&[]).unwrap()),
        privact::cli::serve::shipped_models().unwrap(),
        limits,
        false,
    )
    .unwrap()
}

fn endpoint(r: &Running) -> Endpoint {
    Endpoint::new(
        &format!("https://{}", r.addr),
        Some(Trust::Fingerprint(r.fingerprint.unwrap())),
    )
    .unwrap()
}

/// A smooth synthetic slice in [0, 1].
fn slice(rows: usize, cols: usize) -> Vec<f32> {
    (0..rows * cols)
        .map(|i| {
            let (y, x) = ((i / cols) as f32, (i % cols) as f32);
            0.45 + 0.2 * (y * 0.11).sin() * (x * 0.07).cos()
        })
        .collect()
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// A blocking HTTPS client that pins the test server's certificate.
fn raw_client(r: &Running) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .use_preconfigured_tls(
            tls::client_config(&Trust::Fingerprint(r.fingerprint.unwrap())).unwrap(),
        )
        .build()
        .unwrap()
}

/// One sample (counter or gauge) from the server's `/metrics`.
fn metric(r: &Running, name: &str) -> f64 {
    let text = raw_client(r)
        .get(format!("https://{}/metrics", r.addr))
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} in /metrics"))
}

#[test]
fn classification_and_both_denoisers_over_tls_equal_the_in_process_results() {
    let server = serve(Limits::default());
    let ep = endpoint(&server);

    // Classification: remote and in-process against the plaintext Approx-CNN.
    let classifier = shipped().unwrap();
    let image = preprocess(&slice(256, 256));
    let plain = classifier.approx_logits(&image).unwrap();
    let preset = classifier.description.parameter_preset.clone();
    let mut remote = LocalSession::connect(&preset, &ep, &mut |_| {}).unwrap();
    let mut local = LocalSession::start(&preset, classifier.he_members(), &mut |_| {}).unwrap();
    for _ in 0..2 {
        let r = remote.classify_with(&image, true, &mut |_| {}).unwrap();
        let l = local.classify(&image, &mut |_| {}).unwrap();
        assert!(
            max_diff(&r.result.logits, &plain) < 1e-3,
            "{:?} vs {plain:?}",
            r.result.logits
        );
        assert!(max_diff(&r.result.logits, &l.result.logits) < 1e-3);
        let maps = r.result.maps.expect("the heat map crosses the network too");
        let want = classifier.approx_maps(&image).unwrap();
        assert!(max_diff(&maps.tumor, &want.tumor) < 1e-3);
        // Same bytes on the wire as in process: the transport adds nothing to the messages.
        assert_eq!(r.upload_bytes, l.upload_bytes);
    }

    // Both denoisers on a small slice: remote equals the plaintext network within 1e-4.
    let (rows, cols) = (24, 28);
    let img = slice(rows, cols);
    for kind in [ModelKind::Linear, ModelKind::Nonlinear] {
        let model = builtin(kind).unwrap();
        let want = model.denoise(&img, rows, cols).unwrap();
        let mut session = DenoiseSession::connect_with(kind, &specs(&model), &ep, &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
        let run = session.denoise(&img, rows, cols).unwrap();
        let d = max_diff(&run.image, &want);
        assert!(d <= 1e-4, "{kind:?}: max |remote − plaintext| = {d:e}");
        if kind == ModelKind::Nonlinear {
            assert!(
                !run.rounds.is_empty(),
                "the interactive rounds crossed the network"
            );
        }
    }

    // A client that pins another certificate refuses to talk, naming why.
    let wrong = Endpoint::new(
        &format!("https://{}", server.addr),
        Some(Trust::Fingerprint([7; 32])),
    )
    .unwrap();
    let err = LocalSession::connect(&preset, &wrong, &mut |_| {})
        .err()
        .unwrap();
    // One clear line that never shows the server's own fingerprint (a user shown it might
    // paste it in and defeat the pin).
    let real = tls::hex(&server.fingerprint.unwrap());
    assert!(
        matches!(&err, ProtocolError::Network(m)
            if m.contains("does not match the fingerprint given") && !m.contains(&real)),
        "{err}"
    );
    // Plain HTTP to the TLS port, a refused port and a URL without a scheme are named in the
    // user's terms too.
    let plain = Endpoint::new(&format!("http://{}", server.addr), None).unwrap();
    let err = LocalSession::connect(&preset, &plain, &mut |_| {})
        .err()
        .unwrap();
    assert!(err.to_string().contains("use https://"), "{err}");
    let closed = Endpoint::new("http://127.0.0.1:9", None).unwrap();
    let err = LocalSession::connect(&preset, &closed, &mut |_| {})
        .err()
        .unwrap();
    assert!(err.to_string().contains("connection refused"), "{err}");
    let err = Endpoint::new("127.0.0.1:8443", None).unwrap_err();
    assert!(err.to_string().contains("give the scheme"), "{err}");
    server.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn an_evicted_session_is_re_established_transparently() {
    // A budget of one byte: every new session evicts all others.
    let server = serve(Limits {
        key_memory_budget: 1,
        ..Limits::default()
    });
    let ep = endpoint(&server);
    let classifier = shipped().unwrap();
    let preset = classifier.description.parameter_preset.clone();
    let image = preprocess(&slice(256, 256));
    let mut a = LocalSession::connect(&preset, &ep, &mut |_| {}).unwrap();
    let first = a.classify(&image, &mut |_| {}).unwrap();
    let _b = LocalSession::connect(&preset, &ep, &mut |_| {}).unwrap(); // evicts a
    let again = a.classify(&image, &mut |_| {}).unwrap();
    assert!(max_diff(&first.result.logits, &again.result.logits) < 1e-3);
    let evictions = metric(&server, "privact_evictions_total");
    assert!(
        evictions >= 2.0,
        "a evicted by b, then b by a's re-upload: {evictions}"
    );
    // Both sessions used one prepared model: one copy, counted against the budget.
    let model = metric(&server, "privact_model_memory_bytes");
    // Every member's plaintexts at their levels (limbs = level + 1): conv1 at the input level,
    // the packing mask two levels down, conv2 three, fc and map at level 1.
    use privact::model::classifier::packing::{
        BLOCKS, CLASSES, CONV2_TAPS, CTS1, CTS2, INPUT_CTS, LEVELS_NEEDED, MAP_CLASSES, PACKED,
        QUADRANTS,
    };
    let limbs = CTS1 * BLOCKS * INPUT_CTS * (LEVELS_NEEDED + 1)
        + (LEVELS_NEEDED - 1)
        + CTS2 * BLOCKS * PACKED * CONV2_TAPS * (LEVELS_NEEDED - 2)
        + (CLASSES + MAP_CLASSES.len()) * CTS2 * QUADRANTS * 2;
    let expected = classifier.he_members().len() * limbs * (1 << 14) * 8;
    assert_eq!(model, expected as f64, "prepared model counted once, whole");
    let _c = LocalSession::connect(&preset, &ep, &mut |_| {}).unwrap();
    assert_eq!(metric(&server, "privact_model_memory_bytes"), model);
    server.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn limits_refuse_with_clear_4xx_answers_and_the_server_keeps_serving() {
    // A generous read deadline here: a loaded machine may take seconds to push 84 MiB through
    // TLS, and this server tests sizes, not time (the slow client has its own server below).
    let server = serve(Limits {
        max_setup_bytes: 80 << 20, // the classifier's keys are 75 MB
        max_request_bytes: 4 << 20,
        read_timeout: Duration::from_secs(60),
        ..Limits::default()
    });
    let base = format!("https://{}", server.addr);
    let http = raw_client(&server);
    let post = |path: &str, body: Vec<u8>| {
        http.post(format!("{base}{path}"))
            .header("content-type", "application/x-privact")
            .body(body)
            .send()
            .unwrap()
    };
    // Oversized setup body.
    let r = post("/v1/sessions", vec![0u8; 84 << 20]);
    assert_eq!(r.status(), 413);
    // Unknown session.
    let r = post("/v1/sessions/0123456789abcdef", vec![1, 2, 3]);
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["x-privact-error"], "session-expired");
    // Not a setup message.
    let r = post("/v1/sessions", b"hello".to_vec());
    assert_eq!(r.status(), 400);
    // A parameter set off the allow-list: the protocol's own refusal, 422.
    let other = privact::ckks::Parameters::preset("depth1-n12").unwrap();
    let setup = Message::Setup {
        task: Task::ClassifyKidney,
        params: privact::ckks::wire::encode_parameters(&other),
        eval_keys: Vec::new(),
    }
    .encode();
    let r = post("/v1/sessions", setup);
    assert_eq!(r.status(), 422);
    let reply = Message::decode(&r.bytes().unwrap()).unwrap();
    assert!(
        matches!(reply, Message::Error { ref message } if message.contains("allow-list")),
        "{reply:?}"
    );
    // A real session, then a malformed ciphertext and an oversized request in it.
    let mut client = ClassifierClient::new(privact::model::classifier::packing::PRESET).unwrap();
    let r = post("/v1/sessions", client.setup_message());
    assert_eq!(r.status(), 200);
    let id = r.headers()[SESSION_HEADER].to_str().unwrap().to_string();
    let bad = Message::ClassifyRequest {
        inputs: vec![vec![0xAB; 1000]; 4],
    }
    .encode();
    let r = post(&format!("/v1/sessions/{id}"), bad);
    assert_eq!(r.status(), 422);
    assert!(matches!(
        Message::decode(&r.bytes().unwrap()).unwrap(),
        Message::Error { .. }
    ));
    let r = post(&format!("/v1/sessions/{id}"), vec![0u8; 5 << 20]);
    assert_eq!(r.status(), 413);
    // The same session still classifies a real slice.
    let request = client.encrypt_image(&preprocess(&slice(256, 256))).unwrap();
    let r = post(&format!("/v1/sessions/{id}"), request);
    assert_eq!(r.status(), 200);
    client.decrypt_response(&r.bytes().unwrap()).unwrap();
    // Health and metrics.
    let health = http.get(format!("{base}/healthz")).send().unwrap();
    assert_eq!(health.status(), 200);
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("privact_rejections_total{reason=\"too_large\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("privact_requests_total"));
    server.shutdown(Duration::from_secs(5)).unwrap();

    // A slow client (plain HTTP on loopback, to hold the socket by hand) gets 408.
    let plain = http_server::spawn(
        loopback(),
        None,
        privact::cli::serve::shipped_models().unwrap(),
        Limits {
            read_timeout: Duration::from_secs(1),
            ..Limits::default()
        },
        false,
    )
    .unwrap();
    let mut sock = std::net::TcpStream::connect(plain.addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        sock,
        "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-privact\r\nContent-Length: 1000\r\n\r\n0123456789"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = sock.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    tls::install_default_provider();
    let health = reqwest::blocking::get(format!("http://{}/healthz", plain.addr)).unwrap();
    assert_eq!(health.status(), 200, "still serving after the slow client");
    plain.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_server_killed_mid_round_gives_a_clear_error_and_a_restart_works() {
    let server = serve(Limits::default());
    let addr = server.addr;
    let fp = server.fingerprint.unwrap();
    let ep = endpoint(&server);
    let model = builtin(ModelKind::Nonlinear).unwrap();
    let (rows, cols) = (64, 64);
    let img = slice(rows, cols);
    let mut session =
        DenoiseSession::connect_with(ModelKind::Nonlinear, &specs(&model), &ep, &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
    // Kill the server as soon as the first interactive round has come back.
    let mut server = Some(server);
    let result = session.denoise_with(&img, rows, cols, &mut |e| {
        if matches!(e, DenoiseEvent::Received { round: Some(1), .. })
            && let Some(s) = server.take()
        {
            s.kill();
        }
        ControlFlow::Continue(())
    });
    let Err(err) = result else {
        panic!("the run cannot finish without its server");
    };
    assert!(
        matches!(err, ProtocolError::Network(_)),
        "a network error, not {err:?}"
    );
    assert!(server.is_none(), "the server was killed mid-run");

    // The CLI against the dead server: one error line, non-zero exit, no output file.
    let dir = common::temp_dir("serve-killed");
    let input = dir.join("phantom.dcm");
    let (code, _, err) = common::privact(&["phantom", "--out", input.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let out = dir.join("denoised.png");
    let url = format!("https://{addr}");
    // `privact denoise` of the phantom through the server whose certificate is `fp`.
    let denoise_via = |fp: &[u8; 32]| {
        let fp_hex = tls::hex(fp);
        common::privact(&[
            "denoise",
            input.to_str().unwrap(),
            "--server",
            url.as_str(),
            "--server-fingerprint",
            fp_hex.as_str(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let (code, _, err) = denoise_via(&fp);
    assert_ne!(code, 0);
    assert!(err.contains("network"), "{err}");
    assert!(!out.exists(), "no partial output");

    // A server restarted on the same address serves a fresh session, and the CLI works.
    let restarted = serve_at(addr, Limits::default());
    let (code, _, err) = denoise_via(&restarted.fingerprint.unwrap());
    assert_eq!(code, 0, "{err}");
    assert!(out.exists());
    restarted.shutdown(Duration::from_secs(5)).unwrap();
}

/// The CLI's `--server` option on `classify`: the same answer through `privact serve` as in
/// process (probabilities are released rounded to 1e-4; fresh noise may move the last digit).
#[test]
fn classify_with_server_equals_the_in_process_cli() {
    let server = serve(Limits::default());
    let dir = common::temp_dir("serve-cli-classify");
    let input = dir.join("phantom.dcm");
    let (code, _, err) = common::privact(&["phantom", "--out", input.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let probabilities = |extra: &[&str]| {
        let mut args = vec!["classify", input.to_str().unwrap(), "--json"];
        args.extend_from_slice(extra);
        let (code, out, err) = common::privact(&args);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["probabilities"].clone()
    };
    let url = format!("https://{}", server.addr);
    let fp = tls::hex(&server.fingerprint.unwrap());
    let remote = probabilities(&["--server", &url, "--server-fingerprint", &fp]);
    let local = probabilities(&[]);
    for class in ["normal", "cyst", "tumor"] {
        let (r, l) = (remote[class].as_f64(), local[class].as_f64());
        assert!(
            matches!((r, l), (Some(r), Some(l)) if (r - l).abs() <= 2e-4),
            "{class}: {remote} vs {local}"
        );
    }
    server.shutdown(Duration::from_secs(5)).unwrap();
}
