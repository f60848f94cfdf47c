//! The simulator's memory and its clockwork: jobs, builds, the queue, sessions, counters
//! and faults, behind one mutex that is never held across an await. `settle(now)` moves
//! everything forward to `now` in time order (quiet periods end, items start builds when
//! an executor is free, builds end), so the state a client reads is exactly what the
//! timeline says, whether or not anyone polled in between.

use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use super::builds::{Build, ParamValue, Plan};
use super::clock::Clock;
use super::crumbs::Sessions;
use super::faults::Faults;
use super::jobs::{Folder, Job};
use super::notify::{self, Notice, Phase};
use super::queue::{Blockage, ItemState, Outcome, QueueItem};
use super::spec::{JobKind, JobSpec};
use super::stats::Stats;

const RESULTS: [&str; 5] = ["SUCCESS", "UNSTABLE", "FAILURE", "NOT_BUILT", "ABORTED"];

pub(super) struct World {
    pub(super) clock: Clock,
    /// The configured root URL, with a trailing slash: absolute URLs in bodies use it.
    pub(super) root_url: String,
    pub(super) root: Folder,
    pub(super) jobs: Vec<Job>,
    pub(super) queue: Vec<QueueItem>,
    pub(super) next_queue_id: u64,
    /// Builds that may run at once; `None` for no limit.
    pub(super) executors: Option<usize>,
    pub(super) left_item_ttl: Duration,
    pub(super) sessions: Sessions,
    pub(super) stats: Stats,
    pub(super) faults: Faults,
    pub(super) notices: Option<UnboundedSender<Notice>>,
    /// `X-Jenkins-Session`: changes with every restart.
    pub(super) instance: String,
    /// Requests answer 503 "Jenkins is getting ready to work" until then.
    pub(super) loading_until: Option<Instant>,
}

impl World {
    pub(super) fn new(
        root_url: String,
        first_queue_id: u64,
        executors: Option<usize>,
        left_item_ttl: Duration,
    ) -> World {
        World {
            clock: Clock::new(),
            root_url,
            root: Folder::default(),
            jobs: Vec::new(),
            queue: Vec::new(),
            next_queue_id: first_queue_id.max(1),
            executors,
            left_item_ttl,
            sessions: Sessions::new(),
            stats: Stats::default(),
            faults: Faults::default(),
            notices: None,
            instance: new_instance_id(),
            loading_until: None,
        }
    }

    /// Moves the simulation forward to `now`.
    pub(super) fn settle(&mut self, now: Instant) {
        loop {
            match self.next_event() {
                Some(at) if at <= now => {
                    self.end_due_builds(at);
                    self.finalize_due_builds(at);
                    self.end_quiet_periods(at);
                    self.dispatch(at);
                }
                _ if self.dispatch(now) => {}
                _ => break,
            }
        }
        let ttl = self.left_item_ttl;
        self.expire_left_items(now, ttl);
    }

    /// A Jenkins restart: left items and sessions are gone; queued items and builds stay.
    pub(super) fn restart(&mut self, now: Instant, loading: Duration) {
        self.settle(now);
        self.forget_left_items();
        self.sessions.clear();
        self.instance = new_instance_id();
        self.loading_until = (!loading.is_zero()).then(|| now + loading);
    }

    /// The earliest pending change: a build's planned end or a quiet period's end.
    fn next_event(&self) -> Option<Instant> {
        let ends = self.jobs.iter().flat_map(|job| {
            job.builds
                .iter()
                .filter_map(|b| b.planned_end().map(|(at, _)| at))
        });
        let quiet = self
            .queue
            .iter()
            .filter(|item| item.state == ItemState::Waiting)
            .map(|item| item.due);
        let finalizing = self
            .jobs
            .iter()
            .flat_map(|job| job.builds.iter().filter_map(Build::finalizes_at));
        ends.chain(quiet).chain(finalizing).min()
    }

    fn end_due_builds(&mut self, at: Instant) {
        let mut due = Vec::new();
        for (index, job) in self.jobs.iter().enumerate() {
            for build in &job.builds {
                if let Some((end, result)) = build.planned_end().filter(|(end, _)| *end <= at) {
                    due.push((index, build.number, end, result.to_string()));
                }
            }
        }
        for (job, number, end, result) in due {
            self.end_build(job, number, end, &result);
        }
    }

    fn end_quiet_periods(&mut self, at: Instant) {
        for item in &mut self.queue {
            if item.state == ItemState::Waiting && item.due <= at {
                item.state = ItemState::Buildable;
                item.ready_since = Some(item.due);
            }
        }
    }

    /// Starts what can start at `at` and marks the rest blocked or buildable; true if a
    /// build started.
    fn dispatch(&mut self, at: Instant) -> bool {
        let mut started = false;
        for index in 0..self.queue.len() {
            let item = &self.queue[index];
            if !matches!(item.state, ItemState::Blocked(_) | ItemState::Buildable) {
                continue;
            }
            let job = &self.jobs[item.job];
            let running = job.builds.iter().rev().find(|b| b.building());
            let blockage = if job.spec.blocked && !job.released_items.contains(&item.id) {
                Some(Blockage::Held)
            } else if !job.spec.concurrent_build {
                running.map(|b| Blockage::InProgress(b.number))
            } else {
                None
            };
            let free = self.executors.is_none_or(|n| self.running_builds() < n);
            let next = match blockage {
                Some(blockage) => ItemState::Blocked(blockage),
                None if free => {
                    self.start_build(index, at);
                    started = true;
                    continue;
                }
                None => ItemState::Buildable,
            };
            self.queue[index].state = next;
        }
        started
    }

    fn running_builds(&self) -> usize {
        self.jobs
            .iter()
            .map(|job| job.builds.iter().filter(|b| b.building()).count())
            .sum()
    }

    fn start_build(&mut self, index: usize, at: Instant) {
        let item = &self.queue[index];
        let job_index = item.job;
        let job = &mut self.jobs[job_index];
        let number = job.next_number;
        job.next_number += 1;
        let plan = plan(&job.spec, item.params.as_deref());
        job.builds.push(Build {
            number,
            queue_id: item.id,
            kind: job.spec.kind,
            params: item.params.clone(),
            causes: item.causes.clone(),
            enqueued_at: item.enqueued_at,
            started_at: at,
            plan,
            end: None,
            interruption: None,
            description: None,
        });
        let full_name = job.full_name();
        self.queue[index].state = ItemState::Left {
            at,
            outcome: Outcome::Started(number),
        };
        self.stats.build_started(&full_name);
        self.notify(job_index, number, Phase::Queued, at);
        self.notify(job_index, number, Phase::Started, at);
    }

    /// Ends a running build with `result` at `at`, sending COMPLETED, and FINALIZED
    /// unless post-production follows.
    pub(super) fn end_build(&mut self, job: usize, number: u32, at: Instant, result: &str) -> bool {
        let Some(build) = self.jobs[job].build_mut(number) else {
            return false;
        };
        if !build.end_now(at, result) {
            return false;
        }
        let finalized = !build.in_progress();
        self.notify(job, number, Phase::Completed, at);
        if finalized {
            self.notify(job, number, Phase::Finalized, at);
        }
        true
    }

    /// Ends the post-production of builds due by `at`, sending FINALIZED.
    fn finalize_due_builds(&mut self, at: Instant) {
        let mut due = Vec::new();
        for (index, job) in self.jobs.iter_mut().enumerate() {
            for build in &mut job.builds {
                if build.finalizes_at().is_some_and(|when| when <= at) {
                    if let Some(end) = build.end.as_mut() {
                        end.finalized = true;
                    }
                    due.push((index, build.number));
                }
            }
        }
        for (job, number) in due {
            self.notify(job, number, Phase::Finalized, at);
        }
    }

    fn notify(&mut self, job: usize, number: u32, phase: Phase, at: Instant) {
        let Some(sender) = &self.notices else {
            return;
        };
        let Some(url) = self.jobs[job].spec.notify_url.clone() else {
            return;
        };
        if let Some(body) = notify::payload(self, job, number, phase, at) {
            let _ = sender.send(Notice { url, body });
        }
    }

    /// `Job.getEstimatedDuration`: the job's configured estimate, else the average of up
    /// to three recent completed builds (successful ones first), else unknown.
    pub(super) fn estimated_duration(&self, job: usize) -> Option<Duration> {
        let job = &self.jobs[job];
        if let Some(estimate) = job.spec.estimated_duration {
            return Some(estimate);
        }
        let done: Vec<&Build> = job.builds.iter().rev().filter(|b| !b.building()).collect();
        let good = |b: &&Build| {
            b.end
                .as_ref()
                .is_some_and(|e| e.result == "SUCCESS" || e.result == "UNSTABLE")
        };
        let last_successful = done.iter().copied().find(good);
        let mut candidates: Vec<&Build> = last_successful.into_iter().collect();
        let mut fallback = Vec::new();
        for build in job.builds.iter().rev().take(6) {
            if candidates.len() >= 3 {
                break;
            }
            let Some(end) = &build.end else { continue };
            if last_successful.is_some_and(|s| s.number == build.number) {
                continue;
            }
            if end.result == "SUCCESS" || end.result == "UNSTABLE" {
                candidates.push(build);
            } else if end.result == "FAILURE" {
                fallback.push(build);
            }
        }
        candidates.extend(
            fallback
                .into_iter()
                .take(3usize.saturating_sub(candidates.len())),
        );
        if candidates.is_empty() {
            return None;
        }
        let total: Duration = candidates.iter().map(|b| b.duration()).sum();
        Some(total / u32::try_from(candidates.len()).unwrap_or(1))
    }
}

/// How a build behaves: the job's spec, overridden by `SIM_RESULT` and `SIM_DURATION_MS`
/// when the job defines those parameters.
fn plan(spec: &JobSpec, params: Option<&[ParamValue]>) -> Plan {
    let scripted = |name: &str| {
        spec.parameter(name)?;
        params?
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let result = scripted("SIM_RESULT").unwrap_or_else(|| spec.result.clone());
    let duration = scripted("SIM_DURATION_MS")
        .and_then(|ms| ms.parse().ok())
        .map_or(spec.duration, Duration::from_millis);
    Plan {
        result: normalize_result(&result),
        duration,
        hold: spec.hold,
        result_while_building: spec.result_while_building,
        log: spec.log.lines().map(str::to_string).collect(),
        test_report: spec.test_report,
        artifacts: spec.artifacts.clone(),
        post_production: match spec.kind {
            JobKind::FreeStyle => spec.post_production,
            JobKind::Pipeline => Duration::ZERO,
        },
    }
}

/// `Result.fromString`: a known result, anything else is FAILURE.
pub(super) fn normalize_result(result: &str) -> String {
    let upper = result.trim().to_ascii_uppercase();
    if RESULTS.contains(&upper.as_str()) {
        upper
    } else {
        "FAILURE".to_string()
    }
}

fn new_instance_id() -> String {
    use rand::Rng;
    format!("{:08x}", rand::rng().random::<u32>())
}
