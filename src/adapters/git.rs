//! Git source.
