//! Denoisers without encryption: shipped weights, tiling seams, the packed HE code on the
//! exact simulator (linear one shot, interactive masked vs unmasked), and what the client
//! sees in the interactive rounds.

use num_complex::Complex64;
use privact::model::backend::{SimBackend, SimCt};
use privact::model::denoiser::data::max_abs_diff as max_diff;
use privact::model::denoiser::he::{
    INTERACTIVE_LEVELS, Interactive, LinearHe, MaskPolicy, Step, model_rotations,
};
use privact::model::denoiser::tiling::{pack_pairs, unpack_pairs};
use privact::model::denoiser::weights::{
    builtin, builtin_description, from_safetensors, specs, to_safetensors,
};
use privact::model::denoiser::{Conv, Denoiser, ModelKind, TilePlan};

const SLOTS: usize = 2048;

fn test_image(rows: usize, cols: usize) -> Vec<f32> {
    (0..rows * cols)
        .map(|i| {
            let (y, x) = ((i / cols) as f32, (i % cols) as f32);
            let body = if ((y - rows as f32 / 2.0).powi(2) + (x - cols as f32 / 2.0).powi(2)).sqrt()
                < rows.min(cols) as f32 * 0.4
            {
                0.5
            } else {
                0.0
            };
            (body
                + 0.15 * ((y * 0.37).sin() * (x * 0.23).cos())
                + 0.05 * ((i * 7919 % 101) as f32 / 101.0))
                .clamp(0.0, 1.0)
        })
        .collect()
}

#[test]
fn shipped_models_load_and_match_their_description() {
    let d = builtin_description().unwrap();
    for kind in ModelKind::ALL {
        let m = builtin(kind).unwrap();
        let md = d.model(kind).unwrap();
        assert_eq!(specs(&m), md.layers);
        assert_eq!(m.radius(), md.radius);
        assert_eq!(m.kind, kind);
    }
    assert_eq!(builtin(ModelKind::Linear).unwrap().relu_rounds(), 0);
    assert!(builtin(ModelKind::Nonlinear).unwrap().relu_rounds() >= 2);
}

#[test]
fn shipped_models_meet_the_real_pair_targets_on_the_held_out_patient() {
    let d = builtin_description().unwrap();
    // Issue 14: on the held-out patient of ldct-mayo, per kernel, the nonlinear model gains
    // ≥ 3 dB and the linear ≥ 1 dB of mean PSNR, SSIM rises and no pair gets worse; as
    // measured by the trainer and recorded in the description (`privact evaluate-denoise
    // ../shared/data/ldct-mayo --patients L143` re-measures them from the shipped weights).
    for (kind, target) in [(ModelKind::Linear, 1.0), (ModelKind::Nonlinear, 3.0)] {
        let real = d
            .model(kind)
            .unwrap()
            .real_pairs
            .clone()
            .expect("real-pair scores in the description");
        let summary = real["summary"].as_array().unwrap();
        let kernels: Vec<_> = summary
            .iter()
            .filter(|s| s["group"].as_str().unwrap_or("").starts_with("kernel"))
            .collect();
        assert_eq!(kernels.len(), 2, "B30f and D45f: {summary:?}");
        for s in kernels {
            let f = |k: &str| s[k].as_f64().unwrap();
            assert!(f("psnr_gain") >= target, "{}: {s}", kind.name());
            assert!(f("worst_psnr_gain") > 0.0, "{}: {s}", kind.name());
            assert!(f("ssim_out") > f("ssim_in"), "{}: {s}", kind.name());
        }
        // Simulated dose-1.0 inputs (kidney validation slices) lose at most 0.1 dB.
        let m = d
            .model(kind)
            .unwrap()
            .validation
            .iter()
            .find(|m| (m.dose - 1.0).abs() < 1e-9)
            .cloned()
            .expect("dose-1.0 validation metrics in the description");
        assert!(m.psnr_out >= m.psnr_in - 0.1, "{}: {m:?}", kind.name());
    }
}

#[test]
fn weights_round_trip_and_bad_files_are_refused() {
    let lin = builtin(ModelKind::Linear).unwrap();
    let nl = builtin(ModelKind::Nonlinear).unwrap();
    let bytes = to_safetensors(&[&lin, &nl]).unwrap();
    let back = from_safetensors(&bytes, ModelKind::Nonlinear, &specs(&nl)).unwrap();
    assert_eq!(back, nl);
    // Wrong shape, truncated file, missing tensors: errors, never panics.
    let mut wrong = specs(&nl);
    wrong[0].cout += 1;
    assert!(from_safetensors(&bytes, ModelKind::Nonlinear, &wrong).is_err());
    for cut in [0, 7, 8, 100, bytes.len() - 1] {
        assert!(from_safetensors(&bytes[..cut], ModelKind::Nonlinear, &specs(&nl)).is_err());
    }
    let only_linear = to_safetensors(&[&lin]).unwrap();
    assert!(from_safetensors(&only_linear, ModelKind::Nonlinear, &specs(&nl)).is_err());
}

#[test]
fn invalid_models_are_refused() {
    let c = |cin, cout, k| Conv {
        cin,
        cout,
        k,
        weight: vec![0.1; cin * cout * k * k],
        bias: vec![0.0; cout],
    };
    assert!(Denoiser::new(ModelKind::Nonlinear, vec![c(1, 4, 3), c(3, 1, 3)]).is_err());
    assert!(Denoiser::new(ModelKind::Nonlinear, vec![c(1, 4, 3)]).is_err());
    assert!(Denoiser::new(ModelKind::Linear, vec![c(1, 1, 4)]).is_err());
    assert!(Denoiser::new(ModelKind::Linear, vec![c(1, 1, 3), c(1, 1, 3)]).is_err());
    let mut nan = c(1, 1, 3);
    nan.weight[4] = f64::NAN;
    assert!(Denoiser::new(ModelKind::Linear, vec![nan]).is_err());
}

#[test]
fn tiled_and_whole_image_results_are_identical() {
    for kind in ModelKind::ALL {
        let m = builtin(kind).unwrap();
        for (rows, cols) in [(256, 256), (512, 512), (37, 301), (1, 1)] {
            let img = test_image(rows, cols);
            let whole = m.denoise(&img, rows, cols).unwrap();
            let plan = TilePlan::new(rows, cols, m.radius(), SLOTS).unwrap();
            let tiled = plan.denoise_tiled(&m, &img).unwrap();
            assert_eq!(whole, tiled, "{} {rows}×{cols}", kind.name());
        }
    }
}

#[test]
fn tile_plan_covers_the_image_and_is_size_independent() {
    let p = TilePlan::new(256, 256, 4, SLOTS).unwrap();
    assert_eq!(p.slots(), SLOTS);
    let q = TilePlan::new(512, 512, 4, SLOTS).unwrap();
    assert_eq!((p.tile_h, p.tile_w), (q.tile_h, q.tile_w));
    // Every pixel is covered by exactly one inner region.
    let mut hits = vec![0; 512 * 512];
    for &(r0, c0) in &q.tiles {
        for y in r0..(r0 + q.inner_h()).min(512) {
            for x in c0..(c0 + q.inner_w()).min(512) {
                hits[y * 512 + x] += 1;
            }
        }
    }
    assert!(hits.iter().all(|&h| h == 1));
    assert!(TilePlan::new(256, 256, 40, SLOTS).is_err());
    assert!(TilePlan::new(0, 256, 4, SLOTS).is_err());
}

fn sim_tiles(plan: &TilePlan, img: &[f32], level: usize) -> Vec<SimCt> {
    plan.layout(img)
        .unwrap()
        .into_iter()
        .map(|values| SimCt::real(&values, level))
        .collect()
}

#[test]
fn packed_linear_model_on_the_simulator_equals_plaintext() {
    let m = builtin(ModelKind::Linear).unwrap();
    let (rows, cols) = (100, 130);
    let img = test_image(rows, cols);
    let plan = TilePlan::new(rows, cols, m.radius(), SLOTS).unwrap();
    let sim = SimBackend { slots: SLOTS };
    let he = LinearHe::new(&m, plan.tile_w, 1).unwrap();
    let out = he.evaluate(&sim, &sim_tiles(&plan, &img, 1)).unwrap();
    assert!(out.iter().all(|c| c.level == 0), "one level consumed");
    let got = plan
        .assemble(&out.into_iter().map(|c| c.real_parts()).collect::<Vec<_>>())
        .unwrap();
    let want = m.denoise(&img, rows, cols).unwrap();
    assert!(max_diff(&got, &want) < 1e-12);
    // Two tiles per slot vector (real and imaginary parts), as the client sends them: the
    // same image, from half as many vectors.
    let tiles = plan.layout(&img).unwrap();
    let packed: Vec<SimCt> = pack_pairs(&tiles)
        .into_iter()
        .map(|values| SimCt { values, level: 1 })
        .collect();
    assert_eq!(packed.len(), tiles.len().div_ceil(2));
    let out = he.evaluate(&sim, &packed).unwrap();
    let back: Vec<Vec<_>> = out.into_iter().map(|c| c.values).collect();
    let got = plan
        .assemble(&unpack_pairs(&back, tiles.len()).unwrap())
        .unwrap();
    assert!(max_diff(&got, &want) < 1e-12);
    // The rotation list is BSGS-sized: 2r baby + 2r giant steps.
    assert_eq!(model_rotations(&m, plan.tile_w).len(), 4 * m.radius());
}

/// Runs the interactive protocol on the simulator as the real client does: two tiles per
/// slot vector (real and imaginary parts), ReLU on both parts. Returns the output and every
/// vector the client saw (both tiles of every ciphertext, as separate vectors).
fn run_interactive(
    m: &Denoiser,
    plan: &TilePlan,
    img: &[f32],
    policy: MaskPolicy,
) -> (Vec<f64>, Vec<Vec<Vec<f64>>>) {
    let sim = SimBackend { slots: SLOTS };
    let mut rng = rand::rng();
    let tiles = plan.layout(img).unwrap();
    let packed: Vec<SimCt> = pack_pairs(&tiles)
        .into_iter()
        .map(|values| SimCt {
            values,
            level: INTERACTIVE_LEVELS,
        })
        .collect();
    let (mut state, mut step) =
        Interactive::start(&sim, m, plan.tile_w, packed, policy, &mut rng).unwrap();
    let mut seen = Vec::new();
    loop {
        match step {
            Step::Masked { round, cts } => {
                assert_eq!(round, seen.len() + 1);
                assert!(cts.iter().all(|c| c.level == 0));
                let parts: Vec<Vec<Complex64>> = cts.iter().map(|c| c.values.clone()).collect();
                seen.push(unpack_pairs(&parts, 2 * parts.len()).unwrap());
                let fresh = cts
                    .into_iter()
                    .map(|c| SimCt {
                        values: c
                            .values
                            .iter()
                            .map(|z| Complex64::new(z.re.max(0.0), z.im.max(0.0)))
                            .collect(),
                        level: INTERACTIVE_LEVELS,
                    })
                    .collect();
                step = state
                    .resume(&sim, m, plan.tile_w, fresh, policy, &mut rng)
                    .unwrap();
            }
            Step::Done(out) => {
                let back: Vec<Vec<Complex64>> = out.into_iter().map(|c| c.values).collect();
                let out = plan
                    .assemble(&unpack_pairs(&back, tiles.len()).unwrap())
                    .unwrap();
                return (out, seen);
            }
        }
    }
}

#[test]
fn masked_interactive_rounds_equal_unmasked_and_plaintext() {
    let m = builtin(ModelKind::Nonlinear).unwrap();
    let (rows, cols) = (60, 90);
    let img = test_image(rows, cols);
    let plan = TilePlan::new(rows, cols, m.radius(), SLOTS).unwrap();
    let want = m.denoise(&img, rows, cols).unwrap();
    let (plain_run, seen_plain) = run_interactive(&m, &plan, &img, MaskPolicy::NONE);
    let (masked_run, seen_masked) = run_interactive(&m, &plan, &img, MaskPolicy::DEFAULT);
    assert_eq!(seen_plain.len(), m.relu_rounds());
    assert_eq!(seen_masked.len(), m.relu_rounds());
    assert!(max_diff(&plain_run, &want) < 1e-12);
    assert!(
        max_diff(&masked_run, &want) < 1e-9,
        "{}",
        max_diff(&masked_run, &want)
    );
}

/// For every vector the client saw: among the true pre-activations with the same sign
/// pattern, the (min, max) of seen / true over slots where the true value is not ~0, for the
/// candidate closest to a pure positive scaling; plus how many slots that covered.
fn mask_ratios(seen: &[Vec<f64>], truth: &[Vec<f64>]) -> Vec<(f64, f64, usize)> {
    let sign = |v: &[f64]| v.iter().map(|&x| x > 0.0).collect::<Vec<_>>();
    let truth_signs: Vec<_> = truth.iter().map(|t| sign(t)).collect();
    seen.iter()
        .map(|s| {
            let ss = sign(s);
            truth_signs
                .iter()
                .zip(truth)
                .filter(|(ts, _)| **ts == ss)
                .map(|(_, t)| {
                    let ratios: Vec<f64> = s
                        .iter()
                        .zip(t)
                        .filter(|(_, t)| t.abs() > 1e-6)
                        .map(|(s, t)| s / t)
                        .collect();
                    (
                        ratios.iter().copied().fold(f64::INFINITY, f64::min),
                        ratios.iter().copied().fold(0.0, f64::max),
                        ratios.len(),
                    )
                })
                .min_by(|a, b| (a.1 / a.0).total_cmp(&(b.1 / b.0)))
                .expect("a positive mask keeps the sign pattern of some true pre-activation")
        })
        .collect()
}

#[test]
fn the_client_never_sees_an_unmasked_pre_activation() {
    let m = builtin(ModelKind::Nonlinear).unwrap();
    let (rows, cols) = (40, 70);
    let img = test_image(rows, cols);
    let plan = TilePlan::new(rows, cols, m.radius(), SLOTS).unwrap();
    let (_, truth) = run_interactive(&m, &plan, &img, MaskPolicy::NONE);
    let (_, seen) = run_interactive(&m, &plan, &img, MaskPolicy::DEFAULT);
    for (round, (s, t)) in seen.iter().zip(&truth).enumerate() {
        assert_eq!(s.len(), t.len());
        for sv in s {
            for tv in t {
                assert!(
                    max_diff(sv, tv) > 1e-3,
                    "round {}: the client saw a true pre-activation",
                    round + 1
                );
            }
        }
        for (lo, hi, n) in mask_ratios(s, t) {
            // Positive, bounded, and really varying scales (not the identity).
            assert!(
                lo > 0.25 - 1e-6 && hi < 4.0 + 1e-6,
                "ratio range {lo}..{hi}"
            );
            if n >= 50 {
                assert!(
                    hi / lo > 2.0,
                    "scales barely vary: {lo}..{hi} over {n} slots"
                );
            }
        }
    }
    // Control: without masking the same check finds the true values.
    let (_, again) = run_interactive(&m, &plan, &img, MaskPolicy::NONE);
    assert_eq!(again, truth);
}
