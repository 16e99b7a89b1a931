//! UI flows of the desktop app, driven through the AccessKit tree with egui_kittest:
//! widgets are found by their labels, clicked, and the harness is stepped until the
//! background worker's results appear.

mod app_common;
mod common;

use app_common::{App, harness_with, has, has_containing, loaded, step_until};

use egui_kittest::kittest::Queryable;
use privact::app::intent::Intent;
use privact::app::prefs::Prefs;
use privact::app::state::StepStatus;
use privact::app::view::group_thousands;
use privact::app::worker::JobKind;
use privact::app::{AutoRun, Launch};
use privact::ckks::Parameters;
use privact::model::denoiser::ModelKind;
use privact::model::denoiser::weights::{builtin, specs};
use privact::protocol::classify::client::request_bytes;
use privact::protocol::denoise::local::SizePlan;
use std::time::{Duration, Instant};

fn harness(prefs: Prefs) -> App {
    harness_launched(prefs, Launch::default())
}

/// The app as `privact gui [FILE] [--run TASK]` starts it.
fn harness_launched(prefs: Prefs, launch: Launch) -> App {
    harness_with(prefs, launch, [1600.0, 1000.0])
}

#[test]
fn starts_with_the_phantom_and_shows_the_exact_encrypted_payload() {
    let mut h = harness(Prefs::default());
    loaded(&mut h);
    let params = Parameters::preset(privact::model::classifier::packing::PRESET).unwrap();
    let exact = format!("= {} bytes", group_thousands(request_bytes(&params) as u64));
    assert!(has_containing(&h, &exact), "payload strip shows {exact}");
    assert!(has_containing(&h, "Plaintext slice 512×512: 512 KiB"));
    assert!(has_containing(&h, "Built-in phantom"));
    assert!(has(&h, "W:400 L:40"), "default Abdomen window overlay");
}

#[test]
fn patient_identifiers_are_masked_until_revealed() {
    let mut h = harness(Prefs::default());
    loaded(&mut h);
    assert!(!has(&h, "PHANTOM^ABDOMEN"), "name hidden by default");
    assert!(!has(&h, "PHANTOM"), "ID hidden by default");
    assert!(h.query_all_by_label("••••••").count() >= 2);
    h.get_by_label("Reveal patient identifiers").click();
    h.run_steps(2);
    assert!(has(&h, "PHANTOM^ABDOMEN"), "name shown after the toggle");
    h.get_by_label("Reveal patient identifiers").click();
    h.run_steps(2);
    assert!(!has(&h, "PHANTOM^ABDOMEN"), "masked again");
}

#[test]
fn presets_by_button_and_number_key_change_the_overlay() {
    let mut h = harness(Prefs::default());
    loaded(&mut h);
    assert!(has(&h, "W:400 L:40"));
    h.get_by_label("Lung (5)").click();
    h.run_steps(2);
    assert!(has(&h, "W:1500 L:-600"), "Lung preset");
    assert!(!has(&h, "W:400 L:40"));
    h.key_press(egui::Key::Num4);
    h.run_steps(2);
    assert!(has(&h, "W:2000 L:400"), "key 4 = Bone");
    // The last preset is remembered in the preferences (and nothing else about the image).
    assert_eq!(
        h.state().prefs.last_preset,
        privact::app::prefs::PresetName::Bone
    );
}

#[test]
fn a_corrupt_file_shows_an_error_and_the_app_keeps_running() {
    let dir = std::env::temp_dir().join(format!("privact-ui-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("corrupt.dcm");
    let mut bytes = vec![0u8; 128];
    bytes.extend_from_slice(b"DICM");
    bytes.extend_from_slice(&[0xff; 64]);
    std::fs::write(&bad, bytes).unwrap();

    let mut h = harness(Prefs::default());
    loaded(&mut h);
    h.state_mut().apply(Intent::LoadPath(bad));
    step_until(&mut h, "the error toast", Duration::from_secs(30), |h| {
        has(h, "Open failed")
    });
    assert!(
        has_containing(&h, "corrupt.dcm"),
        "the error names the file"
    );
    assert!(
        has_containing(&h, "Built-in phantom"),
        "the previous image stays"
    );
    h.get_by_label("Dismiss error 1").click();
    h.run_steps(2);
    assert!(!has(&h, "Open failed"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The exact size plan of the built-in 512×512 phantom with `kind`.
fn denoise_plan(kind: ModelKind) -> SizePlan {
    SizePlan::new(kind, &specs(&builtin(kind).unwrap()), 512, 512).unwrap()
}

#[test]
fn encrypted_denoising_of_the_simulated_low_dose_linear() {
    let mut h = harness(Prefs::default());
    loaded(&mut h);
    // The denoising task shows its exact sizes before anything is encrypted.
    h.get_by_label("Denoising").click();
    h.run_steps(2);
    let plan = denoise_plan(ModelKind::Linear);
    assert_eq!(
        plan.ciphertexts,
        plan.tiles.div_ceil(2),
        "two tiles per ciphertext"
    );
    let tiles = format!(
        "{} tiles in {} ciphertexts × {} = {} bytes",
        plan.tiles,
        plan.ciphertexts,
        privact::app::view::fmt_bytes(plan.ciphertext_bytes),
        group_thousands(plan.request_bytes)
    );
    assert!(has_containing(&h, &tiles), "payload strip shows {tiles}");

    h.get_by_label("Simulate low dose").click();
    step_until(
        &mut h,
        "the low-dose simulation",
        Duration::from_secs(300),
        |h| h.state().state.ldct_outcome().is_some() && !h.state().busy(),
    );
    h.get_by_label("Linear (one-shot)").click();
    h.run_steps(2);
    assert!(has_containing(&h, "input: the simulated 25 % dose"));
    h.get_by_label("Run encrypted denoising").click();
    h.step();
    assert!(h.state().busy(), "job started");
    h.state_mut().apply(Intent::RunDenoise);
    assert!(
        h.state()
            .state
            .toasts
            .iter()
            .any(|t| t.message.contains("another job is running")),
        "a second job is refused"
    );
    step_until(
        &mut h,
        "the denoised slice",
        Duration::from_secs(900),
        |h| h.state().state.denoise_outcome().is_some() && !h.state().busy(),
    );
    h.run_steps(3);

    let app = h.state();
    let o = app.state.denoise_outcome().expect("outcome");
    assert_eq!(o.kind, ModelKind::Linear);
    let (first_reused, first) = (o.keys_reused, o.output_unit.clone());
    assert_eq!(o.output_hu.len(), 512 * 512, "the denoised image exists");
    assert!(
        o.max_abs_diff <= 1e-4,
        "max |encrypted − plaintext| = {:e}",
        o.max_abs_diff
    );
    let q = o.quality.expect("a clean reference for the simulated dose");
    assert!(
        q.psnr_out > q.psnr_in,
        "PSNR {} → {}",
        q.psnr_in,
        q.psnr_out
    );
    let names: Vec<&str> = o.ledger.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Keys",
            "Encode & encrypt",
            "Send",
            "Evaluate on ciphertext",
            "Receive",
            "Decrypt"
        ]
    );
    assert!(
        app.state
            .denoise
            .pipeline
            .steps
            .iter()
            .all(|s| s.status == StepStatus::Done)
    );
    assert!(o.run.rounds.is_empty(), "linear: one shot");
    assert_eq!(o.run.tiles, plan.tiles);
    assert_eq!(
        o.run.upload_bytes,
        plan.upload_bytes(),
        "measured = planned"
    );
    assert_eq!(o.run.download_bytes, plan.download_bytes());
    assert_eq!(o.run.eval_key_bytes, plan.setup_bytes);
    assert!(has(&h, "Decrypt done"));
    assert!(has_containing(&h, "matches the plan"));
    assert!(has(&h, "Low-dose input"));
    assert!(has(&h, "Denoised output (decrypted)"));
    assert!(has_containing(
        &h,
        "Difference image, output minus input, window ±"
    ));
    assert!(has_containing(&h, " dB out ("), "PSNR in and out are shown");
    assert!(
        app.state
            .denoise
            .pipeline
            .server_view
            .as_ref()
            .is_some_and(|b| b.len() as u64 == plan.ciphertext_bytes),
        "what the server sees: a real tile ciphertext"
    );
    let job_ms = o.total_seconds() * 1000.0;
    eprintln!(
        "denoising: PSNR {:.2} -> {:.2} dB, SSIM {:.3} -> {:.3}, max |enc - plain| {:.1e}, \
         {:.1} s; UI frames while the worker ran: {} frames, max build {:.1} ms",
        q.psnr_in,
        q.psnr_out,
        q.ssim_in,
        q.ssim_out,
        o.max_abs_diff,
        o.total_seconds(),
        app.state.frames_during_job,
        app.state.max_frame_ms_during_job
    );
    assert!(
        f64::from(app.state.max_frame_ms_during_job) < job_ms / 4.0,
        "the UI thread never blocks on the job (max frame {:.1} ms, job {job_ms:.0} ms)",
        app.state.max_frame_ms_during_job
    );

    // Export: PNG and a derived DICOM, on a helper thread.
    let dir = std::env::temp_dir().join(format!("privact-ui-denoise-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["den.png", "den.dcm"] {
        let path = dir.join(name);
        h.state_mut().apply(Intent::DismissNotice);
        h.state_mut().apply(Intent::ExportDenoisedTo(path.clone()));
        step_until(&mut h, "the export", Duration::from_secs(60), |h| {
            h.state()
                .state
                .notice
                .as_deref()
                .is_some_and(|n| n.starts_with("Exported"))
        });
        let back = privact::imaging::load(&path).expect("the export loads");
        assert_eq!((back.rows, back.cols), (512, 512));
    }
    let dcm = privact::imaging::load(&dir.join("den.dcm")).unwrap();
    let info = dcm.info.expect("DICOM tags");
    assert_eq!(
        dcm.units,
        privact::imaging::Units::Hu,
        "a CT image in HU (derived from the phantom)"
    );
    assert!(info.patient.name.is_some(), "tags copied from the source");
    // The full HU range of the input survives (issue 20: not clipped to the model's window):
    // air and bone of the phantom, on screen and in the exported DICOM.
    let range = |v: &[f32]| {
        v.iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)))
    };
    let o = h.state().state.denoise_outcome().expect("outcome");
    let (in_lo, in_hi) = range(&o.input_hu);
    let (out_lo, out_hi) = range(&o.output_hu);
    let (dcm_lo, dcm_hi) = range(&dcm.values);
    assert!(
        in_lo < -500.0 && in_hi > 400.0,
        "phantom: air and bone ({in_lo}, {in_hi})"
    );
    for (what, lo, hi) in [
        ("output", out_lo, out_hi),
        ("exported DICOM", dcm_lo, dcm_hi),
    ] {
        assert!(
            lo < -500.0 && hi > 400.0 && (lo - in_lo).abs() < 60.0 && (hi - in_hi).abs() < 60.0,
            "{what} keeps the input's HU range: ({lo}, {hi}) vs ({in_lo}, {in_hi})"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);

    // A second run of the same model reuses the session's keys: none made, none uploaded.
    assert!(!first_reused, "the first run makes the keys");
    h.get_by_label("Run encrypted denoising").click();
    step_until(&mut h, "the second run", Duration::from_secs(900), |h| {
        !h.state().busy()
            && h.state()
                .state
                .denoise_outcome()
                .is_some_and(|o| o.keys_reused)
    });
    h.run_steps(3);
    let o = h.state().state.denoise_outcome().expect("second outcome");
    let names: Vec<&str> = o.ledger.steps.iter().map(|s| s.name.as_str()).collect();
    assert!(!names.contains(&"Keys"), "no key generation: {names:?}");
    let sent = o.ledger.bytes("Send");
    assert_eq!(sent, plan.upload_bytes(), "only the tiles are uploaded");
    assert!(o.max_abs_diff <= 1e-4);
    assert!(
        o.output_unit
            .iter()
            .zip(&first)
            .all(|(a, b)| (a - b).abs() < 1e-4),
        "the same slice gives the same output with the reused keys"
    );
    assert!(has(&h, "Keys reused"), "the Keys row says reused");
    assert!(has_containing(&h, "Keys reused: made and uploaded once"));
}

#[test]
fn nonlinear_interactive_denoising_cancels_mid_rounds() {
    let mut h = harness(Prefs::default());
    loaded(&mut h);
    h.get_by_label("Nonlinear (interactive)").click();
    h.run_steps(2);
    assert!(has_containing(&h, "input: the loaded slice"));
    assert!(
        has_containing(&h, "3 ReLU rounds"),
        "payload strip: the rounds' sizes"
    );
    h.get_by_label("Run encrypted denoising").click();
    step_until(
        &mut h,
        "the first interactive round",
        Duration::from_secs(900),
        |h| has(h, "Round 1: masked pre-activations down done"),
    );
    h.get_by_label("Cancel").click();
    step_until(&mut h, "the cancel", Duration::from_secs(300), |h| {
        !h.state().busy()
    });
    h.run_steps(2);
    let st = &h.state().state;
    assert!(
        st.denoise_outcome().is_none(),
        "no result from a cancelled run"
    );
    assert!(
        st.denoise
            .pipeline
            .steps
            .iter()
            .any(|s| s.status == StepStatus::Cancelled),
        "a step shows cancelled"
    );
    assert!(
        st.denoise
            .pipeline
            .steps
            .iter()
            .any(|s| s.status == StepStatus::Waiting),
        "later rounds never ran"
    );
    assert!(has_containing(&h, "cancelled"));
    // The app is alive and responsive.
    assert!(has(&h, "worker: idle"));
    h.get_by_label("Lung (5)").click();
    h.run_steps(2);
    assert!(has(&h, "W:1500 L:-600"));
}

#[test]
fn nonlinear_interactive_denoising_runs_every_round_on_a_small_slice() {
    // A 128×128 phantom keeps the three interactive rounds quick.
    let dir = std::env::temp_dir().join(format!("privact-ui-nl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("small.dcm");
    let phantom = privact::imaging::phantom::Phantom {
        size: 128,
        ..Default::default()
    };
    std::fs::write(&path, phantom.dicom_bytes().unwrap()).unwrap();
    let mut h = harness(Prefs::default());
    loaded(&mut h);
    h.state_mut().apply(Intent::LoadPath(path));
    step_until(&mut h, "the small slice", Duration::from_secs(60), |h| {
        h.state().state.slice().is_some_and(|s| s.rows == 128)
    });
    h.get_by_label("Nonlinear (interactive)").click();
    h.run_steps(2);
    h.get_by_label("Run encrypted denoising").click();
    step_until(
        &mut h,
        "the denoised slice",
        Duration::from_secs(900),
        |h| h.state().state.denoise_outcome().is_some() && !h.state().busy(),
    );
    h.run_steps(3);
    let plan = SizePlan::new(
        ModelKind::Nonlinear,
        &specs(&builtin(ModelKind::Nonlinear).unwrap()),
        128,
        128,
    )
    .unwrap();
    let o = h.state().state.denoise_outcome().expect("outcome");
    assert_eq!(o.run.rounds.len(), 3);
    assert_eq!(o.run.rounds, plan.rounds, "bytes per round as planned");
    assert!(
        o.max_abs_diff <= 1e-4,
        "max |enc − plain| = {:e}",
        o.max_abs_diff
    );
    assert!(o.quality.is_none(), "no simulation: no reference");
    assert!(
        h.state()
            .state
            .denoise
            .pipeline
            .steps
            .iter()
            .all(|s| s.status == StepStatus::Done),
        "every row, rounds included, is done"
    );
    assert!(has(&h, "Round 3: fresh encryptions up done"));
    assert!(has_containing(&h, "Round 2 download: "), "the rounds table");
    assert!(has_containing(&h, "No clean reference"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_denoise_at_launch_simulates_the_low_dose_then_starts_denoising() {
    let mut h = harness_launched(
        Prefs::default(),
        Launch {
            open: None,
            run: Some(AutoRun::Denoise),
        },
    );
    step_until(&mut h, "the denoising job", Duration::from_secs(300), |h| {
        h.state().state.running == Some(JobKind::Denoise)
    });
    let st = &h.state().state;
    assert!(
        st.ldct_outcome().is_some(),
        "the low dose was simulated first"
    );
    assert_eq!(st.denoise.model, ModelKind::Linear, "linear by default");
    // Stop it here: the full run is covered above.
    h.state_mut().apply(Intent::Cancel);
    step_until(&mut h, "the cancel", Duration::from_secs(300), |h| {
        !h.state().busy()
    });
}

#[test]
fn run_denoise_at_launch_on_a_file_denoises_it_as_loaded() {
    // A CT file may already be a real low-dose scan: `--run denoise` must not simulate a
    // further 25 % of dose behind the user's back (issue 20); only the phantom is simulated.
    let dir = std::env::temp_dir().join(format!("privact-ui-launch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ct.dcm");
    std::fs::write(
        &path,
        privact::imaging::phantom::builtin_sample_dicom().unwrap(),
    )
    .unwrap();
    let mut h = harness_launched(
        Prefs::default(),
        Launch {
            open: Some(path),
            run: Some(AutoRun::Denoise),
        },
    );
    step_until(&mut h, "the denoising job", Duration::from_secs(300), |h| {
        h.state().state.running == Some(JobKind::Denoise)
    });
    h.run_steps(2);
    assert!(
        h.state().state.ldct_outcome().is_none(),
        "no simulated dose on a loaded file"
    );
    assert!(has_containing(&h, "input: the loaded slice"));
    h.state_mut().apply(Intent::Cancel);
    step_until(&mut h, "the cancel", Duration::from_secs(300), |h| {
        !h.state().busy()
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn encrypted_classification_runs_on_the_worker_then_cancel_works() {
    let mut h = harness(Prefs::default());
    loaded(&mut h);
    assert!(
        !has_containing(&h, "demo weights (untrained)"),
        "the shipped model runs, not demo weights"
    );

    // Cancel mid-job: start, wait for the first stage, cancel, the pipeline shows it.
    h.get_by_label("Run encrypted classification").click();
    step_until(&mut h, "the Keys stage", Duration::from_secs(60), |h| {
        has(h, "Keys running")
    });
    h.get_by_label("Cancel").click();
    step_until(&mut h, "the cancel", Duration::from_secs(120), |h| {
        !h.state().busy()
    });
    h.step();
    assert!(has_containing(&h, "cancelled"), "a step shows cancelled");
    assert!(h.state().state.pipeline.outcome.is_none());

    // The full run: the UI keeps stepping while the worker computes.
    h.get_by_label("Run encrypted classification").click();
    h.step();
    assert!(h.state().busy(), "job started");
    // A second job is refused while one runs.
    h.state_mut().apply(Intent::RunClassify);
    assert!(
        h.state()
            .state
            .toasts
            .iter()
            .any(|t| t.message.contains("another job is running")),
        "second job refused"
    );
    let mut max_step = Duration::ZERO;
    let t = Instant::now();
    while !has(&h, "Decrypt done") {
        assert!(
            t.elapsed() < Duration::from_secs(600),
            "the job did not finish"
        );
        std::thread::sleep(Duration::from_millis(20));
        let s = Instant::now();
        h.step();
        max_step = max_step.max(s.elapsed());
    }
    step_until(&mut h, "the results", Duration::from_secs(30), |h| {
        has_containing(h, "HE normal:")
    });
    let app = h.state();
    let o = app.state.pipeline.outcome.as_ref().expect("outcome");
    let names: Vec<&str> = o.ledger.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Keys",
            "Encode & encrypt",
            "Send",
            "Evaluate on ciphertext",
            "Receive",
            "Decrypt"
        ]
    );
    assert!(
        app.state
            .pipeline
            .steps
            .iter()
            .all(|s| s.status == StepStatus::Done)
    );
    let params = Parameters::preset(privact::model::classifier::packing::PRESET).unwrap();
    assert_eq!(
        o.request_bytes,
        request_bytes(&params) as u64,
        "measured = planned"
    );
    assert!(
        has_containing(&h, "matches"),
        "payload strip confirms the measured bytes"
    );
    let sum: f64 = o.probabilities.iter().sum();
    assert!((sum - 1.0).abs() < 1e-9);
    assert!(
        o.precision_bits().unwrap() > 10.0,
        "HE agrees with plaintext"
    );
    assert!(
        app.state
            .pipeline
            .server_view
            .as_ref()
            .is_some_and(|b| b.len() > 100_000)
    );
    // The built-in phantom is synthetic: its answer is shown as model output with a note,
    // never as "Predicted class" beside a label naming its painted lesion.
    assert!(
        has_containing(&h, "Model output: ") && has_containing(&h, "phantom is synthetic"),
        "the phantom's answer is labelled as model output"
    );
    assert!(!has_containing(&h, "Predicted class: "));
    assert!(!has_containing(&h, "renal tumour"), "no lesion label");
    assert!(
        has_containing(&h, "Ref-CNN normal:") && has_containing(&h, "Approx-CNN tumour:"),
        "the plaintext networks are shown beside the HE-CNN"
    );
    let approx = o.approx_cnn_logits.expect("Approx-CNN logits");
    let he_vs_approx = o
        .logits
        .iter()
        .zip(approx)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        he_vs_approx < 1e-3,
        "HE-CNN = Approx-CNN ({he_vs_approx:e})"
    );
    eprintln!(
        "UI frames while the worker ran: {} frames, max build {:.1} ms; max harness step {:.1} ms",
        app.state.frames_during_job,
        app.state.max_frame_ms_during_job,
        max_step.as_secs_f64() * 1000.0
    );
    // A frame that waited for the crypto would last about as long as the job itself: compare
    // within this run rather than against a wall-clock constant.
    let job_ms = o.total_seconds() * 1000.0;
    assert!(
        f64::from(app.state.max_frame_ms_during_job) < job_ms / 4.0,
        "the UI thread never blocks on the job (max frame {:.1} ms, job {job_ms:.0} ms)",
        app.state.max_frame_ms_during_job
    );
    assert!(
        !o.keys_reused && o.session_runs == 1,
        "the first run opens the session"
    );
    let (first_logits, setup_bytes) = (o.logits, o.setup_bytes);
    assert!(
        app.state
            .pipeline
            .steps
            .iter()
            .any(|s| s.bytes == Some(setup_bytes)),
        "the first run's Keys row carries the key upload"
    );

    // A second classification in the session makes no keys and uploads only the request.
    h.get_by_label("Run encrypted classification").click();
    step_until(&mut h, "the second run", Duration::from_secs(600), |h| {
        !h.state().busy()
            && h.state()
                .state
                .pipeline
                .outcome
                .as_ref()
                .is_some_and(|o| o.session_runs == 2)
    });
    h.step();
    let app = h.state();
    let o = app.state.pipeline.outcome.as_ref().expect("second outcome");
    assert!(o.keys_reused, "keys reused");
    assert_eq!(o.setup_bytes, setup_bytes, "the same session's keys");
    let names: Vec<&str> = o.ledger.steps.iter().map(|s| s.name.as_str()).collect();
    assert!(!names.contains(&"Keys"), "no key generation: {names:?}");
    let sent = o.ledger.bytes("Send");
    assert_eq!(sent, o.request_bytes, "only the request is uploaded");
    assert!(has(&h, "Keys reused"), "the Keys row says reused");
    assert!(has_containing(&h, "Keys reused: made and uploaded once"));
    assert_eq!(o.logits.len(), first_logits.len());
    assert!(
        o.precision_bits().unwrap() > 10.0,
        "fresh encryption, same answer"
    );
    assert!(
        o.logits
            .iter()
            .zip(first_logits)
            .all(|(a, b)| (a - b).abs() < 1e-3),
        "the same slice gives the same logits with the reused keys"
    );

    // The probability chart and its legend stay inside the central panel at common laptop
    // sizes (at 1400×900 they were once drawn under the right panel).
    for size in [[1600.0, 1000.0], [1400.0, 900.0], [1280.0, 800.0]] {
        h.set_size(egui::vec2(size[0], size[1]));
        for _ in 0..3 {
            h.step();
        }
        let panel_left = h.get_by_label("Encrypted pipeline").rect().left();
        for legend in ["blue: HE-CNN (decrypted)", "grey: plaintext, same circuit"] {
            let r = h.get_by_label(legend).rect();
            assert!(
                r.right() <= panel_left,
                "{size:?}: '{legend}' ends at x = {} under the right panel (from x = {panel_left})",
                r.right()
            );
        }
    }
}

/// The shared data folder (`$PRIVACT_DATA` or `../shared/data`), if present.
fn shared_data() -> Option<std::path::PathBuf> {
    let p = std::env::var_os("PRIVACT_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data")
        });
    p.is_dir().then_some(p)
}

#[test]
fn a_non_ct_image_is_refused_before_encryption() {
    let Some(data) = shared_data() else { return };
    let mr = data.join("dicom/pydicom-test-files/MR_small.dcm");
    if !mr.exists() {
        return;
    }
    let mut h = harness(Prefs::default());
    loaded(&mut h);
    h.state_mut().apply(Intent::LoadPath(mr));
    step_until(&mut h, "the MR slice", Duration::from_secs(30), |h| {
        h.state()
            .state
            .image
            .as_ref()
            .is_some_and(|i| i.label == "MR_small.dcm")
    });
    h.state_mut().apply(Intent::RunClassify);
    h.step();
    assert!(!h.state().busy(), "no job was started");
    assert!(
        h.state()
            .state
            .toasts
            .iter()
            .any(|t| t.message.contains("not a CT image") && t.message.contains("MR")),
        "refusal toast"
    );
}

#[test]
fn a_slice_failing_the_input_check_gets_a_warning_instead_of_a_class() {
    let dir = std::env::temp_dir().join(format!("privact-ui-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let blank = dir.join("blank.png");
    image::GrayImage::from_pixel(128, 128, image::Luma([0u8]))
        .save(&blank)
        .unwrap();
    let mut h = harness(Prefs::default());
    loaded(&mut h);
    h.state_mut().apply(Intent::LoadPath(blank));
    step_until(&mut h, "the blank image", Duration::from_secs(30), |h| {
        h.state()
            .state
            .image
            .as_ref()
            .is_some_and(|i| i.label == "blank.png")
    });
    h.state_mut().apply(Intent::RunClassify);
    step_until(&mut h, "the results", Duration::from_secs(600), |h| {
        has_containing(h, "HE normal:")
    });
    assert!(has_containing(&h, "Predicted class: none. Input check"));
    assert!(!has_containing(&h, "Predicted class: normal"));
    assert!(!has_containing(&h, "Predicted class: cyst"));
    assert!(!has_containing(&h, "Predicted class: tumor"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A series of at least 8 slices for the series run: the real full-dose L096 slices of the
/// Mayo data (one series, 10 levels) when the shared data is present, else 8 phantom slices.
fn series_folder() -> std::path::PathBuf {
    if let Some(root) = common::shared_data() {
        let mayo = root.join("ldct-mayo");
        let dir = common::temp_dir("app-series-l096");
        let mut n = 0;
        for e in std::fs::read_dir(&mayo).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with("L096_") && name.ends_with("_FD.IMA") {
                std::fs::copy(e.path(), dir.join(&name)).unwrap();
                n += 1;
            }
        }
        if n >= 8 {
            return dir;
        }
    }
    eprintln!("shared data absent: the series run uses 8 phantom slices");
    common::phantom_series("app-series-phantom", 8)
}

/// Issue 19: a series run with one key set on the worker, cancelled midway (the slices done
/// stay), then run in full; the plot, a click on it, the most-suspicious list and the
/// encrypted heat map of each slice (equal to the plaintext circuit's within 1e-3).
#[test]
fn a_series_is_classified_on_the_worker_cancelled_and_plotted_with_heat_maps() {
    let folder = series_folder();
    let mut h = harness(Prefs::default());
    loaded(&mut h);
    h.state_mut().apply(Intent::LoadPath(folder));
    step_until(
        &mut h,
        "the series to load",
        Duration::from_secs(120),
        |h| {
            h.state()
                .state
                .image
                .as_ref()
                .is_some_and(|i| i.slices.len() >= 8)
        },
    );
    h.step();
    let n = h.state().state.image.as_ref().unwrap().slices.len();
    assert_eq!(
        h.state().state.series_range,
        (0, n - 1),
        "the whole series by default"
    );
    assert!(
        h.state().state.heat_map.request,
        "heat maps are asked for by default"
    );

    // Cancel once two slices are done: they stay, with their results.
    h.get_by_label("Classify series (encrypted)").click();
    step_until(&mut h, "two slices", Duration::from_secs(300), |h| {
        h.state()
            .state
            .series
            .as_ref()
            .is_some_and(|r| r.rows.len() >= 2)
    });
    h.get_by_label("Cancel").click();
    step_until(&mut h, "the cancel", Duration::from_secs(120), |h| {
        !h.state().busy()
    });
    h.step();
    let run = h.state().state.series.clone().unwrap();
    assert!(run.cancelled, "the run says it was cancelled");
    assert!(
        run.rows.len() >= 2 && run.rows.len() < n,
        "{} of {n} kept",
        run.rows.len()
    );
    assert!(
        has_containing(&h, "Cancelled after"),
        "the plot's title says so"
    );
    assert!(has_containing(&h, "Series plot: probabilities of"));

    // The full run, then the plot, a jump and the heat map.
    h.get_by_label("Classify series (encrypted)").click();
    step_until(&mut h, "the whole series", Duration::from_secs(600), |h| {
        !h.state().busy()
            && h.state()
                .state
                .series
                .as_ref()
                .is_some_and(|r| r.ended.is_some())
    });
    h.step();
    let run = h.state().state.series.clone().unwrap();
    assert!(!run.cancelled);
    assert_eq!(run.rows.len(), n, "every slice has a row");
    let keys_paid = run
        .rows
        .iter()
        .filter(|r| r.outcome.as_ref().is_some_and(|o| !o.keys_reused))
        .count();
    assert!(
        keys_paid <= 1,
        "one key set for the series ({keys_paid} key uploads)"
    );
    for r in &run.rows {
        let Some(o) = &r.outcome else { continue };
        assert!(o.maps.is_some(), "slice {}: a heat map", r.index);
        let e = o.map_error().expect("plaintext map to compare");
        assert!(e <= 1e-3, "slice {}: encrypted map off by {e}", r.index);
        let p = o.reference_logits.unwrap();
        for (he, plain) in o.logits.iter().zip(p) {
            assert!((he - plain).abs() < 1e-3);
        }
    }
    assert!(has_containing(
        &h,
        &format!("Series plot: probabilities of {n} slices")
    ));

    // A click in the middle of the plot jumps to a slice in the middle of the series.
    h.state_mut().apply(Intent::SelectSlice(0));
    h.step();
    h.get_by_label_contains("Series plot: probabilities of")
        .click();
    h.step();
    h.step();
    let index = h.state().state.index;
    assert!(index > 0 && index < n - 1, "jumped to slice {index} of {n}");

    // The most suspicious slice's button jumps to it; its results and heat map show.
    let top = run.most_suspicious(1);
    if let Some(top) = top.first() {
        let p = top.probabilities.unwrap()[2];
        h.get_by_label_contains(&format!("slice {} · {:.1} %", top.index + 1, p * 100.0))
            .click();
        h.step();
        h.step();
        assert_eq!(h.state().state.index, top.index);
        assert!(has_containing(&h, "Encrypted map vs plaintext circuit"));
        assert!(h.state().textures.heat_map.is_some(), "the map is drawn");
        h.get_by_label("Show heat map").click();
        h.step();
        h.step();
        assert!(
            !h.state().state.heat_map.show,
            "the checkbox turns the map off"
        );
        assert!(h.state().textures.heat_map.is_none(), "hidden on request");
    }
}

/// Issue 17: the app's "Server" setting. A wrong address fails with a network error shown in
/// the pipeline view (the app keeps running); then a real `privact serve` on loopback TLS,
/// chosen through the UI, classifies the phantom with the same answer as the built-in worker.
#[test]
fn a_remote_server_chosen_in_the_app_gives_the_built_in_answer_and_errors_are_shown() {
    use privact::app::prefs::ServerPref;
    use privact::app::remote::Connection;
    use privact::protocol::transport::http_server::{self, Limits};
    use privact::protocol::transport::tls::{Identity, hex};

    let mut h = harness(Prefs::default());
    loaded(&mut h);
    // The built-in answer first.
    h.state_mut().apply(Intent::RunClassify);
    step_until(&mut h, "the built-in run", Duration::from_secs(300), |h| {
        !h.state().busy()
    });
    let built_in = h
        .state()
        .state
        .pipeline
        .outcome
        .clone()
        .expect("built-in outcome");

    // Nothing listens on port 9: the run fails with a network error, shown in the panel.
    h.get_by_label("Remote privact serve").click();
    h.step();
    assert_eq!(h.state().state.connection, Connection::Unchecked);
    h.state_mut().apply(Intent::SetServer(ServerPref {
        remote: true,
        url: "http://127.0.0.1:9".into(),
        fingerprint: String::new(),
    }));
    h.state_mut().apply(Intent::RunClassify);
    step_until(&mut h, "the failed run", Duration::from_secs(120), |h| {
        !h.state().busy()
    });
    h.step();
    assert!(
        matches!(&h.state().state.connection, Connection::Failed(r) if r.contains("127.0.0.1:9")),
        "{:?}",
        h.state().state.connection
    );
    assert!(
        has_containing(&h, "Unreachable: network"),
        "shown in the pipeline view"
    );

    // A real server over TLS with a pinned certificate.
    let identity = Identity::self_signed(&[]).unwrap();
    let fingerprint = hex(&identity.fingerprint());
    let server = http_server::spawn(
        "127.0.0.1:0".parse().unwrap(),
        Some(identity),
        privact::cli::serve::shipped_models().unwrap(),
        Limits::default(),
        false,
    )
    .unwrap();
    h.state_mut().apply(Intent::SetServer(ServerPref {
        remote: true,
        url: format!("https://{}", server.addr),
        fingerprint,
    }));
    h.get_by_label("Check connection").click();
    h.run_steps(2);
    step_until(&mut h, "the health check", Duration::from_secs(30), |h| {
        matches!(
            h.state().state.connection,
            Connection::Reachable(_) | Connection::Failed(_)
        )
    });
    assert!(
        matches!(h.state().state.connection, Connection::Reachable(_)),
        "{:?}",
        h.state().state.connection
    );
    h.state_mut().apply(Intent::RunClassify);
    step_until(&mut h, "the remote run", Duration::from_secs(300), |h| {
        !h.state().busy()
    });
    assert_eq!(h.state().state.connection, Connection::InUse);
    let remote = h
        .state()
        .state
        .pipeline
        .outcome
        .clone()
        .expect("remote outcome");
    for (a, b) in built_in.logits.iter().zip(&remote.logits) {
        assert!(
            (a - b).abs() < 1e-3,
            "{:?} vs {:?}",
            built_in.logits,
            remote.logits
        );
    }
    assert!(!remote.keys_reused, "new server, new keys");
    // A second run reuses the keys already on the server.
    h.state_mut().apply(Intent::RunClassify);
    step_until(
        &mut h,
        "the second remote run",
        Duration::from_secs(300),
        |h| !h.state().busy(),
    );
    let again = h
        .state()
        .state
        .pipeline
        .outcome
        .clone()
        .expect("second outcome");
    assert!(again.keys_reused);
    server.shutdown(Duration::from_secs(10)).unwrap();
}

/// Issue 20: every label and step row describes what is on screen. After a low-dose
/// simulation and a denoising run on slice 1, slice 2 shows the original, called so, and the
/// step rows say they belong to slice 1; back on slice 1 the denoised view returns.
#[test]
fn labels_after_switching_slices_following_a_denoise_run_describe_the_slice_on_screen() {
    use privact::app::state::Display;
    let dir = common::phantom_series("app-two-slices", 2);
    let mut h = harness(Prefs::default());
    loaded(&mut h);
    h.state_mut().apply(Intent::LoadPath(dir.clone()));
    step_until(&mut h, "the two slices", Duration::from_secs(60), |h| {
        h.state()
            .state
            .image
            .as_ref()
            .is_some_and(|i| i.slices.len() == 2)
    });
    h.state_mut().apply(Intent::SimulateLdct);
    step_until(&mut h, "the low dose", Duration::from_secs(300), |h| {
        h.state().state.ldct_outcome().is_some() && !h.state().busy()
    });
    h.state_mut()
        .apply(Intent::SetDenoiseModel(ModelKind::Linear));
    // The denoiser's input is what is on screen: the original when it is shown.
    h.state_mut().apply(Intent::SetDisplay(Display::Original));
    h.run_steps(2);
    assert!(has_containing(&h, "input: the original slice shown"));
    h.state_mut().apply(Intent::SetDisplay(Display::LowDose));
    h.run_steps(2);
    assert!(has_containing(&h, "input: the simulated 25 % dose"));
    h.state_mut().apply(Intent::RunDenoise);
    step_until(
        &mut h,
        "the denoised slice",
        Duration::from_secs(900),
        |h| h.state().state.denoise_outcome().is_some() && !h.state().busy(),
    );
    assert_eq!(
        h.state().state.denoise_outcome().and_then(|o| o.dose),
        Some(0.25),
        "the simulated low dose was denoised"
    );
    h.state_mut().apply(Intent::SetDisplay(Display::Denoised));
    h.run_steps(3);
    assert!(
        has_containing(&h, "(denoised (decrypted))"),
        "slice 1 shows the denoised view"
    );
    assert!(has(&h, "Decrypt done"));
    assert!(!has_containing(&h, "not the slice on screen"));

    h.state_mut().apply(Intent::StepSlice(1));
    h.run_steps(3);
    let st = &h.state().state;
    assert_eq!(st.index, 1);
    assert!(st.ldct_outcome().is_none() && st.denoise_outcome().is_none());
    assert_eq!(st.shown_display(st.display), Display::Original);
    assert!(
        has_containing(&h, "(original)"),
        "the image is labelled original"
    );
    assert!(!has_containing(&h, "(denoised (decrypted))"));
    assert!(!has_containing(&h, "(simulated low dose)"));
    assert!(
        has_containing(&h, "last run's, on slice 1: not the slice on screen"),
        "the step rows say whose they are"
    );
    assert!(
        !has(&h, "Denoised output (decrypted)"),
        "no results of another slice"
    );

    h.state_mut().apply(Intent::StepSlice(-1));
    h.run_steps(3);
    assert!(has_containing(&h, "(denoised (decrypted))"));
    assert!(!has_containing(&h, "not the slice on screen"));
    let _ = std::fs::remove_dir_all(&dir);
}
