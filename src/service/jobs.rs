//! Custom action types and the job-worker protocol (CodePipeline's `PollForJobs`,
//! `AcknowledgeJob`, `PutJobSuccessResult`, `PutJobFailureResult`). Jobs are queued by the
//! runtime's job executor; here workers take them, and their results are stored and wake
//! the run's follower, which turns them into engine events.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Value};

use super::{Result, Service, ServiceError};
use crate::model::action_type::{ActionTypeSettings, ArtifactDetails, ConfigurationProperty};
use crate::model::{ActionType, ActionTypeKey};
use crate::runtime::continuation_job;
use crate::store::{Job, JobState};

/// All output variables of one action together, as CodePipeline limits them.
const MAX_OUTPUT_BYTES: usize = 122_880;

/// The protocol's timings and the action types the config fixes.
#[derive(Debug, Clone)]
pub struct JobOptions {
    pub ack_timeout: Duration,
    pub max_poll_wait: Duration,
    /// Types from the daemon config, which the API may not replace.
    pub config_types: BTreeSet<ActionTypeKey>,
}

impl Default for JobOptions {
    fn default() -> Self {
        JobOptions {
            ack_timeout: Duration::from_secs(60),
            max_poll_wait: Duration::from_secs(20),
            config_types: BTreeSet::new(),
        }
    }
}

/// What an action type declares, without its id (which the URL gives).
#[derive(Debug, Clone)]
pub struct ActionTypeSpec {
    pub configuration_properties: Vec<ConfigurationProperty>,
    pub input_artifact_details: ArtifactDetails,
    pub output_artifact_details: ArtifactDetails,
    pub settings: ActionTypeSettings,
}

/// A worker's report of success.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSuccess {
    pub output_variables: BTreeMap<String, String>,
    pub execution_details: Option<Value>,
    pub current_revision: Option<Value>,
    pub continuation_token: Option<String>,
}

/// Whether an action type came from the config or the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefinedIn {
    Config,
    Api,
}

impl Service {
    pub fn action_types(&self) -> Vec<(ActionType, DefinedIn)> {
        self.runtime
            .catalog()
            .action_types
            .values()
            .map(|t| (t.clone(), self.defined_in(&t.key())))
            .collect()
    }

    pub fn action_type(&self, key: &ActionTypeKey) -> Result<(ActionType, DefinedIn)> {
        self.runtime
            .catalog()
            .action_types
            .get(key)
            .map(|t| (t.clone(), self.defined_in(key)))
            .ok_or_else(|| ServiceError::NotFound(format!("action type {key} not found")))
    }

    fn defined_in(&self, key: &ActionTypeKey) -> DefinedIn {
        if self.jobs.config_types.contains(key) {
            DefinedIn::Config
        } else {
            DefinedIn::Api
        }
    }

    /// Registers or replaces an action type; pipelines applied later are checked against it.
    pub async fn put_action_type(
        &self,
        key: ActionTypeKey,
        spec: ActionTypeSpec,
    ) -> Result<ActionType> {
        if self.jobs.config_types.contains(&key) {
            return Err(ServiceError::Conflict(format!(
                "action type {key} is defined in the daemon config; change it there"
            )));
        }
        let action_type = ActionType {
            category: key.category,
            provider: key.provider.clone(),
            version: key.version.clone(),
            configuration_properties: spec.configuration_properties,
            input_artifact_details: spec.input_artifact_details,
            output_artifact_details: spec.output_artifact_details,
            settings: spec.settings,
        };
        action_type
            .check()
            .map_err(|details| ServiceError::Invalid {
                message: format!("action type {key} is not valid"),
                details,
            })?;
        self.runtime
            .store()
            .put_action_type(&action_type, self.runtime.now())
            .await?;
        self.runtime.set_action_type(action_type.clone());
        Ok(action_type)
    }

    /// A job, for checking who may act on it.
    pub async fn job(&self, id: &str) -> Result<Job> {
        self.runtime
            .store()
            .job(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("job {id} not found")))
    }

    /// Hands out up to `max` jobs of the type, waiting up to `wait` (capped by the config)
    /// for one to be queued.
    pub async fn poll_jobs(
        &self,
        key: &ActionTypeKey,
        max: u32,
        wait: Duration,
    ) -> Result<Vec<Job>> {
        if !self.runtime.catalog().action_types.contains_key(key) {
            return Err(ServiceError::NotFound(format!(
                "action type {key} is not registered"
            )));
        }
        let max = max.clamp(1, 100);
        let deadline = tokio::time::Instant::now() + wait.min(self.jobs.max_poll_wait);
        let stopping = self.runtime.stopping();
        loop {
            let mut queued = self.runtime.jobs_queued();
            let now = self.runtime.now();
            let stale_before = now
                - chrono::Duration::from_std(self.jobs.ack_timeout)
                    .unwrap_or(chrono::Duration::MAX);
            let jobs = self
                .runtime
                .store()
                .claim_jobs(key, max, now, stale_before)
                .await?;
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if !jobs.is_empty() || left.is_zero() {
                return Ok(jobs);
            }
            // Dispatched jobs that nobody acknowledges come back by the clock, not by a
            // notice: look again at least once a second.
            tokio::select! {
                _ = queued.changed() => {}
                _ = tokio::time::sleep(left.min(Duration::from_secs(1))) => {}
                _ = stopping.cancelled() => return Ok(Vec::new()),
            }
        }
    }

    /// `AcknowledgeJob`: the worker holding the nonce takes the job. Repeating it (after a
    /// lost answer) is fine; anyone else gets a conflict.
    pub async fn acknowledge_job(&self, id: &str, nonce: &str, worker: &str) -> Result<Job> {
        let job = self
            .runtime
            .store()
            .acknowledge_job(id, nonce, worker, self.runtime.now())
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("job {id} not found")))?;
        if job.nonce.as_deref() != Some(nonce) {
            return Err(ServiceError::Conflict(format!(
                "InvalidNonce: job {id} was handed to another worker"
            )));
        }
        if job.state != JobState::InProgress {
            return Err(ServiceError::Conflict(format!(
                "InvalidJobState: job {id} is {}",
                job.state.as_str()
            )));
        }
        Ok(job)
    }

    /// `PutJobSuccessResult`. With a continuation token the job ends and the next one,
    /// carrying the token, is queued for the same run; without, the action succeeds.
    pub async fn job_succeeded(&self, id: &str, success: JobSuccess) -> Result<Job> {
        let size: usize = success
            .output_variables
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        if size > MAX_OUTPUT_BYTES {
            return Err(ServiceError::Invalid {
                message: format!(
                    "OutputVariablesSizeExceeded: {size} bytes of output variables, at most {MAX_OUTPUT_BYTES}"
                ),
                details: Vec::new(),
            });
        }
        let result = json!({
            "outputVariables": success.output_variables,
            "executionDetails": success.execution_details,
            "currentRevision": success.current_revision,
            "continuationToken": success.continuation_token,
        });
        let job = self.job(id).await?;
        let next = success.continuation_token.as_deref().map(|token| {
            continuation_job(
                &job,
                token,
                success.execution_details.clone().unwrap_or(Value::Null),
                self.runtime.now(),
            )
        });
        let finished = self
            .finish(&job, JobState::Succeeded, &result, next.as_ref())
            .await?;
        if next.is_some() {
            self.runtime.job_queued();
        }
        Ok(finished)
    }

    /// Appends a chunk of the worker's output to the job's log (the action's log).
    pub async fn append_job_log(&self, id: &str, offset: u64, text: &str) -> Result<u64> {
        Ok(self
            .runtime
            .store()
            .append_job_log(id, offset, text)
            .await?)
    }

    /// `PutJobFailureResult`.
    pub async fn job_failed(&self, id: &str, failure: Value) -> Result<Job> {
        let job = self.job(id).await?;
        let result = json!({ "failureDetails": failure });
        self.finish(&job, JobState::Failed, &result, None).await
    }

    async fn finish(
        &self,
        job: &Job,
        state: JobState,
        result: &Value,
        next: Option<&Job>,
    ) -> Result<Job> {
        let stored = self
            .runtime
            .store()
            .finish_job(&job.id, state, result, next, self.runtime.now())
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("job {} not found", job.id)))?;
        // The same report again (its answer was lost) is accepted; anything else is late.
        if stored.state != state || stored.result.as_ref() != Some(result) {
            return Err(ServiceError::Conflict(format!(
                "InvalidJobState: job {} is {}",
                job.id,
                stored.state.as_str()
            )));
        }
        self.runtime.wake(&job.run_id);
        Ok(stored)
    }
}
