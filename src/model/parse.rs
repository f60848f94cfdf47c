//! Text to spanned tree. YAML and JSON both go through `yaml-rust2`'s event parser (JSON is
//! YAML flow syntax), so positions come from one place whatever the format. The events are
//! pulled one at a time and the tree is built with an explicit stack: no recursion, so deep
//! nesting is refused with a diagnostic instead of overflowing the stack.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::diagnostic::{Diagnostics, Pos};
use super::tree::{Entry, Node, Scalar, Value};

/// Deepest nesting of lists and mappings accepted; a pipeline needs about ten.
pub const MAX_DEPTH: usize = 64;
/// Most values in one document, counting every expansion of an alias, so that a few
/// nested anchors cannot blow up into billions of nodes.
pub const MAX_NODES: usize = 100_000;

/// Parses `text` as one YAML (or JSON) document. Reports the first syntax error, nesting
/// too deep, too many values or an empty document into `diags`, and returns `None` then.
pub(crate) fn parse(text: &str, diags: &mut Diagnostics) -> Option<Node> {
    // The parser is third-party code fed untrusted input; if it ever panics, the daemon
    // must answer with a diagnostic rather than lose the request's task.
    let outcome = catch_unwind(AssertUnwindSafe(|| Builder::default().run(text)));
    match outcome {
        Ok(Ok(Some(root))) => Some(root),
        Ok(Ok(None)) => {
            diags.error(
                Pos::START,
                "the document is empty; expected a pipeline definition",
            );
            None
        }
        Ok(Err((pos, message))) => {
            diags.error(pos, message);
            None
        }
        Err(_) => {
            diags.error(Pos::START, "the YAML parser failed on this document");
            None
        }
    }
}

type Failure = (Pos, String);

fn pos_of(mark: &Marker) -> Pos {
    // yaml-rust2 counts lines from 1 and columns from 0.
    Pos::new(mark.line(), mark.col() + 1)
}

struct Frame {
    pos: Pos,
    index: usize,
    anchor: usize,
    /// Whether the first child's start was seen (block mappings report their start one
    /// character into the first key; the key's own position is the right one).
    started: bool,
    kind: FrameKind,
}

impl Frame {
    fn is_map(&self) -> bool {
        matches!(self.kind, FrameKind::Map { .. })
    }
}

enum FrameKind {
    Seq(Vec<Node>),
    Map {
        entries: Vec<Entry>,
        key: Option<Node>,
    },
}

/// An anchored node with its size and its height in nested lists and mappings.
struct Anchored {
    node: Node,
    size: usize,
    height: usize,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    anchors: HashMap<usize, Anchored>,
    nodes: usize,
    documents: usize,
}

impl Builder {
    fn run(mut self, text: &str) -> Result<Option<Node>, Failure> {
        let mut parser = Parser::new_from_str(text);
        loop {
            let (event, mark) = parser
                .next_token()
                .map_err(|e| (pos_of(e.marker()), format!("syntax error: {}", e.info())))?;
            let pos = pos_of(&mark);
            if let Some(frame) = self.stack.last() {
                if self.stack.len() > MAX_DEPTH {
                    // Reported one event late, so that a block mapping is placed at its
                    // first key like every other mapping.
                    let at = if frame.is_map() && mark.index() < frame.index {
                        pos
                    } else {
                        frame.pos
                    };
                    return Err((at, format!("nesting is deeper than {MAX_DEPTH} levels")));
                }
            }
            match event {
                Event::StreamEnd => return Ok(self.root),
                Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
                Event::DocumentStart => {
                    self.documents += 1;
                    if self.documents > 1 {
                        return Err((
                            pos,
                            "expected one document, found a second one after `---`".into(),
                        ));
                    }
                }
                Event::Alias(id) => {
                    self.child_starts(&mark);
                    let Some(anchored) = self.anchors.get(&id) else {
                        return Err((pos, "alias refers to an anchor that is not defined".into()));
                    };
                    // Depth and size are checked before copying: an alias may not nest the
                    // tree deeper than the limit (the tree is walked recursively later), nor
                    // copy past the value budget.
                    if self.stack.len() + anchored.height > MAX_DEPTH {
                        return Err((pos, format!("nesting is deeper than {MAX_DEPTH} levels")));
                    }
                    let (size, value) = (anchored.size, anchored.node.value.clone());
                    self.count(size, pos)?;
                    self.complete(Node { pos, value });
                }
                Event::Scalar(text, style, anchor, tag) => {
                    self.child_starts(&mark);
                    self.count(1, pos)?;
                    let node = Node {
                        pos,
                        value: scalar_value(text, style, tag.as_ref()),
                    };
                    self.remember(anchor, &node);
                    self.complete(node);
                }
                Event::SequenceStart(anchor, _) => {
                    self.open(&mark, anchor, FrameKind::Seq(Vec::new()))?;
                }
                Event::MappingStart(anchor, _) => {
                    let kind = FrameKind::Map {
                        entries: Vec::new(),
                        key: None,
                    };
                    self.open(&mark, anchor, kind)?;
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let Some(frame) = self.stack.pop() else {
                        return Err((pos, "syntax error: unbalanced end of a collection".into()));
                    };
                    let value = match frame.kind {
                        FrameKind::Seq(items) => Value::Seq(items),
                        FrameKind::Map { entries, .. } => {
                            Value::Map(merge_keys(check_duplicates(entries)?))
                        }
                    };
                    let node = Node {
                        pos: frame.pos,
                        value,
                    };
                    self.remember(frame.anchor, &node);
                    self.complete(node);
                }
            }
        }
    }

    fn open(&mut self, mark: &Marker, anchor: usize, kind: FrameKind) -> Result<(), Failure> {
        self.child_starts(mark);
        let pos = pos_of(mark);
        self.count(1, pos)?;
        self.stack.push(Frame {
            pos,
            index: mark.index(),
            anchor,
            started: false,
            kind,
        });
        Ok(())
    }

    /// Moves a block mapping's position back to its first key, which starts before the
    /// position the parser reports for the mapping itself.
    fn child_starts(&mut self, mark: &Marker) {
        if let Some(frame) = self.stack.last_mut() {
            if !frame.started {
                frame.started = true;
                if frame.is_map() && mark.index() < frame.index {
                    frame.pos = pos_of(mark);
                }
            }
        }
    }

    fn count(&mut self, more: usize, pos: Pos) -> Result<(), Failure> {
        self.nodes = self.nodes.saturating_add(more);
        if self.nodes > MAX_NODES {
            return Err((
                pos,
                format!(
                    "the document holds more than {MAX_NODES} values (counting alias expansions)"
                ),
            ));
        }
        Ok(())
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor != 0 {
            let anchored = Anchored {
                node: node.clone(),
                size: node.size(),
                height: node.height(),
            };
            self.anchors.insert(anchor, anchored);
        }
    }

    fn complete(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame {
                kind: FrameKind::Seq(items),
                ..
            }) => items.push(node),
            Some(Frame {
                kind: FrameKind::Map { entries, key },
                ..
            }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push(Entry {
                    key: k,
                    value: node,
                }),
            },
        }
    }
}

fn scalar_value(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    let tagged_str = tag.is_some_and(|t| t.suffix == "str");
    let quoted = style != TScalarStyle::Plain || tagged_str;
    if !quoted && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL") {
        return Value::Null;
    }
    Value::Scalar(Scalar { text, quoted })
}

/// Two equal keys in one mapping are an error at the second one: YAML forbids them and
/// JSON parsers silently keep one, which hides mistakes.
fn check_duplicates(entries: Vec<Entry>) -> Result<Vec<Entry>, Failure> {
    let mut seen: HashMap<&str, Pos> = HashMap::new();
    for entry in &entries {
        if let Some(text) = entry.key.text() {
            if let Some(first) = seen.insert(text, entry.key.pos) {
                return Err((
                    entry.key.pos,
                    format!(
                        "duplicate key `{text}` (first at line {}, column {})",
                        first.line, first.column
                    ),
                ));
            }
        }
    }
    Ok(entries)
}

/// Applies YAML merge keys (`<<: *defaults`, or a list of aliases): keys from the merged
/// mappings are added unless the mapping already has them.
fn merge_keys(entries: Vec<Entry>) -> Vec<Entry> {
    let is_merge = |e: &Entry| {
        matches!(&e.key.value, Value::Scalar(s) if !s.quoted && s.text == "<<")
            && match &e.value.value {
                Value::Map(_) => true,
                Value::Seq(items) => items.iter().all(|i| i.as_map().is_some()),
                _ => false,
            }
    };
    if !entries.iter().any(is_merge) {
        return entries;
    }
    let (merges, mut own): (Vec<Entry>, Vec<Entry>) = entries.into_iter().partition(is_merge);
    for merge in merges {
        let sources = match merge.value.value {
            Value::Map(inner) => vec![inner],
            Value::Seq(items) => items
                .into_iter()
                .filter_map(|i| match i.value {
                    Value::Map(inner) => Some(inner),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        for inner in sources {
            for entry in inner {
                let present = own
                    .iter()
                    .any(|e| e.key.text().is_some() && e.key.text() == entry.key.text());
                if !present {
                    own.push(entry);
                }
            }
        }
    }
    own
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> Result<Node, String> {
        let mut diags = Diagnostics::new("t");
        parse(text, &mut diags).ok_or_else(|| {
            diags
                .errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    fn positions(node: &Node, out: &mut Vec<String>) {
        match &node.value {
            Value::Null => out.push(format!("{} null", node.pos)),
            Value::Scalar(s) => out.push(format!("{} {}", node.pos, s.text)),
            Value::Seq(items) => {
                out.push(format!("{} [", node.pos));
                items.iter().for_each(|i| positions(i, out));
            }
            Value::Map(entries) => {
                out.push(format!("{} {{", node.pos));
                for e in entries {
                    positions(&e.key, out);
                    positions(&e.value, out);
                }
            }
        }
    }

    fn check(text: &str, expected: &[&str]) {
        let node = tree(text).unwrap();
        let mut out = Vec::new();
        positions(&node, &mut out);
        assert_eq!(out, expected);
    }

    #[test]
    fn block_yaml_positions_are_one_based_and_mappings_start_at_their_first_key() {
        check(
            "name: p\nstages:\n  - name: s\n    x: ~\n",
            &[
                "1:1 {",
                "1:1 name",
                "1:7 p",
                "2:1 stages",
                "3:3 [",
                "3:5 {",
                "3:5 name",
                "3:11 s",
                "4:5 x",
                "4:8 null",
            ],
        );
    }

    #[test]
    fn json_positions_point_at_braces_and_values() {
        check(
            "{\n  \"a\": [1, {\"b\": null}]\n}",
            &[
                "1:1 {",
                "2:3 a",
                "2:8 [",
                "2:9 1",
                "2:12 {",
                "2:13 b",
                "2:18 null",
            ],
        );
    }

    #[test]
    fn syntax_errors_carry_their_position() {
        let err = tree("a: [1\n").unwrap_err();
        assert!(err.starts_with("t:2:1: syntax error: "), "{err}");
    }

    #[test]
    fn empty_and_comment_only_documents_are_reported() {
        for text in ["", "   \n", "# only a comment\n"] {
            assert_eq!(
                tree(text).unwrap_err(),
                "t:1:1: the document is empty; expected a pipeline definition"
            );
        }
    }

    #[test]
    fn a_second_document_is_refused() {
        let err = tree("a: 1\n---\nb: 2\n").unwrap_err();
        assert!(err.contains("expected one document"), "{err}");
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let flow = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(
            tree(&flow).unwrap_err(),
            "t:1:65: nesting is deeper than 64 levels"
        );
        let block: String = (0..100)
            .map(|depth| format!("{}k{depth}:\n", " ".repeat(depth)))
            .collect();
        assert_eq!(
            tree(&block).unwrap_err(),
            "t:65:65: nesting is deeper than 64 levels"
        );
        // The scanner itself gives up on very deep flow nesting, before any event.
        assert!(tree(&"[".repeat(100_000)).is_err());
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(tree(&ok).is_ok());
    }

    #[test]
    fn alias_bombs_hit_the_node_budget() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let err = tree(&text).unwrap_err();
        assert!(err.contains("more than 100000 values"), "{err}");
    }

    #[test]
    fn aliases_cannot_nest_the_tree_past_the_depth_limit() {
        let deep = |name: &str, inner: &str| {
            format!("{}{inner}{}", "[".repeat(40), "]".repeat(40)).replacen(
                '[',
                &format!("&{name} ["),
                1,
            )
        };
        let text = format!("- {}\n- {}\n", deep("a", "x"), deep("b", "*a"));
        let err = tree(&text).unwrap_err();
        assert!(err.ends_with("nesting is deeper than 64 levels"), "{err}");
    }

    #[test]
    fn duplicate_keys_are_errors_at_the_second_key() {
        assert_eq!(
            tree("{\"a\": 1, \"a\": 2}").unwrap_err(),
            "t:1:10: duplicate key `a` (first at line 1, column 2)"
        );
    }

    #[test]
    fn merge_keys_add_missing_entries() {
        let node = tree("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n").unwrap();
        let entries = node.as_map().unwrap();
        let merged = entries[1].value.as_map().unwrap();
        let pairs: Vec<(&str, &str)> = merged
            .iter()
            .map(|e| (e.key.text().unwrap(), e.value.text().unwrap()))
            .collect();
        assert_eq!(pairs, vec![("y", "3"), ("x", "1")]);
    }

    #[test]
    fn quoted_and_tagged_scalars_are_strings_and_plain_nulls_are_null() {
        let node = tree("a: '1'\nb: !!str 2\nc: 3\nd:\ne: \"\"\n").unwrap();
        let values: Vec<&Value> = node
            .as_map()
            .unwrap()
            .iter()
            .map(|e| &e.value.value)
            .collect();
        assert!(matches!(values[0], Value::Scalar(s) if s.quoted));
        assert!(matches!(values[1], Value::Scalar(s) if s.quoted));
        assert!(matches!(values[2], Value::Scalar(s) if !s.quoted));
        assert_eq!(values[3], &Value::Null);
        assert!(matches!(values[4], Value::Scalar(s) if s.quoted && s.text.is_empty()));
    }
}
