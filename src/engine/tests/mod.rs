//! Unit tests of the engine's state machine, driven through `engine::apply` only.
//!
//! `harness` builds definitions and applies events at a hand-driven clock, checking the
//! engine's invariants (`invariants`) after every step. The other files cover one area
//! each: how an execution moves through stages and runOrder groups (`flow`), the modes
//! (`modes`), stage transitions (`transitions`), stop (`stop`), retry (`retry`), reports
//! from executors and timeouts (`actions`), manual approvals (`approvals`), variables
//! (`variables`), and determinism with randomly driven event sequences (`properties`).

mod actions;
mod approvals;
mod flow;
mod harness;
mod invariants;
mod modes;
mod properties;
mod retry;
mod stop;
mod transitions;
mod variables;
