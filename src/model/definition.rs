//! The pipeline definition: CodePipeline's `PipelineDeclaration`, field for field, in the
//! canonical form Baton stores and serves. Parsing (with positions) lives in `parse`, checks
//! in `validate`; these types only describe a definition that already passed both.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A whole pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pipeline {
    pub name: String,
    #[serde(default)]
    pub execution_mode: ExecutionMode,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<VariableDeclaration>,
    pub stages: Vec<Stage>,
    /// CodePipeline V2 `triggers`: which pushes start an execution.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<PipelineTrigger>,
}

/// `{providerType, gitConfiguration}`: one source action's trigger. The provider type is
/// always `CodeStarSourceConnection`, as in CodePipeline; it is not stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineTrigger {
    pub git_configuration: GitConfiguration,
    /// Baton's extension: how often this source is polled, overriding `git.poll_interval`
    /// (as written, e.g. `30s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval: Option<String>,
    /// Baton's extension: the name of a secret in the daemon config's
    /// `git.webhook_secrets` that this pipeline's webhooks are signed with, instead of
    /// `git.webhook_secret`. Only the name is stored, never the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitConfiguration {
    pub source_action_name: String,
    /// Any one filter that matches starts an execution.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub push: Vec<GitPushFilter>,
}

/// Within one filter every criteria given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitPushFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branches: Option<FilterCriteria>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<FilterCriteria>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_paths: Option<FilterCriteria>,
}

/// Glob patterns: a name matches when it matches an include (or there are none) and no
/// exclude.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterCriteria {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub includes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excludes: Vec<String>,
}

/// How executions of one pipeline share its stages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionMode {
    /// One execution per stage; a newer execution waiting at a stage replaces an older one.
    #[default]
    Superseded,
    /// One execution per stage, in arrival order, none replaced.
    Queued,
    /// Executions are independent of each other.
    Parallel,
}

/// A pipeline-level variable, `#{variables.NAME}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VariableDeclaration {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    pub name: String,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    pub name: String,
    pub action_type_id: ActionTypeId,
    #[serde(default = "default_run_order")]
    pub run_order: u16,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub configuration: BTreeMap<String, ConfigValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_artifacts: Vec<ArtifactRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output_artifacts: Vec<ArtifactRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_in_minutes: Option<u32>,
}

fn default_run_order() -> u16 {
    1
}

/// `{"name": ".."}`, as CodePipeline writes artifact references.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactRef {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionTypeId {
    pub category: Category,
    pub owner: Owner,
    pub provider: String,
    pub version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Category {
    Source,
    Build,
    Deploy,
    Test,
    Invoke,
    Approval,
    Compute,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Owner {
    #[serde(rename = "AWS")]
    Aws,
    ThirdParty,
    Custom,
}

/// An action's configuration once its variables are substituted: the engine keeps it in
/// the execution and the executor reads it, one copy shared by both (thousands of actions
/// may be in flight).
pub type ResolvedConfiguration = std::sync::Arc<BTreeMap<String, ConfigValue>>;

/// A configuration value: a string, as in CodePipeline, or for a few keys (Jenkins
/// `Parameters`, TeamCity `Properties`) a map of strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConfigValue {
    Text(String),
    Map(BTreeMap<String, String>),
}

impl ConfigValue {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            ConfigValue::Text(text) => Some(text),
            ConfigValue::Map(_) => None,
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Aws => f.write_str("AWS"),
            Owner::ThirdParty => f.write_str("ThirdParty"),
            Owner::Custom => f.write_str("Custom"),
        }
    }
}

impl Pipeline {
    /// The trigger declared for a source action, if any.
    pub fn trigger_for(&self, source_action: &str) -> Option<&PipelineTrigger> {
        self.triggers
            .iter()
            .find(|t| t.git_configuration.source_action_name == source_action)
    }

    pub fn stage(&self, name: &str) -> Option<(usize, &Stage)> {
        self.stages.iter().enumerate().find(|(_, s)| s.name == name)
    }
}

impl Stage {
    pub fn action(&self, name: &str) -> Option<(usize, &Action)> {
        self.actions
            .iter()
            .enumerate()
            .find(|(_, a)| a.name == name)
    }
}

impl Action {
    /// The built-in manual approval, whoever owns it (`AWS` in imported pipelines).
    pub fn is_manual_approval(&self) -> bool {
        self.action_type_id.category == Category::Approval
            && self.action_type_id.provider == "Manual"
    }

    pub fn config_text(&self, key: &str) -> Option<&str> {
        self.configuration.get(key).and_then(ConfigValue::as_text)
    }
}
