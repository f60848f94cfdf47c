//! Batched build reads (design invariant 5): every build of one job that is being
//! followed asks a per-job `Batcher`, which turns the requests of one poll round into a
//! single `job/…/api/json?tree=builds[…]{0,N}` call. A build older than that window is
//! read from its own URL instead.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;

use super::client;
use super::path::JobPath;
use super::wire::{Build, Builds};
use super::JenkinsAdapter;
use crate::adapters::batch::Batcher;
use crate::adapters::http::ServerClient;
use crate::adapters::{AdapterError, Result};

/// The fields a poll reads of each build.
pub const BUILD_FIELDS: &str =
    "number,queueId,result,building,inProgress,duration,estimatedDuration,timestamp,description";

/// Builds newer than the newest one asked for that a window leaves room for.
const SLACK: u64 = 20;
/// Jenkins' `builds` list holds the newest 100.
const MAX_WINDOW: u64 = 100;
/// Most builds one batch asks for.
const MAX_BATCH: usize = 100;

pub type BuildBatcher = Batcher<u64, Build>;

impl JenkinsAdapter {
    /// Build `number` of `job` as the current poll round sees it; `None` when the build
    /// does not exist (any more).
    pub(super) async fn build(&self, job: &JobPath, number: u64) -> Result<Option<Build>> {
        if let Some(build) = self.batcher(job).get(number).await? {
            return Ok(Some(build));
        }
        let what = format!("read build #{number} of job `{job}`");
        let path = format!("{}api/json", job.build_path(number));
        let reply = self
            .jenkins
            .get(&what, &path, &[("tree", BUILD_FIELDS.to_string())])
            .await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !reply.status.is_success() {
            return Err(self.jenkins.failure(&what, &reply));
        }
        self.jenkins.decode(&what, &reply).map(Some)
    }

    fn batcher(&self, job: &JobPath) -> Arc<BuildBatcher> {
        let mut batchers = self.batchers.lock().unwrap_or_else(|e| e.into_inner());
        batchers
            .entry(job.clone())
            .or_insert_with(|| {
                let client = self.jenkins.client.clone();
                let job = job.clone();
                Arc::new(Batcher::new(
                    self.options.batch_window,
                    MAX_BATCH,
                    move |numbers| fetch(client.clone(), job.clone(), numbers),
                ))
            })
            .clone()
    }
}

/// How long a batcher gathers requests: a small part of the poll interval.
pub fn batch_window(poll_interval: Duration) -> Duration {
    (poll_interval / 20).clamp(Duration::from_millis(10), Duration::from_millis(250))
}

/// The window `{0,N}` that covers `numbers`, with room for newer builds.
pub fn window(numbers: &[u64]) -> u64 {
    let low = numbers.iter().min().copied().unwrap_or(0);
    let high = numbers.iter().max().copied().unwrap_or(0);
    (high - low + 1 + SLACK).min(MAX_WINDOW)
}

async fn fetch(
    client: Arc<ServerClient>,
    job: JobPath,
    numbers: Vec<u64>,
) -> Result<HashMap<u64, Build>> {
    let what = format!("read the builds of job `{job}`");
    let tree = format!("builds[{BUILD_FIELDS}]{{0,{}}}", window(&numbers));
    let path = format!("{}api/json", job.url_path());
    let reply = client::get(&client, &what, &path, &[("tree", tree)]).await?;
    if reply.status == StatusCode::NOT_FOUND {
        return Err(AdapterError::Fatal(format!(
            "{what}: Jenkins server `{}` has no job `{job}` (404)",
            client.name
        )));
    }
    if !reply.status.is_success() {
        return Err(client::failure(&client, &what, &reply));
    }
    let builds: Builds = client::decode(&client, &what, &reply)?;
    Ok(builds
        .builds
        .into_iter()
        .filter(|b| numbers.contains(&b.number))
        .map(|b| (b.number, b))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_oldest_build_asked_for() {
        assert_eq!(window(&[57]), 21);
        assert_eq!(window(&[50, 57, 52]), 28);
        assert_eq!(window(&[1, 500]), 100);
    }

    #[test]
    fn batch_windows_follow_the_poll_interval() {
        assert_eq!(
            batch_window(Duration::from_secs(10)),
            Duration::from_millis(250)
        );
        assert_eq!(
            batch_window(Duration::from_secs(1)),
            Duration::from_millis(50)
        );
        assert_eq!(
            batch_window(Duration::from_millis(50)),
            Duration::from_millis(10)
        );
    }
}
