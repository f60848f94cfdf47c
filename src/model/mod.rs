//! Pipeline definitions: the CodePipeline-shaped format, its parsing from YAML or JSON with
//! positions, validation against the daemon's catalog, and import of
//! `aws codepipeline get-pipeline` output. Pure: no I/O, no async; imports only serde.

pub mod catalog;
pub mod definition;
pub mod variables;

pub use catalog::{Catalog, Executor, ServerEntry, ServerKind};
pub use definition::*;
