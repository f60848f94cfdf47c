//! One request as the handlers see it: who sent it, its method and headers, its
//! parameters (query string first, then an urlencoded form body, as the servlet API
//! merges them), its session cookie and the instant it is answered at.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};

use tokio::time::Instant;

use super::super::auth::Identity;
use super::super::names::parse_form;
use super::super::shared::Shared;

pub(super) struct Call {
    pub(super) shared: Arc<Shared>,
    pub(super) identity: Identity,
    pub(super) method: Method,
    pub(super) headers: HeaderMap,
    /// Query parameters, then form fields.
    params: Vec<(String, String)>,
    pub(super) remote: SocketAddr,
    pub(super) now: Instant,
}

impl Call {
    pub(super) fn new(
        shared: Arc<Shared>,
        parts: Parts,
        body: &[u8],
        remote: SocketAddr,
        now: Instant,
    ) -> Call {
        let mut params = parse_form(parts.uri.query().unwrap_or(""));
        let form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if form {
            params.extend(parse_form(&String::from_utf8_lossy(body)));
        }
        Call {
            shared,
            identity: Identity::Anonymous,
            method: parts.method,
            headers: parts.headers,
            params,
            remote,
            now,
        }
    }

    pub(super) fn with_identity(mut self, identity: Identity) -> Call {
        self.identity = identity;
        self
    }

    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The first value of a parameter.
    pub(super) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a parameter.
    pub(super) fn values(&self, name: &str) -> Vec<&str> {
        self.params
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether the request has any parameter at all.
    pub(super) fn has_params(&self) -> bool {
        !self.params.is_empty()
    }

    /// `scheme://host[:port]` of the request, which `Location` headers are built from.
    pub(super) fn base(&self) -> String {
        let host = self
            .header(header::HOST.as_str())
            .map_or_else(|| self.local_host(), str::to_string);
        format!("http://{host}")
    }

    fn local_host(&self) -> String {
        self.shared
            .lock()
            .root_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string()
    }

    /// The value of the session cookie, if the request carries one.
    pub(super) fn session(&self) -> Option<String> {
        let name = self.shared.lock().sessions.cookie_name();
        self.headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    }

    /// The user a request acts as, for causes and interruptions.
    pub(super) fn user(&self) -> Option<String> {
        self.identity.user().map(str::to_string)
    }
}
