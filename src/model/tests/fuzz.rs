//! Property-based fuzzing of `load` (parse, decode, validate): arbitrary text and mangled
//! valid definitions end in a pipeline or in positioned diagnostics, never a panic, and
//! quickly.

use proptest::prelude::*;

use super::{catalog, MINIMAL};
use crate::fuzzing::{bounded, mutated_text, text};
use crate::model::load;

const SAMPLES: &[&str] = &[
    MINIMAL,
    include_str!("../../../config/pipelines/release.yaml"),
    include_str!("../../../config/pipelines/demo.yaml"),
    include_str!("../../../config/pipelines/imported-from-aws.json"),
];

fn survives(text: &str) {
    if let Err(errors) = bounded("load", || load("f", text, &catalog())) {
        assert!(!errors.is_empty());
        for error in errors {
            assert!(error.line >= 1 && error.column >= 1, "{error}");
        }
    }
}

proptest! {
    #[test]
    fn any_text_loads_or_is_diagnosed(text in text()) {
        survives(&text);
    }

    #[test]
    fn mangled_definitions_load_or_are_diagnosed(text in mutated_text(SAMPLES)) {
        survives(&text);
    }
}
