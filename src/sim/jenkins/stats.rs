//! What the simulator counted: requests (in total, by kind of route, per second and the
//! busiest one-second window, for rate-limit assertions), triggers, queue items, builds
//! and notifications per job. Served as JSON at `GET /_sim/stats`.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

/// The kind of endpoint a request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteKind {
    /// `…/build`, `…/buildWithParameters`.
    Trigger,
    /// `/queue/item/N/…`.
    QueueItem,
    /// `/queue/api/json`.
    Queue,
    /// A build's JSON/XML (`…/N/api/json`, permalinks).
    Build,
    /// A job's or folder's JSON/XML.
    Job,
    /// `…/N/logText/progressiveText`.
    ProgressiveText,
    /// `…/N/consoleText`.
    Console,
    /// `/crumbIssuer/…`.
    Crumb,
    /// `…/N/stop`, `term`, `kill`.
    Stop,
    /// `/queue/cancelItem`, `/queue/item/N/cancelQueue`.
    Cancel,
    /// `…/N/submitDescription`.
    Description,
    /// `…/N/testReport/…`.
    TestReport,
    /// `…/N/artifact/…`.
    Artifact,
    /// Everything else (root, `/me`, pages, unknown paths).
    Other,
}

impl RouteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteKind::Trigger => "trigger",
            RouteKind::QueueItem => "queue_item",
            RouteKind::Queue => "queue",
            RouteKind::Build => "build",
            RouteKind::Job => "job",
            RouteKind::ProgressiveText => "progressive_text",
            RouteKind::Console => "console",
            RouteKind::Crumb => "crumb",
            RouteKind::Stop => "stop",
            RouteKind::Cancel => "cancel",
            RouteKind::Description => "description",
            RouteKind::TestReport => "test_report",
            RouteKind::Artifact => "artifact",
            RouteKind::Other => "other",
        }
    }
}

/// A snapshot of the counters. Jobs are keyed by full name (`team/deploy`,
/// `org/repo/feature%2Fx`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SimStats {
    /// Every request received, faulted ones included (`/_sim/*` excluded).
    pub requests_total: u64,
    /// Requests by [`RouteKind::as_str`].
    pub requests_by_kind: BTreeMap<String, u64>,
    /// Trigger requests that were accepted (201 or 303), merged ones included.
    pub triggers: BTreeMap<String, u64>,
    /// New queue items.
    pub queue_items_created: BTreeMap<String, u64>,
    /// Triggers merged into an item already queued.
    pub coalesced: BTreeMap<String, u64>,
    /// Builds started.
    pub builds_started: BTreeMap<String, u64>,
    /// Notification-plugin POSTs attempted, and those that failed to connect or timed out.
    pub notifications_sent: u64,
    pub notifications_failed: u64,
    /// `(second since start, requests in that second)`, for seconds with requests.
    pub requests_per_second: Vec<(u64, u64)>,
    /// The most requests seen in any sliding one-second window.
    pub max_requests_in_any_second: u64,
}

impl SimStats {
    pub fn requests(&self, kind: RouteKind) -> u64 {
        self.requests_by_kind
            .get(kind.as_str())
            .copied()
            .unwrap_or(0)
    }

    pub fn triggers_of(&self, job: &str) -> u64 {
        self.triggers.get(job).copied().unwrap_or(0)
    }

    pub fn builds_started_of(&self, job: &str) -> u64 {
        self.builds_started.get(job).copied().unwrap_or(0)
    }
}

/// The live counters.
#[derive(Debug, Default)]
pub(super) struct Stats {
    counts: SimStats,
    per_second: BTreeMap<u64, u64>,
    window: VecDeque<Instant>,
}

impl Stats {
    pub(super) fn request(&mut self, kind: RouteKind, at: Instant, second: u64) {
        self.counts.requests_total += 1;
        *self
            .counts
            .requests_by_kind
            .entry(kind.as_str().to_string())
            .or_default() += 1;
        *self.per_second.entry(second).or_default() += 1;
        while self
            .window
            .front()
            .is_some_and(|&first| at.saturating_duration_since(first) >= Duration::from_secs(1))
        {
            self.window.pop_front();
        }
        self.window.push_back(at);
        let in_window = self.window.len() as u64;
        self.counts.max_requests_in_any_second =
            self.counts.max_requests_in_any_second.max(in_window);
    }

    pub(super) fn trigger(&mut self, job: &str) {
        bump(&mut self.counts.triggers, job);
    }

    pub(super) fn item_created(&mut self, job: &str) {
        bump(&mut self.counts.queue_items_created, job);
    }

    pub(super) fn coalesced(&mut self, job: &str) {
        bump(&mut self.counts.coalesced, job);
    }

    pub(super) fn build_started(&mut self, job: &str) {
        bump(&mut self.counts.builds_started, job);
    }

    pub(super) fn notification(&mut self, delivered: bool) {
        self.counts.notifications_sent += 1;
        if !delivered {
            self.counts.notifications_failed += 1;
        }
    }

    pub(super) fn snapshot(&self) -> SimStats {
        let mut stats = self.counts.clone();
        stats.requests_per_second = self.per_second.iter().map(|(s, n)| (*s, *n)).collect();
        stats
    }
}

fn bump(map: &mut BTreeMap<String, u64>, job: &str) {
    *map.entry(job.to_string()).or_default() += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_busiest_sliding_second() {
        let mut stats = Stats::default();
        let start = Instant::now();
        for ms in [0, 100, 900, 1000, 1050, 1800, 2950] {
            let at = start + Duration::from_millis(ms);
            stats.request(RouteKind::Build, at, ms / 1000);
        }
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.requests_total, 7);
        assert_eq!(snapshot.requests(RouteKind::Build), 7);
        // 900, 1000, 1050 and 1800 fall within one second.
        assert_eq!(snapshot.max_requests_in_any_second, 4);
        assert_eq!(snapshot.requests_per_second, vec![(0, 3), (1, 3), (2, 1)]);
    }
}
