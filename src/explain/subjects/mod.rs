//! The model families' [`Subject`](super::subject::Subject) implementations: where a new family
//! plugs into the methods.

pub(super) mod clip;
pub(super) mod llava;
