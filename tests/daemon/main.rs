//! End-to-end tests: the real `baton` binary, driven through its HTTP API and its CLI,
//! against local git repositories and the scripted CI simulator.

mod helpers;

mod auth;
mod control;
mod crash;
mod flows;
mod modes;
mod timeouts;
mod triggers;
mod validation;
