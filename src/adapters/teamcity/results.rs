//! What a finished build means for the action. TeamCity's own words (statusText,
//! canceledInfo) go into the message; its statuses map as the reference's table says:
//! `SUCCESS` succeeds; `FAILURE`, `ERROR` and `UNKNOWN` fail; a canceled build
//! (`canceledInfo`, status `UNKNOWN`) fails saying who canceled it, and says so plainly
//! when it was removed from the queue before it ever started (`number` `N/A`);
//! `failedToStart` fails saying the build never ran. Don't parse `statusText` for state.

use std::collections::BTreeMap;

use reqwest::StatusCode;

use super::client::Api;
use super::outputs;
use super::wire::{Build, Files, Properties};
use crate::adapters::{Outcome, Result};

/// What is read once a build finished, beyond the build itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    /// Top-level artifact names.
    pub artifacts: Vec<String>,
    /// The requested `OutputParameters` found among the build's resulting properties.
    pub parameters: BTreeMap<String, String>,
}

/// Reads the artifacts (unless the build never ran or has none) and, when the action
/// asks for any, the build's resulting properties.
pub async fn details(api: &Api, build: &Build, wanted: &[String]) -> Result<Details> {
    let mut details = Details::default();
    let id = build.id;
    let has_artifacts = build.artifacts.as_ref().is_none_or(|a| a.count != Some(0));
    if has_artifacts && !never_started(build) {
        let reply = api
            .read(
                api.rest(&format!("builds/id:{id}/artifacts/children/")),
                "application/json",
            )
            .await?;
        if reply.status != StatusCode::NOT_FOUND {
            let files: Files =
                api.parse(&format!("listing the artifacts of build {id}"), &reply)?;
            details.artifacts = files.file.into_iter().map(|f| f.name).collect();
        }
    }
    if !wanted.is_empty() {
        let reply = api
            .read(
                api.rest(&format!("builds/id:{id}/resulting-properties")),
                "application/json",
            )
            .await?;
        if reply.status != StatusCode::NOT_FOUND {
            let properties: Properties =
                api.parse(&format!("reading the parameters of build {id}"), &reply)?;
            for name in wanted {
                match properties.get(name) {
                    Some(value) => {
                        details.parameters.insert(name.clone(), value.to_string());
                    }
                    None => tracing::warn!(
                        server = %api.name(),
                        build = id,
                        parameter = %name,
                        "an OutputParameters name is not among the build's resulting properties"
                    ),
                }
            }
        }
    }
    Ok(details)
}

/// The outcome of a finished build.
pub fn outcome(build: &Build, details: &Details) -> Outcome {
    let outputs = outputs::outputs(build, details);
    let label = label(build);
    let status_text = build
        .status_text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if let Some(canceled) = &build.canceled_info {
        let by = canceled
            .user
            .as_ref()
            .and_then(|u| u.display())
            .map(|name| format!(" by {name}"))
            .unwrap_or_default();
        let why = canceled
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| format!(": {t}"))
            .unwrap_or_default();
        let error = if never_started(build) {
            format!("TeamCity build {label} was removed from the queue{by} before it started{why}")
        } else {
            format!("TeamCity build {label} was canceled{by}{why}")
        };
        return Outcome::Failed { error, outputs };
    }
    if build.failed_to_start {
        let why = status_text.map(|t| format!(": {t}")).unwrap_or_default();
        return Outcome::Failed {
            error: format!("TeamCity build {label} failed to start and never ran{why}"),
            outputs,
        };
    }
    let status = build.status.as_deref().unwrap_or("UNKNOWN");
    let text = status_text.unwrap_or(status);
    match status {
        "SUCCESS" => Outcome::Succeeded {
            summary: Some(format!("TeamCity build {label} succeeded: {text}")),
            outputs,
        },
        "FAILURE" | "ERROR" => Outcome::Failed {
            error: format!("TeamCity build {label} failed: {text}"),
            outputs,
        },
        other => Outcome::Failed {
            error: format!("TeamCity build {label} finished with status {other}: {text}"),
            outputs,
        },
    }
}

/// A build that never reached an agent: canceled in the queue, or failed to start.
pub fn never_started(build: &Build) -> bool {
    build.number.as_deref() == Some("N/A") || build.failed_to_start
}

/// `Backend_Deploy #312`, or `Backend_Deploy (id 4824)` for a build without a number.
fn label(build: &Build) -> String {
    let build_type = build.build_type_id.as_deref().unwrap_or("build");
    match build.number.as_deref() {
        Some(number) if number != "N/A" && !number.is_empty() => format!("{build_type} #{number}"),
        _ => format!("{build_type} (id {})", build.id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::teamcity::wire::decode;

    fn check(sample: &str, details: &Details) -> Outcome {
        let build: Build = decode(None, sample).unwrap();
        outcome(&build, details)
    }

    fn error(outcome: Outcome) -> String {
        match outcome {
            Outcome::Failed { error, .. } => error,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn success_succeeds_with_teamcitys_words() {
        match check(
            include_str!("testdata/teamcity-build-finished-success.json"),
            &Details::default(),
        ) {
            Outcome::Succeeded { summary, outputs } => {
                assert_eq!(
                    summary.as_deref(),
                    Some("TeamCity build Backend_Deploy #312 succeeded: Tests passed: 118, ignored: 2")
                );
                assert_eq!(outputs["Status"], "SUCCESS");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn failure_fails_with_the_status_text() {
        assert_eq!(
            error(check(include_str!("testdata/teamcity-build-finished-failure.json"), &Details::default())),
            "TeamCity build Backend_Deploy #313 failed: Tests failed: 1 (1 new), passed: 117, ignored: 2"
        );
        let unknown = r#"{"id":9,"buildTypeId":"B","number":"4","state":"finished","status":"UNKNOWN","statusText":"Odd"}"#;
        assert_eq!(
            error(check(unknown, &Details::default())),
            "TeamCity build B #4 finished with status UNKNOWN: Odd"
        );
        let legacy =
            r#"{"id":9,"buildTypeId":"B","number":"4","state":"finished","status":"ERROR"}"#;
        assert_eq!(
            error(check(legacy, &Details::default())),
            "TeamCity build B #4 failed: ERROR"
        );
    }

    #[test]
    fn cancels_say_who_and_whether_the_build_ever_started() {
        assert_eq!(
            error(check(include_str!("testdata/teamcity-build-canceled.xml"), &Details::default())),
            "TeamCity build Backend_Deploy #314 was canceled by CI Bot: Superseded by pipeline pl-44"
        );
        assert_eq!(
            error(check(include_str!("testdata/teamcity-build-canceled-from-queue.json"), &Details::default())),
            "TeamCity build Backend_Deploy (id 4824) was removed from the queue by CI Bot before it started: Pipeline pl-45 aborted"
        );
        let by_system = r#"{"id":5,"buildTypeId":"B","number":"7","state":"finished","status":"UNKNOWN",
            "canceledInfo":{"text":"Build was canceled because one of the builds it depends on failed"}}"#;
        assert_eq!(
            error(check(by_system, &Details::default())),
            "TeamCity build B #7 was canceled: Build was canceled because one of the builds it depends on failed"
        );
    }

    #[test]
    fn failed_to_start_says_the_build_never_ran() {
        assert_eq!(
            error(check(include_str!("testdata/teamcity-build-failed-to-start.json"), &Details::default())),
            "TeamCity build Backend_Deploy (id 4825) failed to start and never ran: Failed to start: no compatible agents"
        );
    }
}
