//! The job queue as an executor: an action of a custom action type "triggers" by queuing
//! a job in the store, which job workers poll for, acknowledge and answer through the API.
//! The follower reads the run's current job like any adapter reads a CI build, and a
//! worker's result wakes it, so results reach the engine as ordinary events. Jobs live in
//! the store, so a restart loses none; `find` picks up the job queued before it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::Runtime;
use crate::adapters::{
    ActionContext, Adapter, AdapterError, LogChunk, Outcome, Progress, Result, Started,
};
use crate::model::{ActionType, ActionTypeKey, ConfigValue};
use crate::store::{Job, JobState, StoreError};

/// How often a follower looks at its job when no result woke it.
const POLL: Duration = Duration::from_secs(5);

pub(super) struct JobQueue {
    runtime: Runtime,
    action_type: ActionType,
}

impl JobQueue {
    pub(super) fn new(runtime: Runtime, action_type: ActionType) -> Arc<JobQueue> {
        Arc::new(JobQueue {
            runtime,
            action_type,
        })
    }

    fn key(&self) -> ActionTypeKey {
        self.action_type.key()
    }

    fn started(&self, job: &Job) -> Started {
        Started {
            external_id: job.id.clone(),
            external_url: None,
            finished: None,
        }
    }

    /// `executionUrlTemplate` with `{ExternalExecutionId}` and `{Config:Name}` filled in.
    fn execution_url(&self, ctx: &ActionContext, external_id: &str) -> Option<String> {
        let template = self.action_type.settings.execution_url_template.as_ref()?;
        let mut url = template.replace("{ExternalExecutionId}", external_id);
        for (key, value) in ctx.configuration.iter() {
            if let (Some(text), false) = (value.as_text(), self.action_type.is_secret(key)) {
                url = url.replace(&format!("{{Config:{key}}}"), text);
            }
        }
        Some(url)
    }
}

fn store_error(error: StoreError) -> AdapterError {
    AdapterError::retryable(format!("the job store: {error}"))
}

/// What a worker gets for a job: CodePipeline's `JobData`, with Baton's run id.
fn job_data(ctx: &ActionContext, key: &ActionTypeKey, continuation: Option<&str>) -> Value {
    let configuration: serde_json::Map<String, Value> = ctx
        .configuration
        .iter()
        .map(|(k, v)| {
            let value = match v {
                ConfigValue::Text(text) => Value::String(text.clone()),
                ConfigValue::Map(map) => json!(map),
            };
            (k.clone(), value)
        })
        .collect();
    json!({
        "actionTypeId": {
            "category": key.category.to_string(),
            "owner": "Custom",
            "provider": key.provider,
            "version": key.version,
        },
        "actionConfiguration": { "configuration": configuration },
        "pipelineContext": {
            "pipelineName": ctx.pipeline,
            "pipelineExecutionId": ctx.execution_id,
            "stage": { "name": ctx.stage },
            "action": { "name": ctx.action, "actionExecutionId": ctx.run_id },
        },
        "inputArtifacts": ctx.input_artifacts.iter().map(|a| json!({
            "name": a.name,
            "variables": a.variables,
        })).collect::<Vec<_>>(),
        "revision": ctx.revision,
        "attempt": ctx.attempt,
        "continuationToken": continuation,
    })
}

/// A new queued job for `run_id`.
fn new_job(
    run_id: &str,
    pipeline: &str,
    execution_id: &str,
    key: &ActionTypeKey,
    data: Value,
    now: crate::engine::state::Time,
) -> Job {
    Job {
        id: uuid::Uuid::now_v7().to_string(),
        run_id: run_id.to_string(),
        action_type: key.clone(),
        pipeline: pipeline.to_string(),
        execution_id: execution_id.to_string(),
        state: JobState::Queued,
        nonce: None,
        data,
        result: None,
        worker: None,
        created_at: now,
        dispatched_at: None,
        acknowledged_at: None,
        finished_at: None,
    }
}

/// The job that continues `job` after a success with a continuation token: the same run
/// and data, the token, and the details the worker reported (shown while it waits).
pub fn continuation_job(
    job: &Job,
    token: &str,
    details: Value,
    now: crate::engine::state::Time,
) -> Job {
    let mut data = job.data.clone();
    data["continuationToken"] = Value::String(token.to_string());
    data["previousExecutionDetails"] = details;
    new_job(
        &job.run_id,
        &job.pipeline,
        &job.execution_id,
        &job.action_type,
        data,
        now,
    )
}

#[async_trait]
impl Adapter for JobQueue {
    async fn trigger(&self, ctx: &ActionContext) -> Result<Started> {
        let store = self.runtime.store();
        let job = new_job(
            &ctx.run_id,
            &ctx.pipeline,
            &ctx.execution_id,
            &self.key(),
            job_data(ctx, &self.key(), None),
            self.runtime.now(),
        );
        if store.create_job(&job).await.map_err(store_error)? {
            self.runtime.job_queued();
            return Ok(self.started(&job));
        }
        // Queued before (the answer was lost): that job is the run's.
        match store.current_job(&ctx.run_id).await.map_err(store_error)? {
            Some(existing) => Ok(self.started(&existing)),
            None => Err(AdapterError::retryable("the queued job vanished")),
        }
    }

    async fn find(&self, ctx: &ActionContext) -> Result<Option<Started>> {
        let store = self.runtime.store();
        Ok(store
            .current_job(&ctx.run_id)
            .await
            .map_err(store_error)?
            .map(|job| self.started(&job)))
    }

    async fn status(&self, ctx: &ActionContext, _external_id: &str) -> Result<Progress> {
        let store = self.runtime.store();
        let Some(job) = store.current_job(&ctx.run_id).await.map_err(store_error)? else {
            return Err(AdapterError::Fatal(format!(
                "no job for run {} in the store",
                ctx.run_id
            )));
        };
        let result = job.result.clone().unwrap_or(Value::Null);
        match job.state {
            JobState::Succeeded => Ok(Progress::Finished(Outcome::Succeeded {
                outputs: outputs(&result),
                summary: result["executionDetails"]["summary"]
                    .as_str()
                    .map(str::to_string),
            })),
            JobState::Failed => {
                let details = &result["failureDetails"];
                let kind = details["type"].as_str().unwrap_or("JobFailed");
                let message = details["message"].as_str().unwrap_or("the job failed");
                Ok(Progress::Finished(Outcome::Failed {
                    error: format!("{kind}: {message}"),
                    outputs: Default::default(),
                }))
            }
            JobState::Cancelled => Ok(Progress::Finished(Outcome::Failed {
                error: "the job was cancelled".into(),
                outputs: Default::default(),
            })),
            JobState::Queued | JobState::Dispatched | JobState::InProgress => {
                // A continuation carries the details the worker reported last.
                let details = &job.data["previousExecutionDetails"];
                let external = details["externalExecutionId"].as_str();
                Ok(Progress::Running {
                    external_id: None,
                    external_url: external.and_then(|id| self.execution_url(ctx, id)),
                    percent_complete: details["percentComplete"]
                        .as_u64()
                        .and_then(|p| u8::try_from(p.min(100)).ok()),
                    summary: details["summary"].as_str().map(str::to_string),
                })
            }
        }
    }

    async fn cancel(&self, ctx: &ActionContext, _external_id: Option<&str>) -> Result<()> {
        self.runtime
            .store()
            .cancel_jobs(&ctx.run_id, self.runtime.now())
            .await
            .map_err(store_error)
    }

    async fn log(&self, ctx: &ActionContext, _external_id: &str, offset: u64) -> Result<LogChunk> {
        let store = self.runtime.store();
        let text = store.run_log(&ctx.run_id).await.map_err(store_error)?;
        let complete = store
            .current_job(&ctx.run_id)
            .await
            .map_err(store_error)?
            .is_none_or(|job| job.state.is_finished());
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(text.len());
        Ok(LogChunk {
            text: String::from_utf8_lossy(&text.as_bytes()[start..]).into_owned(),
            next_offset: text.len() as u64,
            complete,
        })
    }

    fn poll_interval(&self, _followed_for: Duration) -> Duration {
        POLL
    }
}

/// The `outputVariables` of a success result.
fn outputs(result: &Value) -> std::collections::BTreeMap<String, String> {
    result["outputVariables"]
        .as_object()
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}
