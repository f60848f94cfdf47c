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

use crate::model::{ActionType, ActionTypeKey, Catalog, ServerEntry, ServerKind};

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
    /// How people and CI servers reach this daemon (links in build descriptions, review
    /// URLs); default `http://{listen}`.
    pub public_url: Option<String>,
    /// `sqlite://…` to put the database elsewhere; default `sqlite://{data_dir}/baton.db`.
    pub database_url: Option<String>,
    pub log: LogSettings,
    pub auth: AuthSettings,
    pub servers: Vec<ServerSettings>,
    pub git: GitSettings,
    pub limits: Limits,
    /// Webhooks told about executions, stages and approvals as they happen.
    pub notifications: Vec<NotificationSettings>,
    /// Custom action types (CodePipeline's fields), run by job workers; more can be
    /// registered through the API.
    pub action_types: Vec<ActionType>,
    pub jobs: JobSettings,
}

/// The job-worker protocol.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobSettings {
    /// A job handed to a worker that does not acknowledge it within this goes back to the
    /// queue for another worker.
    #[serde(with = "humantime_serde")]
    pub ack_timeout: Duration,
    /// Longest a poll waits for a job before answering with none.
    #[serde(with = "humantime_serde")]
    pub max_poll_wait: Duration,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            ack_timeout: Duration::from_secs(60),
            max_poll_wait: Duration::from_secs(20),
        }
    }
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
    /// For the `worker` role: the custom action types (`CATEGORY/PROVIDER/VERSION`) whose
    /// jobs the token may take.
    #[serde(default)]
    pub action_types: Vec<String>,
}

/// What a token may do; each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Only the job-worker API, for the action types the token names; nothing else.
    Worker,
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
    /// Longest poll interval: polling slows down towards it as a build runs long.
    #[serde(default = "default_max_poll_interval", with = "humantime_serde")]
    pub max_poll_interval: Duration,
    #[serde(default)]
    pub tls: TlsSettings,
    #[serde(default)]
    pub rate_limit: RateLimit,
    /// Requests to this server waiting for an answer at once, and keep-alive connections
    /// kept open to it; further requests queue.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Builds Baton keeps running on this server at once; further actions wait their turn.
    #[serde(default)]
    pub max_builds_in_flight: Option<usize>,
    /// Inbound callbacks (`/hooks/{kind}/{server}`) from this server.
    #[serde(default)]
    pub callback: Option<CallbackSettings>,
    /// Fail an action whose build waited in the server's queue longer than this.
    #[serde(default, with = "humantime_serde")]
    pub queue_timeout: Option<Duration>,
    /// Fail an action whose build printed nothing new for this long.
    #[serde(default, with = "humantime_serde")]
    pub inactivity_timeout: Option<Duration>,
    /// What to do when, after a restart, a trigger may or may not have reached the server
    /// and nothing proves either way: `fail` (default: never risk a second build) or `retrigger`.
    #[serde(default)]
    pub unknown_trigger: UnknownTriggerPolicy,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM file with extra CA certificates to trust.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate. Never in production: anyone on the path can read the token.
    pub skip_verify: bool,
}

/// Requests per second to one server, with a burst allowance.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_second: 20,
            burst: 40,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackSettings {
    /// Shared secret the server sends with each callback (query `token` or a header).
    pub secret: Secret,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownTriggerPolicy {
    #[default]
    Fail,
    Retrigger,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GitSettings {
    /// CodePipeline connection (connection ARN, `GitHub`, `CodeCommit`) → base URL.
    pub connections: BTreeMap<String, String>,
    /// Limit on one `git ls-remote`.
    #[serde(with = "humantime_serde")]
    pub ls_remote_timeout: Duration,
    /// How often sources with `PollForSourceChanges: "true"` are checked; a pipeline's
    /// trigger may set its own `pollInterval`.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Most `git ls-remote` calls per second to one repository host, across all pipelines.
    pub polls_per_second_per_host: u32,
    /// Secret that push webhooks (`/hooks/git/{pipeline}`) are signed with. Without one,
    /// webhooks are refused.
    pub webhook_secret: Option<Secret>,
    /// Further secrets by name, for pipelines whose trigger names one (`webhookSecret`).
    pub webhook_secrets: BTreeMap<String, Secret>,
}

/// One receiver of notifications.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// Where each notification is POSTed; a `${ENV_VAR}` reference or a literal, since
    /// some receivers' URLs (Slack's) are themselves the secret.
    pub url: Secret,
    /// Key of the `X-Baton-Signature-256` HMAC over the body; unsigned without one.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// Pipelines to notify about; all when empty.
    #[serde(default)]
    pub pipelines: Vec<String>,
    /// Events to send; all when empty.
    #[serde(default)]
    pub events: Vec<NotificationEvent>,
    /// `json` (Baton's payload) or `slack` (`{"text": ..}` for incoming webhooks).
    #[serde(default)]
    pub format: NotificationFormat,
    /// Attempts per notification, the first included, before it is given up.
    #[serde(default = "default_notification_attempts")]
    pub max_attempts: u32,
    /// First delay between attempts; it grows exponentially, with jitter, up to a minute.
    #[serde(default = "default_notification_retry_delay", with = "humantime_serde")]
    pub retry_delay: Duration,
    /// Limit on one attempt, so a receiver that hangs costs no more than this.
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Notifications waiting for this receiver; beyond it the oldest are dropped (and
    /// counted in `baton_notifications_dropped_total`).
    #[serde(default = "default_notification_queue")]
    pub queue_size: usize,
}

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum NotificationEvent {
    #[serde(rename = "execution.started")]
    ExecutionStarted,
    #[serde(rename = "execution.succeeded")]
    ExecutionSucceeded,
    #[serde(rename = "execution.failed")]
    ExecutionFailed,
    #[serde(rename = "execution.superseded")]
    ExecutionSuperseded,
    #[serde(rename = "execution.stopped")]
    ExecutionStopped,
    #[serde(rename = "stage.started")]
    StageStarted,
    #[serde(rename = "stage.succeeded")]
    StageSucceeded,
    #[serde(rename = "stage.failed")]
    StageFailed,
    #[serde(rename = "approval.needed")]
    ApprovalNeeded,
    #[serde(rename = "approval.decided")]
    ApprovalDecided,
}

impl NotificationEvent {
    /// The name in the config, the payload and the `X-Baton-Event` header.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationEvent::ExecutionStarted => "execution.started",
            NotificationEvent::ExecutionSucceeded => "execution.succeeded",
            NotificationEvent::ExecutionFailed => "execution.failed",
            NotificationEvent::ExecutionSuperseded => "execution.superseded",
            NotificationEvent::ExecutionStopped => "execution.stopped",
            NotificationEvent::StageStarted => "stage.started",
            NotificationEvent::StageSucceeded => "stage.succeeded",
            NotificationEvent::StageFailed => "stage.failed",
            NotificationEvent::ApprovalNeeded => "approval.needed",
            NotificationEvent::ApprovalDecided => "approval.decided",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationFormat {
    #[default]
    Json,
    Slack,
}

fn default_notification_attempts() -> u32 {
    6
}

fn default_notification_retry_delay() -> Duration {
    Duration::from_secs(1)
}

fn default_notification_queue() -> usize {
    1000
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request body the API accepts, in bytes.
    pub max_body_bytes: usize,
    /// How long a client may take to send a request's body; a slower one gets 408.
    #[serde(with = "humantime_serde")]
    pub request_body_timeout: Duration,
    /// How long a client may take to send a request's line and headers; a slower one has
    /// its connection closed (also between requests on a kept-alive connection).
    #[serde(with = "humantime_serde")]
    pub request_header_timeout: Duration,
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

fn default_max_connections() -> usize {
    16
}

fn default_max_poll_interval() -> Duration {
    Duration::from_secs(60)
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8700)),
            data_dir: PathBuf::from("baton-data"),
            public_url: None,
            database_url: None,
            log: LogSettings::default(),
            auth: AuthSettings::default(),
            servers: Vec::new(),
            git: GitSettings::default(),
            limits: Limits::default(),
            notifications: Vec::new(),
            action_types: Vec::new(),
            jobs: JobSettings::default(),
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
            poll_interval: Duration::from_secs(60),
            polls_per_second_per_host: 2,
            webhook_secret: None,
            webhook_secrets: BTreeMap::new(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            request_body_timeout: Duration::from_secs(30),
            request_header_timeout: Duration::from_secs(30),
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
            if server.rate_limit.per_second == 0 || server.rate_limit.burst == 0 {
                return Err(fail(format!(
                    "server `{}`: rate_limit needs per_second and burst above 0",
                    server.name
                )));
            }
            if server.max_connections == 0 {
                return Err(fail(format!(
                    "server `{}`: max_connections must be at least 1",
                    server.name
                )));
            }
            if server.max_builds_in_flight == Some(0) {
                return Err(fail(format!(
                    "server `{}`: max_builds_in_flight must be at least 1",
                    server.name
                )));
            }
            if !(server.url.starts_with("http://") || server.url.starts_with("https://")) {
                return Err(fail(format!(
                    "server `{}`: url must start with http:// or https://",
                    server.name
                )));
            }
        }
        if self.git.poll_interval < Duration::from_millis(100) {
            return Err(fail("git.poll_interval must be at least 100ms".into()));
        }
        if self.git.polls_per_second_per_host == 0 {
            return Err(fail(
                "git.polls_per_second_per_host must be at least 1".into(),
            ));
        }
        for (n, sink) in self.notifications.iter().enumerate() {
            let url = sink.url.expose();
            if !url.starts_with("${") && !is_http_url(url) {
                return Err(fail(format!(
                    "notifications[{n}]: url must start with http:// or https://"
                )));
            }
            if sink.max_attempts == 0 || sink.queue_size == 0 {
                return Err(fail(format!(
                    "notifications[{n}]: max_attempts and queue_size must be at least 1"
                )));
            }
        }
        let mut types = std::collections::BTreeSet::new();
        for action_type in &self.action_types {
            let key = action_type.key();
            if let Err(problems) = action_type.check() {
                return Err(fail(format!("action type {key}: {}", problems.join("; "))));
            }
            if !types.insert(key.clone()) {
                return Err(fail(format!("action type {key} is defined twice")));
            }
        }
        if self.jobs.ack_timeout < Duration::from_millis(100) {
            return Err(fail("jobs.ack_timeout must be at least 100ms".into()));
        }
        for token in &self.auth.tokens {
            for text in &token.action_types {
                ActionTypeKey::parse(text)
                    .map_err(|e| fail(format!("token `{}`: {e}", token.name)))?;
            }
            if (token.role == Role::Worker) == token.action_types.is_empty() {
                return Err(fail(format!(
                    "token `{}`: action_types go with the worker role, and a worker token needs them",
                    token.name
                )));
            }
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
            let name = server.name.clone();
            let fail = |what: &str, e: String| {
                ConfigError::Layering(format!("server `{name}` {what}: {e}"))
            };
            if let Some(token) = &mut server.token {
                token.resolve().map_err(|e| fail("token", e))?;
            }
            if let Some(callback) = &mut server.callback {
                callback
                    .secret
                    .resolve()
                    .map_err(|e| fail("callback secret", e))?;
            }
        }
        if let Some(secret) = &mut self.git.webhook_secret {
            secret
                .resolve()
                .map_err(|e| ConfigError::Layering(format!("git.webhook_secret: {e}")))?;
        }
        for (name, secret) in &mut self.git.webhook_secrets {
            secret
                .resolve()
                .map_err(|e| ConfigError::Layering(format!("git.webhook_secrets.{name}: {e}")))?;
        }
        for (n, sink) in self.notifications.iter_mut().enumerate() {
            sink.url
                .resolve()
                .map_err(|e| ConfigError::Layering(format!("notifications[{n}].url: {e}")))?;
            if !is_http_url(sink.url.expose()) {
                return Err(ConfigError::Layering(format!(
                    "notifications[{n}].url must start with http:// or https://"
                )));
            }
            if let Some(secret) = &mut sink.secret {
                secret.resolve().map_err(|e| {
                    ConfigError::Layering(format!("notifications[{n}].secret: {e}"))
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
            action_types: self
                .action_types
                .iter()
                .map(|t| (t.key(), t.clone()))
                .collect(),
        }
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("baton.db").display()))
    }

    /// The URL this daemon is reached at, without a trailing slash.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_string()
    }

    pub fn admin_token_path(&self) -> PathBuf {
        self.data_dir.join(ADMIN_TOKEN_FILE)
    }
}

fn is_http_url(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
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
