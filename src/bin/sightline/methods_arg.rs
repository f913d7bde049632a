//! The `--methods` list shared by eval and drift.

use sightline::explain::Method;
use sightline::Result;

/// The named methods (comma-separated on the command line), or all of `every` when none is named.
pub fn parse_methods(names: Option<&[String]>, every: &[Method]) -> Result<Vec<Method>> {
    match names {
        Some(names) => names.iter().map(|name| name.trim().parse()).collect(),
        None => Ok(every.to_vec()),
    }
}
