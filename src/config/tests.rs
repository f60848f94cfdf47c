use std::io::Write;

use super::secret::expand;
use super::*;

fn load_text(text: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    Settings::load_with_env(
        Some(file.path()),
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

#[test]
fn defaults_need_no_file() {
    let settings = Settings::load_with_env(None, Vec::new()).unwrap();
    assert_eq!(settings.listen.to_string(), "127.0.0.1:8700");
    assert_eq!(settings.database_url(), "sqlite://baton-data/baton.db");
}

#[test]
fn environment_overrides_the_file_and_ignores_cli_variables() {
    let settings = load_text(
        "listen: 127.0.0.1:9000\nlog:\n  level: debug\n",
        &[
            ("BATON_LISTEN", "127.0.0.1:9100"),
            ("BATON_LOG__FORMAT", "json"),
            ("BATON_TOKEN", "not-a-setting"),
            ("BATON_SERVER", "http://x"),
        ],
    )
    .unwrap();
    assert_eq!(settings.listen.to_string(), "127.0.0.1:9100");
    assert_eq!(settings.log.format, LogFormat::Json);
    assert_eq!(settings.log.level, "debug");
}

#[test]
fn mistakes_are_reported_with_file_line_and_column() {
    let err = load_text(
        "listen: 127.0.0.1:9000\nservers:\n  - name: j\n    knd: jenkins\n",
        &[],
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains(":4:5: "), "{text}");
    assert!(text.contains("knd"), "{text}");
}

#[test]
fn duplicate_servers_and_bad_urls_are_rejected() {
    let twice = "servers:\n  - {name: a, kind: jenkins, url: 'http://x'}\n  - {name: a, kind: teamcity, url: 'http://y'}\n";
    assert!(load_text(twice, &[])
        .unwrap_err()
        .to_string()
        .contains("defined twice"));
    let bad = "servers:\n  - {name: a, kind: jenkins, url: 'ftp://x'}\n";
    assert!(load_text(bad, &[])
        .unwrap_err()
        .to_string()
        .contains("http://"));
}

#[test]
fn secret_references_expand_and_never_print() {
    let expanded = expand("Bearer ${T}", |n| (n == "T").then(|| "s3cr3t".into())).unwrap();
    assert_eq!(expanded, "Bearer s3cr3t");
    assert!(expand("${MISSING}", |_| None)
        .unwrap_err()
        .contains("MISSING"));
    let secret = Secret::new("s3cr3t");
    assert!(!format!("{secret:?}").contains("s3cr3t"));
}

#[test]
fn git_trigger_settings_default_parse_and_resolve_at_start() {
    let defaults = Settings::default();
    assert_eq!(defaults.git.poll_interval, Duration::from_secs(60));
    assert!(defaults.git.webhook_secret.is_none());

    let mut settings = load_text(
        "git:\n  poll_interval: 15s\n  webhook_secret: ${BATON_TEST_HOOK_SECRET_UNSET}\n  \
         webhook_secrets:\n    payments: literal-secret\n",
        &[],
    )
    .unwrap();
    assert_eq!(settings.git.poll_interval, Duration::from_secs(15));
    assert_eq!(
        format!("{:?}", settings.git.webhook_secrets),
        r#"{"payments": Secret(***)}"#
    );
    // Loading needs no secret set; starting does, and names the variable.
    let error = settings.resolve_secrets().unwrap_err().to_string();
    assert!(
        error.contains("git.webhook_secret") && error.contains("BATON_TEST_HOOK_SECRET_UNSET"),
        "{error}"
    );

    let error = load_text("git:\n  polls_per_second_per_host: 0\n", &[])
        .unwrap_err()
        .to_string();
    assert!(error.contains("polls_per_second_per_host"), "{error}");
}

mod fuzz {
    //! Property-based fuzzing of the config loader: any file text and any environment
    //! values give settings or an error, never a panic.

    use proptest::prelude::*;

    use super::load_text;
    use crate::config::secret::expand;
    use crate::fuzzing::{bounded, mutated_text, text};

    const SAMPLES: &[&str] = &[
        include_str!("../../config/baton.yaml"),
        "servers:\n  - {name: j, kind: jenkins, url: 'http://j', token: '${T}', callback: {secret: s}}\nlimits: {max_body_bytes: 10, request_body_timeout: 1s}\n",
    ];

    proptest! {
        #[test]
        fn any_config_file_loads_or_is_refused(text in prop_oneof![text(), mutated_text(SAMPLES)]) {
            let _ = bounded("load", || load_text(&text, &[]));
        }

        #[test]
        fn any_environment_value_loads_or_is_refused(
            key in proptest::sample::select(&[
                "BATON_LISTEN", "BATON_DATA_DIR", "BATON_LOG__LEVEL", "BATON_LOG__FORMAT",
                "BATON_LIMITS__MAX_BODY_BYTES", "BATON_LIMITS__REQUEST_BODY_TIMEOUT",
                "BATON_AUTH__OPEN_READS", "BATON_GIT__LS_REMOTE_TIMEOUT",
            ][..]),
            value in text(),
        ) {
            let _ = bounded("load", || load_text("", &[(key, &value)]));
        }

        #[test]
        fn any_secret_reference_expands_or_is_refused(raw in text()) {
            let _ = bounded("expand", || expand(&raw, |name| (name.len() % 2 == 0).then(|| name.to_string())));
        }
    }
}

#[test]
fn notifications_default_to_everything_and_name_unknown_events() {
    let settings = load_text(
        "notifications:\n  - url: https://hooks.example/a\n  - url: ${HOOK}\n    format: slack\n    events: [approval.needed]\n    retry_delay: 50ms\n",
        &[],
    )
    .unwrap();
    let all = &settings.notifications[0];
    assert!(all.pipelines.is_empty() && all.events.is_empty());
    assert_eq!(all.format, NotificationFormat::Json);
    assert_eq!(all.max_attempts, 6);
    let slack = &settings.notifications[1];
    assert_eq!(slack.events, [NotificationEvent::ApprovalNeeded]);
    assert_eq!(slack.retry_delay, Duration::from_millis(50));

    let error = load_text(
        "notifications:\n  - url: https://hooks.example/a\n    events: [build.done]\n",
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains(":3:") && error.contains("build.done"),
        "{error}"
    );
    let error = load_text("notifications:\n  - url: ftp://hooks.example/a\n", &[])
        .unwrap_err()
        .to_string();
    assert!(error.contains("http:// or https://"), "{error}");
}
