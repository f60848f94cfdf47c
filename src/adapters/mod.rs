//! Adapters to the systems that run actions: one module per external system behind the
//! `Adapter` trait. Each owns its wire types, auth, rate limit and retry policy, and
//! classifies every failure as retryable or fatal so the runtime never reads HTTP codes.
//! May import `model` and the engine's id types; never the store or the API.

pub mod batch;
pub mod git;
pub mod http;
pub mod jenkins;
pub mod scripted;
pub mod teamcity;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use crate::model::ConfigValue;

/// Everything an adapter needs to start and follow one action run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionContext {
    /// The idempotency key: every trigger carries it, and `find` looks for it.
    pub run_id: String,
    pub pipeline: String,
    pub execution_id: String,
    pub stage: String,
    pub action: String,
    pub attempt: u32,
    /// The action's configuration with variables already substituted.
    pub configuration: crate::model::ResolvedConfiguration,
    /// The revision the execution was started with (`run start --revision`).
    pub revision: Option<String>,
    /// Output variables of the actions that produced this action's input artifacts.
    pub input_artifacts: Vec<ArtifactInput>,
    /// Where people see this execution in Baton (for build descriptions and comments).
    pub execution_link: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactInput {
    pub name: String,
    pub variables: BTreeMap<String, String>,
}

impl ActionContext {
    pub fn config_text(&self, key: &str) -> Option<&str> {
        self.configuration.get(key).and_then(ConfigValue::as_text)
    }
}

/// External work that an adapter started (or found again after a crash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// What identifies the work on the external system (queue item, build id, commit).
    pub external_id: String,
    pub external_url: Option<String>,
    /// Set when the work finished as it started (a git source resolving a head).
    pub finished: Option<Outcome>,
}

/// Where external work stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Running {
        /// A better id than the one returned at trigger time (a build number once the
        /// queue item became a build).
        external_id: Option<String>,
        external_url: Option<String>,
        percent_complete: Option<u8>,
        summary: Option<String>,
    },
    Finished(Outcome),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded {
        outputs: BTreeMap<String, String>,
        summary: Option<String>,
    },
    Failed {
        error: String,
        outputs: BTreeMap<String, String>,
    },
}

/// A piece of an action's log, from `offset` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    pub text: String,
    pub next_offset: u64,
    /// True when the log is complete and will not grow.
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdapterError {
    /// Worth trying again later (timeouts, 5xx, 429); `retry_after` honours the server's word.
    #[error("{message}")]
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Will not get better by retrying (bad credentials, unknown job, invalid parameters).
    #[error("{0}")]
    Fatal(String),
    /// The adapter has no such capability (a log for an approval, say).
    #[error("{0}")]
    Unsupported(String),
}

impl AdapterError {
    pub fn retryable(message: impl Into<String>) -> Self {
        AdapterError::Retryable {
            message: message.into(),
            retry_after: None,
        }
    }
}

pub type Result<T, E = AdapterError> = std::result::Result<T, E>;

/// An inbound callback from a CI server, as the API received it.
#[derive(Debug, Clone, Default)]
pub struct Callback {
    pub query: BTreeMap<String, String>,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Callback {
    /// Checks that the callback carries `secret`: as the query parameter `token` (all
    /// some plugins can send), the header `X-Baton-Token`, or `Authorization: Bearer`,
    /// compared in constant time. With no secret configured every callback is refused.
    pub fn check_secret(&self, secret: Option<&str>) -> Result<(), CallbackError> {
        use subtle::ConstantTimeEq;
        let Some(secret) = secret.filter(|s| !s.is_empty()) else {
            return Err(CallbackError::Unauthorized);
        };
        let bearer = self
            .headers
            .get("authorization")
            .and_then(|value| value.strip_prefix("Bearer "));
        let given = self
            .query
            .get("token")
            .or_else(|| self.headers.get("x-baton-token"))
            .map(String::as_str)
            .or(bearer)
            .ok_or(CallbackError::Unauthorized)?;
        if bool::from(given.trim().as_bytes().ct_eq(secret.as_bytes())) {
            Ok(())
        } else {
            Err(CallbackError::Unauthorized)
        }
    }
}

/// What a callback asks for, by the keys of the work it names: a look now (the news may
/// be the end of the work), a look soon (progress: the read may wait a moment to share a
/// request with other builds), or a look a little later (`LATER`: the news is probably
/// not final, and a later callback should normally make the look unneeded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wakes {
    pub now: Vec<String>,
    pub soon: Vec<String>,
    pub later: Vec<String>,
}

impl Wakes {
    /// How long a `later` wake waits.
    pub const LATER: Duration = Duration::from_secs(1);

    pub fn now(keys: Vec<String>) -> Wakes {
        Wakes {
            now: keys,
            ..Wakes::default()
        }
    }

    pub fn soon(keys: Vec<String>) -> Wakes {
        Wakes {
            soon: keys,
            ..Wakes::default()
        }
    }

    pub fn later(keys: Vec<String>) -> Wakes {
        Wakes {
            later: keys,
            ..Wakes::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("the callback's secret is missing or wrong")]
    Unauthorized,
    #[error("malformed callback: {0}")]
    Malformed(String),
    #[error("this server takes no callbacks")]
    Unsupported,
}

/// One external system that runs actions.
#[async_trait]
pub trait Adapter: Send + Sync {
    /// Starts the work for `ctx.run_id`. Called only after the intent is stored, and only
    /// when `find` (after a crash) said nothing was started yet.
    async fn trigger(&self, ctx: &ActionContext) -> Result<Started>;

    /// Looks for work already started under `ctx.run_id`, used after a crash between
    /// "trigger sent" and "trigger recorded" so a trigger is never sent twice.
    async fn find(&self, ctx: &ActionContext) -> Result<Option<Started>>;

    /// Reads where the work stands now, from the external system (the source of truth).
    async fn status(&self, ctx: &ActionContext, external_id: &str) -> Result<Progress>;

    /// Asks the external system to stop the work; `external_id` is None when the trigger
    /// may have been sent but was never recorded.
    async fn cancel(&self, ctx: &ActionContext, external_id: Option<&str>) -> Result<()>;

    /// Reads the work's log from `offset` (bytes).
    async fn log(&self, ctx: &ActionContext, external_id: &str, offset: u64) -> Result<LogChunk>;

    /// How long to wait before asking `status` again, given how long the work has been
    /// followed (an adapter may slow down for long builds); callbacks wake the follower
    /// earlier.
    fn poll_interval(&self, followed_for: Duration) -> Duration;

    /// The keys a callback about this work may carry (queue item, build), under which the
    /// runtime files its follower so a callback wakes exactly it.
    fn wake_keys(&self, _ctx: &ActionContext, external_id: &str) -> Vec<String> {
        vec![external_id.to_string()]
    }

    /// Authenticates and reads an inbound callback; returns the keys of the work it names
    /// and how soon to look at it. A callback is only a hint: the follower then reads the
    /// truth from the server.
    fn callback(&self, _callback: &Callback) -> Result<Wakes, CallbackError> {
        Err(CallbackError::Unsupported)
    }

    /// How many builds Baton may keep running on this system at once.
    fn max_in_flight(&self) -> Option<usize> {
        None
    }
}
