//! The denoisers on packed slots, written once against `SlotBackend` (CKKS on the server, the
//! exact simulator in tests).
//!
//! Packing: two tiles per ciphertext, one in the real and one in the imaginary parts of the
//! row-major `tile_h × tile_w` slots, one channel per ciphertext, so channel mixing is
//! rotation-free and real weights act on both tiles alike. A k×k convolution is baby-step/giant-step:
//! each input channel is rotated by dx ∈ [−r, r] (hoisted: one decomposition, 2r key
//! switches), products with the weights are accumulated per (output channel, dy), and those 2r
//! partial sums are rotated by dy·tile_w and summed lazily (one ModDown per output,
//! `SlotBackend::rotate_sum`) before one rescale. A weight is the same in every
//! slot, so each tap is a multiplication by an integer constant: nothing is encoded or
//! stored per tap. Rotation keys: {±1..±r, ±tile_w..±r·tile_w}, the same for every tile and
//! layer. Each convolution uses one level.
//!
//! Masking (interactive nonlinear model): every pre-activation the client will decrypt is
//! sent as `r ⊙ y` with its own fresh random positive slot vector r per tile and channel
//! (ReLU(r·y) = r·ReLU(y)); the two tiles of a ciphertext get independent masks through a
//! conjugation ([`mask_parts`]), and no two tiles share a mask, so ratios between tiles
//! cancel nothing. A round is three levels: the returned activations are unmasked
//! (reciprocal masks), convolved with the shared weights, and masked again before they
//! leave, always dropped to level 0. Folding the masks into
//! the weights instead would save two levels but costs one encoding per tile and tap
//! (5,408 per tile per pass; 4× slower end to end). All (tile, channel) ciphertexts of a
//! round are shuffled together by a random permutation the server undoes on the way back.
//! The two mask vectors of a ciphertext are encoded from one transform
//! (`SlotBackend::encode_weight_pair`).
//! SECURITY.md says what the client still learns (the sign pattern, and magnitudes up to
//! the mask range).

use super::DenoiserError;
use super::plain::{Conv, Denoiser};
use super::weights::{LayerSpec, specs};
use crate::ckks::EvalError;
use crate::model::backend::SlotBackend;
use num_complex::Complex64;
use rand::Rng;
use rand::seq::SliceRandom;
use rayon::prelude::*;

/// Levels each convolution consumes (so the whole linear model takes one).
pub const LEVELS_PER_CONV: usize = 1;
/// Levels of an interactive round: unmask, convolve, mask. The client encrypts its tiles
/// and activations at this level.
pub const INTERACTIVE_LEVELS: usize = 3;
/// The level at which the inputs of `layer` (0-based, of a model of `layers` layers) arrive
/// from the client: one level to unmask (every layer but the first), one to convolve, one to
/// mask (every layer but the last). The linear model's single layer needs 1, the interactive
/// model's first layer 2, its middle layers `INTERACTIVE_LEVELS`, its last 2; nothing travels
/// with levels the server will not use.
pub fn input_level(layer: usize, layers: usize) -> usize {
    usize::from(layer > 0) + LEVELS_PER_CONV + usize::from(layer + 1 < layers)
}

pub use super::tiling::{TILES_PER_CIPHERTEXT, packed_count};

/// True when the model's rounds mask two tiles per ciphertext apart, which needs the
/// conjugation key (every model with a ReLU round).
pub const fn needs_conjugation(layers: usize) -> bool {
    layers > 1
}

/// The level of every ciphertext the server sends back: the lowest, so replies are as small
/// as they can be and the client can pin their level exactly.
pub const REPLY_LEVEL: usize = 0;

/// Where a convolution puts its rotations: whichever needs the fewest key switches for its
/// shape (a hoisted rotation, sharing one decomposition, counts half a plain one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvPlan {
    /// Every input rotated by every offset dy·W + dx (hoisted), then one weighted sum per
    /// output: for few inputs and many outputs (the first layer).
    RotateInputs,
    /// Baby-step/giant-step: inputs rotated by dx (hoisted), partial sums per (output, dy)
    /// rotated by dy·W.
    BabyGiant,
    /// One weighted sum of the unrotated inputs per (output, offset), each rotated once: for
    /// many inputs and few outputs (the last layer).
    RotateOutputs,
}

impl ConvPlan {
    /// The plan with the fewest key switches for `cin → cout` channels of radius `r`.
    pub fn for_shape(cin: usize, cout: usize, r: usize) -> Self {
        let (side, taps) = (2 * r, (2 * r + 1) * (2 * r + 1) - 1);
        // Cost in half key switches: hoisted rotations 1, plain ones 2.
        let costs = [
            (ConvPlan::BabyGiant, cin * side + 2 * cout * side),
            (ConvPlan::RotateInputs, cin * taps),
            (ConvPlan::RotateOutputs, 2 * cout * taps),
        ];
        costs
            .into_iter()
            .min_by_key(|&(_, c)| c)
            .map_or(ConvPlan::BabyGiant, |(p, _)| p)
    }

    /// The rotations this plan uses on tiles of width `tile_w`.
    pub fn rotations(self, r: usize, tile_w: usize) -> Vec<i64> {
        let (r, w) = (r as i64, tile_w as i64);
        match self {
            ConvPlan::BabyGiant => (-r..=r)
                .filter(|&d| d != 0)
                .flat_map(|d| [d, d * w])
                .collect(),
            ConvPlan::RotateInputs | ConvPlan::RotateOutputs => (-r..=r)
                .flat_map(|dy| (-r..=r).map(move |dx| dy * w + dx))
                .filter(|&o| o != 0)
                .collect(),
        }
    }
}

/// Galois rotations that convolutions of the given shapes need on tiles of width `tile_w`:
/// exactly the keys the client generates.
pub fn rotations(layers: &[LayerSpec], tile_w: usize) -> Vec<i64> {
    let mut v: Vec<i64> = layers
        .iter()
        .flat_map(|l| ConvPlan::for_shape(l.cin, l.cout, l.k / 2).rotations(l.k / 2, tile_w))
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Rotations for a whole model.
pub fn model_rotations(model: &Denoiser, tile_w: usize) -> Vec<i64> {
    rotations(&specs(model), tile_w)
}

/// The linear model as one convolution computing the output directly:
/// kernel δ − w and bias −b (so `output = x − (w ∗ x + b)`).
pub fn residual_conv(conv: &Conv) -> Conv {
    let mut c = conv.clone();
    c.weight.iter_mut().for_each(|w| *w = -*w);
    c.bias.iter_mut().for_each(|b| *b = -*b);
    let r = c.radius();
    c.weight[r * c.k + r] += 1.0;
    c
}

/// Positive per-slot scales of one tile: one slot vector per channel, `[channel][slot]`.
pub type Masks = Vec<Vec<f64>>;

/// Fresh masks for one tile: every slot of every channel gets its own r = e^u, u uniform in
/// [−ln m, ln m].
pub fn random_masks(rng: &mut impl Rng, channels: usize, slots: usize, max_scale: f64) -> Masks {
    let l = max_scale.max(1.0).ln();
    (0..channels)
        .map(|_| {
            (0..slots)
                .map(|_| {
                    if l > 0.0 {
                        rng.random_range(-l..=l).exp()
                    } else {
                        1.0
                    }
                })
                .collect()
        })
        .collect()
}

/// Fresh, independent masks for every tile of a round: `[tile][channel][slot]`. Each tile
/// draws from its own ChaCha20 stream keyed by 32 bytes of `rng`, so the tiles are generated
/// in parallel and stay as unpredictable as `rng` itself.
pub fn random_tile_masks(
    rng: &mut impl Rng,
    tiles: usize,
    channels: usize,
    slots: usize,
    max_scale: f64,
) -> Vec<Masks> {
    use rand::SeedableRng;
    let seeds: Vec<[u8; 32]> = (0..tiles).map(|_| rng.random()).collect();
    seeds
        .into_par_iter()
        .map(|seed| {
            let mut tile_rng = rand_chacha::ChaCha20Rng::from_seed(seed);
            random_masks(&mut tile_rng, channels, slots, max_scale)
        })
        .collect()
}

/// One convolution ready for tiles at `level`: its taps are constants, shared by every tile.
pub struct PreparedConv {
    plan: ConvPlan,
    cin: usize,
    cout: usize,
    r: i64,
    tile_w: usize,
    level: usize,
    /// `taps[co][dy + r][ci][dx + r]` (sign applied).
    taps: Vec<Vec<Vec<Vec<f64>>>>,
    /// `bias[co]`, added after the rescale to the real and the imaginary parts (two tiles
    /// per ciphertext).
    bias: Vec<f64>,
}

impl PreparedConv {
    /// `sign · conv` for inputs at `level`.
    ///
    /// Errors: `Levels` when `level` leaves no level for the convolution.
    pub fn new(conv: &Conv, sign: f64, tile_w: usize, level: usize) -> Result<Self, DenoiserError> {
        if level < LEVELS_PER_CONV {
            return Err(DenoiserError::Levels {
                needed: LEVELS_PER_CONV,
                available: level,
            });
        }
        let r = conv.radius() as i64;
        let taps = (0..conv.cout)
            .map(|co| {
                (-r..=r)
                    .map(|dy| {
                        (0..conv.cin)
                            .map(|ci| (-r..=r).map(|dx| sign * conv.w(co, ci, dy, dx)).collect())
                            .collect()
                    })
                    .collect()
            })
            .collect();
        Ok(Self {
            plan: ConvPlan::for_shape(conv.cin, conv.cout, conv.radius()),
            cin: conv.cin,
            cout: conv.cout,
            r,
            tile_w,
            level,
            taps,
            bias: conv.bias.iter().map(|b| sign * b).collect(),
        })
    }

    /// The convolution of one tile: `cin` ciphertexts in, `cout` out (one level lower).
    pub fn apply<B: SlotBackend>(
        &self,
        backend: &B,
        inputs: &[&B::Ct],
    ) -> Result<Vec<B::Ct>, DenoiserError> {
        if inputs.len() != self.cin {
            return Err(DenoiserError::Count {
                expected: self.cin,
                found: inputs.len(),
            });
        }
        if let Some(low) = inputs
            .iter()
            .map(|c| backend.level(c))
            .find(|&l| l < self.level)
        {
            return Err(DenoiserError::Levels {
                needed: self.level,
                available: low,
            });
        }
        // Inputs above the prepared level are brought down to it (exact); the others are used
        // as they are, not copied.
        let lowered = inputs
            .iter()
            .map(|c| {
                (backend.level(c) > self.level)
                    .then(|| backend.drop_to_level(c, self.level))
                    .transpose()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let inputs: Vec<&B::Ct> = inputs
            .iter()
            .zip(&lowered)
            .map(|(c, l)| l.as_ref().unwrap_or(c))
            .collect();
        let sums = match self.plan {
            ConvPlan::BabyGiant => self.baby_giant(backend, &inputs)?,
            ConvPlan::RotateInputs => self.rotate_inputs(backend, &inputs)?,
            ConvPlan::RotateOutputs => self.rotate_outputs(backend, &inputs)?,
        };
        sums.into_par_iter()
            .zip(&self.bias)
            .map(|(y, &b)| {
                Ok(backend.add_scalar_complex(&backend.rescale(&y)?, Complex64::new(b, b))?)
            })
            .collect()
    }

    /// The weight of tap (dy, dx) from input `ci` to output `co`.
    fn tap(&self, co: usize, ci: usize, dy: i64, dx: i64) -> f64 {
        self.taps[co][(dy + self.r) as usize][ci][(dx + self.r) as usize]
    }

    /// The (dy, dx) offsets of the kernel, row-major.
    fn offsets(&self) -> Vec<(i64, i64)> {
        let r = self.r;
        (-r..=r)
            .flat_map(|dy| (-r..=r).map(move |dx| (dy, dx)))
            .collect()
    }

    /// Per output, Σ_g rotate(parts[g].1[co], parts[g].0) over the groups `g` (offsets or
    /// kernel rows) with a sum present: one lazy rotation sum each (`SlotBackend::rotate_sum`,
    /// one ModDown per output instead of one per rotation).
    fn rotated_totals<B: SlotBackend>(
        &self,
        backend: &B,
        parts: Vec<(i64, Vec<Option<B::Ct>>)>,
    ) -> Result<Vec<B::Ct>, DenoiserError> {
        (0..self.cout)
            .into_par_iter()
            .map(|co| {
                let terms: Vec<(&B::Ct, i64)> = parts
                    .iter()
                    .filter_map(|(offset, sums)| sums[co].as_ref().map(|s| (s, *offset)))
                    .collect();
                if terms.is_empty() {
                    return Err(EvalError::Transparent("every weight of a channel is zero").into());
                }
                Ok(backend.rotate_sum(&terms)?)
            })
            .collect()
    }

    fn rotate_inputs<B: SlotBackend>(
        &self,
        backend: &B,
        inputs: &[&B::Ct],
    ) -> Result<Vec<B::Ct>, DenoiserError> {
        let offsets = self.offsets();
        let w = self.tile_w as i64;
        let steps: Vec<i64> = offsets
            .iter()
            .map(|&(dy, dx)| dy * w + dx)
            .filter(|&o| o != 0)
            .collect();
        // rots[ci][j] = rot(x_ci, offsets[j]), hoisted per input channel.
        let rots = inputs
            .par_iter()
            .map(|x| {
                let mut v = backend.rotate_many(x, &steps)?;
                v.insert(offsets.len() / 2, (*x).clone());
                Ok(v)
            })
            .collect::<Result<Vec<_>, DenoiserError>>()?;
        let xs: Vec<&B::Ct> = rots.iter().flatten().collect();
        let rows: Vec<Vec<f64>> = (0..self.cout)
            .map(|co| {
                (0..self.cin)
                    .flat_map(|ci| {
                        offsets
                            .iter()
                            .map(move |&(dy, dx)| self.tap(co, ci, dy, dx))
                    })
                    .collect()
            })
            .collect();
        self.rotated_totals(backend, vec![(0, backend.weighted_sums(&xs, &rows)?)])
    }

    fn baby_giant<B: SlotBackend>(
        &self,
        backend: &B,
        inputs: &[&B::Ct],
    ) -> Result<Vec<B::Ct>, DenoiserError> {
        let r = self.r;
        let steps: Vec<i64> = (-r..=r).filter(|&d| d != 0).collect();
        // Baby steps: rots[ci][dx + r] = rot(x_ci, dx), hoisted per input channel.
        let rots = inputs
            .par_iter()
            .map(|x| {
                let mut v = if steps.is_empty() {
                    Vec::new()
                } else {
                    backend.rotate_many(x, &steps)?
                };
                v.insert(r as usize, (*x).clone());
                Ok(v)
            })
            .collect::<Result<Vec<_>, DenoiserError>>()?;
        let xs: Vec<&B::Ct> = rots.iter().flatten().collect();
        // Per kernel row dy: every output's partial sum, then one giant step of dy·W each.
        let parts = (-r..=r)
            .into_par_iter()
            .map(|dy| {
                let rows: Vec<Vec<f64>> = (0..self.cout)
                    .map(|co| {
                        (0..self.cin)
                            .flat_map(|ci| (-r..=r).map(move |dx| self.tap(co, ci, dy, dx)))
                            .collect()
                    })
                    .collect();
                Ok((dy * self.tile_w as i64, backend.weighted_sums(&xs, &rows)?))
            })
            .collect::<Result<Vec<_>, EvalError>>()?;
        self.rotated_totals(backend, parts)
    }

    fn rotate_outputs<B: SlotBackend>(
        &self,
        backend: &B,
        inputs: &[&B::Ct],
    ) -> Result<Vec<B::Ct>, DenoiserError> {
        let w = self.tile_w as i64;
        // Per offset: every output's sum of the unrotated inputs, then one rotation each.
        let parts = self
            .offsets()
            .into_par_iter()
            .map(|(dy, dx)| {
                let rows: Vec<Vec<f64>> = (0..self.cout)
                    .map(|co| (0..self.cin).map(|ci| self.tap(co, ci, dy, dx)).collect())
                    .collect();
                Ok((dy * w + dx, backend.weighted_sums(inputs, &rows)?))
            })
            .collect::<Result<Vec<_>, EvalError>>()?;
        self.rotated_totals(backend, parts)
    }
}

/// `ct` at `REPLY_LEVEL`, dropped only if it is above it (no copy otherwise).
fn to_reply_level<B: SlotBackend>(backend: &B, ct: B::Ct) -> Result<B::Ct, DenoiserError> {
    if backend.level(&ct) > REPLY_LEVEL {
        Ok(backend.drop_to_level(&ct, REPLY_LEVEL)?)
    } else {
        Ok(ct)
    }
}

/// Masks (or, with `invert`, unmasks) the two tiles of every ciphertext independently: the
/// real parts by `re[i]`, the imaginary parts by `im[i]`, as
/// `z′ = ((re + im)/2) ⊙ z + ((re − im)/2) ⊙ conj(z)`: one conjugation, two plaintext products
/// and one rescale per ciphertext (one level). With `invert` the masks are replaced by their
/// reciprocals. A single real mask on both parts would show the client the ratio of the two
/// values sharing a slot.
fn mask_parts<B: SlotBackend>(
    backend: &B,
    cts: &[B::Ct],
    re: &Masks,
    im: &Masks,
    invert: bool,
) -> Result<Vec<B::Ct>, DenoiserError> {
    if cts.len() != re.len() || cts.len() != im.len() {
        return Err(DenoiserError::Count {
            expected: re.len(),
            found: cts.len(),
        });
    }
    let pick = |x: f64| if invert { 1.0 / x } else { x };
    cts.iter()
        .zip(re.iter().zip(im))
        .map(|(ct, (r, i))| {
            let level = backend.level(ct);
            let (p, q): (Vec<f64>, Vec<f64>) = r
                .iter()
                .zip(i)
                .map(|(&a, &b)| ((pick(a) + pick(b)) / 2.0, (pick(a) - pick(b)) / 2.0))
                .unzip();
            let (p, q) = backend.encode_weight_pair(&p, &q, level)?;
            let conj = backend.conjugate(ct)?;
            Ok(backend.dot_plain(&[ct, &conj], &[&p, &q])?)
        })
        .collect()
}

/// The linear model on ciphertexts: each ciphertext (two tiles) in, one out (one shot).
pub struct LinearHe {
    conv: PreparedConv,
}

impl LinearHe {
    pub fn new(model: &Denoiser, tile_w: usize, level: usize) -> Result<Self, DenoiserError> {
        let [conv] = model.layers.as_slice() else {
            return Err(DenoiserError::Invalid {
                model: model.kind.name().into(),
                what: "the one-shot path needs a single convolution".into(),
            });
        };
        Ok(Self {
            conv: PreparedConv::new(&residual_conv(conv), 1.0, tile_w, level)?,
        })
    }

    /// The denoised tiles, at `REPLY_LEVEL` (two per ciphertext, see
    /// [`TILES_PER_CIPHERTEXT`]; the server cannot tell and need not).
    pub fn evaluate<B: SlotBackend>(
        &self,
        backend: &B,
        tiles: &[B::Ct],
    ) -> Result<Vec<B::Ct>, DenoiserError> {
        tiles
            .par_iter()
            .map(|t| to_reply_level(backend, self.conv.apply(backend, &[t])?.remove(0)))
            .collect()
    }
}

/// What the server sends after a step of the interactive protocol.
pub enum Step<Ct> {
    /// Masked, shuffled pre-activations for the client's ReLU (round `round`, 1-based).
    Masked { round: usize, cts: Vec<Ct> },
    /// The denoised tiles (two per ciphertext, in tile order).
    Done(Vec<Ct>),
}

/// Server-side state of one interactive evaluation between rounds.
pub struct Interactive<Ct> {
    /// Next layer to evaluate.
    layer: usize,
    tiles: usize,
    /// The input tiles, kept for the residual connection.
    residual: Vec<Ct>,
    /// Masks carried by the activations the client will return, `[tile][channel][slot]`
    /// (tile `2t` in the real parts of ciphertext `t`, tile `2t + 1` in its imaginary parts).
    masks: Option<Vec<Masks>>,
    /// `sent[j] = outputs[perm[j]]` with outputs indexed `ciphertext · channels + channel`.
    perm: Vec<usize>,
}

/// How the server hides pre-activations from the client.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaskPolicy {
    /// Mask with random positive scales (r ∈ [1/max_scale, max_scale], log-uniform).
    pub scale: bool,
    pub max_scale: f64,
    /// Shuffle the (tile, channel) ciphertexts of each round.
    pub shuffle: bool,
}

impl MaskPolicy {
    pub const DEFAULT: MaskPolicy = MaskPolicy {
        scale: true,
        max_scale: 4.0,
        shuffle: true,
    };
    /// No masking at all (tests: masked and unmasked runs must agree).
    pub const NONE: MaskPolicy = MaskPolicy {
        scale: false,
        max_scale: 1.0,
        shuffle: false,
    };
}

impl<Ct: Clone + Send + Sync> Interactive<Ct> {
    /// Starts an evaluation on the client's input tiles (at level ≥ `INTERACTIVE_LEVELS`, or
    /// `LEVELS_PER_CONV` with masking off).
    pub fn start<B: SlotBackend<Ct = Ct>>(
        backend: &B,
        model: &Denoiser,
        tile_w: usize,
        tiles: Vec<Ct>,
        policy: MaskPolicy,
        rng: &mut impl Rng,
    ) -> Result<(Self, Step<Ct>), DenoiserError> {
        let mut state = Self {
            layer: 0,
            tiles: tiles.len(),
            residual: tiles.clone(),
            masks: None,
            perm: Vec::new(),
        };
        let step = state.run_layer(backend, model, tile_w, tiles, policy, rng)?;
        Ok((state, step))
    }

    /// Continues with the client's activations (fresh ciphertexts, same order as sent).
    pub fn resume<B: SlotBackend<Ct = Ct>>(
        &mut self,
        backend: &B,
        model: &Denoiser,
        tile_w: usize,
        activations: Vec<Ct>,
        policy: MaskPolicy,
        rng: &mut impl Rng,
    ) -> Result<Step<Ct>, DenoiserError> {
        if self.layer == 0 || self.layer >= model.layers.len() {
            return Err(DenoiserError::Invalid {
                model: model.kind.name().into(),
                what: "no round is pending".into(),
            });
        }
        if activations.len() != self.perm.len() {
            return Err(DenoiserError::Count {
                expected: self.perm.len(),
                found: activations.len(),
            });
        }
        // Undo the shuffle.
        let mut restored: Vec<Option<Ct>> = vec![None; activations.len()];
        for (j, ct) in activations.into_iter().enumerate() {
            restored[self.perm[j]] = Some(ct);
        }
        let restored = restored.into_iter().flatten().collect::<Vec<_>>();
        self.run_layer(backend, model, tile_w, restored, policy, rng)
    }

    /// The round whose activations the server waits for (1-based; 0 before the first).
    pub fn pending_round(&self) -> usize {
        self.layer
    }

    /// How many activation ciphertexts the pending round needs (input ciphertexts × channels).
    pub fn pending_count(&self) -> usize {
        self.perm.len()
    }

    fn run_layer<B: SlotBackend<Ct = Ct>>(
        &mut self,
        backend: &B,
        model: &Denoiser,
        tile_w: usize,
        inputs: Vec<Ct>,
        policy: MaskPolicy,
        rng: &mut impl Rng,
    ) -> Result<Step<Ct>, DenoiserError> {
        let l = self.layer;
        let conv = &model.layers[l];
        if inputs.len() != self.tiles * conv.cin {
            return Err(DenoiserError::Count {
                expected: self.tiles * conv.cin,
                found: inputs.len(),
            });
        }
        let level = inputs.iter().map(|c| backend.level(c)).min().unwrap_or(0);
        let last = l + 1 == model.layers.len();
        // Two tiles per ciphertext, each with its own masks: `[2t]` real, `[2t + 1]` imaginary.
        let out_masks = (!last && policy.scale).then(|| {
            random_tile_masks(
                rng,
                TILES_PER_CIPHERTEXT * self.tiles,
                conv.cout,
                backend.slots(),
                policy.max_scale,
            )
        });
        let unmask = usize::from(self.masks.is_some());
        let needed = unmask + LEVELS_PER_CONV + usize::from(out_masks.is_some());
        if level < needed {
            return Err(DenoiserError::Levels {
                needed,
                available: level,
            });
        }
        let sign = if last { -1.0 } else { 1.0 };
        let prepared = PreparedConv::new(conv, sign, tile_w, level - unmask)?;
        let (in_masks, out_masks_ref) = (self.masks.as_ref(), out_masks.as_ref());
        // Owned per tile, so that each tile's inputs are freed as soon as they are used: the
        // round's peak memory is first touched, and that costs time.
        let mut inputs = inputs.into_iter();
        let groups: Vec<Vec<Ct>> = (0..self.tiles)
            .map(|_| inputs.by_ref().take(conv.cin).collect())
            .collect();
        let outputs = groups
            .into_par_iter()
            .enumerate()
            .map(|(t, x)| {
                let x = match in_masks {
                    Some(m) => {
                        let unmasked = mask_parts(backend, &x, &m[2 * t], &m[2 * t + 1], true)?;
                        drop(x);
                        unmasked
                    }
                    None => x,
                };
                let y = prepared.apply(backend, &x.iter().collect::<Vec<&Ct>>())?;
                drop(x);
                let y = match out_masks_ref {
                    Some(m) => mask_parts(backend, &y, &m[2 * t], &m[2 * t + 1], false)?,
                    None => y,
                };
                y.into_iter()
                    .map(|c| to_reply_level(backend, c))
                    .collect::<Result<Vec<_>, DenoiserError>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.layer += 1;
        self.masks = out_masks;
        if last {
            let done = outputs
                .into_iter()
                .zip(&self.residual)
                .map(|(mut y, x)| Ok(backend.add(&y.remove(0), x)?))
                .collect::<Result<Vec<_>, DenoiserError>>()?;
            return Ok(Step::Done(done));
        }
        let flat: Vec<Ct> = outputs.into_iter().flatten().collect();
        let mut perm: Vec<usize> = (0..flat.len()).collect();
        if policy.shuffle {
            perm.shuffle(rng);
        }
        let mut slots: Vec<Option<Ct>> = flat.into_iter().map(Some).collect();
        let cts = perm
            .iter()
            .map(|&i| slots[i].take())
            .collect::<Option<Vec<_>>>()
            .ok_or(DenoiserError::Count {
                expected: perm.len(),
                found: 0,
            })?;
        self.perm = perm;
        Ok(Step::Masked { round: l + 1, cts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::backend::{SimBackend, SimCt};

    #[test]
    fn the_two_tiles_of_a_ciphertext_get_independent_masks() {
        let slots = 8;
        let sim = SimBackend { slots };
        let (a, b): (Vec<f64>, Vec<f64>) = (0..slots)
            .map(|i| (i as f64 - 3.5, 2.0 - i as f64 * 0.25))
            .unzip();
        let ct = SimCt {
            values: a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| Complex64::new(x, y))
                .collect(),
            level: 2,
        };
        let re: Masks = vec![(0..slots).map(|i| 0.5 + i as f64 * 0.3).collect()];
        let im: Masks = vec![(0..slots).map(|i| 3.0 - i as f64 * 0.2).collect()];
        let masked = mask_parts(&sim, std::slice::from_ref(&ct), &re, &im, false).unwrap();
        assert_eq!(masked[0].level, 1, "one level");
        for i in 0..slots {
            let z = masked[0].values[i];
            assert!((z.re - re[0][i] * a[i]).abs() < 1e-12, "real part {i}");
            assert!((z.im - im[0][i] * b[i]).abs() < 1e-12, "imaginary part {i}");
        }
        // Unmasking with the same masks restores both tiles.
        let lifted = SimCt {
            level: 2,
            ..masked[0].clone()
        };
        let back = mask_parts(&sim, &[lifted], &re, &im, true).unwrap();
        for i in 0..slots {
            assert!((back[0].values[i] - ct.values[i]).norm() < 1e-12);
        }
        // Counts must match.
        assert!(mask_parts(&sim, &[ct.clone(), ct], &re, &im, false).is_err());
    }

    #[test]
    fn each_layer_shape_gets_the_plan_with_fewest_key_switches() {
        // The shipped nonlinear model: 5×5 1→16, 3×3 16→16 (twice), 5×5 16→1.
        assert_eq!(ConvPlan::for_shape(1, 16, 2), ConvPlan::RotateInputs);
        assert_eq!(ConvPlan::for_shape(16, 16, 1), ConvPlan::BabyGiant);
        assert_eq!(ConvPlan::for_shape(16, 1, 2), ConvPlan::RotateOutputs);
        // The linear model: one 13×13 filter.
        assert_eq!(ConvPlan::for_shape(1, 1, 6), ConvPlan::BabyGiant);
        assert!(ConvPlan::for_shape(3, 3, 0).rotations(0, 64).is_empty());
        assert_eq!(ConvPlan::BabyGiant.rotations(1, 64), vec![-1, -64, 1, 64]);
        assert_eq!(ConvPlan::RotateInputs.rotations(2, 64).len(), 24);
    }

    #[test]
    fn the_three_plans_compute_the_same_convolution() {
        let slots = 256;
        let (cin, cout, k) = (3, 2, 5);
        let weight: Vec<f64> = (0..cout * cin * k * k)
            .map(|i| ((i * 37 % 17) as f64 - 8.0) / 16.0)
            .collect();
        let conv = Conv {
            cin,
            cout,
            k,
            weight,
            bias: vec![0.25, -0.5],
        };
        let sim = SimBackend { slots };
        let inputs: Vec<SimCt> = (0..cin)
            .map(|c| {
                let v: Vec<f64> = (0..slots)
                    .map(|s| ((s * (c + 3)) % 29) as f64 / 29.0)
                    .collect();
                SimCt::real(&v, 1)
            })
            .collect();
        let refs: Vec<&SimCt> = inputs.iter().collect();
        let run = |plan| {
            let mut p = PreparedConv::new(&conv, 1.0, 16, 1).unwrap();
            p.plan = plan;
            p.apply(&sim, &refs).unwrap()
        };
        let want = run(ConvPlan::BabyGiant);
        for plan in [ConvPlan::RotateInputs, ConvPlan::RotateOutputs] {
            for (a, b) in run(plan).iter().zip(&want) {
                assert_eq!(a.level, 0);
                let d = a
                    .values
                    .iter()
                    .zip(&b.values)
                    .map(|(x, y)| (x - y).norm())
                    .fold(0.0, f64::max);
                assert!(d < 1e-12, "{plan:?} differs by {d:e}");
            }
        }
    }
}
