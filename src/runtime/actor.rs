//! The pipeline actor: the one task that changes a pipeline's executions. It applies each
//! event with the engine, stores the event and every execution it touched in one
//! transaction, and only then starts the effects. If the store refuses, the in-memory
//! state is reloaded from the store and no effect runs.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::{follower, metrics, Result, Runtime, RuntimeError};
use crate::engine::state::{Execution, PipelineState};
use crate::engine::{self, Definitions, Effect, Event, Step};
use crate::store::{Commit, EventRecord, SourceRevision};

pub(super) enum Message {
    Event {
        event: Event,
        /// For a start caused by a push or a poll: the revision it is for, stored with the
        /// event. The event is refused when that revision was seen before.
        source: Option<Box<SourceRevision>>,
        reply: Option<oneshot::Sender<Result<Option<Execution>>>>,
    },
    Reload {
        reply: oneshot::Sender<Result<()>>,
    },
    Delete {
        reply: oneshot::Sender<Result<bool>>,
    },
}

struct Actor {
    runtime: Runtime,
    pipeline: String,
    definitions: Definitions,
    state: PipelineState,
    loaded: bool,
}

/// Inbox size: enough to absorb bursts of callbacks without blocking senders for long.
const INBOX: usize = 1024;

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
    };
    runtime.inner.tasks.spawn(
        async move {
            loop {
                let message = tokio::select! {
                    biased;
                    message = inbox.recv() => message,
                    _ = shutdown.cancelled() => None,
                };
                let Some(message) = message else { break };
                actor.handle(message).await;
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
                source,
                reply,
            } => {
                let result = self.on_event(event, source.as_deref()).await;
                if let Some(reply) = reply {
                    let _ = reply.send(result);
                }
            }
            Message::Reload { reply } => {
                let result = self.load().await;
                let _ = reply.send(result);
            }
            Message::Delete { reply } => {
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

    async fn on_event(
        &mut self,
        event: Event,
        source: Option<&SourceRevision>,
    ) -> Result<Option<Execution>> {
        if !self.loaded {
            self.load().await?;
        }
        if let Some(seen) = source {
            // The actor is the pipeline's one writer, so nothing can record this revision
            // between this check and the commit below.
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
        let mut visiting = None;
        if let Some(id) = event.execution() {
            if !self.state.executions.contains_key(id) && !matches!(event, Event::Start { .. }) {
                match self.runtime.inner.store.execution(id).await? {
                    Some(found) if found.pipeline == self.pipeline => {
                        self.ensure_version(found.version).await?;
                        visiting = Some(found.id.clone());
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
        let result = engine::apply(&self.definitions, &mut self.state, &event, now);
        let step = match result {
            Ok(step) => step,
            Err(rejection) => {
                self.drop_finished(visiting.iter().cloned().collect());
                return Err(rejection.into());
            }
        };
        if let Err(error) = self.store(&event, &step, source, now).await {
            tracing::error!(%error, event = event.kind(), "storing an event failed; reloading state");
            self.loaded = false;
            let _ = self.load().await;
            return Err(error);
        }
        let answer = event
            .execution()
            .and_then(|id| self.state.executions.get(id).cloned());
        for id in &step.touched {
            let _ = self.runtime.inner.changes.send(id.clone());
            let Some(execution) = self.state.executions.get(id) else {
                continue;
            };
            metrics::stages_entered(execution, now);
            if let (Some(notifier), Some(before)) = (notifier, &before) {
                if let Some(definition) = self.definitions.get(&execution.version) {
                    notifier.after(
                        definition,
                        before.get(id),
                        execution,
                        &self.runtime.inner.options.public_url,
                    );
                }
            }
        }
        self.run_effects(&step);
        let mut done: BTreeSet<String> = step.touched.clone();
        done.extend(visiting);
        self.drop_finished(done);
        Ok(answer)
    }

    async fn store(
        &self,
        event: &Event,
        step: &Step,
        source: Option<&SourceRevision>,
        now: engine::state::Time,
    ) -> Result<()> {
        let started = std::time::Instant::now();
        let body =
            serde_json::to_value(event).map_err(|source| crate::store::StoreError::Corrupt {
                what: format!("event {}", event.kind()),
                source,
            })?;
        let commit = Commit {
            event: EventRecord {
                pipeline: self.pipeline.clone(),
                execution_id: event.execution().map(str::to_string),
                kind: event.kind().to_string(),
                body,
                at: now,
            },
            executions: step
                .touched
                .iter()
                .filter_map(|id| self.state.executions.get(id))
                .collect(),
            gates: step.gates_changed.then_some(&self.state.gates),
            source,
        };
        self.runtime.inner.store.commit(commit).await?;
        metrics::store_commit(started.elapsed());
        Ok(())
    }

    fn run_effects(&self, step: &Step) {
        for effect in &step.effects {
            match effect {
                Effect::RunAction { execution, run_id } => {
                    if let Some(execution) = self.state.executions.get(execution) {
                        follower::spawn(self.runtime.clone(), execution, run_id, false);
                    }
                }
                Effect::CancelAction {
                    execution,
                    run_id,
                    external_id,
                } => {
                    if let Some(execution) = self.state.executions.get(execution) {
                        follower::cancel(
                            self.runtime.clone(),
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
