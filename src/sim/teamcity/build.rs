//! One simulated build and its life: queued → running → finished, or queued → finished
//! (canceled in the queue, failed to start), with the plan it was triggered with and the
//! stop that a cancel asks for. Time is an input: [`Build::step`] makes at most one
//! transition at a given instant, so callers can observe (and announce) each one.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::{BuildTypeSpec, TestCounts};

/// A user as builds record it (triggering, comments, cancels).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct User {
    pub(super) id: i64,
    pub(super) username: String,
    pub(super) name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Queued,
    Running,
    Finished,
}

impl Phase {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Phase::Queued => "queued",
            Phase::Running => "running",
            Phase::Finished => "finished",
        }
    }
}

/// How a build was scripted when it was triggered: its type's spec, with the `sim.status`
/// and `sim.duration.ms` properties applied.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub(super) spec: BuildTypeSpec,
    pub(super) status: String,
    pub(super) duration: Duration,
}

#[derive(Debug, Clone)]
pub(super) struct Comment {
    pub(super) user: Option<User>,
    pub(super) text: String,
    pub(super) at: Instant,
}

#[derive(Debug, Clone)]
pub(super) struct Canceled {
    pub(super) user: Option<User>,
    pub(super) text: Option<String>,
    pub(super) at: Instant,
}

/// What a transition was, for webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transition {
    Started,
    Finished,
    /// A running build was asked to stop (announced while it is still running).
    Interrupted,
    /// Canceled in the queue, or failed to start.
    RemovedFromQueue,
}

#[derive(Debug, Clone)]
pub(super) struct Build {
    pub(super) id: u64,
    pub(super) build_type: String,
    pub(super) branch: Option<String>,
    pub(super) default_branch: bool,
    /// The parameters posted with the trigger, sorted by name as TeamCity lists them.
    pub(super) properties: BTreeMap<String, String>,
    pub(super) comment: Option<Comment>,
    pub(super) triggered_by: Option<User>,
    pub(super) queued_at: Instant,
    pub(super) plan: Plan,
    pub(super) released_at: Option<Instant>,
    pub(super) phase: Phase,
    pub(super) number: Option<String>,
    pub(super) started_at: Option<Instant>,
    pub(super) finished_at: Option<Instant>,
    pub(super) status: Option<String>,
    pub(super) status_text: Option<String>,
    pub(super) canceled: Option<Canceled>,
    pub(super) failed_to_start: bool,
    pub(super) removed_from_queue: bool,
    /// When a client last read the build: alone, one field of it, or in a list.
    pub(super) last_read_at: Option<Instant>,
}

impl Build {
    /// A build of `build_type` queued at `now`, not started, for the default branch and
    /// with nothing posted; callers fill in what the trigger carried.
    pub(super) fn queued(id: u64, build_type: String, plan: Plan, now: Instant) -> Build {
        Build {
            id,
            build_type,
            branch: None,
            default_branch: true,
            properties: BTreeMap::new(),
            comment: None,
            triggered_by: None,
            queued_at: now,
            plan,
            released_at: None,
            phase: Phase::Queued,
            number: None,
            started_at: None,
            finished_at: None,
            status: None,
            status_text: None,
            canceled: None,
            failed_to_start: false,
            removed_from_queue: false,
            last_read_at: None,
        }
    }

    /// A fresh queued copy of this build under `id`: what it was triggered with, none of
    /// what happened to it.
    pub(super) fn requeued(&self, id: u64, now: Instant) -> Build {
        Build {
            branch: self.branch.clone(),
            default_branch: self.default_branch,
            properties: self.properties.clone(),
            comment: self.comment.clone(),
            triggered_by: self.triggered_by.clone(),
            ..Build::queued(id, self.build_type.clone(), self.plan.clone(), now)
        }
    }

    /// When a queued build leaves the queue, if it is allowed to yet.
    fn leaves_queue_at(&self) -> Option<Instant> {
        let spec = &self.plan.spec;
        if spec.stay_queued {
            self.released_at
        } else {
            Some(self.queued_at + spec.queue_time)
        }
    }

    /// Makes the next transition due at `now`, if any, and says which it was. `number`
    /// hands out the next build number of the build's type when it starts.
    pub(super) fn step(
        &mut self,
        now: Instant,
        number: &mut dyn FnMut(&str) -> u64,
    ) -> Option<Transition> {
        match self.phase {
            Phase::Queued => {
                let at = self.leaves_queue_at().filter(|at| *at <= now)?;
                if self.plan.spec.fail_to_start {
                    self.phase = Phase::Finished;
                    self.number = Some("N/A".into());
                    self.started_at = Some(at);
                    self.finished_at = Some(at);
                    self.status = Some("FAILURE".into());
                    self.status_text = Some(
                        self.plan
                            .spec
                            .status_text
                            .clone()
                            .unwrap_or_else(|| "Failed to start: no compatible agents".into()),
                    );
                    self.failed_to_start = true;
                    return Some(Transition::RemovedFromQueue);
                }
                self.phase = Phase::Running;
                self.number = Some(number(&self.build_type).to_string());
                self.started_at = Some(at);
                self.status = Some("SUCCESS".into());
                self.status_text = Some("Running".into());
                Some(Transition::Started)
            }
            Phase::Running => {
                let started = self.started_at.unwrap_or(self.queued_at);
                if let Some(canceled) = &self.canceled {
                    let at = canceled.at + self.plan.spec.stop_delay;
                    if at > now {
                        return None;
                    }
                    self.phase = Phase::Finished;
                    self.finished_at = Some(at);
                    // Canceled builds announce BUILD_INTERRUPTED only, never BUILD_FINISHED.
                    return None;
                }
                if self.plan.spec.hold || started + self.plan.duration > now {
                    return None;
                }
                let status = self.plan.status.clone();
                let text = self.plan.spec.status_text.clone();
                self.complete(started + self.plan.duration, &status, text);
                Some(Transition::Finished)
            }
            Phase::Finished => None,
        }
    }

    /// Finishes a running build with `status` at `at`.
    pub(super) fn complete(&mut self, at: Instant, status: &str, text: Option<String>) {
        self.phase = Phase::Finished;
        self.finished_at = Some(at);
        self.status = Some(status.to_string());
        let tests = self.plan.spec.tests;
        self.status_text = Some(text.unwrap_or_else(|| default_status_text(status, tests)));
    }

    /// Removes a queued build from the queue, as `user` (none: the server itself).
    pub(super) fn remove_from_queue(
        &mut self,
        user: Option<User>,
        text: Option<String>,
        now: Instant,
    ) {
        self.phase = Phase::Finished;
        self.number = Some("N/A".into());
        self.started_at = Some(now);
        self.finished_at = Some(now);
        self.status = Some("UNKNOWN".into());
        self.status_text = Some("Canceled".into());
        self.removed_from_queue = true;
        self.canceled = Some(Canceled {
            user,
            text,
            at: now,
        });
    }

    /// Asks a running build to stop: it stays running (with `canceledInfo`) until its
    /// type's `stop_delay` has passed, as an agent finishing its stop.
    pub(super) fn stop(&mut self, user: Option<User>, text: String, now: Instant) {
        self.status = Some("UNKNOWN".into());
        self.status_text = Some("Canceled".into());
        self.canceled = Some(Canceled {
            user,
            text: Some(text),
            at: now,
        });
    }

    /// Progress while running: elapsed over the planned duration (none for held builds).
    pub(super) fn percent(&self, now: Instant) -> Option<i64> {
        if self.phase != Phase::Running || self.plan.spec.hold {
            return None;
        }
        let started = self.started_at?;
        let total = self.plan.duration.as_millis().max(1);
        let elapsed = now.saturating_duration_since(started).as_millis();
        Some((elapsed * 100 / total).min(99) as i64)
    }

    /// Whether the build's resulting data (tests, artifacts, resulting properties) exists.
    pub(super) fn ran(&self) -> bool {
        self.started_at.is_some() && !self.failed_to_start && !self.removed_from_queue
    }

    /// The resulting parameters: the posted ones, TeamCity's own, and (once started) the
    /// ones the build type reports.
    pub(super) fn resulting_properties(&self) -> BTreeMap<String, String> {
        let mut all = self.properties.clone();
        all.insert("teamcity.build.id".into(), self.id.to_string());
        all.insert(
            "system.teamcity.buildType.id".into(),
            self.build_type.clone(),
        );
        if let Some(number) = &self.number {
            all.insert("build.number".into(), number.clone());
        }
        if let Some(branch) = &self.branch {
            all.insert("teamcity.build.branch".into(), branch.clone());
        }
        if self.ran() {
            for (name, value) in &self.plan.spec.resulting_properties {
                all.insert(name.clone(), value.clone());
            }
        }
        all
    }
}

/// TeamCity's status text for a finished build.
fn default_status_text(status: &str, tests: Option<TestCounts>) -> String {
    match (status, tests) {
        ("SUCCESS", Some(t)) if t.passed + t.ignored > 0 => {
            with_ignored(format!("Tests passed: {}", t.passed), t)
        }
        ("FAILURE", Some(t)) if t.failed > 0 => with_ignored(
            format!(
                "Tests failed: {} ({} new), passed: {}",
                t.failed, t.failed, t.passed
            ),
            t,
        ),
        ("SUCCESS", _) => "Success".into(),
        ("FAILURE", _) => "Exit code 1".into(),
        ("ERROR", _) => "Error".into(),
        _ => "Unknown".into(),
    }
}

fn with_ignored(text: String, tests: TestCounts) -> String {
    if tests.ignored > 0 {
        format!("{text}, ignored: {}", tests.ignored)
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(spec: BuildTypeSpec, now: Instant) -> Build {
        let plan = Plan {
            status: spec.status.clone(),
            duration: spec.duration,
            spec,
        };
        Build::queued(1, "App_Build".into(), plan, now)
    }

    #[test]
    fn runs_through_each_state_one_step_at_a_time() {
        let now = Instant::now();
        let spec = BuildTypeSpec {
            duration: Duration::from_millis(100),
            queue_time: Duration::from_millis(10),
            tests: Some(TestCounts {
                passed: 3,
                failed: 0,
                ignored: 1,
            }),
            ..BuildTypeSpec::default()
        };
        let mut b = build(spec, now);
        let mut numbers = |_: &str| 7;
        assert_eq!(b.step(now, &mut numbers), None);
        assert_eq!(
            b.step(now + Duration::from_millis(10), &mut numbers),
            Some(Transition::Started)
        );
        assert_eq!(b.number.as_deref(), Some("7"));
        assert_eq!(b.percent(now + Duration::from_millis(60)), Some(50));
        assert_eq!(
            b.step(now + Duration::from_millis(200), &mut numbers),
            Some(Transition::Finished)
        );
        assert_eq!(
            b.status_text.as_deref(),
            Some("Tests passed: 3, ignored: 1")
        );
        assert_eq!(b.finished_at, Some(now + Duration::from_millis(110)));
        assert_eq!(b.step(now + Duration::from_secs(9), &mut numbers), None);
    }

    #[test]
    fn stops_after_the_stop_delay_without_finishing_event() {
        let now = Instant::now();
        let spec = BuildTypeSpec {
            hold: true,
            stop_delay: Duration::from_millis(50),
            ..BuildTypeSpec::default()
        };
        let mut b = build(spec, now);
        let mut numbers = |_: &str| 1;
        assert_eq!(b.step(now, &mut numbers), Some(Transition::Started));
        b.stop(None, "stop".into(), now);
        assert_eq!(b.step(now + Duration::from_millis(10), &mut numbers), None);
        assert_eq!(b.phase, Phase::Running);
        assert_eq!(b.step(now + Duration::from_millis(60), &mut numbers), None);
        assert_eq!(b.phase, Phase::Finished);
        assert_eq!(b.status.as_deref(), Some("UNKNOWN"));
    }

    #[test]
    fn failing_to_start_skips_running() {
        let now = Instant::now();
        let spec = BuildTypeSpec {
            fail_to_start: true,
            ..BuildTypeSpec::default()
        };
        let mut b = build(spec, now);
        assert_eq!(b.step(now, &mut |_| 1), Some(Transition::RemovedFromQueue));
        assert!(b.failed_to_start);
        assert_eq!(b.status.as_deref(), Some("FAILURE"));
        assert!(!b.ran());
    }
}
