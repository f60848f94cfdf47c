//! Polling: every Git source with `PollForSourceChanges: "true"` is checked with
//! `git ls-remote` at its poll interval (the trigger's `pollInterval`, else
//! `git.poll_interval`), with a per-host rate limit shared by all pipelines. A head that
//! differs from the last one seen starts one execution through the service, which stores
//! the revision with the execution, so a restart or a webhook for the same revision never
//! starts a second. A source seen for the first time only records its head.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

use super::{poll_trigger, same_repository, watches, Watch};
use crate::adapters::git::GitSource;
use crate::config::{GitSettings, Secret};
use crate::model::Pipeline;
use crate::service::Service;
use crate::store::{SourceRevision, StoredPipeline};

/// What source triggers need from the daemon config.
pub struct Sources {
    pub poll_interval: Duration,
    webhook_secret: Option<Secret>,
    webhook_secrets: BTreeMap<String, Secret>,
    git: GitSource,
    hosts: DefaultKeyedRateLimiter<String>,
}

impl Sources {
    pub fn from_settings(settings: &GitSettings) -> Sources {
        let per_second =
            NonZeroU32::new(settings.polls_per_second_per_host).unwrap_or(NonZeroU32::MIN);
        let usable = |s: &Secret| !s.expose().is_empty();
        Sources {
            poll_interval: settings.poll_interval,
            webhook_secret: settings.webhook_secret.clone().filter(usable),
            webhook_secrets: settings
                .webhook_secrets
                .iter()
                .filter(|(_, s)| usable(s))
                .map(|(k, s)| (k.clone(), s.clone()))
                .collect(),
            git: GitSource::from_settings(settings),
            hosts: RateLimiter::keyed(Quota::per_second(per_second)),
        }
    }

    /// The secrets a webhook for `pipeline` may be signed with: those its triggers name,
    /// or else the default one. A name the daemon config lacks is reported in `missing`.
    pub fn webhook_secrets<'a>(&'a self, pipeline: &Pipeline) -> (Vec<&'a str>, Vec<String>) {
        let named: Vec<&str> = pipeline
            .triggers
            .iter()
            .filter_map(|t| t.webhook_secret.as_deref())
            .collect();
        if named.is_empty() {
            return (
                self.webhook_secret.iter().map(Secret::expose).collect(),
                Vec::new(),
            );
        }
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for name in named {
            match self.webhook_secrets.get(name) {
                Some(secret) => found.push(secret.expose()),
                None => missing.push(name.to_string()),
            }
        }
        (found, missing)
    }

    /// The head of the watched branch, after the host's rate limit allows a call.
    pub async fn head(&self, watch: &Watch<'_>) -> Result<String, String> {
        let host = same_repository(&watch.repository_url)
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        self.hosts.until_key_ready(&host).await;
        self.git
            .head(&watch.repository_url, &watch.branch)
            .await
            .map_err(|e| e.to_string())
    }

    fn interval(&self, watch: &Watch<'_>) -> Duration {
        watch
            .trigger
            .and_then(|t| t.poll_interval.as_deref())
            .and_then(|text| crate::model::poll_interval(text).ok())
            .unwrap_or(self.poll_interval)
    }
}

/// Records the current head of every polled source of `pipeline` that has none yet, so
/// applying a pipeline does not start an execution for what is already there. Returns a
/// note for each source whose head could not be read.
pub async fn record_heads(
    service: &Service,
    sources: &Sources,
    stored: &StoredPipeline,
) -> Vec<String> {
    let catalog = service.runtime().catalog();
    let mut notes = Vec::new();
    for watch in watches(&stored.definition, &catalog)
        .into_iter()
        .filter(|w| w.poll)
    {
        if let Err(problem) = observe(service, sources, stored, &watch, false).await {
            notes.push(format!(
                "source {}: {problem}; polling records its head on its first round",
                watch.action
            ));
        }
    }
    notes
}

/// Reads the head of one watched branch and acts on it: records it when the source has
/// none yet, starts an execution (when `start` and the filters allow) when it moved.
async fn observe(
    service: &Service,
    sources: &Sources,
    stored: &StoredPipeline,
    watch: &Watch<'_>,
    start: bool,
) -> Result<(), String> {
    let head = sources.head(watch).await?;
    let store = service.runtime().store();
    let git_ref = watch.branch_ref();
    let name = &stored.name;
    let last = store
        .last_source_revision(name, watch.action, &git_ref)
        .await
        .map_err(|e| e.to_string())?;
    let seen = SourceRevision {
        pipeline: name.clone(),
        source: watch.action.to_string(),
        git_ref: git_ref.clone(),
        revision: head.clone(),
        execution_id: None,
        seen_at: service.runtime().now(),
    };
    match last {
        Some(last) if last == head => Ok(()),
        Some(_) if start => {
            let filters = watch
                .trigger
                .map_or(&[][..], |t| &t.git_configuration.push[..]);
            if let Err(refusal) = super::filter::check_ref(filters, &watch.branch, &git_ref, None) {
                tracing::info!(pipeline = %name, source = watch.action, %head, %refusal, "new head starts nothing");
                return record(service, &seen).await;
            }
            let started = service
                .start_for_revision(stored, seen, poll_trigger(watch, &head))
                .await
                .map_err(|e| e.to_string())?;
            if let Some(id) = started {
                tracing::info!(pipeline = %name, source = watch.action, %head, execution = %id, "polling started an execution");
            }
            Ok(())
        }
        _ => record(service, &seen).await,
    }
}

async fn record(service: &Service, seen: &SourceRevision) -> Result<(), String> {
    let recorded = service
        .runtime()
        .store()
        .record_source_revision(seen)
        .await
        .map_err(|e| e.to_string())?;
    if recorded {
        tracing::info!(pipeline = %seen.pipeline, source = %seen.source, revision = %seen.revision, "recorded the source's head");
    }
    Ok(())
}

/// Runs the polling loop until the runtime shuts down.
pub fn spawn(service: Service, sources: Arc<Sources>) {
    let runtime = service.runtime().clone();
    let stopping = runtime.stopping();
    runtime.spawn_worker(async move {
        let tick = sources.poll_interval.min(Duration::from_secs(1));
        let mut due: HashMap<(String, String), Instant> = HashMap::new();
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stopping.cancelled() => break,
                _ = ticker.tick() => {}
            }
            let pipelines = match service.runtime().store().pipelines().await {
                Ok(pipelines) => pipelines,
                Err(error) => {
                    tracing::warn!(%error, "polling cannot list pipelines");
                    continue;
                }
            };
            let mut polled = HashMap::new();
            for stored in &pipelines {
                let catalog = service.runtime().catalog();
                for watch in watches(&stored.definition, &catalog).into_iter().filter(|w| w.poll) {
                    let key = (stored.name.clone(), watch.action.to_string());
                    let next = due.get(&key).copied().unwrap_or_else(Instant::now);
                    if next <= Instant::now() {
                        if let Err(problem) = observe(&service, &sources, stored, &watch, true).await {
                            tracing::warn!(pipeline = %stored.name, source = watch.action, %problem, "polling a source failed");
                        }
                        polled.insert(key, Instant::now() + sources.interval(&watch));
                    } else {
                        polled.insert(key, next);
                    }
                }
            }
            // Sources that went away (pipeline deleted or changed) are forgotten.
            due = polled;
        }
    });
}
