use sightline::default_model::default_model_files;
use sightline::loader::ModelFiles;
use sightline::Result;
use std::path::Path;

/// `--model PATH|default`: a Hugging Face CLIP folder, a .gguf file, or the embedded model.
pub fn model_files(model: &Path) -> Result<ModelFiles> {
    if model.as_os_str() == "default" {
        default_model_files()
    } else {
        ModelFiles::from_path(model)
    }
}
