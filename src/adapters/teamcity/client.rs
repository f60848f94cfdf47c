//! TeamCity on the wire: which path prefix each authentication mode uses, reads (retried
//! by the shared `ServerClient`), posts (sent once), TeamCity's CSRF rule, and how its
//! answers become Baton errors.
//!
//! Auth: an access token alone is sent as `Authorization: Bearer` and, because Baton
//! keeps no cookie jar, TeamCity skips CSRF checks for it. A user with a token (password)
//! is sent as Basic auth; such requests are session-based, so every POST first fetches
//! a CSRF token from `/authenticationTest.html?csrf`, remembers the session cookie that
//! came with it, and sends both (`X-TC-CSRF-Token`, `Cookie`). A 403 that names the CSRF
//! check fetches a fresh token once and sends again, which is safe even for a trigger:
//! TeamCity refuses such a request before it looks at it. No credentials at all means
//! guest access under `/guestAuth/`.
//!
//! Errors: TeamCity's error bodies are text (or `{"errors":[…]}` on newer servers); the
//! `Details:` line is kept for the message. `409` ("repeat later") is retryable like
//! 429 and 5xx; 400, 401, 403 and 404 are fatal. The token never appears in a message.

use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE, COOKIE, SET_COOKIE};
use reqwest::{Method, RequestBuilder, StatusCode, Url};
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use super::wire;
use crate::adapters::http::{Boxed, Credentials, ServerClient};
use crate::adapters::{AdapterError, Result};

/// How requests authenticate, which decides the path prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Bearer,
    Basic,
    Guest,
}

/// A CSRF token and the session it belongs to.
#[derive(Clone)]
struct CsrfSession {
    token: String,
    cookie: Option<String>,
}

/// An answer, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn content_type(&self) -> Option<&str> {
        self.headers.get(CONTENT_TYPE)?.to_str().ok()
    }
}

pub struct Api {
    pub client: ServerClient,
    pub auth: Auth,
    /// The token, kept only to scrub it from messages should a server echo it.
    secret: Option<String>,
    csrf: Mutex<Option<CsrfSession>>,
}

impl Api {
    pub fn new(client: ServerClient, credentials: &Credentials) -> Api {
        let (auth, secret) = match credentials {
            Credentials::Bearer(token) => (Auth::Bearer, Some(token.clone())),
            Credentials::Basic { token, .. } => (Auth::Basic, Some(token.clone())),
            Credentials::None => (Auth::Guest, None),
        };
        Api {
            client,
            auth,
            secret: secret.filter(|s| !s.is_empty()),
            csrf: Mutex::new(None),
        }
    }

    pub fn name(&self) -> &str {
        &self.client.name
    }

    /// A REST URL: `path` is relative to `/app/rest/` and already encoded.
    pub fn rest(&self, path: &str) -> Url {
        let prefix = match self.auth {
            Auth::Guest => "guestAuth/app/rest/",
            Auth::Bearer | Auth::Basic => "app/rest/",
        };
        self.client.url(&format!("{prefix}{path}"))
    }

    /// A URL outside the REST API (the build log, the CSRF token), with the prefix that
    /// makes the server use the credentials Baton sends.
    pub fn page(&self, path: &str) -> Url {
        let prefix = match self.auth {
            Auth::Guest => "guestAuth/",
            Auth::Basic => "httpAuth/",
            Auth::Bearer => "",
        };
        self.client.url(&format!("{prefix}{path}"))
    }

    /// A GET, retried on transport errors, 5xx, 408 and 429; other answers come back.
    /// Boxed, as every request of the adapters (see `ServerClient::send_once`).
    pub fn read(&self, url: Url, accept: &'static str) -> Boxed<'_, Result<Reply>> {
        Box::pin(self.read_unboxed(url, accept))
    }

    async fn read_unboxed(&self, url: Url, accept: &'static str) -> Result<Reply> {
        let response = self
            .client
            .read(|| {
                self.client
                    .request(Method::GET, url.clone())
                    .header(ACCEPT, accept)
            })
            .await
            .map_err(|e| self.scrub(e))?;
        self.collect(response).await
    }

    /// A GET whose successful answer is parsed as `T`.
    pub async fn get<T: DeserializeOwned>(&self, what: &str, url: Url) -> Result<T> {
        let reply = self.read(url, "application/json").await?;
        self.parse(what, &reply)
    }

    /// `reply` parsed as `T` when it succeeded, else the error it stands for.
    pub fn parse<T: DeserializeOwned>(&self, what: &str, reply: &Reply) -> Result<T> {
        if !reply.status.is_success() {
            return Err(self.failure(what, reply));
        }
        wire::decode(reply.content_type(), &reply.body)
            .map_err(|e| AdapterError::Fatal(self.redact(format!("{}: {what}: {e}", self.name()))))
    }

    /// A POST of an XML body, sent once (after a CSRF refresh at most twice, the first
    /// having been refused unread). The answer comes back whatever its status.
    pub fn post_xml(&self, url: Url, body: String) -> Boxed<'_, Result<Reply>> {
        Box::pin(self.post_xml_unboxed(url, body))
    }

    async fn post_xml_unboxed(&self, url: Url, body: String) -> Result<Reply> {
        let mut session = match self.auth {
            Auth::Basic => Some(self.csrf_session(false).await?),
            Auth::Bearer | Auth::Guest => None,
        };
        let mut refreshed = false;
        loop {
            let mut request = self
                .client
                .request(Method::POST, url.clone())
                .header(CONTENT_TYPE, "application/xml")
                .header(ACCEPT, "application/json")
                .body(body.clone());
            if let Some(csrf) = &session {
                request = with_session(request, csrf);
            }
            let reply = self.send(request).await?;
            if session.is_some() && !refreshed && is_csrf_refusal(&reply) {
                tracing::debug!(server = %self.name(), "CSRF token refused; fetching a fresh one");
                session = Some(self.csrf_session(true).await?);
                refreshed = true;
                continue;
            }
            return Ok(reply);
        }
    }

    /// The error a failed answer stands for.
    pub fn failure(&self, what: &str, reply: &Reply) -> AdapterError {
        let detail = format!("{what}: {}", error_text(&reply.body));
        let error = if reply.status == StatusCode::CONFLICT {
            // TeamCity's InvalidStateException: "Cannot process this request at this
            // time. Repeat later."
            AdapterError::Retryable {
                message: format!("{} answered {}: {detail}", self.name(), reply.status),
                retry_after: crate::adapters::http::retry_after(&reply.headers),
            }
        } else {
            self.client
                .status_error(reply.status, &reply.headers, &detail)
        };
        self.scrub(error)
    }

    /// Removes the token from an error, should a server ever echo it back.
    pub fn scrub(&self, error: AdapterError) -> AdapterError {
        match error {
            AdapterError::Retryable {
                message,
                retry_after,
            } => AdapterError::Retryable {
                message: self.redact(message),
                retry_after,
            },
            AdapterError::Fatal(message) => AdapterError::Fatal(self.redact(message)),
            AdapterError::Unsupported(message) => AdapterError::Unsupported(self.redact(message)),
        }
    }

    pub fn redact(&self, message: String) -> String {
        match &self.secret {
            Some(secret) if message.contains(secret.as_str()) => message.replace(secret, "***"),
            _ => message,
        }
    }

    async fn send(&self, request: RequestBuilder) -> Result<Reply> {
        let response = self
            .client
            .send_once(request)
            .await
            .map_err(|e| self.scrub(e))?;
        self.collect(response).await
    }

    async fn collect(&self, response: reqwest::Response) -> Result<Reply> {
        let status = response.status();
        let headers = response.headers().clone();
        let body = crate::adapters::http::body_text(response)
            .await
            .map_err(|e| {
                AdapterError::retryable(format!(
                    "{}: reading the answer failed: {}",
                    self.name(),
                    e.without_url()
                ))
            })?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// The CSRF token of Baton's session, fetched when there is none (or `refresh`).
    async fn csrf_session(&self, refresh: bool) -> Result<CsrfSession> {
        let mut held = self.csrf.lock().await;
        if let (Some(session), false) = (held.as_ref(), refresh) {
            return Ok(session.clone());
        }
        let reply = self
            .read(self.page("authenticationTest.html?csrf"), "text/plain")
            .await?;
        if !reply.status.is_success() {
            return Err(self.failure("fetching a CSRF token", &reply));
        }
        let token = reply.body.trim().to_string();
        if token.is_empty() || token.contains(char::is_whitespace) {
            return Err(AdapterError::Fatal(format!(
                "{}: the CSRF token answer is not a token",
                self.name()
            )));
        }
        let session = CsrfSession {
            token,
            cookie: session_cookie(&reply.headers),
        };
        *held = Some(session.clone());
        Ok(session)
    }
}

fn with_session(request: RequestBuilder, csrf: &CsrfSession) -> RequestBuilder {
    let request = request.header("X-TC-CSRF-Token", &csrf.token);
    match &csrf.cookie {
        Some(cookie) => request.header(COOKIE, cookie),
        None => request,
    }
}

/// TeamCity's "Responding with 403 status code due to failed CSRF check".
fn is_csrf_refusal(reply: &Reply) -> bool {
    reply.status == StatusCode::FORBIDDEN && reply.body.to_ascii_lowercase().contains("csrf")
}

/// The `name=value` pairs of every `Set-Cookie`, as one `Cookie` header.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    let pairs: Vec<&str> = headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::trim)
        .filter(|pair| pair.contains('='))
        .collect();
    (!pairs.is_empty()).then(|| pairs.join("; "))
}

/// The useful part of a TeamCity error body: the messages of a structured error, the
/// `Details:` line of a classic one (without the exception's class), or the first lines.
pub fn error_text(body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorItem>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorItem {
        #[serde(default)]
        message: Option<String>,
        #[serde(default, rename = "additionalMessage")]
        additional: Option<String>,
    }
    if let Ok(parsed) = serde_json::from_str::<Errors>(body) {
        let messages: Vec<String> = parsed
            .errors
            .into_iter()
            .filter_map(|e| match (e.message, e.additional) {
                (Some(m), Some(a)) if !a.is_empty() => Some(format!("{m} ({a})")),
                (Some(m), _) => Some(m),
                (None, a) => a,
            })
            .collect();
        if !messages.is_empty() {
            return one_line(&messages.join("; "));
        }
    }
    if let Some(details) = body
        .lines()
        .find_map(|line| line.trim().strip_prefix("Details:"))
    {
        let details = details.trim();
        // "jetbrains.buildServer.server.rest.errors.NotFoundException: No build found…"
        let message = match details.split_once(": ") {
            Some((class, rest)) if !class.contains(' ') && class.contains('.') => rest,
            _ => details,
        };
        return one_line(message);
    }
    one_line(body)
}

fn one_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match joined.char_indices().nth(300) {
        Some((index, _)) => format!("{}…", &joined[..index]),
        None => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_error_bodies_keep_the_details_message() {
        let body = "Responding with error, status code: 404 (Not Found).\n\
            Details: jetbrains.buildServer.server.rest.errors.NotFoundException: No build type nor template is found by id 'Nope'.\n\
            Could not find the entity requested. Check the reference is correct and the user has permissions to access the entity.";
        assert_eq!(
            error_text(body),
            "No build type nor template is found by id 'Nope'."
        );
        let body = "Responding with error, status code: 400 (Bad Request).\n\
            Details: jetbrains.buildServer.server.rest.errors.BadRequestException: Cannot cancel finished build\n\
            Invalid request. Please check the request URL and data are correct.";
        assert_eq!(error_text(body), "Cannot cancel finished build");
    }

    #[test]
    fn structured_and_plain_error_bodies() {
        assert_eq!(
            error_text(
                r#"{"errors":[{"message":"No build found by id '9'.","additionalMessage":"","statusText":"Not Found"}]}"#
            ),
            "No build found by id '9'."
        );
        assert_eq!(
            error_text("Authentication required\nTo login manually go to \"/login.html\" page"),
            "Authentication required To login manually go to \"/login.html\" page"
        );
        assert_eq!(error_text(""), "");
    }

    #[test]
    fn session_cookies_are_gathered_without_attributes() {
        let mut headers = HeaderMap::new();
        headers.append(
            SET_COOKIE,
            "TCSESSIONID=abc; Path=/; HttpOnly".parse().unwrap(),
        );
        headers.append(
            SET_COOKIE,
            "X-TeamCity-Node-Id-Cookie=MAIN; Path=/".parse().unwrap(),
        );
        assert_eq!(
            session_cookie(&headers).as_deref(),
            Some("TCSESSIONID=abc; X-TeamCity-Node-Id-Cookie=MAIN")
        );
        assert_eq!(session_cookie(&HeaderMap::new()), None);
    }
}
