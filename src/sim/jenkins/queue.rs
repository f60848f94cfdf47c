//! The build queue: items and their lifecycle, `WaitingItem` (quiet period) →
//! `BlockedItem` ⇄ `BuildableItem` → `LeftItem` (started, or cancelled), with Jenkins'
//! coalescing of identical triggers and the 5-minute retention of left items.

use std::time::Duration;

use tokio::time::Instant;

use super::builds::{Cause, ParamValue};
use super::world::World;

/// Why a ready item cannot start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Blockage {
    /// The job is `blocked` in its spec and `release_queue` has not freed the item.
    Held,
    /// The job does not run concurrent builds and this build is running.
    InProgress(u32),
}

/// How an item left the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Started(u32),
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ItemState {
    /// In the quiet period until `due`.
    Waiting,
    Blocked(Blockage),
    /// Waiting for an executor.
    Buildable,
    Left {
        at: Instant,
        outcome: Outcome,
    },
}

#[derive(Debug, Clone)]
pub(super) struct QueueItem {
    pub(super) id: u64,
    /// Index into `World::jobs`.
    pub(super) job: usize,
    /// `None` for a job without parameters.
    pub(super) params: Option<Vec<ParamValue>>,
    pub(super) causes: Vec<Cause>,
    pub(super) enqueued_at: Instant,
    /// End of the quiet period.
    pub(super) due: Instant,
    /// When it left the quiet period (`buildableStartMilliseconds`).
    pub(super) ready_since: Option<Instant>,
    pub(super) state: ItemState,
}

impl QueueItem {
    pub(super) fn queued(&self) -> bool {
        !matches!(self.state, ItemState::Left { .. })
    }

    pub(super) fn class(&self) -> &'static str {
        match self.state {
            ItemState::Waiting => "hudson.model.Queue$WaitingItem",
            ItemState::Blocked(_) => "hudson.model.Queue$BlockedItem",
            ItemState::Buildable => "hudson.model.Queue$BuildableItem",
            ItemState::Left { .. } => "hudson.model.Queue$LeftItem",
        }
    }

    /// `params`: each value's short description after a newline.
    pub(super) fn params_text(&self) -> String {
        self.params
            .iter()
            .flatten()
            .map(|p| format!("\n{}", p.short_description()))
            .collect()
    }

    /// Whether a new trigger with these parameters is merged into this item: same job,
    /// still queued, and the same parameter set (`ParametersAction.shouldSchedule`).
    fn same_request(&self, job: usize, params: Option<&[ParamValue]>) -> bool {
        self.job == job && self.queued() && same_params(self.params.as_deref(), params)
    }
}

fn same_params(a: Option<&[ParamValue]>, b: Option<&[ParamValue]>) -> bool {
    let key = |p: Option<&[ParamValue]>| {
        let mut pairs: Vec<(String, String)> = p
            .unwrap_or_default()
            .iter()
            .map(|v| (v.name.clone(), v.value.clone()))
            .collect();
        pairs.sort();
        pairs
    };
    key(a) == key(b)
}

/// What a trigger did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scheduled {
    /// A new item with this id.
    Created(u64),
    /// Merged into this queued item.
    Existing(u64),
}

/// What `queue/cancelItem` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cancel {
    Cancelled,
    NotFound,
    /// Already a `LeftItem`: `cancel()` returns false and Jenkins answers 500.
    AlreadyLeft,
}

impl World {
    /// `Queue.schedule2`: a new waiting item, or the queued identical one (whose quiet
    /// period then ends at the earlier of the two times).
    pub(super) fn schedule(
        &mut self,
        job: usize,
        params: Option<Vec<ParamValue>>,
        cause: Cause,
        quiet_period: Duration,
        now: Instant,
    ) -> Scheduled {
        let due = now + quiet_period;
        let full_name = self.jobs[job].full_name();
        if let Some(item) = self
            .queue
            .iter_mut()
            .find(|item| item.same_request(job, params.as_deref()))
        {
            if item.state == ItemState::Waiting && due < item.due {
                item.due = due;
            }
            if !item.causes.contains(&cause) {
                item.causes.push(cause);
            }
            let id = item.id;
            self.stats.coalesced(&full_name);
            return Scheduled::Existing(id);
        }
        let id = self.next_queue_id;
        self.next_queue_id += 1;
        self.queue.push(QueueItem {
            id,
            job,
            params,
            causes: vec![cause],
            enqueued_at: now,
            due,
            ready_since: None,
            state: ItemState::Waiting,
        });
        self.stats.item_created(&full_name);
        Scheduled::Created(id)
    }

    /// `Queue.doCancelItem` for one id.
    pub(super) fn cancel_item(&mut self, id: u64, now: Instant) -> Cancel {
        let Some(item) = self.queue.iter_mut().find(|item| item.id == id) else {
            return Cancel::NotFound;
        };
        if !item.queued() {
            return Cancel::AlreadyLeft;
        }
        item.state = ItemState::Left {
            at: now,
            outcome: Outcome::Cancelled,
        };
        Cancel::Cancelled
    }

    pub(super) fn item(&self, id: u64) -> Option<&QueueItem> {
        self.queue.iter().find(|item| item.id == id)
    }

    /// The job's first queued item (`Job.getQueueItem`).
    pub(super) fn queue_item_of(&self, job: usize) -> Option<&QueueItem> {
        self.queue
            .iter()
            .find(|item| item.job == job && item.queued())
    }

    /// Drops left items older than the retention time (Jenkins' `leftItems` cache).
    pub(super) fn expire_left_items(&mut self, now: Instant, ttl: Duration) {
        self.queue.retain(|item| match item.state {
            ItemState::Left { at, .. } => now.saturating_duration_since(at) < ttl,
            _ => true,
        });
    }

    /// Drops every left item (after a restart, or `expire_left_items`).
    pub(super) fn forget_left_items(&mut self) {
        self.queue.retain(QueueItem::queued);
    }

    /// `BuildableItem.isStuck`: buildable for more than ten times the estimated duration
    /// (at least a minute each), or a day without an estimate.
    pub(super) fn stuck(&self, item: &QueueItem, now: Instant) -> bool {
        if item.state != ItemState::Buildable {
            return false;
        }
        let Some(since) = item.ready_since else {
            return false;
        };
        let elapsed = now.saturating_duration_since(since);
        match self.estimated_duration(item.job) {
            Some(estimate) => elapsed > estimate.max(Duration::from_secs(60)) * 10,
            None => elapsed > Duration::from_secs(24 * 3600),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::builds::Interruption;
    use super::super::jobs::add_job;
    use super::super::spec::{JobSpec, ParamKind};
    use super::*;

    fn world(specs: &[(&str, JobSpec)]) -> World {
        let mut world = World::new(
            "http://jenkins/".into(),
            100,
            None,
            Duration::from_secs(300),
        );
        for (path, spec) in specs {
            let World { root, jobs, .. } = &mut world;
            add_job(root, jobs, path, spec.clone()).expect("valid path");
        }
        world
    }

    fn param(name: &str, value: &str) -> ParamValue {
        ParamValue {
            name: name.into(),
            value: value.into(),
            kind: ParamKind::String,
        }
    }

    fn user() -> Cause {
        Cause::User {
            user_id: Some("ci-bot".into()),
        }
    }

    const QUIET: Duration = Duration::from_secs(5);

    #[test]
    fn identical_requests_merge_while_queued() {
        let mut w = world(&[
            ("plain", JobSpec::default()),
            ("params", JobSpec::default()),
        ]);
        let now = Instant::now();
        assert_eq!(
            w.schedule(0, None, user(), QUIET, now),
            Scheduled::Created(100)
        );
        // Any second trigger of a job without parameters merges, and moves the due
        // time to the earlier of the two.
        assert_eq!(
            w.schedule(0, None, user(), Duration::ZERO, now),
            Scheduled::Existing(100)
        );
        assert_eq!(w.item(100).map(|i| i.due), Some(now));
        let a = Some(vec![param("RUN", "a")]);
        let b = Some(vec![param("RUN", "b")]);
        assert_eq!(
            w.schedule(1, a.clone(), user(), QUIET, now),
            Scheduled::Created(101)
        );
        assert_eq!(
            w.schedule(1, a, user(), QUIET, now),
            Scheduled::Existing(101)
        );
        assert_eq!(
            w.schedule(1, b, user(), QUIET, now),
            Scheduled::Created(102)
        );
        // Once an item has left the queue, the same request makes a new one.
        w.settle(now + QUIET);
        assert!(!w.item(101).is_some_and(QueueItem::queued));
        let again = w.schedule(1, Some(vec![param("RUN", "a")]), user(), QUIET, now + QUIET);
        assert_eq!(again, Scheduled::Created(103));
    }

    #[test]
    fn items_wait_start_and_are_forgotten_five_minutes_after_leaving() {
        let spec = JobSpec {
            duration: Duration::from_secs(3600),
            ..JobSpec::default()
        };
        let mut w = world(&[("long", spec)]);
        let now = Instant::now();
        w.schedule(0, None, user(), QUIET, now);
        w.settle(now + Duration::from_secs(1));
        assert_eq!(w.item(100).map(|i| i.state), Some(ItemState::Waiting));
        w.settle(now + QUIET);
        let left = w.item(100).map(|i| i.state);
        assert!(
            matches!(
                left,
                Some(ItemState::Left {
                    outcome: Outcome::Started(1),
                    ..
                })
            ),
            "{left:?}"
        );
        // Retention counts from the start of the build, not its end.
        w.settle(now + QUIET + Duration::from_secs(299));
        assert!(w.item(100).is_some());
        w.settle(now + QUIET + Duration::from_secs(300));
        assert!(w.item(100).is_none());
        assert!(w.jobs[0].builds[0].building());
    }

    #[test]
    fn cancelling_answers_like_do_cancel_item() {
        let mut w = world(&[("job", JobSpec::default())]);
        let now = Instant::now();
        w.schedule(0, None, user(), QUIET, now);
        assert_eq!(w.cancel_item(100, now), Cancel::Cancelled);
        assert_eq!(w.cancel_item(100, now), Cancel::AlreadyLeft);
        assert_eq!(w.cancel_item(7, now), Cancel::NotFound);
        w.settle(now + Duration::from_secs(60));
        assert!(w.jobs[0].builds.is_empty(), "a cancelled item never builds");
    }

    #[test]
    fn executors_blocking_and_release() {
        let hold = JobSpec {
            hold: true,
            ..JobSpec::default()
        };
        let serial = JobSpec {
            hold: true,
            concurrent_build: false,
            ..JobSpec::default()
        };
        let mut w = world(&[("a", hold), ("serial", serial)]);
        w.executors = Some(1);
        let now = Instant::now();
        w.schedule(0, None, user(), Duration::ZERO, now);
        w.schedule(1, None, user(), Duration::ZERO, now);
        w.settle(now);
        assert_eq!(w.item(101).map(|i| i.state), Some(ItemState::Buildable));
        assert!(w.end_build(0, 1, now, "SUCCESS"));
        w.settle(now);
        assert!(w.jobs[1].builds[0].building());
        w.schedule(1, None, user(), Duration::ZERO, now);
        w.settle(now);
        let blocked = w.item(102).map(|i| i.state);
        assert_eq!(blocked, Some(ItemState::Blocked(Blockage::InProgress(1))));
    }

    #[test]
    fn a_stopped_build_aborts_shortly_after() {
        let spec = JobSpec {
            hold: true,
            ..JobSpec::default()
        };
        let mut w = world(&[("job", spec)]);
        let now = Instant::now();
        w.schedule(0, None, user(), Duration::ZERO, now);
        w.settle(now);
        let build = w.jobs[0].build_mut(1).expect("started");
        build.interruption = Some(Interruption {
            by: "ci-bot".into(),
            at: now,
        });
        w.settle(now);
        assert!(w.jobs[0].builds[0].building(), "stop is asynchronous");
        w.settle(now + Duration::from_secs(1));
        assert!(w.jobs[0].builds[0].ended_with(&["ABORTED"]));
    }
}
