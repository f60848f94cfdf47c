//! The scripted CI server's memory: its runs, how each was scripted to behave, the
//! trigger counters per key and the queue of injected faults. Shared between the HTTP
//! handlers and the test-side handle behind one mutex that is never held across an await.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl RunState {
    fn log_word(self) -> &'static str {
        match self {
            RunState::Running => "RUNNING",
            RunState::Succeeded => "SUCCEEDED",
            RunState::Failed => "FAILED",
            RunState::Cancelled => "CANCELLED",
        }
    }
}

/// A run as tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunView {
    pub id: String,
    pub key: String,
    pub job: String,
    pub parameters: BTreeMap<String, String>,
    pub state: RunState,
    /// Output variables; published when the run finishes.
    pub outputs: BTreeMap<String, String>,
    pub error: Option<String>,
    /// A cancel request reached this run (whether or not it was still running).
    pub cancel_requested: bool,
}

/// How a run ends, from its `Outcome` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Planned {
    Succeed,
    Fail,
    /// Runs until the test calls `release`.
    Hold,
}

/// A run's behaviour, read from its parameters when it is triggered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Script {
    planned: Planned,
    duration: Duration,
    outputs: BTreeMap<String, String>,
    log: String,
    error: Option<String>,
}

impl Script {
    /// Reads `Outcome`, `DurationMs`, `Outputs`, `Log` and `Error`; other parameters are
    /// only recorded.
    pub(super) fn parse(parameters: &BTreeMap<String, String>) -> Result<Script, String> {
        let planned = match parameters.get("Outcome").map(|v| v.trim()) {
            None | Some("") | Some("SUCCEEDED") => Planned::Succeed,
            Some("FAILED") => Planned::Fail,
            Some("HOLD") => Planned::Hold,
            Some(other) => {
                return Err(format!(
                    "parameter Outcome is `{other}`; expected SUCCEEDED, FAILED or HOLD"
                ))
            }
        };
        let duration = match parameters.get("DurationMs").map(|v| v.trim()) {
            None | Some("") => Duration::ZERO,
            Some(text) => text
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("parameter DurationMs is `{text}`; expected milliseconds"))?,
        };
        let outputs = match parameters.get("Outputs") {
            None => BTreeMap::new(),
            Some(text) => parse_outputs(text)?,
        };
        Ok(Script {
            planned,
            duration,
            outputs,
            log: parameters.get("Log").cloned().unwrap_or_default(),
            error: parameters.get("Error").cloned().filter(|e| !e.is_empty()),
        })
    }
}

/// `k=v,k2=v2` into a map; empty items are skipped.
fn parse_outputs(text: &str) -> Result<BTreeMap<String, String>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| match item.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(format!(
                "parameter Outputs has `{item}`; expected name=value"
            )),
        })
        .collect()
}

pub(super) struct Run {
    id: u64,
    key: String,
    job: String,
    parameters: BTreeMap<String, String>,
    script: Script,
    started: Instant,
    state: RunState,
    outputs: BTreeMap<String, String>,
    error: Option<String>,
    cancel_requested: bool,
}

impl Run {
    pub(super) fn id(&self) -> String {
        self.id.to_string()
    }

    pub(super) fn key(&self) -> &str {
        &self.key
    }

    pub(super) fn job(&self) -> &str {
        &self.job
    }

    pub(super) fn state(&self) -> RunState {
        self.state
    }

    pub(super) fn outputs(&self) -> &BTreeMap<String, String> {
        &self.outputs
    }

    pub(super) fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Finishes the run if its scripted duration has passed.
    fn settle(&mut self, now: Instant) {
        if self.state != RunState::Running
            || now.duration_since(self.started) < self.script.duration
        {
            return;
        }
        match self.script.planned {
            Planned::Succeed => self.finish(true, BTreeMap::new()),
            Planned::Fail => self.finish(false, BTreeMap::new()),
            Planned::Hold => {}
        }
    }

    fn finish(&mut self, succeeded: bool, extra: BTreeMap<String, String>) {
        let mut outputs = self.script.outputs.clone();
        outputs.extend(extra);
        self.outputs = outputs;
        if succeeded {
            self.state = RunState::Succeeded;
        } else {
            self.state = RunState::Failed;
            self.error = Some(
                self.script
                    .error
                    .clone()
                    .unwrap_or_else(|| format!("job `{}` failed", self.job)),
            );
        }
    }

    /// Progress in percent: elapsed over duration while running (below 100 until it
    /// finishes), 100 once finished, none for a held or cancelled run.
    pub(super) fn percent(&self, now: Instant) -> Option<u8> {
        match self.state {
            RunState::Succeeded | RunState::Failed => Some(100),
            RunState::Cancelled => None,
            RunState::Running if self.script.planned == Planned::Hold => None,
            RunState::Running if self.script.duration.is_zero() => Some(0),
            RunState::Running => {
                let elapsed = now.duration_since(self.started).as_millis();
                let total = self.script.duration.as_millis().max(1);
                Some((elapsed * 100 / total).min(99) as u8)
            }
        }
    }

    /// The `Log` parameter, then a `Finished: STATE` line once the run is over.
    pub(super) fn log_text(&self) -> String {
        let mut text = self.script.log.clone();
        if self.state != RunState::Running {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str("Finished: ");
            text.push_str(self.state.log_word());
            text.push('\n');
        }
        text
    }

    fn view(&self) -> RunView {
        RunView {
            id: self.id(),
            key: self.key.clone(),
            job: self.job.clone(),
            parameters: self.parameters.clone(),
            state: self.state,
            outputs: self.outputs.clone(),
            error: self.error.clone(),
            cancel_requested: self.cancel_requested,
        }
    }
}

/// Something the server does to a request instead of (or besides) answering it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    /// Answer with this status without handling the request.
    Status(u16),
    /// Answer 429 with `Retry-After: secs`.
    Throttle { retry_after_secs: u64 },
    /// Wait, then handle the request.
    Delay(Duration),
    /// Handle the request, then answer with this status (the response is "lost").
    LoseResponse(u16),
}

#[derive(Default)]
pub(super) struct Runs {
    runs: Vec<Run>,
    triggers: HashMap<String, usize>,
    faults: VecDeque<Fault>,
}

impl Runs {
    /// Records a trigger and creates its run; the same key again makes another run.
    pub(super) fn trigger(
        &mut self,
        key: String,
        job: String,
        parameters: BTreeMap<String, String>,
        script: Script,
        now: Instant,
    ) -> String {
        *self.triggers.entry(key.clone()).or_default() += 1;
        let id = self.runs.len() as u64 + 1;
        self.runs.push(Run {
            id,
            key,
            job,
            parameters,
            script,
            started: now,
            state: RunState::Running,
            outputs: BTreeMap::new(),
            error: None,
            cancel_requested: false,
        });
        id.to_string()
    }

    /// The run with this id, settled at `now`.
    pub(super) fn get(&mut self, id: &str, now: Instant) -> Option<&Run> {
        let index = self.index(id)?;
        let run = &mut self.runs[index];
        run.settle(now);
        Some(run)
    }

    /// Ids of the runs with this key (all runs without one), oldest first.
    pub(super) fn ids_with_key(&self, key: Option<&str>) -> Vec<String> {
        self.runs
            .iter()
            .filter(|r| key.is_none_or(|k| r.key == k))
            .map(Run::id)
            .collect()
    }

    /// Cancels the run if it is still running; None when there is no such run.
    pub(super) fn cancel(&mut self, id: &str, now: Instant) -> Option<()> {
        let index = self.index(id)?;
        let run = &mut self.runs[index];
        run.settle(now);
        run.cancel_requested = true;
        if run.state == RunState::Running {
            run.state = RunState::Cancelled;
        }
        Some(())
    }

    /// Finishes a running run named by id, or else the newest running run with that key.
    pub(super) fn release(
        &mut self,
        key_or_id: &str,
        succeeded: bool,
        outputs: BTreeMap<String, String>,
        now: Instant,
    ) -> bool {
        for run in &mut self.runs {
            run.settle(now);
        }
        let by_id = self
            .index(key_or_id)
            .filter(|&i| self.runs[i].state == RunState::Running);
        let by_key = || {
            self.runs
                .iter()
                .rposition(|r| r.key == key_or_id && r.state == RunState::Running)
        };
        match by_id.or_else(by_key) {
            Some(index) => {
                self.runs[index].finish(succeeded, outputs);
                true
            }
            None => false,
        }
    }

    pub(super) fn triggers(&self, key: &str) -> usize {
        self.triggers.get(key).copied().unwrap_or(0)
    }

    pub(super) fn total_triggers(&self) -> usize {
        self.triggers.values().sum()
    }

    pub(super) fn views(&mut self, now: Instant) -> Vec<RunView> {
        self.runs
            .iter_mut()
            .map(|run| {
                run.settle(now);
                run.view()
            })
            .collect()
    }

    pub(super) fn cancelled(&mut self, key: &str, now: Instant) -> bool {
        self.runs.iter_mut().any(|run| {
            run.settle(now);
            run.key == key && run.state == RunState::Cancelled
        })
    }

    pub(super) fn push_faults(&mut self, n: usize, fault: Fault) {
        self.faults.extend(std::iter::repeat_n(fault, n));
    }

    pub(super) fn next_fault(&mut self) -> Option<Fault> {
        self.faults.pop_front()
    }

    fn index(&self, id: &str) -> Option<usize> {
        let id: u64 = id.parse().ok()?;
        let index = usize::try_from(id).ok()?.checked_sub(1)?;
        (index < self.runs.len()).then_some(index)
    }
}

/// The server's state and settings, shared by the handlers and the handle.
pub(super) struct Shared {
    pub(super) base_url: String,
    pub(super) token: Option<String>,
    runs: Mutex<Runs>,
}

impl Shared {
    pub(super) fn new(base_url: String, token: Option<String>) -> Shared {
        Shared {
            base_url,
            token,
            runs: Mutex::new(Runs::default()),
        }
    }

    /// The runs, even if a panicking test thread poisoned the lock: the data stays usable.
    pub(super) fn lock(&self) -> MutexGuard<'_, Runs> {
        self.runs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn run_url(&self, id: &str) -> String {
        format!("{}/runs/{id}", self.base_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_scripts() {
        let script = Script::parse(&params(&[
            ("Outcome", "FAILED"),
            ("DurationMs", "250"),
            ("Outputs", "a=1, b=x=y,"),
            ("Log", "hello"),
        ]))
        .expect("valid script");
        assert_eq!(script.planned, Planned::Fail);
        assert_eq!(script.duration, Duration::from_millis(250));
        assert_eq!(script.outputs, params(&[("a", "1"), ("b", "x=y")]));
        assert_eq!(script.log, "hello");

        let default = Script::parse(&BTreeMap::new()).expect("valid script");
        assert_eq!(default.planned, Planned::Succeed);
        assert_eq!(default.duration, Duration::ZERO);

        for bad in [
            ("Outcome", "MAYBE"),
            ("DurationMs", "soon"),
            ("Outputs", "novalue"),
        ] {
            assert!(Script::parse(&params(&[bad])).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn runs_finish_after_their_duration() {
        let mut runs = Runs::default();
        let start = Instant::now();
        let script = Script::parse(&params(&[("DurationMs", "100"), ("Outputs", "v=1")]))
            .expect("valid script");
        let id = runs.trigger("k".into(), "job".into(), BTreeMap::new(), script, start);
        let run = runs
            .get(&id, start + Duration::from_millis(50))
            .expect("run");
        assert_eq!(run.state(), RunState::Running);
        assert_eq!(run.percent(start + Duration::from_millis(50)), Some(50));
        assert!(run.outputs().is_empty());
        let run = runs
            .get(&id, start + Duration::from_millis(100))
            .expect("run");
        assert_eq!(run.state(), RunState::Succeeded);
        assert_eq!(run.outputs(), &params(&[("v", "1")]));
        assert_eq!(run.log_text(), "Finished: SUCCEEDED\n");
    }

    #[test]
    fn release_prefers_ids_then_the_newest_running_run_of_a_key() {
        let mut runs = Runs::default();
        let now = Instant::now();
        let hold = || Script::parse(&params(&[("Outcome", "HOLD")])).expect("valid script");
        let first = runs.trigger("k".into(), "j".into(), BTreeMap::new(), hold(), now);
        let second = runs.trigger("k".into(), "j".into(), BTreeMap::new(), hold(), now);
        assert!(runs.release("k", false, BTreeMap::new(), now));
        assert_eq!(
            runs.get(&second, now).map(Run::state),
            Some(RunState::Failed)
        );
        assert_eq!(
            runs.get(&first, now).map(Run::state),
            Some(RunState::Running)
        );
        assert!(runs.release(&first, true, params(&[("x", "y")]), now));
        assert_eq!(
            runs.get(&first, now).map(Run::outputs),
            Some(&params(&[("x", "y")]))
        );
        assert!(!runs.release("k", true, BTreeMap::new(), now));
        assert_eq!(runs.triggers("k"), 2);
        assert_eq!(runs.total_triggers(), 2);
    }
}
