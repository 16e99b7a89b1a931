//! Weights (safetensors, f32, PyTorch layout) and the JSON model description, plus the
//! models shipped in `assets/`.
//!
//! Tensor names: `{kind}.layers.{i}.weight` `[cout, cin, k, k]` and `{kind}.layers.{i}.bias`
//! `[cout]`, with `kind` = `linear` or `nonlinear`; both models live in one file.

use super::DenoiserError;
use super::plain::{Conv, Denoiser, ModelKind};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::collections::HashMap;

pub const ASSET_WEIGHTS: &[u8] = include_bytes!("../../../assets/denoiser.safetensors");
pub const ASSET_DESCRIPTION: &str = include_str!("../../../assets/denoiser.json");
pub const FORMAT: &str = "privact-denoiser/1";

/// Shape of one layer (public: the client needs it for tiling and rotation keys).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LayerSpec {
    pub cin: usize,
    pub cout: usize,
    pub k: usize,
    /// ReLU after this layer.
    pub relu: bool,
}

/// Quality at one dose on the validation images (intensities in [0, 1], abdomen window).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DoseMetrics {
    pub dose: f64,
    pub images: usize,
    pub psnr_in: f64,
    pub psnr_out: f64,
    pub ssim_in: f64,
    pub ssim_out: f64,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelDescription {
    pub kind: ModelKind,
    pub layers: Vec<LayerSpec>,
    /// Receptive-field radius R (zero padding and tile halo).
    pub radius: usize,
    pub parameters: usize,
    /// Largest |pre-activation| seen on the validation images (sizes the CKKS headroom).
    pub max_abs_preactivation: f64,
    #[serde(default)]
    pub validation: Vec<DoseMetrics>,
    /// The client's gain on the predicted noise as (estimated σ̂ in HU, α) knots:
    /// `out = x − α(σ̂)·f(x)`, applied in plaintext after decryption (`data::finish`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gain: Option<Vec<[f64; 2]>>,
    /// Scores on real low-dose / full-dose pairs (written by `train-denoiser --mayo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real_pairs: Option<serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Description {
    pub format: String,
    /// What the model's input and output intensities are.
    pub intensities: String,
    pub residual: String,
    pub models: Vec<ModelDescription>,
    /// Data, split and training settings (free-form, written by `train-denoiser`).
    #[serde(default)]
    pub training: serde_json::Value,
}

impl Description {
    pub fn parse(json: &str) -> Result<Self, DenoiserError> {
        let d: Description =
            serde_json::from_str(json).map_err(|e| DenoiserError::Description(e.to_string()))?;
        if d.format != FORMAT {
            return Err(DenoiserError::Description(format!(
                "format {:?}, expected {FORMAT:?}",
                d.format
            )));
        }
        Ok(d)
    }

    pub fn model(&self, kind: ModelKind) -> Result<&ModelDescription, DenoiserError> {
        self.models
            .iter()
            .find(|m| m.kind == kind)
            .ok_or_else(|| DenoiserError::Description(format!("no {} model", kind.name())))
    }
}

/// Layer shapes of a model.
pub fn specs(model: &Denoiser) -> Vec<LayerSpec> {
    let n = model.layers.len();
    model
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| LayerSpec {
            cin: l.cin,
            cout: l.cout,
            k: l.k,
            relu: i + 1 != n,
        })
        .collect()
}

fn f32_bytes(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|&x| (x as f32).to_le_bytes()).collect()
}

/// Serialises models into one safetensors file.
pub fn to_safetensors(models: &[&Denoiser]) -> Result<Vec<u8>, DenoiserError> {
    let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for m in models {
        for (i, l) in m.layers.iter().enumerate() {
            let p = format!("{}.layers.{i}", m.kind.name());
            owned.push((
                format!("{p}.weight"),
                vec![l.cout, l.cin, l.k, l.k],
                f32_bytes(&l.weight),
            ));
            owned.push((format!("{p}.bias"), vec![l.cout], f32_bytes(&l.bias)));
        }
    }
    let views = owned
        .iter()
        .map(|(n, s, d)| {
            TensorView::new(Dtype::F32, s.clone(), d)
                .map(|v| (n.clone(), v))
                .map_err(|e| DenoiserError::Safetensors(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let meta = HashMap::from([("format".to_string(), FORMAT.to_string())]);
    safetensors::serialize(views, Some(meta)).map_err(|e| DenoiserError::Safetensors(e.to_string()))
}

fn read_f32(st: &SafeTensors, name: &str, shape: &[usize]) -> Result<Vec<f64>, DenoiserError> {
    let t = st
        .tensor(name)
        .map_err(|e| DenoiserError::Safetensors(format!("{name}: {e}")))?;
    if t.dtype() != Dtype::F32 {
        return Err(DenoiserError::Safetensors(format!(
            "{name}: dtype {:?}, expected F32",
            t.dtype()
        )));
    }
    if t.shape() != shape {
        return Err(DenoiserError::Safetensors(format!(
            "{name}: shape {:?}, expected {shape:?}",
            t.shape()
        )));
    }
    Ok(t.data()
        .chunks_exact(4)
        .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
        .collect())
}

/// Loads the model `kind` with the layer shapes `layers` from a safetensors file.
pub fn from_safetensors(
    bytes: &[u8],
    kind: ModelKind,
    layers: &[LayerSpec],
) -> Result<Denoiser, DenoiserError> {
    let st =
        SafeTensors::deserialize(bytes).map_err(|e| DenoiserError::Safetensors(e.to_string()))?;
    let convs = layers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let p = format!("{}.layers.{i}", kind.name());
            Ok(Conv {
                cin: s.cin,
                cout: s.cout,
                k: s.k,
                weight: read_f32(&st, &format!("{p}.weight"), &[s.cout, s.cin, s.k, s.k])?,
                bias: read_f32(&st, &format!("{p}.bias"), &[s.cout])?,
            })
        })
        .collect::<Result<Vec<_>, DenoiserError>>()?;
    let relu_ok = layers
        .iter()
        .enumerate()
        .all(|(i, s)| s.relu == (i + 1 != layers.len()));
    if !relu_ok {
        return Err(DenoiserError::Description(
            "ReLU must follow every layer but the last".into(),
        ));
    }
    Denoiser::new(kind, convs)
}

/// The shipped description.
pub fn builtin_description() -> Result<Description, DenoiserError> {
    Description::parse(ASSET_DESCRIPTION)
}

/// A shipped model.
pub fn builtin(kind: ModelKind) -> Result<Denoiser, DenoiserError> {
    let d = builtin_description()?;
    from_safetensors(ASSET_WEIGHTS, kind, &d.model(kind)?.layers)
}
