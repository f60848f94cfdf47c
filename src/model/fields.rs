//! Reading the spanned tree by hand: a mapping's fields checked against the allowed names
//! (AWS-only ones turn into notes), and typed getters that report a wrong type at the
//! node's position and carry on, so one pass finds every problem.

use super::diagnostic::{Diagnostics, Pos};
use super::tree::{Node, Value};

/// A field CodePipeline has and Baton ignores, with the note that says so.
pub(crate) struct Ignored {
    pub key: &'static str,
    pub note: &'static str,
}

/// The fields of one mapping, after unknown and ignored ones were reported.
pub(crate) struct Fields<'a> {
    /// Where the mapping starts; missing fields are reported here.
    pub pos: Pos,
    what: &'static str,
    entries: Vec<(&'a str, &'a Node, &'a Node)>,
}

impl<'a> Fields<'a> {
    /// Reads `node` as the mapping for `what` ("stage", "action", ...). Keys outside
    /// `known` are errors naming the allowed ones, keys in `ignored` are notes, and a
    /// non-mapping is an error (then `None`).
    pub fn read(
        node: &'a Node,
        what: &'static str,
        known: &[&str],
        ignored: &[Ignored],
        diags: &mut Diagnostics,
    ) -> Option<Fields<'a>> {
        let Some(map) = node.as_map() else {
            diags.error(
                node.pos,
                format!("{what} must be a mapping, found {}", node.describe()),
            );
            return None;
        };
        let mut entries = Vec::with_capacity(map.len());
        for entry in map {
            let Some(key) = entry.key.key_text() else {
                diags.error(
                    entry.key.pos,
                    format!("keys must be strings, found {}", entry.key.describe()),
                );
                continue;
            };
            if known.contains(&key) {
                entries.push((key, &entry.key, &entry.value));
            } else if let Some(ignored) = ignored.iter().find(|i| i.key == key) {
                diags.note(entry.key.pos, ignored.note);
            } else {
                diags.error(
                    entry.key.pos,
                    format!(
                        "unknown field `{key}` in {what}; expected one of: {}",
                        known.join(", ")
                    ),
                );
            }
        }
        Some(Fields {
            pos: node.pos,
            what,
            entries,
        })
    }

    pub fn get(&self, key: &str) -> Option<&'a Node> {
        self.entry(key).map(|(_, value)| value)
    }

    /// The key node and value node of `key`.
    pub fn entry(&self, key: &str) -> Option<(&'a Node, &'a Node)> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, k, v)| (*k, *v))
    }

    pub fn has(&self, key: &str) -> bool {
        self.entry(key).is_some()
    }

    /// The value of `key`, or an error at the mapping saying it is missing.
    pub fn require(&self, key: &str, diags: &mut Diagnostics) -> Option<&'a Node> {
        let found = self.get(key);
        if found.is_none() {
            diags.error(self.pos, format!("{} is missing `{key}`", self.what));
        }
        found
    }

    /// A required string field.
    pub fn required_string(&self, key: &str, diags: &mut Diagnostics) -> Option<(String, Pos)> {
        let node = self.require(key, diags)?;
        string(node, key, diags).map(|s| (s, node.pos))
    }

    /// An optional string field; `None` when absent or of the wrong type (reported).
    pub fn optional_string(&self, key: &str, diags: &mut Diagnostics) -> Option<(String, Pos)> {
        let node = self.get(key)?;
        string(node, key, diags).map(|s| (s, node.pos))
    }
}

/// A string value; numbers and booleans count as the text written. Anything else is an
/// error naming `field`.
pub(crate) fn string(node: &Node, field: &str, diags: &mut Diagnostics) -> Option<String> {
    match node.text() {
        Some(text) => Some(text.to_string()),
        None => {
            diags.error(
                node.pos,
                format!("`{field}` must be a string, found {}", node.describe()),
            );
            None
        }
    }
}

/// An integer in `min..=max`, or an error naming `field` and the range.
pub(crate) fn integer(
    node: &Node,
    field: &str,
    min: i64,
    max: i64,
    diags: &mut Diagnostics,
) -> Option<i64> {
    match node.integer() {
        Ok(n) if (min..=max).contains(&n) => Some(n),
        Ok(n) => {
            diags.error(
                node.pos,
                format!("`{field}` must be between {min} and {max}, found {n}"),
            );
            None
        }
        Err(found) => {
            diags.error(
                node.pos,
                format!("`{field}` must be an integer between {min} and {max}, found {found}"),
            );
            None
        }
    }
}

/// A list, or an error naming `field`. A null value (`field:` with nothing after it) is an
/// empty list.
pub(crate) fn list<'a>(node: &'a Node, field: &str, diags: &mut Diagnostics) -> Option<&'a [Node]> {
    match &node.value {
        Value::Seq(items) => Some(items),
        Value::Null => Some(&[]),
        _ => {
            diags.error(
                node.pos,
                format!("`{field}` must be a list, found {}", node.describe()),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse::parse;

    fn messages(diags: &Diagnostics) -> Vec<String> {
        diags
            .errors
            .iter()
            .chain(&diags.notes)
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn reports_unknown_ignored_missing_and_non_string_keys() {
        let mut diags = Diagnostics::new("f");
        let node = parse("? [k]\n: 1\nname: x\nregion: eu\ncolour: red\n", &mut diags).unwrap();
        let ignored = [Ignored {
            key: "region",
            note: "`region` is AWS-only; ignored",
        }];
        let fields =
            Fields::read(&node, "action", &["name", "runOrder"], &ignored, &mut diags).unwrap();
        assert_eq!(fields.get("name").and_then(Node::text), Some("x"));
        assert!(fields.require("runOrder", &mut diags).is_none());
        assert_eq!(
            messages(&diags),
            vec![
                "f:1:3: keys must be strings, found a list",
                "f:5:1: unknown field `colour` in action; expected one of: name, runOrder",
                "f:1:1: action is missing `runOrder`",
                "f:4:1: `region` is AWS-only; ignored",
            ]
        );
    }

    #[test]
    fn typed_getters_report_the_wrong_type_at_the_value() {
        let mut diags = Diagnostics::new("f");
        let node = parse("a: [1]\nb: '7'\nc: 1000\nd: 5\n", &mut diags).unwrap();
        let map = node.as_map().unwrap();
        assert_eq!(string(&map[0].value, "a", &mut diags), None);
        assert_eq!(integer(&map[1].value, "b", 1, 999, &mut diags), None);
        assert_eq!(integer(&map[2].value, "c", 1, 999, &mut diags), None);
        assert_eq!(integer(&map[3].value, "d", 1, 999, &mut diags), Some(5));
        assert_eq!(list(&map[3].value, "d", &mut diags), None);
        assert_eq!(
            messages(&diags),
            vec![
                "f:1:4: `a` must be a string, found a list",
                "f:2:4: `b` must be an integer between 1 and 999, found a string",
                "f:3:4: `c` must be between 1 and 999, found 1000",
                "f:4:4: `d` must be a list, found a number",
            ]
        );
    }
}
