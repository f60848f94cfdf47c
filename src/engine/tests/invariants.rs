//! The invariants every engine step must keep, checked by the harness after each event it
//! applies: locks and queues agree with where executions are, stages run in order, a
//! finished execution holds nothing, in-progress actions have a run id and a deadline, run
//! ids are never issued twice, and a step reports what it changed.

use std::collections::BTreeSet;

use super::harness::finished;
use crate::engine::state::{
    ActionStatus, Execution, ExecutionStatus, PipelineState, Position, RunId, StageStatus,
};
use crate::engine::{Definitions, Effect, Step};
use crate::model::ExecutionMode;

/// Checks one accepted step: the state it produced (see [`check_state`]) and how the step
/// describes itself.
pub fn check_step(
    definitions: &Definitions,
    before: &PipelineState,
    after: &PipelineState,
    step: &Step,
    issued: &mut BTreeSet<RunId>,
) {
    check_state(definitions, after);
    for effect in &step.effects {
        match effect {
            Effect::RunAction { execution, run_id } => {
                assert!(
                    issued.insert(run_id.clone()),
                    "run id {run_id} was issued twice"
                );
                assert!(
                    run_id.starts_with(&format!("{execution}.")),
                    "run id {run_id} does not name execution {execution}"
                );
                let run = after.executions[execution]
                    .find_run(run_id)
                    .map(|(s, a)| after.executions[execution].action(s, a));
                assert_eq!(
                    run.and_then(|r| r.status),
                    Some(ActionStatus::InProgress),
                    "RunAction {run_id} names a run that is not in progress"
                );
            }
            Effect::ArmTimer {
                execution,
                run_id,
                at,
            } => {
                let execution = &after.executions[execution];
                let (s, a) = execution
                    .find_run(run_id)
                    .unwrap_or_else(|| panic!("ArmTimer for unknown run {run_id}"));
                assert_eq!(
                    execution.action(s, a).deadline,
                    Some(*at),
                    "ArmTimer for {run_id} is not at its deadline"
                );
            }
            Effect::Finished { execution } => {
                assert!(
                    after.executions[execution].status.is_terminal(),
                    "Finished for {execution}, which is not terminal"
                );
            }
            Effect::CancelAction {
                execution, run_id, ..
            } => {
                let live = after.executions.get(execution).is_some_and(|e| {
                    e.find_run(run_id).is_some_and(|(s, a)| {
                        e.action(s, a).status == Some(ActionStatus::InProgress)
                    })
                });
                assert!(!live, "CancelAction for {run_id}, which still counts");
            }
        }
    }
    let finished: Vec<&str> = finished(&step.effects);
    let once: BTreeSet<&str> = finished.iter().copied().collect();
    assert_eq!(
        once.len(),
        finished.len(),
        "Finished twice in one step: {finished:?}"
    );
    for (id, execution) in &after.executions {
        let was_active = before
            .executions
            .get(id)
            .is_none_or(|e| !e.status.is_terminal());
        if was_active && execution.status.is_terminal() {
            assert!(
                finished.contains(&id.as_str()),
                "{id} became {} without a Finished effect",
                execution.status.as_str()
            );
        }
        if before.executions.get(id) != Some(execution) {
            assert!(
                step.touched.contains(id),
                "{id} changed but the step does not list it as touched"
            );
        }
    }
    if before.gates != after.gates {
        assert!(
            step.gates_changed,
            "the gates changed but the step says not"
        );
    }
}

/// Stages before the execution's position succeeded, stages after it never started; a
/// finished execution ends with the stage that decided its status.
fn check_stage_shape(execution: &Execution) {
    let id = &execution.id;
    let statuses: Vec<Option<StageStatus>> = execution.stages.iter().map(|s| s.status).collect();
    let last_run = statuses.iter().rposition(Option::is_some);
    let (current, current_status) = match execution.position {
        Position::InStage(s) => (Some(s), Some(StageStatus::InProgress)),
        Position::Waiting(s) => (Some(s), None),
        Position::Done => (None, None),
    };
    if let Some(current) = current {
        assert_eq!(statuses[current], current_status, "{id}: {statuses:?}");
        assert!(
            statuses[..current]
                .iter()
                .all(|s| *s == Some(StageStatus::Succeeded)),
            "{id} at {current}: {statuses:?}"
        );
        assert!(
            statuses[current + 1..].iter().all(Option::is_none),
            "{id} at {current}: {statuses:?}"
        );
        return;
    }
    let decided = match execution.status {
        ExecutionStatus::Failed => Some(StageStatus::Failed),
        ExecutionStatus::Succeeded => Some(StageStatus::Succeeded),
        ExecutionStatus::Stopped => last_run.and_then(|s| statuses[s]).filter(|s| {
            // Stopped while waiting leaves the last stage it ran Succeeded.
            *s == StageStatus::Succeeded || *s == StageStatus::Stopped
        }),
        _ => last_run.and_then(|s| statuses[s]),
    };
    let Some(last) = last_run else {
        assert!(
            matches!(
                execution.status,
                ExecutionStatus::Stopped | ExecutionStatus::Superseded
            ),
            "{id} is {:?} without running a stage",
            execution.status
        );
        return;
    };
    assert_eq!(
        statuses[last], decided,
        "{id} {:?}: {statuses:?}",
        execution.status
    );
    if execution.status == ExecutionStatus::Superseded {
        assert_eq!(
            statuses[last],
            Some(StageStatus::Succeeded),
            "{id}: {statuses:?}"
        );
    }
    if execution.status == ExecutionStatus::Succeeded {
        assert_eq!(last + 1, statuses.len(), "{id}: {statuses:?}");
    }
    assert!(
        statuses[..last]
            .iter()
            .all(|s| *s == Some(StageStatus::Succeeded)),
        "{id}: {statuses:?}"
    );
}

/// What must hold in every state the engine produces.
pub fn check_state(definitions: &Definitions, state: &PipelineState) {
    let gates = &state.gates;
    let mode = |e: &Execution| definitions[&e.version].execution_mode;

    // Locks: the occupant is inside that stage and still running.
    for (stage, id) in &gates.occupant {
        let execution = state
            .executions
            .get(id)
            .unwrap_or_else(|| panic!("occupant {id} of {stage} is not in the state"));
        assert_ne!(
            mode(execution),
            ExecutionMode::Parallel,
            "PARALLEL locked {stage}"
        );
        assert!(
            !execution.status.is_terminal(),
            "{id} holds {stage} but is {}",
            execution.status.as_str()
        );
        match execution.position {
            Position::InStage(s) => assert_eq!(
                &execution.stages[s].name, stage,
                "{id} holds {stage} but is in another stage"
            ),
            other => panic!("{id} holds {stage} but is {other:?}"),
        }
    }

    // Queues: each waiting execution waits in front of that stage, once, and only while
    // the stage is closed to it (transition disabled, or locked).
    let mut queued = BTreeSet::new();
    for (stage, queue) in &gates.waiting {
        assert!(!queue.is_empty(), "empty queue kept for {stage}");
        let parallel = mode(&state.executions[&queue[0]]) == ExecutionMode::Parallel;
        assert!(
            !gates.transition_enabled(stage) || (!parallel && gates.occupant.contains_key(stage)),
            "{queue:?} wait in front of {stage}, which is open and free"
        );
        for id in queue {
            assert!(queued.insert(id.clone()), "{id} waits in two places");
            let execution = state
                .executions
                .get(id)
                .unwrap_or_else(|| panic!("{id} waits at {stage} but is not in the state"));
            assert!(
                !execution.status.is_terminal(),
                "{id} waits at {stage} but is {}",
                execution.status.as_str()
            );
            match execution.position {
                Position::Waiting(s) => assert_eq!(&execution.stages[s].name, stage),
                other => panic!("{id} is queued at {stage} but is {other:?}"),
            }
            if mode(execution) == ExecutionMode::Superseded {
                assert_eq!(queue.len(), 1, "SUPERSEDED keeps one waiting at {stage}");
            }
        }
    }

    for (id, execution) in &state.executions {
        assert_eq!(&execution.id, id);
        let terminal = execution.status.is_terminal();
        match execution.position {
            Position::Done => assert!(terminal, "{id} is Done but {:?}", execution.status),
            Position::Waiting(s) => {
                assert!(!terminal, "{id} is terminal but waiting");
                let name = &execution.stages[s].name;
                assert!(
                    gates.waiting.get(name).is_some_and(|q| q.contains(id)),
                    "{id} is waiting for {name} but not in its queue"
                );
            }
            Position::InStage(s) => {
                assert!(!terminal, "{id} is terminal but in a stage");
                let name = &execution.stages[s].name;
                if mode(execution) != ExecutionMode::Parallel {
                    assert_eq!(
                        gates.occupant.get(name),
                        Some(id),
                        "{id} is in {name} without holding it"
                    );
                }
            }
        }
        assert_eq!(
            terminal,
            execution.finished_at.is_some(),
            "{id}: finished_at and status disagree"
        );

        check_stage_shape(execution);

        let mut run_ids = BTreeSet::new();
        for (s, stage) in execution.stages.iter().enumerate() {
            let here = execution.position == Position::InStage(s);
            assert_eq!(
                stage.status == Some(StageStatus::InProgress),
                here,
                "{id} {}: stage status {:?} but position {:?}",
                stage.name,
                stage.status,
                execution.position
            );
            let mut live_orders = BTreeSet::new();
            for run in &stage.actions {
                if let Some(run_id) = &run.run_id {
                    assert!(
                        run_ids.insert(run_id.clone()),
                        "{id}: run id {run_id} twice"
                    );
                    let n: u32 = run_id
                        .strip_prefix(&format!("{id}."))
                        .and_then(|n| n.parse().ok())
                        .unwrap_or_else(|| panic!("malformed run id {run_id}"));
                    assert!(n >= 1 && n <= execution.runs_started);
                }
                if run.status.is_some() {
                    assert!(
                        run.run_id.is_some(),
                        "{id} {}: a status without a run",
                        run.name
                    );
                }
                if run.status == Some(ActionStatus::InProgress) {
                    assert!(
                        here,
                        "{id} {}/{}: running outside its stage",
                        stage.name, run.name
                    );
                    assert!(
                        run.deadline.is_some(),
                        "{}: in progress without a deadline",
                        run.name
                    );
                    assert!(run.started_at.is_some());
                    live_orders.insert(run.run_order);
                }
            }
            assert!(
                live_orders.len() <= 1,
                "{id} {}: two runOrders at once",
                stage.name
            );
            if let Some(order) = live_orders.first() {
                for run in stage.actions.iter().filter(|a| a.run_order < *order) {
                    assert_eq!(
                        run.status,
                        Some(ActionStatus::Succeeded),
                        "{id} {}: runOrder {order} runs before {} succeeded",
                        stage.name,
                        run.name
                    );
                }
            }
        }
    }
}
