//! The entry point: text in, a validated `Pipeline` (with notes) or every problem found out.
//! Parse to a spanned tree, decode by hand (shorthands and get-pipeline import included),
//! then validate against the catalog.

use super::catalog::Catalog;
use super::decode::decode;
use super::definition::Pipeline;
use super::diagnostic::{Diagnostic, Diagnostics};
use super::parse::parse;
use super::validate::validate;

/// A definition that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub pipeline: Pipeline,
    /// Warnings that do not stop the load, such as AWS-only fields that are ignored.
    pub notes: Vec<Diagnostic>,
}

/// Parses `text` (YAML or JSON, told apart by the parser, not by `file`'s name), applies
/// the shorthands, unwraps `aws codepipeline get-pipeline` output and validates the result
/// against `catalog`. On failure, every error found, sorted by position; `file` only names
/// the source in the diagnostics.
pub fn load(file: &str, text: &str, catalog: &Catalog) -> Result<Loaded, Vec<Diagnostic>> {
    let mut diags = Diagnostics::new(file);
    let Some(root) = parse(text, &mut diags) else {
        return Err(diags.into_sorted_errors());
    };
    let Some(decoded) = decode(&root, catalog, &mut diags) else {
        return Err(diags.into_sorted_errors());
    };
    validate(&decoded.pipeline, &decoded.spans, catalog, &mut diags);
    if diags.has_errors() {
        return Err(diags.into_sorted_errors());
    }
    Ok(Loaded {
        pipeline: decoded.pipeline,
        notes: diags.into_sorted_notes(),
    })
}
