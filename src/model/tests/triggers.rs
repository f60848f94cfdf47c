//! CodePipeline V2 `triggers`: decoded field for field, checked against the source
//! actions, CodePipeline's limits and combinations, and the glob syntax.

use super::{check, loaded, MINIMAL};
use crate::model::{FilterCriteria, GitPushFilter};

fn with_triggers(triggers: &str) -> String {
    format!("{MINIMAL}triggers:\n{triggers}")
}

#[test]
fn decodes_push_filters_and_baton_extensions() {
    let text = with_triggers(
        "  - providerType: CodeStarSourceConnection
    pollInterval: 30s
    webhookSecret: release
    gitConfiguration:
      sourceActionName: Checkout
      push:
        - branches: {includes: [main, 'release/**'], excludes: [release/old]}
          filePaths: {includes: ['src/**']}
        - tags: {includes: ['v*']}
",
    );
    let pipeline = loaded(&text).pipeline;
    let trigger = pipeline.trigger_for("Checkout").unwrap();
    assert_eq!(trigger.poll_interval.as_deref(), Some("30s"));
    assert_eq!(trigger.webhook_secret.as_deref(), Some("release"));
    assert_eq!(
        trigger.git_configuration.push,
        vec![
            GitPushFilter {
                branches: Some(FilterCriteria {
                    includes: vec!["main".into(), "release/**".into()],
                    excludes: vec!["release/old".into()],
                }),
                tags: None,
                file_paths: Some(FilterCriteria {
                    includes: vec!["src/**".into()],
                    excludes: vec![],
                }),
            },
            GitPushFilter {
                tags: Some(FilterCriteria {
                    includes: vec!["v*".into()],
                    excludes: vec![],
                }),
                ..GitPushFilter::default()
            },
        ]
    );
    // The canonical form survives a round trip through JSON.
    let json = serde_json::to_string(&pipeline).unwrap();
    assert_eq!(
        serde_json::from_str::<crate::model::Pipeline>(&json).unwrap(),
        pipeline
    );
}

#[test]
fn reports_wrong_sources_patterns_and_combinations() {
    check(
        &with_triggers(
            "  - providerType: GitHubWebhook
    pollInterval: soon
    gitConfiguration:
      sourceActionName: Compile
      push:
        - branches: {includes: ['release-[']}
          tags: {includes: [v1]}
        - filePaths: {excludes: ['*.md']}
        - branches: {}
  - providerType: CodeStarSourceConnection
    gitConfiguration: {sourceActionName: Checkout, push: []}
  - providerType: CodeStarSourceConnection
    gitConfiguration: {sourceActionName: Checkout}
",
        ),
        &[
            "15:19: unknown providerType `GitHubWebhook`; expected CodeStarSourceConnection",
            "16:19: `pollInterval` must be a duration such as 30s or 5m, found `soon`: \
             expected number at 0",
            "18:25: `sourceActionName` `Compile` names no Source action (Checkout)",
            "20:11: a push filter has `branches` or `tags`, not both; write two filters",
            "20:33: `release-[` is not a valid glob: unclosed character class; missing ']'",
            "22:11: `filePaths` needs `branches` in the same push filter",
            "23:21: `branches` needs `includes` or `excludes`",
            "25:58: `push` holds 1 to 3 filters, found 0",
            "27:42: duplicate trigger for source action `Checkout` (first at line 25)",
        ],
    );
}

#[test]
fn limits_pattern_counts_and_lengths() {
    let nine: Vec<String> = (0..9).map(|n| format!("b{n}")).collect();
    let long = "x".repeat(256);
    check(
        &with_triggers(&format!(
            "  - providerType: CodeStarSourceConnection
    gitConfiguration:
      sourceActionName: Checkout
      push: [{{branches: {{includes: [{}], excludes: ['{long}']}}}}]
",
            nine.join(", ")
        )),
        &[
            "18:36: `branches.includes` holds 1 to 8 patterns, found 9",
            "18:85: a pattern has 1 to 255 characters, found 256",
        ],
    );
}
