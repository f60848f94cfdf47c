//! HTTP API.
pub mod dto;
