use sightline::config::ModelFamily;
use sightline::default_model::default_model_files;
use sightline::loader::ModelFiles;
use sightline::{Error, Result};
use std::path::Path;

/// `--model PATH|default`: a Hugging Face CLIP folder, a .gguf file, or the embedded model.
pub fn model_files(model: &Path) -> Result<ModelFiles> {
    if model.as_os_str() == "default" {
        default_model_files()
    } else {
        ModelFiles::from_path(model)
    }
}

/// Errors, naming the command that fits, unless `files` hold a model of `family`.
pub fn require_family(files: &ModelFiles, family: ModelFamily) -> Result<()> {
    let found = ModelFamily::from_config_json(&files.config_json)?;
    if found == family {
        return Ok(());
    }
    Err(Error::UnsupportedArchitecture(match found {
        ModelFamily::Llava => format!(
            "{} is a generative LLaVA checkpoint: ask it a question with `sightline generate --model {} --prompt ...`",
            files.name, files.name
        ),
        ModelFamily::Clip => format!(
            "{} is a CLIP checkpoint, which scores images against labels: use `sightline explain --text ...`",
            files.name
        ),
    }))
}
