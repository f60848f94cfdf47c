//! Pipeline definitions: the CodePipeline-shaped format, its parsing from YAML or JSON with
//! positions, validation against the daemon's catalog, and import of
//! `aws codepipeline get-pipeline` output. Pure: no I/O, no async; imports only serde,
//! serde_json and yaml-rust2.
//!
//! `load` is the way in: `parse` (text to the spanned `tree`, through yaml-rust2's event
//! parser), `decode`/`decode_action`/`decode_config` (tree to `Pipeline`, by hand, with
//! the shorthands and `import`'s get-pipeline handling), then `validate` (rules across the
//! pipeline, and `catalog` for who runs each action). Every problem becomes a `Diagnostic`
//! at `file:line:col`; `limits` holds CodePipeline's limits. `decode_trigger` reads V2
//! `triggers`, whose patterns `glob` compiles (the one use of `globset`).

pub mod action_type;
pub mod catalog;
mod decode;
mod decode_action;
mod decode_config;
mod decode_trigger;
pub mod definition;
pub mod diagnostic;
mod fields;
pub mod glob;
mod import;
pub mod limits;
mod load;
mod parse;
mod tree;
mod validate;
pub mod variables;

#[cfg(test)]
mod tests;

pub use action_type::{ActionType, ActionTypeKey};
pub use catalog::{Catalog, Executor, ServerEntry, ServerKind};
pub use decode_trigger::poll_interval;
pub use definition::*;
pub use diagnostic::Diagnostic;
pub use load::{load, Loaded};
