//! The pipeline actor: the one task that changes a pipeline's executions. It applies each
//! event with the engine, stores the event and every execution it touched in one
//! transaction, and only then starts the effects and answers. Events that queued up while
//! it worked are applied one after another and stored in one commit (group commit), so a
//! burst costs one durable write, not one each. If the store refuses, the in-memory state
//! is reloaded from the store, no effect runs and every sender of the group gets the error.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::{follower, metrics, Result, Runtime, RuntimeError};
use crate::engine::state::{Execution, PipelineState};
use crate::engine::{self, Definitions, Effect, Event, Step};
use crate::notify::Notification;
use crate::store::{Commit, EventRecord, SourceRevision};

pub(super) enum Message {
    Event {
        event: Event,
        /// For a start caused by a push or a poll: the revision it is for, stored with the
        /// event. The event is refused when that revision was seen before.
        source: Option<Box<SourceRevision>>,
        reply: Option<Reply>,
    },
    Reload {
        reply: oneshot::Sender<Result<()>>,
    },
    Delete {
        reply: oneshot::Sender<Result<bool>>,
    },
}

type Reply = oneshot::Sender<Result<Option<Execution>>>;

struct Actor {
    runtime: Runtime,
    pipeline: String,
    definitions: Definitions,
    state: PipelineState,
    loaded: bool,
    /// Steps applied in memory but not yet stored: the group the next commit writes.
    pending: Vec<Applied>,
    /// Refusals decided while steps were pending; answered after their commit, since
    /// they were decided on the state those steps left.
    refused: Vec<(Reply, RuntimeError)>,
    /// Executions read in for one event; forgotten after the commit if finished.
    visitors: BTreeSet<String>,
}

/// One applied step waiting for its commit; what it may do happens only once stored.
struct Applied {
    record: EventRecord,
    step: Step,
    /// The answer to the sender: the execution as this step left it.
    answer: Option<Execution>,
    reply: Option<Reply>,
    notifications: Vec<Notification>,
}

/// Inbox size: enough to absorb bursts of callbacks without blocking senders for long.
const INBOX: usize = 1024;

/// The most steps one commit holds. Events already queued are applied and stored
/// together (one durable write for all); a single event never waits for company.
const MAX_GROUP: usize = 256;

pub(super) fn spawn(runtime: Runtime, pipeline: String) -> mpsc::Sender<Message> {
    let (sender, mut inbox) = mpsc::channel(INBOX);
    let shutdown = runtime.inner.shutdown.clone();
    let span = tracing::info_span!("pipeline", pipeline = %pipeline);
    let mut actor = Actor {
        runtime: runtime.clone(),
        pipeline,
        definitions: Definitions::new(),
        state: PipelineState::default(),
        loaded: false,
        pending: Vec::new(),
        refused: Vec::new(),
        visitors: BTreeSet::new(),
    };
    runtime.inner.tasks.spawn(
        async move {
            loop {
                let message = tokio::select! {
                    biased;
                    message = inbox.recv() => message,
                    _ = shutdown.cancelled() => None,
                };
                let Some(mut message) = message else { break };
                // Apply whatever is already queued, then store it in one commit.
                loop {
                    actor.handle(message).await;
                    if actor.pending.len() >= MAX_GROUP {
                        actor.flush().await;
                    }
                    match inbox.try_recv() {
                        Ok(next) if !shutdown.is_cancelled() => message = next,
                        _ => break,
                    }
                }
                actor.flush().await;
            }
        }
        .instrument(span),
    );
    sender
}

impl Actor {
    async fn handle(&mut self, message: Message) {
        match message {
            Message::Event {
                event,
                source: None,
                reply,
            } => {
                self.apply(event, None, reply).await;
            }
            Message::Event {
                event,
                source: Some(source),
                reply,
            } => {
                // Whether a revision was seen is read from the store: nothing may be
                // pending in memory when it is asked, and the start is stored at once.
                self.flush().await;
                self.apply(event, Some(&source), reply).await;
                self.flush_with(Some(&source)).await;
            }
            Message::Reload { reply } => {
                self.flush().await;
                let result = self.load().await;
                let _ = reply.send(result);
            }
            Message::Delete { reply } => {
                self.flush().await;
                let _ = reply.send(self.delete().await);
            }
        }
    }

    /// (Re)reads the pipeline's definitions, gates and unfinished executions.
    async fn load(&mut self) -> Result<()> {
        let store = self.runtime.inner.store.clone();
        let current = store
            .pipeline(&self.pipeline)
            .await?
            .ok_or_else(|| RuntimeError::PipelineNotFound(self.pipeline.clone()))?;
        let executions = store.active_executions(Some(&self.pipeline)).await?;
        self.definitions.clear();
        self.definitions
            .insert(current.version, Arc::new(current.definition));
        for execution in &executions {
            self.ensure_version(execution.version).await?;
        }
        self.state = PipelineState {
            gates: store.gates(&self.pipeline).await?,
            executions: executions.into_iter().map(|e| (e.id.clone(), e)).collect(),
        };
        self.loaded = true;
        Ok(())
    }

    async fn ensure_version(&mut self, version: u32) -> Result<()> {
        if self.definitions.contains_key(&version) {
            return Ok(());
        }
        let definition = self
            .runtime
            .inner
            .store
            .pipeline_version(&self.pipeline, version)
            .await?
            .ok_or_else(|| {
                RuntimeError::PipelineNotFound(format!("{} v{version}", self.pipeline))
            })?;
        self.definitions.insert(version, Arc::new(definition));
        Ok(())
    }

    /// Applies one event in memory and queues its step for the next commit. Its sender is
    /// answered once the commit is stored, a refusal included (it may rest on pending
    /// steps).
    async fn apply(&mut self, event: Event, source: Option<&SourceRevision>, reply: Option<Reply>) {
        match self.try_apply(event, source).await {
            Ok(mut applied) => {
                applied.reply = reply;
                self.pending.push(applied);
            }
            Err(error) => match reply {
                Some(reply) => self.refused.push((reply, error)),
                None => tracing::debug!(%error, "event refused"),
            },
        }
    }

    async fn try_apply(
        &mut self,
        event: Event,
        source: Option<&SourceRevision>,
    ) -> Result<Applied> {
        if !self.loaded {
            self.load().await?;
        }
        if let Some(seen) = source {
            // The actor is the pipeline's one writer and nothing is pending, so nothing
            // can record this revision between this check and the commit that follows.
            let store = &self.runtime.inner.store;
            if store
                .source_revision_seen(&seen.pipeline, &seen.source, &seen.git_ref, &seen.revision)
                .await?
            {
                return Err(RuntimeError::RevisionSeen(format!(
                    "{} of {} was already seen by source {}",
                    seen.revision, seen.git_ref, seen.source
                )));
            }
        }
        // A command or late report may concern a finished execution: bring it in so the
        // engine can answer (refuse, or cancel work that started too late).
        if let Some(id) = event.execution() {
            if !self.state.executions.contains_key(id) && !matches!(event, Event::Start { .. }) {
                match self.runtime.inner.store.execution(id).await? {
                    Some(found) if found.pipeline == self.pipeline => {
                        self.ensure_version(found.version).await?;
                        self.visitors.insert(found.id.clone());
                        self.state.executions.insert(found.id.clone(), found);
                    }
                    _ => {
                        return Err(engine::Rejection::NotFound(format!(
                            "execution {id} not found in pipeline {}",
                            self.pipeline
                        ))
                        .into())
                    }
                }
            }
        }
        if let Event::Start { version, .. } = &event {
            self.ensure_version(*version).await?;
        }
        let now = self.runtime.now();
        let notifier = self.runtime.inner.options.notifier.as_ref();
        let before = notifier.map(|n| n.before(&self.state.executions));
        let step = match engine::apply(&self.definitions, &mut self.state, &event, now) {
            Ok(step) => step,
            Err(rejection) => return Err(rejection.into()),
        };
        let mut notifications = Vec::new();
        for id in &step.touched {
            let Some(execution) = self.state.executions.get(id) else {
                continue;
            };
            metrics::stages_entered(execution, now);
            if let (Some(notifier), Some(before)) = (notifier, &before) {
                if let Some(definition) = self.definitions.get(&execution.version) {
                    notifications.extend(notifier.changes(
                        definition,
                        before.get(id),
                        execution,
                        &self.runtime.inner.options.public_url,
                    ));
                }
            }
        }
        let body =
            serde_json::to_value(&event).map_err(|source| crate::store::StoreError::Corrupt {
                what: format!("event {}", event.kind()),
                source,
            })?;
        Ok(Applied {
            record: EventRecord {
                pipeline: self.pipeline.clone(),
                execution_id: event.execution().map(str::to_string),
                kind: event.kind().to_string(),
                body,
                at: now,
            },
            answer: event
                .execution()
                .and_then(|id| self.state.executions.get(id).cloned()),
            step,
            reply: None,
            notifications,
        })
    }

    async fn flush(&mut self) {
        self.flush_with(None).await;
    }

    /// Stores every pending step in one transaction, then answers their senders, publishes
    /// their changes and starts their effects, in order. If the store refuses, no effect
    /// runs, every sender gets the error and the state is reloaded from the store.
    async fn flush_with(&mut self, source: Option<&SourceRevision>) {
        let pending = std::mem::take(&mut self.pending);
        let refused = std::mem::take(&mut self.refused);
        let mut done = std::mem::take(&mut self.visitors);
        if pending.is_empty() {
            for (reply, error) in refused {
                let _ = reply.send(Err(error));
            }
            self.drop_finished(done);
            return;
        }
        let started = std::time::Instant::now();
        let mut touched = BTreeSet::new();
        let mut gates_changed = false;
        for applied in &pending {
            touched.extend(applied.step.touched.iter().cloned());
            gates_changed |= applied.step.gates_changed;
        }
        let commit = Commit {
            events: pending.iter().map(|a| a.record.clone()).collect(),
            executions: touched
                .iter()
                .filter_map(|id| self.state.executions.get(id))
                .collect(),
            gates: gates_changed.then_some(&self.state.gates),
            source,
        };
        if let Err(error) = self.runtime.inner.store.commit(commit).await {
            tracing::error!(%error, steps = pending.len(), "storing events failed; reloading state");
            // A group of one keeps its error as it is (a conflict stays a conflict).
            let shared = error.to_string();
            let mut error = (pending.len() == 1).then_some(error);
            let replies = pending.into_iter().filter_map(|a| a.reply);
            for reply in replies.chain(refused.into_iter().map(|(reply, _)| reply)) {
                let error = match error.take() {
                    Some(error) => RuntimeError::Store(error),
                    None => RuntimeError::Unstored(shared.clone()),
                };
                let _ = reply.send(Err(error));
            }
            self.loaded = false;
            let _ = self.load().await;
            return;
        }
        metrics::store_commit(started.elapsed(), pending.len());
        for id in &touched {
            let _ = self.runtime.inner.changes.send(id.clone());
        }
        let notifier = self.runtime.inner.options.notifier.as_ref();
        for applied in pending {
            if let Some(notifier) = notifier {
                for notification in applied.notifications {
                    notifier.publish(notification);
                }
            }
            self.run_effects(&applied.step);
            if let Some(reply) = applied.reply {
                let _ = reply.send(Ok(applied.answer));
            }
        }
        for (reply, error) in refused {
            let _ = reply.send(Err(error));
        }
        done.extend(touched);
        self.drop_finished(done);
    }

    fn run_effects(&self, step: &Step) {
        for effect in &step.effects {
            match effect {
                Effect::RunAction { execution, run_id } => {
                    let Some(execution) = self.state.executions.get(execution) else {
                        continue;
                    };
                    if let Some(definition) = self.definitions.get(&execution.version) {
                        follower::spawn(self.runtime.clone(), definition, execution, run_id, false);
                    }
                }
                Effect::CancelAction {
                    execution,
                    run_id,
                    external_id,
                } => {
                    let Some(execution) = self.state.executions.get(execution) else {
                        continue;
                    };
                    if let Some(definition) = self.definitions.get(&execution.version) {
                        follower::cancel(
                            self.runtime.clone(),
                            definition,
                            execution,
                            run_id,
                            external_id.clone(),
                        );
                    }
                }
                Effect::ArmTimer {
                    execution,
                    run_id,
                    at,
                } => self
                    .runtime
                    .arm_timer(&self.pipeline, execution, run_id, *at),
                Effect::Finished { execution } => {
                    if let Some(execution) = self.state.executions.get(execution) {
                        metrics::execution_finished(execution);
                        tracing::info!(
                            execution = %execution.id,
                            status = execution.status.as_str(),
                            summary = execution.status_summary.as_deref().unwrap_or(""),
                            "execution finished"
                        );
                    }
                }
            }
        }
    }

    /// Forgets finished executions among `ids`; the store has them.
    fn drop_finished(&mut self, ids: BTreeSet<String>) {
        for id in ids {
            if self
                .state
                .executions
                .get(&id)
                .is_some_and(|e| e.status.is_terminal())
            {
                self.state.executions.remove(&id);
            }
        }
    }

    async fn delete(&mut self) -> Result<bool> {
        if !self.loaded {
            match self.load().await {
                Err(RuntimeError::PipelineNotFound(_)) => return Ok(false),
                other => other?,
            }
        }
        if let Some(active) = self.state.executions.keys().next() {
            return Err(engine::Rejection::Conflict(format!(
                "pipeline {} has unfinished executions (e.g. {active}); stop them first",
                self.pipeline
            ))
            .into());
        }
        let deleted = self
            .runtime
            .inner
            .store
            .delete_pipeline(&self.pipeline)
            .await?;
        self.loaded = false;
        Ok(deleted)
    }
}
