//! Property-based fuzzing of everything the adapter reads from TeamCity or from a webhook:
//! builds, build lists, properties and artifact lists in JSON and XML, error bodies, and
//! native, tcWebHooks and template webhook payloads. Arbitrary and mangled input ends in
//! a value or an error, never a panic, and quickly.

use proptest::prelude::*;
use serde::de::DeserializeOwned;

use super::callback;
use super::client::error_text;
use super::locator;
use super::results::{never_started, outcome, Details};
use super::wire::{decode, Build, Builds, Files, Properties};
use crate::fuzzing::{bounded, mutated, mutated_text, text};

const ANSWERS: &[&str] = &[
    include_str!("testdata/teamcity-build-canceled-from-queue.json"),
    include_str!("testdata/teamcity-build-canceling-running.json"),
    include_str!("testdata/teamcity-build-failed-to-start.json"),
    include_str!("testdata/teamcity-build-finished-failure.json"),
    include_str!("testdata/teamcity-build-finished-success.json"),
    include_str!("testdata/teamcity-build-queued.json"),
    include_str!("testdata/teamcity-build-running.json"),
    include_str!("testdata/teamcity-build-canceled.xml"),
    include_str!("testdata/teamcity-build-queued.xml"),
    include_str!("testdata/teamcity-artifacts-children.xml"),
    include_str!("testdata/teamcity-test-occurrences.json"),
    r#"{"errors": [{"message": "No build found", "additionalMessage": "id:9"}]}"#,
];

const WEBHOOKS: &[&str] = &[
    include_str!("testdata/teamcity-webhook-native-build-finished.json"),
    include_str!("testdata/teamcity-webhook-native-build-interrupted.json"),
    include_str!("testdata/tcwebhooks-build-finished.json"),
    include_str!("testdata/tcwebhooks-elasticsearch-template-build-finished.json"),
];

/// Decodes `text` as every answer type, declared as JSON, as XML and undeclared, and uses
/// what decodes the way the adapter does.
fn read_answer(text: &str) {
    for content_type in [None, Some("application/json"), Some("application/xml")] {
        if let Ok(build) = decode::<Build>(content_type, text) {
            let _ = outcome(&build, &Details::default());
            let _ = never_started(&build);
        }
        let _ = decode_as::<Builds>(content_type, text);
        let _ = decode_as::<Files>(content_type, text);
        let _ = decode_as::<Properties>(content_type, text);
    }
    let _ = error_text(text);
}

fn decode_as<T: DeserializeOwned>(content_type: Option<&str>, text: &str) -> Option<T> {
    decode(content_type, text).ok()
}

proptest! {
    #[test]
    fn any_answer_is_read_or_refused(text in prop_oneof![text(), mutated_text(ANSWERS)]) {
        bounded("a TeamCity answer", || read_answer(&text));
    }

    #[test]
    fn any_webhook_body_is_read_or_refused(body in prop_oneof![
        mutated(WEBHOOKS),
        text().prop_map(String::into_bytes),
    ]) {
        if let Ok((ids, _)) = bounded("a webhook", || callback::build_ids(&body)) {
            for id in ids {
                prop_assert!(!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()), "{id}");
            }
        }
    }

    #[test]
    fn any_locator_value_is_quoted_or_refused(text in text()) {
        bounded("a locator value", || {
            let _ = locator::value(&text);
            let _ = locator::by_marker(&text, &text);
        });
    }
}
