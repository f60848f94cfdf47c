//! Notifications: webhooks told when executions start and end, stages start and finish,
//! and approvals are needed or decided. The pipeline actor compares each execution a step
//! touched with how it stood before (`changes`, pure) and hands the result to the
//! `Notifier` after the commit; each receiver has a bounded queue and a worker that signs
//! and POSTs with retries. Publishing never waits: a receiver that hangs or falls behind
//! loses its oldest notifications (counted), never the engine's time.
//! Imports `config`, `engine::state` and `model`; the runtime calls it.

mod changes;
mod deliver;
mod slack;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub use changes::{
    changes, ApprovalInfo, Endpoint, ExecutionInfo, Notification, Snapshot, StageInfo,
};
pub use deliver::{
    render, signature, ATTEMPT_HEADER, DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
};

use crate::config::NotificationSettings;
use crate::engine::state::{Execution, ExecutionId};
use crate::model::Pipeline;
use deliver::Sink;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("notifications[{index}]: cannot set up an HTTP client: {source}")]
    Client {
        index: usize,
        source: reqwest::Error,
    },
}

/// The configured receivers; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    sinks: Arc<Vec<Arc<Sink>>>,
}

impl Notifier {
    pub fn new(settings: &[NotificationSettings]) -> Result<Notifier, NotifyError> {
        let sinks = settings
            .iter()
            .enumerate()
            .map(|(index, s)| {
                Sink::new(index, s.clone())
                    .map(Arc::new)
                    .map_err(|source| NotifyError::Client { index, source })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Notifier {
            sinks: Arc::new(sinks),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// One delivery loop per receiver, each ending when `stop` is cancelled; the caller
    /// spawns them.
    pub fn workers(
        &self,
        stop: CancellationToken,
    ) -> Vec<impl std::future::Future<Output = ()> + Send + 'static> {
        self.sinks
            .iter()
            .map(|sink| sink.clone().run(stop.clone()))
            .collect()
    }

    /// Queues a notification for every receiver that wants it. Never waits.
    pub fn publish(&self, mut notification: Notification) {
        if notification.id.is_empty() {
            notification.id = uuid::Uuid::now_v7().to_string();
        }
        let notification = Arc::new(notification);
        for sink in self.sinks.iter().filter(|s| s.wants(&notification)) {
            sink.push(notification.clone());
        }
    }

    /// Snapshots of the executions a step may touch, taken before it.
    pub fn before(
        &self,
        executions: &BTreeMap<ExecutionId, Execution>,
    ) -> BTreeMap<ExecutionId, Snapshot> {
        if self.is_empty() {
            return BTreeMap::new();
        }
        executions
            .iter()
            .map(|(id, e)| (id.clone(), Snapshot::of(e)))
            .collect()
    }

    /// What a step changed in `after`, to publish once the step is stored.
    pub fn changes(
        &self,
        definition: &Pipeline,
        before: Option<&Snapshot>,
        after: &Execution,
        public_url: &str,
    ) -> Vec<Notification> {
        if self.is_empty() {
            return Vec::new();
        }
        changes(definition, before, after, public_url, after.updated_at)
    }
}

mod metrics {
    pub const DELIVERED: &str = "baton_notifications_delivered_total";
    pub const FAILED: &str = "baton_notifications_failed_total";
    pub const DROPPED: &str = "baton_notifications_dropped_total";

    pub fn describe() {
        metrics::describe_counter!(DELIVERED, "Notifications a receiver accepted, by receiver");
        metrics::describe_counter!(
            FAILED,
            "Notifications given up after their last attempt or refused, by receiver"
        );
        metrics::describe_counter!(
            DROPPED,
            "Notifications dropped unsent because the receiver's queue was full, by receiver"
        );
    }

    pub fn delivered(sink: usize) {
        metrics::counter!(DELIVERED, "sink" => sink.to_string()).increment(1);
    }

    pub fn failed(sink: usize) {
        metrics::counter!(FAILED, "sink" => sink.to_string()).increment(1);
    }

    pub fn dropped(sink: usize) {
        metrics::counter!(DROPPED, "sink" => sink.to_string()).increment(1);
    }
}

/// Registers the notification metrics' descriptions.
pub fn describe_metrics() {
    metrics::describe();
}

#[cfg(test)]
mod tests;
