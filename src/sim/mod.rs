//! Simulators of the external systems Baton talks to, served over loopback HTTP for the
//! tests, the benchmarks and `baton demo`. Each one is a real server (the daemon under
//! test reaches it over the network, as it would a production CI server) with a handle
//! that tests use in-process to script it, inject faults and count what it received.
//!
//! `scripted` is a small generic CI server driven by run parameters; faithful Jenkins and
//! TeamCity simulators, built from `shared/reference/`, live beside it.

pub mod jenkins;
pub mod scripted;
pub mod teamcity;
