//! `changes` over real engine steps, the signature and the Slack rendering.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{TimeZone, Utc};

use super::*;
use crate::config::{NotificationEvent, NotificationFormat};
use crate::engine::state::{PipelineState, Trigger};
use crate::engine::{apply, Definitions, Event};
use crate::model::{load, Catalog};

const PIPELINE: &str = r#"
name: gated
stages:
  - name: Source
    actions:
      - {name: Checkout, provider: Git, configuration: {RepositoryUrl: "file:///srv/app.git", BranchName: main}}
  - name: Review
    actions:
      - name: Gate
        provider: Manual
        configuration: {CustomData: "check the canary", ExternalEntityLink: "https://dash.example/canary"}
  - name: Second
    actions:
      - {name: Again, provider: Manual}
"#;

struct Run {
    definitions: Definitions,
    state: PipelineState,
    minute: i64,
}

impl Run {
    fn new() -> Run {
        let pipeline = load("gated.yaml", PIPELINE, &Catalog::default())
            .unwrap()
            .pipeline;
        Run {
            definitions: BTreeMap::from([(1, Arc::new(pipeline))]),
            state: PipelineState::default(),
            minute: 0,
        }
    }

    /// Applies `event` and returns the event names `changes` reports for execution `e1`.
    fn step(&mut self, event: Event) -> Vec<Notification> {
        let before = self.state.executions.get("e1").map(Snapshot::of);
        self.minute += 1;
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
            + chrono::Duration::minutes(self.minute);
        apply(&self.definitions, &mut self.state, &event, now).unwrap();
        let after = &self.state.executions["e1"];
        changes(
            &self.definitions[&1],
            before.as_ref(),
            after,
            "https://baton.example",
            now,
        )
    }

    /// Completes the source action.
    fn source_done(&mut self) -> Vec<Notification> {
        let run_id = self.state.executions["e1"].stages[0].actions[0]
            .run_id
            .clone()
            .unwrap();
        self.step(Event::ActionCompleted {
            execution: "e1".into(),
            run_id,
            outcome: crate::engine::ActionOutcome::Succeeded {
                outputs: BTreeMap::new(),
                summary: None,
            },
        })
    }

    fn approve(&mut self, stage: &str, action: &str, approved: bool) -> Vec<Notification> {
        self.step(Event::Approval {
            execution: "e1".into(),
            stage: stage.into(),
            action: action.into(),
            approved,
            by: "alice".into(),
            comment: Some("looks fine".into()),
        })
    }
}

fn names(notifications: &[Notification]) -> Vec<&'static str> {
    notifications.iter().map(|n| n.event.as_str()).collect()
}

fn start() -> Event {
    Event::Start {
        execution: "e1".into(),
        version: 1,
        trigger: Trigger {
            kind: "StartPipelineExecution".into(),
            detail: None,
            by: None,
        },
        variables: BTreeMap::new(),
        revision: None,
    }
}

#[test]
fn a_run_reports_each_change_once_and_in_order() {
    let mut run = Run::new();
    assert_eq!(
        names(&run.step(start())),
        ["execution.started", "stage.started"]
    );
    let started = run.source_done();
    assert_eq!(
        names(&started),
        ["stage.succeeded", "stage.started", "approval.needed"]
    );
    let needed = started[2].approval.as_ref().unwrap();
    assert_eq!(needed.summary.as_deref(), Some("check the canary"));
    assert_eq!(
        needed.external_entity_link.as_deref(),
        Some("https://dash.example/canary")
    );
    let approve = needed.approve.as_ref().unwrap();
    assert_eq!(
        approve.url,
        "https://baton.example/api/v1/executions/e1/stages/Review/actions/Gate/approval"
    );
    assert_eq!(approve.body, serde_json::json!({"approved": true}));
    assert_eq!(
        needed.reject.as_ref().unwrap().body,
        serde_json::json!({"approved": false})
    );

    let decided = run.approve("Review", "Gate", true);
    assert_eq!(
        names(&decided),
        [
            "approval.decided",
            "stage.succeeded",
            "stage.started",
            "approval.needed"
        ]
    );
    let answer = decided[0].approval.as_ref().unwrap();
    assert_eq!(answer.decision, Some("Approved"));
    assert_eq!(answer.decided_by.as_deref(), Some("alice"));
    assert!(answer.approve.is_none());

    let rejected = run.approve("Second", "Again", false);
    assert_eq!(
        names(&rejected),
        ["approval.decided", "stage.failed", "execution.failed"]
    );
    assert_eq!(
        rejected[0].approval.as_ref().unwrap().decision,
        Some("Rejected")
    );
}

#[test]
fn a_stop_reports_the_stop_and_nothing_else() {
    let mut run = Run::new();
    run.step(start());
    run.source_done();
    let stopped = run.step(Event::Stop {
        execution: "e1".into(),
        abandon: true,
        reason: Some("wrong build".into()),
        by: None,
    });
    assert_eq!(names(&stopped), ["execution.stopped"]);
}

#[test]
fn the_signature_is_the_hmac_of_the_body() {
    // RFC 4231 test case 2.
    assert_eq!(
        signature("Jefe", b"what do ya want for nothing?").unwrap(),
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn slack_gets_text_with_the_review_link() {
    let mut run = Run::new();
    run.step(start());
    let started = run.source_done();
    let body = render(NotificationFormat::Slack, &started[2]).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let text = value["text"].as_str().unwrap();
    assert!(text.contains("approval needed for Review/Gate"), "{text}");
    assert!(text.contains("check the canary"), "{text}");
    assert!(
        text.contains("https://baton.example/api/v1/executions/e1"),
        "{text}"
    );
    assert_eq!(started[2].event, NotificationEvent::ApprovalNeeded);
}
