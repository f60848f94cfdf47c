//! Checks across a decoded pipeline: where Source actions may be, unique names, artifacts
//! flowing only from actions that run earlier, namespaces and `#{..}` references, and the
//! catalog saying who runs each action. Parts that failed to decode carry no position in
//! the spans and are skipped here, so one mistake is reported once.

use std::collections::HashMap;

use super::catalog::Catalog;
use super::decode::PipelineSpans;
use super::decode_action::ActionSpans;
use super::definition::{Action, Category, Pipeline};
use super::diagnostic::{Diagnostics, Pos};
use super::limits;
use super::variables::{self, CODEPIPELINE_NAMESPACE, PIPELINE_NAMESPACE};

/// Variables the reserved `codepipeline` namespace provides.
const CODEPIPELINE_VARIABLES: &[&str] = &["PipelineExecutionId"];

/// Where an action sits, for "runs before" and for naming it in messages.
#[derive(Debug, Clone, Copy)]
struct Place<'a> {
    stage_index: usize,
    stage: &'a str,
    action: &'a Action,
    spans: &'a ActionSpans,
}

impl Place<'_> {
    /// Whether this action finishes before `other` starts: an earlier stage, or a lower
    /// runOrder in the same stage.
    fn runs_before(&self, other: &Place<'_>) -> bool {
        self.stage_index < other.stage_index
            || (self.stage_index == other.stage_index
                && self.action.run_order < other.action.run_order)
    }

    fn label(&self) -> String {
        format!("{}.{}", self.stage, self.action.name)
    }
}

pub(crate) fn validate(
    pipeline: &Pipeline,
    spans: &PipelineSpans,
    catalog: &Catalog,
    diags: &mut Diagnostics,
) {
    let places: Vec<Place<'_>> = pipeline
        .stages
        .iter()
        .zip(&spans.stages)
        .enumerate()
        .flat_map(|(stage_index, (stage, stage_spans))| {
            stage
                .actions
                .iter()
                .zip(&stage_spans.actions)
                .map(move |(action, spans)| Place {
                    stage_index,
                    stage: &stage.name,
                    action,
                    spans,
                })
        })
        .collect();

    if places.len() > limits::MAX_ACTIONS {
        diags.error(
            spans.stages_at.unwrap_or(spans.at),
            format!(
                "a pipeline has at most {} actions, found {}",
                limits::MAX_ACTIONS,
                places.len()
            ),
        );
    }
    unique_names(
        "variable name",
        "",
        pipeline
            .variables
            .iter()
            .map(|v| v.name.as_str())
            .zip(spans.variables.iter().copied()),
        diags,
    );
    unique_names(
        "stage name",
        "",
        pipeline
            .stages
            .iter()
            .map(|s| s.name.as_str())
            .zip(spans.stages.iter().map(|s| s.name)),
        diags,
    );
    for (stage, stage_spans) in pipeline.stages.iter().zip(&spans.stages) {
        unique_names(
            "action name",
            &format!(" in stage `{}`", stage.name),
            stage
                .actions
                .iter()
                .map(|a| a.name.as_str())
                .zip(stage_spans.actions.iter().map(|a| a.name)),
            diags,
        );
    }
    source_placement(&places, diags);
    artifacts(&places, diags);
    namespaces(&places, diags);
    references(pipeline, &places, diags);
    triggers(pipeline, spans, &places, diags);
    for place in &places {
        if let Some(kind) = place.spans.kind {
            if let Err(message) = catalog.executor(place.action) {
                diags.error(kind.provider, message);
            }
            if let Some(action_type) = catalog.action_type_of(place.action) {
                let problems = action_type.problems(place.action);
                for message in problems.missing {
                    diags.error(kind.provider, format!("{}: {message}", place.label()));
                }
                for (key, message) in problems.unknown {
                    let at = place
                        .spans
                        .config_keys
                        .iter()
                        .find(|(_, k)| *k == key)
                        .map_or(kind.provider, |(pos, _)| *pos);
                    diags.error(at, format!("{}: {message}", place.label()));
                }
            }
        }
    }
}

/// Reports each name seen before, at its second (third, ...) position.
/// `scope` completes the message ("" or " in stage `Build`").
fn unique_names<'a>(
    what: &str,
    scope: &str,
    names: impl Iterator<Item = (&'a str, Option<Pos>)>,
    diags: &mut Diagnostics,
) {
    let mut seen: HashMap<&str, Pos> = HashMap::new();
    for (name, pos) in names {
        let Some(pos) = pos else { continue };
        if let Some(first) = seen.get(name) {
            diags.error(
                pos,
                format!(
                    "duplicate {what} `{name}`{scope} (first at line {})",
                    first.line
                ),
            );
        } else {
            seen.insert(name, pos);
        }
    }
}

/// Sources start the pipeline: the first stage holds only Source actions, and no other
/// stage holds any.
fn source_placement(places: &[Place<'_>], diags: &mut Diagnostics) {
    for place in places {
        let Some(kind) = place.spans.kind else {
            continue;
        };
        let category = place.action.action_type_id.category;
        let is_source = category == Category::Source;
        if place.stage_index == 0 && !is_source {
            diags.error(
                kind.category,
                format!(
                    "the first stage may only hold Source actions; `{}` is a {category} action",
                    place.action.name
                ),
            );
        } else if place.stage_index > 0 && is_source {
            diags.error(
                kind.category,
                format!(
                    "only the first stage may hold Source actions; `{}` is in stage `{}`",
                    place.action.name, place.stage
                ),
            );
        }
    }
}

/// Each trigger names a Source action, and no source action has two triggers.
fn triggers(
    pipeline: &Pipeline,
    spans: &PipelineSpans,
    places: &[Place<'_>],
    diags: &mut Diagnostics,
) {
    let sources: Vec<&str> = places
        .iter()
        .filter(|p| p.action.action_type_id.category == Category::Source)
        .map(|p| p.action.name.as_str())
        .collect();
    let names = pipeline
        .triggers
        .iter()
        .map(|t| t.git_configuration.source_action_name.as_str())
        .zip(spans.triggers.iter().map(|s| s.source_action));
    for (name, pos) in names.clone() {
        let Some(pos) = pos else { continue };
        if !sources.contains(&name) {
            let known = if sources.is_empty() {
                "the pipeline has none".to_string()
            } else {
                sources.join(", ")
            };
            diags.error(
                pos,
                format!("`sourceActionName` `{name}` names no Source action ({known})"),
            );
        }
    }
    unique_names("trigger for source action", "", names, diags);
}

/// Output artifact names are unique in the pipeline, and every input artifact comes from
/// an action that runs earlier.
fn artifacts(places: &[Place<'_>], diags: &mut Diagnostics) {
    let mut producers: HashMap<&str, &Place<'_>> = HashMap::new();
    for place in places {
        for (artifact, pos) in place
            .action
            .output_artifacts
            .iter()
            .zip(&place.spans.outputs)
        {
            match producers.get(artifact.name.as_str()) {
                Some(first) => diags.error(
                    *pos,
                    format!(
                        "output artifact `{}` is already produced by `{}`",
                        artifact.name,
                        first.label()
                    ),
                ),
                None => {
                    producers.insert(&artifact.name, place);
                }
            }
        }
    }
    for place in places {
        for (artifact, pos) in place.action.input_artifacts.iter().zip(&place.spans.inputs) {
            match producers.get(artifact.name.as_str()) {
                None => diags.error(
                    *pos,
                    format!(
                        "input artifact `{}` is not an output artifact of any action",
                        artifact.name
                    ),
                ),
                Some(producer) if !producer.runs_before(place) => diags.error(
                    *pos,
                    format!(
                        "input artifact `{}` comes from `{}`, which does not run before this \
                         action (an earlier stage, or a lower runOrder in this stage)",
                        artifact.name,
                        producer.label()
                    ),
                ),
                Some(_) => {}
            }
        }
    }
}

/// Namespaces are unique, not reserved, and not also artifact names.
fn namespaces(places: &[Place<'_>], diags: &mut Diagnostics) {
    let artifact_names: Vec<&str> = places
        .iter()
        .flat_map(|p| p.action.output_artifacts.iter().map(|a| a.name.as_str()))
        .collect();
    let mut seen: HashMap<&str, &Place<'_>> = HashMap::new();
    for place in places {
        let (Some(namespace), Some(pos)) = (&place.action.namespace, place.spans.namespace) else {
            continue;
        };
        if namespace == PIPELINE_NAMESPACE || namespace == CODEPIPELINE_NAMESPACE {
            diags.error(pos, format!("namespace `{namespace}` is reserved"));
        } else if let Some(first) = seen.get(namespace.as_str()) {
            diags.error(
                pos,
                format!(
                    "namespace `{namespace}` is already used by `{}`",
                    first.label()
                ),
            );
        } else {
            seen.insert(namespace, place);
            if artifact_names.contains(&namespace.as_str()) {
                diags.error(
                    pos,
                    format!("namespace `{namespace}` is also an artifact name; rename one of them"),
                );
            }
        }
    }
}

/// Every `#{ns.name}` in a configuration value names a declared pipeline variable, a
/// `codepipeline` variable, or the namespace of an action that runs earlier.
fn references(pipeline: &Pipeline, places: &[Place<'_>], diags: &mut Diagnostics) {
    let declared: Vec<&str> = pipeline.variables.iter().map(|v| v.name.as_str()).collect();
    let owners: HashMap<&str, &Place<'_>> = places
        .iter()
        .filter_map(|p| p.action.namespace.as_deref().map(|ns| (ns, p)))
        .rev()
        .collect();
    for place in places {
        for (pos, text) in &place.spans.strings {
            let mut rest = text.as_str();
            loop {
                let (found, malformed) = match variables::references(rest) {
                    Ok(found) => (found, None),
                    Err(bad) => {
                        let before = variables::references(&rest[..bad.offset]).unwrap_or_default();
                        (before, Some(bad))
                    }
                };
                for reference in &found {
                    let problem = match reference.namespace {
                        PIPELINE_NAMESPACE if !declared.contains(&reference.name) => Some(
                            "names no pipeline variable; declare it under `variables`".to_string(),
                        ),
                        CODEPIPELINE_NAMESPACE
                            if !CODEPIPELINE_VARIABLES.contains(&reference.name) =>
                        {
                            Some(format!(
                                "is not available; the `codepipeline` namespace has only {}",
                                CODEPIPELINE_VARIABLES.join(", ")
                            ))
                        }
                        PIPELINE_NAMESPACE | CODEPIPELINE_NAMESPACE => None,
                        namespace => match owners.get(namespace) {
                            None => Some(format!(
                                "refers to namespace `{namespace}`, which no action declares"
                            )),
                            Some(owner) if !owner.runs_before(place) => Some(format!(
                                "refers to namespace `{namespace}` of `{}`, which does not run \
                                 before this action",
                                owner.label()
                            )),
                            Some(_) => None,
                        },
                    };
                    if let Some(problem) = problem {
                        diags.error(*pos, format!("`{}` {problem}", reference.display()));
                    }
                }
                let Some(bad) = malformed else { break };
                diags.error(
                    *pos,
                    format!(
                        "malformed variable reference `{}`; expected #{{namespace.name}}",
                        bad.text
                    ),
                );
                rest = &rest[(bad.offset + bad.text.len()).min(rest.len())..];
            }
        }
    }
}
