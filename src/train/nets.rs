//! The two networks as candle graphs, with deterministic (ChaCha-seeded) initialisation.

use candle_core::{D, DType, Device, Result, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::classifier::weights::{
    ApproxCnnWeights, Conv2d, Linear, PolyActivation, REF_CONVS, RefCnnWeights, approx_arch::*,
};
use crate::model::classifier::{MIN_ACT_A, NUM_CLASSES};

fn normal(rng: &mut ChaCha8Rng, n: usize, std: f64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            // Box–Muller.
            let u1: f64 = rng.random::<f64>().max(1e-12);
            let u2: f64 = rng.random::<f64>();
            ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos() * std) as f32
        })
        .collect()
}

struct ConvVar {
    w: Var,
    b: Var,
    out: usize,
    inp: usize,
    k: usize,
    stride: usize,
    pad: usize,
}

impl ConvVar {
    fn new(
        rng: &mut ChaCha8Rng,
        dev: &Device,
        (out, inp, k, stride, pad): (usize, usize, usize, usize, usize),
    ) -> Result<Self> {
        let fan_in = inp * k * k;
        let w = Var::from_vec(
            normal(rng, out * fan_in, (2.0 / fan_in as f64).sqrt()),
            (out, inp, k, k),
            dev,
        )?;
        let b = Var::from_vec(vec![0f32; out], out, dev)?;
        Ok(Self {
            w,
            b,
            out,
            inp,
            k,
            stride,
            pad,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.conv2d(&self.w, self.pad, self.stride, 1, 1)?
            .broadcast_add(&self.b.reshape((1, self.out, 1, 1))?)
    }

    fn export(&self) -> Result<Conv2d> {
        Ok(Conv2d {
            weight: self.w.flatten_all()?.to_vec1()?,
            bias: self.b.to_vec1()?,
            out_channels: self.out,
            in_channels: self.inp,
            kernel: self.k,
            stride: self.stride,
            padding: self.pad,
        })
    }
}

struct LinearVar {
    w: Var,
    b: Var,
    out: usize,
    inp: usize,
}

impl LinearVar {
    fn new(rng: &mut ChaCha8Rng, dev: &Device, out: usize, inp: usize) -> Result<Self> {
        Ok(Self {
            w: Var::from_vec(
                normal(rng, out * inp, (1.0 / inp as f64).sqrt()),
                (out, inp),
                dev,
            )?,
            b: Var::from_vec(vec![0f32; out], out, dev)?,
            out,
            inp,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(&self.w.t()?)?.broadcast_add(&self.b)
    }

    fn export(&self) -> Result<Linear> {
        Ok(Linear {
            weight: self.w.flatten_all()?.to_vec1()?,
            bias: self.b.to_vec1()?,
            out_features: self.out,
            in_features: self.inp,
        })
    }
}

/// The Ref-CNN (see [`REF_CONVS`]).
pub struct RefNet {
    convs: Vec<ConvVar>,
    fc: LinearVar,
}

impl RefNet {
    /// Randomly initialised (He normal).
    pub fn new(seed: u64, dev: &Device) -> Result<Self> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut convs = Vec::new();
        for (_, out, inp, k, s, p) in REF_CONVS {
            convs.push(ConvVar::new(&mut rng, dev, (out, inp, k, s, p))?);
        }
        let last = REF_CONVS[REF_CONVS.len() - 1].1;
        let fc = LinearVar::new(&mut rng, dev, NUM_CLASSES, last)?;
        Ok(Self { convs, fc })
    }

    /// From exported weights (e.g. a shipped file), to use as a fixed teacher.
    pub fn from_weights(w: &RefCnnWeights, dev: &Device) -> Result<Self> {
        let conv = |c: &Conv2d| -> Result<ConvVar> {
            Ok(ConvVar {
                w: Var::from_vec(
                    c.weight.clone(),
                    (c.out_channels, c.in_channels, c.kernel, c.kernel),
                    dev,
                )?,
                b: Var::from_vec(c.bias.clone(), c.out_channels, dev)?,
                out: c.out_channels,
                inp: c.in_channels,
                k: c.kernel,
                stride: c.stride,
                pad: c.padding,
            })
        };
        Ok(Self {
            convs: w.convs.iter().map(conv).collect::<Result<_>>()?,
            fc: LinearVar {
                w: Var::from_vec(
                    w.fc.weight.clone(),
                    (w.fc.out_features, w.fc.in_features),
                    dev,
                )?,
                b: Var::from_vec(w.fc.bias.clone(), w.fc.out_features, dev)?,
                out: w.fc.out_features,
                inp: w.fc.in_features,
            },
        })
    }

    /// Trainable variables.
    pub fn vars(&self) -> Vec<Var> {
        let mut v: Vec<Var> = self
            .convs
            .iter()
            .flat_map(|c| [c.w.clone(), c.b.clone()])
            .collect();
        v.extend([self.fc.w.clone(), self.fc.b.clone()]);
        v
    }

    /// Logits `[B, 3]` for inputs `[B, 1, 256, 256]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        let last = self.convs.len() - 1;
        for (i, c) in self.convs.iter().enumerate() {
            h = c.forward(&h)?.relu()?;
            if i < last {
                h = h.max_pool2d(2)?;
            }
        }
        let h = h.flatten_from(2)?.mean(2)?;
        self.fc.forward(&h)
    }

    /// Plain weights for export.
    pub fn export(&self) -> Result<RefCnnWeights> {
        Ok(RefCnnWeights {
            convs: self
                .convs
                .iter()
                .map(ConvVar::export)
                .collect::<Result<_>>()?,
            fc: self.fc.export()?,
        })
    }
}

/// Polynomial activation with `a = MIN_ACT_A + softplus(raw)`.
struct PolyVar {
    raw_a: Var,
    b: Var,
    c: Var,
    ch: usize,
}

fn softplus(x: &Tensor) -> Result<Tensor> {
    // log(1 + e^x), stable: max(x, 0) + log(1 + e^{-|x|}).
    let pos = x.relu()?;
    let tail = (x.abs()?.neg()?.exp()? + 1.0)?.log()?;
    pos + tail
}

impl PolyVar {
    fn new(dev: &Device, ch: usize, a0: f64, b0: f32) -> Result<Self> {
        let raw = ((a0 - f64::from(MIN_ACT_A)).exp_m1()).ln() as f32;
        Ok(Self {
            raw_a: Var::from_vec(vec![raw; ch], ch, dev)?,
            b: Var::from_vec(vec![b0; ch], ch, dev)?,
            c: Var::from_vec(vec![0f32; ch], ch, dev)?,
            ch,
        })
    }

    fn a(&self) -> Result<Tensor> {
        softplus(&self.raw_a)? + f64::from(MIN_ACT_A)
    }

    fn forward(&self, y: &Tensor) -> Result<Tensor> {
        let shape = (1, self.ch, 1, 1);
        let a = self.a()?.reshape(shape)?;
        let b = self.b.reshape(shape)?;
        let c = self.c.reshape(shape)?;
        y.sqr()?
            .broadcast_mul(&a)?
            .add(&y.broadcast_mul(&b)?)?
            .broadcast_add(&c)
    }

    fn export(&self) -> Result<PolyActivation> {
        let a: Vec<f32> = self.a()?.to_vec1()?;
        Ok(PolyActivation {
            a: a.into_iter().map(|v| v.max(MIN_ACT_A)).collect(),
            b: self.b.to_vec1()?,
            c: self.c.to_vec1()?,
        })
    }
}

/// The Approx-CNN.
pub struct ApproxNet {
    conv1: ConvVar,
    act1: PolyVar,
    conv2: ConvVar,
    act2: PolyVar,
    fc: LinearVar,
}

/// Outputs of one Approx-CNN pass that the loss needs.
pub struct ApproxOut {
    /// Logits `[B, 3]`.
    pub logits: Tensor,
    /// Pre-activation 1 `[B, 8, 32, 32]`.
    pub pre1: Tensor,
    /// Pre-activation 2 `[B, 16, 16, 16]`.
    pub pre2: Tensor,
}

impl ApproxNet {
    /// Randomly initialised.
    pub fn new(seed: u64, dev: &Device) -> Result<Self> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Ok(Self {
            conv1: ConvVar::new(&mut rng, dev, (C1, 1, K1, K1, 0))?,
            act1: PolyVar::new(dev, C1, 0.1, 0.5)?,
            conv2: ConvVar::new(&mut rng, dev, (C2, C1, K2, 1, 1))?,
            act2: PolyVar::new(dev, C2, 0.1, 0.5)?,
            fc: LinearVar::new(&mut rng, dev, NUM_CLASSES, C2)?,
        })
    }

    /// Trainable variables.
    pub fn vars(&self) -> Vec<Var> {
        vec![
            self.conv1.w.clone(),
            self.conv1.b.clone(),
            self.act1.raw_a.clone(),
            self.act1.b.clone(),
            self.act1.c.clone(),
            self.conv2.w.clone(),
            self.conv2.b.clone(),
            self.act2.raw_a.clone(),
            self.act2.b.clone(),
            self.act2.c.clone(),
            self.fc.w.clone(),
            self.fc.b.clone(),
        ]
    }

    /// Current values of [`Self::vars`] (detached copies), e.g. to start a weight average.
    pub fn values(&self) -> Result<Vec<Tensor>> {
        self.vars()
            .iter()
            .map(|v| v.as_tensor().detach().copy())
            .collect()
    }

    /// Overwrites the variables with `values` (same order and shapes as [`Self::vars`]).
    pub fn set_values(&self, values: &[Tensor]) -> Result<()> {
        for (var, val) in self.vars().iter().zip(values) {
            var.set(val)?;
        }
        Ok(())
    }

    /// The patchify convolution (8×8, stride 8, no padding) as one matrix product over the
    /// non-overlapping patches: the same function as `conv2d`, with a much cheaper backward pass.
    fn patchify(&self, x: &Tensor) -> Result<Tensor> {
        let (b, _, h, w) = x.dims4()?;
        let (gh, gw) = (h / K1, w / K1);
        let patches = x
            .reshape((b, gh, K1, gw, K1))?
            .permute((0, 1, 3, 2, 4))?
            .contiguous()?
            .reshape((b, gh * gw, K1 * K1))?;
        let w1 = self.conv1.w.reshape((C1, K1 * K1))?;
        patches
            .broadcast_matmul(&w1.t()?)?
            .broadcast_add(&self.conv1.b)?
            .permute((0, 2, 1))?
            .contiguous()?
            .reshape((b, C1, gh, gw))
    }

    /// Forward pass for inputs `[B, 1, 256, 256]`.
    pub fn forward(&self, x: &Tensor) -> Result<ApproxOut> {
        let pre1 = self.patchify(x)?;
        let h = self.act1.forward(&pre1)?.avg_pool2d(2)?;
        let pre2 = self.conv2.forward(&h)?;
        let h = self.act2.forward(&pre2)?.flatten_from(2)?.mean(D::Minus1)?;
        let logits = self.fc.forward(&h)?;
        Ok(ApproxOut { logits, pre1, pre2 })
    }

    /// Plain weights for export.
    pub fn export(&self) -> Result<ApproxCnnWeights> {
        Ok(ApproxCnnWeights {
            conv1: self.conv1.export()?,
            act1: self.act1.export()?,
            conv2: self.conv2.export()?,
            act2: self.act2.export()?,
            fc: self.fc.export()?,
        })
    }
}

/// `mean(relu(|x| − limit)²)`: zero while every value stays within ±limit.
pub fn range_penalty(x: &Tensor, limit: f64) -> Result<Tensor> {
    (x.abs()? - limit)?
        .relu()?
        .sqr()?
        .to_dtype(DType::F32)?
        .mean_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patchify_matches_conv2d() -> Result<()> {
        let dev = Device::Cpu;
        let net = ApproxNet::new(3, &dev)?;
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let x = Tensor::from_vec(normal(&mut rng, 2 * 256 * 256, 1.0), (2, 1, 256, 256), &dev)?;
        let fast = net.patchify(&x)?;
        let conv = net.conv1.forward(&x)?;
        let diff: f32 = (fast - conv)?.abs()?.max_all()?.to_scalar()?;
        assert!(diff < 1e-4, "max difference {diff}");
        Ok(())
    }
}
