//! An action's Jenkins configuration, read and checked before any request is sent:
//! `ProjectName` (the job's full name), `Parameters` (a map, or a JSON object as text),
//! `UnstableAsSuccess`, `ResultMapping` and `PropertyFile`. A mistake here fails the
//! action without touching the server.

use std::collections::BTreeMap;

use serde_json::Value;

use super::path::JobPath;
use super::results::ResultMapping;
use crate::adapters::ActionContext;
use crate::model::ConfigValue;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobConfig {
    pub job: JobPath,
    pub parameters: BTreeMap<String, String>,
    pub mapping: ResultMapping,
    /// Artifact whose keys become output variables (Java properties or a JSON object).
    pub property_file: Option<String>,
}

impl JobConfig {
    pub fn from_context(ctx: &ActionContext) -> Result<JobConfig, String> {
        let project = ctx.config_text("ProjectName").ok_or(
            "the action needs a ProjectName: the Jenkins job's full name, e.g. team/app/build",
        )?;
        let job = JobPath::parse(project)?;
        let parameters = match ctx.configuration.get("Parameters") {
            None => BTreeMap::new(),
            Some(ConfigValue::Map(map)) => map.clone(),
            Some(ConfigValue::Text(text)) => parse_parameters(text)?,
        };
        let mapping = ResultMapping::parse(
            ctx.config_text("UnstableAsSuccess"),
            ctx.config_text("ResultMapping"),
        )?;
        let property_file = ctx
            .config_text("PropertyFile")
            .map(|p| p.trim().trim_start_matches('/').to_string())
            .filter(|p| !p.is_empty());
        Ok(JobConfig {
            job,
            parameters,
            mapping,
            property_file,
        })
    }
}

/// `{"BRANCH": "main", "DRY_RUN": false}` as parameter texts; empty text is no parameters.
fn parse_parameters(text: &str) -> Result<BTreeMap<String, String>, String> {
    if text.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| format!("Parameters is neither a map nor a JSON object: {e}"))?;
    let Value::Object(object) = value else {
        return Err("Parameters must be a JSON object of parameter names to values".into());
    };
    object
        .into_iter()
        .map(|(name, value)| {
            let text = match value {
                Value::String(text) => text,
                Value::Bool(_) | Value::Number(_) => value.to_string(),
                Value::Null => String::new(),
                _ => {
                    return Err(format!(
                        "parameter `{name}` must be a string, number or boolean"
                    ))
                }
            };
            Ok((name, text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(pairs: &[(&str, ConfigValue)]) -> ActionContext {
        ActionContext {
            run_id: "e.1".into(),
            pipeline: "app".into(),
            execution_id: "e".into(),
            stage: "Build".into(),
            action: "Compile".into(),
            attempt: 1,
            configuration: std::sync::Arc::new(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
            ),
            revision: None,
            input_artifacts: Vec::new(),
            execution_link: "http://baton/e".into(),
        }
    }

    fn text(value: &str) -> ConfigValue {
        ConfigValue::Text(value.into())
    }

    #[test]
    fn reads_every_key() {
        let config = JobConfig::from_context(&context(&[
            ("ProjectName", text("team/app/build")),
            (
                "Parameters",
                text(r#"{"BRANCH":"main","DRY_RUN":false,"N":3,"EMPTY":null}"#),
            ),
            ("UnstableAsSuccess", text("true")),
            ("PropertyFile", text("/out/build.properties")),
        ]))
        .unwrap();
        assert_eq!(config.job.full_name(), "team/app/build");
        assert_eq!(config.parameters["DRY_RUN"], "false");
        assert_eq!(config.parameters["N"], "3");
        assert_eq!(config.parameters["EMPTY"], "");
        assert_eq!(
            config.property_file.as_deref(),
            Some("out/build.properties")
        );
        let map = ConfigValue::Map(BTreeMap::from([("A".to_string(), "1".to_string())]));
        let config =
            JobConfig::from_context(&context(&[("ProjectName", text("x")), ("Parameters", map)]))
                .unwrap();
        assert_eq!(config.parameters["A"], "1");
        assert_eq!(config.property_file, None);
    }

    #[test]
    fn mistakes_are_explained() {
        let error =
            |pairs: &[(&str, ConfigValue)]| JobConfig::from_context(&context(pairs)).unwrap_err();
        assert!(error(&[]).contains("ProjectName"));
        assert!(error(&[("ProjectName", text("a//b"))]).contains("empty folder"));
        assert!(
            error(&[("ProjectName", text("a")), ("Parameters", text("[1]"))])
                .contains("JSON object")
        );
        assert!(
            error(&[("ProjectName", text("a")), ("Parameters", text("{"))]).contains("neither")
        );
        assert!(error(&[
            ("ProjectName", text("a")),
            ("Parameters", text(r#"{"A":[1]}"#))
        ])
        .contains("`A`"));
        assert!(error(&[("ProjectName", text("a")), ("ResultMapping", text("X=Y"))]).contains("X"));
    }
}
