//! Which adapter runs an action, and the `ActionContext` it gets: the run's resolved
//! configuration, normalised for the built-in git source, plus the variables of the
//! actions that produced its input artifacts.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Semaphore;

use super::{Result, Runtime, RuntimeError};
use crate::adapters::{ActionContext, Adapter, ArtifactInput, LogChunk};
use crate::engine::state::Execution;
use crate::model::{ConfigValue, Executor, Pipeline};

/// The adapters the daemon has: the git source, and one per configured CI server.
#[derive(Clone)]
pub struct Executors {
    git: Arc<dyn Adapter>,
    servers: HashMap<String, Arc<dyn Adapter>>,
    /// Caps on builds in flight, per server that has one.
    slots: HashMap<String, Arc<Semaphore>>,
    /// Servers named in the config whose kind this build cannot drive, with why.
    unavailable: HashMap<String, String>,
}

impl Executors {
    pub fn new(git: Arc<dyn Adapter>) -> Executors {
        Executors {
            git,
            servers: HashMap::new(),
            slots: HashMap::new(),
            unavailable: HashMap::new(),
        }
    }

    pub fn with_server(mut self, name: &str, adapter: Arc<dyn Adapter>) -> Executors {
        if let Some(cap) = adapter.max_in_flight() {
            self.slots
                .insert(name.to_string(), Arc::new(Semaphore::new(cap.max(1))));
        }
        self.servers.insert(name.to_string(), adapter);
        self
    }

    pub fn with_unavailable(mut self, name: &str, why: String) -> Executors {
        self.unavailable.insert(name.to_string(), why);
        self
    }

    pub fn server(&self, name: &str) -> Option<Arc<dyn Adapter>> {
        self.servers.get(name).cloned()
    }

    pub fn is_unavailable(&self, name: &str) -> Option<&str> {
        self.unavailable.get(name).map(String::as_str)
    }
}

/// An adapter with the context of the run it is to run.
pub(super) struct Prepared {
    pub adapter: Arc<dyn Adapter>,
    pub context: ActionContext,
    /// The CI server, for callbacks and the in-flight cap; None for the git source.
    pub server: Option<String>,
    pub slots: Option<Arc<Semaphore>>,
}

/// The adapter and context for one run; `None` for approvals, which the engine itself
/// runs; `Err` says why no adapter can run it.
pub(super) fn prepare(
    runtime: &Runtime,
    definition: &Pipeline,
    execution: &Execution,
    run_id: &str,
) -> std::result::Result<Option<Prepared>, String> {
    let (s, a) = execution
        .find_run(run_id)
        .ok_or_else(|| format!("run {run_id} not found"))?;
    let stage = &definition.stages[s];
    let action = &stage.actions[a];
    let run = &execution.stages[s].actions[a];
    let mut configuration = run.resolved_configuration.clone();
    // Decide on the resolved configuration: a `Server` or `RepositoryUrl` may come from a
    // variable.
    let resolved = crate::model::Action {
        configuration: (*configuration).clone(),
        ..action.clone()
    };
    let mut server_name = None;
    let adapter = match runtime.catalog().executor(&resolved)? {
        Executor::Approval => return Ok(None),
        Executor::Git {
            repository_url,
            branch,
        } => {
            let configuration = Arc::make_mut(&mut configuration);
            configuration.insert("RepositoryUrl".into(), ConfigValue::Text(repository_url));
            configuration.insert("BranchName".into(), ConfigValue::Text(branch));
            runtime.inner.executors.git.clone()
        }
        Executor::JobWorker { action_type } => {
            let catalog = runtime.catalog();
            let Some(declared) = catalog.action_types.get(&action_type) else {
                return Err(format!("action type {action_type} is not registered"));
            };
            super::jobs::JobQueue::new(runtime.clone(), declared.clone())
        }
        Executor::Ci { server, kind } => match runtime.adapter_for(&server) {
            Some(adapter) => {
                server_name = Some(server);
                adapter
            }
            None => {
                let why = runtime.inner.executors.unavailable.get(&server);
                return Err(why.cloned().unwrap_or_else(|| {
                    format!("{kind} server `{server}` is not configured in this daemon")
                }));
            }
        },
    };
    let input_artifacts = action
        .input_artifacts
        .iter()
        .map(|artifact| ArtifactInput {
            name: artifact.name.clone(),
            variables: producer_outputs(definition, execution, &artifact.name),
        })
        .collect();
    let context = ActionContext {
        run_id: run_id.to_string(),
        pipeline: execution.pipeline.clone(),
        execution_id: execution.id.clone(),
        stage: stage.name.clone(),
        action: action.name.clone(),
        attempt: run.attempt,
        configuration,
        revision: execution.revision.clone(),
        input_artifacts,
        execution_link: format!(
            "{}/api/v1/executions/{}",
            runtime.inner.options.public_url, execution.id
        ),
    };
    let slots = server_name
        .as_ref()
        .and_then(|s| runtime.inner.executors.slots.get(s).cloned());
    Ok(Some(Prepared {
        adapter,
        context,
        server: server_name,
        slots,
    }))
}

/// Output variables of the action that produced `artifact` in this execution.
fn producer_outputs(
    definition: &Pipeline,
    execution: &Execution,
    artifact: &str,
) -> std::collections::BTreeMap<String, String> {
    definition
        .stages
        .iter()
        .zip(&execution.stages)
        .flat_map(|(stage, run)| stage.actions.iter().zip(&run.actions))
        .find(|(action, _)| action.output_artifacts.iter().any(|o| o.name == artifact))
        .map(|(_, run)| run.outputs.clone())
        .unwrap_or_default()
}

pub(super) async fn read_log(
    runtime: &Runtime,
    execution: &Execution,
    stage: &str,
    action: &str,
    offset: u64,
) -> Result<Option<LogChunk>> {
    let not_found = |what: String| RuntimeError::Rejected(crate::engine::Rejection::NotFound(what));
    let s = execution
        .stage_index(stage)
        .ok_or_else(|| not_found(format!("stage {stage} not found")))?;
    let run = execution.stages[s]
        .actions
        .iter()
        .find(|r| r.name == action)
        .ok_or_else(|| not_found(format!("action {stage}/{action} not found")))?;
    let (Some(run_id), Some(external_id)) = (&run.run_id, &run.external_id) else {
        return Ok(None);
    };
    let definition = runtime
        .store()
        .pipeline_version(&execution.pipeline, execution.version)
        .await?
        .ok_or_else(|| RuntimeError::PipelineNotFound(execution.pipeline.clone()))?;
    let Some(prepared) =
        prepare(runtime, &definition, execution, run_id).map_err(RuntimeError::Adapter)?
    else {
        return Ok(None);
    };
    match prepared
        .adapter
        .log(&prepared.context, external_id, offset)
        .await
    {
        Ok(chunk) => Ok(Some(chunk)),
        Err(crate::adapters::AdapterError::Unsupported(_)) => Ok(None),
        Err(error) => Err(RuntimeError::Adapter(error.to_string())),
    }
}
