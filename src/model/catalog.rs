//! What the daemon config makes available to pipelines: named CI servers and git
//! connections. Validation checks actions against it, and the runtime asks it which
//! executor runs an action. Plain data, filled in by `config`; no I/O.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::action_type::{ActionType, ActionTypeKey};
use super::definition::{Action, Category, Owner};

/// The kinds of CI server Baton can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerKind {
    Jenkins,
    #[serde(rename = "teamcity")]
    TeamCity,
    /// The scripted CI server in `sim/`, for tests and demonstrations.
    Scripted,
}

impl ServerKind {
    /// The `provider` name an action uses to run on a server of this kind.
    pub fn provider(self) -> &'static str {
        match self {
            ServerKind::Jenkins => "Jenkins",
            ServerKind::TeamCity => "TeamCity",
            ServerKind::Scripted => "Scripted",
        }
    }

    pub fn from_provider(provider: &str) -> Option<ServerKind> {
        [
            ServerKind::Jenkins,
            ServerKind::TeamCity,
            ServerKind::Scripted,
        ]
        .into_iter()
        .find(|kind| kind.provider() == provider)
    }
}

impl fmt::Display for ServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.provider())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerEntry {
    pub name: String,
    pub kind: ServerKind,
}

/// Servers and git connections known to the daemon.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    pub servers: Vec<ServerEntry>,
    /// CodePipeline connection (a connection ARN, `GitHub` or `CodeCommit`) → base URL that
    /// repository names are appended to.
    pub git_connections: BTreeMap<String, String>,
    /// Custom action types that job workers run.
    pub action_types: BTreeMap<ActionTypeKey, ActionType>,
}

/// Who runs an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Executor {
    /// The built-in manual approval, handled by the engine itself.
    Approval,
    /// The built-in git source.
    Git {
        repository_url: String,
        branch: String,
    },
    /// A job on a configured CI server.
    Ci { server: String, kind: ServerKind },
    /// A job that workers of a custom action type poll for.
    JobWorker { action_type: ActionTypeKey },
}

/// Providers that only exist inside AWS, with what to point them at instead.
pub const AWS_ONLY_PROVIDERS: &[&str] = &[
    "CodeBuild",
    "CodeDeploy",
    "CloudFormation",
    "ECS",
    "ECR",
    "S3",
    "Lambda",
    "StepFunctions",
    "ElasticBeanstalk",
    "OpsWorks",
    "ServiceCatalog",
    "AppConfig",
    "DeviceFarm",
    "AlexaSkillsKit",
    "CodeDeployToECS",
    "Commands",
    "EC2",
    "EKS",
    "InspectorScan",
    "CodeStarSourceConnection",
    "CodeCommit",
    "GitHub",
];

impl Catalog {
    /// The custom action type `action` runs as, if any.
    pub fn action_type_of(&self, action: &Action) -> Option<&ActionType> {
        let key = ActionTypeKey::of(&action.action_type_id)?;
        if self.server(&key.provider).is_some() {
            return None;
        }
        self.action_types.get(&key)
    }

    pub fn server(&self, name: &str) -> Option<&ServerEntry> {
        self.servers.iter().find(|s| s.name == name)
    }

    fn servers_of(&self, kind: ServerKind) -> impl Iterator<Item = &ServerEntry> {
        self.servers.iter().filter(move |s| s.kind == kind)
    }

    /// The configured servers of `kind`, for error messages.
    fn names_of(&self, kind: ServerKind) -> String {
        let names: Vec<&str> = self.servers_of(kind).map(|s| s.name.as_str()).collect();
        if names.is_empty() {
            format!("no {kind} server")
        } else {
            names.join(", ")
        }
    }

    /// Decides who runs `action`, or says in one sentence why nobody can.
    pub fn executor(&self, action: &Action) -> Result<Executor, String> {
        let id = &action.action_type_id;
        let provider = id.provider.as_str();
        if action.is_manual_approval() {
            return Ok(Executor::Approval);
        }
        if id.category == Category::Source {
            return self.git_source(action);
        }
        if let Some(kind) = ServerKind::from_provider(provider) {
            return self.server_for(kind, action);
        }
        if id.owner == Owner::Custom {
            if let Some(server) = self.server(provider) {
                return Ok(Executor::Ci {
                    server: server.name.clone(),
                    kind: server.kind,
                });
            }
            if let Some(key) = ActionTypeKey::of(id).filter(|k| self.action_types.contains_key(k)) {
                return Ok(Executor::JobWorker { action_type: key });
            }
        }
        if id.owner == Owner::Aws || AWS_ONLY_PROVIDERS.contains(&provider) {
            return Err(format!(
                "provider `{provider}` runs only inside AWS; point this action at a Jenkins or \
                 TeamCity server instead (provider: Jenkins or TeamCity, with configuration.Server)"
            ));
        }
        let known: Vec<&str> = self.servers.iter().map(|s| s.name.as_str()).collect();
        Err(format!(
            "unknown provider `{provider}`; use Git, Manual, Jenkins or TeamCity, a Custom \
             action named after a configured server ({}), or a registered custom action type",
            if known.is_empty() {
                "none configured".to_string()
            } else {
                known.join(", ")
            }
        ))
    }

    fn server_for(&self, kind: ServerKind, action: &Action) -> Result<Executor, String> {
        let found = match action.config_text("Server") {
            Some(name) => match self.server(name) {
                Some(server) if server.kind == kind => server,
                Some(server) => {
                    return Err(format!(
                        "server `{name}` is a {} server, not {kind}",
                        server.kind
                    ))
                }
                // URLs come only from the daemon config: a definition names a server and
                // can never point Baton at an address of its own choosing.
                None if name.contains("://") => {
                    return Err(format!(
                        "configuration.Server `{name}` is a URL; name a {kind} server of the \
                         daemon config instead ({})",
                        self.names_of(kind)
                    ))
                }
                None => {
                    return Err(format!(
                        "unknown {kind} server `{name}`; the daemon config has {}",
                        self.names_of(kind)
                    ))
                }
            },
            None => {
                let mut candidates = self.servers_of(kind);
                match (candidates.next(), candidates.next()) {
                    (Some(only), None) => only,
                    (None, _) => return Err(format!("no {kind} server is configured")),
                    (Some(_), Some(_)) => {
                        return Err(format!(
                        "several {kind} servers are configured; name one with configuration.Server"
                    ))
                    }
                }
            }
        };
        Ok(Executor::Ci {
            server: found.name.clone(),
            kind,
        })
    }

    fn git_source(&self, action: &Action) -> Result<Executor, String> {
        let provider = action.action_type_id.provider.as_str();
        let required = |key: &str| {
            action
                .config_text(key)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .ok_or_else(|| format!("{provider} source needs configuration.{key}"))
        };
        let connection = |key: &str| {
            self.git_connections
                .get(key)
                .map(|base| base.trim_end_matches('/').to_string())
                .ok_or_else(|| {
                    format!(
                        "no git connection `{key}` in the daemon config (git.connections maps it \
                         to a base URL)"
                    )
                })
        };
        let (repository_url, branch) = match provider {
            "Git" => (required("RepositoryUrl")?, required("BranchName")?),
            "CodeStarSourceConnection" => {
                let base = connection(&required("ConnectionArn")?)?;
                (
                    format!("{base}/{}", required("FullRepositoryId")?),
                    required("BranchName")?,
                )
            }
            "GitHub" => {
                let base = connection("GitHub")?;
                (
                    format!("{base}/{}/{}", required("Owner")?, required("Repo")?),
                    required("Branch")?,
                )
            }
            "CodeCommit" => {
                let base = connection("CodeCommit")?;
                (
                    format!("{base}/{}", required("RepositoryName")?),
                    required("BranchName")?,
                )
            }
            other => {
                return Err(format!(
                    "unknown source provider `{other}`; Baton runs Git sources (Git, \
                     CodeStarSourceConnection, GitHub, CodeCommit)"
                ))
            }
        };
        Ok(Executor::Git {
            repository_url,
            branch,
        })
    }
}
