//! The commands that need no daemon: `baton serve` runs it, `baton validate` checks
//! pipeline definitions against the daemon's settings the way `pipeline apply` would.

use std::path::Path;

use super::args::{ApprovalDelay, DemoArgs, ServeArgs, ValidateArgs};
use super::watch::Display;
use super::{stderr_line, stdout_line, CliError};
use crate::config::{LogFormat, Settings};
use crate::model::{self, Catalog, Diagnostic};

/// Loads the settings, applies the flags over them and runs the daemon until it is stopped.
pub async fn serve(args: ServeArgs) -> Result<u8, CliError> {
    let mut settings =
        Settings::load(args.config.as_deref()).map_err(|e| CliError::Usage(e.to_string()))?;
    if let Some(listen) = args.listen {
        settings.listen = listen;
    }
    if let Some(data_dir) = args.data_dir {
        settings.data_dir = data_dir;
    }
    if args.log_json {
        settings.log.format = LogFormat::Json;
    }
    crate::app::serve(settings)
        .await
        .map_err(|e| CliError::Failed(format!("{e:#}")))?;
    Ok(0)
}

/// Runs `baton demo`; exit 0 when the demo execution succeeded.
pub async fn demo(args: DemoArgs) -> Result<u8, CliError> {
    let options = crate::demo::DemoOptions {
        keep: args.keep,
        auto_approve: match args.approve_after {
            ApprovalDelay::After(delay) => Some(delay),
            ApprovalDelay::Never => None,
        },
        build_time: args.build_time,
        listen: args.listen,
        display: if args.plain {
            Display::Lines
        } else {
            Display::for_stdout()
        },
    };
    crate::demo::run(options)
        .await
        .map_err(|e| CliError::Failed(format!("{e:#}")))
}

/// Checks every file; exit 0 when all are valid, 1 otherwise.
pub fn validate(args: &ValidateArgs) -> Result<u8, CliError> {
    let settings =
        Settings::load(args.config.as_deref()).map_err(|e| CliError::Usage(e.to_string()))?;
    let catalog = settings.catalog();
    let mut all_valid = true;
    for file in &args.files {
        let report = check_file(file, &catalog);
        all_valid &= report.valid;
        for line in &report.stderr {
            stderr_line(line);
        }
        for line in &report.stdout {
            stdout_line(line);
        }
    }
    Ok(u8::from(!all_valid))
}

/// What validating one file prints, and where.
#[derive(Debug, Default, PartialEq, Eq)]
struct FileReport {
    valid: bool,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

fn check_file(file: &Path, catalog: &Catalog) -> FileReport {
    let name = file.display().to_string();
    match std::fs::read_to_string(file) {
        Ok(text) => check_text(&name, &text, catalog),
        Err(e) => FileReport {
            valid: false,
            stdout: Vec::new(),
            stderr: vec![format!("{name}: cannot read: {e}")],
        },
    }
}

fn check_text(name: &str, text: &str, catalog: &Catalog) -> FileReport {
    match model::load(name, text, catalog) {
        Ok(loaded) => FileReport {
            valid: true,
            stdout: vec![format!(
                "{name}: valid (pipeline {}, {} stages)",
                loaded.pipeline.name,
                loaded.pipeline.stages.len()
            )],
            stderr: loaded.notes.iter().map(note).collect(),
        },
        Err(errors) => FileReport {
            valid: false,
            stdout: Vec::new(),
            stderr: errors.iter().map(ToString::to_string).collect(),
        },
    }
}

/// `file:line:col: note: message`.
fn note(d: &Diagnostic) -> String {
    format!("{}:{}:{}: note: {}", d.file, d.line, d.column, d.message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ServerEntry, ServerKind};

    fn catalog() -> Catalog {
        Catalog {
            servers: vec![ServerEntry {
                name: "jenkins-main".into(),
                kind: ServerKind::Jenkins,
            }],
            git_connections: Default::default(),
            action_types: Default::default(),
        }
    }

    const VALID: &str = "\
name: web
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
    fn valid_file() {
        let report = check_text("web.yaml", VALID, &catalog());
        assert_eq!(
            report,
            FileReport {
                valid: true,
                stdout: vec!["web.yaml: valid (pipeline web, 2 stages)".into()],
                stderr: Vec::new(),
            }
        );
    }

    #[test]
    fn invalid_file_lists_positioned_problems() {
        let text = VALID.replace("provider: Jenkins", "provider: Nonsense");
        let report = check_text("web.yaml", &text, &catalog());
        assert!(!report.valid);
        assert!(report.stdout.is_empty());
        assert!(!report.stderr.is_empty());
        for line in &report.stderr {
            assert!(line.starts_with("web.yaml:"), "{line}");
        }
    }

    #[test]
    fn unreadable_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing.yaml");
        let report = check_file(&missing, &catalog());
        assert!(!report.valid);
        assert_eq!(report.stderr.len(), 1);
        assert!(
            report.stderr[0].contains("missing.yaml: cannot read:"),
            "{report:?}"
        );
    }

    #[test]
    fn notes_are_marked() {
        let d = Diagnostic {
            file: "p.json".into(),
            line: 3,
            column: 7,
            message: "`artifactStore` is ignored".into(),
        };
        assert_eq!(note(&d), "p.json:3:7: note: `artifactStore` is ignored");
    }
}
