//! The denoisers on packed slots, written once against `SlotBackend` (CKKS on the server, the
//! exact simulator in tests).
//!
//! Packing: one tile per ciphertext (row-major `tile_h × tile_w` slots), one channel per
//! ciphertext, so channel mixing is rotation-free. A k×k convolution is baby-step/giant-step:
//! each input channel is rotated by dx ∈ [−r, r] (hoisted: one decomposition, 2r key
//! switches), products with plaintext weights are accumulated per (output channel, dy), and
//! those 2r partial sums are rotated by dy·tile_w before one rescale. Rotation keys:
//! {±1..±r, ±tile_w..±r·tile_w}, the same for every tile and layer. Each convolution uses one
//! level, so the interactive protocol needs only one level per round.
//!
//! Masking (interactive nonlinear model): every pre-activation ciphertext the client will
//! decrypt, one per (tile, channel), is sent as `r ⊙ y` with its own fresh random positive
//! slot vector r (ReLU(r·y) = r·ReLU(y)); no two ciphertexts share a mask, so ratios between
//! tiles cancel nothing. r is folded into that tile's plaintext weights and bias, and 1/r into
//! the next layer's weights for the same tile (a rotation of the mask is a rotated
//! plaintext), so masking costs no homomorphic operation and no level, only encodings per
//! tile. All (tile, channel) ciphertexts of a round are shuffled together by a random
//! permutation the server undoes on the way back. SECURITY.md says what the client still
//! learns (the sign pattern, and magnitudes up to the mask range).

use super::DenoiserError;
use super::plain::{Conv, Denoiser};
use crate::ckks::EvalError;
use crate::model::backend::SlotBackend;
use rand::Rng;
use rand::seq::SliceRandom;
use rayon::prelude::*;

/// Levels each convolution consumes (and so each round, or the whole linear model).
pub const LEVELS_PER_LAYER: usize = 1;

/// Galois rotations that convolutions with the given kernel radii need on tiles of width
/// `tile_w`: exactly the keys the client generates.
pub fn rotations(radii: impl IntoIterator<Item = usize>, tile_w: usize) -> Vec<i64> {
    let mut v = Vec::new();
    for r in radii {
        let r = r as i64;
        for d in (-r..=r).filter(|&d| d != 0) {
            v.push(d);
            v.push(d * tile_w as i64);
        }
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// Rotations for a whole model.
pub fn model_rotations(model: &Denoiser, tile_w: usize) -> Vec<i64> {
    rotations(model.layers.iter().map(Conv::radius), tile_w)
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

/// Fresh, independent masks for every tile of a round: `[tile][channel][slot]`.
pub fn random_tile_masks(
    rng: &mut impl Rng,
    tiles: usize,
    channels: usize,
    slots: usize,
    max_scale: f64,
) -> Vec<Masks> {
    (0..tiles)
        .map(|_| random_masks(rng, channels, slots, max_scale))
        .collect()
}

/// One convolution with its weights encoded (masks folded in).
pub struct PreparedConv<P> {
    cin: usize,
    cout: usize,
    r: i64,
    tile_w: usize,
    level: usize,
    /// `pts[co][dy + r][ci][dx + r]`
    pts: Vec<Vec<Vec<Vec<P>>>>,
    /// `bias[co]`: a slot vector added after the rescale.
    bias: Vec<Vec<f64>>,
}

impl<P: Send + Sync> PreparedConv<P> {
    /// Encodes `sign · conv` for inputs at `level` that carry the scales `in_masks` (the
    /// output of the previous round), producing outputs scaled by `out_masks`.
    pub fn new<B: SlotBackend<Pt = P>>(
        backend: &B,
        conv: &Conv,
        sign: f64,
        tile_w: usize,
        level: usize,
        in_masks: Option<&Masks>,
        out_masks: Option<&Masks>,
    ) -> Result<Self, DenoiserError> {
        if level < LEVELS_PER_LAYER {
            return Err(DenoiserError::Levels {
                needed: LEVELS_PER_LAYER,
                available: level,
            });
        }
        let slots = backend.slots();
        let check = |m: Option<&Masks>, n: usize| match m {
            Some(m) if m.len() != n || m.iter().any(|v| v.len() != slots) => {
                Err(DenoiserError::Count {
                    expected: n,
                    found: m.len(),
                })
            }
            _ => Ok(()),
        };
        check(in_masks, conv.cin)?;
        check(out_masks, conv.cout)?;
        let r = conv.radius() as i64;
        let wrap = |i: i64| i.rem_euclid(slots as i64) as usize;
        // The masks each tap needs, shifted once per (channel, offset) rather than per tap:
        // out[co][dy + r][t] = r_out[co][t − dy·W], inv_in[ci][dx + r][t] = 1 / r_in[ci][t + dx].
        let shifted = |m: &[f64], by: i64, invert: bool| -> Vec<f64> {
            (0..slots as i64)
                .map(|t| {
                    let v = m[wrap(t + by)];
                    if invert { 1.0 / v } else { v }
                })
                .collect()
        };
        let out: Option<Vec<Vec<Vec<f64>>>> = out_masks.map(|m| {
            m.iter()
                .map(|mc| {
                    (-r..=r)
                        .map(|dy| shifted(mc, -dy * tile_w as i64, false))
                        .collect()
                })
                .collect()
        });
        let inv_in: Option<Vec<Vec<Vec<f64>>>> = in_masks.map(|m| {
            m.iter()
                .map(|mc| (-r..=r).map(|dx| shifted(mc, dx, true)).collect())
                .collect()
        });
        let (out, inv_in) = (out.as_ref(), inv_in.as_ref());
        let pts = (0..conv.cout)
            .into_par_iter()
            .map(|co| {
                (-r..=r)
                    .map(|dy| {
                        (0..conv.cin)
                            .map(|ci| {
                                (-r..=r)
                                    .map(|dx| {
                                        let w = sign * conv.w(co, ci, dy, dx);
                                        // P[t] = w · r_out[t − dy·W] / r_in[t + dx]
                                        let o = out.map(|o| &o[co][(dy + r) as usize]);
                                        let i = inv_in.map(|i| &i[ci][(dx + r) as usize]);
                                        let v: Vec<f64> = match (o, i) {
                                            (None, None) => vec![w; slots],
                                            (Some(o), None) | (None, Some(o)) => {
                                                o.iter().map(|x| w * x).collect()
                                            }
                                            (Some(o), Some(i)) => {
                                                o.iter().zip(i).map(|(x, y)| w * x * y).collect()
                                            }
                                        };
                                        backend.encode_weights(&v, level)
                                    })
                                    .collect::<Result<Vec<_>, _>>()
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let bias = (0..conv.cout)
            .map(|co| {
                let b = sign * conv.bias[co];
                match out_masks {
                    Some(m) => m[co].iter().map(|s| b * s).collect(),
                    None => vec![b; slots],
                }
            })
            .collect();
        Ok(Self {
            cin: conv.cin,
            cout: conv.cout,
            r,
            tile_w,
            level,
            pts,
            bias,
        })
    }

    /// The convolution of one tile: `cin` ciphertexts in, `cout` out (one level lower).
    pub fn apply<B: SlotBackend<Pt = P>>(
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
        (0..self.cout)
            .into_par_iter()
            .map(|co| {
                let parts = (-r..=r)
                    .into_par_iter()
                    .map(|dy| {
                        let pts = &self.pts[co][(dy + r) as usize];
                        let mut acc: Option<B::Ct> = None;
                        for (ci, row) in pts.iter().enumerate() {
                            // Zero taps add nothing (and would be transparent products).
                            for (j, pt) in
                                row.iter().enumerate().filter(|(_, p)| !backend.is_zero(p))
                            {
                                let x = &rots[ci][j];
                                match acc.as_mut() {
                                    None => acc = Some(backend.mul_plain(x, pt)?),
                                    Some(a) => backend.mul_plain_then_add(a, x, pt)?,
                                }
                            }
                        }
                        // A row of zero taps contributes nothing.
                        acc.map(|acc| {
                            if dy == 0 {
                                Ok(acc)
                            } else {
                                backend.rotate(&acc, dy * self.tile_w as i64)
                            }
                        })
                        .transpose()
                    })
                    .collect::<Result<Vec<_>, EvalError>>()?;
                let mut it = parts.into_iter().flatten();
                let mut y = it
                    .next()
                    .ok_or(EvalError::Transparent("every weight of a channel is zero"))?;
                for p in it {
                    y = backend.add(&y, &p)?;
                }
                let y = backend.rescale(&y)?;
                let b = backend.encode_like(&self.bias[co], &y)?;
                Ok(backend.add_plain(&y, &b)?)
            })
            .collect()
    }
}

/// The linear model on ciphertexts: one tile per ciphertext in, one out (one shot).
pub struct LinearHe<P> {
    conv: PreparedConv<P>,
}

impl<P: Send + Sync> LinearHe<P> {
    pub fn new<B: SlotBackend<Pt = P>>(
        backend: &B,
        model: &Denoiser,
        tile_w: usize,
        level: usize,
    ) -> Result<Self, DenoiserError> {
        let [conv] = model.layers.as_slice() else {
            return Err(DenoiserError::Invalid {
                model: model.kind.name().into(),
                what: "the one-shot path needs a single convolution".into(),
            });
        };
        Ok(Self {
            conv: PreparedConv::new(
                backend,
                &residual_conv(conv),
                1.0,
                tile_w,
                level,
                None,
                None,
            )?,
        })
    }

    pub fn evaluate<B: SlotBackend<Pt = P>>(
        &self,
        backend: &B,
        tiles: &[B::Ct],
    ) -> Result<Vec<B::Ct>, DenoiserError> {
        tiles
            .par_iter()
            .map(|t| Ok(self.conv.apply(backend, &[t])?.remove(0)))
            .collect()
    }
}

/// What the server sends after a step of the interactive protocol.
pub enum Step<Ct> {
    /// Masked, shuffled pre-activations for the client's ReLU (round `round`, 1-based).
    Masked { round: usize, cts: Vec<Ct> },
    /// The denoised tiles (one ciphertext per tile, in tile order).
    Done(Vec<Ct>),
}

/// Server-side state of one interactive evaluation between rounds.
pub struct Interactive<Ct> {
    /// Next layer to evaluate.
    layer: usize,
    tiles: usize,
    /// The input tiles, kept for the residual connection.
    residual: Vec<Ct>,
    /// Masks carried by the activations the client will return, `[tile][channel][slot]`.
    masks: Option<Vec<Masks>>,
    /// `sent[j] = outputs[perm[j]]` with outputs indexed `tile · channels + channel`.
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
    /// Starts an evaluation on the client's input tiles (at level ≥ 1).
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

    /// How many activation ciphertexts the pending round needs (tiles × channels).
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
        let out_masks = (!last && policy.scale).then(|| {
            random_tile_masks(
                rng,
                self.tiles,
                conv.cout,
                backend.slots(),
                policy.max_scale,
            )
        });
        let sign = if last { -1.0 } else { 1.0 };
        let outputs = match (self.masks.as_ref(), out_masks.as_ref()) {
            // Unmasked (tests only): one set of plaintexts serves every tile.
            (None, None) => {
                let prepared = PreparedConv::new(backend, conv, sign, tile_w, level, None, None)?;
                inputs
                    .par_chunks(conv.cin)
                    .map(|x| prepared.apply(backend, &x.iter().collect::<Vec<_>>()))
                    .collect::<Result<Vec<_>, _>>()?
            }
            // Masks differ per tile, so each tile gets its own plaintexts.
            (in_masks, out_masks) => inputs
                .par_chunks(conv.cin)
                .enumerate()
                .map(|(t, x)| {
                    PreparedConv::new(
                        backend,
                        conv,
                        sign,
                        tile_w,
                        level,
                        in_masks.map(|m| &m[t]),
                        out_masks.map(|m| &m[t]),
                    )?
                    .apply(backend, &x.iter().collect::<Vec<_>>())
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
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
