//! The TeamCity adapter: queues a build per action run through the REST API, finds it
//! again by its marker property after a crash, follows it (batched with every other
//! build on the server) until it finishes, maps the result, and cancels, reads logs and
//! takes webhooks.
//!
//! Action configuration: `BuildType` (required), `Branch`, `Properties`, `Comment`,
//! `OutputParameters` (see `action`). The external id is TeamCity's build id, the same
//! from queued to finished; the wake key of a build is `build:{id}`.
//!
//! Server settings used: `url`, `token` (alone: an access token, sent as Bearer; with
//! `user`: Basic auth with TeamCity's CSRF rule; neither: guest access), `poll_interval`
//! and `max_poll_interval`, `request_timeout`, `tls`, `rate_limit`,
//! `max_builds_in_flight`, `callback.secret`, `queue_timeout`, `inactivity_timeout`.
//!
//! Module map: `wire` (serde types, JSON and XML), `locator`, `client` (auth, CSRF,
//! errors), `action` (configuration), `trigger` (trigger, find), `follow` (status),
//! `results` and `outputs` (finished builds), `watch` (timeouts), `poll`, `cancel`,
//! `log`, `callback`.

mod action;
mod callback;
mod cancel;
mod client;
mod follow;
#[cfg(test)]
mod fuzz;
mod locator;
mod log;
mod outputs;
mod poll;
mod results;
mod trigger;
mod watch;
mod wire;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::adapters::http::{Credentials, ServerClient};
use crate::adapters::{
    ActionContext, Adapter, AdapterError, Callback, CallbackError, LogChunk, Progress, Result,
    Started, Wakes,
};
use crate::config::ServerSettings;

pub use locator::MARKER;

/// Talks to one TeamCity server.
pub struct TeamCityAdapter {
    settings: ServerSettings,
    api: Arc<client::Api>,
    follow: follow::Follow,
    poll: poll::PollSchedule,
}

impl TeamCityAdapter {
    /// An adapter for the server in `settings`, whose secrets are already resolved.
    pub fn new(settings: &ServerSettings) -> Result<TeamCityAdapter> {
        Self::build(settings, None)
    }

    /// The same adapter with a shorter backoff between read retries (for tests against
    /// the simulator).
    pub fn with_backoff(self, min: Duration, max: Duration) -> Result<TeamCityAdapter> {
        Self::build(&self.settings, Some((min, max)))
    }

    fn build(
        settings: &ServerSettings,
        backoff: Option<(Duration, Duration)>,
    ) -> Result<TeamCityAdapter> {
        let credentials = credentials(settings)?;
        let mut client = ServerClient::new(settings, credentials.clone())?;
        if let Some((min, max)) = backoff {
            client = client.with_backoff(min, max);
        }
        let api = Arc::new(client::Api::new(client, &credentials));
        let watch = watch::Watch::new(settings.queue_timeout, settings.inactivity_timeout);
        Ok(TeamCityAdapter {
            settings: settings.clone(),
            follow: follow::Follow::new(api.clone(), watch),
            api,
            poll: poll::PollSchedule::new(settings.poll_interval, settings.max_poll_interval),
        })
    }

    /// Requests sent to the server so far.
    pub fn requests_sent(&self) -> u64 {
        self.api.client.requests_sent()
    }
}

/// Bearer for a token alone, Basic for a user with a token, guest for neither.
fn credentials(settings: &ServerSettings) -> Result<Credentials> {
    let token = settings
        .token
        .as_ref()
        .map(|t| t.expose().to_string())
        .filter(|t| !t.is_empty());
    let user = settings.user.clone().filter(|u| !u.is_empty());
    match (user, token) {
        (Some(user), Some(token)) => Ok(Credentials::Basic { user, token }),
        (None, Some(token)) => Ok(Credentials::Bearer(token)),
        (None, None) => Ok(Credentials::None),
        (Some(user), None) => Err(AdapterError::Fatal(format!(
            "server {}: user `{user}` needs a token (the user's password or an access token)",
            settings.name
        ))),
    }
}

fn build_id(api: &client::Api, external_id: &str) -> Result<i64> {
    external_id.trim().parse::<i64>().map_err(|_| {
        AdapterError::Fatal(format!(
            "{}: `{external_id}` is not a TeamCity build id",
            api.name()
        ))
    })
}

#[async_trait]
impl Adapter for TeamCityAdapter {
    async fn trigger(&self, ctx: &ActionContext) -> Result<Started> {
        trigger::trigger(&self.api, ctx).await
    }

    async fn find(&self, ctx: &ActionContext) -> Result<Option<Started>> {
        trigger::find(&self.api, ctx).await
    }

    async fn status(&self, ctx: &ActionContext, external_id: &str) -> Result<Progress> {
        let id = build_id(&self.api, external_id)?;
        self.follow.status(ctx, id).await
    }

    async fn cancel(&self, ctx: &ActionContext, external_id: Option<&str>) -> Result<()> {
        let id = match external_id {
            Some(id) => build_id(&self.api, id)?,
            // The trigger may have been sent but never recorded: stop whatever carries
            // the run's marker, which is nothing if it never arrived.
            None => match trigger::find(&self.api, ctx).await? {
                Some(found) => build_id(&self.api, &found.external_id)?,
                None => return Ok(()),
            },
        };
        let Some(build) = follow::fetch_one(&self.api, id).await? else {
            return Ok(());
        };
        let comment = format!(
            "Canceled by Baton: pipeline {}, execution {} stopped\n{}",
            ctx.pipeline, ctx.execution_id, ctx.execution_link
        );
        cancel::cancel_build(&self.api, &build, &comment).await
    }

    async fn log(&self, _ctx: &ActionContext, external_id: &str, offset: u64) -> Result<LogChunk> {
        let id = build_id(&self.api, external_id)?;
        // The state is read before the log, so "finished" means the log read is final.
        let complete = match self.follow.build(id).await? {
            Some(build) => build.state.as_deref() == Some("finished"),
            None => {
                return Err(AdapterError::Fatal(format!(
                    "{}: TeamCity build {id} does not exist",
                    self.api.name()
                )))
            }
        };
        let text = log::download(&self.api, id).await?;
        self.follow
            .watch
            .observe_log(id, text.len() as u64, std::time::Instant::now());
        Ok(log::chunk(&text, offset, complete))
    }

    fn poll_interval(&self, followed_for: Duration) -> Duration {
        self.poll.wait(followed_for, SystemTime::now())
    }

    fn wake_keys(&self, _ctx: &ActionContext, external_id: &str) -> Vec<String> {
        vec![callback::key(external_id.trim())]
    }

    fn callback(&self, callback: &Callback) -> Result<Wakes, CallbackError> {
        let secret = self.settings.callback.as_ref().map(|c| c.secret.expose());
        callback::authenticate(secret, callback)?;
        callback::wakes(&callback.body)
    }

    fn max_in_flight(&self) -> Option<usize> {
        self.settings.max_builds_in_flight
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use crate::adapters::ActionContext;
    use crate::model::ConfigValue;

    /// A context for run `exec-1.1` with the given configuration.
    pub fn context(config: &[(&str, ConfigValue)]) -> ActionContext {
        ActionContext {
            run_id: "exec-1.1".into(),
            pipeline: "backend".into(),
            execution_id: "exec-1".into(),
            stage: "Deploy".into(),
            action: "Staging".into(),
            attempt: 1,
            configuration: std::sync::Arc::new(
                config
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
            ),
            revision: None,
            input_artifacts: Vec::new(),
            execution_link: "http://baton/executions/exec-1".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(extra: &str) -> ServerSettings {
        serde_yaml::from_str(&format!(
            "{{name: tc, kind: teamcity, url: 'http://127.0.0.1:9', poll_interval: 10s, max_poll_interval: 60s{extra}}}"
        ))
        .unwrap()
    }

    #[test]
    fn credentials_follow_the_settings() {
        assert!(matches!(
            credentials(&settings(", token: abc")).unwrap(),
            Credentials::Bearer(t) if t == "abc"
        ));
        assert!(matches!(
            credentials(&settings(", user: ci, token: pw")).unwrap(),
            Credentials::Basic { user, token } if user == "ci" && token == "pw"
        ));
        assert!(matches!(
            credentials(&settings("")).unwrap(),
            Credentials::None
        ));
        match credentials(&settings(", user: ci")) {
            Err(AdapterError::Fatal(message)) => assert!(message.contains("needs a token")),
            _ => panic!("a user without a token must be refused"),
        }
    }

    #[tokio::test]
    async fn keys_limits_and_callbacks() {
        let adapter = TeamCityAdapter::new(&settings(
            ", token: t0ken-t0ken, max_builds_in_flight: 3, callback: {secret: hook-secret}",
        ))
        .unwrap();
        let ctx = test_support::context(&[]);
        assert_eq!(adapter.wake_keys(&ctx, "4821"), ["build:4821"]);
        assert_eq!(adapter.max_in_flight(), Some(3));
        let mut callback = Callback {
            body: include_bytes!("testdata/teamcity-webhook-native-build-finished.json").to_vec(),
            ..Callback::default()
        };
        assert_eq!(
            adapter.callback(&callback),
            Err(CallbackError::Unauthorized)
        );
        callback.query.insert("token".into(), "hook-secret".into());
        assert_eq!(
            adapter.callback(&callback).unwrap(),
            Wakes::now(vec!["build:4821".into()])
        );
        let interval = adapter.poll_interval(Duration::ZERO);
        assert!(interval > Duration::ZERO && interval <= Duration::from_secs(10));

        let without_secret = TeamCityAdapter::new(&settings(", token: t0ken-t0ken")).unwrap();
        assert_eq!(
            without_secret.callback(&callback),
            Err(CallbackError::Unauthorized)
        );
    }
}
