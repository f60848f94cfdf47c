//! Use cases shared by the HTTP API (and through it the CLI): applying pipelines, starting
//! and steering executions, reading history. Turns requests into engine events for the
//! runtime and reads from the store; knows nothing of HTTP.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::engine::state::{Execution, Gates, Trigger};
use crate::engine::{Event, Rejection};
use crate::model::{self, Pipeline};
use crate::runtime::{Runtime, RuntimeError};
use crate::store::{PutOutcome, SourceRevision, StoreError, StoredPipeline};
use crate::triggers;
use crate::triggers::poller::{self, Sources};
use crate::triggers::webhook::{self, Delivery};

mod jobs;

pub use jobs::{ActionTypeSpec, DefinedIn, JobOptions, JobSuccess};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Invalid {
        message: String,
        details: Vec<String>,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Upstream(String),
    /// A webhook without the right signature or token.
    #[error("{0}")]
    Unauthorized(String),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

impl From<RuntimeError> for ServiceError {
    fn from(error: RuntimeError) -> Self {
        match error {
            RuntimeError::Rejected(Rejection::NotFound(m)) => ServiceError::NotFound(m),
            RuntimeError::Rejected(Rejection::Conflict(m)) => ServiceError::Conflict(m),
            RuntimeError::Rejected(Rejection::Invalid(m)) => ServiceError::Invalid {
                message: m,
                details: Vec::new(),
            },
            RuntimeError::PipelineNotFound(p) => {
                ServiceError::NotFound(format!("pipeline {p} not found"))
            }
            RuntimeError::Store(e) => e.into(),
            RuntimeError::Adapter(m) => ServiceError::Upstream(m),
            RuntimeError::ShuttingDown => {
                ServiceError::Unavailable("the daemon is shutting down".into())
            }
            RuntimeError::RevisionSeen(m) => ServiceError::Conflict(format!("revision {m}")),
            RuntimeError::Unstored(m) => ServiceError::Internal(m),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(m) => ServiceError::Conflict(m),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

/// A pipeline with its gates, for reading.
pub struct PipelineView {
    pub stored: StoredPipeline,
    pub gates: Gates,
}

/// What applying a definition did.
pub struct Applied {
    pub name: String,
    pub outcome: PutOutcome,
    pub notes: Vec<String>,
}

/// How long a long-poll for changes waits at most.
pub const LONG_POLL: Duration = Duration::from_secs(20);

/// What a push webhook led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookOutcome {
    /// A ping, answered.
    Pong,
    /// An execution started for this revision.
    Started { execution: String, revision: String },
    /// Nothing started, and why.
    Ignored(String),
}

#[derive(Clone)]
pub struct Service {
    runtime: Runtime,
    sources: Option<Arc<Sources>>,
    jobs: Arc<JobOptions>,
}

impl Service {
    pub fn new(runtime: Runtime) -> Service {
        Service {
            runtime,
            sources: None,
            jobs: Arc::new(JobOptions::default()),
        }
    }

    /// Sets the job-worker protocol's timings and the action types the config fixes.
    pub fn with_jobs(mut self, jobs: JobOptions) -> Service {
        self.jobs = Arc::new(jobs);
        self
    }

    /// Enables source triggers: polling's starting points on apply, and push webhooks.
    pub fn with_sources(mut self, sources: Arc<Sources>) -> Service {
        self.sources = Some(sources);
        self
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Parses, validates and stores a definition sent for `name`.
    pub async fn apply_pipeline(&self, name: &str, text: &str) -> Result<Applied> {
        let loaded = model::load(name, text, &self.runtime.catalog()).map_err(|diagnostics| {
            ServiceError::Invalid {
                message: format!("pipeline {name} has {} problem(s)", diagnostics.len()),
                details: diagnostics.iter().map(ToString::to_string).collect(),
            }
        })?;
        let pipeline: Pipeline = loaded.pipeline;
        if pipeline.name != name {
            return Err(ServiceError::Invalid {
                message: format!(
                    "the definition is named {}, but was sent to /pipelines/{name}",
                    pipeline.name
                ),
                details: Vec::new(),
            });
        }
        let outcome = self
            .runtime
            .store()
            .put_pipeline(&pipeline, self.runtime.now())
            .await?;
        if outcome.changed {
            self.runtime.definition_changed(name).await?;
        }
        let mut notes: Vec<String> = loaded.notes.iter().map(ToString::to_string).collect();
        if let Some(sources) = &self.sources {
            let stored = self.stored(name).await?;
            notes.extend(poller::record_heads(self, sources, &stored).await);
        }
        Ok(Applied {
            name: pipeline.name,
            outcome,
            notes,
        })
    }

    async fn stored(&self, pipeline: &str) -> Result<StoredPipeline> {
        self.runtime
            .store()
            .pipeline(pipeline)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("pipeline {pipeline} not found")))
    }

    pub async fn pipelines(&self) -> Result<Vec<(StoredPipeline, Option<Execution>)>> {
        let store = self.runtime.store();
        let mut out = Vec::new();
        for pipeline in store.pipelines().await? {
            let latest = store
                .executions(&pipeline.name, 1)
                .await?
                .into_iter()
                .next();
            out.push((pipeline, latest));
        }
        Ok(out)
    }

    pub async fn pipeline(&self, name: &str) -> Result<PipelineView> {
        let store = self.runtime.store();
        let stored = store
            .pipeline(name)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("pipeline {name} not found")))?;
        let gates = store.gates(name).await?;
        let mut stored = stored;
        model::action_type::mask_pipeline(&mut stored.definition, &self.runtime.catalog());
        Ok(PipelineView { stored, gates })
    }

    pub async fn delete_pipeline(&self, name: &str) -> Result<()> {
        match self.runtime.delete_pipeline(name).await? {
            true => Ok(()),
            false => Err(ServiceError::NotFound(format!("pipeline {name} not found"))),
        }
    }

    /// Starts an execution of the pipeline's current version; returns its id.
    pub async fn start(
        &self,
        pipeline: &str,
        variables: BTreeMap<String, String>,
        revision: Option<String>,
        trigger: Trigger,
    ) -> Result<String> {
        let stored = self.stored(pipeline).await?;
        let id = uuid::Uuid::now_v7().to_string();
        let event = Event::Start {
            execution: id.clone(),
            version: stored.version,
            trigger,
            variables,
            revision: revision.filter(|r| !r.trim().is_empty()),
        };
        self.runtime.submit(pipeline, event).await?;
        Ok(id)
    }

    /// Starts an execution of `stored` for a source revision a push or poll brought,
    /// stored together with the revision. `None` when that revision already started one.
    pub async fn start_for_revision(
        &self,
        stored: &StoredPipeline,
        mut seen: SourceRevision,
        trigger: Trigger,
    ) -> Result<Option<String>> {
        let id = uuid::Uuid::now_v7().to_string();
        seen.execution_id = Some(id.clone());
        let event = Event::Start {
            execution: id.clone(),
            version: stored.version,
            trigger,
            variables: BTreeMap::new(),
            revision: Some(seen.revision.clone()),
        };
        match self.runtime.submit_for_revision(event, seen).await {
            Ok(_) => Ok(Some(id)),
            Err(RuntimeError::RevisionSeen(_)) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// A push webhook for `pipeline`: checks its signature against the pipeline's webhook
    /// secret, then starts an execution when the push feeds one of its sources and passes
    /// the trigger's filters. `headers` have lowercase names.
    pub async fn git_hook(
        &self,
        pipeline: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<HookOutcome> {
        let stored = self.stored(pipeline).await?;
        let headers = webhook::Headers(headers);
        // Without a forge's event header nothing says how the sender would prove itself,
        // so such a request is as unauthenticated as one with a wrong signature.
        let (forge, event) = webhook::Forge::detect(&headers).ok_or_else(|| {
            ServiceError::Unauthorized(webhook::WebhookError::UnknownSender.to_string())
        })?;
        let (secrets, missing) = match &self.sources {
            Some(sources) => sources.webhook_secrets(&stored.definition),
            None => (Vec::new(), Vec::new()),
        };
        if !missing.is_empty() {
            tracing::warn!(%pipeline, secrets = ?missing, "the pipeline's trigger names webhook secrets the daemon config lacks (git.webhook_secrets)");
        }
        if secrets.is_empty() {
            return Err(ServiceError::Unauthorized(format!(
                "no webhook secret is configured for pipeline {pipeline}"
            )));
        }
        let mut verdict = Err(webhook::WebhookError::UnknownSender);
        for secret in secrets {
            verdict = webhook::verify(forge, &headers, body, secret);
            if verdict.is_ok() {
                break;
            }
        }
        if let Err(error) = verdict {
            return Err(ServiceError::Unauthorized(error.to_string()));
        }
        let delivery_id = forge.delivery(&headers).unwrap_or("-");
        let delivery = webhook::parse(forge, &event, body).map_err(|e| ServiceError::Invalid {
            message: e.to_string(),
            details: Vec::new(),
        })?;
        let push = match delivery {
            Delivery::Ping => return Ok(HookOutcome::Pong),
            Delivery::Ignored { event } => {
                tracing::info!(%pipeline, forge = forge.name(), %event, delivery = delivery_id, "webhook event ignored");
                return Ok(HookOutcome::Ignored(format!(
                    "{} event `{event}` is ignored",
                    forge.name()
                )));
            }
            Delivery::Deleted { git_ref } => {
                return Ok(HookOutcome::Ignored(format!(
                    "{git_ref} was deleted; nothing to build"
                )))
            }
            Delivery::Push(push) => push,
        };
        let accepted = match triggers::decide(&stored.definition, &self.runtime.catalog(), &push) {
            Ok(accepted) => accepted,
            Err(reason) => {
                tracing::info!(%pipeline, git_ref = %push.git_ref, %reason, delivery = delivery_id, "push starts nothing");
                return Ok(HookOutcome::Ignored(reason));
            }
        };
        let seen = SourceRevision {
            pipeline: stored.name.clone(),
            source: accepted.watch.action.to_string(),
            git_ref: push.git_ref.clone(),
            revision: push.revision.clone(),
            execution_id: None,
            seen_at: self.runtime.now(),
        };
        match self
            .start_for_revision(&stored, seen, accepted.trigger)
            .await?
        {
            Some(execution) => {
                tracing::info!(%pipeline, %execution, git_ref = %push.git_ref, revision = %push.revision, delivery = delivery_id, "push started an execution");
                Ok(HookOutcome::Started {
                    execution,
                    revision: push.revision,
                })
            }
            None => Ok(HookOutcome::Ignored(format!(
                "revision {} of {} already started an execution",
                push.revision, push.git_ref
            ))),
        }
    }

    pub async fn executions(&self, pipeline: &str, limit: u32) -> Result<Vec<Execution>> {
        let store = self.runtime.store();
        if store.pipeline(pipeline).await?.is_none() {
            return Err(ServiceError::NotFound(format!(
                "pipeline {pipeline} not found"
            )));
        }
        Ok(store.executions(pipeline, limit).await?)
    }

    /// An execution as readers see it: secret configuration values of custom actions are
    /// masked.
    pub async fn execution(&self, id: &str) -> Result<Execution> {
        let store = self.runtime.store();
        let mut execution = store
            .execution(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("execution {id} not found")))?;
        let catalog = self.runtime.catalog();
        if catalog.action_types.is_empty() {
            return Ok(execution);
        }
        if let Some(definition) = store
            .pipeline_version(&execution.pipeline, execution.version)
            .await?
        {
            for (stage, run) in definition.stages.iter().zip(&mut execution.stages) {
                for (action, run) in stage.actions.iter().zip(&mut run.actions) {
                    if let Some(action_type) = catalog.action_type_of(action) {
                        run.resolved_configuration =
                            action_type.masked(&run.resolved_configuration).into();
                    }
                }
            }
        }
        Ok(execution)
    }

    /// Answers as soon as the execution differs from the version stamped `since`, or
    /// after `LONG_POLL` with the execution as it is.
    pub async fn execution_changed_since(
        &self,
        id: &str,
        since: DateTime<Utc>,
    ) -> Result<Execution> {
        let mut changes = self.runtime.changes();
        let deadline = tokio::time::Instant::now() + LONG_POLL;
        loop {
            let execution = self.execution(id).await?;
            if execution.updated_at != since {
                return Ok(execution);
            }
            loop {
                match tokio::time::timeout_at(deadline, changes.recv()).await {
                    Err(_) => return Ok(execution),
                    Ok(Ok(changed)) if changed != id => continue,
                    Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {
                        break
                    }
                    Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => {
                        return Err(ServiceError::Unavailable(
                            "the daemon is shutting down".into(),
                        ))
                    }
                }
            }
        }
    }

    async fn pipeline_of(&self, execution: &str) -> Result<String> {
        Ok(self.execution(execution).await?.pipeline)
    }

    async fn command(&self, execution: &str, event: Event) -> Result<Execution> {
        let pipeline = self.pipeline_of(execution).await?;
        self.runtime
            .submit(&pipeline, event)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("execution {execution} not found")))
    }

    pub async fn stop(
        &self,
        execution: &str,
        abandon: bool,
        reason: Option<String>,
        by: &str,
    ) -> Result<Execution> {
        let event = Event::Stop {
            execution: execution.to_string(),
            abandon,
            reason: reason.filter(|r| !r.trim().is_empty()),
            by: Some(by.to_string()),
        };
        self.command(execution, event).await
    }

    pub async fn retry(
        &self,
        execution: &str,
        stage: &str,
        all_actions: bool,
        by: &str,
    ) -> Result<Execution> {
        let event = Event::Retry {
            execution: execution.to_string(),
            stage: stage.to_string(),
            all_actions,
            by: Some(by.to_string()),
        };
        self.command(execution, event).await
    }

    pub async fn approve(
        &self,
        execution: &str,
        stage: &str,
        action: &str,
        approved: bool,
        comment: Option<String>,
        by: &str,
    ) -> Result<Execution> {
        let event = Event::Approval {
            execution: execution.to_string(),
            stage: stage.to_string(),
            action: action.to_string(),
            approved,
            by: by.to_string(),
            comment: comment.filter(|c| !c.trim().is_empty()),
        };
        self.command(execution, event).await
    }

    pub async fn set_transition(
        &self,
        pipeline: &str,
        stage: &str,
        enabled: bool,
        reason: Option<String>,
        by: &str,
    ) -> Result<()> {
        let event = Event::SetTransition {
            stage: stage.to_string(),
            enabled,
            reason,
            by: Some(by.to_string()),
        };
        self.runtime.submit(pipeline, event).await?;
        Ok(())
    }

    pub async fn log(
        &self,
        execution: &str,
        stage: &str,
        action: &str,
        offset: u64,
    ) -> Result<Option<crate::adapters::LogChunk>> {
        let execution = self.execution(execution).await?;
        Ok(self.runtime.log(&execution, stage, action, offset).await?)
    }

    pub async fn ready(&self) -> Result<()> {
        Ok(self.runtime.store().ping().await?)
    }
}
