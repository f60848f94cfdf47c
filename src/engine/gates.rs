//! Stage gates: who may enter a stage and when. SUPERSEDED and QUEUED lock a stage while
//! one execution is inside; PARALLEL never locks. A disabled inbound transition holds
//! every execution in front of the stage. Superseding happens only in front of a stage.

use super::flow::Flow;
use super::state::{ExecutionId, ExecutionStatus, Position, StageStatus};
use crate::model::ExecutionMode;

impl Flow<'_> {
    /// Adds the execution to the queue in front of `stage`; in SUPERSEDED mode the older of
    /// two waiting executions is superseded.
    pub(super) fn join_queue(&mut self, id: &str, stage: &str) {
        self.gates_changed = true;
        let mode = self.mode(id);
        let queue = self
            .state
            .gates
            .waiting
            .entry(stage.to_string())
            .or_default();
        if mode != ExecutionMode::Superseded {
            if !queue.iter().any(|q| q == id) {
                queue.push_back(id.to_string());
            }
            return;
        }
        let waiting: Vec<ExecutionId> = queue.drain(..).collect();
        let mut newest = id.to_string();
        let mut losers = Vec::new();
        for other in waiting.into_iter().filter(|o| o != id) {
            if self.is_newer(&other, &newest) {
                losers.push(std::mem::replace(&mut newest, other));
            } else {
                losers.push(other);
            }
        }
        self.state
            .gates
            .waiting
            .entry(stage.to_string())
            .or_default()
            .push_back(newest.clone());
        for loser in losers {
            let summary =
                format!("superseded by execution {newest} while waiting for stage {stage}");
            self.finish_execution(&loser, ExecutionStatus::Superseded, Some(summary));
        }
    }

    /// Whether `a` started after `b` (ids are time-ordered, and break ties).
    fn is_newer(&self, a: &str, b: &str) -> bool {
        let started = |id: &str| self.state.executions.get(id).map(|e| e.started_at);
        (started(a), a) > (started(b), b)
    }

    /// Lets the execution into stage `stage` if the gate is open. Returns whether it entered.
    pub(super) fn try_enter(&mut self, id: &str, stage: usize) -> bool {
        let mode = self.mode(id);
        let name = self.state.executions[id].stages[stage].name.clone();
        let gates = &self.state.gates;
        if !gates.transition_enabled(&name) {
            return false;
        }
        if mode != ExecutionMode::Parallel {
            if gates.occupant.get(&name).is_some_and(|o| o != id) {
                return false;
            }
            let first = gates.waiting.get(&name).and_then(|q| q.front());
            if first.is_some_and(|f| f != id) && mode == ExecutionMode::Queued {
                return false;
            }
        }
        self.occupy(id, &name, mode);
        let now = self.now;
        let Some(execution) = self.exec_mut(id) else {
            return false;
        };
        execution.position = Position::InStage(stage);
        let run = &mut execution.stages[stage];
        run.status = Some(StageStatus::InProgress);
        run.attempt += 1;
        run.started_at = Some(now);
        run.finished_at = None;
        true
    }

    /// Takes the stage: off the waiting queue, into the lock, recorded as last to enter.
    pub(super) fn occupy(&mut self, id: &str, stage: &str, mode: ExecutionMode) {
        let gates = &mut self.state.gates;
        if let Some(queue) = gates.waiting.get_mut(stage) {
            queue.retain(|q| q != id);
            if queue.is_empty() {
                gates.waiting.remove(stage);
            }
        }
        if mode != ExecutionMode::Parallel {
            gates.occupant.insert(stage.to_string(), id.to_string());
        }
        gates.last_entered.insert(stage.to_string(), id.to_string());
        self.gates_changed = true;
    }

    /// Frees the stage if this execution holds it. Returns whether it did.
    pub(super) fn release(&mut self, id: &str, stage: &str) -> bool {
        let gates = &mut self.state.gates;
        if gates.occupant.get(stage).is_some_and(|o| o == id) {
            gates.occupant.remove(stage);
            self.gates_changed = true;
            return true;
        }
        false
    }

    /// Takes an execution off every waiting queue (it stopped or was superseded).
    pub(super) fn leave_queues(&mut self, id: &str) {
        let gates = &mut self.state.gates;
        let before: usize = gates.waiting.values().map(|q| q.len()).sum();
        for queue in gates.waiting.values_mut() {
            queue.retain(|q| q != id);
        }
        gates.waiting.retain(|_, q| !q.is_empty());
        let after: usize = gates.waiting.values().map(|q| q.len()).sum();
        if before != after {
            self.gates_changed = true;
        }
    }

    /// Executions that may now try to enter `stage`, in the order they should try.
    pub(super) fn admit(&self, stage: &str) -> Vec<ExecutionId> {
        let gates = &self.state.gates;
        if !gates.transition_enabled(stage) {
            return Vec::new();
        }
        let Some(queue) = gates.waiting.get(stage) else {
            return Vec::new();
        };
        let Some(first) = queue.front() else {
            return Vec::new();
        };
        match self.mode(first) {
            // Each tries in turn; `advance` pops from the back, so reverse.
            ExecutionMode::Parallel => queue.iter().rev().cloned().collect(),
            _ if gates.occupant.contains_key(stage) => Vec::new(),
            _ => vec![first.clone()],
        }
    }
}
