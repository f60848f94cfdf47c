//! The daemon's settings: defaults in code (so `baton serve` needs no file), then a YAML
//! file, then `BATON_…` environment variables (`__` between levels). Secrets are
//! `${ENV_VAR}` references or files, held in `Secret` so they never print. Imports only
//! `model` (to describe the catalog), serde and the `config` crate.

mod secret;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use secret::Secret;

use crate::model::{Catalog, ServerEntry, ServerKind};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{0}")]
    Layering(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP API listens on.
    pub listen: SocketAddr,
    /// Where the embedded database and the generated admin token live.
    pub data_dir: PathBuf,
    /// `sqlite://…` to put the database elsewhere; default `sqlite://{data_dir}/baton.db`.
    pub database_url: Option<String>,
    pub log: LogSettings,
    pub auth: AuthSettings,
    pub servers: Vec<ServerSettings>,
    pub git: GitSettings,
    pub limits: Limits,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `human` (default) or `json`.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `baton=debug,sqlx=warn`.
    pub level: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// API tokens. With none configured, the daemon makes an admin token on first start
    /// and keeps it in `{data_dir}/admin.token`.
    pub tokens: Vec<TokenSettings>,
    /// Let anyone read (GET) without a token.
    pub open_reads: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    /// Who holds the token; recorded as the actor of what they do.
    pub name: String,
    pub role: Role,
    /// `${ENV_VAR}` or a literal; or give `value_file`.
    #[serde(default)]
    pub value: Option<Secret>,
    #[serde(default)]
    pub value_file: Option<PathBuf>,
}

/// What a token may do; each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read pipelines, executions and logs.
    Read,
    /// Also start, stop, retry, approve and change transitions.
    Operate,
    /// Also create, update and delete pipelines.
    Admin,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub name: String,
    pub kind: ServerKind,
    pub url: String,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub token: Option<Secret>,
    /// How often running work is polled when no callback arrives.
    #[serde(default = "default_poll_interval", with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Per-request timeout.
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GitSettings {
    /// CodePipeline connection (connection ARN, `GitHub`, `CodeCommit`) → base URL.
    pub connections: BTreeMap<String, String>,
    /// Limit on one `git ls-remote`.
    #[serde(with = "humantime_serde")]
    pub ls_remote_timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request body the API accepts, in bytes.
    pub max_body_bytes: usize,
    /// How long SIGTERM waits for in-flight requests and store writes.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

fn default_poll_interval() -> Duration {
    Duration::from_secs(10)
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(30)
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8700)),
            data_dir: PathBuf::from("baton-data"),
            database_url: None,
            log: LogSettings::default(),
            auth: AuthSettings::default(),
            servers: Vec::new(),
            git: GitSettings::default(),
            limits: Limits::default(),
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Human,
            level: "info".into(),
        }
    }
}

impl Default for GitSettings {
    fn default() -> Self {
        GitSettings {
            connections: BTreeMap::new(),
            ls_remote_timeout: Duration::from_secs(30),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Top-level keys that environment variables may set; other `BATON_…` variables (the
/// CLI's `BATON_SERVER`, `BATON_TOKEN`) are not settings.
const ENV_KEYS: &[&str] = &[
    "LISTEN",
    "DATA_DIR",
    "DATABASE_URL",
    "LOG",
    "AUTH",
    "GIT",
    "LIMITS",
];

impl Settings {
    /// Loads the settings: defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        Self::load_with_env(file, std::env::vars())
    }

    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            let display = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                file: display.clone(),
                source,
            })?;
            // A strict typed read first, so mistakes are reported with their position.
            if !text.trim().is_empty() {
                serde_yaml::from_str::<Settings>(&text).map_err(|e| positioned(&display, e))?;
            }
            builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Yaml));
        }
        let env: config::Map<String, String> = env
            .into_iter()
            .filter_map(|(key, value)| {
                let rest = key.strip_prefix("BATON_")?;
                let top = rest.split("__").next()?;
                ENV_KEYS.contains(&top).then_some((key, value))
            })
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("BATON")
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .source(Some(env)),
        );
        let built = builder
            .build()
            .map_err(|e| ConfigError::Layering(e.to_string()))?;
        let settings: Settings = built
            .try_deserialize()
            .map_err(|e| ConfigError::Layering(e.to_string()))?;
        settings.check(file)?;
        Ok(settings)
    }

    fn check(&self, file: Option<&Path>) -> Result<(), ConfigError> {
        let where_ = file.map_or("settings".to_string(), |f| f.display().to_string());
        let fail = |message: String| ConfigError::Layering(format!("{where_}: {message}"));
        let mut seen = std::collections::BTreeSet::new();
        for server in &self.servers {
            if !seen.insert(server.name.as_str()) {
                return Err(fail(format!("server `{}` is defined twice", server.name)));
            }
            if !(server.url.starts_with("http://") || server.url.starts_with("https://")) {
                return Err(fail(format!(
                    "server `{}`: url must start with http:// or https://",
                    server.name
                )));
            }
        }
        for token in &self.auth.tokens {
            if token.value.is_none() == token.value_file.is_none() {
                return Err(fail(format!(
                    "token `{}` needs exactly one of value or value_file",
                    token.name
                )));
            }
        }
        Ok(())
    }

    /// Expands every `${VAR}` secret reference and reads token files; the daemon calls this
    /// once at start, so a missing variable stops it with a message that names it.
    pub fn resolve_secrets(&mut self) -> Result<(), ConfigError> {
        for server in &mut self.servers {
            if let Some(token) = &mut server.token {
                token.resolve().map_err(|e| {
                    ConfigError::Layering(format!("server `{}` token: {e}", server.name))
                })?;
            }
        }
        for token in &mut self.auth.tokens {
            let fail = |e: String| ConfigError::Layering(format!("token `{}`: {e}", token.name));
            match (&mut token.value, &token.value_file) {
                (Some(value), _) => value.resolve().map_err(fail)?,
                (None, Some(path)) => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
                    token.value = Some(Secret::new(text.trim()));
                }
                (None, None) => {}
            }
            if token.value.as_ref().is_some_and(|v| v.expose().len() < 16) {
                return Err(ConfigError::Layering(format!(
                    "token `{}` is shorter than 16 characters",
                    token.name
                )));
            }
        }
        Ok(())
    }

    /// The servers and connections that pipelines may use.
    pub fn catalog(&self) -> Catalog {
        Catalog {
            servers: self
                .servers
                .iter()
                .map(|s| ServerEntry {
                    name: s.name.clone(),
                    kind: s.kind,
                })
                .collect(),
            git_connections: self.git.connections.clone(),
        }
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("baton.db").display()))
    }

    pub fn admin_token_path(&self) -> PathBuf {
        self.data_dir.join(ADMIN_TOKEN_FILE)
    }
}

/// Name of the generated admin token's file in the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

fn positioned(file: &str, error: serde_yaml::Error) -> ConfigError {
    let (line, column) = error.location().map_or((1, 1), |l| (l.line(), l.column()));
    let message = error.to_string();
    // serde_yaml appends " at line L column C"; the prefix already says where.
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_string();
    ConfigError::Invalid {
        file: file.to_string(),
        line,
        column,
        message,
    }
}

#[cfg(test)]
mod tests;
