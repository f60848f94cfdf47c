//! Inbound TeamCity webhooks, which only wake the follower of the build they name (the
//! follower then reads the build from TeamCity: a forged or stale payload changes
//! nothing). Authenticated with the server's `callback.secret`, sent as the query
//! parameter `token`, the header `X-Baton-Token` or `Authorization: Bearer`, compared in
//! constant time; with
//! no secret configured every callback is refused. TeamCity's native webhooks cannot
//! sign their payloads, so the secret normally rides in the webhook URL.
//!
//! A webhook about a build that was queued, started or loaded its changes is progress:
//! the follower looks soon, sharing the read with other builds. Any other build event
//! (finished, interrupted, removed from the queue, or one not known) may be the end: it
//! looks now.
//!
//! Payloads understood (all JSON):
//! * native "TeamCity Webhooks": `{"eventType": "BUILD_FINISHED", "payload": {"id": N, …}}`
//!   (agent events carry no build and wake nothing);
//! * tcWebHooks legacy `json`: `{"build": {"buildId": "N", …}}`;
//! * tcWebHooks templates: a `buildId`/`build_id` field at the top, or a build URL such as
//!   `build_status_url` (`…viewLog.html?buildTypeId=…&buildId=N`).

use crate::adapters::{Callback, CallbackError, Wakes};

/// The wake key of a build, shared by `wake_keys` and `callback`.
pub fn key(build_id: &str) -> String {
    format!("build:{build_id}")
}

/// Checks the callback's secret against the configured one (query `token`, header
/// `X-Baton-Token` or `Authorization: Bearer`; see `Callback::check_secret`).
pub fn authenticate(secret: Option<&str>, callback: &Callback) -> Result<(), CallbackError> {
    callback.check_secret(secret)
}

/// Events that report progress, not the end of a build: native `eventType`s and
/// tcWebHooks `notifyType`s.
const PROGRESS: [&str; 6] = [
    "BUILD_TYPE_ADDED_TO_QUEUE",
    "BUILD_STARTED",
    "CHANGES_LOADED",
    "buildAddedToQueue",
    "buildStarted",
    "changesLoaded",
];

/// The wakes a payload asks for: the keys of the builds it is about, now or soon.
pub fn wakes(body: &[u8]) -> Result<Wakes, CallbackError> {
    let (ids, event) = build_ids(body)?;
    let keys = ids.iter().map(|id| key(id)).collect();
    Ok(match event {
        Some(event) if PROGRESS.contains(&event.as_str()) => Wakes::soon(keys),
        _ => Wakes::now(keys),
    })
}

/// The ids of the builds a payload is about, and its event (native `eventType`, or
/// tcWebHooks `notifyType`) when it names one.
pub fn build_ids(body: &[u8]) -> Result<(Vec<String>, Option<String>), CallbackError> {
    let malformed = |why: &str| CallbackError::Malformed(format!("TeamCity webhook: {why}"));
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| malformed(&format!("the body is not JSON ({e})")))?;
    let object = value
        .as_object()
        .ok_or_else(|| malformed("the body is not a JSON object"))?;
    // Native webhooks: the payload is the build (or an agent, for agent events).
    if let Some(event) = object.get("eventType").and_then(|e| e.as_str()) {
        if !event.starts_with("BUILD") && event != "CHANGES_LOADED" {
            return Ok((Vec::new(), Some(event.to_string())));
        }
        let id = object
            .get("payload")
            .and_then(|p| p.get("id"))
            .and_then(id_text)
            .ok_or_else(|| malformed(&format!("a {event} event without payload.id")))?;
        return Ok((vec![id], Some(event.to_string())));
    }
    // tcWebHooks legacy JSON wraps its fields in "build"; templates put them at the top.
    let fields = object
        .get("build")
        .and_then(|b| b.as_object())
        .unwrap_or(object);
    let event = ["notifyType", "notify_type"]
        .iter()
        .find_map(|name| fields.get(*name).and_then(|e| e.as_str()))
        .map(str::to_string);
    for name in ["buildId", "build_id"] {
        if let Some(id) = fields.get(name).and_then(id_text) {
            return Ok((vec![id], event));
        }
    }
    let from_url = fields
        .values()
        .filter_map(|v| v.as_str())
        .find_map(build_id_in_url);
    from_url
        .map(|id| (vec![id], event))
        .ok_or_else(|| malformed("no build id (payload.id, buildId or a build URL) in the payload"))
}

/// A build id written as a number or as a string of digits.
fn id_text(value: &serde_json::Value) -> Option<String> {
    let text = match value {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then_some(text)
}

/// `N` from a build URL's `buildId=N` parameter.
fn build_id_in_url(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == "buildId")
        .and_then(|(_, value)| id_text(&serde_json::Value::String(value.to_string())))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn ids(body: &str) -> Result<Vec<String>, CallbackError> {
        build_ids(body.as_bytes()).map(|(ids, _)| ids)
    }

    #[test]
    fn starts_wake_soon_and_ends_now() {
        let native = |event: &str| format!(r#"{{"eventType":"{event}","payload":{{"id":9}}}}"#);
        let key = vec!["build:9".to_string()];
        assert_eq!(
            wakes(native("BUILD_STARTED").as_bytes()),
            Ok(Wakes::soon(key.clone()))
        );
        assert_eq!(
            wakes(native("BUILD_FINISHED").as_bytes()),
            Ok(Wakes::now(key.clone()))
        );
        assert_eq!(
            wakes(native("BUILD_INTERRUPTED").as_bytes()),
            Ok(Wakes::now(key.clone()))
        );
        let legacy =
            |event: &str| format!(r#"{{"build":{{"notifyType":"{event}","buildId":"9"}}}}"#);
        assert_eq!(
            wakes(legacy("buildStarted").as_bytes()),
            Ok(Wakes::soon(key.clone()))
        );
        assert_eq!(
            wakes(legacy("buildFinished").as_bytes()),
            Ok(Wakes::now(key.clone()))
        );
        assert_eq!(wakes(br#"{"build_id": 9}"#), Ok(Wakes::now(key)));
    }

    #[test]
    fn native_webhooks_name_the_payloads_build() {
        assert_eq!(
            ids(include_str!(
                "testdata/teamcity-webhook-native-build-finished.json"
            ))
            .unwrap(),
            ["4821"]
        );
        assert_eq!(
            ids(include_str!(
                "testdata/teamcity-webhook-native-build-interrupted.json"
            ))
            .unwrap(),
            ["4823"]
        );
        assert_eq!(
            ids(r#"{"eventType":"AGENT_REGISTRED","payload":{"id":3,"name":"a"}}"#).unwrap(),
            Vec::<String>::new()
        );
        assert!(matches!(
            ids(r#"{"eventType":"BUILD_STARTED","payload":{}}"#),
            Err(CallbackError::Malformed(_))
        ));
    }

    #[test]
    fn tcwebhooks_payloads_name_their_build() {
        assert_eq!(
            ids(include_str!("testdata/tcwebhooks-build-finished.json")).unwrap(),
            ["4821"]
        );
        assert_eq!(
            ids(include_str!(
                "testdata/tcwebhooks-elasticsearch-template-build-finished.json"
            ))
            .unwrap(),
            ["4821"]
        );
        assert_eq!(ids(r#"{"build_id": 17}"#).unwrap(), ["17"]);
    }

    #[test]
    fn malformed_payloads_are_refused() {
        for body in [
            "",
            "not json",
            "[1]",
            r#"{"build":{"buildName":"x"}}"#,
            r#"{"buildId":"1; drop"}"#,
        ] {
            assert!(
                matches!(ids(body), Err(CallbackError::Malformed(_))),
                "{body}"
            );
        }
    }

    fn callback(query: &[(&str, &str)], headers: &[(&str, &str)]) -> Callback {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        Callback {
            query: map(query),
            headers: map(headers),
            body: Vec::new(),
        }
    }

    #[test]
    fn the_secret_comes_by_query_or_header() {
        let secret = Some("s3cret-s3cret");
        assert!(authenticate(secret, &callback(&[("token", "s3cret-s3cret")], &[])).is_ok());
        assert!(authenticate(
            secret,
            &callback(&[], &[("authorization", "Bearer s3cret-s3cret")])
        )
        .is_ok());
        assert!(authenticate(
            secret,
            &callback(&[], &[("x-baton-token", "s3cret-s3cret")])
        )
        .is_ok());
        for wrong in [
            callback(&[("token", "s3cret")], &[]),
            callback(&[], &[("x-baton-token", "nope")]),
            callback(&[], &[]),
        ] {
            assert_eq!(
                authenticate(secret, &wrong),
                Err(CallbackError::Unauthorized)
            );
        }
        let right = callback(&[("token", "s3cret-s3cret")], &[]);
        assert_eq!(authenticate(None, &right), Err(CallbackError::Unauthorized));
        assert_eq!(
            authenticate(Some(""), &right),
            Err(CallbackError::Unauthorized)
        );
    }
}
