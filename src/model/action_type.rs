//! Custom action types, as CodePipeline's `CreateCustomActionType` declares them: the
//! configuration properties an action of the type takes (required, secret, key), how many
//! artifacts it consumes and produces, and URL templates for its work. Actions with owner
//! `Custom` and a registered category/provider/version run through job workers that poll
//! Baton for their jobs. Plain data and checks; no I/O.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::definition::{Action, ActionTypeId, Category, Owner};
use super::limits::Text;

/// Category, provider and version: what names a custom action type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ActionTypeKey {
    pub category: Category,
    pub provider: String,
    pub version: String,
}

impl ActionTypeKey {
    /// `CATEGORY/PROVIDER/VERSION`, as the CLI and tokens write it.
    pub fn parse(text: &str) -> Result<ActionTypeKey, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let [category, provider, version] = parts.as_slice() else {
            return Err(format!(
                "`{text}` is not CATEGORY/PROVIDER/VERSION (e.g. Deploy/Shipper/1)"
            ));
        };
        ActionTypeKey::new(category, provider, version)
    }

    pub fn new(category: &str, provider: &str, version: &str) -> Result<ActionTypeKey, String> {
        let category =
            serde_json::from_value::<Category>(serde_json::Value::String(category.to_string()))
                .map_err(|_| {
                    format!(
                        "unknown category `{category}`; use Source, Build, Deploy, Test, Invoke, \
                 Approval or Compute"
                    )
                })?;
        let key = ActionTypeKey {
            category,
            provider: provider.to_string(),
            version: version.to_string(),
        };
        key.check()?;
        Ok(key)
    }

    fn check(&self) -> Result<(), String> {
        if self.provider.len() > 25 {
            return Err(format!(
                "provider `{}` is longer than 25 characters",
                self.provider
            ));
        }
        match Text::Provider
            .problem(&self.provider)
            .or_else(|| Text::Version.problem(&self.version))
        {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }

    /// The key of the type an action names, when it is a custom action.
    pub fn of(id: &ActionTypeId) -> Option<ActionTypeKey> {
        (id.owner == Owner::Custom).then(|| ActionTypeKey {
            category: id.category,
            provider: id.provider.clone(),
            version: id.version.clone(),
        })
    }
}

impl fmt::Display for ActionTypeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.category, self.provider, self.version)
    }
}

/// A custom action type, field for field as CodePipeline's `ActionType` (camelCase).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActionType {
    pub category: Category,
    pub provider: String,
    pub version: String,
    #[serde(default)]
    pub configuration_properties: Vec<ConfigurationProperty>,
    #[serde(default)]
    pub input_artifact_details: ArtifactDetails,
    #[serde(default)]
    pub output_artifact_details: ArtifactDetails,
    #[serde(default)]
    pub settings: ActionTypeSettings,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigurationProperty {
    pub name: String,
    #[serde(default)]
    pub required: bool,
    /// Part of what identifies the action's work (CodePipeline's `key`).
    #[serde(default)]
    pub key: bool,
    /// Never shown by the API: pipelines read back show `****`.
    #[serde(default)]
    pub secret: bool,
    /// Workers may filter polls by it (CodePipeline's `queryable`).
    #[serde(default)]
    pub queryable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<PropertyType>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PropertyType {
    String,
    Number,
    Boolean,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArtifactDetails {
    pub minimum_count: u8,
    pub maximum_count: u8,
}

impl Default for ArtifactDetails {
    fn default() -> Self {
        ArtifactDetails {
            minimum_count: 0,
            maximum_count: 5,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActionTypeSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub third_party_configuration_url: Option<String>,
    /// Link to the thing an action of this type works on; `{Config:Name}` is replaced by
    /// the action's configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_url_template: Option<String>,
    /// Link to one run; `{ExternalExecutionId}` is the id the worker reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_url_template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_url_template: Option<String>,
}

/// Shown in place of a secret property's value.
pub const MASK: &str = "****";

impl ActionType {
    pub fn key(&self) -> ActionTypeKey {
        ActionTypeKey {
            category: self.category,
            provider: self.provider.clone(),
            version: self.version.clone(),
        }
    }

    /// Checks the declaration itself; every problem, one sentence each.
    pub fn check(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if let Err(problem) = self.key().check() {
            problems.push(problem);
        }
        if self.category == Category::Approval || self.category == Category::Source {
            problems.push(format!(
                "category {} is run by Baton itself; custom action types may be Build, \
                 Deploy, Test, Invoke or Compute",
                self.category
            ));
        }
        if self.configuration_properties.len() > 10 {
            problems.push("an action type has at most 10 configuration properties".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for property in &self.configuration_properties {
            if let Some(problem) = Text::ConfigKey.problem(&property.name) {
                problems.push(format!("configuration property: {problem}"));
            }
            if !seen.insert(property.name.as_str()) {
                problems.push(format!(
                    "configuration property `{}` is declared twice",
                    property.name
                ));
            }
        }
        for (what, details) in [
            ("inputArtifactDetails", self.input_artifact_details),
            ("outputArtifactDetails", self.output_artifact_details),
        ] {
            if details.minimum_count > details.maximum_count || details.maximum_count > 5 {
                problems.push(format!(
                    "{what}: minimumCount ≤ maximumCount ≤ 5, found {} and {}",
                    details.minimum_count, details.maximum_count
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Whether the configuration key `name` holds a secret.
    pub fn is_secret(&self, name: &str) -> bool {
        self.configuration_properties
            .iter()
            .any(|p| p.secret && p.name == name)
    }

    /// What is wrong with `action` for this type: missing required properties, and the
    /// configuration keys it does not declare (with the key, so callers can place them).
    pub fn problems(&self, action: &Action) -> Problems {
        let mut problems = Problems::default();
        for property in &self.configuration_properties {
            let given = action
                .config_text(&property.name)
                .is_some_and(|v| !v.is_empty());
            if property.required && !given {
                problems.missing.push(format!(
                    "action type {} requires configuration.{}",
                    self.key(),
                    property.name
                ));
            }
        }
        let declared: Vec<&str> = self
            .configuration_properties
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        for key in action.configuration.keys() {
            if !declared.contains(&key.as_str()) {
                problems.unknown.push((
                    key.clone(),
                    format!(
                        "action type {} has no configuration property `{key}` (it has: {})",
                        self.key(),
                        if declared.is_empty() {
                            "none".to_string()
                        } else {
                            declared.join(", ")
                        }
                    ),
                ));
            }
        }
        for (what, count, details) in [
            (
                "input artifacts",
                action.input_artifacts.len(),
                self.input_artifact_details,
            ),
            (
                "output artifacts",
                action.output_artifacts.len(),
                self.output_artifact_details,
            ),
        ] {
            let (min, max) = (
                usize::from(details.minimum_count),
                usize::from(details.maximum_count),
            );
            if count < min || count > max {
                problems.missing.push(format!(
                    "action type {} takes {min} to {max} {what}, found {count}",
                    self.key()
                ));
            }
        }
        problems
    }

    /// `configuration` with secret values replaced by `****`.
    pub fn masked(
        &self,
        configuration: &BTreeMap<String, super::ConfigValue>,
    ) -> BTreeMap<String, super::ConfigValue> {
        configuration
            .iter()
            .map(|(k, v)| {
                let value = if self.is_secret(k) {
                    super::ConfigValue::Text(MASK.into())
                } else {
                    v.clone()
                };
                (k.clone(), value)
            })
            .collect()
    }
}

/// What `ActionType::problems` found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Problems {
    /// Placed at the action's type.
    pub missing: Vec<String>,
    /// (configuration key, message): placed at the key.
    pub unknown: Vec<(String, String)>,
}

/// Replaces the values of secret properties in every custom action of `pipeline`.
pub fn mask_pipeline(pipeline: &mut super::Pipeline, catalog: &super::Catalog) {
    for stage in &mut pipeline.stages {
        for action in &mut stage.actions {
            if let Some(action_type) = catalog.action_type_of(action) {
                action.configuration = action_type.masked(&action.configuration);
            }
        }
    }
}
