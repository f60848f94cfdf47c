//! Action runs: starting a runOrder group (resolving variables, setting deadlines) and
//! taking in what executors report. Reports about runs that no longer count (stale,
//! abandoned, timed out) change nothing, so a late or duplicated report is harmless.

use std::collections::BTreeMap;

use chrono::Duration;

use super::flow::Flow;
use super::state::{ActionRun, ActionStatus, Execution};
use super::{ActionOutcome, Effect};
use crate::model::variables::{self, CODEPIPELINE_NAMESPACE, PIPELINE_NAMESPACE};
use crate::model::{Action, Category, ConfigValue, Pipeline};

/// Default action timeouts, in minutes, as CodePipeline sets them.
pub const APPROVAL_TIMEOUT_MINUTES: u32 = 7 * 24 * 60;
pub const SOURCE_TIMEOUT_MINUTES: u32 = 60;
pub const CI_TIMEOUT_MINUTES: u32 = 24 * 60;

pub fn timeout_minutes(action: &Action) -> u32 {
    action
        .timeout_in_minutes
        .unwrap_or(if action.is_manual_approval() {
            APPROVAL_TIMEOUT_MINUTES
        } else if action.action_type_id.category == Category::Source {
            SOURCE_TIMEOUT_MINUTES
        } else {
            CI_TIMEOUT_MINUTES
        })
}

/// Clears a run's results, keeping who it is and how often it ran.
pub(super) fn reset(run: &mut ActionRun) {
    *run = ActionRun {
        name: std::mem::take(&mut run.name),
        run_order: run.run_order,
        attempt: run.attempt,
        ..ActionRun::fresh(String::new(), 0)
    };
}

impl ActionRun {
    pub fn fresh(name: String, run_order: u16) -> ActionRun {
        ActionRun {
            name,
            run_order,
            status: None,
            run_id: None,
            attempt: 0,
            started_at: None,
            finished_at: None,
            deadline: None,
            resolved_configuration: Default::default(),
            external_id: None,
            external_url: None,
            summary: None,
            error: None,
            percent_complete: None,
            outputs: BTreeMap::new(),
            approvals: Vec::new(),
        }
    }
}

/// Substitutes every `#{ns.name}` in the action's configuration.
fn resolve(
    definition: &Pipeline,
    execution: &Execution,
    action: &Action,
) -> Result<BTreeMap<String, ConfigValue>, String> {
    let lookup = |namespace: &str, name: &str| -> Option<String> {
        match namespace {
            PIPELINE_NAMESPACE => execution.variables.get(name).cloned(),
            CODEPIPELINE_NAMESPACE => (name == "PipelineExecutionId").then(|| execution.id.clone()),
            _ => definition
                .stages
                .iter()
                .zip(&execution.stages)
                .flat_map(|(stage, run)| stage.actions.iter().zip(&run.actions))
                .find(|(a, _)| a.namespace.as_deref() == Some(namespace))
                .filter(|(_, run)| run.status == Some(ActionStatus::Succeeded))
                .and_then(|(_, run)| run.outputs.get(name).cloned()),
        }
    };
    let one = |text: &str| {
        variables::substitute(text, lookup)
            .map_err(|reference| format!("cannot resolve {reference}: no such variable"))
    };
    action
        .configuration
        .iter()
        .map(|(key, value)| {
            let resolved = match value {
                ConfigValue::Text(text) => ConfigValue::Text(one(text)?),
                ConfigValue::Map(map) => ConfigValue::Map(
                    map.iter()
                        .map(|(k, v)| Ok((k.clone(), one(v)?)))
                        .collect::<Result<_, String>>()?,
                ),
            };
            Ok((key.clone(), resolved))
        })
        .collect()
}

/// `MinimumApprovals`, default 1.
pub(super) fn minimum_approvals(run: &ActionRun) -> Result<usize, String> {
    match run
        .resolved_configuration
        .get("MinimumApprovals")
        .and_then(ConfigValue::as_text)
    {
        None => Ok(1),
        Some(text) => match text.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(format!(
                "MinimumApprovals must be a whole number of at least 1, not `{text}`"
            )),
        },
    }
}

impl Flow<'_> {
    /// Starts every not-yet-run action of `run_order` in the stage.
    pub(super) fn start_group(&mut self, id: &str, stage: usize, run_order: u16) {
        let Some(definition) = self.definition(id) else {
            return;
        };
        let now = self.now;
        let mut effects = Vec::new();
        let Some(execution) = self.exec_mut(id) else {
            return;
        };
        for (index, action) in definition.stages[stage].actions.iter().enumerate() {
            let run = &execution.stages[stage].actions[index];
            if run.run_order != run_order || run.status.is_some() {
                continue;
            }
            execution.runs_started += 1;
            let run_id = format!("{id}.{}", execution.runs_started);
            let resolved = resolve(definition, execution, action).and_then(|config| {
                let mut probe = ActionRun::fresh(String::new(), 0);
                probe.resolved_configuration = config.into();
                if action.is_manual_approval() {
                    minimum_approvals(&probe)?;
                }
                Ok(probe.resolved_configuration)
            });
            let deadline = now + Duration::minutes(i64::from(timeout_minutes(action)));
            let run = &mut execution.stages[stage].actions[index];
            reset(run);
            run.attempt += 1;
            run.run_id = Some(run_id.clone());
            run.started_at = Some(now);
            match resolved {
                Err(error) => {
                    run.status = Some(ActionStatus::Failed);
                    run.error = Some(error);
                    run.finished_at = Some(now);
                }
                Ok(config) => {
                    run.status = Some(ActionStatus::InProgress);
                    run.deadline = Some(deadline);
                    if action.is_manual_approval() {
                        run.summary = config
                            .get("CustomData")
                            .and_then(ConfigValue::as_text)
                            .map(str::to_string);
                        run.external_url = config
                            .get("ExternalEntityLink")
                            .and_then(ConfigValue::as_text)
                            .map(str::to_string);
                    } else {
                        effects.push(Effect::RunAction {
                            execution: id.to_string(),
                            run_id: run_id.clone(),
                        });
                    }
                    run.resolved_configuration = config;
                    effects.push(Effect::ArmTimer {
                        execution: id.to_string(),
                        run_id,
                        at: deadline,
                    });
                }
            }
        }
        self.effects.extend(effects);
    }

    /// The run, if it is still the live run of its action.
    fn live_run(&mut self, id: &str, run_id: &str) -> Option<&mut ActionRun> {
        let execution = self.state.executions.get(id)?;
        let (stage, action) = execution.find_run(run_id)?;
        if execution.stages[stage].actions[action].status != Some(ActionStatus::InProgress) {
            return None;
        }
        let execution = self.exec_mut(id)?;
        Some(&mut execution.stages[stage].actions[action])
    }

    pub(super) fn action_started(
        &mut self,
        id: &str,
        run_id: &str,
        external_id: &str,
        external_url: Option<&str>,
    ) {
        if let Some(run) = self.live_run(id, run_id) {
            run.external_id = Some(external_id.to_string());
            if let Some(url) = external_url {
                run.external_url = Some(url.to_string());
            }
            return;
        }
        // The work started after the run stopped counting (abandoned, timed out): stop it.
        // A run that finished normally has nothing left to cancel.
        let succeeded = self
            .state
            .executions
            .get(id)
            .and_then(|e| e.find_run(run_id).map(|(s, a)| e.action(s, a).status))
            .is_some_and(|status| status == Some(ActionStatus::Succeeded));
        if succeeded {
            return;
        }
        self.effects.push(Effect::CancelAction {
            execution: id.to_string(),
            run_id: run_id.to_string(),
            external_id: Some(external_id.to_string()),
        });
    }

    pub(super) fn action_progress(
        &mut self,
        id: &str,
        run_id: &str,
        external_id: Option<&str>,
        external_url: Option<&str>,
        percent: Option<u8>,
        summary: Option<&str>,
    ) {
        let Some(run) = self.live_run(id, run_id) else {
            return;
        };
        if let Some(external_id) = external_id {
            run.external_id = Some(external_id.to_string());
        }
        if let Some(url) = external_url {
            run.external_url = Some(url.to_string());
        }
        if let Some(percent) = percent {
            run.percent_complete = Some(percent.min(100));
        }
        if let Some(summary) = summary {
            run.summary = Some(summary.to_string());
        }
    }

    pub(super) fn action_completed(&mut self, id: &str, run_id: &str, outcome: &ActionOutcome) {
        let now = self.now;
        let Some(run) = self.live_run(id, run_id) else {
            return;
        };
        run.finished_at = Some(now);
        match outcome {
            ActionOutcome::Succeeded { outputs, summary } => {
                run.status = Some(ActionStatus::Succeeded);
                run.outputs = outputs.clone();
                run.percent_complete = Some(100);
                if summary.is_some() {
                    run.summary = summary.clone();
                }
            }
            ActionOutcome::Failed { error, outputs } => {
                run.status = Some(ActionStatus::Failed);
                run.outputs = outputs.clone();
                run.error = Some(error.clone());
            }
        }
        self.advance(id);
    }

    pub(super) fn timeout(&mut self, id: &str, run_id: &str) {
        let now = self.now;
        let Some(execution) = self.state.executions.get(id) else {
            return;
        };
        let Some((stage, action)) = execution.find_run(run_id) else {
            return;
        };
        let run = execution.action(stage, action);
        if run.status != Some(ActionStatus::InProgress) {
            return;
        }
        let Some(deadline) = run.deadline else {
            return;
        };
        if deadline > now {
            // Early (a clock that moved back, a timer restored too soon): look again later.
            self.effects.push(Effect::ArmTimer {
                execution: id.to_string(),
                run_id: run_id.to_string(),
                at: deadline,
            });
            return;
        }
        let is_approval = self
            .definition(id)
            .is_some_and(|d| d.stages[stage].actions[action].is_manual_approval());
        let Some(run) = self.live_run(id, run_id) else {
            return;
        };
        let minutes = run
            .started_at
            .map_or(0, |started| (deadline - started).num_minutes());
        run.status = Some(ActionStatus::Failed);
        run.finished_at = Some(now);
        run.error = Some(if is_approval {
            format!("approval timed out after {minutes} minutes without a decision")
        } else {
            format!("timed out after {minutes} minutes")
        });
        let external_id = run.external_id.clone();
        if !is_approval {
            self.effects.push(Effect::CancelAction {
                execution: id.to_string(),
                run_id: run_id.to_string(),
                external_id,
            });
        }
        self.advance(id);
    }
}
