//! Property-based fuzzing of everything the adapter reads from Jenkins or from a callback:
//! the JSON answers (builds, queue items, job parameters, test reports, crumbs) and what is
//! derived from them, notification and plain callback bodies, property files, job paths
//! and external ids. Arbitrary and mangled input ends in a value or an error, never a
//! panic, and quickly.

use proptest::prelude::*;
use serde::de::DeserializeOwned;

use super::callback;
use super::follow::{now_ms, percent};
use super::ids::ExternalId;
use super::outputs::{build_outputs, parse_property_file, test_outputs, Outputs};
use super::path::JobPath;
use super::results::ResultMapping;
use super::wire::{Build, Builds, Crumb, JobParameters, Queue, QueueItem, TestReport};
use super::MARKER;
use crate::fuzzing::{bounded, mutated, mutated_text, text};

const ANSWERS: &[&str] = &[
    include_str!("testdata/jenkins-build-aborted.json"),
    include_str!("testdata/jenkins-build-running.json"),
    include_str!("testdata/jenkins-build-success.json"),
    include_str!("testdata/jenkins-build-unstable-freestyle.json"),
    include_str!("testdata/jenkins-crumb.json"),
    include_str!("testdata/jenkins-job-parameterized.json"),
    include_str!("testdata/jenkins-queue-item-blocked.json"),
    include_str!("testdata/jenkins-queue-item-buildable.json"),
    include_str!("testdata/jenkins-queue-item-left-cancelled.json"),
    include_str!("testdata/jenkins-queue-item-left.json"),
    include_str!("testdata/jenkins-queue-item-waiting.json"),
    include_str!("testdata/jenkins-test-report.json"),
];

const CALLBACKS: &[&str] = &[
    include_str!("testdata/jenkins-notification-completed.json"),
    include_str!("testdata/jenkins-notification-finalized.json"),
    include_str!("testdata/jenkins-notification-queued.json"),
    include_str!("testdata/jenkins-notification-started.json"),
    include_str!("testdata/jenkins-pipeline-post-callback.json"),
    r#"{"source": "jenkins", "job": "team/app", "number": 3, "queueId": 7, "run": "e.1"}"#,
];

const PROPERTY_FILES: &[&str] = &[
    "Version=2.0.1\nkey\\ with\\ spaces = a \\\n  continued\n# comment\n! other\nu=\\u00e9\n",
    r#"{"Version": "2.0.1", "Count": 3, "Flag": true, "Nested": {"a": [1, 2]}}"#,
];

fn decode<T: DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_str(text).ok()
}

/// Decodes `text` as every answer type and uses what decodes the way the adapter does.
fn read_answer(text: &str) {
    if let Some(build) = decode::<Build>(text) {
        let _ = percent(&build, now_ms());
        let _ = build.parameter(MARKER);
        let result = build.result.clone().unwrap_or_default();
        let _ = build_outputs(build.number, "u", &result, build.duration, &build.artifacts);
        let mapping = ResultMapping::parse(Some("true"), Some("UNSTABLE=Succeeded")).unwrap();
        let _ = mapping.verdict(&result);
    }
    if let Some(item) = decode::<QueueItem>(text) {
        let url = item.task.and_then(|task| task.url);
        let _ = url.as_deref().map(JobPath::from_url);
    }
    if let Some(report) = decode::<TestReport>(text) {
        test_outputs(&report, &mut Outputs::new());
    }
    let _ = decode::<Builds>(text);
    let _ = decode::<Queue>(text);
    let _ = decode::<Crumb>(text);
    if let Some(parameters) = decode::<JobParameters>(text) {
        let _ = parameters.names();
    }
}

proptest! {
    #[test]
    fn any_answer_is_read_or_refused(text in prop_oneof![text(), mutated_text(ANSWERS)]) {
        bounded("a Jenkins answer", || read_answer(&text));
    }

    #[test]
    fn any_callback_body_is_read_or_refused(body in prop_oneof![
        mutated(CALLBACKS),
        text().prop_map(String::into_bytes),
    ]) {
        // Read or refused, within bounds; a body that names no work is refused (and a
        // QUEUED one that names some wakes nothing), as the callback tests check.
        let _ = bounded("a callback", || callback::wakes(&body));
    }

    #[test]
    fn any_property_file_is_read_or_refused(
        text in prop_oneof![text(), mutated_text(PROPERTY_FILES)],
        json in any::<bool>(),
    ) {
        let path = if json { "out.json" } else { "build.properties" };
        let _ = bounded("a property file", || parse_property_file(path, &text));
    }

    #[test]
    fn any_job_path_result_mapping_or_id_is_read_or_refused(text in text()) {
        bounded("names and ids", || {
            if let Ok(job) = JobPath::parse(&text) {
                // What Baton writes it reads back.
                let url = job.build_path(7);
                assert_eq!(JobPath::from_url(&url), Some((job.clone(), Some(7))), "{url}");
            }
            let _ = JobPath::from_url(&text);
            let _ = ExternalId::parse(&text);
            let _ = ResultMapping::parse(Some(&text), Some(&text));
            let _ = ResultMapping::parse(None, Some(&text)).map(|m| m.verdict(&text));
        });
    }
}
