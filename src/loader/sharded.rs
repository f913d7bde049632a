//! Sharded safetensors checkpoints: `model.safetensors.index.json` maps every tensor to one shard
//! file, and the shards are read as one set. The index is as untrusted as the shards: its file
//! names must be plain names in the checkpoint's folder, every shard it names must be there, and
//! every tensor must be in the shard it names and nowhere else.

use super::safetensors::SafetensorsWeights;
use super::weight_bytes::WeightBytes;
use super::{HostTensor, WEIGHTS_INDEX_FILE};
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The index and the bytes of each shard it names, by file name.
#[derive(Clone, Debug)]
pub struct ShardedFiles {
    pub index_json: String,
    pub shards: Vec<(String, WeightBytes)>,
}

/// `model.safetensors.index.json`: tensor name → shard file name.
#[derive(Debug)]
pub struct ShardIndex {
    pub weight_map: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawIndex {
    weight_map: BTreeMap<String, String>,
}

impl ShardIndex {
    pub fn parse(json: &str) -> Result<Self> {
        let bad = |message: String| Error::Weights(format!("{WEIGHTS_INDEX_FILE}: {message}"));
        let raw: RawIndex = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        if raw.weight_map.is_empty() {
            return Err(bad("its weight_map names no tensor".into()));
        }
        for shard in raw.weight_map.values() {
            if !is_plain_file_name(shard) {
                return Err(bad(format!("shard `{shard}` is not a file name in the checkpoint's folder")));
            }
        }
        Ok(ShardIndex { weight_map: raw.weight_map })
    }

    /// Every shard the index names, once each, in name order.
    pub fn shard_names(&self) -> Vec<&str> {
        self.weight_map.values().map(String::as_str).collect::<BTreeSet<_>>().into_iter().collect()
    }
}

/// A name that stays inside its folder: no separators, no `..`, nothing hidden or empty.
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', ':', '\0'])
}

/// Every shard of a checkpoint, read as one set of tensors.
pub struct ShardedSafetensors<'a> {
    shards: Vec<SafetensorsWeights<'a>>,
    /// Each shard's file, to give back the pages of the tensors already read.
    files: Vec<&'a WeightBytes>,
    /// Tensor name → index into `shards`.
    location: HashMap<String, usize>,
}

impl<'a> ShardedSafetensors<'a> {
    pub fn from_files(files: &'a ShardedFiles) -> Result<Self> {
        let index = ShardIndex::parse(&files.index_json)?;
        let mut shards = Vec::new();
        let mut shard_files = Vec::new();
        let mut shard_of_name = HashMap::new();
        for name in index.shard_names() {
            let (_, bytes) = files.shards.iter().find(|(file, _)| file == name).ok_or_else(|| {
                Error::Weights(format!("{WEIGHTS_INDEX_FILE} names shard `{name}`, which is not in the checkpoint"))
            })?;
            shard_of_name.insert(name, shards.len());
            shards.push(SafetensorsWeights::from_file_bytes(name, bytes)?);
            shard_files.push(bytes);
        }
        let mut location = HashMap::with_capacity(index.weight_map.len());
        for (tensor, shard) in &index.weight_map {
            let at = shard_of_name[shard.as_str()];
            if !shards[at].contains(tensor) {
                return Err(Error::Weights(format!(
                    "{WEIGHTS_INDEX_FILE} puts tensor `{tensor}` in `{shard}`, which does not contain it"
                )));
            }
            location.insert(tensor.clone(), at);
        }
        let shard_names = index.shard_names();
        for (at, shard) in shards.iter().enumerate() {
            if let Some(stray) = shard.names().into_iter().find(|name| location.get(*name) != Some(&at)) {
                let listed = match location.get(stray) {
                    Some(other) => format!("the index puts it in `{}`", shard_names[*other]),
                    None => "the index does not list it".to_string(),
                };
                return Err(Error::Weights(format!("shard `{}` holds tensor `{stray}` but {listed}", shard_names[at])));
            }
        }
        Ok(ShardedSafetensors { shards, files: shard_files, location })
    }

    fn shard(&self, name: &str) -> Result<&SafetensorsWeights<'a>> {
        self.location.get(name).map(|&at| &self.shards[at]).ok_or_else(|| Error::MissingTensor(name.to_string()))
    }

    /// The tensor `name`, which must have exactly `expected` shape.
    pub fn get(&self, name: &str, expected: &[usize]) -> Result<HostTensor> {
        self.shard(name)?.get(name, expected)
    }

    /// The stored bytes of tensor `name` leave memory (when its shard is a mapped file).
    pub fn release(&self, name: &str) {
        if let Some(&at) = self.location.get(name) {
            if let Some(stored) = self.shards[at].tensor_bytes(name) {
                self.files[at].release(stored);
            }
        }
    }

    /// Everything read from the shards (headers included) leaves memory.
    pub fn release_all(&self) {
        for file in &self.files {
            file.release(file);
        }
    }

    /// The storage type of the first shard (see `SafetensorsWeights::dtype_name`).
    pub fn dtype_name(&self) -> &'static str {
        self.shards.iter().map(SafetensorsWeights::dtype_name).find(|d| *d != "unknown").unwrap_or("unknown")
    }

    /// Every tensor's name and shape, in name order.
    pub fn tensor_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut shapes: Vec<_> = self.shards.iter().flat_map(SafetensorsWeights::tensor_shapes).collect();
        shapes.sort();
        shapes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::tensor::{serialize, TensorView};
    use safetensors::Dtype;

    fn shard(tensors: &[(&str, f32)]) -> Vec<u8> {
        let bytes: Vec<Vec<u8>> = tensors.iter().map(|(_, v)| v.to_le_bytes().to_vec()).collect();
        let views: Vec<_> = tensors
            .iter()
            .zip(&bytes)
            .map(|((name, _), data)| (name.to_string(), TensorView::new(Dtype::F32, vec![1], data).unwrap()))
            .collect();
        serialize(views, None).unwrap()
    }

    fn files(index: &str, shards: Vec<(&str, Vec<u8>)>) -> ShardedFiles {
        ShardedFiles {
            index_json: index.to_string(),
            shards: shards.into_iter().map(|(name, bytes)| (name.to_string(), bytes.into())).collect(),
        }
    }

    const INDEX: &str =
        r#"{"metadata": {"total_size": 8}, "weight_map": {"a": "one.safetensors", "b": "two.safetensors"}}"#;

    #[test]
    fn shards_read_as_one_set() {
        let files =
            files(INDEX, vec![("one.safetensors", shard(&[("a", 1.5)])), ("two.safetensors", shard(&[("b", -2.0)]))]);
        let weights = ShardedSafetensors::from_files(&files).unwrap();
        assert_eq!(weights.get("a", &[1]).unwrap().data, [1.5]);
        assert_eq!(weights.get("b", &[1]).unwrap().data, [-2.0]);
        assert_eq!(weights.tensor_shapes(), [("a".to_string(), vec![1]), ("b".to_string(), vec![1])]);
        assert_eq!(weights.dtype_name(), "float32");
        assert!(matches!(weights.get("c", &[1]), Err(Error::MissingTensor(name)) if name == "c"));
    }

    #[test]
    fn inconsistent_shards_are_clear_errors() {
        let error = |files: ShardedFiles| ShardedSafetensors::from_files(&files).err().unwrap().to_string();
        let missing = error(files(INDEX, vec![("one.safetensors", shard(&[("a", 1.0)]))]));
        assert!(missing.contains("names shard `two.safetensors`, which is not in the checkpoint"), "{missing}");
        let moved = error(files(
            INDEX,
            vec![("one.safetensors", shard(&[("b", 1.0)])), ("two.safetensors", shard(&[("a", 1.0)]))],
        ));
        assert!(moved.contains("puts tensor `a` in `one.safetensors`, which does not contain it"), "{moved}");
        let stray = error(files(
            INDEX,
            vec![("one.safetensors", shard(&[("a", 1.0), ("z", 0.0)])), ("two.safetensors", shard(&[("b", 1.0)]))],
        ));
        assert!(stray.contains("holds tensor `z` but the index does not list it"), "{stray}");
        let twice = error(files(
            INDEX,
            vec![("one.safetensors", shard(&[("a", 1.0), ("b", 0.0)])), ("two.safetensors", shard(&[("b", 1.0)]))],
        ));
        assert!(twice.contains("holds tensor `b` but the index puts it in `two.safetensors`"), "{twice}");
        let broken = error(files(INDEX, vec![("one.safetensors", vec![1, 2, 3]), ("two.safetensors", shard(&[]))]));
        assert!(broken.contains("one.safetensors is not a valid safetensors file"), "{broken}");
    }

    #[test]
    fn bad_indexes_are_clear_errors() {
        let error = |json: &str| ShardIndex::parse(json).unwrap_err().to_string();
        assert!(error(r#"{"weight_map": {}}"#).contains("names no tensor"));
        assert!(error(r#"{"weight_map": {"a": "../secret"}}"#).contains("not a file name"));
        assert!(error(r#"{"weight_map": {"a": "/etc/passwd"}}"#).contains("not a file name"));
        assert!(error(r#"{"weight_map": {"a": ".."}}"#).contains("not a file name"));
        assert!(error(r#"{"metadata": {}}"#).contains("weight_map"));
        assert!(error("{").contains(WEIGHTS_INDEX_FILE));
        let two = ShardIndex::parse(INDEX).unwrap();
        assert_eq!(two.shard_names(), ["one.safetensors", "two.safetensors"]);
    }
}
