//! The execution state machine: (definition, state, event, now) → (state', effects).
//! Pure and deterministic; imports `model` only (no tokio, sqlx or reqwest).

pub mod state;
