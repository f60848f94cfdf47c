//! Tests of `load` end to end: text in, `Pipeline` or diagnostics out. The helpers here
//! build the catalog that `config/baton.yaml` describes and render diagnostics as
//! `line:col: message`, so each test reads as input and expected output.

mod action_types;
mod examples;
mod fuzz;
mod import;
mod robustness;
mod structure;
mod triggers;
mod validation;

use super::{load, Catalog, Loaded, ServerEntry, ServerKind};

/// The catalog `config/baton.yaml` describes, built by hand: model code reads no files.
fn catalog() -> Catalog {
    Catalog {
        servers: vec![
            ServerEntry {
                name: "jenkins-main".into(),
                kind: ServerKind::Jenkins,
            },
            ServerEntry {
                name: "teamcity-main".into(),
                kind: ServerKind::TeamCity,
            },
        ],
        git_connections: [
            ("GitHub", "https://github.com"),
            (
                "CodeCommit",
                "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos",
            ),
            (
                "arn:aws:codestar-connections:eu-west-1:123456789012:connection/0f6b9a2e-1c1d-4b8e-9a43-5a1c0c8d7e21",
                "https://github.com",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        action_types: Default::default(),
    }
}

/// Loads `text`, panicking with the diagnostics if it does not load.
fn loaded(text: &str) -> Loaded {
    match load("p.yaml", text, &catalog()) {
        Ok(loaded) => loaded,
        Err(errors) => panic!("expected the document to load, got:\n{}", render(&errors)),
    }
}

/// The errors `load` reports for `text`, as `line:col: message`; empty when it loads.
fn errors(text: &str) -> Vec<String> {
    match load("p.yaml", text, &catalog()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(short).collect(),
    }
}

/// Asserts that `text` fails with exactly `expected`, in order.
#[track_caller]
fn check(text: &str, expected: &[&str]) {
    let found = errors(text);
    assert_eq!(found, expected, "\nfound:\n{}\n", found.join("\n"));
}

/// Asserts that `text` loads with exactly the notes `expected`.
#[track_caller]
fn check_notes(text: &str, expected: &[&str]) {
    let notes: Vec<String> = loaded(text).notes.iter().map(short).collect();
    assert_eq!(notes, expected, "\nfound:\n{}\n", notes.join("\n"));
}

fn short(d: &super::Diagnostic) -> String {
    format!("{}:{}: {}", d.line, d.column, d.message)
}

fn render(list: &[super::Diagnostic]) -> String {
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A valid two-stage pipeline in shorthand YAML; tests append to it or edit it.
const MINIMAL: &str = "\
name: p
stages:
  - name: Source
    actions:
      - name: Checkout
        provider: Git
        configuration: {RepositoryUrl: 'https://example.com/r.git', BranchName: main}
        outputArtifacts: [Src]
  - name: Build
    actions:
      - name: Compile
        provider: Jenkins
        inputArtifacts: [Src]
";

#[test]
fn the_minimal_pipeline_loads_without_notes() {
    let loaded = loaded(MINIMAL);
    assert_eq!(loaded.pipeline.name, "p");
    assert!(loaded.notes.is_empty());
}
