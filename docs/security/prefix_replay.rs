// EVIDENCE FILE — not compiled by this crate (Cargo only builds tests/, benches/, examples/).
//
// Pre-fix replay of the security review (issue 21). It targets commit
// 0400e2d4ee8b99ba03a032f24c64d8e511760b79 (85eb0a9^, the parent of the fix commit 85eb0a9) and uses that commit's API.
// Each test asserts that an ATTACK SUCCEEDS on the old code and prints the measured numbers;
// the same attacks against the fixed code (asserting they fail) are tests/security_review.rs.
//
// To run it:
//   git worktree add ../prefix 85eb0a9^
//   cp docs/security/prefix_replay.rs ../prefix/tests/security_review_prefix.rs
//   cd ../prefix && cargo test --test security_review_prefix -- --nocapture --test-threads=1
//   (afterwards: git worktree remove ../prefix)
//
// Kept as evidence for the issue's acceptance ("each test reproduced the finding before the
// fix"); it does not build against the current API and is not meant to.

//! Issue 21 (security review), replayed against the code BEFORE the fix (85eb0a9^).
//!
//! Every test here asserts that the reviewer's ATTACK SUCCEEDS on the old code and prints
//! what it measured (`--nocapture`). The same attacks on the fixed API, asserting that they
//! fail, are `tests/security_review.rs` on main.
//!
//! 1. A curious client extracts the nonlinear denoiser's first-layer filters (old default
//!    masking: one positive mask per channel shared by all tiles).
//! 2. A malicious server reads pixel values from the client's accept/abort reactions.
//! 3. Server error texts carry model numbers (the bias at full precision).
//! 4. The logit ciphertext shows the output biases (copies 1..7 lack the bias).
//! 6. Two releases of the same result differ (fresh flooding each time: averaging works).
//! 7. A refused parameter set costs the server a full build; the client decodes any count.
//! 8. The wire header has no field naming the seed PRNG.
//!
//! (5, secret-key temporaries, is not a test: SECURITY.md cites the old code by file:line.)

#![allow(clippy::needless_range_loop)]

use privact::ckks::{Encoder, Evaluator, Parameters, ParametersLiteral, wire};
use privact::model::backend::{SimBackend, SimCt};
use privact::model::classifier::he::{ApproxParams, PreparedClassifier};
use privact::model::classifier::packing;
use privact::model::denoiser::data::OutputFormat;
use privact::model::denoiser::he::{Interactive, MaskPolicy, Step};
use privact::model::denoiser::weights::builtin;
use privact::model::denoiser::{Denoiser, ModelKind, TilePlan};
use privact::protocol::admission::admit_parameters;
use privact::protocol::client::ClassifierClient;
use privact::protocol::denoise_client::{DenoiseClient, Reply};
use privact::protocol::denoise_server::DenoiseServer;
use privact::protocol::messages::Task;
use privact::protocol::release::release_image;
use privact::protocol::server::Server;
use privact::protocol::{Message, ProtocolError};
use rand::SeedableRng;
use std::time::{Duration, Instant};

const SLOTS: usize = 2048;

/// A test slice: a disc of soft tissue with texture, in [0, 1] (same as security_review.rs).
fn slice(rows: usize, cols: usize, level: f32) -> Vec<f32> {
    (0..rows * cols)
        .map(|i| {
            let (y, x) = ((i / cols) as f32, (i % cols) as f32);
            let r = ((y - rows as f32 / 2.0).powi(2) + (x - cols as f32 / 2.0).powi(2)).sqrt();
            let body = if r < rows.min(cols) as f32 * 0.45 {
                level
            } else {
                0.0
            };
            (body
                + 0.2 * ((y * 0.31).sin() * (x * 0.17).cos())
                + 0.1 * ((i * 7919 % 101) as f32 / 101.0))
                .clamp(0.0, 1.0)
        })
        .collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

// ---------- finding 1: model extraction by a curious client ----------

/// Round-1 vectors the client decrypts, as sent by the old `Interactive::start` under
/// `policy` (with the given RNG).
fn round_one_with(
    model: &Denoiser,
    plan: &TilePlan,
    img: &[f32],
    policy: MaskPolicy,
    rng: &mut impl rand::Rng,
) -> Vec<Vec<f64>> {
    let sim = SimBackend { slots: SLOTS };
    let tiles = plan
        .layout(img)
        .unwrap()
        .into_iter()
        .map(|v| SimCt::real(&v, 1))
        .collect();
    let (_, step) = Interactive::start(&sim, model, plan.tile_w, tiles, policy, rng).unwrap();
    match step {
        Step::Masked { cts, .. } => cts.iter().map(SimCt::real_parts).collect(),
        Step::Done(_) => panic!("the nonlinear model has ReLU rounds"),
    }
}

/// Round-1 vectors in (tile, channel) order: masking as `policy` says but never shuffled,
/// so the attacker is told which tile and channel each one is (as in security_review.rs).
fn round_one(model: &Denoiser, plan: &TilePlan, img: &[f32], policy: MaskPolicy) -> Vec<Vec<f64>> {
    let policy = MaskPolicy {
        shuffle: false,
        ..policy
    };
    round_one_with(model, plan, img, policy, &mut rand::rng())
}

/// The client's own features at slot s of a tile: the k×k input patch and a 1 for the bias.
fn patches(tile: &[f64], tile_w: usize, k: usize) -> Vec<(usize, Vec<f64>)> {
    let r = (k / 2) as i64;
    let h = tile.len() / tile_w;
    let mut out = Vec::new();
    for row in r as usize..h - r as usize {
        for col in r as usize..tile_w - r as usize {
            let s = row * tile_w + col;
            let mut f = Vec::with_capacity(k * k + 1);
            for dy in -r..=r {
                for dx in -r..=r {
                    f.push(tile[(s as i64 + dy * tile_w as i64 + dx) as usize]);
                }
            }
            f.push(1.0);
            out.push((s, f));
        }
    }
    out
}

/// Smallest eigenvalue and its eigenvector of a symmetric matrix (cyclic Jacobi).
fn smallest_eigenpair(mut a: Vec<Vec<f64>>) -> (f64, Vec<f64>) {
    let n = a.len();
    let mut v: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| f64::from(u8::from(i == j))).collect())
        .collect();
    for _ in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i][j] * a[i][j])
            .sum();
        if off < 1e-30 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if a[p][q].abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let (c, s) = (1.0 / (t * t + 1.0).sqrt(), t / (t * t + 1.0).sqrt());
                for row in a.iter_mut() {
                    let (x, y) = (row[p], row[q]);
                    row[p] = c * x - s * y;
                    row[q] = s * x + c * y;
                }
                for j in 0..n {
                    let (x, y) = (a[p][j], a[q][j]);
                    a[p][j] = c * x - s * y;
                    a[q][j] = s * x + c * y;
                }
                for row in v.iter_mut() {
                    let (x, y) = (row[p], row[q]);
                    row[p] = c * x - s * y;
                    row[q] = s * x + c * y;
                }
            }
        }
    }
    let min = (0..n).min_by(|&i, &j| a[i][i].total_cmp(&a[j][j])).unwrap();
    (a[min][min], (0..n).map(|i| v[i][min]).collect())
}

fn abs_cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let n = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    (dot / (n(a) * n(b))).abs()
}

/// The true first-layer filter and bias of channel c, in `patches` order.
fn true_filter(model: &Denoiser, c: usize) -> Vec<f64> {
    let conv = &model.layers[0];
    let r = conv.radius() as i64;
    let mut f: Vec<f64> = (-r..=r)
        .flat_map(|dy| (-r..=r).map(move |dx| (dy, dx)))
        .map(|(dy, dx)| conv.w(c, 0, dy, dx))
        .collect();
    f.push(conv.bias[c]);
    f
}

/// The reviewer's method (identical to security_review.rs): for one channel, masked values
/// of two tiles at the same slot satisfy v_t·(θ·f_u) = v_u·(θ·f_t) when both tiles share the
/// mask, so θ (filter and bias) is the null vector of those equations.
fn reviewers_attack(model: &Denoiser, plan: &TilePlan, img: &[f32], seen: &[Vec<f64>]) -> Vec<f64> {
    let conv = &model.layers[0];
    let tiles = plan.layout(img).unwrap();
    let feats: Vec<Vec<(usize, Vec<f64>)>> = tiles
        .iter()
        .map(|t| patches(t, plan.tile_w, conv.k))
        .collect();
    let d = conv.k * conv.k + 1;
    (0..conv.cout)
        .map(|c| {
            let mut ata = vec![vec![0.0; d]; d];
            for t in 0..tiles.len() {
                let u = (t + 1) % tiles.len();
                let (vt, vu) = (&seen[t * conv.cout + c], &seen[u * conv.cout + c]);
                for ((s, ft), (_, fu)) in feats[t].iter().zip(&feats[u]) {
                    let row: Vec<f64> = (0..d).map(|i| vt[*s] * fu[i] - vu[*s] * ft[i]).collect();
                    for i in 0..d {
                        for j in 0..d {
                            ata[i][j] += row[i] * row[j];
                        }
                    }
                }
            }
            abs_cosine(&smallest_eigenpair(ata).1, &true_filter(model, c))
        })
        .collect()
}

#[test]
fn f1_curious_client_recovers_every_first_layer_filter_with_the_reviewers_method() {
    let model = builtin(ModelKind::Nonlinear).unwrap();
    let (rows, cols) = (96, 120);
    let img = slice(rows, cols, 0.5);
    let plan = TilePlan::new(rows, cols, model.radius(), SLOTS).unwrap();
    assert!(plan.tiles.len() >= 10, "{} tiles", plan.tiles.len());
    let control = reviewers_attack(
        &model,
        &plan,
        &img,
        &round_one(&model, &plan, &img, MaskPolicy::NONE),
    );
    assert!(control.iter().all(|&c| c > 0.999), "control {control:?}");
    // The old default masking (scale: true, max_scale 4; one mask per channel for all tiles).
    println!("F1 old MaskPolicy::DEFAULT = {:?}", MaskPolicy::DEFAULT);
    assert!(MaskPolicy::DEFAULT.scale);
    let seen = round_one(&model, &plan, &img, MaskPolicy::DEFAULT);
    let got = reviewers_attack(&model, &plan, &img, &seen);
    println!(
        "F1 pre-fix, {} tiles × {} channels, reviewer's method on DEFAULT masks: |cos| per channel {got:.6?}, mean {:.6}, min {:.6}",
        plan.tiles.len(),
        model.layers[0].cout,
        mean(&got),
        got.iter().cloned().fold(f64::INFINITY, f64::min)
    );
    assert!(mean(&got) > 0.99, "mean |cos| {:.3}: {got:?}", mean(&got));
    assert!(got.iter().all(|&c| c > 0.99), "{got:?}");
}

/// Average-linkage agglomerative clustering of `n` items into `k` clusters by similarity.
fn cluster(sim: &[Vec<f64>], k: usize) -> Vec<Vec<usize>> {
    let mut clusters: Vec<Vec<usize>> = (0..sim.len()).map(|i| vec![i]).collect();
    let link = |a: &[usize], b: &[usize]| {
        let mut s = 0.0;
        for &i in a {
            for &j in b {
                s += sim[i][j];
            }
        }
        s / (a.len() * b.len()) as f64
    };
    while clusters.len() > k {
        let mut best = (f64::NEG_INFINITY, 0, 0);
        for a in 0..clusters.len() {
            for b in a + 1..clusters.len() {
                let l = link(&clusters[a], &clusters[b]);
                if l > best.0 {
                    best = (l, a, b);
                }
            }
        }
        let merged = clusters.swap_remove(best.2);
        clusters[best.1].extend(merged);
    }
    clusters
}

#[test]
fn f1_curious_client_regroups_the_shuffled_round_and_recovers_the_filters() {
    // The real old default, shuffle included: the client is told nothing about which
    // (tile, channel) a vector is. The shared per-channel mask is a fingerprint: log|v|
    // of two vectors of one channel share the additive term log r_c[s].
    let model = builtin(ModelKind::Nonlinear).unwrap();
    let conv = &model.layers[0];
    let (rows, cols) = (96, 120);
    let img = slice(rows, cols, 0.5);
    let plan = TilePlan::new(rows, cols, model.radius(), SLOTS).unwrap();
    let ntiles = plan.tiles.len();
    let seed = 2026;
    let sent = round_one_with(
        &model,
        &plan,
        &img,
        MaskPolicy::DEFAULT,
        &mut rand::rngs::StdRng::seed_from_u64(seed),
    );
    assert_eq!(sent.len(), ntiles * conv.cout);
    // Ground truth, only to score the attack: the same RNG without the shuffle draws the same
    // masks (masks come before the permutation), so each sent vector appears there exactly.
    let labelled = round_one_with(
        &model,
        &plan,
        &img,
        MaskPolicy {
            shuffle: false,
            ..MaskPolicy::DEFAULT
        },
        &mut rand::rngs::StdRng::seed_from_u64(seed),
    );
    let truth: Vec<usize> = sent
        .iter()
        .map(|v| {
            (0..labelled.len())
                .min_by(|&a, &b| {
                    let d = |i: usize| {
                        v.iter()
                            .zip(&labelled[i])
                            .map(|(x, y)| (x - y).abs())
                            .fold(0.0, f64::max)
                    };
                    d(a).total_cmp(&d(b))
                })
                .unwrap()
        })
        .collect();
    let moved = truth.iter().enumerate().filter(|(j, i)| j != *i).count();
    println!(
        "F1-shuffled: {} vectors, {moved} of them moved by the server's shuffle",
        sent.len()
    );
    assert!(moved > sent.len() / 2, "the shuffle was applied");

    // Step 1 (attacker): group by channel with the correlation of log-magnitudes, high-passed
    // along each row (the mask is white noise per slot; the image part is spatially smooth).
    let n = sent.len();
    let tile_w = plan.tile_w;
    let correlations = |high_pass: bool| -> Vec<Vec<f64>> {
        let logs: Vec<Vec<f64>> = sent
            .iter()
            .map(|v| {
                let l: Vec<f64> = v.iter().map(|x| x.abs().max(1e-12).ln()).collect();
                let h: Vec<f64> = if high_pass {
                    (0..l.len())
                        .filter(|s| s % tile_w != 0 && s % tile_w != tile_w - 1)
                        .map(|s| l[s] - 0.5 * (l[s - 1] + l[s + 1]))
                        .collect()
                } else {
                    l
                };
                let m = mean(&h);
                let sd =
                    (h.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / h.len() as f64).sqrt();
                h.iter().map(|x| (x - m) / sd).collect()
            })
            .collect();
        (0..n)
            .map(|a| {
                (0..n)
                    .map(|b| {
                        logs[a].iter().zip(&logs[b]).map(|(x, y)| x * y).sum::<f64>()
                            / logs[a].len() as f64
                    })
                    .collect()
            })
            .collect()
    };
    let purity = |groups: &[Vec<usize>]| {
        groups
            .iter()
            .filter(|g| {
                g.len() == ntiles
                    && g.iter().all(|&j| truth[j] % conv.cout == truth[g[0]] % conv.cout)
            })
            .count()
    };
    let separation = |corr: &[Vec<f64>]| {
        let (mut same, mut diff) = (Vec::new(), Vec::new());
        for a in 0..n {
            for b in a + 1..n {
                if truth[a] % conv.cout == truth[b] % conv.cout {
                    same.push(corr[a][b]);
                } else {
                    diff.push(corr[a][b]);
                }
            }
        }
        format!(
            "same channel mean {:.3} (min {:.3}), different channels mean {:.3} (max {:.3})",
            mean(&same),
            same.iter().cloned().fold(f64::INFINITY, f64::min),
            mean(&diff),
            diff.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
        )
    };
    let raw = correlations(false);
    println!(
        "F1-shuffled: raw log|v| correlation: {}; {} of {} clusters are exactly one channel's {ntiles} tiles",
        separation(&raw),
        purity(&cluster(&raw, conv.cout)),
        conv.cout
    );
    let corr = correlations(true);
    let groups = cluster(&corr, conv.cout);
    let pure = purity(&groups);
    println!(
        "F1-shuffled: high-passed log|v| correlation: {}; {pure} of {} clusters are exactly one channel's {ntiles} tiles",
        separation(&corr),
        conv.cout
    );

    // Step 2 (attacker): in each group, the tiles of two members are the pair (t, u) whose
    // reviewer system has a null vector; that null vector is the filter.
    let tiles = plan.layout(&img).unwrap();
    let feats: Vec<Vec<(usize, Vec<f64>)>> = tiles
        .iter()
        .map(|t| patches(t, plan.tile_w, conv.k))
        .collect();
    let d = conv.k * conv.k + 1;
    let mut cosines = Vec::new();
    let mut tiles_right = 0;
    for g in &groups {
        let (a, b) = (g[0], g[1]);
        let mut best = (f64::INFINITY, 0, 0, Vec::new());
        for t in 0..ntiles {
            for u in 0..ntiles {
                if t == u {
                    continue;
                }
                let mut ata = vec![vec![0.0; d]; d];
                for ((s, ft), (_, fu)) in feats[t].iter().zip(&feats[u]) {
                    let row: Vec<f64> = (0..d)
                        .map(|i| sent[a][*s] * fu[i] - sent[b][*s] * ft[i])
                        .collect();
                    for i in 0..d {
                        for j in 0..d {
                            ata[i][j] += row[i] * row[j];
                        }
                    }
                }
                let trace: f64 = (0..d).map(|i| ata[i][i]).sum();
                let (lambda, v) = smallest_eigenpair(ata);
                let score = lambda / trace;
                if score < best.0 {
                    best = (score, t, u, v);
                }
            }
        }
        let channel = truth[a] % conv.cout;
        if best.1 == truth[a] / conv.cout && best.2 == truth[b] / conv.cout {
            tiles_right += 1;
        }
        cosines.push(abs_cosine(&best.3, &true_filter(&model, channel)));
    }
    println!(
        "F1-shuffled pre-fix: tiles identified in {tiles_right} of {} groups; |cos| per recovered filter vs its true channel {cosines:.6?}, mean {:.6}",
        groups.len(),
        mean(&cosines)
    );
    // Each cluster's two members used are one channel, and the clusters cover all channels.
    let mut channels: Vec<usize> = groups.iter().map(|g| truth[g[0]] % conv.cout).collect();
    assert!(groups.iter().all(|g| truth[g[1]] % conv.cout == truth[g[0]] % conv.cout));
    channels.sort_unstable();
    channels.dedup();
    assert_eq!(channels.len(), conv.cout, "every channel found");
    assert_eq!(tiles_right, conv.cout, "tiles identified");
    assert!(cosines.iter().all(|&c| c > 0.99), "{cosines:?}");
}

// ---------- finding 2: decryption-reaction oracle against the client ----------

/// Plays a malicious server against a real old `DenoiseClient` (as in security_review.rs):
/// returns the client's own tile ciphertexts, amplified by `k` and labelled with `scale`.
/// True if the client answered, false if it aborted.
fn client_reacts(img: &[f32], rows: usize, cols: usize, k: i64, scale: f64) -> bool {
    let model = builtin(ModelKind::Nonlinear).unwrap();
    let specs = privact::model::denoiser::weights::specs(&model);
    let mut client = DenoiseClient::new(ModelKind::Nonlinear, &specs).unwrap();
    let params = client.params().clone();
    let request = client.encrypt_image(img, rows, cols).unwrap();
    let Message::DenoiseRequest { tiles } = Message::decode(&request).unwrap() else {
        panic!("a request")
    };
    let eval = Evaluator::without_keys(&params);
    let probe: Vec<Vec<u8>> = tiles
        .iter()
        .map(|b| {
            let mut ct = wire::decode_ciphertext(&params, b).unwrap();
            ct.drop_to_level(0);
            let mut ct = eval.mul_int(&ct, k);
            ct.scale = scale;
            wire::encode_ciphertext(&params, &ct)
        })
        .collect();
    let channels = model.layers[0].cout;
    let cts: Vec<Vec<u8>> = probe
        .iter()
        .flat_map(|c| std::iter::repeat_n(c.clone(), channels))
        .collect();
    let reply = Message::DenoiseMasked {
        round: 1,
        cts,
        server_seconds: 0.0,
    }
    .encode();
    matches!(client.handle_reply(&reply), Ok(Reply::Continue(_)))
}

#[test]
fn f2_malicious_server_tells_a_dark_from_a_bright_slice_by_the_clients_reactions() {
    let (rows, cols) = (32, 48);
    let dark = slice(rows, cols, 0.1);
    let bright = slice(rows, cols, 0.8);
    let delta = Parameters::preset("depth1-n12").unwrap().default_scale();
    let scales = [delta, delta / 2f64.powi(20), 1.0, delta * 2f64.powi(30)];
    let table = |log_ks: &[i32]| {
        let mut differing = Vec::new();
        let mut answered = 0;
        for &log_k in log_ks {
            for scale in scales {
                let (a, b) = (
                    client_reacts(&dark, rows, cols, 1 << log_k, scale),
                    client_reacts(&bright, rows, cols, 1 << log_k, scale),
                );
                answered += usize::from(a);
                if a != b {
                    differing.push(format!(
                        "k=2^{log_k} scale=2^{:.0}: dark {} / bright {}",
                        scale.log2(),
                        if a { "answered" } else { "aborted" },
                        if b { "answered" } else { "aborted" }
                    ));
                }
            }
        }
        (answered, differing)
    };
    // The fixed test's probe grid, as is.
    let (answered, differing) = table(&[0, 8, 16, 24, 30, 34, 36, 38]);
    println!(
        "F2 pre-fix, fixed test's 32-probe grid: dark slice answered {answered} of 32 (fixed code: 8); {} probes react differently: {differing:?}",
        differing.len()
    );
    // A finer grid of amplifications around the encoding limit.
    let fine: Vec<i32> = (0..=12).collect();
    let (answered_fine, differing_fine) = table(&fine);
    println!(
        "F2 pre-fix, k = 2^0..2^12 × 4 scales (52 probes): dark answered {answered_fine}; {} probes react differently: {differing_fine:?}",
        differing_fine.len()
    );
    assert!(
        answered != 8 || !differing.is_empty(),
        "the old client behaves as the fixed one on the fixed grid"
    );
    assert!(
        !differing_fine.is_empty(),
        "the reaction depends on the pixels"
    );
}

#[test]
fn f2_malicious_server_pins_one_pixel_by_binary_search_on_the_forged_scale() {
    let (rows, cols) = (32, 48);
    let img = slice(rows, cols, 0.5);
    let model = builtin(ModelKind::Nonlinear).unwrap();
    let specs = privact::model::denoiser::weights::specs(&model);
    // The target: tile 0, the slot of image pixel (py, px).
    let probe_client = DenoiseClient::new(ModelKind::Nonlinear, &specs).unwrap();
    let (tile_h, tile_w) = probe_client.tile_shape();
    let radius = probe_client.radius();
    let params = probe_client.params().clone();
    drop(probe_client);
    let plan = TilePlan::with_shape(rows, cols, radius, tile_h, tile_w).unwrap();
    let (py, px) = (9, 17);
    let slot = (py + radius) * tile_w + (px + radius);
    let truth = plan.extract(&img, 0)[slot];
    assert!((truth - f64::from(img[py * cols + px])).abs() < 1e-12);

    // What the server knows: the public parameters and encoder. It finds, on its own
    // encoder, the largest value V* at `slot` that the client can still re-encode.
    let encoder = Encoder::new(&params);
    let (level, delta) = (params.max_level(), params.default_scale());
    let onehot = |v: f64| {
        let mut x = vec![0.0; params.slots()];
        x[slot] = v;
        x
    };
    let (mut lo, mut hi) = (0.0f64, 100.0f64); // log2 V
    for _ in 0..80 {
        let mid = (lo + hi) / 2.0;
        if encoder.encode(&onehot(mid.exp2()), level, delta).is_ok() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let v_star = lo.exp2();
    let selector = encoder.encode(&onehot(1.0), level, delta).unwrap();
    let eval = Evaluator::without_keys(&params);

    // One probe = one session of the client on its secret image: the server multiplies the
    // client's tile 0 by the one-hot selector and labels it with the scale s that puts the
    // decrypted slot exactly at V* when the pixel equals `t`. Answer ⇔ pixel < t.
    let mut probes = 0;
    let mut probe = |t: f64| -> bool {
        probes += 1;
        let mut client = DenoiseClient::new(ModelKind::Nonlinear, &specs).unwrap();
        let request = client.encrypt_image(&img, rows, cols).unwrap();
        let Message::DenoiseRequest { tiles } = Message::decode(&request).unwrap() else {
            panic!("a request")
        };
        let ct = wire::decode_ciphertext(&params, &tiles[0]).unwrap();
        let mut ct = eval.mul_plain(&ct, &selector).unwrap();
        ct.scale *= t / v_star;
        assert!(ct.scale >= 1.0, "the old wire accepts any scale ≥ 1");
        let bytes = wire::encode_ciphertext(&params, &ct);
        let count = tiles.len() * model.layers[0].cout;
        let reply = Message::DenoiseMasked {
            round: 1,
            cts: vec![bytes; count],
            server_seconds: 0.0,
        }
        .encode();
        matches!(client.handle_reply(&reply), Ok(Reply::Continue(_)))
    };
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..10 {
        let t = (lo + hi) / 2.0;
        // Answered ⇔ the client could re-encode ⇔ pixel < t.
        if probe(t) {
            hi = t;
        } else {
            lo = t;
        }
    }
    let estimate = (lo + hi) / 2.0;
    println!(
        "F2 pre-fix binary search: V* = 2^{:.3}; after {probes} probes pixel ∈ [{lo:.5}, {hi:.5}], estimate {estimate:.5}, true {truth:.5}, error {:.5}",
        v_star.log2(),
        (estimate - truth).abs()
    );
    assert!(truth >= lo - 1e-3 && truth <= hi + 1e-3, "{truth} not in [{lo}, {hi}]");
    assert!((estimate - truth).abs() < 2e-3);
}

// ---------- finding 3: error texts ----------

/// The number inside "value × scale = {c:e} does not fit …".
fn leaked_number(message: &str) -> Option<f64> {
    let start = message.find("= ")? + 2;
    let rest = &message[start..];
    let end = rest.find(' ').unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[test]
fn f3_server_errors_carry_model_numbers() {
    let scale = 2f64.powi(100);
    // Classification.
    let mut client = ClassifierClient::new(packing::PRESET).unwrap();
    let params = client.params().clone();
    let mut server = Server::new(vec![ApproxParams::synthetic(5)]);
    let ack = server.handle(&client.setup_message());
    assert!(matches!(
        Message::decode(&ack).unwrap(),
        Message::SetupAck { .. }
    ));
    let request = client.encrypt_image(&vec![0.5; 256 * 256]).unwrap();
    let Message::ClassifyRequest { inputs } = Message::decode(&request).unwrap() else {
        panic!("a request")
    };
    let forged = inputs
        .iter()
        .map(|b| {
            let mut ct = wire::decode_ciphertext(&params, b).unwrap();
            ct.scale = scale;
            wire::encode_ciphertext(&params, &ct)
        })
        .collect();
    let reply = server.handle(&Message::ClassifyRequest { inputs: forged }.encode());
    let Message::Error { message } = Message::decode(&reply).unwrap() else {
        panic!("refused")
    };
    let c = leaked_number(&message);
    // The first coefficient of the encoded first-layer bias vector (conv1_b + folded
    // activation shift per block): the mean of conv1_b[c] + b_c/(2a_c) over the 8 channels.
    let p = ApproxParams::synthetic(5);
    let [a1, b1, _] = &p.act1;
    let expected = mean(
        &(0..p.conv1_b.len())
            .map(|c| p.conv1_b[c] + b1[c] / (2.0 * a1[c]))
            .collect::<Vec<_>>(),
    );
    println!(
        "F3 pre-fix classifier, inputs at scale 2^100: error text {message:?}; number/2^100 = {:?}; mean first-layer bias (conv1_b + b/2a) = {expected}",
        c.map(|c| c / scale)
    );
    assert!(message.chars().any(|c| c.is_ascii_digit()), "{message}");
    let c = c.expect("a number in the text");
    assert!(((c / scale - expected) / expected).abs() < 1e-9, "{message}");

    // Linear denoising: the bias, recovered exactly.
    let lin = builtin(ModelKind::Linear).unwrap();
    let nl = builtin(ModelKind::Nonlinear).unwrap();
    let bias = lin.layers[0].bias[0];
    let mut dclient = DenoiseClient::new(
        ModelKind::Linear,
        &privact::model::denoiser::weights::specs(&lin),
    )
    .unwrap();
    let dparams = dclient.params().clone();
    let mut dserver = DenoiseServer::new(lin, nl);
    dserver.handle(&dclient.setup_message());
    let req = dclient.encrypt_image(&slice(20, 30, 0.5), 20, 30).unwrap();
    let Message::DenoiseRequest { tiles } = Message::decode(&req).unwrap() else {
        panic!("a request")
    };
    let mut leaked = None;
    for s in [scale, 2f64.powi(31), 1.0] {
        let forged = tiles
            .iter()
            .map(|b| {
                let mut ct = wire::decode_ciphertext(&dparams, b).unwrap();
                ct.scale = s;
                wire::encode_ciphertext(&dparams, &ct)
            })
            .collect();
        let reply = dserver.handle(&Message::DenoiseRequest { tiles: forged }.encode());
        match Message::decode(&reply).unwrap() {
            Message::Error { message } => {
                let c = leaked_number(&message);
                println!(
                    "F3 pre-fix linear denoiser, scale 2^{:.0}: error text {message:?}; number/scale = {:?}",
                    s.log2(),
                    c.map(|c| c / s)
                );
                if s == scale {
                    assert!(message.chars().any(|c| c.is_ascii_digit()), "{message}");
                    leaked = c.map(|c| c / s);
                }
            }
            other => println!(
                "F3 pre-fix linear denoiser, scale 2^{:.0}: accepted ({})",
                s.log2(),
                other.kind_name()
            ),
        }
    }
    // The linear model runs x − (w ∗ x + b): the bias it adds is −b.
    let leaked = leaked.expect("the 2^100 probe leaks a number");
    println!(
        "F3 pre-fix: leaked {leaked:e}, model bias −b = {:e}, relative error {:.1e}",
        -bias,
        ((leaked + bias) / bias).abs()
    );
    assert!(((leaked + bias) / bias).abs() < 1e-12);
}

// ---------- finding 4: what the logit ciphertext holds ----------

fn logit_slots(p: &ApproxParams) -> Vec<f64> {
    let sim = SimBackend {
        slots: packing::SLOTS,
    };
    let model =
        PreparedClassifier::new(&sim, std::slice::from_ref(p), packing::LEVELS_NEEDED).unwrap();
    let img: Vec<f32> = (0..256 * 256)
        .map(|i| ((i * 37 % 251) as f32) / 251.0)
        .collect();
    let inputs: Vec<SimCt> = packing::input_layout(&img)
        .into_iter()
        .map(|v| SimCt {
            values: v,
            level: packing::LEVELS_NEEDED,
        })
        .collect();
    model.evaluate(&sim, &inputs).unwrap().real_parts()
}

#[test]
fn f4_logit_copies_show_the_output_biases() {
    let p = ApproxParams::synthetic(5);
    let out = logit_slots(&p);
    // copy 0 − copy j = the effective output bias b (copies j ≥ 1 lack it).
    let bias_seen = |out: &[f64]| -> Vec<Vec<f64>> {
        (0..packing::CLASSES)
            .map(|cls| {
                (1..packing::BLOCKS)
                    .map(|j| out[cls] - out[j * packing::BLOCK + cls])
                    .collect()
            })
            .collect()
    };
    let seen = bias_seen(&out);
    for (cls, d) in seen.iter().enumerate() {
        println!(
            "F4 pre-fix: logit {cls}: copy 0 = {:.9}, copies 1..7 = {:.9?}, copy0 − copy j = {:.9?}",
            out[cls],
            (1..packing::BLOCKS)
                .map(|j| out[j * packing::BLOCK + cls])
                .collect::<Vec<_>>(),
            d
        );
        let spread = d.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
            - d.iter().cloned().fold(f64::INFINITY, f64::min);
        assert!(spread < 1e-9, "copies 1..7 agree");
        assert!(d[0].abs() > 1e-6, "the copies differ by a nonzero bias");
    }
    // The difference IS the model's output bias: shift fc_b by δ and it moves by exactly δ.
    let delta = [0.3, -0.7, 1.1];
    let mut q = p.clone();
    for (b, d) in q.fc_b.iter_mut().zip(delta) {
        *b += d;
    }
    let seen_q = bias_seen(&logit_slots(&q));
    for cls in 0..packing::CLASSES {
        let moved = seen_q[cls][0] - seen[cls][0];
        println!(
            "F4 pre-fix: fc_b[{cls}] += {}: (copy0 − copy1) moved by {moved:.12}",
            delta[cls]
        );
        assert!((moved - delta[cls]).abs() < 1e-9);
    }
    let stray = out
        .iter()
        .enumerate()
        .filter(|(s, v)| s % packing::BLOCK >= packing::CLASSES && v.abs() > 1e-9)
        .count();
    println!("F4 pre-fix: {stray} non-logit slots are nonzero");
}

// ---------- finding 6: repeated releases ----------

#[test]
fn f6_two_releases_of_one_result_differ_and_averaging_strips_the_flooding() {
    let values: Vec<f64> = (0..20_000).map(|i| (i as f64 * 0.618_034) % 1.0).collect();
    let a = release_image(&values, OutputFormat::Png).unwrap();
    let b = release_image(&values, OutputFormat::Png).unwrap();
    let differ = a.iter().zip(&b).filter(|(x, y)| x != y).count();
    println!(
        "F6 pre-fix: two PNG releases of the same {} values differ in {differ} values",
        values.len()
    );
    assert!(differ > 0);
    // DICOM (1 HU grid): average many exports of the same result.
    let one = release_image(&values, OutputFormat::Dicom).unwrap();
    let err = |v: &[f64]| mean(&v.iter().zip(&values).map(|(x, y)| (x - y).abs()).collect::<Vec<_>>());
    let exports = 256;
    let mut avg = vec![0.0; values.len()];
    for _ in 0..exports {
        for (s, x) in avg.iter_mut().zip(release_image(&values, OutputFormat::Dicom).unwrap()) {
            *s += x / f64::from(exports);
        }
    }
    println!(
        "F6 pre-fix: DICOM release, mean |released − exact|: one export {:.3e}, average of {exports} exports {:.3e} ({:.1}× closer)",
        err(&one),
        err(&avg),
        err(&one) / err(&avg)
    );
    assert!(err(&avg) < err(&one) / 2.0);
}

// ---------- finding 7: work before admission, unbounded counts ----------

fn min_time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed());
        last = Some(r);
    }
    (best, last.unwrap())
}

#[test]
fn f7_refused_parameter_sets_cost_the_server_a_full_build() {
    let lit = ParametersLiteral::preset("depth18-n15").unwrap();
    let bytes = wire::encode_parameters(&Parameters::new(lit.clone()).unwrap());
    let (build, _) = min_time(3, || Parameters::new(lit.clone()).unwrap());
    let (junk, _) = min_time(3, || admit_parameters(&bytes[..bytes.len() - 1], &["depth1-n12"]));
    let (refuse_small, r) = min_time(3, || admit_parameters(&bytes, &["depth1-n12"]));
    assert!(matches!(r, Err(ProtocolError::NotAllowed)));
    let (refuse_cls, r) = min_time(3, || admit_parameters(&bytes, &["depth5-n14", "depth7-n14"]));
    assert!(matches!(r, Err(ProtocolError::NotAllowed)));
    // The whole setup message a client sends (no evaluation keys needed to be refused).
    let setup = Message::Setup {
        task: Task::ClassifyKidney,
        params: bytes.clone(),
        eval_keys: Vec::new(),
    }
    .encode();
    let mut server = Server::new(vec![ApproxParams::synthetic(5)]);
    let (handle, reply) = min_time(3, || server.handle(&setup));
    let Message::Error { message } = Message::decode(&reply).unwrap() else {
        panic!("refused")
    };
    println!(
        "F7 pre-fix: depth18-n15 ({} parameter bytes, {}-byte setup message): Parameters::new {:.0} ms; admission refusal vs [depth1-n12] {:.0} ms, vs [depth5-n14, depth7-n14] {:.0} ms; Server::handle(setup) {:.0} ms → {message:?}; truncated parameter bytes refused in {:.3} ms",
        bytes.len(),
        setup.len(),
        build.as_secs_f64() * 1e3,
        refuse_small.as_secs_f64() * 1e3,
        refuse_cls.as_secs_f64() * 1e3,
        handle.as_secs_f64() * 1e3,
        junk.as_secs_f64() * 1e3
    );
    // Refusing costs at least the build of the refused set (it is built, then compared).
    assert!(refuse_small >= build.mul_f64(0.7), "{refuse_small:?} vs {build:?}");
    assert!(handle >= build.mul_f64(0.7));
    assert!(refuse_small > junk * 20);
}

#[test]
fn f7_client_decodes_any_number_of_ciphertexts() {
    let (rows, cols) = (20, 30);
    let model = builtin(ModelKind::Nonlinear).unwrap();
    let specs = privact::model::denoiser::weights::specs(&model);
    let mut client = DenoiseClient::new(ModelKind::Nonlinear, &specs).unwrap();
    let request = client
        .encrypt_image(&slice(rows, cols, 0.5), rows, cols)
        .unwrap();
    let needed = client.tiles() * model.layers[0].cout;
    // 65,536 entries of junk: not refused by count; the client starts decoding them.
    let junk = Message::DenoiseMasked {
        round: 1,
        cts: vec![vec![0u8; 4]; 65_536],
        server_seconds: 0.0,
    }
    .encode();
    let t = Instant::now();
    let outcome = client.handle_reply(&junk);
    let junk_ms = t.elapsed().as_secs_f64() * 1e3;
    let err = outcome.as_ref().err().map(|e| format!("{e:?}"));
    println!(
        "F7 pre-fix: 65,536-entry junk reply ({} bytes; the round needs {needed}): {err:?} after {junk_ms:.1} ms",
        junk.len()
    );
    assert!(
        matches!(outcome, Err(ProtocolError::Wire(_))),
        "a decode error, not a count refusal"
    );
    // Valid ciphertexts, 32× more than the round needs: all decoded, decrypted, answered.
    let Message::DenoiseRequest { tiles } = Message::decode(&request).unwrap() else {
        panic!("a request")
    };
    let many = 32 * needed;
    let reply = Message::DenoiseMasked {
        round: 1,
        cts: vec![tiles[0].clone(); many],
        server_seconds: 0.0,
    }
    .encode();
    let t = Instant::now();
    let outcome = client.handle_reply(&reply).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let Reply::Continue(answer) = outcome else {
        panic!("answered")
    };
    let Message::DenoiseActivations { cts, .. } = Message::decode(&answer).unwrap() else {
        panic!("activations")
    };
    let params = client.params();
    let ct = wire::decode_ciphertext(params, &tiles[0]).unwrap();
    let in_memory = ct.parts.len() * (ct.level() + 1) * params.n() * 8;
    println!(
        "F7 pre-fix: {many} valid ciphertexts ({:.1} MB; round needs {needed}) decrypted and answered with {} in {secs:.2} s; one ciphertext is {} bytes on the wire, {in_memory} bytes decoded ({:.1}×)",
        reply.len() as f64 / 1e6,
        cts.len(),
        tiles[0].len(),
        in_memory as f64 / tiles[0].len() as f64
    );
    assert_eq!(cts.len(), many);
}

// ---------- finding 8: no PRNG identifier in the wire header ----------

#[test]
fn f8_wire_header_does_not_name_the_seed_prng() {
    let model = builtin(ModelKind::Nonlinear).unwrap();
    let specs = privact::model::denoiser::weights::specs(&model);
    let mut client = DenoiseClient::new(ModelKind::Nonlinear, &specs).unwrap();
    let params = client.params().clone();
    let request = client
        .encrypt_image(&slice(20, 30, 0.5), 20, 30)
        .unwrap();
    let Message::DenoiseRequest { tiles } = Message::decode(&request).unwrap() else {
        panic!("a request")
    };
    let ct = &tiles[0];
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" ");
    let flags = u16::from_le_bytes([ct[6], ct[7]]);
    println!(
        "F8 pre-fix: seeded ciphertext header (16 bytes) = [{}]: magic {:?}, version {}, kind {}, flags {flags:#06x}, fingerprint {}; byte 16 (level) = {}",
        hex(&ct[..16]),
        std::str::from_utf8(&ct[..4]).unwrap(),
        ct[4],
        ct[5],
        hex(&ct[8..16]),
        ct[16]
    );
    assert_eq!(&ct[..4], b"PVCT");
    assert_eq!(ct[4], 1, "wire version 1");
    assert_eq!(flags, 1, "only the 'seeded' bit: nothing names the PRNG");
    // A PRNG id in flags bits 8–15 (as v2 writes) is not a field v1 knows: refused outright.
    let mut named = ct.clone();
    named[7] = 1;
    let r = wire::decode_ciphertext(&params, &named);
    println!("F8 pre-fix: same ciphertext with flags 0x0101 → {r:?}", r = r.as_ref().err());
    assert!(r.is_err());
    // The setup message's key encodings carry the same bare flag.
    let setup = client.setup_message();
    let Message::Setup { eval_keys, .. } = Message::decode(&setup).unwrap() else {
        panic!("setup")
    };
    let kflags = u16::from_le_bytes([eval_keys[6], eval_keys[7]]);
    println!(
        "F8 pre-fix: evaluation-keys header = [{}], flags {kflags:#06x}",
        hex(&eval_keys[..16])
    );
    assert_eq!(kflags, 1);
}
