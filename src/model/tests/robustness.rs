//! No input makes `load` panic: truncations and byte-level mutations of valid documents,
//! garbage, deep nesting, huge numbers, odd keys and empty files all end in diagnostics.

use super::{catalog, check, errors, MINIMAL};
use crate::model::load;

const RELEASE: &str = include_str!("../../../config/pipelines/release.yaml");
const IMPORTED: &str = include_str!("../../../config/pipelines/imported-from-aws.json");

/// Loads `text`; the point is that it returns at all. Every error it reports must carry a
/// real position.
fn survives(text: &str) {
    if let Err(errors) = load("f", text, &catalog()) {
        assert!(!errors.is_empty());
        for error in errors {
            assert!(error.line >= 1 && error.column >= 1, "{error}");
            assert!(!error.message.ends_with('.'), "{error}");
        }
    }
}

fn char_boundaries(text: &str) -> impl Iterator<Item = usize> + '_ {
    (0..=text.len()).filter(|&i| text.is_char_boundary(i))
}

#[test]
fn every_truncation_of_the_examples_is_handled() {
    for text in [MINIMAL, RELEASE, IMPORTED] {
        for end in char_boundaries(text) {
            survives(&text[..end]);
        }
    }
}

#[test]
fn mutated_documents_are_handled() {
    // A small deterministic generator: the same mutations on every run.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let specials = [
        "{", "}", "[", "]", ":", "- ", "\n", "  ", "\"", "'", "#{", "&a ", "*a", "<<: ", "? ",
        "!!str ", "\t", "%", "é", "---\n", "|\n", ">\n",
    ];
    for text in [MINIMAL, RELEASE, IMPORTED] {
        let bounds: Vec<usize> = char_boundaries(text).collect();
        for _ in 0..600 {
            let at = bounds[(next() % bounds.len() as u64) as usize];
            let insert = specials[(next() % specials.len() as u64) as usize];
            let mut mutated = String::with_capacity(text.len() + insert.len());
            mutated.push_str(&text[..at]);
            mutated.push_str(insert);
            mutated.push_str(&text[at..]);
            survives(&mutated);
            // And with a run of characters removed.
            let end = bounds[(next() % bounds.len() as u64) as usize].max(at);
            survives(&format!("{}{}", &text[..at], &text[end..]));
        }
    }
}

#[test]
fn garbage_and_odd_documents_are_handled() {
    let long = "x".repeat(100_000);
    let deep_block: String = (0..200)
        .map(|depth| format!("{}- \n", "  ".repeat(depth)))
        .collect();
    for text in [
        "",
        " ",
        "\n\n\n",
        "~",
        "null",
        "42",
        "\"just a string\"",
        "[]",
        "[1, 2, 3]",
        "{}",
        "}{",
        ":",
        "- - - -",
        "\u{feff}name: p",
        "\0\0\0",
        "name: p\u{0}",
        "&a [*a]",
        "*unknown",
        "? ? ? x",
        "{[1]: 2, {a: b}: c}",
        "name: p\nstages: &s [*s]",
        "{\"name\": \"\\ud83d\\ude00\"}",
        "name: !!binary aGVsbG8=",
        "%YAML 1.2\n---\nname: p",
        "%TAG ! tag:example.com:\n--- !x\nname: p",
        &long,
        &deep_block,
        &"[".repeat(10_000),
        &"{a: ".repeat(10_000),
        &"- ".repeat(10_000),
    ] {
        survives(text);
    }
}

#[test]
fn huge_numbers_are_range_errors() {
    let text = MINIMAL.replace(
        "        provider: Jenkins\n",
        "        provider: Jenkins\n        runOrder: 123456789012345678901234567890\n        timeoutInMinutes: -99999999999999999999\n",
    );
    check(
        &text,
        &[
            "13:19: `runOrder` must be an integer between 1 and 999, found a number too large",
            "14:27: `timeoutInMinutes` must be an integer between 5 and 86400, found a number too large",
        ],
    );
    let text = MINIMAL.replace(
        "provider: Jenkins\n",
        "provider: Jenkins\n        runOrder: 1.5e300\n",
    );
    check(
        &text,
        &["13:19: `runOrder` must be an integer between 1 and 999, found a number"],
    );
}

#[test]
fn non_string_keys_and_non_mapping_documents_are_errors() {
    check(
        "? [a, b]\n: 1\nname: p\n",
        &[
            "1:1: pipeline is missing `stages`",
            "1:3: keys must be strings, found a list",
        ],
    );
    check("[1, 2]", &["1:1: pipeline must be a mapping, found a list"]);
    check("~", &["1:1: pipeline must be a mapping, found null"]);
    check(
        "",
        &["1:1: the document is empty; expected a pipeline definition"],
    );
    check(
        "name: p\nstages:\n  - name: x\n    actions:\n      - 5\n      - [a]\n",
        &[
            "3:3: a pipeline has 2 to 50 stages, found 1",
            "5:9: action must be a mapping, found a number",
            "6:9: action must be a mapping, found a list",
        ],
    );
}

#[test]
fn deep_nesting_is_one_diagnostic() {
    let deep = format!("name: {}{}", "[".repeat(70), "]".repeat(70));
    check(&deep, &["1:70: nesting is deeper than 64 levels"]);
}

#[test]
fn syntax_errors_are_one_diagnostic_with_the_parser_position() {
    let found = errors("name: p\nstages: [\n  {name: a\n");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains(": syntax error: "), "{found:?}");
    let found = errors("{\"name\": \"p\",, }");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("1:"), "{found:?}");
}
