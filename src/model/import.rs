//! What it takes to accept `aws codepipeline get-pipeline` output as is: unwrapping
//! `{"pipeline": .., "metadata": ..}`, the AWS-only fields that become notes instead of
//! errors, and the JSON-encoded `Parameters`/`Properties` strings CodePipeline's string-only
//! configuration forces on Jenkins and TeamCity actions. Git sources, Custom actions named
//! after a server and Manual approvals need no rewriting: the catalog maps them at run time.

use std::collections::BTreeMap;

use super::diagnostic::{Diagnostics, Pos};
use super::fields::{Fields, Ignored};
use super::tree::Node;

/// Configuration keys whose value may be a map of strings: Jenkins job parameters and
/// TeamCity build properties.
pub const MAP_KEYS: &[&str] = &["Parameters", "Properties"];

const fn aws_only(key: &'static str, note: &'static str) -> Ignored {
    Ignored { key, note }
}

pub(crate) const WRAPPER_IGNORED: &[Ignored] = &[aws_only(
    "metadata",
    "`metadata` (pipeline ARN and timestamps from get-pipeline) is ignored",
)];

pub(crate) const PIPELINE_IGNORED: &[Ignored] = &[
    aws_only("roleArn", "`roleArn` is AWS-only; ignored"),
    aws_only(
        "artifactStore",
        "`artifactStore` is AWS-only; ignored (Baton passes artifacts by name)",
    ),
    aws_only(
        "artifactStores",
        "`artifactStores` is AWS-only; ignored (Baton passes artifacts by name)",
    ),
    aws_only("pipelineType", "`pipelineType` is AWS-only; ignored"),
    aws_only(
        "version",
        "`version` is AWS-only; ignored (Baton numbers versions itself)",
    ),
];

pub(crate) const STAGE_IGNORED: &[Ignored] = &[
    aws_only("blockers", "`blockers` is AWS-only; ignored"),
    aws_only(
        "beforeEntry",
        "stage conditions (`beforeEntry`) are not supported; ignored",
    ),
    aws_only(
        "onSuccess",
        "stage conditions (`onSuccess`) are not supported; ignored",
    ),
    aws_only(
        "onFailure",
        "stage conditions (`onFailure`) are not supported; ignored",
    ),
];

pub(crate) const ACTION_IGNORED: &[Ignored] = &[
    aws_only("region", "`region` is AWS-only; ignored"),
    aws_only("roleArn", "`roleArn` is AWS-only; ignored"),
    aws_only(
        "commands",
        "`commands` belongs to AWS's Commands action; ignored",
    ),
    aws_only(
        "outputVariables",
        "`outputVariables` belongs to AWS's Commands action; ignored",
    ),
    aws_only(
        "environmentVariables",
        "`environmentVariables` belongs to AWS's Commands action; ignored",
    ),
];

pub(crate) const ARTIFACT_IGNORED: &[Ignored] = &[aws_only(
    "files",
    "`files` is AWS-only; ignored (the CI job decides what it archives)",
)];

/// The pipeline mapping inside `root`: `root.pipeline` for get-pipeline output (a mapping
/// with `pipeline` and no `stages`), otherwise `root` itself.
pub(crate) fn pipeline_node<'a>(root: &'a Node, diags: &mut Diagnostics) -> Option<&'a Node> {
    let Some(map) = root.as_map() else {
        return Some(root);
    };
    let has = |key: &str| map.iter().any(|e| e.key.text() == Some(key));
    if !has("pipeline") || has("stages") {
        return Some(root);
    }
    let fields = Fields::read(
        root,
        "get-pipeline output",
        &["pipeline"],
        WRAPPER_IGNORED,
        diags,
    )?;
    fields.get("pipeline")
}

/// CodePipeline configuration values are strings, so imported Jenkins `Parameters` and
/// TeamCity `Properties` arrive JSON-encoded. When `text` is a JSON object, its entries
/// become the map form (numbers and booleans as their text); otherwise `None` and the
/// value stays a string. Entries that are not scalars are errors at `pos`.
pub(crate) fn json_object(
    key: &str,
    text: &str,
    pos: Pos,
    diags: &mut Diagnostics,
) -> Option<BTreeMap<String, String>> {
    let Ok(serde_json::Value::Object(object)) = serde_json::from_str(text) else {
        return None;
    };
    let mut map = BTreeMap::new();
    for (name, value) in object {
        let text = match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            other => {
                let found = match other {
                    serde_json::Value::Null => "null",
                    serde_json::Value::Array(_) => "a list",
                    _ => "a mapping",
                };
                diags.error(
                    pos,
                    format!("`configuration.{key}.{name}` must be a string, found {found}"),
                );
                continue;
            }
        };
        map.insert(name, text);
    }
    Some(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse::parse;

    #[test]
    fn unwraps_get_pipeline_output_and_notes_metadata() {
        let mut diags = Diagnostics::new("f");
        let root = parse(
            r#"{"pipeline": {"name": "p"}, "metadata": {"pipelineArn": "arn"}}"#,
            &mut diags,
        )
        .unwrap();
        let inner = pipeline_node(&root, &mut diags).unwrap();
        assert_eq!(inner.pos, Pos::new(1, 14));
        assert!(diags.errors.is_empty());
        assert_eq!(
            diags.notes[0].to_string(),
            "f:1:29: `metadata` (pipeline ARN and timestamps from get-pipeline) is ignored"
        );
    }

    #[test]
    fn a_plain_pipeline_is_its_own_pipeline_node() {
        let mut diags = Diagnostics::new("f");
        let root = parse("name: p\nstages: []\n", &mut diags).unwrap();
        assert_eq!(pipeline_node(&root, &mut diags), Some(&root));
    }

    #[test]
    fn decodes_json_encoded_parameter_maps() {
        let mut diags = Diagnostics::new("f");
        let map = json_object(
            "Parameters",
            r#"{"A": "x", "N": 3, "B": true}"#,
            Pos::START,
            &mut diags,
        )
        .unwrap();
        assert_eq!(map["A"], "x");
        assert_eq!(map["N"], "3");
        assert_eq!(map["B"], "true");
        assert!(json_object("Parameters", "A=x", Pos::START, &mut diags).is_none());
        assert!(json_object("Parameters", "[1]", Pos::START, &mut diags).is_none());
        json_object("Properties", r#"{"L": [1]}"#, Pos::new(2, 3), &mut diags);
        assert_eq!(
            diags.errors[0].to_string(),
            "f:2:3: `configuration.Properties.L` must be a string, found a list"
        );
    }
}
