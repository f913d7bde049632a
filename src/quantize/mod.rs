//! `sightline quantize`: a checkpoint (folder or GGUF) to one GGUF file whose linear weights are
//! in a ggml block format, with config.json, tokenizer.json, preprocessor_config.json (and a
//! generative checkpoint's processor, generation, tokenizer and chat-template files) in its
//! metadata. Quantization itself is candle's (`QTensor::quantize`).

mod plan;

pub use plan::{choose, QuantFormat, QuantizeOptions, TensorRole};

use crate::config::ModelFamily;
use crate::error::Result;
use crate::loader::gguf::{self, type_name, write_gguf, MetadataToWrite, TensorToWrite};
use crate::loader::{ModelFiles, QuantizedMatrix, Weights};
use candle_core::quantized::GgmlDType;
use serde::Serialize;

/// The type one tensor was stored as.
#[derive(Clone, Debug, Serialize)]
pub struct TensorChoice {
    pub name: String,
    pub shape: Vec<usize>,
    pub role: TensorRole,
    #[serde(serialize_with = "serialize_dtype")]
    pub dtype: GgmlDType,
    /// The type the plan preferred when its blocks did not fit the rows.
    #[serde(serialize_with = "serialize_optional_dtype")]
    pub fallback_from: Option<GgmlDType>,
}

fn serialize_dtype<S: serde::Serializer>(dtype: &GgmlDType, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(type_name(*dtype))
}

fn serialize_optional_dtype<S: serde::Serializer>(
    dtype: &Option<GgmlDType>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match dtype {
        Some(dtype) => s.serialize_str(type_name(*dtype)),
        None => s.serialize_none(),
    }
}

pub struct QuantizedModel {
    /// The GGUF file.
    pub bytes: Vec<u8>,
    pub tensors: Vec<TensorChoice>,
}

impl QuantizedModel {
    /// One line per storage type: how many tensors and values it holds.
    pub fn summary_lines(&self) -> Vec<String> {
        let mut types: Vec<GgmlDType> = Vec::new();
        for tensor in &self.tensors {
            if !types.contains(&tensor.dtype) {
                types.push(tensor.dtype);
            }
        }
        types
            .into_iter()
            .map(|dtype| {
                let chosen: Vec<&TensorChoice> = self.tensors.iter().filter(|t| t.dtype == dtype).collect();
                let values: usize = chosen.iter().map(|t| t.shape.iter().product::<usize>()).sum();
                format!("{:>5}: {:>4} tensors, {values} values", type_name(dtype), chosen.len())
            })
            .collect()
    }

    /// One line per kind of fallback: which format did not fit which row length, and how many
    /// tensors took which format instead.
    pub fn fallback_lines(&self) -> Vec<String> {
        let mut groups: Vec<(GgmlDType, GgmlDType, usize, Vec<&str>)> = Vec::new();
        for tensor in &self.tensors {
            let Some(preferred) = tensor.fallback_from else { continue };
            let row = tensor.shape.last().copied().unwrap_or(1);
            match groups.iter_mut().find(|g| g.0 == preferred && g.1 == tensor.dtype && g.2 == row) {
                Some(group) => group.3.push(&tensor.name),
                None => groups.push((preferred, tensor.dtype, row, vec![&tensor.name])),
            }
        }
        groups
            .into_iter()
            .map(|(preferred, used, row, names)| {
                let example = names.first().copied().unwrap_or_default();
                format!(
                    "{} tensors with rows of {row} values are {} instead of {} (blocks of {} do not divide {row}), e.g. {example}",
                    names.len(),
                    type_name(used),
                    type_name(preferred),
                    preferred.block_size(),
                )
            })
            .collect()
    }
}

/// Quantizes every tensor of `files` as the plan says and writes the GGUF file in memory.
pub fn quantize_model(files: &ModelFiles, options: &QuantizeOptions) -> Result<QuantizedModel> {
    let weights = Weights::from_files(&files.weights)?;
    let mut stored: Vec<(TensorChoice, Vec<u8>)> = Vec::new();
    for (name, shape) in weights.tensor_shapes() {
        let role = TensorRole::of(&name, &shape);
        let (dtype, fallback_from) = choose(role, &shape, options);
        let values = weights.get(&name, &shape)?.data;
        let bytes = encode(&values, &shape, dtype)?;
        // ggml tensors have at least one dimension: scalars (logit_scale) are stored as [1].
        let shape = if shape.is_empty() { vec![1] } else { shape };
        stored.push((TensorChoice { name, shape, role, dtype, fallback_from }, bytes));
    }
    // GGUF names architectures in lower case, as llama.cpp does.
    let gguf_architecture = match ModelFamily::from_config_json(&files.config_json)? {
        ModelFamily::Clip => "clip",
        ModelFamily::Llava => "llava",
    };
    let mut metadata = vec![
        (gguf::ARCHITECTURE_KEY, MetadataToWrite::String(gguf_architecture)),
        (gguf::NAME_KEY, MetadataToWrite::String(&files.name)),
        (gguf::QUANTIZATION_KEY, MetadataToWrite::String(options.format.name())),
        (gguf::CONFIG_KEY, MetadataToWrite::String(&files.config_json)),
    ];
    let tokenizer = std::str::from_utf8(&files.tokenizer_json)
        .map_err(|_| crate::Error::Tokenizer("tokenizer.json is not UTF-8 text".into()))?;
    metadata.push((gguf::TOKENIZER_KEY, MetadataToWrite::String(tokenizer)));
    if let Some(preprocessor) = &files.preprocessor_json {
        metadata.push((gguf::PREPROCESSOR_KEY, MetadataToWrite::String(preprocessor)));
    }
    for (key, text) in files.generative.gguf_entries() {
        metadata.push((key, MetadataToWrite::String(text)));
    }
    let tensors: Vec<TensorToWrite> = stored
        .iter()
        .map(|(choice, bytes)| TensorToWrite {
            name: &choice.name,
            shape: &choice.shape,
            dtype: choice.dtype,
            data: bytes,
        })
        .collect();
    let bytes = write_gguf(&metadata, &tensors)?;
    Ok(QuantizedModel { bytes, tensors: stored.into_iter().map(|(choice, _)| choice).collect() })
}

/// `values` in `dtype`, as a GGUF file stores them.
fn encode(values: &[f32], shape: &[usize], dtype: GgmlDType) -> Result<Vec<u8>> {
    Ok(match dtype {
        GgmlDType::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        GgmlDType::F16 => values.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect(),
        _ => {
            let cols = shape.last().copied().unwrap_or(1);
            QuantizedMatrix::quantize(values, values.len() / cols, cols, dtype)?.block_bytes().to_vec()
        }
    })
}
