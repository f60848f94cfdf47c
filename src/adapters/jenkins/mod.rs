//! The Jenkins adapter: triggers jobs over the remote API, follows queue items and builds
//! by batched polling and callback wake-ups, maps results to outcomes with outputs, reads
//! console logs and cancels. Every wire detail follows `shared/reference/jenkins-api.md`.
//!
//! Action configuration (variables already resolved):
//! - `ProjectName`: the job's full name, folders separated by `/` (`team/app/build`); a
//!   multibranch branch is named as Jenkins names it (`repo/feature%2Ffoo`).
//! - `Parameters`: a map, or a JSON object as text; every name must be a parameter the
//!   job defines (Jenkins would drop the others silently).
//! - `UnstableAsSuccess`: `"true"` lets an UNSTABLE build succeed.
//! - `ResultMapping`: `UNSTABLE=Succeeded,ABORTED=Failed`; overrides the defaults
//!   (only SUCCESS succeeds) and `UnstableAsSuccess`.
//! - `PropertyFile`: an artifact (Java properties or a JSON object) whose keys become
//!   output variables.
//!
//! External ids are `q{queue_id}` while queued and `{queue_id}:{build_number}` once the
//! build exists. Wake keys are `queue:{queue_id}`, `build:{full name}#{number}` and
//! `run:{run id}` (see `callback.rs`).
//!
//! Exactly once: a job that defines a string parameter `BATON_ACTION_RUN` gets the run id
//! in it, and `find` recognises the run's queue item or build by it. For a job without it
//! nothing on the server tells whether a lost trigger arrived, and the server's
//! `unknown_trigger` policy decides: `fail` (default) or `retrigger` (see `find.rs`).
//!
//! Limits: `queue_timeout` cancels an item that waits too long in the queue, and
//! `inactivity_timeout` stops a build whose console has not grown for that long (the
//! clock lives in memory and starts again after a restart). `max_builds_in_flight` caps
//! the builds Baton runs at once; polling starts at `poll_interval` and slows towards
//! `max_poll_interval` as a build runs long.

mod action;
mod builds;
mod callback;
mod client;
mod crumb;
mod find;
mod finish;
mod follow;
#[cfg(test)]
mod fuzz;
mod ids;
mod log;
mod memory;
mod outputs;
mod path;
mod queue;
mod results;
mod trigger;
mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use self::action::JobConfig;
use self::builds::BuildBatcher;
use self::client::Jenkins;
use self::ids::ExternalId;
use self::memory::Memory;
use self::path::JobPath;
use super::http::{Credentials, ServerClient};
use super::{
    ActionContext, Adapter, AdapterError, Callback, CallbackError, LogChunk, Progress, Result,
    Started, Wakes,
};
use crate::config::{ServerSettings, UnknownTriggerPolicy};

/// The job parameter that carries the run id, so `find` can recognise a run's build.
pub const MARKER: &str = "BATON_ACTION_RUN";

/// Talks to one Jenkins server.
pub struct JenkinsAdapter {
    jenkins: Jenkins,
    options: Options,
    memory: Memory,
    /// Parameter names per job, with when they were read.
    parameters: Mutex<ParameterCache>,
    batchers: Mutex<HashMap<JobPath, Arc<BuildBatcher>>>,
}

/// Parameter names per job, with when they were read.
type ParameterCache = HashMap<JobPath, (Instant, Arc<Vec<String>>)>;

/// The server settings the adapter acts on.
struct Options {
    poll_interval: Duration,
    max_poll_interval: Duration,
    queue_timeout: Option<Duration>,
    inactivity_timeout: Option<Duration>,
    unknown_trigger: UnknownTriggerPolicy,
    max_in_flight: Option<usize>,
    callback_secret: Option<String>,
    batch_window: Duration,
}

impl JenkinsAdapter {
    /// An adapter for the server in `settings`, whose secrets are already resolved. It
    /// authenticates with `user` and API `token` (Basic); give both or neither.
    pub fn new(settings: &ServerSettings) -> Result<JenkinsAdapter> {
        let client = ServerClient::without_redirects(settings, credentials(settings)?)?;
        Ok(Self::with_client(settings, client))
    }

    /// Like `new`, with a shorter backoff between read retries (tests, simulators).
    pub fn with_read_backoff(
        settings: &ServerSettings,
        min: Duration,
        max: Duration,
    ) -> Result<JenkinsAdapter> {
        let client = ServerClient::without_redirects(settings, credentials(settings)?)?
            .with_backoff(min, max);
        Ok(Self::with_client(settings, client))
    }

    fn with_client(settings: &ServerSettings, client: ServerClient) -> JenkinsAdapter {
        let token = settings.token.as_ref().map(|t| t.expose().to_string());
        JenkinsAdapter {
            jenkins: Jenkins::new(client, token),
            options: Options {
                poll_interval: settings.poll_interval,
                max_poll_interval: settings.max_poll_interval.max(settings.poll_interval),
                queue_timeout: settings.queue_timeout,
                inactivity_timeout: settings.inactivity_timeout,
                unknown_trigger: settings.unknown_trigger,
                max_in_flight: settings.max_builds_in_flight,
                callback_secret: settings
                    .callback
                    .as_ref()
                    .map(|c| c.secret.expose().to_string()),
                batch_window: builds::batch_window(settings.poll_interval),
            },
            memory: Memory::default(),
            parameters: Mutex::new(HashMap::new()),
            batchers: Mutex::new(HashMap::new()),
        }
    }

    /// Requests sent to the server so far.
    pub fn requests_sent(&self) -> u64 {
        self.jenkins.client.requests_sent()
    }

    fn config(&self, ctx: &ActionContext) -> Result<JobConfig> {
        JobConfig::from_context(ctx).map_err(|why| {
            AdapterError::Fatal(format!("Jenkins server `{}`: {why}", self.jenkins.name()))
        })
    }

    fn external_id(&self, text: &str) -> Result<ExternalId> {
        ExternalId::parse(text).ok_or_else(|| {
            AdapterError::Fatal(format!(
                "Jenkins server `{}`: `{text}` is not a Jenkins queue item or build id",
                self.jenkins.name()
            ))
        })
    }
}

fn credentials(settings: &ServerSettings) -> Result<Credentials> {
    let token = settings.token.as_ref().map(|t| t.expose().to_string());
    match (&settings.user, token) {
        (Some(user), Some(token)) => Ok(Credentials::Basic {
            user: user.clone(),
            token,
        }),
        (None, None) => Ok(Credentials::None),
        (Some(_), None) => Err(AdapterError::Fatal(format!(
            "Jenkins server `{}` has a user but no token",
            settings.name
        ))),
        (None, Some(_)) => Err(AdapterError::Fatal(format!(
            "Jenkins server `{}` has a token but no user; Jenkins API tokens belong to a user",
            settings.name
        ))),
    }
}

#[async_trait]
impl Adapter for JenkinsAdapter {
    async fn trigger(&self, ctx: &ActionContext) -> Result<Started> {
        let config = self.config(ctx)?;
        let started = self.start_build(ctx, &config).await;
        started.map_err(|e| self.jenkins.scrub(e))
    }

    async fn find(&self, ctx: &ActionContext) -> Result<Option<Started>> {
        let config = self.config(ctx)?;
        let found = self.find_started(ctx, &config).await;
        found.map_err(|e| self.jenkins.scrub(e))
    }

    async fn status(&self, ctx: &ActionContext, external_id: &str) -> Result<Progress> {
        let config = self.config(ctx)?;
        let id = self.external_id(external_id)?;
        let progress = self.follow(ctx, &config, id).await;
        progress.map_err(|e| self.jenkins.scrub(e))
    }

    async fn cancel(&self, ctx: &ActionContext, external_id: Option<&str>) -> Result<()> {
        let config = self.config(ctx)?;
        let id = match external_id {
            Some(text) => self.external_id(text)?,
            None => match self.search(ctx, &config).await {
                Ok(find::Search::Found(started)) => self.external_id(&started.external_id)?,
                Ok(find::Search::Absent) => return Ok(()),
                Ok(find::Search::NoMarker) => {
                    return Err(AdapterError::Fatal(format!(
                        "cannot tell which build to cancel: job `{}` has no {MARKER} parameter",
                        config.job
                    )))
                }
                Err(error) => return Err(self.jenkins.scrub(error)),
            },
        };
        let cancelled = match id {
            ExternalId::Queued { queue_id } => {
                self.cancel_queued(&config.job, queue_id).await.map(|_| ())
            }
            ExternalId::Build { number, .. } => self.stop_build(&config.job, number).await,
        };
        cancelled.map_err(|e| self.jenkins.scrub(e))
    }

    async fn log(&self, ctx: &ActionContext, external_id: &str, offset: u64) -> Result<LogChunk> {
        let config = self.config(ctx)?;
        let id = self.external_id(external_id)?;
        let chunk = self.read_log(&config, id, offset).await;
        chunk.map_err(|e| self.jenkins.scrub(e))
    }

    fn poll_interval(&self, followed_for: Duration) -> Duration {
        poll_interval(
            self.options.poll_interval,
            self.options.max_poll_interval,
            followed_for,
        )
    }

    fn wake_keys(&self, ctx: &ActionContext, external_id: &str) -> Vec<String> {
        let mut keys = Vec::new();
        match (ExternalId::parse(external_id), JobConfig::from_context(ctx)) {
            (Some(ExternalId::Build { queue_id, number }), Ok(config)) => {
                keys.push(callback::queue_key(queue_id));
                keys.push(callback::build_key(&config.job, number));
            }
            (Some(id), _) => keys.push(callback::queue_key(id.queue_id())),
            (None, _) => {}
        }
        keys.push(callback::run_key(&ctx.run_id));
        keys
    }

    fn callback(&self, callback: &Callback) -> std::result::Result<Wakes, CallbackError> {
        callback::authenticate(callback, self.options.callback_secret.as_deref())?;
        callback::wakes(&callback.body)
    }

    fn max_in_flight(&self) -> Option<usize> {
        self.options.max_in_flight
    }
}

/// Starts at `base` and slows down to a tenth of the time followed, up to `max`: a
/// build that has run an hour is polled every `max`, a fresh one every `base`.
pub fn poll_interval(base: Duration, max: Duration, followed_for: Duration) -> Duration {
    (followed_for / 10).clamp(base, max.max(base))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polling_slows_down_for_long_builds() {
        let (base, max) = (Duration::from_secs(10), Duration::from_secs(60));
        let check = |followed: u64, expect: u64| {
            assert_eq!(
                poll_interval(base, max, Duration::from_secs(followed)),
                Duration::from_secs(expect),
                "{followed}"
            )
        };
        check(0, 10);
        check(99, 10);
        check(200, 20);
        check(3600, 60);
        assert_eq!(
            poll_interval(base, Duration::from_secs(1), Duration::from_secs(999)),
            base
        );
    }

    fn settings(extra: &str) -> ServerSettings {
        serde_yaml::from_str(&format!(
            "{{name: ci, kind: jenkins, url: 'http://127.0.0.1:9'{extra}}}"
        ))
        .unwrap()
    }

    #[test]
    fn user_and_token_come_together() {
        assert!(JenkinsAdapter::new(&settings("")).is_ok());
        assert!(JenkinsAdapter::new(&settings(", user: bot, token: t0ken")).is_ok());
        let error = JenkinsAdapter::new(&settings(", token: t0ken"))
            .err()
            .unwrap();
        assert!(error.to_string().contains("no user"), "{error}");
        assert!(!error.to_string().contains("t0ken"));
        assert!(JenkinsAdapter::new(&settings(", user: bot")).is_err());
    }

    fn context(job: &str) -> ActionContext {
        ActionContext {
            run_id: "exec.7".into(),
            pipeline: "app".into(),
            execution_id: "exec".into(),
            stage: "Build".into(),
            action: "Compile".into(),
            attempt: 1,
            configuration: std::sync::Arc::new(std::collections::BTreeMap::from([(
                "ProjectName".to_string(),
                crate::model::ConfigValue::Text(job.into()),
            )])),
            revision: None,
            input_artifacts: Vec::new(),
            execution_link: "http://baton/exec".into(),
        }
    }

    #[test]
    fn wake_keys_match_what_callbacks_produce() {
        let adapter = JenkinsAdapter::new(&settings(", callback: {secret: abc}")).unwrap();
        let ctx = context("team/deploy");
        assert_eq!(
            adapter.wake_keys(&ctx, "q1234"),
            ["queue:1234", "run:exec.7"]
        );
        let keys = adapter.wake_keys(&ctx, "1234:57");
        assert_eq!(keys, ["queue:1234", "build:team/deploy#57", "run:exec.7"]);
        for body in [
            &include_bytes!("testdata/jenkins-notification-started.json")[..],
            include_bytes!("testdata/jenkins-pipeline-post-callback.json"),
        ] {
            let callback = Callback {
                query: [("token".to_string(), "abc".to_string())].into(),
                headers: Default::default(),
                body: body.to_vec(),
            };
            let wakes = adapter.callback(&callback).unwrap();
            let from_callback = [wakes.now, wakes.soon].concat();
            assert!(from_callback.contains(&keys[0]) && from_callback.contains(&keys[1]));
        }
        let multibranch = context("repo/feature%2Ffoo");
        let body = br#"{"url":"job/repo/job/feature%252Ffoo/","build":{"number":4,"queue_id":9}}"#;
        let callback = Callback {
            query: Default::default(),
            headers: [("x-baton-token".to_string(), "abc".to_string())].into(),
            body: body.to_vec(),
        };
        assert_eq!(
            adapter.callback(&callback).unwrap().now,
            adapter.wake_keys(&multibranch, "9:4")[..2]
        );
    }

    #[test]
    fn callbacks_without_a_configured_secret_are_refused() {
        let adapter = JenkinsAdapter::new(&settings("")).unwrap();
        let callback = Callback {
            query: [("token".to_string(), "anything".to_string())].into(),
            headers: Default::default(),
            body: include_bytes!("testdata/jenkins-notification-started.json").to_vec(),
        };
        assert_eq!(
            adapter.callback(&callback),
            Err(CallbackError::Unauthorized)
        );
    }
}
