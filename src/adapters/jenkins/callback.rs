//! Inbound callbacks (reference §13): the notification plugin's JSON and the plain
//! callback a Jenkinsfile's `post` section sends. Both are hints (design invariant 3):
//! they only name the work, as wake keys, and the follower then reads the truth.
//!
//! When to look, by the notification's phase: `FINALIZED` (and the pipeline step's
//! `NONE`, and every plain callback) wake the follower now. `STARTED` wakes it soon: the
//! read of a build that only started may share a request with other builds. `QUEUED`
//! wakes nothing: the plugin sends it when the build starts, just before `STARTED`.
//! `COMPLETED` comes while the build may still be archiving, just before `FINALIZED`: it
//! wakes the follower only a little later, so an endpoint that sends `COMPLETED` alone
//! (event filter `completed`) still moves the pipeline on, and one that sends every phase
//! costs one read at the end, not two.
//!
//! Authentication: the server's `callback.secret`, given as query parameter `token` (all
//! the notification plugin can send), header `X-Baton-Token`, or `Authorization: Bearer`;
//! compared in constant time. No secret configured: every callback is refused.
//!
//! Wake keys, the same strings `wake_keys` gives a follower:
//! `queue:{queue_id}`, `build:{job full name}#{number}` and `run:{run id}` (from a
//! `BATON_ACTION_RUN` parameter or the plain callback's `run_id`).

use super::path::JobPath;
use super::wire::{scalar_text, Notification, PlainCallback};
use super::MARKER;
use crate::adapters::{Callback, CallbackError, Wakes};

pub fn queue_key(queue_id: u64) -> String {
    format!("queue:{queue_id}")
}

pub fn build_key(job: &JobPath, number: u64) -> String {
    format!("build:{}#{number}", job.full_name())
}

pub fn run_key(run_id: &str) -> String {
    format!("run:{run_id}")
}

/// Whether the callback carries the secret (see `Callback::check_secret`).
pub fn authenticate(callback: &Callback, secret: Option<&str>) -> Result<(), CallbackError> {
    callback.check_secret(secret)
}

/// The keys of the work a callback body names, and when to look at it.
pub fn wakes(body: &[u8]) -> Result<Wakes, CallbackError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| CallbackError::Malformed(format!("not JSON: {e}")))?;
    let (keys, phase) = if value.get("build").is_some_and(|b| b.is_object()) {
        let notification: Notification = serde_json::from_value(value)
            .map_err(|e| CallbackError::Malformed(format!("not a notification: {e}")))?;
        let phase = notification.build.phase.clone();
        (notification_keys(&notification), phase)
    } else {
        let plain: PlainCallback = serde_json::from_value(value)
            .map_err(|e| CallbackError::Malformed(format!("not a callback: {e}")))?;
        (plain_keys(&plain), None)
    };
    if keys.is_empty() {
        return Err(CallbackError::Malformed(
            "the callback names no queue item, build or run".into(),
        ));
    }
    let phase = phase.map(|p| p.to_ascii_uppercase());
    Ok(match phase.as_deref() {
        Some("QUEUED") => Wakes::default(),
        Some("STARTED") => Wakes::soon(keys),
        Some("COMPLETED") => Wakes::later(keys),
        _ => Wakes::now(keys),
    })
}

fn notification_keys(notification: &Notification) -> Vec<String> {
    let build = &notification.build;
    let mut keys = Vec::new();
    if let Some(queue_id) = build.queue_id {
        keys.push(queue_key(queue_id));
    }
    let job = [
        notification.url.as_deref(),
        build.url.as_deref(),
        build.full_url.as_deref(),
    ]
    .into_iter()
    .flatten()
    .find_map(JobPath::from_url);
    if let Some((job, number_in_url)) = job {
        if let Some(number) = build.number.or(number_in_url) {
            keys.push(build_key(&job, number));
        }
    }
    if let Some(run) = build.parameters.get(MARKER).and_then(scalar_text) {
        if !run.is_empty() {
            keys.push(run_key(&run));
        }
    }
    keys
}

fn plain_keys(plain: &PlainCallback) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(queue_id) = plain.queue_id {
        keys.push(queue_key(queue_id));
    }
    let job = match plain.job.as_deref() {
        Some(name) => JobPath::parse(name).ok(),
        None => plain
            .url
            .as_deref()
            .and_then(JobPath::from_url)
            .map(|(job, _)| job),
    };
    let number = plain
        .number
        .or_else(|| plain.url.as_deref().and_then(JobPath::from_url)?.1);
    if let (Some(job), Some(number)) = (job, number) {
        keys.push(build_key(&job, number));
    }
    if let Some(run) = plain.run_id.as_deref().filter(|r| !r.is_empty()) {
        keys.push(run_key(run));
    }
    keys
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn callback(query: &[(&str, &str)], headers: &[(&str, &str)]) -> Callback {
        let pairs = |list: &[(&str, &str)]| -> BTreeMap<String, String> {
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        Callback {
            query: pairs(query),
            headers: pairs(headers),
            body: Vec::new(),
        }
    }

    #[test]
    fn secrets_by_query_header_or_bearer() {
        let secret = Some("s3cret-value");
        assert_eq!(
            authenticate(&callback(&[("token", "s3cret-value")], &[]), secret),
            Ok(())
        );
        assert_eq!(
            authenticate(&callback(&[], &[("x-baton-token", "s3cret-value")]), secret),
            Ok(())
        );
        assert_eq!(
            authenticate(
                &callback(&[], &[("authorization", "Bearer s3cret-value")]),
                secret
            ),
            Ok(())
        );
        for bad in [
            callback(&[("token", "wrong")], &[]),
            callback(&[("token", "s3cret-valu")], &[]),
            callback(&[], &[]),
        ] {
            assert_eq!(authenticate(&bad, secret), Err(CallbackError::Unauthorized));
        }
        let good = callback(&[("token", "s3cret-value")], &[]);
        assert_eq!(authenticate(&good, None), Err(CallbackError::Unauthorized));
        assert_eq!(
            authenticate(&good, Some("")),
            Err(CallbackError::Unauthorized)
        );
    }

    fn keys(body: &[u8]) -> Result<Vec<String>, CallbackError> {
        wakes(body).map(|wakes| [wakes.now, wakes.soon, wakes.later].concat())
    }

    #[test]
    fn notification_plugin_payloads() {
        let named = ["queue:1234", "build:team/deploy#57"]
            .map(String::from)
            .to_vec();
        let sample = |text: &str| wakes(text.as_bytes()).unwrap();
        assert_eq!(
            sample(include_str!("testdata/jenkins-notification-queued.json")),
            Wakes::default(),
            "STARTED follows at once"
        );
        assert_eq!(
            sample(include_str!("testdata/jenkins-notification-started.json")),
            Wakes::soon(named.clone())
        );
        assert_eq!(
            sample(include_str!("testdata/jenkins-notification-completed.json")),
            Wakes::later(named.clone())
        );
        assert_eq!(
            sample(include_str!("testdata/jenkins-notification-finalized.json")),
            Wakes::now(named)
        );
        let multibranch = r#"{"name":"feature%2Ffoo","url":"job/repo/job/feature%252Ffoo/",
            "build":{"number":4,"queue_id":9,"phase":"STARTED",
                     "parameters":{"BATON_ACTION_RUN":"exec.2"}}}"#;
        assert_eq!(
            keys(multibranch.as_bytes()).unwrap(),
            ["queue:9", "build:repo/feature%2Ffoo#4", "run:exec.2"]
        );
    }

    #[test]
    fn plain_callbacks() {
        assert_eq!(
            keys(include_bytes!(
                "testdata/jenkins-pipeline-post-callback.json"
            ))
            .unwrap(),
            ["queue:1234", "build:team/deploy#57", "run:pl-42"]
        );
        assert_eq!(
            keys(br#"{"job":"repo/feature%2Ffoo","number":"4"}"#).unwrap(),
            ["build:repo/feature%2Ffoo#4"]
        );
        assert_eq!(
            keys(br#"{"url":"http://j/job/team/job/deploy/57/"}"#).unwrap(),
            ["build:team/deploy#57"]
        );
    }

    #[test]
    fn malformed_callbacks() {
        for body in [
            &b"not json"[..],
            b"[]",
            b"{}",
            br#"{"build":{"phase":"STARTED"}}"#,
            br#"{"build":{"phase":"QUEUED"}}"#,
        ] {
            assert!(
                matches!(keys(body), Err(CallbackError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
