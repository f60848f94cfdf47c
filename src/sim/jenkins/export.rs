//! Stapler's model export, in small: exported objects with their `_class`, property
//! visibility, the `depth=` and `tree=` pruners, and the JSON and XML writers.
//!
//! Renderers (in `render/`) describe each object property by property with the
//! visibility Jenkins declares for it; the pruner decides what is written. That is how a
//! real Jenkins works, and it is why `tree=builds[queueId]` reaches a field that the
//! default depth hides: `ByDepth` shows a nested object's property only if its
//! visibility is at least the nesting level plus one, while `tree=` names fields
//! explicitly at any depth ([ST] `TreePruner.ByDepth`, `NamedPathPruner`).

mod json;
mod tree;
mod xml;

pub(super) use json::to_json;
pub(super) use tree::{parse_tree, Tree};
pub(super) use xml::to_xml;

/// Visibility of a plain `@Exported` property: shown at the top level only.
pub(super) const TOP: i32 = 1;
/// Visibility of fields that Jenkins shows on objects nested once (`number`, `url` of a run).
pub(super) const NESTED: i32 = 2;
/// Visibility of fields shown twice nested (parameter values, causes, artifacts).
pub(super) const DEEP: i32 = 3;
/// `@ExportedBean(defaultVisibility = 999)`, as on queue items: shown at any depth.
pub(super) const ALWAYS: i32 = 999;

/// An exported value. Objects keep their property order, as Stapler writes it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Arr(Vec<Value>),
    Obj(Obj),
}

/// An exported object: its `_class` (absent when Stapler omits it) and its properties.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Obj {
    pub(super) class: Option<&'static str>,
    pub(super) fields: Vec<(String, Value)>,
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(i64::from(v))
    }
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Decides which properties are written: by depth (the default, `?depth=N`) or by an
/// explicit `?tree=` expression.
#[derive(Debug, Clone, Copy)]
pub(super) enum Pruner<'t> {
    /// `ByDepth(n)`: a property is written if its visibility is at least `n`.
    Depth(i32),
    /// `NamedPathPruner`: only the named properties, at any depth.
    Tree(&'t Tree),
}

impl<'t> Pruner<'t> {
    /// The pruner of a request: `tree=` wins over `depth=`, as in Stapler's `Api.doJson`.
    pub(super) fn root(tree: Option<&'t Tree>, depth: i32) -> Pruner<'t> {
        match tree {
            Some(tree) => Pruner::Tree(tree),
            None => Pruner::Depth(1 - depth),
        }
    }

    /// The pruner for a property's value, or `None` when the property is not written.
    /// An `inline` property (a job's `property` list, the queue's `items`) does not add
    /// a nesting level.
    fn accept(self, name: &str, visibility: i32, inline: bool) -> Option<Pruner<'t>> {
        match self {
            Pruner::Depth(n) if visibility < n => None,
            Pruner::Depth(_) if inline => Some(self),
            Pruner::Depth(n) => Some(Pruner::Depth(n + 1)),
            Pruner::Tree(tree) => tree.child(name).map(Pruner::Tree),
        }
    }

    /// The `{M,N}` range that applies to a collection under this pruner.
    fn range(self) -> (usize, Option<usize>) {
        match self {
            Pruner::Depth(_) => (0, None),
            Pruner::Tree(tree) => tree.range(),
        }
    }
}

/// Builds one exported object, asking the pruner about each property before computing
/// its value, so hidden subtrees (a run's previous build's previous build…) cost nothing.
pub(super) struct ObjBuilder<'t> {
    pruner: Pruner<'t>,
    obj: Obj,
}

impl<'t> ObjBuilder<'t> {
    pub(super) fn new(pruner: Pruner<'t>, class: Option<&'static str>) -> ObjBuilder<'t> {
        ObjBuilder {
            pruner,
            obj: Obj {
                class,
                fields: Vec::new(),
            },
        }
    }

    /// A property whose value is cheap to compute.
    pub(super) fn val(self, name: &str, visibility: i32, value: impl Into<Value>) -> Self {
        self.with(name, visibility, false, |_| value.into())
    }

    /// A property whose value is an object or a list, built with the child pruner.
    pub(super) fn obj(
        self,
        name: &str,
        visibility: i32,
        value: impl FnOnce(Pruner<'t>) -> Value,
    ) -> Self {
        self.with(name, visibility, false, value)
    }

    /// An `inline = true` property: its items are pruned at this object's level.
    pub(super) fn inline(
        self,
        name: &str,
        visibility: i32,
        value: impl FnOnce(Pruner<'t>) -> Value,
    ) -> Self {
        self.with(name, visibility, true, value)
    }

    fn with(
        mut self,
        name: &str,
        visibility: i32,
        inline: bool,
        value: impl FnOnce(Pruner<'t>) -> Value,
    ) -> Self {
        if let Some(child) = self.pruner.accept(name, visibility, inline) {
            let value = value(child);
            self.obj.fields.push((name.to_string(), value));
        }
        self
    }

    pub(super) fn build(self) -> Value {
        Value::Obj(self.obj)
    }
}

/// A collection property: the items in the pruner's range, each built with `item`.
pub(super) fn list<'t, T>(
    pruner: Pruner<'t>,
    items: impl IntoIterator<Item = T>,
    mut item: impl FnMut(Pruner<'t>, T) -> Value,
) -> Value {
    let (min, max) = pruner.range();
    let items = items.into_iter().enumerate();
    Value::Arr(
        items
            .filter(|(i, _)| *i >= min && max.is_none_or(|max| *i < max))
            .map(|(_, t)| item(pruner, t))
            .collect(),
    )
}

/// An object that is not exported at all: Jenkins writes it as `{}` in `actions`.
pub(super) fn opaque() -> Value {
    Value::Obj(Obj::default())
}

/// An action exported only by its class (e.g. `FlowGraphAction`): `{"_class": "…"}`.
pub(super) fn class_only(class: &'static str) -> Value {
    Value::Obj(Obj {
        class: Some(class),
        fields: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(p: Pruner<'_>) -> Value {
        ObjBuilder::new(p, Some("R"))
            .val("number", NESTED, 7u32)
            .val("result", TOP, "SUCCESS")
            .obj("previousBuild", TOP, |p| {
                ObjBuilder::new(p, None).val("number", NESTED, 6u32).build()
            })
            .build()
    }

    #[test]
    fn depth_hides_low_visibility_fields_of_nested_objects() {
        let top = ObjBuilder::new(Pruner::root(None, 0), Some("J"))
            .obj("lastBuild", TOP, run)
            .build();
        assert_eq!(
            to_json(&top, false),
            r#"{"_class":"J","lastBuild":{"_class":"R","number":7}}"#
        );
    }

    #[test]
    fn tree_reaches_hidden_fields_and_ranges_cut_lists() {
        let tree = parse_tree("builds[number,result]{1,2}").expect("valid tree");
        let top = ObjBuilder::new(Pruner::root(Some(&tree), 0), Some("J"))
            .val("name", ALWAYS, "deploy")
            .obj("builds", TOP, |p| list(p, [1, 2, 3], |p, _| run(p)))
            .build();
        assert_eq!(
            to_json(&top, false),
            r#"{"_class":"J","builds":[{"_class":"R","number":7,"result":"SUCCESS"}]}"#
        );
    }

    #[test]
    fn inline_properties_keep_the_level() {
        // A job's `property` list is inline: parameter defaults three levels down stay
        // visible at the default depth, as in samples/jenkins-job-parameterized.json.
        let definitions = |p: Pruner<'_>| {
            ObjBuilder::new(p, Some("P"))
                .obj("parameterDefinitions", NESTED, |p| {
                    list(p, [()], |p, ()| {
                        ObjBuilder::new(p, Some("D"))
                            .obj("defaultParameterValue", DEEP, |p| {
                                ObjBuilder::new(p, Some("V"))
                                    .val("value", DEEP, "x")
                                    .build()
                            })
                            .build()
                    })
                })
                .build()
        };
        let inline = ObjBuilder::new(Pruner::root(None, 0), Some("J"))
            .inline("property", TOP, |p| list(p, [()], |p, ()| definitions(p)))
            .build();
        assert_eq!(
            to_json(&inline, false),
            r#"{"_class":"J","property":[{"_class":"P","parameterDefinitions":[{"_class":"D","defaultParameterValue":{"_class":"V","value":"x"}}]}]}"#
        );
        let nested = ObjBuilder::new(Pruner::root(None, 0), Some("J"))
            .obj("property", TOP, |p| list(p, [()], |p, ()| definitions(p)))
            .build();
        assert_eq!(
            to_json(&nested, false),
            r#"{"_class":"J","property":[{"_class":"P","parameterDefinitions":[{"_class":"D","defaultParameterValue":{"_class":"V"}}]}]}"#
        );
    }
}
