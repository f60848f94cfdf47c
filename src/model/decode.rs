//! Spanned tree to `Pipeline`, by hand: the pipeline, its variables and its stages (actions
//! are in `decode_action`). Every type error, unknown field and broken limit is reported
//! and decoding carries on with what is left, so validation can still check the rest.
//! Beside the pipeline it returns `PipelineSpans`, the positions validation reports at.

use super::catalog::Catalog;
use super::decode_action::{decode_action, ActionSpans};
use super::decode_trigger::{decode_triggers, TriggerSpans};
use super::definition::{ExecutionMode, Pipeline, Stage, VariableDeclaration};
use super::diagnostic::{Diagnostics, Pos};
use super::fields::{list, Fields};
use super::import;
use super::limits::{self, Text};
use super::tree::Node;

/// Where each part of a decoded pipeline came from. Lists line up with the pipeline's:
/// `stages[i]` describes `pipeline.stages[i]`, and so on down. A `None` position means the
/// part was missing or of the wrong type (already reported), so checks on it are skipped.
#[derive(Debug, Clone)]
pub(crate) struct PipelineSpans {
    pub at: Pos,
    pub stages_at: Option<Pos>,
    /// The `name` of each variable.
    pub variables: Vec<Option<Pos>>,
    pub stages: Vec<StageSpans>,
    pub triggers: Vec<TriggerSpans>,
}

#[derive(Debug, Clone)]
pub(crate) struct StageSpans {
    pub name: Option<Pos>,
    pub actions: Vec<ActionSpans>,
}

/// A decoded pipeline and its positions.
#[derive(Debug, Clone)]
pub(crate) struct Decoded {
    pub pipeline: Pipeline,
    pub spans: PipelineSpans,
}

const PIPELINE_FIELDS: &[&str] = &["name", "executionMode", "variables", "stages", "triggers"];
const STAGE_FIELDS: &[&str] = &["name", "actions"];
const VARIABLE_FIELDS: &[&str] = &["name", "defaultValue", "description"];

/// Decodes the document `root` (a pipeline, or get-pipeline output). `None` when there is
/// no pipeline mapping at all.
pub(crate) fn decode(root: &Node, catalog: &Catalog, diags: &mut Diagnostics) -> Option<Decoded> {
    let node = import::pipeline_node(root, diags)?;
    let fields = Fields::read(
        node,
        "pipeline",
        PIPELINE_FIELDS,
        import::PIPELINE_IGNORED,
        diags,
    )?;
    let name = named(&fields, Text::PipelineName, diags).map_or_else(String::new, |(n, _)| n);
    let execution_mode = fields
        .optional_string("executionMode", diags)
        .and_then(|(mode, pos)| execution_mode(&mode, pos, diags))
        .unwrap_or_default();

    let mut variables = Vec::new();
    let mut variable_spans = Vec::new();
    if let Some(node) = fields.get("variables") {
        let items = list(node, "variables", diags).unwrap_or_default();
        if items.len() > limits::MAX_VARIABLES {
            diags.error(
                node.pos,
                format!(
                    "a pipeline has at most {} variables, found {}",
                    limits::MAX_VARIABLES,
                    items.len()
                ),
            );
        }
        for item in items {
            if let Some((variable, pos)) = decode_variable(item, diags) {
                variables.push(variable);
                variable_spans.push(pos);
            }
        }
    }

    let mut stages = Vec::new();
    let mut stage_spans = Vec::new();
    let stages_node = fields.require("stages", diags);
    if let Some(node) = stages_node {
        if let Some(items) = list(node, "stages", diags) {
            if !(limits::MIN_STAGES..=limits::MAX_STAGES).contains(&items.len()) {
                diags.error(
                    node.pos,
                    format!(
                        "a pipeline has {} to {} stages, found {}",
                        limits::MIN_STAGES,
                        limits::MAX_STAGES,
                        items.len()
                    ),
                );
            }
            for item in items {
                if let Some((stage, spans)) = decode_stage(item, catalog, diags) {
                    stages.push(stage);
                    stage_spans.push(spans);
                }
            }
        }
    }

    let (triggers, trigger_spans) = fields
        .get("triggers")
        .map(|node| decode_triggers(node, diags))
        .unwrap_or_default();

    Some(Decoded {
        pipeline: Pipeline {
            name,
            execution_mode,
            variables,
            stages,
            triggers,
        },
        spans: PipelineSpans {
            at: fields.pos,
            stages_at: stages_node.map(|n| n.pos),
            variables: variable_spans,
            stages: stage_spans,
            triggers: trigger_spans,
        },
    })
}

/// The required `name` of a mapping, checked against the rules for `kind`. A name that
/// breaks the rules is reported and still returned, so that later checks (duplicates,
/// references) do not cascade from it.
pub(crate) fn named(
    fields: &Fields<'_>,
    kind: Text,
    diags: &mut Diagnostics,
) -> Option<(String, Pos)> {
    let (name, pos) = fields.required_string("name", diags)?;
    if let Some(problem) = kind.problem(&name) {
        diags.error(pos, problem);
    }
    Some((name, pos))
}

fn execution_mode(mode: &str, pos: Pos, diags: &mut Diagnostics) -> Option<ExecutionMode> {
    match mode {
        "SUPERSEDED" => Some(ExecutionMode::Superseded),
        "QUEUED" => Some(ExecutionMode::Queued),
        "PARALLEL" => Some(ExecutionMode::Parallel),
        other => {
            diags.error(
                pos,
                format!(
                    "unknown executionMode `{other}`; expected one of: SUPERSEDED, QUEUED, PARALLEL"
                ),
            );
            None
        }
    }
}

fn decode_variable(
    node: &Node,
    diags: &mut Diagnostics,
) -> Option<(VariableDeclaration, Option<Pos>)> {
    let fields = Fields::read(node, "variable", VARIABLE_FIELDS, &[], diags)?;
    let named = named(&fields, Text::VariableName, diags);
    let mut text = |key: &str, max: usize| {
        let (value, pos) = fields.optional_string(key, diags)?;
        if let Some(problem) = limits::too_long(&format!("`{key}`"), &value, max) {
            diags.error(pos, problem);
        }
        Some(value)
    };
    let default_value = text("defaultValue", limits::MAX_DEFAULT_VALUE);
    let description = text("description", limits::MAX_DESCRIPTION);
    let (name, pos) = match named {
        Some((name, pos)) => (name, Some(pos)),
        None => (String::new(), None),
    };
    Some((
        VariableDeclaration {
            name,
            default_value,
            description,
        },
        pos,
    ))
}

fn decode_stage(
    node: &Node,
    catalog: &Catalog,
    diags: &mut Diagnostics,
) -> Option<(Stage, StageSpans)> {
    let fields = Fields::read(node, "stage", STAGE_FIELDS, import::STAGE_IGNORED, diags)?;
    let (name, name_pos) = match named(&fields, Text::StageName, diags) {
        Some((name, pos)) => (name, Some(pos)),
        None => (String::new(), None),
    };
    let mut actions = Vec::new();
    let mut action_spans = Vec::new();
    if let Some(node) = fields.require("actions", diags) {
        if let Some(items) = list(node, "actions", diags) {
            if items.is_empty() || items.len() > limits::MAX_ACTIONS_PER_STAGE {
                diags.error(
                    node.pos,
                    format!(
                        "a stage has 1 to {} actions, found {}",
                        limits::MAX_ACTIONS_PER_STAGE,
                        items.len()
                    ),
                );
            }
            for item in items {
                if let Some((action, spans)) = decode_action(item, catalog, diags) {
                    actions.push(action);
                    action_spans.push(spans);
                }
            }
        }
    }
    Some((
        Stage { name, actions },
        StageSpans {
            name: name_pos,
            actions: action_spans,
        },
    ))
}
