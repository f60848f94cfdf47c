//! Exactly-once triggering (design invariant 2): after a crash, or after a trigger whose
//! answer was lost, `find` looks for the work the run started before anything is sent
//! again. The run id travels in the job's `BATON_ACTION_RUN` parameter, so the work is
//! found in the queue (`/queue/api/json`) or among the job's newest 50 builds.
//!
//! A job without that parameter leaves no trace to find. Unless this process saw the
//! trigger's fate itself, the server's `unknown_trigger` policy decides: `fail` (the
//! default) fails the action rather than risk a second build; `retrigger` sends again.

use std::time::Duration;

use super::action::JobConfig;
use super::ids::ExternalId;
use super::memory::Attempt;
use super::path::JobPath;
use super::wire::{parameter, scalar_text, Builds, Queue};
use super::{JenkinsAdapter, MARKER};
use crate::adapters::{ActionContext, AdapterError, Result, Started};
use crate::config::UnknownTriggerPolicy;

/// Pause before the second look: an item leaving the queue is briefly in neither list.
const LOOK_AGAIN: Duration = Duration::from_millis(500);

/// What a search for a run's work found.
#[derive(Debug)]
pub enum Search {
    Found(Started),
    Absent,
    /// The job has no marker parameter: nothing can be told from the server.
    NoMarker,
}

impl JenkinsAdapter {
    pub(super) async fn find_started(
        &self,
        ctx: &ActionContext,
        config: &JobConfig,
    ) -> Result<Option<Started>> {
        match self.search(ctx, config).await? {
            Search::Found(started) => Ok(Some(started)),
            Search::Absent => Ok(None),
            Search::NoMarker if self.memory.attempt(&ctx.run_id) == Some(Attempt::NotQueued) => {
                Ok(None)
            }
            Search::NoMarker => match self.options.unknown_trigger {
                UnknownTriggerPolicy::Retrigger => {
                    tracing::warn!(
                        server = %self.jenkins.name(),
                        job = %config.job,
                        run = %ctx.run_id,
                        "job has no {MARKER} parameter; triggering again as unknown_trigger: retrigger says"
                    );
                    Ok(None)
                }
                UnknownTriggerPolicy::Fail => Err(AdapterError::Fatal(format!(
                    "cannot tell whether the build was triggered before the restart: job `{}` on Jenkins server `{}` has no {MARKER} parameter to find it by, and the server's policy unknown_trigger: fail forbids risking a second build; add a string parameter {MARKER} to the job, or set unknown_trigger: retrigger",
                    config.job,
                    self.jenkins.name()
                ))),
            },
        }
    }

    /// Looks for the run's queue item or build.
    pub(super) async fn search(&self, ctx: &ActionContext, config: &JobConfig) -> Result<Search> {
        let job = &config.job;
        if let Some(Attempt::Queued(queue_id)) = self.memory.attempt(&ctx.run_id) {
            return Ok(Search::Found(Started {
                external_id: ExternalId::Queued { queue_id }.to_string(),
                external_url: Some(self.jenkins.url(&job.url_path())),
                finished: None,
            }));
        }
        if !self.job_parameters(job).await?.iter().any(|p| p == MARKER) {
            return Ok(Search::NoMarker);
        }
        let passes = match self.memory.attempt(&ctx.run_id) {
            Some(Attempt::NotQueued) => 1,
            _ => 2,
        };
        for pass in 0..passes {
            if pass > 0 {
                tokio::time::sleep(LOOK_AGAIN).await;
            }
            if let Some(queue_id) = self.queued_with_marker(ctx, job).await? {
                return Ok(Search::Found(Started {
                    external_id: ExternalId::Queued { queue_id }.to_string(),
                    external_url: Some(self.jenkins.url(&job.url_path())),
                    finished: None,
                }));
            }
            if let Some(id) = self.built_with_marker(ctx, job).await? {
                let ExternalId::Build { number, .. } = id else {
                    continue;
                };
                return Ok(Search::Found(Started {
                    external_id: id.to_string(),
                    external_url: Some(self.jenkins.url(&job.build_path(number))),
                    finished: None,
                }));
            }
        }
        Ok(Search::Absent)
    }

    async fn queued_with_marker(&self, ctx: &ActionContext, job: &JobPath) -> Result<Option<u64>> {
        let what = format!("look for action run {} in the Jenkins queue", ctx.run_id);
        let tree = "items[id,task[url,name],actions[parameters[name,value]],cancelled,why]";
        let queue: Queue = self
            .jenkins
            .get_json(&what, "queue/api/json", &[("tree", tree.to_string())])
            .await?;
        Ok(queue
            .items
            .iter()
            .filter(|item| item.cancelled != Some(true))
            .filter(|item| {
                parameter(&item.actions, MARKER)
                    .and_then(scalar_text)
                    .as_deref()
                    == Some(ctx.run_id.as_str())
            })
            .filter(|item| {
                // The marker is unique; the task check only guards against surprises.
                let task = item.task.as_ref().and_then(|t| t.url.as_deref());
                task.and_then(JobPath::from_url)
                    .is_none_or(|(found, _)| found == *job)
            })
            .map(|item| item.id)
            .min())
    }

    async fn built_with_marker(
        &self,
        ctx: &ActionContext,
        job: &JobPath,
    ) -> Result<Option<ExternalId>> {
        let what = format!(
            "look for action run {} among the builds of job `{job}`",
            ctx.run_id
        );
        let tree = "builds[number,queueId,actions[parameters[name,value]]]{0,50}";
        let reply = self
            .jenkins
            .get(
                &what,
                &format!("{}api/json", job.url_path()),
                &[("tree", tree.to_string())],
            )
            .await?;
        if reply.status == reqwest::StatusCode::NOT_FOUND {
            return Err(self.no_such_job(job));
        }
        if !reply.status.is_success() {
            return Err(self.jenkins.failure(&what, &reply));
        }
        let builds: Builds = self.jenkins.decode(&what, &reply)?;
        Ok(builds
            .builds
            .iter()
            .filter(|b| b.parameter(MARKER).as_deref() == Some(ctx.run_id.as_str()))
            .min_by_key(|b| b.number)
            .map(|b| ExternalId::Build {
                queue_id: b.queue_id.unwrap_or(0),
                number: b.number,
            }))
    }
}
