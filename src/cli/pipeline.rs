//! `baton pipeline apply|list|get|delete`. `apply` sends the file as written (the daemon
//! parses and validates it, with positions); the CLI reads only enough of it to find the
//! pipeline's name for the URL.

use std::path::Path;

use super::args::{DefinitionOutput, Output, PipelineCommand};
use super::client::{ApiClient, DefinitionFormat};
use super::{print_json, render, stderr_line, stdout_line, stdout_text, CliError};

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
                    let text = serde_yaml::to_string(&detail.pipeline).map_err(|e| {
                        CliError::Failed(format!("cannot print the definition as YAML: {e}"))
                    })?;
                    stdout_text(&text);
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
        None => pipeline_name(&text).map_err(|e| CliError::Failed(format!("{shown}: {e}")))?,
    };
    let result = client.apply_pipeline(&name, text, format_of(file)).await?;
    match output {
        Output::Json => print_json(&result),
        Output::Text => {
            stdout_line(&render::applied(&result));
            for note in &result.notes {
                stderr_line(note);
            }
            Ok(0)
        }
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
/// `aws codepipeline get-pipeline` output.
fn pipeline_name(text: &str) -> Result<String, String> {
    let value: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| format!("not YAML or JSON: {e}"))?;
    let name = value
        .get("name")
        .or_else(|| value.get("pipeline").and_then(|p| p.get("name")))
        .and_then(serde_yaml::Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty());
    name.map(str::to_string).ok_or_else(|| {
        "no pipeline name (expected `name` or `pipeline.name`); pass --name".to_string()
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
        check("name: web\n  bad: [", Err("not YAML or JSON"));
    }

    #[test]
    fn format_by_extension() {
        assert_eq!(format_of(Path::new("p.json")), DefinitionFormat::Json);
        assert_eq!(format_of(Path::new("p.JSON")), DefinitionFormat::Json);
        assert_eq!(format_of(Path::new("p.yaml")), DefinitionFormat::Yaml);
        assert_eq!(format_of(Path::new("pipeline")), DefinitionFormat::Yaml);
    }
}
