//! The HE-CNN packing against an independent direct implementation of the Approx-CNN:
//! exactly (plain slot simulator) and under CKKS (encrypted end to end).

mod common;

use privact::ckks::{Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator, Parameters};
use privact::model::backend::{CkksBackend, SimBackend, SimCt};
use privact::model::classifier::he::{ApproxParams, HeModelError, PreparedClassifier};
use privact::model::classifier::packing::{self, C1, C2, CLASSES, LEVELS_NEEDED, SLOTS};
use std::sync::Arc;

fn lcg(seed: u64) -> impl FnMut() -> f64 {
    let mut x = seed;
    move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((x >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

fn random_params(seed: u64) -> ApproxParams {
    let mut r = lcg(seed);
    let mut v = |n: usize, scale: f64, offset: f64| {
        (0..n).map(|_| offset + scale * r()).collect::<Vec<f64>>()
    };
    // Weight ranges shrink with the fan-in, so activations keep their size at any width.
    let (w2, wfc) = ((8.0 / C1 as f64).sqrt(), (16.0 / C2 as f64).sqrt());
    ApproxParams {
        conv1_w: v(C1 * 64, 0.15, 0.0),
        conv1_b: v(C1, 0.2, 0.0),
        act1: [v(C1, 0.05, 0.15), v(C1, 0.3, 0.6), v(C1, 0.1, 0.0)],
        conv2_w: v(C2 * C1 * 9, 0.2 * w2, 0.0),
        conv2_b: v(C2, 0.2, 0.0),
        act2: [v(C2, 0.05, 0.1), v(C2, 0.3, 0.5), v(C2, 0.1, 0.0)],
        fc_w: v(3 * C2, 0.5 * wfc, 0.0),
        fc_b: v(3, 0.2, 0.0),
    }
}

fn random_image(seed: u64) -> Vec<f32> {
    let mut r = lcg(seed);
    (0..256 * 256).map(|_| r() as f32).collect()
}

/// The Approx-CNN written the obvious way, independently of the packing.
fn direct_logits(p: &ApproxParams, img: &[f32]) -> Vec<f64> {
    let act = |a: &[Vec<f64>; 3], c: usize, y: f64| a[0][c] * y * y + a[1][c] * y + a[2][c];
    let mut h1 = vec![0.0; C1 * 32 * 32];
    for c in 0..C1 {
        for py in 0..32 {
            for px in 0..32 {
                let mut s = p.conv1_b[c];
                for dy in 0..8 {
                    for dx in 0..8 {
                        s += p.conv1_w[c * 64 + dy * 8 + dx]
                            * f64::from(img[(py * 8 + dy) * 256 + px * 8 + dx]);
                    }
                }
                h1[(c * 32 + py) * 32 + px] = act(&p.act1, c, s);
            }
        }
    }
    let mut pool = vec![0.0; C1 * 16 * 16];
    for c in 0..C1 {
        for u in 0..16 {
            for v in 0..16 {
                let at = |y: usize, x: usize| h1[(c * 32 + y) * 32 + x];
                pool[(c * 16 + u) * 16 + v] = (at(2 * u, 2 * v)
                    + at(2 * u + 1, 2 * v)
                    + at(2 * u, 2 * v + 1)
                    + at(2 * u + 1, 2 * v + 1))
                    / 4.0;
            }
        }
    }
    let mut gap = [0.0; C2];
    for (co, g) in gap.iter_mut().enumerate() {
        for u in 0..16 {
            for v in 0..16 {
                let mut s = p.conv2_b[co];
                for ci in 0..C1 {
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let (y, x) = (u as i64 + ky as i64 - 1, v as i64 + kx as i64 - 1);
                            if (0..16).contains(&y) && (0..16).contains(&x) {
                                s += p.conv2_w[((co * C1 + ci) * 3 + ky) * 3 + kx]
                                    * pool[(ci * 16 + y as usize) * 16 + x as usize];
                            }
                        }
                    }
                }
                *g += act(&p.act2, co, s) / 256.0;
            }
        }
    }
    (0..3)
        .map(|k| p.fc_b[k] + (0..C2).map(|co| p.fc_w[k * C2 + co] * gap[co]).sum::<f64>())
        .collect()
}

/// Mean of the members' direct logits: what an ensemble must compute.
fn direct_mean_logits(members: &[ApproxParams], img: &[f32]) -> Vec<f64> {
    let mut mean = vec![0.0; CLASSES];
    for p in members {
        for (m, z) in mean.iter_mut().zip(direct_logits(p, img)) {
            *m += z / members.len() as f64;
        }
    }
    mean
}

#[test]
fn simulator_reproduces_the_direct_network_exactly() {
    let sim = SimBackend { slots: SLOTS };
    let cases = [
        (vec![random_params(1)], 11),
        (vec![random_params(2)], 12),
        // An ensemble: members' logits averaged through 1/K folded into each output layer.
        (
            vec![random_params(1), random_params(2), random_params(4)],
            13,
        ),
    ];
    for (members, image_seed) in cases {
        let img = random_image(image_seed);
        let want = direct_mean_logits(&members, &img);
        let model = PreparedClassifier::new(&sim, &members, LEVELS_NEEDED).unwrap();
        assert_eq!(model.members(), members.len());
        let inputs: Vec<SimCt> = packing::input_layout(&img)
            .into_iter()
            .map(|values| SimCt {
                values,
                level: LEVELS_NEEDED,
            })
            .collect();
        let out = model.evaluate(&sim, &inputs).unwrap();
        assert_eq!(
            out.level, 0,
            "the network uses exactly LEVELS_NEEDED levels"
        );
        for (k, (got, w)) in out.values.iter().zip(&want).enumerate().take(CLASSES) {
            assert!(
                (got.re - w).abs() < 1e-9 * (1.0 + w.abs()),
                "{} members, class {k}: {got} vs {w}",
                members.len()
            );
            assert!(
                got.im.abs() < 1e-9,
                "the conjugate-and-add leaves real slots"
            );
        }
    }
    assert!(matches!(
        PreparedClassifier::new(&sim, &[], LEVELS_NEEDED),
        Err(HeModelError::NoMembers)
    ));
}

#[test]
fn level_budget_is_checked_before_running() {
    let sim = SimBackend { slots: SLOTS };
    let err = PreparedClassifier::new(&sim, &[random_params(3)], LEVELS_NEEDED - 1)
        .err()
        .unwrap();
    assert_eq!(
        err,
        HeModelError::Levels {
            needed: LEVELS_NEEDED,
            available: LEVELS_NEEDED - 1
        }
    );
    assert!(err.to_string().contains("needs 6 levels"));
    let mut p = random_params(3);
    p.act2[0][4] = 0.0;
    assert!(matches!(
        PreparedClassifier::new(&sim, &[random_params(1), p], LEVELS_NEEDED),
        Err(HeModelError::FlatActivation { .. })
    ));
}

/// Keys for `preset`, the members prepared under CKKS, `image` encrypted, evaluated and
/// decrypted: the decoded logit slots.
fn ckks_logits(preset: &str, members: &[ApproxParams], image: &[f32]) -> Vec<f64> {
    let params = Parameters::preset(preset).unwrap();
    let mut kg = KeyGenerator::new(&params);
    let sk = kg.gen_secret_key();
    let keys = kg.gen_evaluation_keys(&sk, &packing::rotations(), packing::NEEDS_CONJUGATION);
    let eval = Evaluator::new(&params, Arc::new(keys));
    let encoder = Encoder::new(&params);
    let backend = CkksBackend {
        eval: &eval,
        encoder: &encoder,
    };
    let model = PreparedClassifier::new(&backend, members, LEVELS_NEEDED).unwrap();
    assert_eq!(model.members(), members.len());
    let mut enc = Encryptor::new(&params, &sk);
    let inputs: Vec<_> = packing::input_layout(image)
        .iter()
        .map(|v| {
            enc.encrypt(
                &encoder
                    .encode_complex(v, LEVELS_NEEDED, params.default_scale())
                    .unwrap(),
            )
            .unwrap()
        })
        .collect();
    let out = model.evaluate(&backend, &inputs).unwrap();
    encoder
        .decode(&Decryptor::new(&params, &sk).decrypt(&out).unwrap())
        .unwrap()
}

#[test]
fn encrypted_inference_matches_the_direct_network() {
    // Two members: their logit ciphertexts add on the server.
    let members = [random_params(5), random_params(7)];
    let img = random_image(6);
    let got = ckks_logits("depth7-n14", &members, &img);
    let want = direct_mean_logits(&members, &img);
    for k in 0..CLASSES {
        assert!(
            (got[k] - want[k]).abs() < 1e-3,
            "class {k}: HE {} vs plain {}",
            got[k],
            want[k]
        );
    }
}

/// The shipped model (all ensemble members) under CKKS against the exact slot simulator and the
/// plain-Rust Approx-CNN, on a real validation slice when the shared data is present and on a
/// smooth synthetic slice otherwise. Tolerance: 1e-3 on each logit (CKKS noise at scale 2^40
/// after five levels is orders of magnitude below it).
#[test]
fn shipped_model_under_ckks_equals_the_simulator() {
    let classifier = privact::model::classifier::shipped().expect("shipped classifier");
    let members = classifier.he_members();
    let image = match common::kidney_ct() {
        Some(root) => {
            let f = &classifier.description.training.validation_files[0];
            privact::model::classifier::preprocess::load_model_input(&root.join(&f.path))
                .expect("validation slice")
        }
        None => privact::model::classifier::preprocess::preprocess(
            &(0..256 * 256)
                .map(|i| {
                    let (y, x) = ((i / 256) as f32, (i % 256) as f32);
                    0.5 + 0.3 * (y * 0.05).sin() * (x * 0.07).cos()
                })
                .collect::<Vec<f32>>(),
        ),
    };
    let plain = classifier.approx_logits(&image).expect("plain forward");

    let sim = SimBackend { slots: SLOTS };
    let simulated = PreparedClassifier::new(&sim, &members, LEVELS_NEEDED)
        .unwrap()
        .evaluate(
            &sim,
            &packing::input_layout(&image)
                .into_iter()
                .map(|values| SimCt {
                    values,
                    level: LEVELS_NEEDED,
                })
                .collect::<Vec<_>>(),
        )
        .unwrap();

    let he = ckks_logits(packing::PRESET, &members, &image);
    for k in 0..CLASSES {
        let s = simulated.values[k].re;
        assert!(
            (s - plain[k]).abs() < 1e-6,
            "class {k}: simulator {s} vs plain {}",
            plain[k]
        );
        assert!(
            (he[k] - s).abs() < 1e-3,
            "class {k}: HE {} vs simulator {s}",
            he[k]
        );
    }
}

/// Issue 19: the class-activation map of the encrypted run equals the plain network's map.
/// Tolerance 1e-3 logit units per cell (the same as the logits; CKKS noise is far below it).
/// Also: the simulator's map equals the plain one to 1e-6, each map's mean over its cells is
/// its logit, and asking for the map does not change the logits.
#[test]
fn class_activation_map_under_ckks_equals_the_plain_network() {
    let classifier = privact::model::classifier::shipped().expect("shipped classifier");
    let members = classifier.he_members();
    let image = privact::model::classifier::preprocess::preprocess(
        &(0..256 * 256)
            .map(|i| {
                let (y, x) = ((i / 256) as f32 - 128.0, (i % 256) as f32 - 100.0);
                let r2 = y * y + x * x;
                0.4 + 0.2 * (y * 0.05).sin() + if r2 < 400.0 { 0.3 } else { 0.0 }
            })
            .collect::<Vec<f32>>(),
    );
    let plain = classifier.approx_maps(&image).expect("plain maps");
    let logits = classifier.approx_logits(&image).expect("plain logits");
    for (class, map) in [(1, &plain.cyst), (2, &plain.tumor)] {
        assert_eq!(map.len(), 256);
        let mean = map.iter().sum::<f64>() / 256.0;
        assert!(
            (mean - logits[class]).abs() < 1e-9,
            "class {class}: mean {mean} vs logit {}",
            logits[class]
        );
        let spread = map.iter().fold(0.0f64, |m, v| m.max((v - mean).abs()));
        assert!(spread > 1e-3, "class {class}: a flat map shows nothing");
    }

    let inputs = |level| -> Vec<SimCt> {
        packing::input_layout(&image)
            .into_iter()
            .map(|values| SimCt { values, level })
            .collect()
    };
    let sim = SimBackend { slots: SLOTS };
    let model = PreparedClassifier::new(&sim, &members, LEVELS_NEEDED).unwrap();
    let (sim_logits, sim_map) = model
        .evaluate_with_map(&sim, &inputs(LEVELS_NEEDED))
        .unwrap();
    let sim_map = packing::unpack_map(&sim_map.real_parts());
    for (a, b) in sim_map
        .cyst
        .iter()
        .chain(&sim_map.tumor)
        .zip(plain.cyst.iter().chain(&plain.tumor))
    {
        assert!(
            (a - b).abs() < 1e-6 * (1.0 + b.abs()),
            "simulator {a} vs plain {b}"
        );
    }
    for (sim, plain) in sim_logits.values.iter().zip(logits) {
        assert!((sim.re - plain).abs() < 1e-6);
    }

    // Under CKKS.
    let params = Parameters::preset(packing::PRESET).unwrap();
    let mut kg = KeyGenerator::new(&params);
    let sk = kg.gen_secret_key();
    let keys = kg.gen_evaluation_keys(&sk, &packing::rotations(), packing::NEEDS_CONJUGATION);
    let eval = Evaluator::new(&params, Arc::new(keys));
    let encoder = Encoder::new(&params);
    let backend = CkksBackend {
        eval: &eval,
        encoder: &encoder,
    };
    let model = PreparedClassifier::new(&backend, &members, LEVELS_NEEDED).unwrap();
    let mut enc = Encryptor::new(&params, &sk);
    let cts: Vec<_> = packing::input_layout(&image)
        .iter()
        .map(|v| {
            enc.encrypt(
                &encoder
                    .encode_complex(v, LEVELS_NEEDED, params.default_scale())
                    .unwrap(),
            )
            .unwrap()
        })
        .collect();
    let (he_logits, he_map) = model.evaluate_with_map(&backend, &cts).unwrap();
    assert_eq!(
        he_map.level(),
        he_logits.level(),
        "the map costs no extra level"
    );
    let dec = Decryptor::new(&params, &sk);
    let slots = encoder.decode(&dec.decrypt(&he_map).unwrap()).unwrap();
    let he = packing::unpack_map(&slots);
    let mut worst = 0.0f64;
    for (a, b) in he
        .cyst
        .iter()
        .chain(&he.tumor)
        .zip(plain.cyst.iter().chain(&plain.tumor))
    {
        worst = worst.max((a - b).abs());
    }
    assert!(
        worst <= 1e-3,
        "encrypted map differs from the plain map by {worst}"
    );
    // Slots outside the maps carry nothing (no weight or bias shows up there).
    let used: std::collections::BTreeSet<usize> = (0..2)
        .flat_map(|m| (0..256).map(move |c| packing::map_slot(m, c / 16, c % 16)))
        .collect();
    for (i, v) in slots.iter().enumerate().take(packing::BLOCK) {
        if !used.contains(&i) {
            assert!(v.abs() < 1e-3, "slot {i} holds {v}");
        }
    }
    let he_logits = encoder.decode(&dec.decrypt(&he_logits).unwrap()).unwrap();
    for (he, plain) in he_logits.iter().zip(logits) {
        assert!((he - plain).abs() < 1e-3);
    }
}

#[test]
fn both_entries_check_input_count_and_level_before_evaluating() {
    let sim = SimBackend { slots: SLOTS };
    let model = PreparedClassifier::new(&sim, &[random_params(2)], LEVELS_NEEDED).unwrap();
    let inputs = |n: usize, level: usize| -> Vec<SimCt> {
        packing::input_layout(&random_image(4))
            .into_iter()
            .cycle()
            .take(n)
            .map(|values| SimCt { values, level })
            .collect()
    };
    let short = inputs(packing::INPUT_CTS - 1, LEVELS_NEEDED);
    let low = inputs(packing::INPUT_CTS, LEVELS_NEEDED - 1);
    let count = || HeModelError::InputCount {
        expected: packing::INPUT_CTS,
        found: packing::INPUT_CTS - 1,
    };
    let level = || HeModelError::Levels {
        needed: LEVELS_NEEDED,
        available: LEVELS_NEEDED - 1,
    };
    assert_eq!(model.evaluate(&sim, &short).err(), Some(count()));
    assert_eq!(model.evaluate(&sim, &low).err(), Some(level()));
    assert_eq!(model.evaluate_with_map(&sim, &short).err(), Some(count()));
    assert_eq!(model.evaluate_with_map(&sim, &low).err(), Some(level()));
    // The right inputs evaluate.
    assert!(
        model
            .evaluate_with_map(&sim, &inputs(packing::INPUT_CTS, LEVELS_NEEDED))
            .is_ok()
    );
}
