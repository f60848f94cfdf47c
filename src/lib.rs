//! Baton: release pipelines modelled on AWS CodePipeline, delegating builds, tests and
//! deploys to Jenkins and TeamCity. See ARCHITECTURE.md for the map of modules.

pub mod adapters;
pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod engine;
#[cfg(test)]
mod fuzzing;
pub mod model;
pub mod notify;
pub mod runtime;
pub mod service;
pub mod sim;
pub mod store;
pub mod triggers;
