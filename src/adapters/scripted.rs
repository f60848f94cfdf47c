//! Scripted CI adapter.
