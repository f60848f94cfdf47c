//! Queue items and stopping work (reference §5, §7). A queue item waits, then leaves the
//! queue as a build or cancelled; five minutes after it left (or after a restart) it is
//! 404, and the build is found among the job's builds by `queueId`. Cancelling in the
//! queue races with the item starting: after `cancelItem` the item is read again and a
//! build it became meanwhile is stopped instead.

use reqwest::StatusCode;

use super::path::JobPath;
use super::wire::{Builds, QueueItem};
use super::JenkinsAdapter;
use crate::adapters::{AdapterError, Result};

/// Where a queue item stands.
#[derive(Debug)]
pub enum ItemState {
    /// Still in the queue (waiting, blocked or buildable).
    Waiting(QueueItem),
    /// Left the queue as this build.
    Started(u64),
    /// Left the queue cancelled: no build will ever exist.
    Cancelled,
    /// 404: expired from the left-items cache, or never existed.
    Gone,
}

const ITEM_TREE: &str = "id,why,blocked,buildable,stuck,cancelled,inQueueSince,executable[number]";

impl JenkinsAdapter {
    pub(super) async fn queue_item(&self, job: &JobPath, queue_id: u64) -> Result<ItemState> {
        let what = format!("read queue item {queue_id} of job `{job}`");
        let reply = self
            .jenkins
            .get(
                &what,
                &format!("queue/item/{queue_id}/api/json"),
                &[("tree", ITEM_TREE.to_string())],
            )
            .await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(ItemState::Gone);
        }
        if !reply.status.is_success() {
            return Err(self.jenkins.failure(&what, &reply));
        }
        let item: QueueItem = self.jenkins.decode(&what, &reply)?;
        Ok(if item.cancelled == Some(true) {
            ItemState::Cancelled
        } else if let Some(executable) = &item.executable {
            ItemState::Started(executable.number)
        } else {
            ItemState::Waiting(item)
        })
    }

    /// The build that queue item `queue_id` became, among the job's newest 100 builds.
    pub(super) async fn build_by_queue_id(
        &self,
        job: &JobPath,
        queue_id: u64,
    ) -> Result<Option<u64>> {
        let what = format!("look for the build of queue item {queue_id} of job `{job}`");
        let reply = self
            .jenkins
            .get(
                &what,
                &format!("{}api/json", job.url_path()),
                &[("tree", "builds[number,queueId]{0,100}".to_string())],
            )
            .await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Err(self.no_such_job(job));
        }
        if !reply.status.is_success() {
            return Err(self.jenkins.failure(&what, &reply));
        }
        let builds: Builds = self.jenkins.decode(&what, &reply)?;
        Ok(builds
            .builds
            .iter()
            .find(|b| b.queue_id == Some(queue_id))
            .map(|b| b.number))
    }

    /// Cancels a queued item; returns the build it had become (and that was stopped
    /// instead) if it left the queue first.
    pub(super) async fn cancel_queued(&self, job: &JobPath, queue_id: u64) -> Result<Option<u64>> {
        let what = format!("cancel queue item {queue_id} of job `{job}`");
        let query = [("id", queue_id.to_string())];
        let reply = self
            .jenkins
            .post(&what, "queue/cancelItem", &query, &[])
            .await?;
        match reply.status {
            StatusCode::NO_CONTENT | StatusCode::OK => return Ok(None),
            // 404: unknown or expired; 500: it already left the queue; 3xx: Jenkins
            // before 2.211 answers every cancel with a redirect. Look again.
            StatusCode::NOT_FOUND | StatusCode::INTERNAL_SERVER_ERROR => {}
            status if status.is_redirection() => {}
            StatusCode::UNPROCESSABLE_ENTITY => {
                return Err(AdapterError::Fatal(format!(
                    "{what}: {} says Baton's user may not cancel it (422)",
                    self.jenkins.name()
                )))
            }
            _ => return Err(self.jenkins.failure(&what, &reply)),
        }
        let number = match self.queue_item(job, queue_id).await? {
            ItemState::Started(number) => Some(number),
            ItemState::Cancelled => None,
            ItemState::Gone => self.build_by_queue_id(job, queue_id).await?,
            ItemState::Waiting(_) => {
                // The cancel did not take: the older per-item endpoint always works.
                let path = format!("queue/item/{queue_id}/cancelQueue");
                let reply = self.jenkins.post(&what, &path, &[], &[]).await?;
                if !(reply.status.is_success() || reply.status.is_redirection()) {
                    return Err(self.jenkins.failure(&what, &reply));
                }
                None
            }
        };
        if let Some(number) = number {
            self.stop_build(job, number).await?;
        }
        Ok(number)
    }

    /// Asks a running build to stop (asynchronous on Jenkins' side: keep following it).
    pub(super) async fn stop_build(&self, job: &JobPath, number: u64) -> Result<()> {
        let what = format!("stop build #{number} of job `{job}`");
        let path = format!("{}stop", job.build_path(number));
        let reply = self.jenkins.post(&what, &path, &[], &[]).await?;
        let status = reply.status;
        if status.is_success() || status.is_redirection() {
            return Ok(());
        }
        if status == StatusCode::NOT_FOUND {
            tracing::debug!(server = %self.jenkins.name(), job = %job, number, "no build to stop");
            return Ok(());
        }
        Err(self.jenkins.failure(&what, &reply))
    }
}
