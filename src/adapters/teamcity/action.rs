//! An action's TeamCity configuration, checked once where it enters: `BuildType`
//! (required), `Branch`, `Properties` (a map, or a JSON object in a string; names such
//! as `env.X`, `system.X` or plain ones become build parameters), `Comment`, and
//! `OutputParameters` (comma-separated names to read from the build's resulting
//! properties). Also the comment every triggered build carries, naming the execution.

use std::collections::BTreeMap;

use super::locator::MARKER;
use crate::adapters::{ActionContext, AdapterError};
use crate::model::ConfigValue;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionConfig {
    pub build_type: String,
    pub branch: Option<String>,
    pub properties: BTreeMap<String, String>,
    pub comment: Option<String>,
    pub output_parameters: Vec<String>,
}

impl ActionConfig {
    pub fn parse(ctx: &ActionContext) -> Result<ActionConfig, AdapterError> {
        let fail = |message: String| {
            AdapterError::Fatal(format!(
                "action {}: TeamCity configuration: {message}",
                ctx.action
            ))
        };
        let text = |key: &str| -> Result<Option<String>, AdapterError> {
            match ctx.configuration.get(key) {
                None => Ok(None),
                Some(ConfigValue::Text(value)) => {
                    Ok(Some(value.trim().to_string()).filter(|v| !v.is_empty()))
                }
                Some(ConfigValue::Map(_)) => Err(fail(format!("{key} must be text, not a map"))),
            }
        };
        let build_type = text("BuildType")?.ok_or_else(|| {
            fail("BuildType is required (the build configuration's id, e.g. Backend_Deploy)".into())
        })?;
        let properties = match ctx.configuration.get("Properties") {
            None => BTreeMap::new(),
            Some(value) => properties(value).map_err(fail)?,
        };
        if let Some(name) = properties.keys().find(|n| n.trim().is_empty()) {
            return Err(fail(format!(
                "Properties has a parameter with an empty name ({name:?})"
            )));
        }
        if properties.contains_key(MARKER) {
            return Err(fail(format!(
                "Properties may not set {MARKER}: Baton sets it to find its builds again"
            )));
        }
        let output_parameters = text("OutputParameters")?
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        Ok(ActionConfig {
            build_type,
            branch: text("Branch")?,
            properties,
            comment: text("Comment")?,
            output_parameters,
        })
    }

    /// The build's comment: the action's own `Comment`, then which pipeline execution
    /// triggered it and where to see it.
    pub fn comment_text(&self, ctx: &ActionContext) -> String {
        let origin = format!(
            "Triggered by Baton: pipeline {}, execution {}, stage {}, action {} (run {})\n{}",
            ctx.pipeline, ctx.execution_id, ctx.stage, ctx.action, ctx.run_id, ctx.execution_link
        );
        match &self.comment {
            Some(comment) => format!("{comment}\n\n{origin}"),
            None => origin,
        }
    }
}

/// `Properties` as a map, or as a JSON object whose values are strings, numbers or
/// booleans.
fn properties(value: &ConfigValue) -> Result<BTreeMap<String, String>, String> {
    let text = match value {
        ConfigValue::Map(map) => return Ok(map.clone()),
        ConfigValue::Text(text) if text.trim().is_empty() => return Ok(BTreeMap::new()),
        ConfigValue::Text(text) => text,
    };
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| {
            format!("Properties must be a map or a JSON object of names to values: {e}")
        })?;
    object
        .into_iter()
        .map(|(name, value)| {
            let value = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Null => String::new(),
                other => {
                    return Err(format!(
                        "Properties.{name} must be text, a number or a boolean, not {other}"
                    ))
                }
            };
            Ok((name, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::teamcity::test_support::context;

    fn text(value: &str) -> ConfigValue {
        ConfigValue::Text(value.into())
    }

    #[test]
    fn reads_every_key() {
        let ctx = context(&[
            ("BuildType", text("Backend_Deploy")),
            ("Branch", text(" main ")),
            (
                "Properties",
                text(r#"{"env.TARGET": "staging", "system.retries": 3, "dryRun": false}"#),
            ),
            ("Comment", text("Release 1.2")),
            ("OutputParameters", text("build.vcs.number, env.IMAGE ,")),
        ]);
        let config = ActionConfig::parse(&ctx).unwrap();
        assert_eq!(config.build_type, "Backend_Deploy");
        assert_eq!(config.branch.as_deref(), Some("main"));
        assert_eq!(config.properties["env.TARGET"], "staging");
        assert_eq!(config.properties["system.retries"], "3");
        assert_eq!(config.properties["dryRun"], "false");
        assert_eq!(config.output_parameters, ["build.vcs.number", "env.IMAGE"]);
        let comment = config.comment_text(&ctx);
        assert!(comment
            .starts_with("Release 1.2\n\nTriggered by Baton: pipeline backend, execution exec-1"));
        assert!(comment.ends_with("http://baton/executions/exec-1"));
    }

    #[test]
    fn properties_may_be_a_map() {
        let map = BTreeMap::from([("env.X".to_string(), "1".to_string())]);
        let ctx = context(&[
            ("BuildType", text("B")),
            ("Properties", ConfigValue::Map(map.clone())),
        ]);
        assert_eq!(ActionConfig::parse(&ctx).unwrap().properties, map);
    }

    #[test]
    fn mistakes_are_fatal_and_say_what_is_wrong() {
        let fatal = |config: &[(&str, ConfigValue)]| match ActionConfig::parse(&context(config)) {
            Err(AdapterError::Fatal(message)) => message,
            other => panic!("{other:?}"),
        };
        assert!(fatal(&[]).contains("BuildType is required"));
        assert!(
            fatal(&[("BuildType", text("B")), ("Properties", text("[1]"))]).contains("JSON object")
        );
        assert!(fatal(&[
            ("BuildType", text("B")),
            ("Properties", text(r#"{"a": [1]}"#))
        ])
        .contains("Properties.a"));
        assert!(fatal(&[
            ("BuildType", text("B")),
            ("Properties", text(r#"{"baton.action.run": "x"}"#))
        ])
        .contains("may not set baton.action.run"));
    }
}
