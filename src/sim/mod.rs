//! Simulators.
