//! `baton pipeline apply|list|get|delete`. `apply` sends the file as written (the daemon
//! parses and validates it, with positions); the CLI reads only enough of it to find the
//! pipeline's name for the URL.

use std::path::Path;

use super::args::{DefinitionOutput, Output, PipelineCommand};
use super::client::{ApiClient, ClientError, DefinitionFormat};
use super::{print_json, render, stderr_line, stdout_line, stdout_text, CliError};
use crate::model::Pipeline;

pub async fn run(client: ApiClient, command: PipelineCommand) -> Result<u8, CliError> {
    match command {
        PipelineCommand::Apply { file, name, output } => {
            apply(&client, &file, name.as_deref(), output).await
        }
        PipelineCommand::List { output } => {
            let list = client.list_pipelines().await?;
            match output {
                Output::Json => print_json(&list),
                Output::Text => {
                    stdout_text(&render::pipelines(&list));
                    Ok(0)
                }
            }
        }
        PipelineCommand::Get { name, output } => {
            let detail = client.get_pipeline(&name).await?;
            match output {
                DefinitionOutput::Json => print_json(&detail),
                DefinitionOutput::Yaml => {
                    stdout_text(&definition_yaml(&detail.pipeline)?);
                    Ok(0)
                }
            }
        }
        PipelineCommand::Delete { name, output } => {
            let done = client.delete_pipeline(&name).await?;
            match output {
                Output::Json => print_json(&done),
                Output::Text => {
                    stdout_line(&format!("pipeline {name} deleted"));
                    Ok(0)
                }
            }
        }
    }
}

async fn apply(
    client: &ApiClient,
    file: &Path,
    name: Option<&str>,
    output: Output,
) -> Result<u8, CliError> {
    let shown = file.display();
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::Failed(format!("{shown}: cannot read: {e}")))?;
    let name = match name {
        Some(name) => name.to_string(),
        None => pipeline_name(&text).map_err(|e| CliError::Failed(format!("{shown}{e}")))?,
    };
    let file_name = shown.to_string();
    let result = match client.apply_pipeline(&name, text, format_of(file)).await {
        Ok(result) => result,
        Err(ClientError::Api {
            status,
            code,
            message,
            details,
        }) => {
            let details = details
                .iter()
                .map(|d| in_file(d, &name, &file_name))
                .collect();
            return Err(CliError::Client(ClientError::Api {
                status,
                code,
                message,
                details,
            }));
        }
        Err(e) => return Err(e.into()),
    };
    match output {
        Output::Json => print_json(&result),
        Output::Text => {
            stdout_line(&render::applied(&result));
            for note in &result.notes {
                stderr_line(&in_file(note, &name, &file_name));
            }
            Ok(0)
        }
    }
}

/// The daemon names the source of its diagnostics after the pipeline (it never sees the
/// file); `NAME:line:col: …` becomes `FILE:line:col: …` so editors can jump to it.
fn in_file(diagnostic: &str, name: &str, file: &str) -> String {
    let positioned = diagnostic
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix(':'))
        .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
    match positioned {
        Some(rest) => format!("{file}:{rest}"),
        None => diagnostic.to_string(),
    }
}

/// The definition as YAML, its keys in the order of the format (`name` first) when it
/// reads as one without losing anything; as the daemon sent it otherwise.
fn definition_yaml(pipeline: &serde_json::Value) -> Result<String, CliError> {
    let ordered = serde_json::from_value::<Pipeline>(pipeline.clone())
        .ok()
        .filter(|p| serde_json::to_value(p).ok().as_ref() == Some(pipeline))
        .and_then(|p| serde_yaml::to_string(&p).ok());
    match ordered {
        Some(text) => Ok(text),
        None => serde_yaml::to_string(pipeline)
            .map_err(|e| CliError::Failed(format!("cannot print the definition as YAML: {e}"))),
    }
}

/// JSON for `.json` files, YAML (which also reads JSON) for everything else.
fn format_of(file: &Path) -> DefinitionFormat {
    let json = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if json {
        DefinitionFormat::Json
    } else {
        DefinitionFormat::Yaml
    }
}

/// The pipeline's name: `name` at the top, or `pipeline.name` as in
/// `aws codepipeline get-pipeline` output. Errors start with `:line:col` or `: ` so they
/// follow the file name.
fn pipeline_name(text: &str) -> Result<String, String> {
    let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(":{}:{}", l.line(), l.column()))
            .unwrap_or_default();
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or(&message);
        format!("{at}: not YAML or JSON: {message}")
    })?;
    let name = value
        .get("name")
        .or_else(|| value.get("pipeline").and_then(|p| p.get("name")))
        .and_then(serde_yaml::Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty());
    name.map(str::to_string).ok_or_else(|| {
        ": no pipeline name (expected `name` or `pipeline.name`); pass --name".to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<&str, &str>) {
        let got = pipeline_name(text);
        match expected {
            Ok(name) => assert_eq!(got.as_deref(), Ok(name)),
            Err(fragment) => {
                let message = got.expect_err("no name");
                assert!(message.contains(fragment), "{message}");
            }
        }
    }

    #[test]
    fn finds_the_name() {
        check("name: web\nstages: []\n", Ok("web"));
        check(
            r#"{"pipeline": {"name": "from-aws", "stages": []}, "metadata": {}}"#,
            Ok("from-aws"),
        );
        check("name: web.app@prod_v-1\n", Ok("web.app@prod_v-1"));
        check("stages: []\n", Err("pass --name"));
        check("name: [1, 2]\n", Err("pass --name"));
        check("name: web\nstages: [\n", Err(":3:1: not YAML or JSON: "));
    }

    #[test]
    fn diagnostics_point_at_the_file() {
        let check =
            |d: &str, expected: &str| assert_eq!(in_file(d, "web.v2", "p/web.yaml"), expected);
        check("web.v2:3:5: unknown field", "p/web.yaml:3:5: unknown field");
        check("web.v2: something", "web.v2: something");
        check("web.v2x:3:5: other", "web.v2x:3:5: other");
        check("pipeline is locked", "pipeline is locked");
    }

    #[test]
    fn definition_yaml_puts_the_name_first() {
        let value = serde_json::json!({
            "stages": [{"name": "S", "actions": [{
                "name": "A", "runOrder": 1,
                "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}
            }]}],
            "name": "web",
            "executionMode": "QUEUED"
        });
        let text = definition_yaml(&value).expect("yaml");
        assert!(
            text.starts_with("name: web\nexecutionMode: QUEUED\n"),
            "{text}"
        );
        // What the model does not know is printed as sent, never dropped.
        let mut odd = value.clone();
        odd["zeta"] = serde_json::json!(1);
        let text = definition_yaml(&odd).expect("yaml");
        assert!(text.contains("zeta: 1\n"), "{text}");
        let odd = serde_json::json!({"zeta": 1, "name": "x"});
        assert_eq!(definition_yaml(&odd).expect("yaml"), "name: x\nzeta: 1\n");
    }

    #[test]
    fn format_by_extension() {
        assert_eq!(format_of(Path::new("p.json")), DefinitionFormat::Json);
        assert_eq!(format_of(Path::new("p.JSON")), DefinitionFormat::Json);
        assert_eq!(format_of(Path::new("p.yaml")), DefinitionFormat::Yaml);
        assert_eq!(format_of(Path::new("pipeline")), DefinitionFormat::Yaml);
    }
}
