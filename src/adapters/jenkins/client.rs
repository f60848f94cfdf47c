//! The adapter's wire: reads go through `ServerClient::read` (rate limited, retried with
//! backoff, `Retry-After` honoured); POSTs go through `send_once` (never repeated blindly)
//! with the crumb dance of `crumb.rs`. Redirects are not followed: Jenkins speaks in them
//! (303 = merged trigger, 302 = refused or "stopped"). Every answer comes back whole as a
//! `Reply`, and every error says what was being done, on which server and job.

use std::sync::Arc;

use reqwest::header::{HeaderMap, COOKIE};
use reqwest::{Method, Response, StatusCode};
use serde::de::DeserializeOwned;

use super::crumb::{is_crumb_refusal, Crumb, CrumbJar};
use super::wire;
use crate::adapters::http::{Boxed, ServerClient};
use crate::adapters::{AdapterError, Result};

/// Crumb refreshes one POST may trigger before its 403 counts.
const CRUMB_REFRESHES: usize = 2;

/// An answer, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }
}

pub struct Jenkins {
    pub client: Arc<ServerClient>,
    crumbs: CrumbJar,
    /// Never to be shown: removed from any message that would carry it.
    token: Option<String>,
}

impl Jenkins {
    pub fn new(client: ServerClient, token: Option<String>) -> Jenkins {
        Jenkins {
            client: Arc::new(client),
            crumbs: CrumbJar::default(),
            token: token.filter(|t| !t.is_empty()),
        }
    }

    pub fn name(&self) -> &str {
        &self.client.name
    }

    /// An absolute URL for a path under the Jenkins root.
    pub fn url(&self, path: &str) -> String {
        self.client.url(path).to_string()
    }

    /// A GET, retried while the server is busy or failing; any final status comes back.
    pub async fn get(&self, what: &str, path: &str, query: &[(&str, String)]) -> Result<Reply> {
        get(&self.client, what, path, query).await
    }

    /// A GET whose answer must be a 2xx JSON body.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T> {
        let reply = self.get(what, path, query).await?;
        if !reply.status.is_success() {
            return Err(failure(&self.client, what, &reply));
        }
        decode(&self.client, what, &reply)
    }

    /// A POST, sent once; a crumb refusal fetches a fresh crumb and sends again (Jenkins
    /// acted on nothing when it refused).
    pub fn post<'a>(
        &'a self,
        what: &'a str,
        path: &'a str,
        query: &'a [(&'a str, String)],
        form: &'a [(String, String)],
    ) -> Boxed<'a, Result<Reply>> {
        Box::pin(self.post_unboxed(what, path, query, form))
    }

    async fn post_unboxed(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, String)],
        form: &[(String, String)],
    ) -> Result<Reply> {
        let url = self.client.url(path);
        let mut refreshes = 0;
        loop {
            let mut request = self.client.request(Method::POST, url.clone()).query(query);
            if let Some(crumb) = self.crumbs.current() {
                request = request.header(crumb.field.as_str(), crumb.value.as_str());
                if let Some(cookie) = &crumb.cookie {
                    request = request.header(COOKIE, cookie.as_str());
                }
            }
            request = if form.is_empty() {
                request.body("")
            } else {
                request.form(form)
            };
            let response = self
                .client
                .send_once(request)
                .await
                .map_err(|e| prefix(e, what))?;
            let reply = read_reply(&self.client, what, response).await?;
            if reply.status != StatusCode::FORBIDDEN || !is_crumb_refusal(&reply.body) {
                return Ok(reply);
            }
            if refreshes == CRUMB_REFRESHES {
                return Err(AdapterError::Fatal(format!(
                    "{what}: {} refused the CSRF crumb even after Baton fetched a fresh one",
                    self.name()
                )));
            }
            refreshes += 1;
            self.refresh_crumb(what).await?;
        }
    }

    async fn refresh_crumb(&self, what: &str) -> Result<()> {
        let reply = self.get(what, "crumbIssuer/api/json", &[]).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Err(AdapterError::Fatal(format!(
                "{what}: {} asked for a CSRF crumb but has no crumb issuer",
                self.name()
            )));
        }
        if !reply.status.is_success() {
            return Err(failure(&self.client, what, &reply));
        }
        let body: wire::Crumb = decode(&self.client, what, &reply)?;
        tracing::debug!(server = %self.name(), "fetched a CSRF crumb");
        self.crumbs.set(Crumb::from_issuer(&body, &reply.headers));
        Ok(())
    }

    /// The error for an answer that is not what `what` needed.
    pub fn failure(&self, what: &str, reply: &Reply) -> AdapterError {
        failure(&self.client, what, reply)
    }

    pub fn decode<T: DeserializeOwned>(&self, what: &str, reply: &Reply) -> Result<T> {
        decode(&self.client, what, reply)
    }

    /// Removes the token from an error, should any message ever carry it.
    pub fn scrub(&self, error: AdapterError) -> AdapterError {
        let Some(token) = &self.token else {
            return error;
        };
        let clean = |message: String| message.replace(token.as_str(), "***");
        match error {
            AdapterError::Retryable {
                message,
                retry_after,
            } => AdapterError::Retryable {
                message: clean(message),
                retry_after,
            },
            AdapterError::Fatal(message) => AdapterError::Fatal(clean(message)),
            AdapterError::Unsupported(message) => AdapterError::Unsupported(clean(message)),
        }
    }
}

/// A GET through a bare client, for the batchers, which outlive no adapter but cannot
/// borrow one. Boxed, as every request of the adapters (see `ServerClient::send_once`).
pub fn get<'a>(
    client: &'a ServerClient,
    what: &'a str,
    path: &'a str,
    query: &'a [(&'a str, String)],
) -> Boxed<'a, Result<Reply>> {
    Box::pin(get_unboxed(client, what, path, query))
}

async fn get_unboxed(
    client: &ServerClient,
    what: &str,
    path: &str,
    query: &[(&str, String)],
) -> Result<Reply> {
    let url = client.url(path);
    let response = client
        .read(|| client.request(Method::GET, url.clone()).query(query))
        .await
        .map_err(|e| prefix(e, what))?;
    read_reply(client, what, response).await
}

async fn read_reply(client: &ServerClient, what: &str, response: Response) -> Result<Reply> {
    let status = response.status();
    let headers = response.headers().clone();
    let body = crate::adapters::http::body_text(response)
        .await
        .map_err(|e| {
            AdapterError::retryable(format!(
                "{what}: {}: the answer broke off: {}",
                client.name,
                e.without_url()
            ))
        })?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

pub fn failure(client: &ServerClient, what: &str, reply: &Reply) -> AdapterError {
    prefix(
        client.status_error(reply.status, &reply.headers, &excerpt(&reply.body)),
        what,
    )
}

pub fn decode<T: DeserializeOwned>(client: &ServerClient, what: &str, reply: &Reply) -> Result<T> {
    serde_json::from_str(&reply.body).map_err(|e| {
        AdapterError::Fatal(format!(
            "{what}: {} sent an answer Baton cannot read: {e}",
            client.name
        ))
    })
}

/// Puts what was being done in front of an error's message.
pub fn prefix(error: AdapterError, what: &str) -> AdapterError {
    match error {
        AdapterError::Retryable {
            message,
            retry_after,
        } => AdapterError::Retryable {
            message: format!("{what}: {message}"),
            retry_after,
        },
        AdapterError::Fatal(message) => AdapterError::Fatal(format!("{what}: {message}")),
        AdapterError::Unsupported(message) => {
            AdapterError::Unsupported(format!("{what}: {message}"))
        }
    }
}

/// The readable part of an error body: Jenkins' error pages are HTML.
pub fn excerpt(body: &str) -> String {
    let mut text = String::with_capacity(body.len().min(2048));
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if in_tag => {}
            c if c.is_whitespace() || c.is_control() => text.push(' '),
            c => text.push(c),
        }
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let joined = words.join(" ");
    match joined.char_indices().nth(200) {
        Some((index, _)) => format!("{}…", &joined[..index]),
        None => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_pages_shrink_to_their_words() {
        assert_eq!(
            excerpt("<html><head><title>Error 403</title></head>\n<body><h2>HTTP ERROR 403 No valid crumb was included in the request</h2></body></html>"),
            "Error 403 HTTP ERROR 403 No valid crumb was included in the request"
        );
        assert_eq!(excerpt("plain\ttext\n"), "plain text");
        assert_eq!(excerpt(&"x".repeat(500)).chars().count(), 201);
    }

    #[test]
    fn prefixes_keep_the_class_and_retry_after() {
        let error = prefix(
            AdapterError::Retryable {
                message: "ci answered 503".into(),
                retry_after: Some(std::time::Duration::from_secs(2)),
            },
            "read build #3 of `a`",
        );
        assert_eq!(
            error,
            AdapterError::Retryable {
                message: "read build #3 of `a`: ci answered 503".into(),
                retry_after: Some(std::time::Duration::from_secs(2)),
            }
        );
    }
}
