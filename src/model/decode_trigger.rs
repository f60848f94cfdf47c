//! Decoding CodePipeline V2 `triggers`: `{providerType, gitConfiguration: {sourceActionName,
//! push: [{branches, tags, filePaths}]}}`, each criteria `{includes, excludes}` of globs,
//! with CodePipeline's limits and combinations, plus Baton's `pollInterval` and
//! `webhookSecret`. Whether `sourceActionName` names a Source action is `validate`'s check.

use super::definition::{FilterCriteria, GitConfiguration, GitPushFilter, PipelineTrigger};
use super::diagnostic::{Diagnostics, Pos};
use super::fields::{list, string, Fields};
use super::glob;
use super::limits::{self, Text};
use super::tree::Node;

/// Where a decoded trigger's source action name was written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TriggerSpans {
    pub source_action: Option<Pos>,
}

const TRIGGER_FIELDS: &[&str] = &[
    "providerType",
    "gitConfiguration",
    "pollInterval",
    "webhookSecret",
];
const GIT_FIELDS: &[&str] = &["sourceActionName", "push", "pullRequest"];
const PUSH_FIELDS: &[&str] = &["branches", "tags", "filePaths"];
const CRITERIA_FIELDS: &[&str] = &["includes", "excludes"];
const PROVIDER_TYPE: &str = "CodeStarSourceConnection";

/// The `triggers` list.
pub(crate) fn decode_triggers(
    node: &Node,
    diags: &mut Diagnostics,
) -> (Vec<PipelineTrigger>, Vec<TriggerSpans>) {
    let items = list(node, "triggers", diags).unwrap_or_default();
    if items.len() > limits::MAX_TRIGGERS {
        diags.error(
            node.pos,
            format!(
                "a pipeline has at most {} triggers, found {}",
                limits::MAX_TRIGGERS,
                items.len()
            ),
        );
    }
    items
        .iter()
        .filter_map(|item| decode_trigger(item, diags))
        .unzip()
}

fn decode_trigger(node: &Node, diags: &mut Diagnostics) -> Option<(PipelineTrigger, TriggerSpans)> {
    let fields = Fields::read(node, "trigger", TRIGGER_FIELDS, &[], diags)?;
    if let Some((provider, pos)) = fields.required_string("providerType", diags) {
        if provider != PROVIDER_TYPE {
            diags.error(
                pos,
                format!("unknown providerType `{provider}`; expected {PROVIDER_TYPE}"),
            );
        }
    }
    let poll_interval = fields
        .optional_string("pollInterval", diags)
        .inspect(|(text, pos)| {
            if let Err(problem) = poll_interval(text) {
                diags.error(*pos, problem);
            }
        })
        .map(|(text, _)| text);
    let webhook_secret = fields
        .optional_string("webhookSecret", diags)
        .inspect(|(name, pos)| {
            if name.is_empty() || name.chars().count() > 100 {
                diags.error(
                    *pos,
                    "`webhookSecret` names a secret of 1 to 100 characters",
                );
            }
        })
        .map(|(name, _)| name);
    let git = Fields::read(
        fields.require("gitConfiguration", diags)?,
        "gitConfiguration",
        GIT_FIELDS,
        &[],
        diags,
    )?;
    if let Some((key, _)) = git.entry("pullRequest") {
        diags.note(
            key.pos,
            "pull request triggers are not supported; `pullRequest` is ignored",
        );
    }
    let source = git.required_string("sourceActionName", diags);
    if let Some((name, pos)) = &source {
        if let Some(problem) = Text::ActionName.problem(name) {
            diags.error(*pos, format!("`sourceActionName`: {problem}"));
        }
    }
    let mut push = Vec::new();
    if let Some(node) = git.get("push") {
        let filters = list(node, "push", diags).unwrap_or_default();
        if !(1..=limits::MAX_PUSH_FILTERS).contains(&filters.len()) {
            diags.error(
                node.pos,
                format!(
                    "`push` holds 1 to {} filters, found {}",
                    limits::MAX_PUSH_FILTERS,
                    filters.len()
                ),
            );
        }
        push.extend(filters.iter().filter_map(|f| push_filter(f, diags)));
    }
    let (source_action_name, source_pos) = match source {
        Some((name, pos)) => (name, Some(pos)),
        None => (String::new(), None),
    };
    Some((
        PipelineTrigger {
            git_configuration: GitConfiguration {
                source_action_name,
                push,
            },
            poll_interval,
            webhook_secret,
        },
        TriggerSpans {
            source_action: source_pos,
        },
    ))
}

/// A `pollInterval` as written: a duration of at least a second, such as `30s` or `5m`.
pub fn poll_interval(text: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(text) {
        Ok(duration) if duration >= std::time::Duration::from_secs(1) => Ok(duration),
        Ok(_) => Err(format!(
            "`pollInterval` must be at least 1s, found `{text}`"
        )),
        Err(e) => Err(format!(
            "`pollInterval` must be a duration such as 30s or 5m, found `{text}`: {e}"
        )),
    }
}

fn push_filter(node: &Node, diags: &mut Diagnostics) -> Option<GitPushFilter> {
    let fields = Fields::read(node, "push filter", PUSH_FIELDS, &[], diags)?;
    let criteria = |key: &'static str, diags: &mut Diagnostics| {
        fields.get(key).and_then(|n| filter_criteria(n, key, diags))
    };
    let filter = GitPushFilter {
        branches: criteria("branches", diags),
        tags: criteria("tags", diags),
        file_paths: criteria("filePaths", diags),
    };
    let has = |key| fields.has(key);
    match (has("branches"), has("tags"), has("filePaths")) {
        (true, false, _) | (false, true, false) => {}
        (false, false, false) => diags.error(
            fields.pos,
            "a push filter needs `branches` (optionally with `filePaths`) or `tags`",
        ),
        (true, true, _) => diags.error(
            fields.pos,
            "a push filter has `branches` or `tags`, not both; write two filters",
        ),
        (false, _, true) => diags.error(
            fields.pos,
            "`filePaths` needs `branches` in the same push filter",
        ),
    }
    Some(filter)
}

fn filter_criteria(
    node: &Node,
    what: &'static str,
    diags: &mut Diagnostics,
) -> Option<FilterCriteria> {
    let fields = Fields::read(node, what, CRITERIA_FIELDS, &[], diags)?;
    if !fields.has("includes") && !fields.has("excludes") {
        diags.error(
            fields.pos,
            format!("`{what}` needs `includes` or `excludes`"),
        );
    }
    let mut patterns = |key: &str| {
        let Some(node) = fields.get(key) else {
            return Vec::new();
        };
        let items = list(node, key, diags).unwrap_or_default();
        if !(1..=limits::MAX_FILTER_PATTERNS).contains(&items.len()) {
            diags.error(
                node.pos,
                format!(
                    "`{what}.{key}` holds 1 to {} patterns, found {}",
                    limits::MAX_FILTER_PATTERNS,
                    items.len()
                ),
            );
        }
        let mut out = Vec::new();
        for item in items {
            let Some(pattern) = string(item, key, diags) else {
                continue;
            };
            let len = pattern.chars().count();
            if len == 0 || len > limits::MAX_FILTER_PATTERN {
                diags.error(
                    item.pos,
                    format!(
                        "a pattern has 1 to {} characters, found {len}",
                        limits::MAX_FILTER_PATTERN
                    ),
                );
            } else if let Err(problem) = glob::compile(&pattern) {
                diags.error(item.pos, problem);
            }
            out.push(pattern);
        }
        out
    };
    let includes = patterns("includes");
    let excludes = patterns("excludes");
    Some(FilterCriteria { includes, excludes })
}
