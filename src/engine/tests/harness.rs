//! The engine's test harness: a builder for pipeline definitions, a `Harness` that applies
//! events at a hand-driven clock, and readers for statuses, effects and gates.
//!
//! Every step the harness applies is checked against the state machine's invariants (see
//! `invariants.rs`), and a rejected event must leave the state exactly as it was, so each
//! test checks much more than its own assertions.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};

use super::invariants::check_step;
use crate::engine::state::{
    ActionRun, ActionStatus, Execution, PipelineState, Position, RunId, StageRun, Time, Trigger,
};
use crate::engine::{apply, ActionOutcome, Definitions, Effect, Event, Rejection, Step};
use crate::model::{
    Action, ActionTypeId, Category, ConfigValue, ExecutionMode, Owner, Pipeline, Stage,
    VariableDeclaration,
};

// ---------------------------------------------------------------------------------------
// Definitions
// ---------------------------------------------------------------------------------------

/// An empty pipeline; add stages with [`PipelineExt::stage`].
pub fn pipeline(name: &str, mode: ExecutionMode) -> Pipeline {
    Pipeline {
        name: name.to_string(),
        execution_mode: mode,
        variables: Vec::new(),
        stages: Vec::new(),
        triggers: Vec::new(),
    }
}

pub trait PipelineExt {
    fn stage(self, name: &str, actions: Vec<Action>) -> Self;
    fn variable(self, name: &str, default: Option<&str>) -> Self;
}

impl PipelineExt for Pipeline {
    fn stage(mut self, name: &str, actions: Vec<Action>) -> Self {
        self.stages.push(Stage {
            name: name.to_string(),
            actions,
        });
        self
    }

    fn variable(mut self, name: &str, default: Option<&str>) -> Self {
        self.variables.push(VariableDeclaration {
            name: name.to_string(),
            default_value: default.map(str::to_string),
            description: None,
        });
        self
    }
}

fn action(name: &str, category: Category, owner: Owner, provider: &str) -> Action {
    Action {
        name: name.to_string(),
        action_type_id: ActionTypeId {
            category,
            owner,
            provider: provider.to_string(),
            version: "1".to_string(),
        },
        run_order: 1,
        configuration: BTreeMap::new(),
        input_artifacts: Vec::new(),
        output_artifacts: Vec::new(),
        namespace: None,
        timeout_in_minutes: None,
    }
}

/// The built-in git source.
pub fn git_source(name: &str) -> Action {
    action(name, Category::Source, Owner::ThirdParty, "Git")
        .config("RepositoryUrl", "https://git.example.com/app.git")
        .config("BranchName", "main")
}

/// A manual approval, as imported pipelines write it.
pub fn approval(name: &str) -> Action {
    action(name, Category::Approval, Owner::Aws, "Manual")
}

/// A Jenkins job (`provider: Jenkins`).
pub fn jenkins(name: &str, job: &str) -> Action {
    action(name, Category::Build, Owner::ThirdParty, "Jenkins").config("ProjectName", job)
}

pub trait ActionExt {
    fn order(self, run_order: u16) -> Self;
    fn namespace(self, namespace: &str) -> Self;
    fn config(self, key: &str, value: &str) -> Self;
    fn config_map(self, key: &str, entries: &[(&str, &str)]) -> Self;
    fn timeout(self, minutes: u32) -> Self;
}

impl ActionExt for Action {
    fn order(mut self, run_order: u16) -> Self {
        self.run_order = run_order;
        self
    }

    fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.to_string());
        self
    }

    fn config(mut self, key: &str, value: &str) -> Self {
        self.configuration
            .insert(key.to_string(), ConfigValue::Text(value.to_string()));
        self
    }

    fn config_map(mut self, key: &str, entries: &[(&str, &str)]) -> Self {
        let map = entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.configuration
            .insert(key.to_string(), ConfigValue::Map(map));
        self
    }

    fn timeout(mut self, minutes: u32) -> Self {
        self.timeout_in_minutes = Some(minutes);
        self
    }
}

/// Source → Build → Deploy, one action each: `Source/Checkout` (git), `Build/Compile` and
/// `Deploy/Ship` (Jenkins).
pub fn three_stages(mode: ExecutionMode) -> Pipeline {
    pipeline("app", mode)
        .stage("Source", vec![git_source("Checkout").namespace("Src")])
        .stage("Build", vec![jenkins("Compile", "app-build")])
        .stage("Deploy", vec![jenkins("Ship", "app-deploy")])
}

// ---------------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------------

/// The clock's starting point.
pub fn t0() -> Time {
    Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap()
}

pub struct Harness {
    pub definitions: Definitions,
    pub state: PipelineState,
    pub now: Time,
    /// Every effect of every step so far, in order.
    pub effects: Vec<Effect>,
    /// The last successful step.
    pub last: Step,
    /// Every event applied (accepted or not) with its time, for replays.
    pub events: Vec<(Time, Event)>,
    /// Every run id a `RunAction` named so far.
    issued: BTreeSet<RunId>,
}

impl Harness {
    pub fn new(pipeline: Pipeline) -> Harness {
        Harness::with_versions(vec![pipeline])
    }

    /// Definitions as versions 1, 2, ...
    pub fn with_versions(pipelines: Vec<Pipeline>) -> Harness {
        let definitions = pipelines
            .into_iter()
            .enumerate()
            .map(|(i, p)| (i as u32 + 1, Arc::new(p)))
            .collect();
        Harness {
            definitions,
            state: PipelineState::default(),
            now: t0(),
            effects: Vec::new(),
            last: Step::default(),
            events: Vec::new(),
            issued: BTreeSet::new(),
        }
    }

    pub fn latest_version(&self) -> u32 {
        *self.definitions.keys().next_back().expect("a definition")
    }

    /// Advances the clock.
    pub fn tick(&mut self, minutes: i64) {
        self.now += Duration::minutes(minutes);
    }

    /// Applies an event and checks the step; a rejection must leave the state untouched.
    pub fn try_apply(&mut self, event: Event) -> Result<Vec<Effect>, Rejection> {
        let before = self.state.clone();
        self.events.push((self.now, event.clone()));
        match apply(&self.definitions, &mut self.state, &event, self.now) {
            Err(rejection) => {
                assert_eq!(
                    self.state, before,
                    "the rejected event {event:?} ({rejection:?}) changed the state"
                );
                Err(rejection)
            }
            Ok(step) => {
                check_step(
                    &self.definitions,
                    &before,
                    &self.state,
                    &step,
                    &mut self.issued,
                );
                let effects = step.effects.clone();
                self.effects.extend(effects.clone());
                self.last = step;
                Ok(effects)
            }
        }
    }

    /// Applies an event that must be accepted.
    pub fn apply(&mut self, event: Event) -> Vec<Effect> {
        self.try_apply(event.clone())
            .unwrap_or_else(|r| panic!("{event:?} was rejected: {r:?}"))
    }

    /// Applies the same events to a fresh state, at the same times, and checks it ends in
    /// the same state with the same effects.
    pub fn assert_replays_identically(&self) {
        let mut again = Harness {
            definitions: self.definitions.clone(),
            ..Harness::new(pipeline("unused", ExecutionMode::Superseded))
        };
        for (at, event) in &self.events {
            again.now = *at;
            let _ = again.try_apply(event.clone());
        }
        assert_eq!(again.state, self.state, "a replay ended in another state");
        assert_eq!(again.effects, self.effects, "a replay gave other effects");
    }

    pub fn start_event(&self, id: &str, variables: &[(&str, &str)]) -> Event {
        Event::Start {
            execution: id.to_string(),
            version: self.latest_version(),
            trigger: Trigger {
                kind: "StartPipelineExecution".to_string(),
                detail: None,
                by: Some("tester".to_string()),
            },
            variables: pairs(variables),
            revision: None,
        }
    }

    /// Starts an execution one second after the previous event, so that start times
    /// increase with the (sortable) ids.
    pub fn start(&mut self, id: &str) -> Vec<Effect> {
        self.start_with(id, &[])
    }

    pub fn start_with(&mut self, id: &str, variables: &[(&str, &str)]) -> Vec<Effect> {
        self.now += Duration::seconds(1);
        let event = self.start_event(id, variables);
        self.apply(event)
    }

    pub fn try_start_with(
        &mut self,
        id: &str,
        variables: &[(&str, &str)],
    ) -> Result<Vec<Effect>, Rejection> {
        self.now += Duration::seconds(1);
        let event = self.start_event(id, variables);
        self.try_apply(event)
    }

    pub fn complete(&mut self, run_id: &str, ok: bool, outputs: &[(&str, &str)]) -> Vec<Effect> {
        let outcome = if ok {
            ActionOutcome::Succeeded {
                outputs: pairs(outputs),
                summary: None,
            }
        } else {
            ActionOutcome::Failed {
                error: "job failed".to_string(),
                outputs: pairs(outputs),
            }
        };
        self.report(run_id, outcome)
    }

    pub fn report(&mut self, run_id: &str, outcome: ActionOutcome) -> Vec<Effect> {
        self.apply(Event::ActionCompleted {
            execution: execution_of(run_id),
            run_id: run_id.to_string(),
            outcome,
        })
    }

    pub fn succeed(&mut self, run_id: &str) -> Vec<Effect> {
        self.complete(run_id, true, &[])
    }

    pub fn fail(&mut self, run_id: &str, error: &str) -> Vec<Effect> {
        self.report(
            run_id,
            ActionOutcome::Failed {
                error: error.to_string(),
                outputs: BTreeMap::new(),
            },
        )
    }

    /// Succeeds the current run of `stage/action` of `execution`.
    pub fn pass(&mut self, execution: &str, stage: &str, action: &str) -> Vec<Effect> {
        let run_id = self.run_id(execution, stage, action);
        self.succeed(&run_id)
    }

    pub fn started(&mut self, run_id: &str, external_id: &str, url: Option<&str>) -> Vec<Effect> {
        self.apply(Event::ActionStarted {
            execution: execution_of(run_id),
            run_id: run_id.to_string(),
            external_id: external_id.to_string(),
            external_url: url.map(str::to_string),
        })
    }

    pub fn timeout(&mut self, run_id: &str) -> Vec<Effect> {
        self.apply(Event::Timeout {
            execution: execution_of(run_id),
            run_id: run_id.to_string(),
        })
    }

    pub fn vote(
        &mut self,
        execution: &str,
        stage: &str,
        action: &str,
        approved: bool,
        by: &str,
        comment: Option<&str>,
    ) -> Result<Vec<Effect>, Rejection> {
        self.try_apply(Event::Approval {
            execution: execution.to_string(),
            stage: stage.to_string(),
            action: action.to_string(),
            approved,
            by: by.to_string(),
            comment: comment.map(str::to_string),
        })
    }

    pub fn approve(
        &mut self,
        execution: &str,
        stage: &str,
        action: &str,
        by: &str,
    ) -> Result<Vec<Effect>, Rejection> {
        self.vote(execution, stage, action, true, by, None)
    }

    pub fn reject(
        &mut self,
        execution: &str,
        stage: &str,
        action: &str,
        by: &str,
        comment: &str,
    ) -> Result<Vec<Effect>, Rejection> {
        self.vote(execution, stage, action, false, by, Some(comment))
    }

    pub fn stop(&mut self, execution: &str, abandon: bool) -> Result<Vec<Effect>, Rejection> {
        self.try_apply(Event::Stop {
            execution: execution.to_string(),
            abandon,
            reason: Some("bad commit".to_string()),
            by: Some("oncall".to_string()),
        })
    }

    pub fn retry(
        &mut self,
        execution: &str,
        stage: &str,
        all_actions: bool,
    ) -> Result<Vec<Effect>, Rejection> {
        self.try_apply(Event::Retry {
            execution: execution.to_string(),
            stage: stage.to_string(),
            all_actions,
            by: Some("dev".to_string()),
        })
    }

    pub fn transition(
        &mut self,
        stage: &str,
        enabled: bool,
        reason: Option<&str>,
    ) -> Result<Vec<Effect>, Rejection> {
        self.try_apply(Event::SetTransition {
            stage: stage.to_string(),
            enabled,
            reason: reason.map(str::to_string),
            by: Some("release-manager".to_string()),
        })
    }

    pub fn disable(&mut self, stage: &str) -> Vec<Effect> {
        self.transition(stage, false, Some("freeze"))
            .expect("disabling a transition")
    }

    pub fn enable(&mut self, stage: &str) -> Vec<Effect> {
        self.transition(stage, true, None)
            .expect("enabling a transition")
    }

    // --- Reading the state --------------------------------------------------------------

    pub fn exec(&self, id: &str) -> &Execution {
        self.state
            .executions
            .get(id)
            .unwrap_or_else(|| panic!("no execution {id}"))
    }

    pub fn stage_run(&self, id: &str, stage: &str) -> &StageRun {
        let execution = self.exec(id);
        let index = execution
            .stage_index(stage)
            .unwrap_or_else(|| panic!("no stage {stage} in {id}"));
        &execution.stages[index]
    }

    pub fn action(&self, id: &str, stage: &str, action: &str) -> &ActionRun {
        self.stage_run(id, stage)
            .actions
            .iter()
            .find(|a| a.name == action)
            .unwrap_or_else(|| panic!("no action {stage}/{action} in {id}"))
    }

    /// The current run id of the action (it must have one).
    pub fn run_id(&self, id: &str, stage: &str, action: &str) -> RunId {
        self.action(id, stage, action)
            .run_id
            .clone()
            .unwrap_or_else(|| panic!("{id} {stage}/{action} has no run"))
    }

    pub fn status(&self, id: &str) -> &'static str {
        self.exec(id).status.as_str()
    }

    pub fn assert_status(&self, id: &str, expected: &str) {
        assert_eq!(
            self.status(id),
            expected,
            "status of {id} ({:?})",
            self.exec(id).status_summary
        );
    }

    pub fn assert_stage(&self, id: &str, stage: &str, expected: &str) {
        assert_eq!(
            name_of(self.stage_run(id, stage).status),
            expected,
            "status of {id} {stage}"
        );
    }

    pub fn assert_action(&self, id: &str, stage: &str, action: &str, expected: &str) {
        let run = self.action(id, stage, action);
        assert_eq!(
            name_of(run.status),
            expected,
            "status of {id} {stage}/{action} (error {:?})",
            run.error
        );
    }

    /// `In(Stage)`, `Waiting(Stage)` or `Done`.
    pub fn position(&self, id: &str) -> String {
        let execution = self.exec(id);
        match execution.position {
            Position::InStage(s) => format!("In({})", execution.stages[s].name),
            Position::Waiting(s) => format!("Waiting({})", execution.stages[s].name),
            Position::Done => "Done".to_string(),
        }
    }

    pub fn occupant(&self, stage: &str) -> Option<&str> {
        self.state.gates.occupant.get(stage).map(String::as_str)
    }

    pub fn waiting(&self, stage: &str) -> Vec<&str> {
        self.state
            .gates
            .waiting
            .get(stage)
            .map(|q| q.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// Every in-progress run of every execution, as (execution, stage, action, run id).
    pub fn live_runs(&self) -> Vec<(String, String, String, RunId)> {
        let mut live = Vec::new();
        for (id, execution) in &self.state.executions {
            for stage in &execution.stages {
                for run in &stage.actions {
                    if run.status == Some(ActionStatus::InProgress) {
                        live.push((
                            id.clone(),
                            stage.name.clone(),
                            run.name.clone(),
                            run.run_id.clone().unwrap_or_default(),
                        ));
                    }
                }
            }
        }
        live
    }
}

/// `e01.3` → `e01`.
pub fn execution_of(run_id: &str) -> String {
    run_id
        .rsplit_once('.')
        .map_or(run_id, |(execution, _)| execution)
        .to_string()
}

pub fn pairs(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A stage or action status as its name; `-` when not set.
pub fn name_of<T: std::fmt::Debug>(status: Option<T>) -> String {
    status.map_or("-".to_string(), |s| format!("{s:?}"))
}

// --- Reading effects ----------------------------------------------------------------

/// Run ids of the `RunAction` effects.
pub fn run_actions(effects: &[Effect]) -> Vec<&str> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::RunAction { run_id, .. } => Some(run_id.as_str()),
            _ => None,
        })
        .collect()
}

/// (run id, external id) of the `CancelAction` effects.
pub fn cancels(effects: &[Effect]) -> Vec<(&str, Option<&str>)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::CancelAction {
                run_id,
                external_id,
                ..
            } => Some((run_id.as_str(), external_id.as_deref())),
            _ => None,
        })
        .collect()
}

/// (run id, when) of the `ArmTimer` effects.
pub fn timers(effects: &[Effect]) -> Vec<(&str, Time)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ArmTimer { run_id, at, .. } => Some((run_id.as_str(), *at)),
            _ => None,
        })
        .collect()
}

/// Executions named by `Finished` effects.
pub fn finished(effects: &[Effect]) -> Vec<&str> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Finished { execution } => Some(execution.as_str()),
            _ => None,
        })
        .collect()
}
