//! How executions move through stages: entering (through gates), starting each runOrder
//! group, settling a stage once its actions are done, and leaving it. `Flow` carries one
//! step's borrowed state and collects what changed.

use std::collections::BTreeSet;

use super::state::{
    ActionStatus, Execution, ExecutionId, ExecutionStatus, PipelineState, Position, StageStatus,
    Time,
};
use super::{Definitions, Effect, Step};
use crate::model::{ExecutionMode, Pipeline};

pub(super) struct Flow<'a> {
    pub(super) definitions: &'a Definitions,
    pub(super) state: &'a mut PipelineState,
    pub(super) now: Time,
    pub(super) effects: Vec<Effect>,
    pub(super) touched: BTreeSet<ExecutionId>,
    pub(super) gates_changed: bool,
}

impl<'a> Flow<'a> {
    pub(super) fn new(
        definitions: &'a Definitions,
        state: &'a mut PipelineState,
        now: Time,
    ) -> Self {
        Flow {
            definitions,
            state,
            now,
            effects: Vec::new(),
            touched: BTreeSet::new(),
            gates_changed: false,
        }
    }

    pub(super) fn finish(self) -> Step {
        Step {
            effects: self.effects,
            touched: self.touched,
            gates_changed: self.gates_changed,
        }
    }

    pub(super) fn definition(&self, execution: &str) -> Option<&'a Pipeline> {
        let version = self.state.executions.get(execution)?.version;
        self.definitions.get(&version).map(|d| d.as_ref())
    }

    /// The pipeline's execution mode, from its latest definition: gates are shared by
    /// every execution whatever version it runs, so they follow one mode.
    pub(super) fn mode(&self, _execution: &str) -> ExecutionMode {
        self.definitions
            .values()
            .next_back()
            .map_or(ExecutionMode::Superseded, |d| d.execution_mode)
    }

    /// The execution, marked as changed by this step.
    pub(super) fn exec_mut(&mut self, id: &str) -> Option<&mut Execution> {
        let execution = self.state.executions.get_mut(id)?;
        execution.updated_at = self.now;
        self.touched.insert(id.to_string());
        Some(execution)
    }

    /// Moves an execution forward as far as it can go now, then lets through whatever
    /// its moves freed.
    pub(super) fn advance(&mut self, id: &str) {
        let mut pending = vec![id.to_string()];
        while let Some(id) = pending.pop() {
            let mut freed = Vec::new();
            self.advance_one(&id, &mut freed);
            for stage in freed {
                pending.extend(self.admit(&stage));
            }
        }
    }

    /// Drives one execution; records stages whose lock it released.
    fn advance_one(&mut self, id: &str, freed: &mut Vec<String>) {
        loop {
            let Some(execution) = self.state.executions.get(id) else {
                return;
            };
            if execution.status.is_terminal() {
                return;
            }
            match execution.position {
                Position::Done => return,
                Position::Waiting(stage) => {
                    if !self.try_enter(id, stage) {
                        return;
                    }
                }
                Position::InStage(stage) => {
                    if !self.settle_stage(id, stage, freed) {
                        return;
                    }
                }
            }
        }
    }

    /// Settles the stage the execution is in: starts the next runOrder group, or ends the
    /// stage. Returns true when the execution moved on and should be driven further.
    fn settle_stage(&mut self, id: &str, stage: usize, freed: &mut Vec<String>) -> bool {
        let execution = &self.state.executions[id];
        let run = &execution.stages[stage];
        if run
            .actions
            .iter()
            .any(|a| a.status == Some(ActionStatus::InProgress))
        {
            return false;
        }
        let stopping = execution.status == ExecutionStatus::Stopping;
        let failed = run.actions.iter().any(|a| {
            matches!(
                a.status,
                Some(ActionStatus::Failed) | Some(ActionStatus::Abandoned)
            )
        });
        let next_group = run
            .actions
            .iter()
            .filter(|a| a.status.is_none())
            .map(|a| a.run_order)
            .min();
        if stopping {
            self.end_stage(id, stage, StageStatus::Stopped, freed);
            self.finish_execution(id, ExecutionStatus::Stopped, None);
            return false;
        }
        if failed {
            let summary = self.failure_summary(id, stage);
            self.end_stage(id, stage, StageStatus::Failed, freed);
            self.finish_execution(id, ExecutionStatus::Failed, Some(summary));
            return false;
        }
        if let Some(run_order) = next_group {
            self.start_group(id, stage, run_order);
            // Actions that failed at once (an unresolvable variable) settle right away.
            return !self.state.executions[id].stages[stage]
                .actions
                .iter()
                .any(|a| a.status == Some(ActionStatus::InProgress));
        }
        self.end_stage(id, stage, StageStatus::Succeeded, freed);
        let last = stage + 1 == self.state.executions[id].stages.len();
        if last {
            self.finish_execution(id, ExecutionStatus::Succeeded, None);
            return false;
        }
        self.wait_at(id, stage + 1);
        true
    }

    fn failure_summary(&self, id: &str, stage: usize) -> String {
        let run = &self.state.executions[id].stages[stage];
        let failures: Vec<String> = run
            .actions
            .iter()
            .filter(|a| a.status == Some(ActionStatus::Failed))
            .map(|a| {
                format!(
                    "{}/{}: {}",
                    run.name,
                    a.name,
                    a.error.as_deref().unwrap_or("failed")
                )
            })
            .collect();
        failures.join("; ")
    }

    /// Closes the stage with `status` and releases its lock.
    pub(super) fn end_stage(
        &mut self,
        id: &str,
        stage: usize,
        status: StageStatus,
        freed: &mut Vec<String>,
    ) {
        let now = self.now;
        let Some(execution) = self.exec_mut(id) else {
            return;
        };
        let run = &mut execution.stages[stage];
        run.status = Some(status);
        run.finished_at = Some(now);
        let name = run.name.clone();
        if self.release(id, &name) {
            freed.push(name);
        }
    }

    pub(super) fn finish_execution(
        &mut self,
        id: &str,
        status: ExecutionStatus,
        summary: Option<String>,
    ) {
        let now = self.now;
        let Some(execution) = self.exec_mut(id) else {
            return;
        };
        execution.status = status;
        execution.position = Position::Done;
        execution.finished_at = Some(now);
        if summary.is_some() {
            execution.status_summary = summary;
        }
        self.effects.push(Effect::Finished {
            execution: id.to_string(),
        });
    }

    /// Puts the execution in front of `stage`.
    pub(super) fn wait_at(&mut self, id: &str, stage: usize) {
        let Some(execution) = self.exec_mut(id) else {
            return;
        };
        execution.position = Position::Waiting(stage);
        let name = execution.stages[stage].name.clone();
        self.join_queue(id, &name);
    }
}
