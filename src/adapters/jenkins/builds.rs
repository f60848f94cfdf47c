//! Batched build reads (design invariant 5): every build of one job that is being
//! followed asks a per-job `Batcher`, which turns the requests of one poll round into a
//! single `job/…/api/json?tree=builds[…]{0,N}` call. A build older than that window is
//! read from its own URL instead. A run still known only by its queue item asks for the
//! build with that `queueId` in the same call: once it started, the list names it and the
//! queue item need not be read.

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

/// The fields a poll reads of each build: enough to follow it and, once it is done, to
/// make its outcome (artifacts, and the test counts of its test result action) without
/// a second request.
pub const BUILD_FIELDS: &str = "number,queueId,result,building,inProgress,duration,\
     estimatedDuration,timestamp,description,artifacts[relativePath],\
     actions[failCount,skipCount,totalCount]";

/// Builds newer than the newest one asked for that a window leaves room for.
const SLACK: u64 = 20;
/// Jenkins' `builds` list holds the newest 100.
const MAX_WINDOW: u64 = 100;
/// Most builds one batch asks for.
const MAX_BATCH: usize = 100;

/// What a follower asks a batch for: a build by number, or the build a queue item became.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Want {
    Number(u64),
    QueueItem(u64),
}

pub type BuildBatcher = Batcher<Want, Build>;

impl JenkinsAdapter {
    /// Build `number` of `job` as the current poll round sees it; `None` when the build
    /// does not exist (any more).
    pub(super) async fn build(&self, job: &JobPath, number: u64) -> Result<Option<Build>> {
        if let Some(build) = self.batcher(job).get(Want::Number(number)).await? {
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

    /// The build queue item `queue_id` became, if it is among the job's newest builds;
    /// `None` while it waits (or once it is older than the window).
    pub(super) async fn build_of_item(
        &self,
        job: &JobPath,
        queue_id: u64,
    ) -> Result<Option<Build>> {
        self.batcher(job).get(Want::QueueItem(queue_id)).await
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

/// The window `{0,N}` that covers the builds wanted, with room for newer builds. A queue
/// item's build is among the newest: room for one more each.
pub fn window(wants: &[Want]) -> u64 {
    let numbers = wants.iter().filter_map(|want| match want {
        Want::Number(number) => Some(*number),
        Want::QueueItem(_) => None,
    });
    let items = wants.len() as u64 - numbers.clone().count() as u64;
    let span = match (numbers.clone().min(), numbers.max()) {
        (Some(low), Some(high)) => high - low + 1,
        _ => 0,
    };
    (span + items + SLACK).min(MAX_WINDOW)
}

async fn fetch(
    client: Arc<ServerClient>,
    job: JobPath,
    wants: Vec<Want>,
) -> Result<HashMap<Want, Build>> {
    let what = format!("read the builds of job `{job}`");
    let tree = format!("builds[{BUILD_FIELDS}]{{0,{}}}", window(&wants));
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
    let mut found = HashMap::new();
    for build in builds.builds {
        let by_item = build.queue_id.map(Want::QueueItem);
        for want in [Some(Want::Number(build.number)), by_item]
            .into_iter()
            .flatten()
        {
            if wants.contains(&want) {
                found.insert(want, build.clone());
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_oldest_build_asked_for() {
        let numbers = |list: &[u64]| list.iter().map(|n| Want::Number(*n)).collect::<Vec<_>>();
        assert_eq!(window(&numbers(&[57])), 21);
        assert_eq!(window(&numbers(&[50, 57, 52])), 28);
        assert_eq!(window(&numbers(&[1, 500])), 100);
        assert_eq!(window(&[Want::QueueItem(7)]), 21);
        assert_eq!(window(&[Want::QueueItem(7), Want::QueueItem(9)]), 22);
        let mixed = [Want::Number(50), Want::QueueItem(7), Want::Number(52)];
        assert_eq!(window(&mixed), 24);
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
