//! Following builds from queued through running to finished. Every follower's read goes
//! through one `Batcher`: the reads of a poll round become a single
//! `GET /app/rest/builds?locator=item:(id:…),…,defaultFilter:false,state:any&fields=…`.
//! A build the list leaves out is read on its own from `/app/rest/builds/id:N`, which
//! resolves it in any state — and which may answer with a *different* id when TeamCity
//! merged the queued build into an equivalent one; Baton then follows that build. Should
//! a server refuse the list locator (400), reads fall back to one request per build.
//!
//! Each reading also enforces the server's queue and inactivity limits: a build past one
//! is canceled, and the action fails naming the limit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use super::action::ActionConfig;
use super::client::Api;
use super::wire::{Build, Builds};
use super::{cancel, locator, log, outputs, results, watch::Watch};
use crate::adapters::batch::Batcher;
use crate::adapters::{ActionContext, AdapterError, Outcome, Progress, Result};

/// How long a batch gathers reads; polls share wall-clock instants, so this is short.
const BATCH_WINDOW: Duration = Duration::from_millis(50);
/// Builds per list request (TeamCity's default page size).
const MAX_BATCH: usize = 100;

pub struct Follow {
    api: Arc<Api>,
    batcher: OnceLock<Batcher<i64, Build>>,
    /// Set once the server refused the multi-id locator.
    list_refused: Arc<AtomicBool>,
    pub watch: Watch,
}

impl Follow {
    pub fn new(api: Arc<Api>, watch: Watch) -> Follow {
        Follow {
            api,
            batcher: OnceLock::new(),
            list_refused: Arc::new(AtomicBool::new(false)),
            watch,
        }
    }

    /// The build with `id` as TeamCity has it now; None when it no longer exists.
    pub async fn build(&self, id: i64) -> Result<Option<Build>> {
        if !self.list_refused.load(Ordering::Relaxed) {
            let batcher = self.batcher.get_or_init(|| {
                let api = self.api.clone();
                let refused = self.list_refused.clone();
                Batcher::new(BATCH_WINDOW, MAX_BATCH, move |ids: Vec<i64>| {
                    let api = api.clone();
                    let refused = refused.clone();
                    async move { fetch_many(&api, &ids, &refused).await }
                })
            });
            if let Some(build) = batcher.get(id).await? {
                return Ok(Some(build));
            }
        }
        fetch_one(&self.api, id).await
    }

    pub async fn status(&self, ctx: &ActionContext, id: i64) -> Result<Progress> {
        let Some(build) = self.build(id).await? else {
            self.watch.forget(id);
            return Ok(Progress::Finished(Outcome::Failed {
                error: format!(
                    "TeamCity build {id} no longer exists (deleted, or removed from the queue and deleted)"
                ),
                outputs: [("BuildId".to_string(), id.to_string())].into(),
            }));
        };
        if build.id != id {
            tracing::info!(server = %self.api.name(), build = id, replacement = build.id,
                "TeamCity replaced the queued build with an equivalent one; following that");
        }
        let better_id = (build.id != id).then(|| build.id.to_string());
        let now = Instant::now();
        match build.state.as_deref() {
            Some("queued") => {
                if let Some(error) = self.watch.queued_too_long(&build, chrono::Utc::now(), now) {
                    return self.time_out(&build, id, error).await;
                }
                Ok(running(&build, better_id, queued_summary(&build)))
            }
            Some("running") if build.canceled_info.is_some() => {
                let text = build.canceled_info.as_ref().and_then(|c| c.text.as_deref());
                let summary = match text {
                    Some(text) if !text.is_empty() => format!("canceling in TeamCity: {text}"),
                    _ => "canceling in TeamCity".to_string(),
                };
                Ok(running(&build, better_id, summary))
            }
            Some("running") => {
                if self.watch.wants_log_check(build.id, now) {
                    let len = log::download(&self.api, build.id).await?.len() as u64;
                    self.watch.observe_log(build.id, len, Instant::now());
                }
                if let Some(error) = self.watch.silent_too_long(build.id, Instant::now()) {
                    return self.time_out(&build, id, error).await;
                }
                Ok(running(&build, better_id, running_summary(&build)))
            }
            Some("finished") => {
                let config = ActionConfig::parse(ctx)?;
                let details =
                    results::details(&self.api, &build, &config.output_parameters).await?;
                self.watch.forget(id);
                self.watch.forget(build.id);
                Ok(Progress::Finished(results::outcome(&build, &details)))
            }
            Some("deleted") => {
                self.watch.forget(id);
                Ok(Progress::Finished(Outcome::Failed {
                    error: format!("TeamCity build {} was deleted", build.id),
                    outputs: outputs::outputs(&build, &results::Details::default()),
                }))
            }
            other => Ok(running(
                &build,
                better_id,
                format!(
                    "TeamCity reports the build as {}",
                    other.unwrap_or("in no state")
                ),
            )),
        }
    }

    /// Cancels a build that passed a limit; the action fails naming the limit. A cancel
    /// that may work later is retried on the next poll (the limit stays passed).
    async fn time_out(&self, build: &Build, id: i64, mut error: String) -> Result<Progress> {
        match cancel::cancel_build(&self.api, build, &error).await {
            Ok(()) => {}
            Err(retry @ AdapterError::Retryable { .. }) => return Err(retry),
            Err(failed) => error = format!("{error}, but canceling failed: {failed}"),
        }
        tracing::warn!(server = %self.api.name(), build = build.id, %error, "TeamCity build timed out");
        self.watch.forget(id);
        self.watch.forget(build.id);
        Ok(Progress::Finished(Outcome::Failed {
            error,
            outputs: outputs::outputs(build, &results::Details::default()),
        }))
    }
}

/// One build, by id, in any state; None for 404.
pub async fn fetch_one(api: &Api, id: i64) -> Result<Option<Build>> {
    let mut url = api.rest(&format!("builds/id:{id}"));
    url.query_pairs_mut()
        .append_pair("fields", locator::BUILD_FIELDS);
    let reply = api.read(url, "application/json").await?;
    if reply.status == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    api.parse(&format!("reading build {id}"), &reply).map(Some)
}

/// Many builds in one request. A refused locator (400) is remembered and answered
/// empty, so every build is then read on its own.
async fn fetch_many(api: &Api, ids: &[i64], refused: &AtomicBool) -> Result<HashMap<i64, Build>> {
    let mut url = api.rest("builds");
    url.query_pairs_mut()
        .append_pair("locator", &locator::by_ids(ids))
        .append_pair("fields", &locator::list_fields());
    let reply = api.read(url, "application/json").await?;
    if reply.status == StatusCode::BAD_REQUEST {
        if !refused.swap(true, Ordering::Relaxed) {
            tracing::warn!(server = %api.name(), answer = %super::client::error_text(&reply.body),
                "the server refused a multi-build locator; reading builds one by one");
        }
        return Ok(HashMap::new());
    }
    let builds: Builds = api.parse(&format!("reading {} builds", ids.len()), &reply)?;
    Ok(builds.build.into_iter().map(|b| (b.id, b)).collect())
}

fn running(build: &Build, external_id: Option<String>, summary: String) -> Progress {
    let percent = build
        .running_info
        .as_ref()
        .and_then(|r| r.percentage_complete)
        .or(build.percentage_complete)
        .map(|p| u8::try_from(p.min(100)).unwrap_or(100));
    Progress::Running {
        external_id,
        external_url: build.web_url.clone(),
        percent_complete: if build.state.as_deref() == Some("running") {
            percent
        } else {
            None
        },
        summary: Some(summary),
    }
}

fn queued_summary(build: &Build) -> String {
    match build.wait_reason.as_deref().map(str::trim) {
        Some(reason) if !reason.is_empty() => format!("queued in TeamCity: {reason}"),
        _ => "queued in TeamCity".to_string(),
    }
}

fn running_summary(build: &Build) -> String {
    let text = build
        .status_text
        .as_deref()
        .or(build
            .running_info
            .as_ref()
            .and_then(|r| r.current_stage_text.as_deref()))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    match text {
        Some(text) => format!("running in TeamCity: {text}"),
        None => "running in TeamCity".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::teamcity::wire::decode;

    #[test]
    fn progress_of_queued_running_and_canceling_builds() {
        let queued: Build =
            decode(None, include_str!("testdata/teamcity-build-queued.json")).unwrap();
        assert_eq!(
            running(&queued, None, queued_summary(&queued)),
            Progress::Running {
                external_id: None,
                external_url: Some("http://teamcity.example.com:8111/viewQueued.html?itemId=4821".into()),
                percent_complete: None,
                summary: Some("queued in TeamCity: There are no idle compatible agents which can run this build".into()),
            }
        );
        let build: Build =
            decode(None, include_str!("testdata/teamcity-build-running.json")).unwrap();
        match running(&build, None, running_summary(&build)) {
            Progress::Running {
                percent_complete,
                summary,
                ..
            } => {
                assert_eq!(percent_complete, Some(42));
                assert_eq!(
                    summary.as_deref(),
                    Some("running in TeamCity: Step 2/3: Run tests")
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
