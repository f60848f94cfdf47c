//! A typed HTTP client for the daemon's `/api/v1`: one method per endpoint, answers
//! decoded into `api::dto`, failures sorted into [`ClientError`]. The CLI uses it, and so
//! can tests and benchmarks. The token is sent as a bearer token and never printed, not
//! even by `Debug`.

use std::fmt;
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::dto::{
    Accepted, AcknowledgeRequest, ApplyResult, ApprovalRequest, Done, ErrorBody, ExecutionDetail,
    ExecutionSummary, JobFailureRequest, JobLogRequest, JobLogResponse, JobStatusDto,
    JobSuccessRequest, LogChunkDto, PipelineDetail, PipelineSummary, PollJobsRequest,
    PollJobsResponse, RetryRequest, StartRequest, StartResponse, StopRequest, TransitionRequest,
};

/// Limit on an ordinary request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Limit on a long poll; the daemon answers one within about 20 s.
const LONG_POLL_TIMEOUT: Duration = Duration::from_secs(60);

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the Baton daemon at {url} (is `baton serve` running?)")]
    Unreachable { url: String },
    #[error("the Baton daemon at {url} did not answer in time")]
    Timeout { url: String },
    /// 401: no token, or one the daemon does not know.
    #[error("{}", if *.sent_token { "the daemon rejected the token" } else { "the daemon needs a token" })]
    Unauthorized { sent_token: bool },
    /// 403: the token is valid but its role does not allow the call.
    #[error("the token's role does not allow this: {message}")]
    Forbidden { message: String },
    /// Any other answer that is not a success, with the daemon's error body.
    #[error("{message} ({code})")]
    Api {
        status: u16,
        code: String,
        message: String,
        details: Vec<String>,
    },
    /// A success whose body is not what the endpoint returns.
    #[error("unexpected answer from {url}: {message}")]
    Decode { url: String, message: String },
    /// Any other transport failure.
    #[error("request to {url} failed: {message}")]
    Transport { url: String, message: String },
    #[error("invalid daemon URL `{0}`: it must be http:// or https:// with a host")]
    BadUrl(String),
    #[error("cannot encode the request: {0}")]
    Encode(String),
}

impl ClientError {
    /// Whether trying the same request again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Unreachable { .. }
            | ClientError::Timeout { .. }
            | ClientError::Transport { .. } => true,
            ClientError::Api { status, .. } => matches!(status, 502..=504),
            _ => false,
        }
    }
}

/// How a pipeline definition sent to `PUT /api/v1/pipelines/{name}` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefinitionFormat {
    Yaml,
    Json,
}

impl DefinitionFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            DefinitionFormat::Yaml => "application/yaml",
            DefinitionFormat::Json => "application/json",
        }
    }
}

/// One answer of a long poll: the detail and its `updatedAt` exactly as the daemon wrote it,
/// to pass back as `since`.
#[derive(Debug, Clone)]
pub struct Polled {
    pub detail: ExecutionDetail,
    pub updated_at: String,
}

#[derive(Clone)]
pub struct ApiClient {
    base: Url,
    token: Option<String>,
    http: reqwest::Client,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base.as_str())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl ApiClient {
    /// A client for the daemon at `base` (a path prefix such as `https://host/baton/` is kept).
    pub fn new(base: Url, token: Option<String>) -> Result<ApiClient> {
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(ClientError::BadUrl(base.to_string()));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("baton-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ClientError::Transport {
                url: base.to_string(),
                message: e.to_string(),
            })?;
        Ok(ApiClient { base, token, http })
    }

    /// Parses what a user typed as the daemon's address; `host:port` means `http://host:port`.
    pub fn parse_base(text: &str) -> Result<Url> {
        let text = text.trim();
        let with_scheme = if text.contains("://") {
            text.to_string()
        } else {
            format!("http://{text}")
        };
        let url = Url::parse(&with_scheme).map_err(|_| ClientError::BadUrl(text.to_string()))?;
        if url.host().is_none() {
            return Err(ClientError::BadUrl(text.to_string()));
        }
        Ok(url)
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    pub async fn list_pipelines(&self) -> Result<Vec<PipelineSummary>> {
        self.call(Method::GET, &["pipelines"], &[], Body::None)
            .await
    }

    pub async fn get_pipeline(&self, name: &str) -> Result<PipelineDetail> {
        self.call(Method::GET, &["pipelines", name], &[], Body::None)
            .await
    }

    /// Creates or updates `name` from the definition's text, sent as written.
    pub async fn apply_pipeline(
        &self,
        name: &str,
        text: String,
        format: DefinitionFormat,
    ) -> Result<ApplyResult> {
        let body = Body::Raw(text, format.content_type());
        self.call(Method::PUT, &["pipelines", name], &[], body)
            .await
    }

    pub async fn delete_pipeline(&self, name: &str) -> Result<Done> {
        self.call(Method::DELETE, &["pipelines", name], &[], Body::None)
            .await
    }

    pub async fn start_execution(
        &self,
        pipeline: &str,
        request: &StartRequest,
    ) -> Result<StartResponse> {
        let path = ["pipelines", pipeline, "executions"];
        self.call(Method::POST, &path, &[], json(request)?).await
    }

    /// A pipeline's executions, newest first.
    pub async fn list_executions(&self, pipeline: &str) -> Result<Vec<ExecutionSummary>> {
        let path = ["pipelines", pipeline, "executions"];
        self.call(Method::GET, &path, &[], Body::None).await
    }

    pub async fn get_execution(&self, id: &str) -> Result<ExecutionDetail> {
        Ok(self.poll_execution(id, None).await?.detail)
    }

    /// With `since`, waits until the execution changed after that `updatedAt` (or the daemon's
    /// long-poll limit passed); without, answers at once.
    pub async fn poll_execution(&self, id: &str, since: Option<&str>) -> Result<Polled> {
        let query: Vec<(&str, &str)> = since.map(|s| ("since", s)).into_iter().collect();
        let url = self.url(&["executions", id], &query)?;
        let mut request = self.request(Method::GET, url.clone());
        if since.is_some() {
            request = request.timeout(LONG_POLL_TIMEOUT);
        }
        let raw: serde_json::Value = self.send(request, &url).await?;
        let updated_at = raw
            .get("updatedAt")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let detail = decode::<ExecutionDetail>(raw, &url)?;
        let updated_at = updated_at.unwrap_or_else(|| detail.updated_at.to_rfc3339());
        Ok(Polled { detail, updated_at })
    }

    /// The part of an action's CI log from byte `offset` on.
    pub async fn action_log(
        &self,
        id: &str,
        stage: &str,
        action: &str,
        offset: u64,
    ) -> Result<LogChunkDto> {
        let path = ["executions", id, "stages", stage, "actions", action, "log"];
        let offset = offset.to_string();
        self.call(Method::GET, &path, &[("offset", &offset)], Body::None)
            .await
    }

    pub async fn stop_execution(&self, id: &str, request: &StopRequest) -> Result<Accepted> {
        self.call(
            Method::POST,
            &["executions", id, "stop"],
            &[],
            json(request)?,
        )
        .await
    }

    pub async fn retry_stage(
        &self,
        id: &str,
        stage: &str,
        request: &RetryRequest,
    ) -> Result<Accepted> {
        let path = ["executions", id, "stages", stage, "retry"];
        self.call(Method::POST, &path, &[], json(request)?).await
    }

    pub async fn decide_approval(
        &self,
        id: &str,
        stage: &str,
        action: &str,
        request: &ApprovalRequest,
    ) -> Result<Accepted> {
        let path = [
            "executions",
            id,
            "stages",
            stage,
            "actions",
            action,
            "approval",
        ];
        self.call(Method::POST, &path, &[], json(request)?).await
    }

    pub async fn set_transition(
        &self,
        pipeline: &str,
        stage: &str,
        request: &TransitionRequest,
    ) -> Result<Done> {
        let path = ["pipelines", pipeline, "stages", stage, "transition"];
        self.call(Method::POST, &path, &[], json(request)?).await
    }

    /// `POST /jobs/poll`: waits up to `wait_seconds` for jobs of a custom action type.
    pub async fn poll_jobs(&self, request: &PollJobsRequest) -> Result<PollJobsResponse> {
        let url = self.url(&["jobs", "poll"], &[])?;
        let body =
            serde_json::to_string(request).map_err(|e| ClientError::Encode(e.to_string()))?;
        let wait = Duration::from_secs(request.wait_seconds.unwrap_or(20));
        let request = self
            .request(Method::POST, url.clone())
            .timeout(wait + REQUEST_TIMEOUT)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let raw = self.send(request, &url).await?;
        decode(raw, &url)
    }

    pub async fn acknowledge_job(&self, id: &str, nonce: &str) -> Result<JobStatusDto> {
        let body = AcknowledgeRequest {
            nonce: nonce.to_string(),
        };
        let path = ["jobs", id, "acknowledge"];
        self.call(Method::POST, &path, &[], json(&body)?).await
    }

    pub async fn job_success(&self, id: &str, request: &JobSuccessRequest) -> Result<JobStatusDto> {
        let path = ["jobs", id, "success"];
        self.call(Method::POST, &path, &[], json(request)?).await
    }

    pub async fn append_job_log(
        &self,
        id: &str,
        request: &JobLogRequest,
    ) -> Result<JobLogResponse> {
        let path = ["jobs", id, "log"];
        self.call(Method::POST, &path, &[], json(request)?).await
    }

    pub async fn job_failure(&self, id: &str, request: &JobFailureRequest) -> Result<JobStatusDto> {
        let path = ["jobs", id, "failure"];
        self.call(Method::POST, &path, &[], json(request)?).await
    }

    /// `{base}/api/v1/{segments…}?{query}`, each segment percent-encoded on its own so names
    /// with `/`, `?` or `%` stay one segment.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url> {
        let mut url = self.base.clone();
        url.set_query(None);
        url.set_fragment(None);
        url.path_segments_mut()
            .map_err(|()| ClientError::BadUrl(self.base.to_string()))?
            .pop_if_empty()
            .extend(["api", "v1"])
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Body,
    ) -> Result<T> {
        let url = self.url(segments, query)?;
        let request = match body {
            Body::None => self.request(method, url.clone()),
            Body::Raw(text, content_type) => self
                .request(method, url.clone())
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(text),
        };
        let raw = self.send(request, &url).await?;
        decode(raw, &url)
    }

    fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        let request = self.http.request(method, url).timeout(REQUEST_TIMEOUT);
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder, url: &Url) -> Result<serde_json::Value> {
        let response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| self.transport(e))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
                url: url.to_string(),
                message: e.to_string(),
            });
        }
        Err(self.failure(status, &bytes))
    }

    fn transport(&self, error: reqwest::Error) -> ClientError {
        let url = self.base.to_string();
        if error.is_timeout() {
            ClientError::Timeout { url }
        } else if error.is_connect() {
            ClientError::Unreachable { url }
        } else {
            // The causes say what went wrong (TLS, DNS, a reset); headers never appear, so
            // neither does the token.
            let error = error.without_url();
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message.push_str(": ");
                message.push_str(&cause.to_string());
                source = cause.source();
            }
            ClientError::Transport { url, message }
        }
    }

    fn failure(&self, status: StatusCode, bytes: &[u8]) -> ClientError {
        let body = serde_json::from_slice::<ErrorBody>(bytes).ok();
        let message = body.as_ref().map(|b| b.error.message.clone());
        match status {
            StatusCode::UNAUTHORIZED => ClientError::Unauthorized {
                sent_token: self.token.is_some(),
            },
            StatusCode::FORBIDDEN => ClientError::Forbidden {
                message: message.unwrap_or_else(|| "forbidden".into()),
            },
            _ => match body {
                Some(ErrorBody { error }) => ClientError::Api {
                    status: status.as_u16(),
                    code: error.code,
                    message: error.message,
                    details: error.details,
                },
                None => ClientError::Api {
                    status: status.as_u16(),
                    code: format!("http_{}", status.as_u16()),
                    message: plain_message(status, bytes),
                    details: Vec::new(),
                },
            },
        }
    }
}

enum Body {
    None,
    Raw(String, &'static str),
}

fn json<T: Serialize>(value: &T) -> Result<Body> {
    serde_json::to_string(value)
        .map(|text| Body::Raw(text, "application/json"))
        .map_err(|e| ClientError::Encode(e.to_string()))
}

fn decode<T: DeserializeOwned>(raw: serde_json::Value, url: &Url) -> Result<T> {
    serde_json::from_value(raw).map_err(|e| ClientError::Decode {
        url: url.to_string(),
        message: e.to_string(),
    })
}

/// The message of an error answer that is not the daemon's JSON (a proxy's page, say):
/// its first line when short and printable, else the status's reason.
fn plain_message(status: StatusCode, bytes: &[u8]) -> String {
    let reason = status.canonical_reason().unwrap_or("error").to_string();
    let text = String::from_utf8_lossy(bytes);
    let first = text.lines().map(str::trim).find(|l| !l.is_empty());
    match first {
        Some(line) if line.len() <= 200 && !line.starts_with('<') => format!("{reason}: {line}"),
        _ => reason,
    }
}

#[cfg(test)]
mod tests;
