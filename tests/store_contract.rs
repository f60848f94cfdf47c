//! The store contract: what every `Store` backend must do, written once against
//! `&dyn Store` and run against each backend.
//!
//! `mod contract` holds the backend-independent checks; each expects an empty store of its
//! own. A backend plugs in by implementing `Backend` (a fresh store, a way to reopen the
//! same database, a way to damage rows behind the store's back) and invoking
//! `contract_tests!`, which makes one test per check. SQLite runs here, in a temporary
//! directory; a PostgreSQL backend adds its own `Backend` and one more `contract_tests!`
//! line. The SQLite-only checks (a power cut, simulated by copying the files) come last.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};

use baton::engine::state::{
    ActionRun, ActionStatus, ApprovalVote, Execution, ExecutionStatus, Gates, Position, StageRun,
    StageStatus, StopRequest, Transition, Trigger,
};
use baton::model::{
    Action, ActionTypeId, ArtifactRef, Category, ConfigValue, ExecutionMode, Owner, Pipeline,
    Stage, VariableDeclaration,
};
use baton::store::sqlite::SqliteStore;
use baton::store::{
    Commit, EventRecord, PutOutcome, SourceRevision, Store, StoreError, StoredEvent,
};

/// A row a test damages behind the store's back, to check it is reported as corrupt.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    ExecutionBody(&'a str),
    GatesBody(&'a str),
    Definition(&'a str, u32),
    EventBody(i64),
}

/// What a backend provides to run the contract.
#[async_trait]
pub trait Backend: Sized + Send + Sync + 'static {
    /// A new, empty store that no other test shares.
    async fn fresh() -> Self;
    fn store(&self) -> Arc<dyn Store>;
    /// Drops the store without closing it, as a crash would, and opens the same database.
    async fn reopen(&mut self);
    /// Overwrites the target's stored text with `text`, bypassing the store.
    async fn corrupt(&self, target: Target<'_>, text: &str);
}

/// One `#[tokio::test]` per contract check, each on a fresh store of `$backend`.
macro_rules! contract_tests {
    ($module:ident, $backend:ty) => {
        mod $module {
            use super::*;

            async fn fresh() -> $backend {
                <$backend as Backend>::fresh().await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn versioning() {
                contract::versioning(&*fresh().await.store()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn commit_writes_event_executions_and_gates() {
                contract::commit_writes_event_executions_and_gates(&*fresh().await.store()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn failed_commit_writes_nothing() {
                contract::failed_commit_writes_nothing(&*fresh().await.store()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn history_is_newest_first_and_limited() {
                contract::history_is_newest_first_and_limited(&*fresh().await.store()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn active_executions_are_unfinished_oldest_first() {
                contract::active_executions_are_unfinished_oldest_first(&*fresh().await.store())
                    .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn counts_cover_every_status() {
                contract::counts_cover_every_status(&*fresh().await.store()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn delete_removes_everything() {
                contract::delete_removes_everything(&*fresh().await.store()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_commits_all_land() {
                contract::concurrent_commits_all_land(fresh().await.store()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn a_commit_whose_caller_stops_waiting_lands_whole() {
                contract::a_commit_whose_caller_stops_waiting_lands_whole(&*fresh().await.store())
                    .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn a_source_revision_starts_one_execution() {
                contract::a_source_revision_starts_one_execution(&*fresh().await.store()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn corrupt_rows_are_reported() {
                let backend = fresh().await;
                contract::corrupt_rows_are_reported(&*backend.store(), &backend).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn everything_survives_a_reopen() {
                let mut backend = fresh().await;
                let fixture = contract::write_fixture(&*backend.store()).await;
                backend.reopen().await;
                contract::check_fixture(&*backend.store(), &fixture).await;
            }
        }
    };
}

contract_tests!(sqlite, SqliteBackend);

/// Builders for definitions, executions and events, with times at whole microseconds so
/// every backend stores them exactly.
mod fixtures {
    use super::*;

    /// `n` seconds (and a fraction) after a fixed instant.
    pub fn at(n: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
            + Duration::seconds(n)
            + Duration::microseconds(123_456)
    }

    /// A UUIDv7-shaped id; ids with larger `n` sort later, as v7 ids made later do.
    pub fn id(n: u32) -> String {
        format!("01975a3c-{:04x}-7000-8000-{:012x}", n >> 16, n)
    }

    /// A pipeline with one Jenkins build per stage; `flavour` changes a configuration value.
    pub fn pipeline(name: &str, stages: &[&str], flavour: &str) -> Pipeline {
        Pipeline {
            name: name.to_owned(),
            execution_mode: ExecutionMode::Queued,
            variables: vec![VariableDeclaration {
                name: "ENV".to_owned(),
                default_value: Some("staging".to_owned()),
                description: None,
            }],
            stages: stages
                .iter()
                .map(|stage| Stage {
                    name: (*stage).to_owned(),
                    actions: vec![Action {
                        name: "Build".to_owned(),
                        action_type_id: ActionTypeId {
                            category: Category::Build,
                            owner: Owner::Custom,
                            provider: "Jenkins".to_owned(),
                            version: "1".to_owned(),
                        },
                        run_order: 1,
                        configuration: BTreeMap::from([
                            (
                                "ProjectName".to_owned(),
                                ConfigValue::Text(format!("job-{flavour}")),
                            ),
                            (
                                "Parameters".to_owned(),
                                ConfigValue::Map(BTreeMap::from([(
                                    "TARGET".to_owned(),
                                    "#{variables.ENV}".to_owned(),
                                )])),
                            ),
                        ]),
                        input_artifacts: vec![],
                        output_artifacts: vec![ArtifactRef {
                            name: format!("{stage}Out"),
                        }],
                        namespace: Some(format!("{stage}Vars")),
                        timeout_in_minutes: Some(30),
                    }],
                })
                .collect(),
            triggers: Vec::new(),
        }
    }

    /// An execution with one stage and one action run, every optional part filled in, so
    /// a round trip exercises the whole body.
    pub fn execution(id: &str, pipeline: &str, status: ExecutionStatus, started: i64) -> Execution {
        let started_at = at(started);
        let finished_at = status.is_terminal().then(|| at(started + 60));
        Execution {
            id: id.to_owned(),
            pipeline: pipeline.to_owned(),
            version: 1,
            status,
            status_summary: Some(format!("{status:?}")),
            trigger: Trigger {
                kind: "StartPipelineExecution".to_owned(),
                detail: Some("cli".to_owned()),
                by: Some("alice".to_owned()),
            },
            variables: BTreeMap::from([("ENV".to_owned(), "prod".to_owned())]),
            revision: Some("4f1c2a9".to_owned()),
            position: if status.is_terminal() {
                Position::Done
            } else {
                Position::InStage(0)
            },
            stages: vec![StageRun {
                name: "Build".to_owned(),
                status: Some(if status.is_terminal() {
                    StageStatus::Succeeded
                } else {
                    StageStatus::InProgress
                }),
                attempt: 1,
                started_at: Some(started_at),
                finished_at,
                actions: vec![ActionRun {
                    name: "Build".to_owned(),
                    run_order: 1,
                    status: Some(ActionStatus::InProgress),
                    run_id: Some(format!("{id}.1")),
                    attempt: 1,
                    started_at: Some(started_at),
                    finished_at,
                    deadline: Some(at(started + 1800)),
                    resolved_configuration: std::sync::Arc::new(BTreeMap::from([(
                        "ProjectName".to_owned(),
                        ConfigValue::Text("job-a".to_owned()),
                    )])),
                    external_id: Some("queue:17".to_owned()),
                    external_url: Some("http://jenkins.local/job/job-a/5/".to_owned()),
                    summary: None,
                    error: None,
                    percent_complete: Some(40),
                    outputs: BTreeMap::from([("IMAGE".to_owned(), "app:5".to_owned())]),
                    approvals: vec![ApprovalVote {
                        by: "bob".to_owned(),
                        approved: true,
                        comment: Some("ship it".to_owned()),
                        at: at(started + 5),
                    }],
                }],
            }],
            stop: (status == ExecutionStatus::Stopping).then(|| StopRequest {
                abandon: false,
                reason: Some("bad commit".to_owned()),
                by: Some("carol".to_owned()),
            }),
            started_at,
            updated_at: finished_at.unwrap_or(started_at),
            finished_at,
            runs_started: 1,
        }
    }

    pub fn event(pipeline: &str, execution: Option<&str>, kind: &str, n: i64) -> EventRecord {
        EventRecord {
            pipeline: pipeline.to_owned(),
            execution_id: execution.map(str::to_owned),
            kind: kind.to_owned(),
            body: serde_json::json!({ "kind": kind, "n": n, "detail": { "nested": [1, 2, 3] } }),
            at: at(n),
        }
    }

    pub fn gates(stage: &str, occupant: &str) -> Gates {
        Gates {
            occupant: BTreeMap::from([(stage.to_owned(), occupant.to_owned())]),
            waiting: BTreeMap::from([(stage.to_owned(), VecDeque::from([id(900), id(901)]))]),
            transitions: BTreeMap::from([(
                "Deploy".to_owned(),
                Transition {
                    enabled: false,
                    reason: Some("freeze".to_owned()),
                    changed_by: Some("dave".to_owned()),
                    changed_at: at(3),
                },
            )]),
            last_entered: BTreeMap::from([(stage.to_owned(), occupant.to_owned())]),
        }
    }

    pub async fn commit(
        store: &dyn Store,
        event: EventRecord,
        executions: &[&Execution],
        gates: Option<&Gates>,
    ) {
        store
            .commit(Commit {
                events: vec![event],
                executions: executions.to_vec(),
                gates,
                source: None,
            })
            .await
            .expect("commit");
    }

    /// Commits one execution with an event about it.
    pub async fn save(store: &dyn Store, execution: &Execution, n: i64) {
        let event = event(&execution.pipeline, Some(&execution.id), "Saved", n);
        commit(store, event, &[execution], None).await;
    }

    pub fn ids(executions: &[Execution]) -> Vec<&str> {
        executions.iter().map(|e| e.id.as_str()).collect()
    }

    pub fn assert_corrupt<T: std::fmt::Debug>(result: Result<T, StoreError>, naming: &str) {
        match result {
            Err(StoreError::Corrupt { what, .. }) => {
                assert!(
                    what.contains(naming),
                    "Corrupt names {what:?}, expected it to mention {naming:?}"
                )
            }
            other => panic!("expected Corrupt naming {naming:?}, got {other:?}"),
        }
    }
}

/// The checks every backend must pass. Each takes an empty store.
pub mod contract {
    use super::fixtures::*;
    use super::*;
    use ExecutionStatus::*;

    /// A caller that stops waiting (a shutdown, a timeout) must not cut a commit in half,
    /// nor leave the store unable to take the next one.
    pub async fn a_commit_whose_caller_stops_waiting_lands_whole(store: &dyn Store) {
        store
            .put_pipeline(&pipeline("web", &["Build"], "a"), at(0))
            .await
            .unwrap();
        let dropped = execution(&id(1), "web", InProgress, 1);
        {
            let mut commit = std::pin::pin!(store.commit(Commit {
                events: vec![event("web", Some(&dropped.id), "Started", 1)],
                executions: vec![&dropped],
                gates: None,
                source: None,
            }));
            std::future::poll_fn(|cx| {
                let _ = std::future::Future::poll(commit.as_mut(), cx);
                std::task::Poll::Ready(())
            })
            .await;
        }
        let kept = execution(&id(2), "web", InProgress, 2);
        store
            .commit(Commit {
                events: vec![event("web", Some(&kept.id), "Started", 2)],
                executions: vec![&kept],
                gates: None,
                source: None,
            })
            .await
            .expect("the store takes the next commit");
        assert_eq!(
            store.execution(&kept.id).await.unwrap().as_ref(),
            Some(&kept)
        );
        assert_eq!(store.events(&kept.id).await.unwrap().len(), 1);
        // The abandoned commit landed whole or not at all.
        let stored = store.execution(&dropped.id).await.unwrap();
        let events = store.events(&dropped.id).await.unwrap();
        assert_eq!(
            stored.is_some(),
            !events.is_empty(),
            "{stored:?} {events:?}"
        );
    }

    pub async fn a_source_revision_starts_one_execution(store: &dyn Store) {
        store
            .put_pipeline(&pipeline("web", &["Build"], "a"), at(0))
            .await
            .unwrap();
        let seen = |revision: &str, execution: Option<&str>| SourceRevision {
            pipeline: "web".to_owned(),
            source: "Checkout".to_owned(),
            git_ref: "refs/heads/main".to_owned(),
            revision: revision.to_owned(),
            execution_id: execution.map(str::to_owned),
            seen_at: at(1),
        };
        let last = || store.last_source_revision("web", "Checkout", "refs/heads/main");
        assert_eq!(last().await.unwrap(), None);

        // A starting point, recorded once.
        assert!(store
            .record_source_revision(&seen("a1", None))
            .await
            .unwrap());
        assert!(!store
            .record_source_revision(&seen("a1", None))
            .await
            .unwrap());
        assert_eq!(last().await.unwrap().as_deref(), Some("a1"));

        // A start for a new revision lands with its execution, atomically.
        let first = execution(&id(1), "web", InProgress, 2);
        let b2 = seen("b2", Some(&first.id));
        store
            .commit(Commit {
                events: vec![event("web", Some(&first.id), "Start", 2)],
                executions: vec![&first],
                gates: None,
                source: Some(&b2),
            })
            .await
            .unwrap();
        assert_eq!(last().await.unwrap().as_deref(), Some("b2"));
        assert!(store
            .source_revision_seen("web", "Checkout", "refs/heads/main", "b2")
            .await
            .unwrap());
        assert!(!store
            .source_revision_seen("web", "Checkout", "refs/heads/other", "b2")
            .await
            .unwrap());

        // A second start for the same revision writes nothing at all.
        let second = execution(&id(2), "web", InProgress, 3);
        let result = store
            .commit(Commit {
                events: vec![event("web", Some(&second.id), "Start", 3)],
                executions: vec![&second],
                gates: None,
                source: Some(&seen("b2", Some(&second.id))),
            })
            .await;
        assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
        assert_eq!(store.execution(&second.id).await.unwrap(), None);
        assert!(store.events(&second.id).await.unwrap().is_empty());

        // Deleting the pipeline forgets what it saw.
        assert!(store.delete_pipeline("web").await.unwrap());
        assert_eq!(last().await.unwrap(), None);
        let orphan = store.record_source_revision(&seen("c3", None)).await;
        assert!(matches!(orphan, Err(StoreError::Conflict(_))), "{orphan:?}");
    }

    pub async fn versioning(store: &dyn Store) {
        let v1 = pipeline("web", &["Source", "Build"], "a");
        let v2 = pipeline("web", &["Source", "Build", "Deploy"], "a");

        assert_eq!(store.pipeline("web").await.unwrap(), None);
        assert_eq!(store.gates("web").await.unwrap(), Gates::default());

        let new = store.put_pipeline(&v1, at(1)).await.unwrap();
        assert_eq!(
            new,
            PutOutcome {
                version: 1,
                changed: true
            }
        );
        let stored = store.pipeline("web").await.unwrap().expect("stored");
        assert_eq!((stored.name.as_str(), stored.version), ("web", 1));
        assert_eq!(stored.definition, v1);
        assert_eq!((stored.created_at, stored.updated_at), (at(1), at(1)));

        // The same definition again (even an equal copy) changes nothing, not even updated_at.
        let same = store.put_pipeline(&v1.clone(), at(2)).await.unwrap();
        assert_eq!(
            same,
            PutOutcome {
                version: 1,
                changed: false
            }
        );
        let stored = store.pipeline("web").await.unwrap().unwrap();
        assert_eq!((stored.version, stored.updated_at), (1, at(1)));

        let changed = store.put_pipeline(&v2, at(3)).await.unwrap();
        assert_eq!(
            changed,
            PutOutcome {
                version: 2,
                changed: true
            }
        );
        let stored = store.pipeline("web").await.unwrap().unwrap();
        assert_eq!(stored.version, 2);
        assert_eq!(stored.definition, v2);
        assert_eq!((stored.created_at, stored.updated_at), (at(1), at(3)));

        // A one-value change is a change too.
        let v3 = pipeline("web", &["Source", "Build", "Deploy"], "b");
        assert_eq!(
            store.put_pipeline(&v3, at(4)).await.unwrap(),
            PutOutcome {
                version: 3,
                changed: true
            }
        );

        // Going back to an older definition is a new version, not a rewind.
        assert_eq!(
            store.put_pipeline(&v1, at(5)).await.unwrap(),
            PutOutcome {
                version: 4,
                changed: true
            }
        );

        // Every version stays readable.
        assert_eq!(
            store.pipeline_version("web", 1).await.unwrap(),
            Some(v1.clone())
        );
        assert_eq!(store.pipeline_version("web", 2).await.unwrap(), Some(v2));
        assert_eq!(store.pipeline_version("web", 3).await.unwrap(), Some(v3));
        assert_eq!(store.pipeline_version("web", 4).await.unwrap(), Some(v1));
        assert_eq!(store.pipeline_version("web", 5).await.unwrap(), None);
        assert_eq!(store.pipeline_version("api", 1).await.unwrap(), None);

        // The list holds each pipeline once, at its current version, by name.
        store
            .put_pipeline(&pipeline("api", &["Build"], "a"), at(6))
            .await
            .unwrap();
        let listed: Vec<(String, u32)> = store
            .pipelines()
            .await
            .unwrap()
            .into_iter()
            .map(|p| (p.name, p.version))
            .collect();
        assert_eq!(listed, [("api".to_owned(), 1), ("web".to_owned(), 4)]);
    }

    pub async fn commit_writes_event_executions_and_gates(store: &dyn Store) {
        store
            .put_pipeline(&pipeline("web", &["Build"], "a"), at(0))
            .await
            .unwrap();
        let mut first = execution(&id(1), "web", InProgress, 1);
        let gates = gates("Build", &first.id);

        let started = event("web", Some(&first.id), "Started", 1);
        commit(store, started.clone(), &[&first], Some(&gates)).await;
        assert_eq!(
            store.execution(&first.id).await.unwrap(),
            Some(first.clone())
        );
        assert_eq!(store.gates("web").await.unwrap(), gates);
        let events = store.events(&first.id).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].record, started);

        // A later step: the execution is replaced, gates left alone when not given.
        first.status = Succeeded;
        first.position = Position::Done;
        first.finished_at = Some(at(9));
        first.updated_at = at(9);
        let finished = event("web", Some(&first.id), "Finished", 9);
        commit(store, finished.clone(), &[&first], None).await;
        assert_eq!(
            store.execution(&first.id).await.unwrap(),
            Some(first.clone())
        );
        assert_eq!(store.gates("web").await.unwrap(), gates);

        // One step touching two executions, and an event that belongs to none.
        let second = execution(&id(2), "web", InProgress, 10);
        let mut superseded = first.clone();
        superseded.status = Superseded;
        let opened = Gates::default();
        commit(
            store,
            event("web", None, "Released", 10),
            &[&superseded, &second],
            Some(&opened),
        )
        .await;
        assert_eq!(store.execution(&first.id).await.unwrap(), Some(superseded));
        assert_eq!(
            store.execution(&second.id).await.unwrap(),
            Some(second.clone())
        );
        assert_eq!(store.gates("web").await.unwrap(), opened);

        // The log of one execution, in the order written, with increasing positions.
        commit(
            store,
            event("web", Some(&second.id), "Other", 11),
            &[&second],
            None,
        )
        .await;
        commit(store, event("web", Some(&first.id), "Noted", 12), &[], None).await;
        let events: Vec<StoredEvent> = store.events(&first.id).await.unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.record.kind.as_str()).collect();
        assert_eq!(kinds, ["Started", "Finished", "Noted"]);
        assert_eq!(events[1].record, finished);
        assert!(events.windows(2).all(|pair| pair[0].seq < pair[1].seq));
        assert_eq!(store.events(&second.id).await.unwrap().len(), 1);
        assert!(store.events(&id(99)).await.unwrap().is_empty());
        assert_eq!(store.execution(&id(99)).await.unwrap(), None);

        // Several steps in one commit (group commit): every event in its order, each
        // execution as it stands after the last of them.
        let mut third = execution(&id(3), "web", InProgress, 13);
        let steps = ["Started", "ActionStarted", "ActionSucceeded"]
            .map(|kind| event("web", Some(&third.id), kind, 13));
        third.status = Succeeded;
        store
            .commit(Commit {
                events: steps.to_vec(),
                executions: vec![&third],
                gates: None,
                source: None,
            })
            .await
            .expect("group commit");
        let stored: Vec<EventRecord> = store
            .events(&third.id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.record)
            .collect();
        assert_eq!(stored, steps);
        assert_eq!(store.execution(&third.id).await.unwrap(), Some(third));
    }

    /// A commit that cannot be written in full leaves no trace: the event, the executions
    /// before the failing one and the gates all stay unwritten.
    pub async fn failed_commit_writes_nothing(store: &dyn Store) {
        store
            .put_pipeline(&pipeline("web", &["Build"], "a"), at(0))
            .await
            .unwrap();
        let kept = gates("Build", &id(1));
        save(store, &execution(&id(1), "web", InProgress, 1), 1).await;
        commit(
            store,
            event("web", Some(&id(1)), "Locked", 2),
            &[],
            Some(&kept),
        )
        .await;

        let good = execution(&id(2), "web", InProgress, 3);
        let orphan = execution(&id(3), "ghost", InProgress, 3);
        let result = store
            .commit(Commit {
                events: vec![event("web", Some(&good.id), "Started", 3)],
                executions: vec![&good, &orphan],
                gates: Some(&Gates::default()),
                source: None,
            })
            .await;
        assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
        assert_eq!(store.execution(&good.id).await.unwrap(), None);
        assert_eq!(store.execution(&orphan.id).await.unwrap(), None);
        assert!(store.events(&good.id).await.unwrap().is_empty());
        assert_eq!(store.gates("web").await.unwrap(), kept);

        // A group of events fails as one: a later event's refusal undoes the earlier ones.
        let result = store
            .commit(Commit {
                events: vec![
                    event("web", Some(&good.id), "Started", 3),
                    event("ghost", Some(&good.id), "Started", 3),
                ],
                executions: vec![&good],
                gates: None,
                source: None,
            })
            .await;
        assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
        assert!(store.events(&good.id).await.unwrap().is_empty());
        assert_eq!(store.execution(&good.id).await.unwrap(), None);

        // A big group (as a busy pipeline's actor commits) fails as one too.
        let many: Vec<_> = (10..14)
            .map(|n| execution(&id(n), "web", InProgress, 3))
            .collect();
        let mut events: Vec<_> = many
            .iter()
            .map(|e| event("web", Some(&e.id), "Started", 3))
            .collect();
        events.push(event("ghost", Some(&many[0].id), "Started", 3));
        let result = store
            .commit(Commit {
                events: events.clone(),
                executions: many.iter().collect(),
                gates: Some(&Gates::default()),
                source: None,
            })
            .await;
        assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
        for execution in &many {
            assert_eq!(store.execution(&execution.id).await.unwrap(), None);
            assert!(store.events(&execution.id).await.unwrap().is_empty());
        }
        assert_eq!(store.gates("web").await.unwrap(), kept);
        events.pop();
        store
            .commit(Commit {
                events,
                executions: many.iter().collect(),
                gates: None,
                source: None,
            })
            .await
            .expect("the same group without the refused event");
        for execution in &many {
            assert_eq!(
                store.execution(&execution.id).await.unwrap().as_ref(),
                Some(execution)
            );
            assert_eq!(store.events(&execution.id).await.unwrap().len(), 1);
        }

        // An event for a pipeline that is not stored is refused the same way.
        let result = store
            .commit(Commit {
                events: vec![event("ghost", None, "Started", 4)],
                executions: vec![],
                gates: None,
                source: None,
            })
            .await;
        assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");

        // The store is still usable afterwards.
        save(store, &good, 5).await;
        assert_eq!(store.events(&good.id).await.unwrap().len(), 1);
    }

    pub async fn history_is_newest_first_and_limited(store: &dyn Store) {
        for name in ["web", "api"] {
            store
                .put_pipeline(&pipeline(name, &["Build"], "a"), at(0))
                .await
                .unwrap();
        }
        // Written out of order; ids 5 and 6 start at the same instant, so the id breaks the tie.
        let starts = [(3, 30), (1, 10), (5, 50), (2, 20), (6, 50), (4, 40)];
        for (n, started) in starts {
            let status = if n % 2 == 0 { Succeeded } else { InProgress };
            save(store, &execution(&id(n), "web", status, started), started).await;
        }
        save(store, &execution(&id(7), "api", Failed, 60), 60).await;

        let all = store.executions("web", 100).await.unwrap();
        assert_eq!(ids(&all), [id(6), id(5), id(4), id(3), id(2), id(1)]);
        let newest = store.executions("web", 3).await.unwrap();
        assert_eq!(ids(&newest), [id(6), id(5), id(4)]);
        assert!(store.executions("web", 0).await.unwrap().is_empty());
        assert_eq!(ids(&store.executions("api", 10).await.unwrap()), [id(7)]);
        assert!(store.executions("none", 10).await.unwrap().is_empty());

        // Updating an execution keeps its place: the order is by start, not by update.
        let mut oldest = all[5].clone();
        oldest.status = Succeeded;
        oldest.updated_at = at(500);
        save(store, &oldest, 500).await;
        assert_eq!(ids(&store.executions("web", 1).await.unwrap()), [id(6)]);
        assert_eq!(store.executions("web", 100).await.unwrap()[5], oldest);
    }

    pub async fn active_executions_are_unfinished_oldest_first(store: &dyn Store) {
        for name in ["web", "api"] {
            store
                .put_pipeline(&pipeline(name, &["Build"], "a"), at(0))
                .await
                .unwrap();
        }
        let rows = [
            (1, "web", Succeeded, 10),
            (2, "web", InProgress, 40),
            (3, "api", Stopping, 20),
            (4, "web", Stopping, 30),
            (5, "api", InProgress, 5),
            (6, "web", Failed, 1),
            (7, "web", Stopped, 2),
            (8, "api", Superseded, 3),
            (9, "web", InProgress, 30),
        ];
        for (n, pipeline, status, started) in rows {
            save(
                store,
                &execution(&id(n), pipeline, status, started),
                started,
            )
            .await;
        }

        let all = store.active_executions(None).await.unwrap();
        assert_eq!(ids(&all), [id(5), id(3), id(4), id(9), id(2)]);
        assert!(all.iter().all(|e| !e.status.is_terminal()));
        let web = store.active_executions(Some("web")).await.unwrap();
        assert_eq!(ids(&web), [id(4), id(9), id(2)]);
        assert!(store
            .active_executions(Some("none"))
            .await
            .unwrap()
            .is_empty());

        // Finishing one takes it off the list.
        let mut done = web[1].clone();
        done.status = Succeeded;
        done.finished_at = Some(at(99));
        save(store, &done, 99).await;
        assert_eq!(
            ids(&store.active_executions(Some("web")).await.unwrap()),
            [id(4), id(2)]
        );
    }

    /// Every status is reported, zero included, so a metrics gauge falls back to 0.
    pub async fn counts_cover_every_status(store: &dyn Store) {
        let expect = |pairs: &[(ExecutionStatus, i64)]| -> BTreeMap<String, i64> {
            ExecutionStatus::ALL
                .iter()
                .map(|s| {
                    (
                        s.as_str().to_owned(),
                        pairs.iter().find(|(p, _)| p == s).map_or(0, |(_, n)| *n),
                    )
                })
                .collect()
        };
        let read = || async {
            let pairs = store.execution_counts().await.unwrap();
            let map: BTreeMap<String, i64> = pairs.iter().cloned().collect();
            assert_eq!(map.len(), pairs.len(), "each status once: {pairs:?}");
            map
        };

        assert_eq!(read().await, expect(&[]));
        for name in ["web", "api"] {
            store
                .put_pipeline(&pipeline(name, &["Build"], "a"), at(0))
                .await
                .unwrap();
        }
        let rows = [
            (1, "web", InProgress),
            (2, "api", InProgress),
            (3, "web", Failed),
            (4, "web", Succeeded),
            (5, "api", Succeeded),
            (6, "api", Succeeded),
        ];
        for (n, pipeline, status) in rows {
            save(
                store,
                &execution(&id(n), pipeline, status, i64::from(n)),
                i64::from(n),
            )
            .await;
        }
        assert_eq!(
            read().await,
            expect(&[(InProgress, 2), (Failed, 1), (Succeeded, 3)])
        );

        let mut stopping = execution(&id(1), "web", Stopping, 1);
        stopping.updated_at = at(50);
        save(store, &stopping, 50).await;
        assert_eq!(
            read().await,
            expect(&[(InProgress, 1), (Stopping, 1), (Failed, 1), (Succeeded, 3)])
        );
    }

    pub async fn delete_removes_everything(store: &dyn Store) {
        for name in ["web", "api"] {
            store
                .put_pipeline(&pipeline(name, &["Build"], "a"), at(0))
                .await
                .unwrap();
            store
                .put_pipeline(&pipeline(name, &["Build"], "b"), at(1))
                .await
                .unwrap();
        }
        let web = execution(&id(1), "web", InProgress, 2);
        let api = execution(&id(2), "api", InProgress, 2);
        commit(
            store,
            event("web", Some(&web.id), "Started", 2),
            &[&web],
            Some(&gates("Build", &web.id)),
        )
        .await;
        commit(
            store,
            event("api", Some(&api.id), "Started", 2),
            &[&api],
            Some(&gates("Build", &api.id)),
        )
        .await;

        assert!(store.delete_pipeline("web").await.unwrap());
        assert_eq!(store.pipeline("web").await.unwrap(), None);
        assert_eq!(store.pipeline_version("web", 1).await.unwrap(), None);
        assert_eq!(store.pipeline_version("web", 2).await.unwrap(), None);
        assert_eq!(store.gates("web").await.unwrap(), Gates::default());
        assert_eq!(store.execution(&web.id).await.unwrap(), None);
        assert!(store.executions("web", 10).await.unwrap().is_empty());
        assert!(store.events(&web.id).await.unwrap().is_empty());
        assert_eq!(
            ids(&store.active_executions(None).await.unwrap()),
            [api.id.as_str()]
        );
        let in_progress = store
            .execution_counts()
            .await
            .unwrap()
            .into_iter()
            .find(|(s, _)| s == "InProgress");
        assert_eq!(in_progress, Some(("InProgress".to_owned(), 1)));

        // The other pipeline is untouched.
        let names: Vec<String> = store
            .pipelines()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["api"]);
        assert_eq!(store.execution(&api.id).await.unwrap(), Some(api.clone()));
        assert_eq!(store.events(&api.id).await.unwrap().len(), 1);
        assert_eq!(store.gates("api").await.unwrap(), gates("Build", &api.id));

        // Deleting again finds nothing; applying again starts over at version 1.
        assert!(!store.delete_pipeline("web").await.unwrap());
        let again = store
            .put_pipeline(&pipeline("web", &["Build"], "b"), at(3))
            .await
            .unwrap();
        assert_eq!(
            again,
            PutOutcome {
                version: 1,
                changed: true
            }
        );
    }

    /// Many tasks commit at once while others read: every commit lands, none fails with a
    /// lock error, and each execution's log is complete and in order.
    pub async fn concurrent_commits_all_land(store: Arc<dyn Store>) {
        const TASKS: u32 = 16;
        const STEPS: u32 = 25;
        store
            .put_pipeline(&pipeline("web", &["Build"], "a"), at(0))
            .await
            .unwrap();

        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..TASKS {
            let store = store.clone();
            tasks.spawn(async move {
                let mut execution = execution(&id(task + 1), "web", InProgress, i64::from(task));
                for step in 0..STEPS {
                    execution.runs_started = step;
                    execution.updated_at = at(i64::from(step));
                    let lock = (step % 5 == 0).then(|| gates("Build", &execution.id));
                    let event = event("web", Some(&execution.id), "Step", i64::from(step));
                    store
                        .commit(Commit {
                            events: vec![event],
                            executions: vec![&execution],
                            gates: lock.as_ref(),
                            source: None,
                        })
                        .await
                        .unwrap_or_else(|e| panic!("task {task} step {step}: {e}"));
                }
            });
        }
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    for _ in 0..50 {
                        store
                            .active_executions(Some("web"))
                            .await
                            .expect("read active");
                        store.executions("web", 10).await.expect("read history");
                        store.gates("web").await.expect("read gates");
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        while let Some(joined) = tasks.join_next().await {
            joined.expect("writer task");
        }
        for reader in readers {
            reader.await.expect("reader task");
        }

        for task in 0..TASKS {
            let id = id(task + 1);
            let execution = store.execution(&id).await.unwrap().expect("written");
            assert_eq!(execution.runs_started, STEPS - 1);
            let events = store.events(&id).await.unwrap();
            let steps: Vec<i64> = events
                .iter()
                .map(|e| e.record.body["n"].as_i64().unwrap())
                .collect();
            assert_eq!(
                steps,
                (0..i64::from(STEPS)).collect::<Vec<_>>(),
                "log of {id}"
            );
        }
        let occupant = store.gates("web").await.unwrap().occupant["Build"].clone();
        assert!((1..=TASKS).any(|task| occupant == id(task)));
        assert_eq!(
            store.active_executions(None).await.unwrap().len(),
            TASKS as usize
        );
    }

    /// Damaged rows are reported as `Corrupt`, naming the row, and never panic; a damaged
    /// current definition can still be replaced by applying the pipeline again.
    pub async fn corrupt_rows_are_reported(store: &dyn Store, backend: &dyn CorruptRows) {
        let v1 = pipeline("web", &["Build"], "a");
        let v2 = pipeline("web", &["Build"], "b");
        store.put_pipeline(&v1, at(0)).await.unwrap();
        store.put_pipeline(&v2, at(1)).await.unwrap();
        let broken = execution(&id(1), "web", InProgress, 2);
        let healthy = execution(&id(2), "web", InProgress, 3);
        commit(
            store,
            event("web", Some(&broken.id), "Started", 2),
            &[&broken],
            Some(&gates("Build", &broken.id)),
        )
        .await;
        save(store, &healthy, 3).await;

        backend
            .damage(Target::ExecutionBody(&broken.id), r#"{"id": "#)
            .await;
        assert_corrupt(store.execution(&broken.id).await, &broken.id);
        assert_corrupt(store.executions("web", 10).await, &broken.id);
        assert_corrupt(store.active_executions(Some("web")).await, &broken.id);
        assert_eq!(
            store.execution(&healthy.id).await.unwrap(),
            Some(healthy.clone())
        );
        // Valid JSON of the wrong shape is just as corrupt.
        backend
            .damage(Target::ExecutionBody(&broken.id), r#"{"unexpected": true}"#)
            .await;
        assert_corrupt(store.execution(&broken.id).await, &broken.id);

        backend.damage(Target::GatesBody("web"), "[1, 2").await;
        assert_corrupt(store.gates("web").await, "web");

        backend
            .damage(Target::Definition("web", 1), r#"{"name": 7}"#)
            .await;
        assert_corrupt(store.pipeline_version("web", 1).await, "web");
        assert_eq!(
            store.pipeline("web").await.unwrap().map(|p| p.definition),
            Some(v2.clone())
        );

        backend
            .damage(Target::Definition("web", 2), "not json")
            .await;
        assert_corrupt(store.pipeline("web").await, "web");
        assert_corrupt(store.pipelines().await, "web");
        let repaired = store.put_pipeline(&v2, at(4)).await.unwrap();
        assert_eq!(
            repaired,
            PutOutcome {
                version: 3,
                changed: true
            }
        );
        assert_eq!(
            store.pipeline("web").await.unwrap().map(|p| p.definition),
            Some(v2)
        );

        let seq = store.events(&broken.id).await.unwrap()[0].seq;
        backend.damage(Target::EventBody(seq), "{").await;
        assert_corrupt(store.events(&broken.id).await, &seq.to_string());
        assert_eq!(store.events(&healthy.id).await.unwrap().len(), 1);
    }

    /// What `write_fixture` wrote, to compare after a reopen.
    pub struct Fixture {
        v1: Pipeline,
        v2: Pipeline,
        finished: Execution,
        running: Execution,
        gates: Gates,
        events: Vec<StoredEvent>,
    }

    pub async fn write_fixture(store: &dyn Store) -> Fixture {
        let v1 = pipeline("web", &["Build"], "a");
        let v2 = pipeline("web", &["Build", "Deploy"], "a");
        store.put_pipeline(&v1, at(0)).await.unwrap();
        store.put_pipeline(&v2, at(1)).await.unwrap();
        let finished = execution(&id(1), "web", Succeeded, 2);
        let running = execution(&id(2), "web", InProgress, 3);
        let gates = gates("Build", &running.id);
        save(store, &finished, 2).await;
        commit(
            store,
            event("web", Some(&running.id), "Started", 3),
            &[&running],
            Some(&gates),
        )
        .await;
        commit(
            store,
            event("web", Some(&running.id), "Progress", 4),
            &[&running],
            None,
        )
        .await;
        let events = store.events(&running.id).await.unwrap();
        Fixture {
            v1,
            v2,
            finished,
            running,
            gates,
            events,
        }
    }

    pub async fn check_fixture(store: &dyn Store, fixture: &Fixture) {
        let stored = store
            .pipeline("web")
            .await
            .unwrap()
            .expect("pipeline survives");
        assert_eq!((stored.version, &stored.definition), (2, &fixture.v2));
        assert_eq!((stored.created_at, stored.updated_at), (at(0), at(1)));
        assert_eq!(
            store.pipeline_version("web", 1).await.unwrap().as_ref(),
            Some(&fixture.v1)
        );
        assert_eq!(store.gates("web").await.unwrap(), fixture.gates);
        let history = store.executions("web", 10).await.unwrap();
        assert_eq!(history, [fixture.running.clone(), fixture.finished.clone()]);
        assert_eq!(
            store.active_executions(None).await.unwrap(),
            std::slice::from_ref(&fixture.running)
        );
        assert_eq!(
            store.events(&fixture.running.id).await.unwrap(),
            fixture.events
        );
        // The log continues after the last position, never reusing one.
        save(store, &fixture.running, 5).await;
        let events = store.events(&fixture.running.id).await.unwrap();
        assert!(events[2].seq > fixture.events[1].seq);
        assert_eq!(
            store.put_pipeline(&fixture.v2, at(6)).await.unwrap(),
            PutOutcome {
                version: 2,
                changed: false
            }
        );
    }
}

/// Object-safe access to `Backend::corrupt`, so contract checks take `&dyn`.
#[async_trait]
pub trait CorruptRows: Sync {
    async fn damage(&self, target: Target<'_>, text: &str);
}

#[async_trait]
impl<B: Backend> CorruptRows for B {
    async fn damage(&self, target: Target<'_>, text: &str) {
        self.corrupt(target, text).await;
    }
}

/// SQLite in a temporary directory; the directory goes when the test ends.
pub struct SqliteBackend {
    dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
}

impl SqliteBackend {
    fn url(dir: &std::path::Path) -> String {
        format!("sqlite://{}", dir.join("data/baton.db").display())
    }

    /// A connection of the test's own, for what the store would never do.
    async fn raw(&self) -> sqlx::SqlitePool {
        sqlx::SqlitePool::connect(&Self::url(self.dir.path()))
            .await
            .expect("raw connection")
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    async fn fresh() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&Self::url(dir.path()))
            .await
            .expect("open");
        SqliteBackend {
            dir,
            store: Arc::new(store),
        }
    }

    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    async fn reopen(&mut self) {
        self.store = Arc::new(
            SqliteStore::open(&Self::url(self.dir.path()))
                .await
                .expect("reopen"),
        );
    }

    async fn corrupt(&self, target: Target<'_>, text: &str) {
        let raw = self.raw().await;
        let query = match target {
            Target::ExecutionBody(id) => sqlx::query("UPDATE executions SET body = ? WHERE id = ?")
                .bind(text)
                .bind(id),
            Target::GatesBody(pipeline) => {
                sqlx::query("UPDATE gates SET body = ? WHERE pipeline = ?")
                    .bind(text)
                    .bind(pipeline)
            }
            Target::Definition(name, version) => sqlx::query(
                "UPDATE pipeline_versions SET definition = ? WHERE name = ? AND version = ?",
            )
            .bind(text)
            .bind(name)
            .bind(i64::from(version)),
            Target::EventBody(seq) => sqlx::query("UPDATE events SET body = ? WHERE seq = ?")
                .bind(text)
                .bind(seq),
        };
        let updated = query
            .execute(&raw)
            .await
            .expect("damage row")
            .rows_affected();
        assert_eq!(updated, 1, "{target:?} names one row");
        raw.close().await;
    }
}

/// A power cut leaves the database file and its write-ahead log as they were at the last
/// fsync. Copying both while the store is still open (never closed, never checkpointed)
/// and opening the copy shows that everything `commit` returned for was on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_commits_survive_a_power_cut() {
    let backend = SqliteBackend::fresh().await;
    let fixture = contract::write_fixture(&*backend.store()).await;

    let copy = tempfile::tempdir().unwrap();
    let (from, to) = (backend.dir.path().join("data"), copy.path().join("data"));
    std::fs::create_dir_all(&to).unwrap();
    // The commits are still in the log, not yet checkpointed into the main file: opening
    // the copy (without the `-shm` index) makes SQLite recover them from the log.
    let log = std::fs::metadata(from.join("baton.db-wal")).expect("write-ahead log");
    assert!(log.len() > 0);
    for file in ["baton.db", "baton.db-wal"] {
        std::fs::copy(from.join(file), to.join(file)).unwrap();
    }
    let recovered = SqliteStore::open(&SqliteBackend::url(copy.path()))
        .await
        .unwrap();
    contract::check_fixture(&recovered, &fixture).await;
    recovered.close().await;
}

/// A clean close, then a reopen, finds the same data.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_close_then_reopen() {
    let mut backend = SqliteBackend::fresh().await;
    let fixture = contract::write_fixture(&*backend.store()).await;
    backend.store.close().await;
    backend.reopen().await;
    contract::check_fixture(&*backend.store(), &fixture).await;
}
