//! The activation functions of the op vocabulary, named as checkpoints' configs name them
//! (`hidden_act`, `projector_hidden_act`).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    /// x · σ(1.702 x), the original CLIP's.
    #[serde(rename = "quick_gelu")]
    QuickGelu,
    /// Exact GELU, x · Φ(x).
    #[serde(rename = "gelu")]
    Gelu,
    /// The tanh approximation of GELU.
    #[serde(rename = "gelu_pytorch_tanh", alias = "gelu_new")]
    GeluTanh,
    /// x · σ(x), Llama's (in its gated MLP, SwiGLU).
    #[serde(rename = "silu", alias = "swish")]
    Silu,
}

impl Activation {
    /// The activation a config names, or a clear error listing the supported names.
    pub fn from_config_name(name: &str) -> Result<Activation> {
        serde_json::from_value(serde_json::Value::String(name.to_string())).map_err(|_| {
            Error::Config(format!(
                "hidden_act `{name}` is not supported (supported: quick_gelu, gelu, gelu_new, gelu_pytorch_tanh, silu, swish)"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_names_map_to_activations() {
        for (name, act) in [("silu", Activation::Silu), ("swish", Activation::Silu), ("gelu_new", Activation::GeluTanh)]
        {
            assert_eq!(Activation::from_config_name(name).unwrap(), act);
        }
        let error = Activation::from_config_name("relu").unwrap_err().to_string();
        assert!(error.contains("`relu` is not supported") && error.contains("silu"), "{error}");
    }
}
