//! Decoding one action: `actionTypeId` or the `provider:` shorthand (whose defaults follow
//! the provider), `runOrder`, artifacts (`{name}` or plain strings), `namespace` and
//! timeout. The `configuration` mapping is `decode_config`'s.

use super::catalog::{Catalog, ServerKind};
use super::decode::named;
use super::decode_config::decode_configuration;
use super::definition::{Action, ActionTypeId, ArtifactRef, Category, Owner};
use super::diagnostic::{Diagnostics, Pos};
use super::fields::{integer, list, string, Fields};
use super::import;
use super::limits::{self, Text};
use super::tree::{Node, Value};

/// Where the parts of one action came from; see `PipelineSpans`.
#[derive(Debug, Clone)]
pub(crate) struct ActionSpans {
    pub name: Option<Pos>,
    /// `None` when the action type is missing or broken: type checks are skipped.
    pub kind: Option<TypeSpans>,
    /// Every configuration string (map values included), for the variable checks.
    pub strings: Vec<(Pos, String)>,
    /// Every configuration key and where it is.
    pub config_keys: Vec<(Pos, String)>,
    pub inputs: Vec<Pos>,
    pub outputs: Vec<Pos>,
    pub namespace: Option<Pos>,
}

/// Positions of the action type: the category (or the shorthand's provider, when the
/// category is implied) and the provider.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TypeSpans {
    pub category: Pos,
    pub provider: Pos,
}

const ACTION_FIELDS: &[&str] = &[
    "name",
    "actionTypeId",
    "provider",
    "category",
    "owner",
    "version",
    "runOrder",
    "configuration",
    "inputArtifacts",
    "outputArtifacts",
    "namespace",
    "timeoutInMinutes",
];
const TYPE_FIELDS: &[&str] = &["category", "owner", "provider", "version"];
const SHORTHAND_ONLY: &[&str] = &["category", "owner", "version"];
const CATEGORIES: &[(&str, Category)] = &[
    ("Source", Category::Source),
    ("Build", Category::Build),
    ("Deploy", Category::Deploy),
    ("Test", Category::Test),
    ("Invoke", Category::Invoke),
    ("Approval", Category::Approval),
    ("Compute", Category::Compute),
];
const OWNERS: &[(&str, Owner)] = &[
    ("AWS", Owner::Aws),
    ("ThirdParty", Owner::ThirdParty),
    ("Custom", Owner::Custom),
];

pub(crate) fn decode_action(
    node: &Node,
    catalog: &Catalog,
    diags: &mut Diagnostics,
) -> Option<(Action, ActionSpans)> {
    let fields = Fields::read(node, "action", ACTION_FIELDS, import::ACTION_IGNORED, diags)?;
    let (name, name_pos) = match named(&fields, Text::ActionName, diags) {
        Some((name, pos)) => (name, Some(pos)),
        None => (String::new(), None),
    };
    let typed = action_type(&fields, catalog, diags);

    let run_order = fields
        .get("runOrder")
        .and_then(|node| {
            let (min, max) = limits::RUN_ORDER;
            integer(node, "runOrder", min, max, diags).and_then(|n| u16::try_from(n).ok())
        })
        .unwrap_or(1);
    let timeout_in_minutes = fields.get("timeoutInMinutes").and_then(|node| {
        let (min, max) = limits::TIMEOUT_MINUTES;
        integer(node, "timeoutInMinutes", min, max, diags).and_then(|n| u32::try_from(n).ok())
    });

    let mut strings = Vec::new();
    let config_keys = match fields.get("configuration").map(|node| &node.value) {
        Some(Value::Map(entries)) => entries
            .iter()
            .filter_map(|e| Some((e.key.pos, e.key.key_text()?.to_string())))
            .collect(),
        _ => Vec::new(),
    };
    let configuration = fields
        .get("configuration")
        .map(|node| decode_configuration(node, &mut strings, diags))
        .unwrap_or_default();
    let (input_artifacts, inputs) = artifacts(&fields, "inputArtifacts", diags);
    let (output_artifacts, outputs) = artifacts(&fields, "outputArtifacts", diags);
    let namespace = fields
        .optional_string("namespace", diags)
        .inspect(|(namespace, pos)| {
            if let Some(problem) = Text::Namespace.problem(namespace) {
                diags.error(*pos, problem);
            }
        });

    let (action_type_id, kind) = match typed {
        Some((id, spans)) => (id, Some(spans)),
        None => (
            ActionTypeId {
                category: Category::Build,
                owner: Owner::Custom,
                provider: String::new(),
                version: String::new(),
            },
            None,
        ),
    };
    let action = Action {
        name,
        action_type_id,
        run_order,
        configuration,
        input_artifacts,
        output_artifacts,
        namespace: namespace.as_ref().map(|(n, _)| n.clone()),
        timeout_in_minutes,
    };
    let spans = ActionSpans {
        name: name_pos,
        kind,
        strings,
        config_keys,
        inputs,
        outputs,
        namespace: namespace.map(|(_, pos)| pos),
    };
    Some((action, spans))
}

/// The action type from `actionTypeId`, or from the `provider` shorthand.
fn action_type(
    fields: &Fields<'_>,
    catalog: &Catalog,
    diags: &mut Diagnostics,
) -> Option<(ActionTypeId, TypeSpans)> {
    match (fields.get("actionTypeId"), fields.entry("provider")) {
        (Some(node), provider) => {
            if let Some((key, _)) = provider {
                diags.error(
                    key.pos,
                    "give either `actionTypeId` or the `provider` shorthand, not both",
                );
            }
            for key in SHORTHAND_ONLY {
                if let Some((key_node, _)) = fields.entry(key) {
                    diags.error(
                        key_node.pos,
                        format!("`{key}` belongs inside `actionTypeId` here"),
                    );
                }
            }
            type_id(node, diags)
        }
        (None, Some((_, provider))) => shorthand(fields, provider, catalog, diags),
        (None, None) => {
            diags.error(
                fields.pos,
                "action is missing `actionTypeId` (or the `provider` shorthand)",
            );
            None
        }
    }
}

fn type_id(node: &Node, diags: &mut Diagnostics) -> Option<(ActionTypeId, TypeSpans)> {
    let fields = Fields::read(node, "actionTypeId", TYPE_FIELDS, &[], diags)?;
    let category = fields
        .required_string("category", diags)
        .and_then(|(text, pos)| {
            enumerated("category", CATEGORIES, &text, pos, diags).zip(Some(pos))
        });
    let owner = fields
        .required_string("owner", diags)
        .and_then(|(text, pos)| enumerated("owner", OWNERS, &text, pos, diags));
    let provider = checked(
        fields.required_string("provider", diags),
        Text::Provider,
        diags,
    );
    let version = checked(
        fields.required_string("version", diags),
        Text::Version,
        diags,
    );
    let ((category, category_pos), owner, (provider, provider_pos), (version, _)) =
        (category?, owner?, provider?, version?);
    Some((
        ActionTypeId {
            category,
            owner,
            provider,
            version,
        },
        TypeSpans {
            category: category_pos,
            provider: provider_pos,
        },
    ))
}

/// `provider: X` with optional `category`, `owner` and `version`; the defaults follow the
/// provider (see [`shorthand_defaults`]).
fn shorthand(
    fields: &Fields<'_>,
    provider_node: &Node,
    catalog: &Catalog,
    diags: &mut Diagnostics,
) -> Option<(ActionTypeId, TypeSpans)> {
    let provider = string(provider_node, "provider", diags).map(|p| (p, provider_node.pos));
    let provider = checked(provider, Text::Provider, diags);
    // Each is `Some(None)` when absent, `None` when present but wrong (already reported).
    let category = optional(fields, "category", diags, |text, pos, diags| {
        enumerated("category", CATEGORIES, text, pos, diags).map(|c| (c, pos))
    });
    let owner = optional(fields, "owner", diags, |text, pos, diags| {
        enumerated("owner", OWNERS, text, pos, diags)
    });
    let version = optional(fields, "version", diags, |text, pos, diags| {
        checked(Some((text.to_string(), pos)), Text::Version, diags).map(|(v, _)| v)
    });
    let (category, owner, version) = (category?, owner?, version?);
    let (provider, provider_pos) = provider?;
    let (default_category, default_owner) = shorthand_defaults(&provider, catalog);
    let (category, category_pos) = category.unwrap_or((default_category, provider_pos));
    Some((
        ActionTypeId {
            category,
            owner: owner.unwrap_or(default_owner),
            provider,
            version: version.unwrap_or_else(|| "1".to_string()),
        },
        TypeSpans {
            category: category_pos,
            provider: provider_pos,
        },
    ))
}

/// The category and owner a shorthand provider implies: `Git` is a Source, `Manual` an
/// AWS-owned Approval, the CI kinds ThirdParty Builds, a configured server's name a Custom
/// Build (as CodePipeline's Jenkins plugin writes it), CodePipeline's git sources Sources.
/// Anything else is assumed to be a Build, and the catalog check says what is wrong with it.
pub(crate) fn shorthand_defaults(provider: &str, catalog: &Catalog) -> (Category, Owner) {
    match provider {
        "Git" | "GitHub" => (Category::Source, Owner::ThirdParty),
        "CodeStarSourceConnection" | "CodeCommit" => (Category::Source, Owner::Aws),
        "Manual" => (Category::Approval, Owner::Aws),
        _ if ServerKind::from_provider(provider).is_some() => (Category::Build, Owner::ThirdParty),
        _ if catalog.server(provider).is_some() => (Category::Build, Owner::Custom),
        _ => (Category::Build, Owner::ThirdParty),
    }
}

/// An optional shorthand field run through `parse`: `Some(None)` when absent, `None` when
/// present but not a valid string (reported).
fn optional<T>(
    fields: &Fields<'_>,
    key: &str,
    diags: &mut Diagnostics,
    parse: impl FnOnce(&str, Pos, &mut Diagnostics) -> Option<T>,
) -> Option<Option<T>> {
    if !fields.has(key) {
        return Some(None);
    }
    let (text, pos) = fields.optional_string(key, diags)?;
    parse(&text, pos, diags).map(Some)
}

fn enumerated<T: Copy>(
    field: &str,
    choices: &[(&str, T)],
    text: &str,
    pos: Pos,
    diags: &mut Diagnostics,
) -> Option<T> {
    let found = choices.iter().find(|(name, _)| *name == text);
    if found.is_none() {
        let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
        diags.error(
            pos,
            format!(
                "unknown {field} `{text}`; expected one of: {}",
                names.join(", ")
            ),
        );
    }
    found.map(|(_, value)| *value)
}

/// Passes a string on if it follows the rules for `kind`; reports it otherwise.
fn checked(
    value: Option<(String, Pos)>,
    kind: Text,
    diags: &mut Diagnostics,
) -> Option<(String, Pos)> {
    let (text, pos) = value?;
    match kind.problem(&text) {
        Some(problem) => {
            diags.error(pos, problem);
            None
        }
        None => Some((text, pos)),
    }
}

/// `inputArtifacts`/`outputArtifacts`: `[{name: X}]`, or `[X]` in shorthand YAML.
fn artifacts(
    fields: &Fields<'_>,
    field: &str,
    diags: &mut Diagnostics,
) -> (Vec<ArtifactRef>, Vec<Pos>) {
    let mut refs = Vec::new();
    let mut positions = Vec::new();
    let Some(node) = fields.get(field) else {
        return (refs, positions);
    };
    for item in list(node, field, diags).unwrap_or_default() {
        let named = match &item.value {
            Value::Scalar(s) => Some((s.text.clone(), item.pos)),
            _ => Fields::read(item, "artifact", &["name"], import::ARTIFACT_IGNORED, diags)
                .and_then(|f| f.required_string("name", diags)),
        };
        if let Some((name, pos)) = named {
            if let Some(problem) = Text::ArtifactName.problem(&name) {
                diags.error(pos, problem);
            }
            refs.push(ArtifactRef { name });
            positions.push(pos);
        }
    }
    (refs, positions)
}
