//! The reference samples, byte for byte as the forges sent them, signed with
//! `baton-test-secret`.

use super::*;

const SECRET: &str = "baton-test-secret";

fn sample(name: &str) -> (Vec<(String, String)>, Vec<u8>) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/triggers/testdata");
    let headers = std::fs::read_to_string(format!("{dir}/{name}.headers")).unwrap();
    let body = std::fs::read(format!("{dir}/{name}.json")).unwrap();
    let headers = headers
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (headers, body)
}

/// Detects, verifies and parses a sample.
fn deliver(name: &str) -> Delivery {
    let (headers, body) = sample(name);
    let headers = Headers(&headers);
    let (forge, event) = Forge::detect(&headers).unwrap();
    verify(forge, &headers, &body, SECRET).unwrap();
    parse(forge, &event, &body).unwrap()
}

fn push(name: &str) -> Push {
    match deliver(name) {
        Delivery::Push(push) => push,
        other => panic!("{name}: expected a push, got {other:?}"),
    }
}

#[test]
fn the_github_known_answer_vector_verifies() {
    let headers = vec![(
        "x-hub-signature-256".to_string(),
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".to_string(),
    )];
    let headers = Headers(&headers);
    assert_eq!(
        verify(
            Forge::GitHub,
            &headers,
            b"Hello, World!",
            "It's a Secret to Everybody"
        ),
        Ok(())
    );
    assert_eq!(
        verify(
            Forge::GitHub,
            &headers,
            b"Hello, World?",
            "It's a Secret to Everybody"
        ),
        Err(WebhookError::BadSignature("X-Hub-Signature-256"))
    );
}

#[test]
fn every_sample_verifies_and_a_changed_byte_or_secret_does_not() {
    for name in [
        "github-push",
        "github-push-tag",
        "github-push-branch-deleted",
        "github-ping",
        "gitlab-push",
        "gitlab-push-truncated",
        "gitlab-tag-push",
        "gitea-push",
    ] {
        let (headers, mut body) = sample(name);
        let headers = Headers(&headers);
        let (forge, _) = Forge::detect(&headers).unwrap();
        assert_eq!(verify(forge, &headers, &body, SECRET), Ok(()), "{name}");
        assert!(
            verify(forge, &headers, &body, "another-secret").is_err(),
            "{name}"
        );
        if forge != Forge::GitLab {
            body[10] ^= 1;
            assert!(verify(forge, &headers, &body, SECRET).is_err(), "{name}");
        }
    }
}

#[test]
fn missing_empty_or_malformed_signatures_are_refused() {
    let (headers, body) = sample("github-push");
    let without: Vec<_> = headers
        .iter()
        .filter(|(k, _)| !k.starts_with("x-hub-signature"))
        .cloned()
        .collect();
    assert_eq!(
        verify(Forge::GitHub, &Headers(&without), &body, SECRET),
        Err(WebhookError::MissingSignature("X-Hub-Signature-256"))
    );
    for forged in [
        "",
        "sha256=",
        "sha256=zz",
        "593ff7eac13a6915d4ff2c44b35bbdcf3bae9bdc81a762de3b1c1451c5435a67",
    ] {
        let mut headers = without.clone();
        headers.push(("x-hub-signature-256".into(), forged.into()));
        assert!(
            verify(Forge::GitHub, &Headers(&headers), &body, SECRET).is_err(),
            "{forged:?}"
        );
    }
    // Gitea with no secret configured sends empty signature headers.
    let (headers, body) = sample("gitea-push");
    let emptied: Vec<_> = headers
        .into_iter()
        .map(|(k, v)| {
            if k.contains("signature") {
                (k, String::new())
            } else {
                (k, v)
            }
        })
        .collect();
    assert_eq!(
        verify(Forge::Gitea, &Headers(&emptied), &body, SECRET),
        Err(WebhookError::MissingSignature("X-Gitea-Signature"))
    );
    // GitLab's token must be the secret, not a prefix of it.
    let token = vec![("x-gitlab-token".to_string(), "baton-test".to_string())];
    assert_eq!(
        verify(Forge::GitLab, &Headers(&token), b"{}", SECRET),
        Err(WebhookError::BadSignature("X-Gitlab-Token"))
    );
}

#[test]
fn forgejo_signs_like_gitea_under_its_own_header() {
    let (headers, body) = sample("gitea-push");
    let signature = Headers(&headers)
        .get("x-gitea-signature")
        .unwrap()
        .to_string();
    let forgejo = vec![
        ("x-forgejo-event".to_string(), "push".to_string()),
        ("x-forgejo-signature".to_string(), signature),
    ];
    let headers = Headers(&forgejo);
    assert_eq!(
        Forge::detect(&headers),
        Some((Forge::Forgejo, "push".into()))
    );
    assert_eq!(verify(Forge::Forgejo, &headers, &body, SECRET), Ok(()));
}

#[test]
fn reads_a_github_branch_push() {
    let push = push("github-push");
    assert_eq!(push.forge, Forge::GitHub);
    assert_eq!(push.branch(), Some("main"));
    assert_eq!(push.revision, "63638a1c954852f6e81b21b97b261304a9885c17");
    assert_eq!(push.pusher.as_deref(), Some("dana-dev"));
    assert!(push
        .repository_urls
        .contains(&"https://github.com/acme/payments-api.git".to_string()));
    assert_eq!(
        push.changed_files.unwrap(),
        vec![
            "docs/README.md",
            "docs/old-currency.md",
            "services/api/Cargo.toml",
            "services/api/src/currency.rs",
            "services/api/src/lib.rs",
        ]
    );
}

#[test]
fn an_annotated_tag_runs_the_tagged_commit() {
    let push = push("github-push-tag");
    assert_eq!(push.tag(), Some("v1.4.0"));
    assert_eq!(push.revision, "63638a1c954852f6e81b21b97b261304a9885c17");
    assert_eq!(push.before, None);
    assert_eq!(push.changed_files, None);

    let push = self::push("gitlab-tag-push");
    assert_eq!(push.tag(), Some("v1.4.0"));
    assert_eq!(push.revision, "3a65cfe513d21ccb0d01b2d0ea901b083101d184");
}

#[test]
fn deletions_pings_and_other_events_start_nothing() {
    assert_eq!(
        deliver("github-push-branch-deleted"),
        Delivery::Deleted {
            git_ref: "refs/heads/feature/old-login".into()
        }
    );
    assert_eq!(deliver("github-ping"), Delivery::Ping);
    assert!(matches!(
        deliver("github-pull-request-opened"),
        Delivery::Ignored { .. }
    ));
    assert!(matches!(
        deliver("gitlab-merge-request"),
        Delivery::Ignored { .. }
    ));
    let gitea_delete = br#"{"ref": "feature/x", "ref_type": "branch", "pusher_type": "user"}"#;
    assert_eq!(
        parse(Forge::Gitea, "delete", gitea_delete),
        Ok(Delivery::Deleted {
            git_ref: "refs/heads/feature/x".into()
        })
    );
    let unmoved = br#"{"ref": "refs/heads/main", "before": "ab12", "after": "ab12"}"#;
    assert!(matches!(
        parse(Forge::Gitea, "push", unmoved),
        Ok(Delivery::Ignored { .. })
    ));
}

#[test]
fn a_truncated_commit_list_leaves_the_files_unknown() {
    let full = push("gitlab-push");
    assert_eq!(full.pusher.as_deref(), Some("dana-dev"));
    assert!(full.changed_files.is_some());
    let truncated = push("gitlab-push-truncated");
    assert_eq!(
        truncated.revision,
        "643bc3edf343fe30888810daf544fe082644a256"
    );
    assert_eq!(truncated.changed_files, None);
}

#[test]
fn reads_a_gitea_push() {
    let push = push("gitea-push");
    assert_eq!(push.forge, Forge::Gitea);
    assert_eq!(push.revision, "c24ca5f3e3a73a76c9aef7f558f8b8aa65af672e");
    assert!(push.changed_files.is_some_and(|f| !f.is_empty()));
}

#[test]
fn malformed_payloads_are_errors_not_panics() {
    for body in [
        &b"not json"[..],
        b"[]",
        b"{\"ref\": 5}",
        b"{\"ref\": \"main\", \"after\": \"ab\"}",
    ] {
        assert!(
            matches!(
                parse(Forge::GitHub, "push", body),
                Err(WebhookError::Malformed(_))
            ),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    let no_commit = br#"{"ref": "refs/heads/main", "after": "not-hex!"}"#;
    assert!(parse(Forge::GitLab, "Push Hook", no_commit).is_err());
}
