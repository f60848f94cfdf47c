//! What every CI adapter shares on the wire: one HTTP client per server with its TLS
//! options, timeout and credentials; the server's rate limiter and connection limit (every
//! request waits its turn, and only so many wait for an answer at once); retries with
//! exponential backoff and jitter for reads, honouring `Retry-After`; single-shot sends
//! for triggers, which must never be repeated blindly; and the mapping of transport
//! failures and statuses to retryable or fatal errors.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode, Url};
use tokio::sync::Semaphore;

use super::AdapterError;
use crate::config::ServerSettings;

/// A boxed future borrowing for `'a`.
pub type Boxed<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A response's body as text, boxed for the reason `ServerClient::send_once` gives.
pub fn body_text(response: Response) -> Boxed<'static, reqwest::Result<String>> {
    Box::pin(response.text())
}

/// How a server wants to be authenticated.
#[derive(Clone)]
pub enum Credentials {
    None,
    /// `Authorization: Basic` with a user and an API token (Jenkins, TeamCity basic auth).
    Basic {
        user: String,
        token: String,
    },
    /// `Authorization: Bearer` (TeamCity access tokens).
    Bearer(String),
}

/// Attempts a read gets before its error goes back to the follower (which backs off too).
const READ_ATTEMPTS: usize = 4;

pub struct ServerClient {
    pub name: String,
    base: Url,
    http: Client,
    credentials: Credentials,
    limiter: DefaultDirectRateLimiter,
    /// One permit per request waiting for its answer: a burst of work (thousands of
    /// actions starting at once) queues here instead of opening a connection each, which
    /// would load the server and keep every one of those connections' buffers alive.
    connections: Semaphore,
    min_backoff: Duration,
    max_backoff: Duration,
    sent: AtomicU64,
}

impl ServerClient {
    pub fn new(
        settings: &ServerSettings,
        credentials: Credentials,
    ) -> Result<ServerClient, AdapterError> {
        Self::build(settings, credentials, reqwest::redirect::Policy::default())
    }

    /// Like `new`, but a redirect comes back to the caller instead of being followed:
    /// Jenkins answers a merged trigger with 303 and a refused one with 302, and a
    /// followed redirect would also skip the rate limiter.
    pub fn without_redirects(
        settings: &ServerSettings,
        credentials: Credentials,
    ) -> Result<ServerClient, AdapterError> {
        Self::build(settings, credentials, reqwest::redirect::Policy::none())
    }

    fn build(
        settings: &ServerSettings,
        credentials: Credentials,
        redirects: reqwest::redirect::Policy,
    ) -> Result<ServerClient, AdapterError> {
        let fatal = |what: String| AdapterError::Fatal(format!("server {}: {what}", settings.name));
        let mut base = Url::parse(&settings.url).map_err(|e| fatal(format!("bad url: {e}")))?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let mut builder = Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(settings.request_timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(settings.max_connections)
            .redirect(redirects);
        if let Some(ca_file) = &settings.tls.ca_file {
            let pem = std::fs::read(ca_file)
                .map_err(|e| fatal(format!("cannot read CA file {}: {e}", ca_file.display())))?;
            for certificate in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| fatal(format!("bad CA file {}: {e}", ca_file.display())))?
            {
                builder = builder.add_root_certificate(certificate);
            }
        }
        if settings.tls.skip_verify {
            tracing::warn!(
                server = %settings.name,
                "TLS certificate checks are OFF for this server: anyone between Baton and it can read its token"
            );
            builder = builder.danger_accept_invalid_certs(true);
        }
        let http = builder
            .build()
            .map_err(|e| fatal(format!("HTTP client: {e}")))?;
        let per_second = NonZeroU32::new(settings.rate_limit.per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(settings.rate_limit.burst).unwrap_or(NonZeroU32::MIN);
        Ok(ServerClient {
            name: settings.name.clone(),
            base,
            http,
            credentials,
            limiter: RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst)),
            connections: Semaphore::new(settings.max_connections.max(1)),
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            sent: AtomicU64::new(0),
        })
    }

    /// Shorter backoff, for tests against simulators.
    pub fn with_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.min_backoff = min;
        self.max_backoff = max;
        self
    }

    /// `path` (already percent-encoded, no leading slash) under the server's base URL.
    pub fn url(&self, path: &str) -> Url {
        self.base
            .join(path.trim_start_matches('/'))
            .unwrap_or_else(|_| self.base.clone())
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// Requests sent so far, for tests and benchmarks.
    pub fn requests_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// A request with the server's credentials.
    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let request = self.http.request(method, url);
        match &self.credentials {
            Credentials::None => request,
            Credentials::Basic { user, token } => request.basic_auth(user, Some(token)),
            Credentials::Bearer(token) => request.bearer_auth(token),
        }
    }

    /// Sends once, when a connection is free and the rate limiter allows it. For triggers:
    /// a lost answer must be resolved by looking, not by sending again.
    ///
    /// This and `read` return boxed futures: a request's state machine is over a
    /// kilobyte, and every follower waiting on a status read would otherwise carry one
    /// inline for each request its code could make.
    pub fn send_once(&self, request: RequestBuilder) -> Boxed<'_, Result<Response, AdapterError>> {
        Box::pin(async move {
            // Never closed, so acquiring cannot fail; the permit is held until the answer's
            // head arrives (bodies here are small and read right after).
            let _connection = self.connections.acquire().await.ok();
            self.limiter.until_ready().await;
            self.sent.fetch_add(1, Ordering::Relaxed);
            request.send().await.map_err(|e| self.transport(e))
        })
    }

    /// Sends a read, retrying transport errors, 5xx, 408 and 429 with backoff (and the
    /// server's `Retry-After`). Any other status comes back for the caller to judge.
    pub fn read<'a>(
        &'a self,
        make: impl Fn() -> RequestBuilder + Send + 'a,
    ) -> Boxed<'a, Result<Response, AdapterError>> {
        Box::pin(self.read_with_retries(make))
    }

    async fn read_with_retries(
        &self,
        make: impl Fn() -> RequestBuilder,
    ) -> Result<Response, AdapterError> {
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(self.min_backoff)
            .with_max_delay(self.max_backoff)
            .with_jitter()
            .with_max_times(READ_ATTEMPTS)
            .build();
        loop {
            let error = match self.send_once(make()).await {
                Ok(response) if !is_transient(response.status()) => return Ok(response),
                Ok(response) => self.status_error(response.status(), response.headers(), ""),
                Err(error) => error,
            };
            let retry_after = match &error {
                AdapterError::Retryable { retry_after, .. } => *retry_after,
                _ => return Err(error),
            };
            let Some(delay) = delays.next() else {
                return Err(error);
            };
            tokio::time::sleep(retry_after.map_or(delay, |after| after.max(delay))).await;
        }
    }

    /// A failed status as an error: transient ones retryable, the rest fatal.
    pub fn status_error(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        detail: &str,
    ) -> AdapterError {
        let detail = detail.trim();
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(": {}", truncate(detail, 300))
        };
        let message = format!("{} answered {status}{detail}", self.name);
        if is_transient(status) {
            return AdapterError::Retryable {
                message,
                retry_after: retry_after(headers),
            };
        }
        AdapterError::Fatal(match status {
            StatusCode::UNAUTHORIZED => format!("{message} (check the server's user and token)"),
            StatusCode::FORBIDDEN => {
                format!("{message} (the token lacks a permission, or a CSRF check failed)")
            }
            _ => message,
        })
    }

    /// Reads the body of a successful response, or turns a failed one into an error.
    pub async fn success_text(&self, response: Response) -> Result<String, AdapterError> {
        let status = response.status();
        let headers = response.headers().clone();
        let text = body_text(response).await.map_err(|e| self.transport(e))?;
        if status.is_success() {
            Ok(text)
        } else {
            Err(self.status_error(status, &headers, &text))
        }
    }

    fn transport(&self, error: reqwest::Error) -> AdapterError {
        let kind = if error.is_timeout() {
            "timed out"
        } else if error.is_connect() {
            "cannot connect"
        } else {
            "request failed"
        };
        // reqwest's message may carry the URL; the URL never holds credentials here.
        AdapterError::retryable(format!("{}: {kind}: {}", self.name, error.without_url()))
    }
}

pub fn is_transient(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
}

/// `Retry-After` in seconds (the HTTP-date form is rare from CI servers and ignored).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(|secs| Duration::from_secs(secs.min(3600)))
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((index, _)) => &text[..index],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_statuses_are_retryable_and_carry_retry_after() {
        let settings: ServerSettings =
            serde_yaml::from_str("{name: ci, kind: jenkins, url: 'http://127.0.0.1:9'}").unwrap();
        let client = ServerClient::new(&settings, Credentials::None).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        match client.status_error(StatusCode::TOO_MANY_REQUESTS, &headers, "") {
            AdapterError::Retryable { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::from_secs(7)))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            client.status_error(StatusCode::NOT_FOUND, &HeaderMap::new(), "no job"),
            AdapterError::Fatal(m) if m.contains("no job")
        ));
        assert_eq!(
            client.url("job/a/api/json").as_str(),
            "http://127.0.0.1:9/job/a/api/json"
        );
    }

    /// A server that holds every request until the test lets them go, and tells how many
    /// it held at once.
    mod held {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;

        use axum::extract::State;
        use tokio::sync::{watch, Semaphore};

        #[derive(Clone)]
        pub struct Held {
            pub gate: Arc<Semaphore>,
            pub inside: Arc<AtomicUsize>,
            pub most: Arc<AtomicUsize>,
            pub arrived: watch::Sender<usize>,
        }

        pub async fn start() -> (String, Held) {
            let held = Held {
                gate: Arc::new(Semaphore::new(0)),
                inside: Arc::default(),
                most: Arc::default(),
                arrived: watch::channel(0).0,
            };
            let app = axum::Router::new()
                .route("/", axum::routing::get(hold))
                .with_state(held.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, app).await });
            (url, held)
        }

        async fn hold(State(held): State<Held>) -> &'static str {
            let now = held.inside.fetch_add(1, Ordering::SeqCst) + 1;
            held.most.fetch_max(now, Ordering::SeqCst);
            held.arrived.send_modify(|n| *n += 1);
            held.gate.acquire().await.unwrap().forget();
            held.inside.fetch_sub(1, Ordering::SeqCst);
            "ok"
        }
    }

    #[tokio::test]
    async fn requests_beyond_max_connections_wait_for_a_free_one() {
        let (url, held) = held::start().await;
        let settings: ServerSettings = serde_yaml::from_str(&format!(
            "{{name: ci, kind: jenkins, url: '{url}', max_connections: 2, \
             rate_limit: {{per_second: 1000, burst: 1000}}}}"
        ))
        .unwrap();
        let client = std::sync::Arc::new(ServerClient::new(&settings, Credentials::None).unwrap());
        let reads: Vec<_> = (0..6)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move {
                    let url = client.url("");
                    let response = client
                        .read(|| client.request(Method::GET, url.clone()))
                        .await;
                    response.unwrap().status()
                })
            })
            .collect();
        // Two requests reach the server; once they are there, all may go.
        held.arrived
            .subscribe()
            .wait_for(|n| *n >= 2)
            .await
            .unwrap();
        held.gate.add_permits(6);
        for read in reads {
            assert_eq!(read.await.unwrap(), StatusCode::OK);
        }
        assert_eq!(*held.arrived.borrow(), 6);
        assert_eq!(held.most.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    fn max_connections_is_sixteen_unless_set() {
        let settings: ServerSettings =
            serde_yaml::from_str("{name: ci, kind: jenkins, url: 'http://127.0.0.1:9'}").unwrap();
        assert_eq!(settings.max_connections, 16);
    }
}
