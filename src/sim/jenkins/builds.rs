//! A build (Jenkins' `Run`): what it was started with, how it was scripted to behave, and
//! its state over time. A build runs from its start for its planned duration (or until
//! `finish`/a stop for held builds); its console log grows line by line meanwhile.
//!
//! The raw log holds console notes (`ESC[8mha:…ESC[0m`), as a real log file does, so the
//! byte offsets of `progressiveText` (`X-Text-Size`) are offsets into the raw log, not
//! counts of the text a client received.

use std::time::Duration;

use tokio::time::Instant;

use super::spec::{JobKind, ParamKind, TestCounts};

/// The hidden bytes of a `HyperlinkNote`, as Jenkins writes before a user's name.
const NOTE: &str = "\u{1b}[8mha:////4NeUB6bL1XlTkEbv9J1NDS0sdcj8Oq5t4uSO8bJu9kw6AAAAlx+LCAAAAAAAAP9b85aBtbiIQTGjNKU4P08vOT+vOD8nVc83PyU1x6OyILUoJzMv2y+/JJUBAlr8AAAA\u{1b}[0m";

/// How long a stopped build takes to abort: `stop` answers at once, and the executor
/// is interrupted asynchronously (reference §7.1).
pub(super) const STOP_LATENCY: Duration = Duration::from_millis(50);

/// One parameter value of a build or a queue item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ParamValue {
    pub(super) name: String,
    pub(super) value: String,
    pub(super) kind: ParamKind,
}

impl ParamValue {
    /// `hudson.model.*ParameterValue` class of the value.
    pub(super) fn class(&self) -> &'static str {
        match self.kind {
            ParamKind::String => "hudson.model.StringParameterValue",
            ParamKind::Text => "hudson.model.TextParameterValue",
            ParamKind::Boolean => "hudson.model.BooleanParameterValue",
            ParamKind::Choice(_) => "hudson.model.StringParameterValue",
            ParamKind::Password => "hudson.model.PasswordParameterValue",
        }
    }

    pub(super) fn sensitive(&self) -> bool {
        self.kind == ParamKind::Password
    }

    /// `getShortDescription()`, as in a queue item's `params`.
    pub(super) fn short_description(&self) -> String {
        if self.sensitive() {
            format!("{}=****", self.name)
        } else {
            format!("{}={}", self.name, self.value)
        }
    }
}

/// Why a build was started (`CauseAction`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Cause {
    /// `Cause$UserIdCause`; `user_id` is `None` for anonymous.
    User { user_id: Option<String> },
    /// `Cause$RemoteCause`: a trigger with the job's remote token.
    Remote { addr: String, note: Option<String> },
}

impl Cause {
    pub(super) fn short_description(&self) -> String {
        match self {
            Cause::User { user_id } => {
                format!(
                    "Started by user {}",
                    user_id.as_deref().unwrap_or("anonymous")
                )
            }
            Cause::Remote { addr, note: None } => format!("Started by remote host {addr}"),
            Cause::Remote {
                addr,
                note: Some(note),
            } => format!("Started by remote host {addr} with note: {note}"),
        }
    }

    /// The first log line, with a console note around a user link as Jenkins writes it.
    fn log_line(&self) -> String {
        match self {
            Cause::User { user_id: Some(id) } => format!("Started by user {NOTE}{id}"),
            other => other.short_description(),
        }
    }
}

/// How the build was scripted when it started.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Plan {
    pub(super) result: String,
    pub(super) duration: Duration,
    pub(super) hold: bool,
    pub(super) result_while_building: bool,
    pub(super) log: Vec<String>,
    pub(super) test_report: Option<TestCounts>,
    pub(super) artifacts: Vec<(String, String)>,
    /// Time between the result and the end of post-production (FreeStyle only).
    pub(super) post_production: Duration,
}

/// How a build ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct End {
    pub(super) at: Instant,
    pub(super) result: String,
    /// Post-production is over: artifacts archived, log complete, FINALIZED sent.
    pub(super) finalized: bool,
}

/// A stop, term or kill request: `InterruptedBuildAction` with a `UserInterruption`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Interruption {
    pub(super) by: String,
    pub(super) at: Instant,
}

#[derive(Debug, Clone)]
pub(super) struct Build {
    pub(super) number: u32,
    pub(super) queue_id: u64,
    pub(super) kind: JobKind,
    pub(super) params: Option<Vec<ParamValue>>,
    pub(super) causes: Vec<Cause>,
    pub(super) enqueued_at: Instant,
    pub(super) started_at: Instant,
    pub(super) plan: Plan,
    pub(super) end: Option<End>,
    pub(super) interruption: Option<Interruption>,
    pub(super) description: Option<String>,
}

impl Build {
    pub(super) fn building(&self) -> bool {
        self.end.is_none()
    }

    /// `inProgress`: still building, or still in post-production.
    pub(super) fn in_progress(&self) -> bool {
        !self.end.as_ref().is_some_and(|end| end.finalized)
    }

    /// When post-production ends, for a build that has a result but is not finalized.
    pub(super) fn finalizes_at(&self) -> Option<Instant> {
        let end = self.end.as_ref().filter(|end| !end.finalized)?;
        Some(end.at + self.plan.post_production)
    }

    /// Whether the build ended with one of `results`.
    pub(super) fn ended_with(&self, results: &[&str]) -> bool {
        self.end
            .as_ref()
            .is_some_and(|end| results.contains(&end.result.as_str()))
    }

    /// When the build ends by itself, and with which result: at the end of its planned
    /// duration (never, for a held build), or shortly after a stop request, whichever
    /// comes first. `None` once it has ended.
    pub(super) fn planned_end(&self) -> Option<(Instant, &str)> {
        if self.end.is_some() {
            return None;
        }
        let natural = (!self.plan.hold).then(|| self.started_at + self.plan.duration);
        let stopped = self.interruption.as_ref().map(|i| i.at + STOP_LATENCY);
        match (natural, stopped) {
            (Some(end), Some(stop)) if end <= stop => Some((end, &self.plan.result)),
            (_, Some(stop)) => Some((stop, "ABORTED")),
            (Some(end), None) => Some((end, &self.plan.result)),
            (None, None) => None,
        }
    }

    /// The exported `result`: null while building, except for a Pipeline that set its
    /// result early (second half of the planned duration).
    pub(super) fn result(&self, now: Instant) -> Option<&str> {
        match &self.end {
            Some(end) => Some(&end.result),
            None if self.plan.result_while_building
                && !self.plan.hold
                && now.saturating_duration_since(self.started_at) * 2 >= self.plan.duration =>
            {
                Some(&self.plan.result)
            }
            None => None,
        }
    }

    /// Milliseconds from start to end; 0 while building, as Jenkins exports it.
    pub(super) fn duration(&self) -> Duration {
        self.end.as_ref().map_or(Duration::ZERO, |end| {
            end.at.saturating_duration_since(self.started_at)
        })
    }

    /// Ends the build now (if still building); true if it did.
    pub(super) fn end_now(&mut self, at: Instant, result: &str) -> bool {
        if self.end.is_some() {
            return false;
        }
        self.end = Some(End {
            at,
            result: result.to_string(),
            finalized: self.plan.post_production.is_zero(),
        });
        true
    }

    /// The test report, once the build completed (the junit step runs at its end), and
    /// not for a build that was aborted.
    pub(super) fn test_report(&self) -> Option<TestCounts> {
        let end = self.end.as_ref()?;
        (end.result != "ABORTED")
            .then_some(self.plan.test_report)
            .flatten()
    }

    /// Archived artifacts, once the build completed and post-production is over.
    pub(super) fn artifacts(&self) -> &[(String, String)] {
        match &self.end {
            Some(end) if end.finalized && end.result != "ABORTED" => &self.plan.artifacts,
            _ => &[],
        }
    }

    /// The raw console log at `now`, console notes included.
    pub(super) fn raw_log(&self, now: Instant) -> String {
        let mut log = String::new();
        if let Some(cause) = self.causes.first() {
            log.push_str(&cause.log_line());
            log.push('\n');
        }
        let lines = &self.plan.log;
        let shown = match &self.end {
            Some(_) => lines.len(),
            None => visible_lines(
                lines.len(),
                now.saturating_duration_since(self.started_at),
                self.plan.duration,
            ),
        };
        for line in &lines[..shown] {
            log.push_str(line);
            log.push('\n');
        }
        if let Some(end) = &self.end {
            if let Some(interruption) = &self.interruption {
                log.push_str(&format!("Aborted by {}\n", interruption.by));
            }
            if end.finalized {
                log.push_str(&format!("Finished: {}\n", end.result));
            }
        }
        log
    }
}

/// How many of `total` log lines have been written after `elapsed` of `duration`: the
/// first at once, the rest spread evenly.
fn visible_lines(total: usize, elapsed: Duration, duration: Duration) -> usize {
    if duration.is_zero() || elapsed >= duration {
        return total;
    }
    let shown = (total as u128 * elapsed.as_millis()) / duration.as_millis().max(1) + 1;
    usize::try_from(shown).unwrap_or(total).min(total)
}

/// Console text as a client sees it: console notes removed.
pub(super) fn strip_notes(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find("\u{1b}[8mha:") {
        out.push_str(&rest[..start]);
        match rest[start..].find("\u{1b}[0m") {
            Some(end) => rest = &rest[start + end + 4..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(duration_ms: u64, lines: &[&str]) -> Build {
        let now = Instant::now();
        Build {
            number: 1,
            queue_id: 1,
            kind: JobKind::Pipeline,
            params: None,
            causes: vec![Cause::User {
                user_id: Some("ci-bot".into()),
            }],
            enqueued_at: now,
            started_at: now,
            plan: Plan {
                result: "SUCCESS".into(),
                duration: Duration::from_millis(duration_ms),
                hold: false,
                result_while_building: false,
                log: lines.iter().map(|l| l.to_string()).collect(),
                test_report: None,
                artifacts: Vec::new(),
                post_production: Duration::ZERO,
            },
            end: None,
            interruption: None,
            description: None,
        }
    }

    #[test]
    fn log_grows_and_ends_with_the_result() {
        let mut b = build(1000, &["one", "two", "three", "four"]);
        let start = b.started_at;
        let early = strip_notes(&b.raw_log(start));
        assert_eq!(early, "Started by user ci-bot\none\n");
        let half = strip_notes(&b.raw_log(start + Duration::from_millis(500)));
        assert_eq!(half, "Started by user ci-bot\none\ntwo\nthree\n");
        assert!(
            b.raw_log(start).len() > early.len(),
            "notes are in the raw log"
        );
        b.end_now(start + Duration::from_millis(1000), "SUCCESS");
        let done = strip_notes(&b.raw_log(start + Duration::from_millis(1000)));
        assert!(done.ends_with("four\nFinished: SUCCESS\n"), "{done}");
        assert_eq!(b.duration(), Duration::from_millis(1000));
    }

    #[test]
    fn result_may_show_early_for_pipelines_that_set_it() {
        let mut b = build(1000, &[]);
        let start = b.started_at;
        assert_eq!(b.result(start + Duration::from_millis(400)), None);
        b.plan.result_while_building = true;
        assert_eq!(b.result(start + Duration::from_millis(400)), None);
        assert_eq!(
            b.result(start + Duration::from_millis(600)),
            Some("SUCCESS")
        );
        assert!(b.building());
    }
}
