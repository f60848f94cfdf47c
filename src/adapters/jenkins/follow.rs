//! Following one action's work: its queue item until it becomes a build (or is
//! cancelled, or waits past `queue_timeout`), then the build until `building`
//! and `inProgress` are false (reference §6, §14), stopping it when its console stops
//! growing for `inactivity_timeout`. A queued run first looks for its build in the job's
//! batched build list (by `queueId`) and reads its queue item only when it is not there.
//! Once a build exists the progress carries the better id `{queue_id}:{number}` and the
//! build's URL, rebuilt from the server's base and the job path (reference §1).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;

use super::action::JobConfig;
use super::ids::ExternalId;
use super::queue::ItemState;
use super::wire::{Build, QueueItem};
use super::JenkinsAdapter;
use crate::adapters::{ActionContext, Outcome, Progress, Result};

impl JenkinsAdapter {
    pub(super) async fn follow(
        &self,
        ctx: &ActionContext,
        config: &JobConfig,
        id: ExternalId,
    ) -> Result<Progress> {
        match id {
            ExternalId::Queued { queue_id } => self.follow_queue_item(ctx, config, queue_id).await,
            ExternalId::Build { queue_id, number } => {
                self.follow_number(ctx, config, queue_id, number).await
            }
        }
    }

    async fn follow_queue_item(
        &self,
        ctx: &ActionContext,
        config: &JobConfig,
        queue_id: u64,
    ) -> Result<Progress> {
        let job = &config.job;
        if let Some(build) = self.build_of_item(job, queue_id).await? {
            let number = build.number;
            return self
                .follow_build(ctx, config, queue_id, number, Some(build))
                .await;
        }
        match self.queue_item(job, queue_id).await? {
            ItemState::Started(number) => self.follow_number(ctx, config, queue_id, number).await,
            ItemState::Cancelled => Ok(self.failed(ctx, "the queue item was cancelled".into())),
            ItemState::Gone => match self.build_by_queue_id(job, queue_id).await? {
                Some(number) => self.follow_number(ctx, config, queue_id, number).await,
                None => Ok(self.failed(
                    ctx,
                    format!(
                        "queue item {queue_id} of job `{job}` is gone and no recent build has queueId {queue_id}: it was cancelled, or its build was deleted"
                    ),
                )),
            },
            ItemState::Waiting(item) => {
                if let Some(limit) = self.options.queue_timeout {
                    let waited = item
                        .in_queue_since
                        .map(|since| Duration::from_millis((now_ms() - since).max(0) as u64));
                    if waited.is_some_and(|waited| waited > limit) {
                        return self.queue_timed_out(ctx, config, &item, limit).await;
                    }
                }
                Ok(Progress::Running {
                    external_id: None,
                    external_url: None,
                    percent_complete: None,
                    summary: Some(self.noted(ctx, waiting(&item))),
                })
            }
        }
    }

    async fn queue_timed_out(
        &self,
        ctx: &ActionContext,
        config: &JobConfig,
        item: &QueueItem,
        limit: Duration,
    ) -> Result<Progress> {
        let started = self.cancel_queued(&config.job, item.id).await?;
        let why = item
            .why
            .as_deref()
            .map(|why| format!(" ({why})"))
            .unwrap_or_default();
        let mut error = format!(
            "the build waited in the Jenkins queue longer than the queue_timeout of {}{why}; Baton cancelled the queue item",
            humantime::format_duration(limit)
        );
        if let Some(number) = started {
            error.push_str(&format!(
                ", which had just become build #{number}; Baton stopped that build"
            ));
        }
        Ok(self.failed(ctx, error))
    }

    async fn follow_number(
        &self,
        ctx: &ActionContext,
        config: &JobConfig,
        queue_id: u64,
        number: u64,
    ) -> Result<Progress> {
        let read = self.build(&config.job, number).await?;
        self.follow_build(ctx, config, queue_id, number, read).await
    }

    /// Where build `number` stands, as `read` (this poll's read of it) says.
    async fn follow_build(
        &self,
        ctx: &ActionContext,
        config: &JobConfig,
        queue_id: u64,
        number: u64,
        read: Option<Build>,
    ) -> Result<Progress> {
        let job = &config.job;
        let Some(build) = read else {
            return Ok(self.failed(
                ctx,
                format!("build #{number} of job `{job}` no longer exists (deleted?)"),
            ));
        };
        self.link_back(ctx, job, &build).await;
        let url = self.jenkins.url(&job.build_path(number));
        // Done means `building: false` and, on Jenkins 2.369 and later, `inProgress:
        // false` too: until then a FreeStyle build's publishers may still archive
        // artifacts (reference §6).
        if !build.building && build.in_progress != Some(true) {
            self.memory.forget_build(job, number);
            return self
                .finish(ctx, config, &build, &url)
                .await
                .map(Progress::Finished);
        }
        if let Some(limit) = self.options.inactivity_timeout {
            if let Some(finished) = self.check_inactivity(ctx, config, number, limit).await? {
                return Ok(finished);
            }
        }
        Ok(Progress::Running {
            external_id: Some(ExternalId::Build { queue_id, number }.to_string()),
            external_url: Some(url),
            percent_complete: percent(&build, now_ms()),
            summary: Some(self.noted(ctx, format!("build #{number} of `{job}` is running"))),
        })
    }

    /// Reads what the console printed since the last look; stops the build when nothing
    /// came for `limit`. The clock starts when this process first looks.
    async fn check_inactivity(
        &self,
        ctx: &ActionContext,
        config: &JobConfig,
        number: u64,
        limit: Duration,
    ) -> Result<Option<Progress>> {
        let job = &config.job;
        let offset = self.memory.console_size(job, number).unwrap_or(0);
        let chunk = match self.console(job, number, offset).await {
            Ok(chunk) => chunk,
            Err(error) => {
                tracing::debug!(%error, "cannot read the console for the inactivity limit");
                return Ok(None);
            }
        };
        let activity = self.memory.observe_console(job, number, chunk.next_offset);
        if chunk.complete || activity.changed.elapsed() <= limit {
            return Ok(None);
        }
        self.stop_build(job, number).await?;
        self.memory.forget_build(job, number);
        Ok(Some(self.failed(
            ctx,
            format!(
                "build #{number} of `{job}` printed nothing for longer than the inactivity_timeout of {}; Baton stopped it",
                humantime::format_duration(limit)
            ),
        )))
    }

    /// Sets the build's description to a link back to the execution, once per build and
    /// process, unless it already names the execution. Best effort: Jenkins may refuse.
    async fn link_back(&self, ctx: &ActionContext, job: &super::path::JobPath, build: &Build) {
        let existing = build.description.as_deref().unwrap_or("").trim();
        if existing.contains(&ctx.execution_id) || !self.memory.first_description(job, build.number)
        {
            return;
        }
        let link = format!(
            "Baton: {} execution {} — {}",
            ctx.pipeline, ctx.execution_id, ctx.execution_link
        );
        let description = if existing.is_empty() {
            link
        } else {
            format!("{existing}\n{link}")
        };
        let what = format!("describe build #{} of job `{job}`", build.number);
        let path = format!("{}submitDescription", job.build_path(build.number));
        let form = [("description".to_string(), description)];
        match self.jenkins.post(&what, &path, &[], &form).await {
            Ok(reply) if reply.status.is_success() || reply.status.is_redirection() => {}
            Ok(reply) if reply.status == StatusCode::FORBIDDEN => {
                tracing::debug!(server = %self.jenkins.name(), job = %job, "Jenkins does not let Baton describe builds (403)");
            }
            Ok(reply) => {
                tracing::debug!(server = %self.jenkins.name(), job = %job, status = %reply.status, "could not describe the build");
            }
            Err(error) => tracing::debug!(%error, "could not describe the build"),
        }
    }

    /// A failure outcome, with the run's note (a shared build) if it has one.
    pub(super) fn failed(&self, ctx: &ActionContext, error: String) -> Progress {
        Progress::Finished(Outcome::Failed {
            error: self.noted(ctx, error),
            outputs: Default::default(),
        })
    }

    pub(super) fn noted(&self, ctx: &ActionContext, text: String) -> String {
        match self.memory.note(&ctx.run_id) {
            Some(note) => format!("{text}; note: {note}"),
            None => text,
        }
    }
}

/// "waiting in the Jenkins queue: Build #56 is already in progress (stuck)".
fn waiting(item: &QueueItem) -> String {
    let mut text = "waiting in the Jenkins queue".to_string();
    if let Some(why) = item.why.as_deref().filter(|w| !w.is_empty()) {
        text.push_str(": ");
        text.push_str(why);
    }
    if item.stuck {
        text.push_str(" (Jenkins marks it stuck)");
    }
    text
}

/// How far along a running build is, by its estimated duration; never 100 while running.
pub fn percent(build: &Build, now_ms: i64) -> Option<u8> {
    if build.estimated_duration <= 0 || build.timestamp <= 0 {
        return None;
    }
    let elapsed = (now_ms - build.timestamp).max(0);
    Some((elapsed.saturating_mul(100) / build.estimated_duration).min(99) as u8)
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_follows_the_estimate() {
        let running: Build =
            serde_json::from_str(include_str!("testdata/jenkins-build-running.json")).unwrap();
        let start = running.timestamp;
        assert_eq!(percent(&running, start), Some(0));
        assert_eq!(percent(&running, start + 183422 / 2), Some(50));
        assert_eq!(percent(&running, start + 10 * 183422), Some(99));
        let unknown = Build {
            estimated_duration: -1,
            ..running
        };
        assert_eq!(percent(&unknown, start), None);
    }

    #[test]
    fn waiting_items_say_why() {
        let blocked: QueueItem =
            serde_json::from_str(include_str!("testdata/jenkins-queue-item-blocked.json")).unwrap();
        assert_eq!(
            waiting(&blocked),
            "waiting in the Jenkins queue: Build #56 is already in progress (ETA: 2 min 3 sec)"
        );
        let stuck = QueueItem {
            why: None,
            stuck: true,
            ..blocked
        };
        assert_eq!(
            waiting(&stuck),
            "waiting in the Jenkins queue (Jenkins marks it stuck)"
        );
    }
}
