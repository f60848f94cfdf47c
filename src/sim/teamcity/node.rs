//! The REST plugin's bean model in miniature: an [`Entity`] is a JAXB bean (fields in
//! `propOrder`, each an XML attribute or element), [`Fields`] is the `fields=` selector
//! with its `$short`/`$long`/`*`/`**` presets and default-value omission
//! (`ValueWithDefault`), and [`Node`] is what is left after selection, written as
//! TeamCity's XML (attributes first, then elements) or as Jersey's "natural" JSON.

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::locator::Locator;

/// Whether a field is an XML attribute or a child element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Attr,
    Elem,
}

/// A field's value before selection.
#[derive(Debug, Clone)]
pub(super) enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    Entity(Entity),
    /// Repeated elements named like the field (`property`, `build`, `file`).
    List(Vec<Entity>),
}

/// How a field is selected: included by default in the short and long forms (`None`:
/// only when its value is not a default), and which presets its nested entity gets.
#[derive(Debug, Clone)]
pub(super) struct Field {
    pub(super) name: &'static str,
    pub(super) kind: Kind,
    pub(super) value: Value,
    pub(super) short: Option<bool>,
    pub(super) long: Option<bool>,
    pub(super) is_default: bool,
    pub(super) nested_long: Preset,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Preset {
    Short,
    Long,
}

/// A bean: its fields in output order.
#[derive(Debug, Clone, Default)]
pub(super) struct Entity {
    pub(super) fields: Vec<Field>,
}

impl Entity {
    pub(super) fn new() -> Entity {
        Entity::default()
    }

    /// An attribute shown in both forms.
    pub(super) fn attr(mut self, name: &'static str, value: Value) -> Entity {
        self.push(name, Kind::Attr, value, Some(true), Some(true), false);
        self
    }

    /// An attribute shown only when its value is not the default.
    pub(super) fn attr_opt(mut self, name: &'static str, value: Value, is_default: bool) -> Entity {
        self.push(name, Kind::Attr, value, None, None, is_default);
        self
    }

    /// An element shown in both forms.
    pub(super) fn elem(mut self, name: &'static str, value: Value) -> Entity {
        self.push(name, Kind::Elem, value, Some(true), Some(true), false);
        self
    }

    /// A field with explicit selection rules.
    pub(super) fn field(
        mut self,
        name: &'static str,
        kind: Kind,
        value: Value,
        short: Option<bool>,
        long: Option<bool>,
        is_default: bool,
    ) -> Entity {
        self.push(name, kind, value, short, long, is_default);
        self
    }

    /// Marks the last field's nested entity as rendered `$long` inside a long parent.
    pub(super) fn nested_long(mut self) -> Entity {
        if let Some(field) = self.fields.last_mut() {
            field.nested_long = Preset::Long;
        }
        self
    }

    fn push(
        &mut self,
        name: &'static str,
        kind: Kind,
        value: Value,
        short: Option<bool>,
        long: Option<bool>,
        is_default: bool,
    ) {
        self.fields.push(Field {
            name,
            kind,
            value,
            short,
            long,
            is_default,
            nested_long: Preset::Short,
        });
    }
}

/// A `fields=` specification (see `Fields.java`).
#[derive(Debug, Clone)]
pub(super) struct Fields {
    spec: String,
    dims: Vec<(String, String)>,
}

impl Fields {
    /// The request's `fields` parameter, or `$long` when absent.
    pub(super) fn from_param(param: Option<&str>) -> Result<Fields, String> {
        Fields::parse(param.unwrap_or("$long"))
    }

    pub(super) fn parse(spec: &str) -> Result<Fields, String> {
        let dims = Locator::parse_fields(spec)
            .map_err(|e| format!("Error parsing fields specification: {e}"))?;
        Ok(Fields {
            spec: spec.to_string(),
            dims,
        })
    }

    pub(super) fn long() -> Fields {
        Fields::preset("$long")
    }

    fn preset(spec: &str) -> Fields {
        Fields {
            spec: spec.to_string(),
            dims: vec![(spec.to_string(), String::new())],
        }
    }

    fn short() -> Fields {
        Fields {
            spec: String::new(),
            dims: Vec::new(),
        }
    }

    fn dim(&self, name: &str) -> Option<&str> {
        self.dims
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn is_short(&self) -> bool {
        self.spec.is_empty() || self.dim("$short").is_some()
    }

    fn is_none(&self) -> bool {
        self.dim("-").is_some()
    }

    /// `Fields.isIncluded`: `Some` decides, `None` means "when not a default value".
    fn included(&self, name: &str, short: Option<bool>, long: Option<bool>) -> Option<bool> {
        if let Some(spec) = self.dim(name) {
            return Some(spec != "-");
        }
        if self.is_none() {
            Some(false)
        } else if self.dim("**").is_some() || self.dim("*").is_some() {
            Some(true)
        } else if self.is_short() {
            short
        } else if self.dim("$long").is_some() {
            long
        } else {
            Some(false)
        }
    }

    /// `Fields.getNestedField` with NONE for short parents and `nested_long` for long ones.
    fn nested(&self, name: &str, nested_long: Preset) -> Result<Fields, String> {
        if let Some(spec) = self.dim(name) {
            return Fields::parse(spec);
        }
        Ok(if self.dim("**").is_some() {
            Fields::preset("**")
        } else if self.dim("$long").is_some() {
            match nested_long {
                Preset::Long => Fields::long(),
                Preset::Short => Fields::short(),
            }
        } else if self.dim("*").is_some() {
            Fields::short()
        } else {
            Fields::preset("-")
        })
    }
}

/// A selected value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Out {
    Str(String),
    Int(i64),
    Bool(bool),
    Node(Node),
    List(Vec<Node>),
}

/// An entity after `fields=` selection.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Node {
    pub(super) fields: Vec<(&'static str, Kind, Out)>,
}

/// Applies `fields` to `entity`.
pub(super) fn select(entity: &Entity, fields: &Fields) -> Result<Node, String> {
    let mut node = Node::default();
    for field in &entity.fields {
        let include = fields
            .included(field.name, field.short, field.long)
            .unwrap_or(!field.is_default);
        if !include {
            continue;
        }
        let out = match &field.value {
            Value::Str(s) => Out::Str(s.clone()),
            Value::Int(i) => Out::Int(*i),
            Value::Bool(b) => Out::Bool(*b),
            Value::Entity(inner) => Out::Node(select(
                inner,
                &fields.nested(field.name, field.nested_long)?,
            )?),
            Value::List(items) => {
                let nested = fields.nested(field.name, field.nested_long)?;
                Out::List(
                    items
                        .iter()
                        .map(|item| select(item, &nested))
                        .collect::<Result<_, _>>()?,
                )
            }
        };
        node.fields.push((field.name, field.kind, out));
    }
    Ok(node)
}

impl Node {
    /// The XML document, with the declaration TeamCity writes.
    pub(super) fn to_xml(&self, root: &str) -> String {
        let mut writer = Writer::new(Vec::new());
        let declaration = BytesDecl::new("1.0", Some("UTF-8"), Some("yes"));
        // Writing into a Vec cannot fail.
        let _ = writer.write_event(Event::Decl(declaration));
        self.write_xml(&mut writer, root);
        String::from_utf8_lossy(&writer.into_inner()).into_owned()
    }

    fn write_xml(&self, writer: &mut Writer<Vec<u8>>, name: &str) {
        let mut start = BytesStart::new(name);
        for (field, kind, out) in &self.fields {
            if *kind == Kind::Attr {
                if let Some(text) = scalar_text(out) {
                    start.push_attribute((*field, text.as_str()));
                }
            }
        }
        let children: Vec<_> = self
            .fields
            .iter()
            .filter(|(_, kind, out)| *kind == Kind::Elem || scalar_text(out).is_none())
            .collect();
        if children.is_empty() {
            let _ = writer.write_event(Event::Empty(start));
            return;
        }
        let _ = writer.write_event(Event::Start(start));
        for (field, _, out) in children {
            match out {
                Out::Node(node) => node.write_xml(writer, field),
                Out::List(items) => {
                    for item in items {
                        item.write_xml(writer, field);
                    }
                }
                scalar => {
                    let text = scalar_text(scalar).unwrap_or_default();
                    let _ = writer.write_event(Event::Start(BytesStart::new(*field)));
                    let _ = writer.write_event(Event::Text(BytesText::new(&text)));
                    let _ = writer.write_event(Event::End(BytesEnd::new(*field)));
                }
            }
        }
        let _ = writer.write_event(Event::End(BytesEnd::new(name)));
    }

    pub(super) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

fn scalar_text(out: &Out) -> Option<String> {
    match out {
        Out::Str(s) => Some(s.clone()),
        Out::Int(i) => Some(i.to_string()),
        Out::Bool(b) => Some(b.to_string()),
        Out::Node(_) | Out::List(_) => None,
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.fields.len()))?;
        for (name, _, out) in &self.fields {
            map.serialize_entry(name, out)?;
        }
        map.end()
    }
}

impl Serialize for Out {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Out::Str(s) => serializer.serialize_str(s),
            Out::Int(i) => serializer.serialize_i64(*i),
            Out::Bool(b) => serializer.serialize_bool(*b),
            Out::Node(node) => node.serialize(serializer),
            Out::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Entity {
        let user = Entity::new()
            .attr("username", Value::Str("ci-bot".into()))
            .attr("id", Value::Int(12));
        Entity::new()
            .attr("id", Value::Int(7))
            .attr_opt("failedToStart", Value::Bool(false), true)
            .field(
                "statusText",
                Kind::Elem,
                Value::Str("a<b".into()),
                Some(false),
                Some(true),
                false,
            )
            .field(
                "user",
                Kind::Elem,
                Value::Entity(user),
                Some(false),
                None,
                false,
            )
            .field(
                "vcsLabels",
                Kind::Elem,
                Value::List(Vec::new()),
                Some(false),
                Some(true),
                false,
            )
    }

    #[test]
    fn long_form_omits_defaults_and_keeps_order() {
        let node = select(&sample(), &Fields::long()).expect("select");
        assert_eq!(
            node.to_json(),
            r#"{"id":7,"statusText":"a<b","user":{"username":"ci-bot","id":12},"vcsLabels":[]}"#
        );
        assert_eq!(
            node.to_xml("build"),
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><build id="7"><statusText>a&lt;b</statusText><user username="ci-bot" id="12"/></build>"#
        );
    }

    #[test]
    fn explicit_fields_force_defaults_and_nest() {
        let fields = Fields::parse("id,failedToStart,user(id)").expect("fields");
        let node = select(&sample(), &fields).expect("select");
        assert_eq!(
            node.to_json(),
            r#"{"id":7,"failedToStart":false,"user":{"id":12}}"#
        );
        let plain = Fields::parse("id,statusText").expect("fields");
        let node = select(&sample(), &plain).expect("select");
        assert_eq!(node.to_json(), r#"{"id":7,"statusText":"a<b"}"#);
        let nested = Fields::parse("user(username,id)").expect("fields");
        let node = select(&sample(), &nested).expect("select");
        assert_eq!(node.to_json(), r#"{"user":{"username":"ci-bot","id":12}}"#);
        let short = select(&sample(), &Fields::parse("$short").expect("fields")).expect("select");
        assert_eq!(short.to_json(), r#"{"id":7}"#);
    }
}
