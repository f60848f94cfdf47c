//! CSRF crumbs bound to HTTP sessions, as `DefaultCrumbIssuer` does since SECURITY-626:
//! fetching a crumb creates a session (`Set-Cookie: JSESSIONID.<suffix>=…`), and the crumb
//! validates only for the same user on the same session. A restart (or
//! `invalidate_crumbs`) forgets every session, so old crumbs stop working.

use std::collections::HashMap;

use rand::Rng;

/// The request field (header, form or query parameter) that carries the crumb.
pub(super) const CRUMB_FIELD: &str = "Jenkins-Crumb";

#[derive(Debug)]
pub(super) struct Sessions {
    /// The instance-specific suffix of the session cookie's name.
    cookie_suffix: String,
    /// Session id → (user → crumb).
    sessions: HashMap<String, HashMap<String, String>>,
}

/// A crumb and the session it belongs to; `new_session` when the cookie must be set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Issued {
    pub(super) session: String,
    pub(super) crumb: String,
    pub(super) new_session: bool,
}

impl Sessions {
    pub(super) fn new() -> Sessions {
        Sessions {
            cookie_suffix: random_hex(4),
            sessions: HashMap::new(),
        }
    }

    /// `JSESSIONID.5f2a91c3`.
    pub(super) fn cookie_name(&self) -> String {
        format!("JSESSIONID.{}", self.cookie_suffix)
    }

    /// The crumb for `user` on the request's session, creating the session if the
    /// request has none (or one this instance does not know).
    pub(super) fn issue(&mut self, session: Option<&str>, user: &str) -> Issued {
        let (session, new_session) = match session {
            Some(id) if self.sessions.contains_key(id) => (id.to_string(), false),
            _ => (format!("node0{}.node0", random_hex(10)), true),
        };
        let crumbs = self.sessions.entry(session.clone()).or_default();
        let crumb = crumbs
            .entry(user.to_string())
            .or_insert_with(|| random_hex(32))
            .clone();
        Issued {
            session,
            crumb,
            new_session,
        }
    }

    pub(super) fn valid(&self, session: Option<&str>, user: &str, crumb: &str) -> bool {
        session
            .and_then(|id| self.sessions.get(id))
            .and_then(|crumbs| crumbs.get(user))
            .is_some_and(|expected| {
                use subtle::ConstantTimeEq;
                bool::from(expected.as_bytes().ct_eq(crumb.as_bytes()))
            })
    }

    /// Forgets every session and crumb.
    pub(super) fn clear(&mut self) {
        self.sessions.clear();
    }
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crumbs_are_bound_to_session_and_user() {
        let mut sessions = Sessions::new();
        let issued = sessions.issue(None, "ci-bot");
        assert!(issued.new_session);
        assert_eq!(issued.crumb.len(), 64);
        assert!(sessions.valid(Some(&issued.session), "ci-bot", &issued.crumb));
        assert!(!sessions.valid(None, "ci-bot", &issued.crumb));
        assert!(!sessions.valid(Some(&issued.session), "other", &issued.crumb));
        let again = sessions.issue(Some(&issued.session), "ci-bot");
        assert_eq!(again.crumb, issued.crumb);
        assert!(!again.new_session);
        sessions.clear();
        assert!(!sessions.valid(Some(&issued.session), "ci-bot", &issued.crumb));
    }
}
