//! Inbound TeamCity webhooks, which only wake the follower of the build they name (the
//! follower then reads the build from TeamCity: a forged or stale payload changes
//! nothing). Authenticated with the server's `callback.secret`, sent as the query
//! parameter `token`, the header `X-Baton-Token` or `Authorization: Bearer`, compared in
//! constant time; with
//! no secret configured every callback is refused. TeamCity's native webhooks cannot
//! sign their payloads, so the secret normally rides in the webhook URL.
//!
//! Payloads understood (all JSON):
//! * native "TeamCity Webhooks": `{"eventType": "BUILD_FINISHED", "payload": {"id": N, …}}`
//!   (agent events carry no build and wake nothing);
//! * tcWebHooks legacy `json`: `{"build": {"buildId": "N", …}}`;
//! * tcWebHooks templates: a `buildId`/`build_id` field at the top, or a build URL such as
//!   `build_status_url` (`…viewLog.html?buildTypeId=…&buildId=N`).

use crate::adapters::{Callback, CallbackError};

/// The wake key of a build, shared by `wake_keys` and `callback`.
pub fn key(build_id: &str) -> String {
    format!("build:{build_id}")
}

/// Checks the callback's secret against the configured one (query `token`, header
/// `X-Baton-Token` or `Authorization: Bearer`; see `Callback::check_secret`).
pub fn authenticate(secret: Option<&str>, callback: &Callback) -> Result<(), CallbackError> {
    callback.check_secret(secret)
}

/// The ids of the builds a payload is about.
pub fn build_ids(body: &[u8]) -> Result<Vec<String>, CallbackError> {
    let malformed = |why: &str| CallbackError::Malformed(format!("TeamCity webhook: {why}"));
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| malformed(&format!("the body is not JSON ({e})")))?;
    let object = value
        .as_object()
        .ok_or_else(|| malformed("the body is not a JSON object"))?;
    // Native webhooks: the payload is the build (or an agent, for agent events).
    if let Some(event) = object.get("eventType").and_then(|e| e.as_str()) {
        if !event.starts_with("BUILD") && event != "CHANGES_LOADED" {
            return Ok(Vec::new());
        }
        let id = object
            .get("payload")
            .and_then(|p| p.get("id"))
            .and_then(id_text)
            .ok_or_else(|| malformed(&format!("a {event} event without payload.id")))?;
        return Ok(vec![id]);
    }
    // tcWebHooks legacy JSON wraps its fields in "build"; templates put them at the top.
    let fields = object
        .get("build")
        .and_then(|b| b.as_object())
        .unwrap_or(object);
    for name in ["buildId", "build_id"] {
        if let Some(id) = fields.get(name).and_then(id_text) {
            return Ok(vec![id]);
        }
    }
    let from_url = fields
        .values()
        .filter_map(|v| v.as_str())
        .find_map(build_id_in_url);
    from_url
        .map(|id| vec![id])
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
        build_ids(body.as_bytes())
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
