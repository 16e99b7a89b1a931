//! Typed classifier weights, read from (and written to) safetensors.
//!
//! Every tensor is f32, row-major, with PyTorch conventions: convolution weights are
//! `[out_channels, in_channels, k, k]`, linear weights `[out_features, in_features]`.
//! Batch-norm (if any was used in training) is already folded into the convolutions.

use std::collections::HashMap;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use super::{MIN_ACT_A, NUM_CLASSES};

/// Errors from reading a weights file. A bad file never panics.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The bytes are not a valid safetensors file.
    #[error("not a valid safetensors file: {0}")]
    Format(#[from] safetensors::SafeTensorError),
    /// A required tensor is absent.
    #[error("tensor `{0}` is missing")]
    Missing(String),
    /// A tensor is not f32.
    #[error("tensor `{name}` has dtype {found}, expected F32")]
    Dtype {
        /// Tensor name.
        name: String,
        /// Dtype found in the file.
        found: String,
    },
    /// A tensor has the wrong shape.
    #[error("tensor `{name}` has shape {found:?}, expected {expected:?}")]
    Shape {
        /// Tensor name.
        name: String,
        /// Shape the architecture needs.
        expected: Vec<usize>,
        /// Shape found in the file.
        found: Vec<usize>,
    },
    /// A tensor holds NaN or an infinity.
    #[error("tensor `{name}` holds a non-finite value at index {index}")]
    NonFinite {
        /// Tensor name.
        name: String,
        /// Flat index of the first bad value.
        index: usize,
    },
    /// A polynomial activation has a quadratic coefficient below [`MIN_ACT_A`].
    #[error("activation coefficient `{name}`[{index}] = {value} is below the minimum {MIN_ACT_A}")]
    ActivationA {
        /// Tensor name.
        name: String,
        /// Channel index.
        index: usize,
        /// The offending value.
        value: f32,
    },
    /// Writing a safetensors file failed.
    /// More Approx-CNN members than [`MAX_APPROX_MEMBERS`].
    #[error("the file holds more than {0} Approx-CNN members")]
    TooManyMembers(usize),
    /// Asked to write no member, or more than [`MAX_APPROX_MEMBERS`].
    #[error("cannot write {0} Approx-CNN members (1 to {MAX_APPROX_MEMBERS})")]
    MemberCount(usize),
    #[error("cannot serialise tensor `{name}`: {source}")]
    Serialize {
        /// Tensor name.
        name: String,
        /// The underlying error.
        source: safetensors::SafeTensorError,
    },
}

/// A 2-D convolution with square kernel, `weight` `[out, in, k, k]`, `bias` `[out]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2d {
    /// Flat `[out_channels, in_channels, kernel, kernel]` weights.
    pub weight: Vec<f32>,
    /// `[out_channels]` biases.
    pub bias: Vec<f32>,
    /// Output channels.
    pub out_channels: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Kernel side.
    pub kernel: usize,
    /// Stride (both directions).
    pub stride: usize,
    /// Zero padding (each side).
    pub padding: usize,
}

impl Conv2d {
    /// Weight at `[o, i, ky, kx]`.
    #[inline]
    pub fn w(&self, o: usize, i: usize, ky: usize, kx: usize) -> f32 {
        self.weight[((o * self.in_channels + i) * self.kernel + ky) * self.kernel + kx]
    }

    /// Output side for an input of side `n`.
    pub fn out_size(&self, n: usize) -> usize {
        (n + 2 * self.padding - self.kernel) / self.stride + 1
    }

    /// Weight shape `[out, in, k, k]`.
    pub fn weight_shape(&self) -> Vec<usize> {
        vec![
            self.out_channels,
            self.in_channels,
            self.kernel,
            self.kernel,
        ]
    }
}

/// A fully connected layer, `weight` `[out, in]`, `bias` `[out]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    /// Flat `[out_features, in_features]` weights.
    pub weight: Vec<f32>,
    /// `[out_features]` biases.
    pub bias: Vec<f32>,
    /// Output features.
    pub out_features: usize,
    /// Input features.
    pub in_features: usize,
}

/// Per-channel polynomial activation `a·y² + b·y + c`, with every `a ≥ MIN_ACT_A`.
#[derive(Debug, Clone, PartialEq)]
pub struct PolyActivation {
    /// Quadratic coefficients (≥ [`MIN_ACT_A`]).
    pub a: Vec<f32>,
    /// Linear coefficients.
    pub b: Vec<f32>,
    /// Constants.
    pub c: Vec<f32>,
}

impl PolyActivation {
    /// `a·y² + b·y + c` for channel `ch`, evaluated in f64.
    #[inline]
    pub fn eval(&self, ch: usize, y: f64) -> f64 {
        f64::from(self.a[ch]) * y * y + f64::from(self.b[ch]) * y + f64::from(self.c[ch])
    }
}

/// Approx-CNN layer sizes (fixed; the HE packing is written against them). The widths
/// (32, 64) were chosen by series-wise cross-validation (MODEL_CARD, "Wider networks").
pub mod approx_arch {
    /// Patchify conv output channels (a multiple of the packing's 8 blocks: four ciphertexts).
    pub const C1: usize = 32;
    /// Patchify kernel side = stride.
    pub const K1: usize = 8;
    /// Grid side after the patchify conv (256 / 8).
    pub const S1: usize = 32;
    /// Grid side after the 2×2 average pool.
    pub const S2: usize = 16;
    /// Second conv output channels (a multiple of 8: eight ciphertexts).
    pub const C2: usize = 64;
    /// Second conv kernel side (padding 1).
    pub const K2: usize = 3;
}

/// Ref-CNN conv stack: (name, out, in, kernel, stride, padding); each conv is followed by
/// ReLU, the first three by 2×2 max-pooling, the last by global average pooling, then `ref.fc`.
pub const REF_CONVS: [(&str, usize, usize, usize, usize, usize); 4] = [
    ("ref.conv1", 8, 1, 5, 2, 2),
    ("ref.conv2", 16, 8, 3, 1, 1),
    ("ref.conv3", 32, 16, 3, 1, 1),
    ("ref.conv4", 32, 32, 3, 1, 1),
];

/// Weights of the HE-friendly Approx-CNN (`approx.*`).
#[derive(Debug, Clone, PartialEq)]
pub struct ApproxCnnWeights {
    /// `approx.conv1`: `[32, 1, 8, 8]`, stride 8, no padding.
    pub conv1: Conv2d,
    /// `approx.act1.{a,b,c}`: `[32]`.
    pub act1: PolyActivation,
    /// `approx.conv2`: `[64, 32, 3, 3]`, stride 1, padding 1.
    pub conv2: Conv2d,
    /// `approx.act2.{a,b,c}`: `[64]`.
    pub act2: PolyActivation,
    /// `approx.fc`: `[3, 64]`.
    pub fc: Linear,
}

/// Weights of the conventional Ref-CNN (`ref.*`).
#[derive(Debug, Clone, PartialEq)]
pub struct RefCnnWeights {
    /// `ref.conv1` … `ref.conv4` (see [`REF_CONVS`]).
    pub convs: Vec<Conv2d>,
    /// `ref.fc`: `[3, 32]`.
    pub fc: Linear,
}

struct Reader<'a> {
    st: SafeTensors<'a>,
}

impl Reader<'_> {
    fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, WeightsError> {
        let t = self.st.tensor(name).map_err(|e| match e {
            safetensors::SafeTensorError::TensorNotFound(_) => WeightsError::Missing(name.into()),
            other => WeightsError::Format(other),
        })?;
        if t.dtype() != Dtype::F32 {
            return Err(WeightsError::Dtype {
                name: name.into(),
                found: format!("{:?}", t.dtype()),
            });
        }
        if t.shape() != shape {
            return Err(WeightsError::Shape {
                name: name.into(),
                expected: shape.to_vec(),
                found: t.shape().to_vec(),
            });
        }
        let values: Vec<f32> = t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(WeightsError::NonFinite {
                name: name.into(),
                index,
            });
        }
        Ok(values)
    }

    fn conv(
        &self,
        prefix: &str,
        out_channels: usize,
        in_channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Result<Conv2d, WeightsError> {
        Ok(Conv2d {
            weight: self.get(
                &format!("{prefix}.weight"),
                &[out_channels, in_channels, kernel, kernel],
            )?,
            bias: self.get(&format!("{prefix}.bias"), &[out_channels])?,
            out_channels,
            in_channels,
            kernel,
            stride,
            padding,
        })
    }

    fn linear(&self, prefix: &str, out: usize, inp: usize) -> Result<Linear, WeightsError> {
        Ok(Linear {
            weight: self.get(&format!("{prefix}.weight"), &[out, inp])?,
            bias: self.get(&format!("{prefix}.bias"), &[out])?,
            out_features: out,
            in_features: inp,
        })
    }

    fn act(&self, prefix: &str, channels: usize) -> Result<PolyActivation, WeightsError> {
        let a_name = format!("{prefix}.a");
        let a = self.get(&a_name, &[channels])?;
        // `!(x >= min)` also rejects NaN (already excluded above, but cheap to keep exact).
        if let Some(index) = a.iter().position(|&x| x < MIN_ACT_A) {
            return Err(WeightsError::ActivationA {
                name: a_name,
                index,
                value: a[index],
            });
        }
        Ok(PolyActivation {
            a,
            b: self.get(&format!("{prefix}.b"), &[channels])?,
            c: self.get(&format!("{prefix}.c"), &[channels])?,
        })
    }
}

/// Most Approx-CNN members a weights file may hold (an ensemble is a handful of seeds).
pub const MAX_APPROX_MEMBERS: usize = 16;

/// Tensor-name prefix of Approx-CNN member `k` of `count`: a single network is `approx`
/// (what training writes), ensemble members are `approx.0`, `approx.1`, ….
pub fn approx_prefix(k: usize, count: usize) -> String {
    if count == 1 {
        "approx".into()
    } else {
        format!("approx.{k}")
    }
}

fn approx_member(r: &Reader<'_>, prefix: &str) -> Result<ApproxCnnWeights, WeightsError> {
    use approx_arch::*;
    Ok(ApproxCnnWeights {
        conv1: r.conv(&format!("{prefix}.conv1"), C1, 1, K1, K1, 0)?,
        act1: r.act(&format!("{prefix}.act1"), C1)?,
        conv2: r.conv(&format!("{prefix}.conv2"), C2, C1, K2, 1, 1)?,
        act2: r.act(&format!("{prefix}.act2"), C2)?,
        fc: r.linear(&format!("{prefix}.fc"), NUM_CLASSES, C2)?,
    })
}

/// Parses the Approx-CNN member(s) and the Ref-CNN from a safetensors file. There is always
/// at least one member.
pub fn load(bytes: &[u8]) -> Result<(Vec<ApproxCnnWeights>, RefCnnWeights), WeightsError> {
    let r = Reader {
        st: SafeTensors::deserialize(bytes)?,
    };
    let names = r.st.names();
    let has = |name: &str| names.contains(&name);
    let approx = if has("approx.conv1.weight") {
        vec![approx_member(&r, "approx")?]
    } else {
        let count = (0..=MAX_APPROX_MEMBERS)
            .take_while(|k| has(&format!("approx.{k}.conv1.weight")))
            .count();
        if count > MAX_APPROX_MEMBERS {
            return Err(WeightsError::TooManyMembers(MAX_APPROX_MEMBERS));
        }
        if count == 0 {
            return Err(WeightsError::Missing("approx.conv1.weight".into()));
        }
        (0..count)
            .map(|k| approx_member(&r, &approx_prefix(k, count)))
            .collect::<Result<_, _>>()?
    };
    Ok((approx, ref_cnn(&r)?))
}

/// Parses the Ref-CNN alone, whatever Approx-CNN the file holds (a trainer reusing the
/// Ref-CNN of a file written for other Approx-CNN widths).
pub fn load_reference(bytes: &[u8]) -> Result<RefCnnWeights, WeightsError> {
    ref_cnn(&Reader {
        st: SafeTensors::deserialize(bytes)?,
    })
}

fn ref_cnn(r: &Reader<'_>) -> Result<RefCnnWeights, WeightsError> {
    let mut convs = Vec::with_capacity(REF_CONVS.len());
    for (name, out, inp, k, s, p) in REF_CONVS {
        convs.push(r.conv(name, out, inp, k, s, p)?);
    }
    let last = REF_CONVS[REF_CONVS.len() - 1].1;
    Ok(RefCnnWeights {
        convs,
        fc: r.linear("ref.fc", NUM_CLASSES, last)?,
    })
}

/// All tensors of the networks as (name, shape, values), in file order.
pub fn named_tensors(
    approx: &[ApproxCnnWeights],
    reference: &RefCnnWeights,
) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let mut out = Vec::new();
    let conv = |prefix: &str, c: &Conv2d, out: &mut Vec<_>| {
        out.push((
            format!("{prefix}.weight"),
            c.weight_shape(),
            c.weight.clone(),
        ));
        out.push((
            format!("{prefix}.bias"),
            vec![c.out_channels],
            c.bias.clone(),
        ));
    };
    let linear = |prefix: &str, l: &Linear, out: &mut Vec<_>| {
        out.push((
            format!("{prefix}.weight"),
            vec![l.out_features, l.in_features],
            l.weight.clone(),
        ));
        out.push((
            format!("{prefix}.bias"),
            vec![l.out_features],
            l.bias.clone(),
        ));
    };
    for (k, a) in approx.iter().enumerate() {
        let prefix = approx_prefix(k, approx.len());
        conv(&format!("{prefix}.conv1"), &a.conv1, &mut out);
        conv(&format!("{prefix}.conv2"), &a.conv2, &mut out);
        linear(&format!("{prefix}.fc"), &a.fc, &mut out);
        for (name, act) in [("act1", &a.act1), ("act2", &a.act2)] {
            for (s, v) in [("a", &act.a), ("b", &act.b), ("c", &act.c)] {
                out.push((format!("{prefix}.{name}.{s}"), vec![v.len()], v.clone()));
            }
        }
    }
    for (i, c) in reference.convs.iter().enumerate() {
        conv(&format!("ref.conv{}", i + 1), c, &mut out);
    }
    linear("ref.fc", &reference.fc, &mut out);
    out
}

/// Serialises both networks to safetensors bytes (the inverse of [`load`]).
pub fn to_safetensors(
    approx: &[ApproxCnnWeights],
    reference: &RefCnnWeights,
    metadata: Option<HashMap<String, String>>,
) -> Result<Vec<u8>, WeightsError> {
    if approx.is_empty() || approx.len() > MAX_APPROX_MEMBERS {
        return Err(WeightsError::MemberCount(approx.len()));
    }
    let tensors = named_tensors(approx, reference);
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(n, s, v)| (n, s, v.iter().flat_map(|x| x.to_le_bytes()).collect()))
        .collect();
    let mut views = Vec::with_capacity(bytes.len());
    for (name, shape, data) in &bytes {
        let view = TensorView::new(Dtype::F32, shape.clone(), data).map_err(|source| {
            WeightsError::Serialize {
                name: name.clone(),
                source,
            }
        })?;
        views.push((name.clone(), view));
    }
    safetensors::serialize(views, metadata).map_err(|source| WeightsError::Serialize {
        name: "<file>".into(),
        source,
    })
}
