//! Commands from people and tools: start, approve, stop, retry, transitions. Each checks
//! everything before it changes anything, so a refused command leaves the state as it was.

use std::collections::BTreeMap;

use super::actions::{minimum_approvals, reset};
use super::flow::Flow;
use super::state::{
    ActionRun, ActionStatus, ApprovalVote, Execution, ExecutionStatus, Position, StageRun,
    StageStatus, StopRequest, Transition, Trigger,
};
use super::{Effect, Rejection};
use crate::model::ExecutionMode;

impl Flow<'_> {
    pub(super) fn start(
        &mut self,
        id: &str,
        version: u32,
        trigger: &Trigger,
        given: &BTreeMap<String, String>,
        revision: &Option<String>,
    ) -> Result<(), Rejection> {
        if self.state.executions.contains_key(id) {
            return Err(Rejection::Conflict(format!(
                "execution {id} already exists"
            )));
        }
        let definition = self.definitions.get(&version).ok_or_else(|| {
            Rejection::Invalid(format!("pipeline version {version} is not known"))
        })?;
        if let Some(unknown) = given
            .keys()
            .find(|name| !definition.variables.iter().any(|v| &v.name == *name))
        {
            return Err(Rejection::Invalid(format!(
                "variable `{unknown}` is not declared by pipeline {}",
                definition.name
            )));
        }
        let mut variables = BTreeMap::new();
        for declared in &definition.variables {
            let value = given
                .get(&declared.name)
                .or(declared.default_value.as_ref())
                .ok_or_else(|| {
                    Rejection::Invalid(format!(
                        "variable `{}` has no default value; give it at start",
                        declared.name
                    ))
                })?;
            variables.insert(declared.name.clone(), value.clone());
        }
        let stages = definition
            .stages
            .iter()
            .map(|stage| StageRun {
                name: stage.name.clone(),
                status: None,
                attempt: 0,
                started_at: None,
                finished_at: None,
                actions: stage
                    .actions
                    .iter()
                    .map(|a| ActionRun::fresh(a.name.clone(), a.run_order))
                    .collect(),
            })
            .collect();
        let execution = Execution {
            id: id.to_string(),
            pipeline: definition.name.clone(),
            version,
            status: ExecutionStatus::InProgress,
            status_summary: None,
            trigger: trigger.clone(),
            variables,
            revision: revision.clone(),
            position: Position::Waiting(0),
            stages,
            stop: None,
            started_at: self.now,
            updated_at: self.now,
            finished_at: None,
            runs_started: 0,
        };
        self.state.executions.insert(id.to_string(), execution);
        self.wait_at(id, 0);
        self.advance(id);
        Ok(())
    }

    fn active(&self, id: &str) -> Result<&Execution, Rejection> {
        let execution = self
            .state
            .executions
            .get(id)
            .ok_or_else(|| Rejection::NotFound(format!("execution {id} not found")))?;
        Ok(execution)
    }

    pub(super) fn approval(
        &mut self,
        id: &str,
        stage: &str,
        action: &str,
        approved: bool,
        by: &str,
        comment: Option<&str>,
    ) -> Result<(), Rejection> {
        let execution = self.active(id)?;
        let (s, a) = locate(execution, stage, action)?;
        let definition = self.definition(id).ok_or_else(|| {
            Rejection::NotFound(format!("definition of execution {id} not found"))
        })?;
        if !definition.stages[s].actions[a].is_manual_approval() {
            return Err(Rejection::Invalid(format!(
                "{stage}/{action} is not a manual approval"
            )));
        }
        let run = &execution.stages[s].actions[a];
        if execution.status.is_terminal() || run.status != Some(ActionStatus::InProgress) {
            return Err(Rejection::Conflict(format!(
                "approval {stage}/{action} of execution {id} is not waiting for a decision"
            )));
        }
        if run.approvals.iter().any(|v| v.by == by) {
            return Err(Rejection::Conflict(format!(
                "{by} already decided on {stage}/{action}; approvals need distinct people"
            )));
        }
        let needed = minimum_approvals(run).unwrap_or(1);
        let now = self.now;
        let run = self
            .exec_mut(id)
            .map(|e| &mut e.stages[s].actions[a])
            .ok_or_else(|| Rejection::NotFound(format!("execution {id} not found")))?;
        run.approvals.push(ApprovalVote {
            by: by.to_string(),
            approved,
            comment: comment.map(str::to_string),
            at: now,
        });
        let with_comment = |text: String| match comment {
            Some(c) if !c.is_empty() => format!("{text}: {c}"),
            _ => text,
        };
        if !approved {
            run.status = Some(ActionStatus::Failed);
            run.finished_at = Some(now);
            run.error = Some(with_comment(format!("rejected by {by}")));
        } else {
            let approvers: Vec<&str> = run.approvals.iter().map(|v| v.by.as_str()).collect();
            if approvers.len() >= needed {
                let summary = if approvers.len() == 1 {
                    with_comment(format!("approved by {by}"))
                } else {
                    let each: Vec<String> = run
                        .approvals
                        .iter()
                        .map(|v| match v.comment.as_deref() {
                            Some(c) if !c.is_empty() => format!("{} ({c})", v.by),
                            _ => v.by.clone(),
                        })
                        .collect();
                    format!("approved by {}", each.join(", "))
                };
                run.status = Some(ActionStatus::Succeeded);
                run.finished_at = Some(now);
                run.summary = Some(summary);
            } else {
                run.summary = Some(format!("{} of {needed} approvals", approvers.len()));
            }
        }
        self.advance(id);
        Ok(())
    }

    pub(super) fn stop(
        &mut self,
        id: &str,
        abandon: bool,
        reason: Option<&str>,
        by: Option<&str>,
    ) -> Result<(), Rejection> {
        let execution = self.active(id)?;
        match execution.status {
            ExecutionStatus::InProgress => {}
            ExecutionStatus::Stopping if abandon => {}
            ExecutionStatus::Stopping => {
                return Err(Rejection::Conflict(format!(
                    "execution {id} is already stopping; stop it with abandon to abandon its \
                     running actions"
                )))
            }
            done => {
                return Err(Rejection::Conflict(format!(
                    "execution {id} is already {}",
                    done.as_str()
                )))
            }
        }
        let position = execution.position;
        let now = self.now;
        let summary = match reason {
            Some(r) if !r.is_empty() => format!("stopped: {r}"),
            _ => "stopped".to_string(),
        };
        let Some(execution) = self.exec_mut(id) else {
            return Ok(());
        };
        execution.status = ExecutionStatus::Stopping;
        execution.status_summary = Some(summary.clone());
        execution.stop = Some(StopRequest {
            abandon,
            reason: reason.map(str::to_string),
            by: by.map(str::to_string),
        });
        match position {
            Position::Waiting(_) => {
                self.leave_queues(id);
                self.finish_execution(id, ExecutionStatus::Stopped, Some(summary));
            }
            Position::InStage(stage) if abandon => {
                let mut cancels = Vec::new();
                let is_approval: Vec<bool> = self
                    .definition(id)
                    .map(|d| {
                        d.stages[stage]
                            .actions
                            .iter()
                            .map(|a| a.is_manual_approval())
                            .collect()
                    })
                    .unwrap_or_default();
                if let Some(execution) = self.exec_mut(id) {
                    for (index, run) in execution.stages[stage].actions.iter_mut().enumerate() {
                        if run.status != Some(ActionStatus::InProgress) {
                            continue;
                        }
                        run.status = Some(ActionStatus::Abandoned);
                        run.finished_at = Some(now);
                        run.error = Some(summary.replacen("stopped", "abandoned", 1));
                        if !is_approval.get(index).copied().unwrap_or(false) {
                            cancels.push(Effect::CancelAction {
                                execution: id.to_string(),
                                run_id: run.run_id.clone().unwrap_or_default(),
                                external_id: run.external_id.clone(),
                            });
                        }
                    }
                }
                self.effects.extend(cancels);
                self.advance(id);
            }
            Position::InStage(_) => self.advance(id),
            Position::Done => {}
        }
        Ok(())
    }

    pub(super) fn retry(&mut self, id: &str, stage: &str, all: bool) -> Result<(), Rejection> {
        let execution = self.active(id)?;
        if !matches!(
            execution.status,
            ExecutionStatus::Failed | ExecutionStatus::Stopped
        ) {
            return Err(Rejection::Conflict(format!(
                "execution {id} is {}; only a Failed or Stopped execution can be retried",
                execution.status.as_str()
            )));
        }
        let s = execution.stage_index(stage).ok_or_else(|| {
            Rejection::NotFound(format!("stage {stage} not found in execution {id}"))
        })?;
        if !matches!(
            execution.stages[s].status,
            Some(StageStatus::Failed) | Some(StageStatus::Stopped)
        ) {
            return Err(Rejection::Conflict(format!(
                "stage {stage} of execution {id} did not fail or stop, so it cannot be retried"
            )));
        }
        let gates = &self.state.gates;
        let mode = self.mode(id);
        if mode != ExecutionMode::Parallel
            && gates.last_entered.get(stage).is_some_and(|last| last != id)
        {
            return Err(Rejection::Conflict(format!(
                "a newer execution has entered stage {stage}; only the latest execution in a \
                 stage can be retried"
            )));
        }
        if mode != ExecutionMode::Parallel && gates.occupant.contains_key(stage) {
            return Err(Rejection::Conflict(format!(
                "stage {stage} is in use by another execution"
            )));
        }
        let now = self.now;
        self.occupy(id, stage, mode);
        if let Some(execution) = self.exec_mut(id) {
            execution.status = ExecutionStatus::InProgress;
            execution.status_summary = None;
            execution.stop = None;
            execution.finished_at = None;
            execution.position = Position::InStage(s);
            let run = &mut execution.stages[s];
            run.status = Some(StageStatus::InProgress);
            run.attempt += 1;
            run.started_at = Some(now);
            run.finished_at = None;
            for action in &mut run.actions {
                let rerun = all
                    || matches!(
                        action.status,
                        Some(ActionStatus::Failed) | Some(ActionStatus::Abandoned)
                    );
                if rerun {
                    reset(action);
                }
            }
        }
        self.advance(id);
        Ok(())
    }

    pub(super) fn set_transition(
        &mut self,
        stage: &str,
        enabled: bool,
        reason: Option<&str>,
        by: Option<&str>,
    ) -> Result<(), Rejection> {
        let latest = self
            .definitions
            .values()
            .next_back()
            .ok_or_else(|| Rejection::NotFound("pipeline has no definition".into()))?;
        if latest.stage(stage).is_none() {
            return Err(Rejection::NotFound(format!(
                "stage {stage} not found in pipeline {}",
                latest.name
            )));
        }
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if !enabled && reason.is_none() {
            return Err(Rejection::Invalid(
                "disabling a transition needs a reason".into(),
            ));
        }
        self.state.gates.transitions.insert(
            stage.to_string(),
            Transition {
                enabled,
                reason: reason.map(str::to_string),
                changed_by: by.map(str::to_string),
                changed_at: self.now,
            },
        );
        self.gates_changed = true;
        if enabled {
            for waiting in self.admit(stage).into_iter().rev() {
                self.advance(&waiting);
            }
        }
        Ok(())
    }
}

fn locate(execution: &Execution, stage: &str, action: &str) -> Result<(usize, usize), Rejection> {
    let s = execution.stage_index(stage).ok_or_else(|| {
        Rejection::NotFound(format!(
            "stage {stage} not found in execution {}",
            execution.id
        ))
    })?;
    let a = execution.stages[s]
        .actions
        .iter()
        .position(|run| run.name == action)
        .ok_or_else(|| Rejection::NotFound(format!("action {stage}/{action} not found")))?;
    Ok((s, a))
}
