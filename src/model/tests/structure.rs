//! The format itself: shorthands, JSON and YAML agreeing, scalar conversion, and every
//! type, field and limit error with its position.

use std::collections::BTreeMap;

use super::{check, check_notes, loaded, MINIMAL};
use crate::model::{
    Action, ActionTypeId, ArtifactRef, Category, ConfigValue, ExecutionMode, Owner, Pipeline, Stage,
};

fn type_id(category: Category, owner: Owner, provider: &str) -> ActionTypeId {
    ActionTypeId {
        category,
        owner,
        provider: provider.into(),
        version: "1".into(),
    }
}

fn artifacts(names: &[&str]) -> Vec<ArtifactRef> {
    names
        .iter()
        .map(|n| ArtifactRef {
            name: n.to_string(),
        })
        .collect()
}

fn text_config(pairs: &[(&str, &str)]) -> BTreeMap<String, ConfigValue> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), ConfigValue::Text(v.to_string())))
        .collect()
}

fn minimal_pipeline() -> Pipeline {
    Pipeline {
        name: "p".into(),
        execution_mode: ExecutionMode::Superseded,
        variables: vec![],
        stages: vec![
            Stage {
                name: "Source".into(),
                actions: vec![Action {
                    name: "Checkout".into(),
                    action_type_id: type_id(Category::Source, Owner::ThirdParty, "Git"),
                    run_order: 1,
                    configuration: text_config(&[
                        ("BranchName", "main"),
                        ("RepositoryUrl", "https://example.com/r.git"),
                    ]),
                    input_artifacts: vec![],
                    output_artifacts: artifacts(&["Src"]),
                    namespace: None,
                    timeout_in_minutes: None,
                }],
            },
            Stage {
                name: "Build".into(),
                actions: vec![Action {
                    name: "Compile".into(),
                    action_type_id: type_id(Category::Build, Owner::ThirdParty, "Jenkins"),
                    run_order: 1,
                    configuration: BTreeMap::new(),
                    input_artifacts: artifacts(&["Src"]),
                    output_artifacts: vec![],
                    namespace: None,
                    timeout_in_minutes: None,
                }],
            },
        ],
        triggers: vec![],
    }
}

#[test]
fn shorthand_expands_to_the_full_form() {
    assert_eq!(loaded(MINIMAL).pipeline, minimal_pipeline());
}

#[test]
fn json_and_yaml_give_the_same_pipeline() {
    let json = r#"{
  "name": "p",
  "executionMode": "SUPERSEDED",
  "stages": [
    {"name": "Source", "actions": [{
      "name": "Checkout",
      "actionTypeId": {"category": "Source", "owner": "ThirdParty", "provider": "Git", "version": "1"},
      "runOrder": 1,
      "configuration": {"RepositoryUrl": "https://example.com/r.git", "BranchName": "main"},
      "inputArtifacts": [],
      "outputArtifacts": [{"name": "Src"}]
    }]},
    {"name": "Build", "actions": [{
      "name": "Compile",
      "actionTypeId": {"category": "Build", "owner": "ThirdParty", "provider": "Jenkins", "version": "1"},
      "inputArtifacts": [{"name": "Src"}]
    }]}
  ]
}"#;
    assert_eq!(loaded(json).pipeline, loaded(MINIMAL).pipeline);
    // The canonical form serialises back to JSON that loads to the same pipeline.
    let round_trip = serde_json::to_string_pretty(&minimal_pipeline()).unwrap();
    assert_eq!(loaded(&round_trip).pipeline, minimal_pipeline());
}

#[test]
fn shorthand_defaults_follow_the_provider_and_can_be_overridden() {
    let text = "\
name: p
stages:
  - name: Source
    actions:
      - {name: S, provider: Git, configuration: {RepositoryUrl: u, BranchName: b}}
  - name: Next
    actions:
      - {name: Gate, provider: Manual}
      - {name: OnServer, provider: jenkins-main, runOrder: 2}
      - {name: Tests, provider: TeamCity, category: Test, version: 2, runOrder: 3}
      - {name: Custom, provider: Jenkins, owner: Custom, runOrder: 4}
";
    let pipeline = loaded(text).pipeline;
    let ids: Vec<(Category, Owner, &str, &str)> = pipeline
        .stages
        .iter()
        .flat_map(|s| &s.actions)
        .map(|a| {
            let id = &a.action_type_id;
            (
                id.category,
                id.owner,
                id.provider.as_str(),
                id.version.as_str(),
            )
        })
        .collect();
    assert_eq!(
        ids,
        vec![
            (Category::Source, Owner::ThirdParty, "Git", "1"),
            (Category::Approval, Owner::Aws, "Manual", "1"),
            (Category::Build, Owner::Custom, "jenkins-main", "1"),
            (Category::Test, Owner::ThirdParty, "TeamCity", "2"),
            (Category::Build, Owner::Custom, "Jenkins", "1"),
        ]
    );
}

#[test]
fn configuration_scalars_become_strings_as_written_and_parameter_maps_stay_maps() {
    let text = "\
name: p
executionMode: PARALLEL
variables:
  - {name: Env, defaultValue: 1.10, description: where}
stages:
  - name: Source
    actions:
      - name: S
        provider: Git
        configuration: {RepositoryUrl: u, BranchName: 007}
        outputArtifacts: [{name: Src}]
  - name: Build
    actions:
      - name: B
        provider: Jenkins
        timeoutInMinutes: 60
        namespace: BuildVars
        configuration:
          ProjectName: job
          Retries: 3
          Clean: true
          Parameters: {A: x, N: 2, Flag: false}
        inputArtifacts: [Src]
";
    let pipeline = loaded(text).pipeline;
    assert_eq!(pipeline.execution_mode, ExecutionMode::Parallel);
    assert_eq!(pipeline.variables[0].default_value.as_deref(), Some("1.10"));
    assert_eq!(
        pipeline.stages[0].actions[0].config_text("BranchName"),
        Some("007")
    );
    let build = &pipeline.stages[1].actions[0];
    assert_eq!(build.config_text("Retries"), Some("3"));
    assert_eq!(build.config_text("Clean"), Some("true"));
    assert_eq!(build.timeout_in_minutes, Some(60));
    assert_eq!(build.namespace.as_deref(), Some("BuildVars"));
    let expected: BTreeMap<String, String> = [("A", "x"), ("N", "2"), ("Flag", "false")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(
        build.configuration["Parameters"],
        ConfigValue::Map(expected)
    );
}

#[test]
fn unknown_fields_name_the_allowed_ones_and_aws_only_fields_are_notes() {
    check(
        "\
name: p
colour: red
stages:
  - name: Source
    actions:
      - name: S
        provider: Git
        configuration: {RepositoryUrl: u, BranchName: b}
        retries: 2
  - name: Build
    parallel: true
    actions:
      - name: B
        actionTypeId: {category: Build, owner: ThirdParty, provider: Jenkins, version: '1', kind: x}
",
        &[
            "2:1: unknown field `colour` in pipeline; expected one of: name, executionMode, variables, stages, triggers",
            "9:9: unknown field `retries` in action; expected one of: name, actionTypeId, provider, category, owner, version, runOrder, configuration, inputArtifacts, outputArtifacts, namespace, timeoutInMinutes",
            "11:5: unknown field `parallel` in stage; expected one of: name, actions",
            "14:93: unknown field `kind` in actionTypeId; expected one of: category, owner, provider, version",
        ],
    );
    check_notes(
        "\
name: p
roleArn: arn:aws:iam::1:role/r
triggers: [{providerType: CodeStarSourceConnection, gitConfiguration: {sourceActionName: S, pullRequest: [{branches: {includes: [main]}}]}}]
stages:
  - name: Source
    onFailure: {result: RETRY}
    actions:
      - name: S
        provider: Git
        region: eu-west-1
        configuration: {RepositoryUrl: u, BranchName: b}
        outputArtifacts: [{name: Src, files: [a.txt]}]
  - name: Build
    actions: [{name: B, provider: Jenkins}]
",
        &[
            "2:1: `roleArn` is AWS-only; ignored",
            "3:93: pull request triggers are not supported; `pullRequest` is ignored",
            "6:5: stage conditions (`onFailure`) are not supported; ignored",
            "10:9: `region` is AWS-only; ignored",
            "12:39: `files` is AWS-only; ignored (the CI job decides what it archives)",
        ],
    );
}

#[test]
fn missing_keys_are_reported_at_the_mapping_that_lacks_them() {
    check(
        "\
stages:
  - actions:
      - name: S
        configuration: {RepositoryUrl: u, BranchName: b}
  - name: Build
",
        &[
            "1:1: pipeline is missing `name`",
            "2:5: stage is missing `name`",
            "3:9: action is missing `actionTypeId` (or the `provider` shorthand)",
            "5:5: stage is missing `actions`",
        ],
    );
    check("{\"name\": \"p\"}", &["1:1: pipeline is missing `stages`"]);
    check(
        "\
name: p
stages:
  - name: Source
    actions:
      - name: S
        actionTypeId: {category: Source, owner: ThirdParty}
  - name: B
    actions: [{name: B, provider: Jenkins}]
",
        &[
            "6:23: actionTypeId is missing `provider`",
            "6:23: actionTypeId is missing `version`",
        ],
    );
}

#[test]
fn wrong_types_are_reported_at_the_value() {
    check(
        "\
name: [p]
executionMode: FAST
variables: {a: 1}
stages:
  - name: Source
    actions:
      - name: S
        provider: Git
        runOrder: first
        timeoutInMinutes: 4
        configuration: {RepositoryUrl: u, BranchName: b, Depth: [1], Extra: {a: b}, Empty: ~}
        outputArtifacts: Src
  - oops
",
        &[
            "1:7: `name` must be a string, found a list",
            "2:16: unknown executionMode `FAST`; expected one of: SUPERSEDED, QUEUED, PARALLEL",
            "3:12: `variables` must be a list, found a mapping",
            "9:19: `runOrder` must be an integer between 1 and 999, found a string",
            "10:27: `timeoutInMinutes` must be between 5 and 86400, found 4",
            "11:65: `configuration.Depth` must be a string, found a list",
            "11:77: `configuration.Extra` must be a string; only Parameters and Properties may be mappings",
            "11:92: `configuration.Empty` must be a string, found null",
            "12:26: `outputArtifacts` must be a list, found a string",
            "13:5: stage must be a mapping, found a string",
        ],
    );
}

#[test]
fn action_type_errors_are_all_reported() {
    check(
        "\
name: p
stages:
  - name: Source
    actions:
      - name: S
        actionTypeId: {category: source, owner: Amazon, provider: 'Git Hub', version: '1234567890'}
      - name: T
        provider: Git
        category: Origin
        actionTypeId: {category: Source, owner: AWS, provider: CodeCommit, version: '1'}
  - name: Build
    actions:
      - {name: B, provider: Jenkins, owner: Nobody}
",
        &[
            "6:34: unknown category `source`; expected one of: Source, Build, Deploy, Test, Invoke, Approval, Compute",
            "6:49: unknown owner `Amazon`; expected one of: AWS, ThirdParty, Custom",
            "6:67: provider `Git Hub` may only hold characters in [A-Za-z0-9_-], found ' '",
            "6:87: action type version must be 1 to 9 characters long, found 10",
            "8:9: give either `actionTypeId` or the `provider` shorthand, not both",
            "9:9: `category` belongs inside `actionTypeId` here",
            "10:64: CodeCommit source needs configuration.RepositoryName",
            "13:45: unknown owner `Nobody`; expected one of: AWS, ThirdParty, Custom",
        ],
    );
}

#[test]
fn names_counts_and_lengths_follow_codepipeline_limits() {
    let long_key = "K".repeat(51);
    let long_value = "v".repeat(1001);
    let text = format!(
        "\
name: 'my pipeline'
variables:
  - name: a.b
    description: '{}'
stages:
  - name: Source
    actions:
      - name: S/1
        provider: Git
        runOrder: 1000
        namespace: ''
        configuration: {{RepositoryUrl: u, BranchName: b, {long_key}: x, Note: {long_value}}}
  - name: Build
    actions: []
",
        "d".repeat(201)
    );
    check(
        &text,
        &[
            "1:7: pipeline name `my pipeline` may only hold characters in [A-Za-z0-9.@_-], found ' '",
            "3:11: variable name `a.b` may only hold characters in [A-Za-z0-9@_-], found '.'",
            "4:18: `description` must be at most 200 characters long, found 201",
            "8:15: action name `S/1` may only hold characters in [A-Za-z0-9.@_-], found '/'",
            "10:19: `runOrder` must be between 1 and 999, found 1000",
            "11:20: namespace must be 1 to 100 characters long, found 0",
            "12:58: configuration key must be 1 to 50 characters long, found 51",
            "12:120: `configuration.Note` must be at most 1000 characters long, found 1001",
            "14:14: a stage has 1 to 50 actions, found 0",
        ],
    );
    check(
        "name: p\nstages:\n  - name: Source\n    actions: [{name: S, provider: Git, configuration: {RepositoryUrl: u, BranchName: b}}]\n",
        &["3:3: a pipeline has 2 to 50 stages, found 1"],
    );
}

#[test]
fn too_many_stages_and_variables_are_reported_at_the_list() {
    let mut text = String::from("name: p\nvariables:\n");
    for i in 0..51 {
        text.push_str(&format!("  - name: v{i}\n"));
    }
    text.push_str("stages:\n  - name: Source\n    actions: [{name: S, provider: Git, configuration: {RepositoryUrl: u, BranchName: b}}]\n");
    for i in 0..50 {
        text.push_str(&format!(
            "  - name: B{i}\n    actions: [{{name: B, provider: Jenkins}}]\n"
        ));
    }
    check(
        &text,
        &[
            "3:3: a pipeline has at most 50 variables, found 51",
            "55:3: a pipeline has 2 to 50 stages, found 51",
        ],
    );
}
