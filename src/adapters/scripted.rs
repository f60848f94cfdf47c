//! Adapter for the scripted CI server in `sim::scripted`: triggers a run per action run
//! (keyed by `ctx.run_id`), finds it again by key after a crash, and follows it by polling.
//!
//! Failures are classified here so the runtime never reads HTTP codes: connection errors,
//! timeouts, 408, 429 and 5xx are retryable (with the server's `Retry-After`, in seconds);
//! 400, 401, 403, 404 and other answers are fatal. The bearer token never appears in a
//! message, and neither do credentials written into the server URL.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::RETRY_AFTER;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::git::redact_url;
use super::{ActionContext, Adapter, AdapterError, LogChunk, Outcome, Progress, Result, Started};
use crate::config::ServerSettings;
use crate::model::ConfigValue;

/// Longest piece of a server's error body kept in a message.
const BODY_EXCERPT: usize = 200;

/// Talks to one scripted CI server.
#[derive(Debug, Clone)]
pub struct ScriptedAdapter {
    name: String,
    base: String,
    /// The base URL with credentials redacted, for messages.
    display_base: String,
    token: Option<String>,
    client: reqwest::Client,
    poll_interval: Duration,
}

impl ScriptedAdapter {
    /// An adapter for the server in `settings`, whose token (if any) is already resolved.
    pub fn new(settings: &ServerSettings) -> Result<ScriptedAdapter> {
        let client = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(settings.request_timeout)
            .build()
            .map_err(|e| {
                AdapterError::Fatal(format!(
                    "server `{}`: cannot build an HTTP client: {}",
                    settings.name,
                    e.without_url()
                ))
            })?;
        let base = settings.url.trim_end_matches('/').to_string();
        Ok(ScriptedAdapter {
            name: settings.name.clone(),
            display_base: redact_url(&base),
            base,
            token: settings
                .token
                .as_ref()
                .map(|t| t.expose().to_string())
                .filter(|t| !t.is_empty()),
            client,
            poll_interval: settings.poll_interval,
        })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let builder = self.client.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// Sends the request and reads a JSON answer, classifying every failure.
    async fn call<T: DeserializeOwned>(&self, what: &str, request: RequestBuilder) -> Result<T> {
        let response = self.send(what, request).await?;
        response
            .json::<T>()
            .await
            .map_err(|e| self.transport(what, e))
    }

    /// Sends the request; anything but a 2xx answer becomes an error.
    async fn send(&self, what: &str, request: RequestBuilder) -> Result<Response> {
        let response = request.send().await.map_err(|e| self.transport(what, e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = retry_after(&response);
        let body = response.text().await.unwrap_or_default();
        Err(self.rejected(what, status, retry_after, &body))
    }

    fn transport(&self, what: &str, error: reqwest::Error) -> AdapterError {
        let message = if error.is_timeout() {
            format!("timed out ({what})")
        } else if error.is_connect() {
            format!("cannot connect to {} ({what})", self.display_base)
        } else if error.is_decode() {
            return AdapterError::Fatal(self.scrub(format!(
                "server `{}`: unexpected answer ({what}): {}",
                self.name,
                error.without_url()
            )));
        } else {
            format!("request failed ({what}): {}", error.without_url())
        };
        AdapterError::retryable(self.scrub(format!("server `{}`: {message}", self.name)))
    }

    fn rejected(
        &self,
        what: &str,
        status: StatusCode,
        retry_after: Option<Duration>,
        body: &str,
    ) -> AdapterError {
        let detail = error_detail(body);
        let prefix = format!("server `{}`", self.name);
        let message = match status {
            StatusCode::UNAUTHORIZED => {
                format!("{prefix} rejected the credentials (401) ({what}); check its token")
            }
            StatusCode::FORBIDDEN => {
                format!("{prefix} denied access (403) ({what}); check the token's permissions")
            }
            StatusCode::NOT_FOUND => format!("{prefix}: not found (404) ({what}){detail}"),
            StatusCode::BAD_REQUEST => {
                format!("{prefix} refused the request (400) ({what}){detail}")
            }
            _ => format!("{prefix} answered {status} ({what}){detail}"),
        };
        let message = self.scrub(message);
        let retryable = status.is_server_error()
            || status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT;
        if retryable {
            AdapterError::Retryable {
                message,
                retry_after,
            }
        } else {
            AdapterError::Fatal(message)
        }
    }

    /// Removes the token from a message, should a server ever echo it back.
    fn scrub(&self, message: String) -> String {
        match &self.token {
            Some(token) if message.contains(token.as_str()) => message.replace(token, "***"),
            _ => message,
        }
    }

    async fn runs_with_key(&self, ctx: &ActionContext) -> Result<Vec<RunRef>> {
        let request = self
            .request(Method::GET, "/runs")
            .query(&[("key", ctx.run_id.as_str())]);
        self.call("find runs by key", request).await
    }
}

#[async_trait]
impl Adapter for ScriptedAdapter {
    async fn trigger(&self, ctx: &ActionContext) -> Result<Started> {
        let body = TriggerBody {
            key: &ctx.run_id,
            job: ctx.config_text("Job").unwrap_or(&ctx.action),
            parameters: ctx
                .configuration
                .iter()
                .filter_map(|(k, v)| Some((k.as_str(), ConfigValue::as_text(v)?)))
                .collect(),
        };
        let request = self.request(Method::POST, "/runs").json(&body);
        let run: RunRef = self.call("trigger", request).await?;
        Ok(run.started())
    }

    async fn find(&self, ctx: &ActionContext) -> Result<Option<Started>> {
        let runs = self.runs_with_key(ctx).await?;
        if runs.len() > 1 {
            tracing::warn!(
                server = %self.name,
                key = %ctx.run_id,
                runs = runs.len(),
                "several runs carry one trigger key; following the oldest"
            );
        }
        Ok(runs.into_iter().next().map(RunRef::started))
    }

    async fn status(&self, _ctx: &ActionContext, external_id: &str) -> Result<Progress> {
        let path = format!("/runs/{}", encode(external_id));
        let run: RunBody = self
            .call("read run state", self.request(Method::GET, &path))
            .await?;
        Ok(match run.state.as_str() {
            "running" => Progress::Running {
                external_id: None,
                external_url: None,
                percent_complete: run.percent.map(|p| p.min(100)),
                summary: None,
            },
            "succeeded" => Progress::Finished(Outcome::Succeeded {
                summary: Some(format!("{} run {} succeeded", run.job, run.id)),
                outputs: run.outputs,
            }),
            "failed" => Progress::Finished(Outcome::Failed {
                error: run
                    .error
                    .filter(|e| !e.is_empty())
                    .unwrap_or_else(|| format!("{} run {} failed", run.job, run.id)),
                outputs: run.outputs,
            }),
            "cancelled" => Progress::Finished(Outcome::Failed {
                error: "cancelled".to_string(),
                outputs: run.outputs,
            }),
            other => {
                return Err(AdapterError::Fatal(format!(
                    "server `{}`: run {external_id} has unknown state `{other}`",
                    self.name
                )))
            }
        })
    }

    async fn cancel(&self, ctx: &ActionContext, external_id: Option<&str>) -> Result<()> {
        let ids = match external_id {
            Some(id) => vec![id.to_string()],
            // The trigger may have been sent without being recorded: stop whatever carries
            // the key, which is nothing if it never arrived.
            None => self
                .runs_with_key(ctx)
                .await?
                .into_iter()
                .map(|r| r.id)
                .collect(),
        };
        for id in ids {
            let path = format!("/runs/{}/cancel", encode(&id));
            self.send("cancel run", self.request(Method::POST, &path))
                .await?;
        }
        Ok(())
    }

    async fn log(&self, _ctx: &ActionContext, external_id: &str, offset: u64) -> Result<LogChunk> {
        let path = format!("/runs/{}/log", encode(external_id));
        let request = self
            .request(Method::GET, &path)
            .query(&[("offset", offset)]);
        let log: LogBody = self.call("read log", request).await?;
        Ok(LogChunk {
            text: log.text,
            next_offset: log.next_offset,
            complete: log.complete,
        })
    }

    fn poll_interval(&self, _followed_for: Duration) -> Duration {
        self.poll_interval
    }
}

#[derive(Serialize)]
struct TriggerBody<'a> {
    key: &'a str,
    job: &'a str,
    parameters: BTreeMap<&'a str, &'a str>,
}

#[derive(Deserialize)]
struct RunRef {
    id: String,
    url: Option<String>,
}

impl RunRef {
    fn started(self) -> Started {
        Started {
            external_id: self.id,
            external_url: self.url,
            finished: None,
        }
    }
}

#[derive(Deserialize)]
struct RunBody {
    id: String,
    job: String,
    state: String,
    #[serde(default)]
    outputs: BTreeMap<String, String>,
    error: Option<String>,
    percent: Option<u8>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogBody {
    text: String,
    next_offset: u64,
    complete: bool,
}

/// `Retry-After` in seconds (the HTTP-date form is not used by the scripted server).
fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// `: message` from a `{"error": "message"}` body, or from the start of any other body.
fn error_detail(body: &str) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: String,
    }
    let text = match serde_json::from_str::<ErrorBody>(body) {
        Ok(parsed) => parsed.error,
        Err(_) => body.trim().to_string(),
    };
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(BODY_EXCERPT)
        .collect();
    if text.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", text.trim())
    }
}

/// Percent-encodes an id for use as one path segment.
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_details() {
        assert_eq!(error_detail(r#"{"error":"no run `9`"}"#), ": no run `9`");
        assert_eq!(error_detail("  bad gateway\n"), ": bad gateway");
        assert_eq!(error_detail(""), "");
        assert_eq!(error_detail(&"x".repeat(500)).len(), 2 + BODY_EXCERPT);
    }

    #[test]
    fn encodes_path_segments() {
        assert_eq!(encode("42"), "42");
        assert_eq!(encode("a/b c"), "a%2Fb%20c");
    }
}
