//! Variables in action configuration: `#{variables.X}`, `#{codepipeline.PipelineExecutionId}`
//! and namespaced outputs of earlier actions (`#{Ns.name}`, names with dots), in text and
//! map values; what happens when one cannot be resolved.

use super::harness::*;
use crate::engine::Rejection;
use crate::model::{ConfigValue, ExecutionMode, Pipeline};

/// Source (namespace Src) → Build (Jenkins, namespace Build, with parameters) → Deploy.
fn with_variables() -> Pipeline {
    pipeline("vars", ExecutionMode::Superseded)
        .variable("Env", Some("staging"))
        .variable("Owner", None)
        .stage("Source", vec![git_source("Checkout").namespace("Src")])
        .stage(
            "Build",
            vec![jenkins("Compile", "app-build")
                .namespace("Build")
                .config(
                    "Tag",
                    "#{variables.Env}-#{codepipeline.PipelineExecutionId}",
                )
                .config_map(
                    "Parameters",
                    &[
                        ("COMMIT", "#{Src.CommitId}"),
                        ("OWNER", "#{variables.Owner}"),
                        ("PLAIN", "no references"),
                    ],
                )],
        )
        .stage(
            "Deploy",
            vec![jenkins("Ship", "app-deploy")
                .config("Version", "#{Build.build.vcs.number}")
                .config_map(
                    "Parameters",
                    &[("FROM", "#{Src.CommitId}@#{variables.Env}")],
                )],
        )
}

fn text(h: &Harness, id: &str, stage: &str, action: &str, key: &str) -> String {
    match &h.action(id, stage, action).resolved_configuration[key] {
        ConfigValue::Text(text) => text.clone(),
        other => panic!("{key} is {other:?}"),
    }
}

fn map(h: &Harness, id: &str, stage: &str, action: &str, key: &str) -> Vec<(String, String)> {
    match &h.action(id, stage, action).resolved_configuration[key] {
        ConfigValue::Map(map) => map.clone().into_iter().collect(),
        other => panic!("{key} is {other:?}"),
    }
}

#[test]
fn variables_resolve_in_text_and_map_values() {
    let mut h = Harness::new(with_variables());
    h.start_with("e01", &[("Owner", "team-a")]);
    assert_eq!(
        h.exec("e01").variables,
        pairs(&[("Env", "staging"), ("Owner", "team-a")])
    );
    h.complete("e01.1", true, &[("CommitId", "abc123")]);
    assert_eq!(text(&h, "e01", "Build", "Compile", "Tag"), "staging-e01");
    assert_eq!(
        text(&h, "e01", "Build", "Compile", "ProjectName"),
        "app-build"
    );
    assert_eq!(
        map(&h, "e01", "Build", "Compile", "Parameters"),
        [
            ("COMMIT".to_string(), "abc123".to_string()),
            ("OWNER".to_string(), "team-a".to_string()),
            ("PLAIN".to_string(), "no references".to_string()),
        ]
    );
    h.complete("e01.2", true, &[("build.vcs.number", "42")]);
    assert_eq!(text(&h, "e01", "Deploy", "Ship", "Version"), "42");
    assert_eq!(
        map(&h, "e01", "Deploy", "Ship", "Parameters"),
        [("FROM".to_string(), "abc123@staging".to_string())]
    );
}

#[test]
fn a_given_variable_overrides_the_default() {
    let mut h = Harness::new(with_variables());
    h.start_with("e01", &[("Env", "prod"), ("Owner", "x")]);
    assert_eq!(h.exec("e01").variables["Env"], "prod");
}

#[test]
fn an_undeclared_variable_at_start_is_invalid() {
    let mut h = Harness::new(with_variables());
    let refused = h.try_start_with("e01", &[("Owner", "x"), ("Colour", "blue")]);
    assert!(
        matches!(refused, Err(Rejection::Invalid(ref m)) if m.contains("Colour")),
        "{refused:?}"
    );
    assert!(h.state.executions.is_empty());
}

#[test]
fn a_variable_without_default_must_be_given() {
    let mut h = Harness::new(with_variables());
    let refused = h.try_start_with("e01", &[]);
    assert!(
        matches!(refused, Err(Rejection::Invalid(ref m)) if m.contains("Owner")),
        "{refused:?}"
    );
    assert!(h.state.executions.is_empty());
}

#[test]
fn an_unresolvable_reference_fails_the_action_when_it_starts() {
    let mut h = Harness::new(with_variables());
    h.start_with("e01", &[("Owner", "x")]);
    // No CommitId among the source's outputs.
    let effects = h.complete("e01.1", true, &[("Other", "1")]);
    assert!(run_actions(&effects).is_empty(), "{effects:?}");
    assert!(timers(&effects).is_empty());
    assert_eq!(finished(&effects), ["e01"]);
    h.assert_action("e01", "Build", "Compile", "Failed");
    let run = h.action("e01", "Build", "Compile");
    assert_eq!(run.run_id.as_deref(), Some("e01.2"));
    let error = run.error.clone().unwrap();
    assert!(error.contains("#{Src.CommitId}"), "{error}");
    h.assert_stage("e01", "Build", "Failed");
    h.assert_status("e01", "Failed");
    let summary = h.exec("e01").status_summary.clone().unwrap();
    assert!(
        summary.contains("Build/Compile") && summary.contains("#{Src.CommitId}"),
        "{summary}"
    );
    assert_eq!(h.occupant("Build"), None);
}

#[test]
fn an_unresolvable_reference_lets_the_rest_of_its_group_run() {
    let p = pipeline("p", ExecutionMode::Superseded)
        .stage("Source", vec![git_source("Checkout")])
        .stage(
            "Build",
            vec![
                jenkins("Good", "a"),
                jenkins("Bad", "b").config("X", "#{Nobody.home}"),
                jenkins("Later", "c").order(2),
            ],
        );
    let mut h = Harness::new(p);
    h.start("e01");
    let effects = h.succeed("e01.1");
    assert_eq!(run_actions(&effects), ["e01.2"], "Good runs, Bad does not");
    h.assert_action("e01", "Build", "Bad", "Failed");
    assert_eq!(h.run_id("e01", "Build", "Bad"), "e01.3");
    h.assert_status("e01", "InProgress");
    h.succeed("e01.2");
    h.assert_action("e01", "Build", "Later", "-");
    h.assert_status("e01", "Failed");
}

#[test]
fn an_unresolvable_reference_in_the_first_stage_fails_at_start() {
    let p = pipeline("p", ExecutionMode::Queued)
        .stage(
            "Source",
            vec![git_source("Checkout").config("BranchName", "#{variables.Branch}")],
        )
        .stage("Build", vec![jenkins("Compile", "a")]);
    let mut h = Harness::new(p);
    h.start("e01");
    h.assert_status("e01", "Failed");
    assert_eq!(finished(&h.last.effects), ["e01"]);
    // The lock went with it: the next execution starts at once.
    let effects = h.start("e02");
    h.assert_status("e02", "Failed");
    assert!(run_actions(&effects).is_empty());
}

#[test]
fn outputs_keep_the_values_the_action_published() {
    let mut h = Harness::new(with_variables());
    h.start_with("e01", &[("Owner", "x")]);
    h.complete("e01.1", true, &[("CommitId", "#{variables.Env}")]);
    assert_eq!(
        map(&h, "e01", "Build", "Compile", "Parameters")[0].1,
        "#{variables.Env}",
        "a value is substituted once, not re-scanned"
    );
}
