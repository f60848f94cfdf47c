//! CSRF crumbs (reference §3). With an API token Jenkins skips the crumb check, so Baton
//! sends none until a POST is refused with 403 "No valid crumb was included in the
//! request". Then it fetches `/crumbIssuer/api/json`, keeps the session cookie that
//! response sets (the crumb is bound to that session), and sends both with every POST
//! from then on; a later crumb 403 (expired session, restarted server) fetches a fresh one.

use std::sync::Mutex;

use reqwest::header::{HeaderMap, SET_COOKIE};

use super::wire;

/// A crumb with the session it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crumb {
    pub field: String,
    pub value: String,
    /// `name=value; name2=value2` from the issuer's `Set-Cookie` headers, if any.
    pub cookie: Option<String>,
}

impl Crumb {
    pub fn from_issuer(body: &wire::Crumb, headers: &HeaderMap) -> Crumb {
        let cookies: Vec<&str> = headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .filter_map(|value| value.split(';').next())
            .map(str::trim)
            .filter(|pair| pair.contains('='))
            .collect();
        Crumb {
            field: body.crumb_request_field.clone(),
            value: body.crumb.clone(),
            cookie: (!cookies.is_empty()).then(|| cookies.join("; ")),
        }
    }
}

/// The crumb in use, if the server ever asked for one.
#[derive(Default)]
pub struct CrumbJar {
    current: Mutex<Option<Crumb>>,
}

impl CrumbJar {
    pub fn current(&self) -> Option<Crumb> {
        self.lock().clone()
    }

    pub fn set(&self, crumb: Crumb) {
        *self.lock() = Some(crumb);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Crumb>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether a 403's body is Jenkins' `CrumbFilter` refusing the request.
pub fn is_crumb_refusal(body: &str) -> bool {
    body.to_ascii_lowercase().contains("crumb")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_session_cookie_of_the_issuer() {
        let body: wire::Crumb =
            serde_json::from_str(include_str!("testdata/jenkins-crumb.json")).unwrap();
        let mut headers = HeaderMap::new();
        headers.append(
            SET_COOKIE,
            "JSESSIONID.5f2a91c3=node01x9q7c2m8w1l4r0.node0; Path=/; HttpOnly"
                .parse()
                .unwrap(),
        );
        headers.append(SET_COOKIE, "other=1; Path=/".parse().unwrap());
        let crumb = Crumb::from_issuer(&body, &headers);
        assert_eq!(crumb.field, "Jenkins-Crumb");
        assert_eq!(
            crumb.cookie.as_deref(),
            Some("JSESSIONID.5f2a91c3=node01x9q7c2m8w1l4r0.node0; other=1")
        );
        assert_eq!(Crumb::from_issuer(&body, &HeaderMap::new()).cookie, None);
    }

    #[test]
    fn recognises_crumb_refusals() {
        assert!(is_crumb_refusal(
            "<html>... HTTP ERROR 403 No valid crumb was included in the request ...</html>"
        ));
        assert!(!is_crumb_refusal("<html>Authentication required</html>"));
    }
}
