//! The HE-CNN: the Approx-CNN evaluated on packed slots (see `packing`). Activations
//! a·y² + b·y + c are folded into one square per layer: the shift b/2a goes into the previous
//! bias, `a` into the next weights and the constant into the next bias (position-dependent at
//! zero-padded borders, which is why biases are full slot vectors).

use super::packing::*;
use crate::model::backend::SlotBackend;
use num_complex::Complex64;
use rayon::prelude::*;

/// Approx-CNN parameters in PyTorch's row-major order.
#[derive(Clone, Debug, PartialEq)]
pub struct ApproxParams {
    /// [C1][1][8][8]
    pub conv1_w: Vec<f64>,
    pub conv1_b: Vec<f64>,
    /// (a, b, c), each [C1]
    pub act1: [Vec<f64>; 3],
    /// [C2][C1][3][3]
    pub conv2_w: Vec<f64>,
    pub conv2_b: Vec<f64>,
    pub act2: [Vec<f64>; 3],
    /// [CLASSES][C2]
    pub fc_w: Vec<f64>,
    pub fc_b: Vec<f64>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum HeModelError {
    #[error("tensor {name} has {found} values, expected {expected}")]
    Shape {
        name: &'static str,
        expected: usize,
        found: usize,
    },
    #[error(
        "activation {name} has a = {a}: the quadratic coefficient must be ≥ 0.001 to fold into one square"
    )]
    FlatActivation { name: &'static str, a: f64 },
    #[error("the model needs {needed} levels, the input ciphertexts have {available}")]
    Levels { needed: usize, available: usize },
    #[error("the model has no Approx-CNN member")]
    NoMembers,
    #[error("expected {expected} input ciphertexts, got {found}")]
    InputCount { expected: usize, found: usize },
    #[error("the parameters give {found} slots; this packing needs {expected}")]
    Slots { expected: usize, found: usize },
    #[error(transparent)]
    Eval(#[from] crate::ckks::EvalError),
}

impl From<&super::ApproxCnnWeights> for ApproxParams {
    fn from(w: &super::ApproxCnnWeights) -> Self {
        let f = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
        Self {
            conv1_w: f(&w.conv1.weight),
            conv1_b: f(&w.conv1.bias),
            act1: [f(&w.act1.a), f(&w.act1.b), f(&w.act1.c)],
            conv2_w: f(&w.conv2.weight),
            conv2_b: f(&w.conv2.bias),
            act2: [f(&w.act2.a), f(&w.act2.b), f(&w.act2.c)],
            fc_w: f(&w.fc.weight),
            fc_b: f(&w.fc.bias),
        }
    }
}

/// (shift β = b/2a, constant γ = c − b²/4a) so that a·y² + b·y + c = a·(y + β)² + γ.
fn fold(act: &[Vec<f64>; 3]) -> (Vec<f64>, Vec<f64>) {
    let [a, b, c] = act;
    let beta = a.iter().zip(b).map(|(a, b)| b / (2.0 * a)).collect();
    let gamma = a
        .iter()
        .zip(b)
        .zip(c)
        .map(|((a, b), c)| c - b * b / (4.0 * a))
        .collect();
    (beta, gamma)
}

impl ApproxParams {
    /// Deterministic pseudo-random weights of the right shapes and ranges, for tests and
    /// timing runs (not a trained model).
    pub fn synthetic(seed: u64) -> Self {
        let mut x = seed;
        let mut next = move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        };
        let mut v = |n: usize, scale: f64, offset: f64| {
            (0..n)
                .map(|_| offset + scale * next())
                .collect::<Vec<f64>>()
        };
        // Ranges shrink with the fan-in, so activations keep their size at any width.
        let (w2, wfc) = ((8.0 / C1 as f64).sqrt(), (16.0 / C2 as f64).sqrt());
        Self {
            conv1_w: v(C1 * PATCH * PATCH, 0.15, 0.0),
            conv1_b: v(C1, 0.2, 0.0),
            act1: [v(C1, 0.05, 0.15), v(C1, 0.3, 0.6), v(C1, 0.1, 0.0)],
            conv2_w: v(C2 * C1 * 9, 0.2 * w2, 0.0),
            conv2_b: v(C2, 0.2, 0.0),
            act2: [v(C2, 0.05, 0.1), v(C2, 0.3, 0.5), v(C2, 0.1, 0.0)],
            fc_w: v(CLASSES * C2, 0.5 * wfc, 0.0),
            fc_b: v(CLASSES, 0.2, 0.0),
        }
    }

    /// The same network with its logits multiplied by `factor` (output layer scaled), which
    /// is exact: the mean over K members is the sum of members scaled by 1/K.
    pub fn output_scaled(&self, factor: f64) -> Self {
        let scale = |v: &[f64]| v.iter().map(|x| x * factor).collect();
        Self {
            fc_w: scale(&self.fc_w),
            fc_b: scale(&self.fc_b),
            ..self.clone()
        }
    }

    pub fn validate(&self) -> Result<(), HeModelError> {
        let shapes: [(&'static str, usize, usize); 12] = [
            ("conv1.weight", self.conv1_w.len(), C1 * PATCH * PATCH),
            ("conv1.bias", self.conv1_b.len(), C1),
            ("act1.a", self.act1[0].len(), C1),
            ("act1.b", self.act1[1].len(), C1),
            ("act1.c", self.act1[2].len(), C1),
            ("conv2.weight", self.conv2_w.len(), C2 * C1 * 9),
            ("conv2.bias", self.conv2_b.len(), C2),
            ("act2.a", self.act2[0].len(), C2),
            ("act2.b", self.act2[1].len(), C2),
            ("act2.c", self.act2[2].len(), C2),
            ("fc.weight", self.fc_w.len(), CLASSES * C2),
            ("fc.bias", self.fc_b.len(), CLASSES),
        ];
        for (name, found, expected) in shapes {
            if found != expected {
                return Err(HeModelError::Shape {
                    name,
                    expected,
                    found,
                });
            }
        }
        for (name, a) in [("act1", &self.act1[0]), ("act2", &self.act2[0])] {
            if let Some(&a) = a.iter().find(|a| !(a.is_finite() && **a >= 1e-3)) {
                return Err(HeModelError::FlatActivation { name, a });
            }
        }
        Ok(())
    }

    fn w2(&self, co: usize, ci: usize, dy: i64, dx: i64) -> f64 {
        self.conv2_w[((co * C1 + ci) * 3 + (dy + 1) as usize) * 3 + (dx + 1) as usize]
    }
}

/// Slot index of pooled-grid cell (u, v) inside a block (stride-2 "gap" layout).
fn pooled_slot(u: usize, v: usize) -> usize {
    2 * u * GRID + 2 * v
}

fn inside(u: usize, dy: i64) -> bool {
    (0..POOLED as i64).contains(&(u as i64 + dy))
}

/// The HE-CNN ready to run: every member's weights laid out for the packing and pre-encoded
/// at their levels. Members share the input ciphertexts and the rotation keys; their logit
/// ciphertexts (each member's output layer pre-scaled by 1/K) add up to the mean logits.
pub struct PreparedClassifier<P> {
    input_level: usize,
    members: Vec<PreparedMember<P>>,
}

impl<P: Send + Sync> PreparedClassifier<P> {
    /// Encodes every member's weight plaintexts for inputs encrypted at `input_level`.
    pub fn new<B: SlotBackend<Pt = P>>(
        backend: &B,
        members: &[ApproxParams],
        input_level: usize,
    ) -> Result<Self, HeModelError> {
        if members.is_empty() {
            return Err(HeModelError::NoMembers);
        }
        for p in members {
            p.validate()?;
        }
        if backend.slots() != SLOTS {
            return Err(HeModelError::Slots {
                expected: SLOTS,
                found: backend.slots(),
            });
        }
        if input_level < LEVELS_NEEDED {
            return Err(HeModelError::Levels {
                needed: LEVELS_NEEDED,
                available: input_level,
            });
        }
        let share = 1.0 / members.len() as f64;
        let members = members
            .iter()
            .map(|p| PreparedMember::new(backend, &p.output_scaled(share), input_level))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            input_level,
            members,
        })
    }

    pub fn input_level(&self) -> usize {
        self.input_level
    }

    /// Number of ensemble members.
    pub fn members(&self) -> usize {
        self.members.len()
    }

    /// Every weight plaintext of every member (to account for the memory they hold).
    pub fn plaintexts(&self) -> impl Iterator<Item = &P> {
        self.members.iter().flat_map(PreparedMember::plaintexts)
    }

    /// Evaluates the network on the 4 packed input ciphertexts; returns the (mean) logits in
    /// slots j·1024 + class for every block j (bias included in every copy; other slots 0).
    pub fn evaluate<B: SlotBackend<Pt = P>>(
        &self,
        backend: &B,
        inputs: &[B::Ct],
    ) -> Result<B::Ct, HeModelError> {
        Ok(self.run(backend, inputs, false)?.0)
    }

    /// Every member reads the same inputs: their count and level are checked once.
    fn check_inputs<B: SlotBackend<Pt = P>>(
        &self,
        backend: &B,
        inputs: &[B::Ct],
    ) -> Result<(), HeModelError> {
        if inputs.len() != INPUT_CTS {
            return Err(HeModelError::InputCount {
                expected: INPUT_CTS,
                found: inputs.len(),
            });
        }
        if let Some(low) = inputs
            .iter()
            .map(|c| backend.level(c))
            .min()
            .filter(|&l| l < self.input_level)
        {
            return Err(HeModelError::Levels {
                needed: self.input_level,
                available: low,
            });
        }
        Ok(())
    }

    /// [`evaluate`](Self::evaluate) plus the class-activation map ciphertext: in every block,
    /// the mean members' per-cell cyst and tumour logit terms at [`map_slot`] (bias included
    /// in every cell, so the mean over the 16×16 cells of a map is exactly that class's logit
    /// and the map reveals no bias on its own); other slots 0. Same level and scale as the
    /// logits; costs 2 · CTS2 · 4 plaintext products and 2 · CTS2 · 3 rotations per member, and 4
    /// rotations in all.
    pub fn evaluate_with_map<B: SlotBackend<Pt = P>>(
        &self,
        backend: &B,
        inputs: &[B::Ct],
    ) -> Result<(B::Ct, B::Ct), HeModelError> {
        let (logits, map) = self.run(backend, inputs, true)?;
        let [tumour, cyst] = map.ok_or(HeModelError::NoMembers)?;
        let mut map = backend.add(&tumour, &backend.rotate(&cyst, -1)?)?;
        for k in [BLOCK, 2 * BLOCK, 4 * BLOCK] {
            map = PreparedMember::<P>::rotate_and_add(backend, &map, k as i64)?;
        }
        let bias = self.map_bias();
        let map = backend.add_plain(&map, &backend.encode_like(&bias, &map)?)?;
        Ok((logits, map))
    }

    /// The members' summed logit biases at every map cell of every block.
    fn map_bias(&self) -> Vec<f64> {
        let mut v = vec![0.0; SLOTS];
        for (m, &cls) in MAP_CLASSES.iter().enumerate() {
            let b: f64 = self.members.iter().map(|mb| mb.logit_bias[cls]).sum();
            for j in 0..BLOCKS {
                for u in 0..MAP_SIDE {
                    for x in 0..MAP_SIDE {
                        v[j * BLOCK + map_slot(m, u, x)] = b;
                    }
                }
            }
        }
        v
    }

    /// Sums the members' logits and, when asked, their unrotated (tumour, cyst) map terms.
    #[allow(clippy::type_complexity)]
    fn run<B: SlotBackend<Pt = P>>(
        &self,
        backend: &B,
        inputs: &[B::Ct],
        with_map: bool,
    ) -> Result<(B::Ct, Option<[B::Ct; 2]>), HeModelError> {
        self.check_inputs(backend, inputs)?;
        let rotated = rotate_inputs(backend, inputs)?;
        let rotated: Vec<&B::Ct> = rotated.iter().collect();
        let mut members = self.members.iter();
        let first = members.next().ok_or(HeModelError::NoMembers)?;
        let (mut sum, mut map) = first.evaluate(backend, &rotated, with_map)?;
        for m in members {
            let (logits, terms) = m.evaluate(backend, &rotated, with_map)?;
            sum = backend.add(&sum, &logits)?;
            map = match (map, terms) {
                (Some([t0, c0]), Some([t1, c1])) => {
                    Some([backend.add(&t0, &t1)?, backend.add(&c0, &c1)?])
                }
                _ => None,
            };
        }
        Ok((sum, map))
    }
}

/// conv1's block rotations r·1024 (r = 0..8) split as baby steps r mod 4 on the inputs and
/// giant steps 4·⌊r/4⌋ on each member's outputs: 3 rotations per input and 1 per output
/// ciphertext instead of 7 per input.
const BABY: usize = BLOCKS / 2;

/// The input ciphertexts rotated by the baby steps r·1024 (r = 0..4, hoisted per input), in
/// the order [j·BABY + r] of the conv1 plaintexts: computed once per slice and shared by every
/// member.
fn rotate_inputs<B: SlotBackend>(
    backend: &B,
    inputs: &[B::Ct],
) -> Result<Vec<B::Ct>, HeModelError> {
    let steps: Vec<i64> = (0..BABY as i64).map(|r| r * BLOCK as i64).collect();
    let per_input = inputs
        .par_iter()
        .map(|ct| backend.rotate_many(ct, &steps))
        .collect::<Result<Vec<_>, _>>()?;
    let rotated: Vec<B::Ct> = per_input.into_iter().flatten().collect();
    if rotated.len() != BABY * inputs.len() {
        return Err(crate::ckks::EvalError::InvalidCount {
            n: rotated.len(),
            max: BABY * inputs.len(),
        }
        .into());
    }
    Ok(rotated)
}

/// One network's weights and biases laid out for the packing (its inputs, slots and levels
/// are checked by [`PreparedClassifier`]).
struct PreparedMember<P> {
    /// conv1[m][g][j·BABY + r]: complex weights of output ciphertext m applied to input
    /// ciphertext j rotated by r·1024 (see [`rotate_inputs`]) for giant step g·4·1024, laid
    /// out so that the giant rotation puts them in place.
    conv1: Vec<[Vec<P>; 2]>,
    /// bias1[m]: conv1 bias plus the folded activation shift, per output ciphertext.
    bias1: Vec<Vec<f64>>,
    /// The dense-packing mask: 1 at the pooled cells (2u, 2v) of every block, 0 at the
    /// partial sums beside them.
    mask: P,
    /// conv2[k][r][p·CONV2_TAPS + t]: output ciphertext k, block rotation r, packed input p,
    /// tap t (the input rotated by R·32 + C, (R, C) = `conv2_tap(t)`).
    conv2: Vec<Vec<Vec<P>>>,
    bias2: Vec<Vec<f64>>,
    /// fc[class][k·QUADRANTS + q]: weights of the pooled sums of quadrant q of ciphertext k,
    /// read at the block's first slot after the quadrant is rotated there.
    fc: Vec<Vec<P>>,
    bias3: Vec<f64>,
    /// map[m][k·QUADRANTS + q]: per-cell weights of map class `MAP_CLASSES[m]` on quadrant q
    /// of ciphertext k, rotated to the cell's corner (fc weights without the 1/256 of the
    /// pooling).
    map: Vec<Vec<P>>,
    /// Each class's effective output bias (fc bias plus the folded activation constants).
    logit_bias: [f64; CLASSES],
}

impl<P: Send + Sync> PreparedMember<P> {
    /// Every plaintext this member holds.
    fn plaintexts(&self) -> impl Iterator<Item = &P> {
        self.conv1
            .iter()
            .flatten()
            .flatten()
            .chain(std::iter::once(&self.mask))
            .chain(self.conv2.iter().flatten().flatten())
            .chain(self.fc.iter().flatten())
            .chain(self.map.iter().flatten())
    }

    /// Encodes every weight plaintext for inputs encrypted at `input_level`.
    fn new<B: SlotBackend<Pt = P>>(
        backend: &B,
        p: &ApproxParams,
        input_level: usize,
    ) -> Result<Self, HeModelError> {
        let (beta1, gamma1) = fold(&p.act1);
        let (beta2, gamma2) = fold(&p.act2);

        // Ciphertext j carries planes 2j (real) and 2j+1 (imaginary): weights (w_2j − i·w_2j+1)/2
        // make the real part of the product (w_2j·x_2j + w_2j+1·x_2j+1)/2, and the
        // conjugate-and-add after the layer doubles it back. Input j rotated by r·1024 holds
        // patch offset 8·plane + (b + r) mod 8 in block b; the giant step g then moves block b
        // to block b − 4g, where output channel 8m + (b − 4g) mod 8 lives.
        let conv1 = (0..CTS1)
            .into_par_iter()
            .map(|m| {
                let giant = |g: usize| {
                    (0..INPUT_CTS)
                        .flat_map(|j| (0..BABY).map(move |r| (r, j)))
                        .map(|(r, j)| {
                            let mut v = vec![Complex64::new(0.0, 0.0); SLOTS];
                            for b in 0..BLOCKS {
                                let c = m * BLOCKS + (b + BLOCKS - BABY * g) % BLOCKS;
                                let offset = (b + r) % BLOCKS;
                                let w = |plane: usize| {
                                    p.conv1_w[c * PATCH * PATCH + plane * BLOCKS + offset]
                                };
                                v[b * BLOCK..(b + 1) * BLOCK]
                                    .fill(Complex64::new(0.5 * w(2 * j), -0.5 * w(2 * j + 1)));
                            }
                            backend.encode_weights_complex(&v, input_level)
                        })
                        .collect::<Result<Vec<_>, _>>()
                };
                Ok::<_, HeModelError>([giant(0)?, giant(1)?])
            })
            .collect::<Result<Vec<_>, _>>()?;
        let bias1 = (0..CTS1)
            .map(|m| {
                let mut v = vec![0.0; SLOTS];
                for b in 0..BLOCKS {
                    let c = m * BLOCKS + b;
                    v[b * BLOCK..(b + 1) * BLOCK].fill(p.conv1_b[c] + beta1[c]);
                }
                v
            })
            .collect();

        let pooled_level = input_level - 2;
        let mut mask = vec![0.0; SLOTS];
        for b in 0..BLOCKS {
            for u in 0..POOLED {
                for x in 0..POOLED {
                    mask[b * BLOCK + pooled_slot(u, x)] = 1.0;
                }
            }
        }
        let mask = backend.encode_weights(&mask, pooled_level)?;

        // Output quadrant (qy, qx) reads, through tap (R, C), input quadrant and kernel offset
        // `conv2_source` per axis; the block rotation r is undone by the giant step, so
        // output block b − r meets input block b.
        let conv2_level = input_level - 3;
        let conv2 = (0..CTS2)
            .map(|k| {
                (0..BLOCKS)
                    .into_par_iter()
                    .map(|r| {
                        (0..PACKED * CONV2_TAPS)
                            .map(|i| {
                                let (pk, t) = (i / CONV2_TAPS, i % CONV2_TAPS);
                                let (row, col) = conv2_tap(t);
                                let mut v = vec![0.0; SLOTS];
                                for b in 0..BLOCKS {
                                    for q in 0..QUADRANTS {
                                        let (Some((my, dy)), Some((mx, dx))) =
                                            (conv2_source(q / 2, row), conv2_source(q % 2, col))
                                        else {
                                            continue;
                                        };
                                        let ci = dense_channel(pk, 2 * my + mx, b);
                                        let co = dense_channel(k, q, (b + BLOCKS - r) % BLOCKS);
                                        let w = p.w2(co, ci, dy, dx) * p.act1[0][ci] / 4.0;
                                        let at = b * BLOCK + quadrant_offset(q);
                                        for u in (0..POOLED).filter(|&u| inside(u, dy)) {
                                            for x in (0..POOLED).filter(|&x| inside(x, dx)) {
                                                v[at + pooled_slot(u, x)] = w;
                                            }
                                        }
                                    }
                                }
                                backend.encode_weights(&v, conv2_level)
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let offsets = conv2_offsets();
        let bias2 = (0..CTS2)
            .map(|k| {
                let mut v = vec![0.0; SLOTS];
                for j in 0..BLOCKS {
                    for q in 0..QUADRANTS {
                        let co = dense_channel(k, q, j);
                        for u in 0..POOLED {
                            for x in 0..POOLED {
                                let border: f64 = offsets
                                    .iter()
                                    .filter(|&&(dy, dx)| inside(u, dy) && inside(x, dx))
                                    .map(|&(dy, dx)| {
                                        (0..C1)
                                            .map(|ci| p.w2(co, ci, dy, dx) * gamma1[ci])
                                            .sum::<f64>()
                                    })
                                    .sum();
                                v[j * BLOCK + quadrant_offset(q) + pooled_slot(u, x)] =
                                    p.conv2_b[co] + beta2[co] + border;
                            }
                        }
                    }
                }
                v
            })
            .collect();

        let fc_level = input_level - 5;
        let cells = (POOLED * POOLED) as f64;
        let fc = (0..CLASSES)
            .map(|cls| {
                (0..CTS2 * QUADRANTS)
                    .map(|i| {
                        let mut v = vec![0.0; SLOTS];
                        for j in 0..BLOCKS {
                            let co = dense_channel(i / QUADRANTS, i % QUADRANTS, j);
                            v[j * BLOCK] = p.fc_w[cls * C2 + co] * p.act2[0][co] / cells;
                        }
                        backend.encode_weights(&v, fc_level)
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        // The logits end up in BLOCKS copies (slots j·1024 + class); the bias goes into
        // every copy, so no copy shows the client the logits without their bias (which
        // would reveal the bias itself). Every other slot is zero.
        let map = MAP_CLASSES
            .iter()
            .map(|&cls| {
                (0..CTS2 * QUADRANTS)
                    .map(|i| {
                        let mut v = vec![0.0; SLOTS];
                        for j in 0..BLOCKS {
                            let co = dense_channel(i / QUADRANTS, i % QUADRANTS, j);
                            let w = p.fc_w[cls * C2 + co] * p.act2[0][co];
                            for u in 0..POOLED {
                                for x in 0..POOLED {
                                    v[j * BLOCK + pooled_slot(u, x)] = w;
                                }
                            }
                        }
                        backend.encode_weights(&v, fc_level)
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let logit_bias: [f64; CLASSES] = std::array::from_fn(|cls| {
            p.fc_b[cls]
                + (0..C2)
                    .map(|co| p.fc_w[cls * C2 + co] * gamma2[co])
                    .sum::<f64>()
        });
        let mut bias3 = vec![0.0; SLOTS];
        for (cls, b) in logit_bias.iter().enumerate() {
            for j in 0..BLOCKS {
                bias3[j * BLOCK + cls] = *b;
            }
        }
        Ok(Self {
            conv1,
            bias1,
            mask,
            conv2,
            bias2,
            fc,
            bias3,
            map,
            logit_bias,
        })
    }

    /// Σ_r rotate(parts[r], r·1024): the giant steps of channel mixing, with one ModDown
    /// for all of them (`rotate_sum`).
    fn gather_blocks<B: SlotBackend<Pt = P>>(
        backend: &B,
        parts: &[B::Ct],
    ) -> Result<B::Ct, HeModelError> {
        let terms: Vec<(&B::Ct, i64)> = parts
            .iter()
            .enumerate()
            .map(|(r, ct)| (ct, (r * BLOCK) as i64))
            .collect();
        Ok(backend.rotate_sum(&terms)?)
    }

    fn rotate_and_add<B: SlotBackend<Pt = P>>(
        backend: &B,
        ct: &B::Ct,
        k: i64,
    ) -> Result<B::Ct, HeModelError> {
        Ok(backend.add(ct, &backend.rotate(ct, k)?)?)
    }

    /// Evaluates the network on the packed input ciphertexts after [`rotate_inputs`]; returns
    /// the logits in slots j·1024 + class for every block j (identical copies, bias included;
    /// other slots 0) and, with `with_map`, the (tumour, cyst) per-cell terms before the block
    /// sum and bias.
    #[allow(clippy::type_complexity)]
    fn evaluate<B: SlotBackend<Pt = P>>(
        &self,
        backend: &B,
        rotated: &[&B::Ct],
        with_map: bool,
    ) -> Result<(B::Ct, Option<[B::Ct; 2]>), HeModelError> {
        // conv1 (patchify): no spatial rotation thanks to the client's layout, and the block
        // rotations of the inputs are shared by every member.
        let quadrants = quadrant_steps();
        let s = self
            .conv1
            .par_iter()
            .zip(&self.bias1)
            .map(|([baby, giant], bias)| {
                let dot = |pts: &[P]| backend.dot_plain(rotated, &pts.iter().collect::<Vec<_>>());
                let (y, g) = (dot(baby)?, dot(giant)?);
                let y1 = backend.rotate_sum(&[(&y, 0), (&g, (BABY * BLOCK) as i64)])?;
                let y1 = backend.add(&y1, &backend.conjugate(&y1)?)?;
                let y1 = backend.add_plain(&y1, &backend.encode_like(bias, &y1)?)?;
                let z1 = backend.square(&y1)?;
                // 2×2 average pooling as one hoisted sum of the cell's four quadrants (one key
                // switch); 1/4 is folded into conv2.
                Ok(backend.rotate_sum_hoisted(&z1, &quadrants)?)
            })
            .collect::<Result<Vec<_>, HeModelError>>()?;
        // Dense packing: mask the pooled cells, interleave four ciphertexts per packed one.
        let masked = s
            .par_iter()
            .map(|ct| backend.dot_plain(&[ct], &[&self.mask]))
            .collect::<Result<Vec<_>, _>>()?;
        let (right, down) = (-(quadrant_offset(1) as i64), -(quadrant_offset(2) as i64));
        let packed = masked
            .par_chunks(QUADRANTS)
            .map(|quad| match quad {
                [q0, q1, q2, q3] => {
                    let top = backend.rotate_sum(&[(q0, 0), (q1, right)])?;
                    let bottom = backend.rotate_sum(&[(q2, 0), (q3, right)])?;
                    backend.rotate_sum(&[(&top, 0), (&bottom, down)])
                }
                _ => Err(crate::ckks::EvalError::InvalidCount {
                    n: quad.len(),
                    max: QUADRANTS,
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        // conv2: two hoisted stages of spatial baby steps (rows, then columns of each row
        // shift), block giant steps on the outputs.
        let (rows, cols) = (conv2_row_steps(), conv2_col_steps());
        let taps = packed
            .par_iter()
            .map(|ct| {
                backend
                    .rotate_many(ct, &rows)?
                    .par_iter()
                    .map(|row| backend.rotate_many(row, &cols))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let taps: Vec<&B::Ct> = taps.iter().flatten().flatten().collect();
        let z2 = self
            .conv2
            .par_iter()
            .zip(&self.bias2)
            .map(|(per_r, bias)| {
                let parts = per_r
                    .par_iter()
                    .map(|pts| backend.dot_plain(&taps, &pts.iter().collect::<Vec<_>>()))
                    .collect::<Result<Vec<_>, _>>()?;
                let y2 = Self::gather_blocks(backend, &parts)?;
                let y2 = backend.add_plain(&y2, &backend.encode_like(bias, &y2)?)?;
                let z = backend.square(&y2)?;
                let mut g = z.clone();
                for k in global_pool_rotations() {
                    g = Self::rotate_and_add(backend, &g, k)?;
                }
                // Every quadrant's pooled sum (and, for the map, cells) at the cell corner.
                let cells = match with_map {
                    true => backend.rotate_many(&z, &quadrants)?,
                    false => Vec::new(),
                };
                Ok((cells, backend.rotate_many(&g, &quadrants)?))
            })
            .collect::<Result<Vec<_>, HeModelError>>()?;
        let (cells, z2): (Vec<Vec<B::Ct>>, Vec<Vec<B::Ct>>) = z2.into_iter().unzip();
        let map = if with_map {
            let cells: Vec<&B::Ct> = cells.iter().flatten().collect();
            let terms = self
                .map
                .par_iter()
                .map(|pts| backend.dot_plain(&cells, &pts.iter().collect::<Vec<_>>()))
                .collect::<Result<Vec<_>, _>>()?;
            let [cyst, tumour]: [B::Ct; 2] =
                terms.try_into().map_err(|_| HeModelError::NoMembers)?;
            Some([tumour, cyst])
        } else {
            None
        };
        // Fully connected layer: weight the pooled sums, gather classes into slots 0..3.
        let pooled: Vec<&B::Ct> = z2.iter().flatten().collect();
        let per_class = self
            .fc
            .par_iter()
            .map(|pts| backend.dot_plain(&pooled, &pts.iter().collect::<Vec<_>>()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut logits = per_class[0].clone();
        for (cls, ct) in per_class.iter().enumerate().skip(1) {
            logits = backend.add(&logits, &backend.rotate(ct, -(cls as i64))?)?;
        }
        for k in [BLOCK, 2 * BLOCK, 4 * BLOCK] {
            logits = Self::rotate_and_add(backend, &logits, k as i64)?;
        }
        let logits = backend.add_plain(&logits, &backend.encode_like(&self.bias3, &logits)?)?;
        Ok((logits, map))
    }
}
