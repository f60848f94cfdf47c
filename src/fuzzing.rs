//! Shared strategies for the property-based fuzz tests of every parser that reads outside
//! input (definitions, the daemon config, CI servers' answers and callbacks): arbitrary
//! text, and valid samples mangled byte by byte. Each target asserts that it returns at
//! all, within a time bound, whatever it is given. `PROPTEST_CASES` sets the number of
//! cases (256 by default); see RELIABILITY.md.

use std::time::{Duration, Instant};

use proptest::prelude::*;

/// The longest one parse of one input may take, debug build included.
const BOUND: Duration = Duration::from_secs(2);

/// Runs `parse` and fails the case if it took longer than the bound.
pub fn bounded<T>(what: &str, parse: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = parse();
    let took = started.elapsed();
    assert!(took < BOUND, "{what} took {took:?}");
    out
}

/// One edit of a document.
#[derive(Debug, Clone)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Replace { at: usize, byte: u8 },
    Repeat { at: usize, len: usize, times: usize },
    Truncate { at: usize },
}

/// Bytes that mean something to JSON, YAML or XML, so edits often make near-valid input.
const SYNTAX: &[u8] = b"{}[]<>:,\"'&*!|-#%@`/\\=? \n\t0aZ\xff";

fn edit() -> impl Strategy<Value = Edit> {
    let byte = prop_oneof![proptest::sample::select(SYNTAX), any::<u8>()];
    prop_oneof![
        (any::<usize>(), 1..16usize).prop_map(|(at, len)| Edit::Delete { at, len }),
        (
            any::<usize>(),
            proptest::collection::vec(byte.clone(), 1..8)
        )
            .prop_map(|(at, bytes)| Edit::Insert { at, bytes }),
        (any::<usize>(), byte).prop_map(|(at, byte)| Edit::Replace { at, byte }),
        (any::<usize>(), 1..64usize, 2..64usize).prop_map(|(at, len, times)| Edit::Repeat {
            at,
            len,
            times
        }),
        any::<usize>().prop_map(|at| Edit::Truncate { at }),
    ]
}

fn apply(mut doc: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let at = |i: usize, doc: &Vec<u8>| {
            if doc.is_empty() {
                0
            } else {
                i % (doc.len() + 1)
            }
        };
        match edit {
            Edit::Delete { at: i, len } => {
                let start = at(*i, &doc);
                let end = (start + len).min(doc.len());
                doc.drain(start..end);
            }
            Edit::Insert { at: i, bytes } => {
                let start = at(*i, &doc);
                doc.splice(start..start, bytes.iter().copied());
            }
            Edit::Replace { at: i, byte } => {
                if !doc.is_empty() {
                    let i = i % doc.len();
                    doc[i] = *byte;
                }
            }
            Edit::Repeat { at: i, len, times } => {
                let start = at(*i, &doc);
                let end = (start + len).min(doc.len());
                let piece = doc[start..end].to_vec();
                let copies: Vec<u8> = piece.repeat(*times);
                doc.splice(end..end, copies);
            }
            Edit::Truncate { at: i } => {
                let end = at(*i, &doc);
                doc.truncate(end);
            }
        }
    }
    doc
}

/// One of `samples`, mangled by up to eight edits.
pub fn mutated(samples: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::sample::select(samples),
        proptest::collection::vec(edit(), 0..8),
    )
        .prop_map(|(sample, edits)| apply(sample.as_bytes().to_vec(), &edits))
}

/// One of `samples` mangled, as text (invalid UTF-8 replaced), for parsers taking `&str`.
pub fn mutated_text(samples: &'static [&'static str]) -> impl Strategy<Value = String> {
    mutated(samples).prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// Arbitrary text, weighted towards the syntax of JSON, YAML and XML.
pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(proptest::sample::select(SYNTAX), 0..256)
            .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
        "[ \\[\\]{}:,\"'a-z0-9\n-]{0,256}",
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_wrap_their_positions_into_the_document() {
        let check = |edit: Edit, expected: &[u8]| {
            assert_eq!(
                apply(b"abc".to_vec(), std::slice::from_ref(&edit)),
                expected,
                "{edit:?}"
            );
            apply(Vec::new(), &[edit]);
        };
        check(Edit::Delete { at: 7, len: 9 }, b"abc");
        check(Edit::Delete { at: 1, len: 9 }, b"a");
        check(
            Edit::Insert {
                at: 100,
                bytes: b"xy".to_vec(),
            },
            b"xyabc",
        );
        check(
            Edit::Repeat {
                at: 1,
                len: 1,
                times: 3,
            },
            b"abbbbc",
        );
        check(Edit::Replace { at: 4, byte: b'!' }, b"a!c");
        check(Edit::Truncate { at: 6 }, b"ab");
    }
}
