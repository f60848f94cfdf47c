//! The example pipelines under `config/pipelines/` load against the catalog that
//! `config/baton.yaml` describes.

use super::catalog;
use crate::model::{load, Category, ConfigValue, Executor, ServerKind};

const RELEASE: &str = include_str!("../../../config/pipelines/release.yaml");
const IMPORTED: &str = include_str!("../../../config/pipelines/imported-from-aws.json");

fn executors(file: &str, text: &str) -> Vec<Executor> {
    let catalog = catalog();
    let loaded = match load(file, text, &catalog) {
        Ok(loaded) => loaded,
        Err(errors) => panic!(
            "{file} does not load:\n{}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    };
    loaded
        .pipeline
        .stages
        .iter()
        .flat_map(|s| &s.actions)
        .map(|a| catalog.executor(a).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn ci(server: &str, kind: ServerKind) -> Executor {
    Executor::Ci {
        server: server.into(),
        kind,
    }
}

#[test]
fn release_yaml_runs_git_then_jenkins_then_approval_then_teamcity() {
    assert_eq!(
        executors("release.yaml", RELEASE),
        vec![
            Executor::Git {
                repository_url: "https://github.com/example/shop.git".into(),
                branch: "main".into(),
            },
            ci("jenkins-main", ServerKind::Jenkins),
            Executor::Approval,
            ci("teamcity-main", ServerKind::TeamCity),
        ]
    );
    let loaded = load("release.yaml", RELEASE, &catalog()).unwrap();
    assert!(loaded.notes.is_empty());
    let build = &loaded.pipeline.stages[1].actions[0];
    assert_eq!(build.config_text("ProjectName"), Some("shop/main"));
    let Some(ConfigValue::Map(parameters)) = build.configuration.get("Parameters") else {
        panic!("Parameters is not a map");
    };
    assert_eq!(parameters["GIT_COMMIT"], "#{SourceVariables.CommitId}");
    let deploy = &loaded.pipeline.stages[3].actions[0];
    assert_eq!(deploy.action_type_id.category, Category::Deploy);
    assert_eq!(
        deploy.config_text("BuildType"),
        Some("Shop_DeployToEnvironment")
    );
}

#[test]
fn imported_from_aws_json_runs_on_the_configured_servers() {
    assert_eq!(
        executors("imported-from-aws.json", IMPORTED),
        vec![
            Executor::Git {
                repository_url: "https://github.com/example/shop".into(),
                branch: "main".into(),
            },
            ci("jenkins-main", ServerKind::Jenkins),
            Executor::Approval,
            ci("teamcity-main", ServerKind::TeamCity),
        ]
    );
    let loaded = load("imported-from-aws.json", IMPORTED, &catalog()).unwrap();
    assert!(loaded
        .notes
        .iter()
        .any(|n| n.message.starts_with("`roleArn` is AWS-only")));
}
