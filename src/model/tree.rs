//! The spanned value tree: what a YAML or JSON document holds, each node with the position
//! it started at. `parse` builds it; `decode` turns it into a `Pipeline` by hand, so every
//! type error can name the line and column of the node at fault.

use super::diagnostic::Pos;

/// One value in the document and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    pub pos: Pos,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// `null`, `~` or nothing at all.
    Null,
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// A scalar as written. Plain scalars may be numbers or booleans; quoted ones (and those
/// tagged `!!str`) are always strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scalar {
    pub text: String,
    pub quoted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub key: Node,
    pub value: Node,
}

impl Node {
    /// Counts this node and everything under it.
    pub fn size(&self) -> usize {
        1 + match &self.value {
            Value::Null | Value::Scalar(_) => 0,
            Value::Seq(items) => items.iter().map(Node::size).sum(),
            Value::Map(entries) => entries.iter().map(|e| e.key.size() + e.value.size()).sum(),
        }
    }

    /// How many lists and mappings deep this node goes (0 for a scalar).
    pub fn height(&self) -> usize {
        match &self.value {
            Value::Null | Value::Scalar(_) => 0,
            Value::Seq(items) => 1 + items.iter().map(Node::height).max().unwrap_or(0),
            Value::Map(entries) => {
                1 + entries
                    .iter()
                    .map(|e| e.key.height().max(e.value.height()))
                    .max()
                    .unwrap_or(0)
            }
        }
    }

    /// The scalar's text when this is a non-null scalar: where a string is expected, YAML's
    /// `version: 1` or `Retries: 3` mean the text as written.
    pub fn text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) => Some(&s.text),
            _ => None,
        }
    }

    /// The text of a scalar used as a mapping key; null keys (`~: x`) count as `null`.
    pub fn key_text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) => Some(&s.text),
            Value::Null => Some("null"),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// An integer written as a plain scalar, in decimal. `Err` carries why not, as a phrase
    /// for a message ("a string", "a number too large").
    pub fn integer(&self) -> Result<i64, &'static str> {
        match &self.value {
            Value::Scalar(s) if !s.quoted => {
                let digits = s.text.strip_prefix(['+', '-']).unwrap_or(&s.text);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(self.describe());
                }
                s.text
                    .trim_start_matches('+')
                    .parse::<i64>()
                    .map_err(|_| "a number too large")
            }
            _ => Err(self.describe()),
        }
    }

    /// What this node is, for messages: "a string", "a list", ...
    pub fn describe(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
            Value::Scalar(s) if s.quoted => "a string",
            Value::Scalar(s) => {
                let t = s.text.as_str();
                if matches!(t, "true" | "false" | "True" | "False" | "TRUE" | "FALSE") {
                    "a boolean"
                } else if t.parse::<f64>().is_ok()
                    || t.strip_prefix(['+', '-'])
                        .unwrap_or(t)
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                {
                    "a number"
                } else {
                    "a string"
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> Node {
        Node {
            pos: Pos::START,
            value: Value::Scalar(Scalar {
                text: text.to_string(),
                quoted: false,
            }),
        }
    }

    #[test]
    fn integers_are_plain_decimal_scalars() {
        assert_eq!(plain("42").integer(), Ok(42));
        assert_eq!(plain("-3").integer(), Ok(-3));
        assert_eq!(plain("+7").integer(), Ok(7));
        assert_eq!(plain("1.5").integer(), Err("a number"));
        assert_eq!(plain("abc").integer(), Err("a string"));
        assert_eq!(
            plain("99999999999999999999999").integer(),
            Err("a number too large")
        );
        let quoted = Node {
            pos: Pos::START,
            value: Value::Scalar(Scalar {
                text: "5".into(),
                quoted: true,
            }),
        };
        assert_eq!(quoted.integer(), Err("a string"));
    }

    #[test]
    fn describes_nodes_for_messages() {
        assert_eq!(plain("true").describe(), "a boolean");
        assert_eq!(plain("1e5").describe(), "a number");
        assert_eq!(plain("hello").describe(), "a string");
    }
}
