//! Who is calling (reference §2) and whether a modifying request passes the CSRF check
//! (§3). Bearer tokens need no CSRF token unless a session cookie comes with them; Basic
//! authentication opens a `TCSESSIONID` session, and its POSTs need the session's token
//! from `/authenticationTest.html?csrf` in `X-TC-CSRF-Token` (or `tc-csrf-token`), or an
//! `Origin` equal to the server's URL. A Basic request that brings no cookie may use a
//! token issued to any session of the same user (whether real servers exempt such
//! requests is unconfirmed; this keeps the token mandatory without needing a cookie jar).

use axum::http::{header, HeaderMap, HeaderValue};
use subtle::ConstantTimeEq;

use super::build::User;
use super::locator::decode_base64;
use super::state::{token_user, Session, Shared};

/// The session cookie TeamCity sets.
pub(super) const SESSION_COOKIE: &str = "TCSESSIONID";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Via {
    /// Authentication is off.
    Open,
    Bearer,
    Basic,
    Session,
    Guest,
}

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub(super) struct Caller {
    pub(super) user: Option<User>,
    pub(super) via: Via,
    /// The session the request belongs to (from its cookie, or opened by it).
    pub(super) session: Option<String>,
    /// A session this request opened, to announce with `Set-Cookie`.
    pub(super) new_session: Option<String>,
}

/// Authenticates a request; None means 401. `guest` is true under `/guestAuth/`.
pub(super) fn authenticate(shared: &Shared, headers: &HeaderMap, guest: bool) -> Option<Caller> {
    if !shared.auth_enabled() {
        return Some(Caller {
            user: Some(token_user()),
            via: Via::Open,
            session: None,
            new_session: None,
        });
    }
    if guest {
        return shared.guest.then_some(Caller {
            user: None,
            via: Via::Guest,
            session: None,
            new_session: None,
        });
    }
    let cookie = session_cookie(headers);
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let mut state = shared.lock();
    let cookie_session = cookie.filter(|sid| state.sessions.contains_key(sid));
    match authorization {
        Some(value) if value.starts_with("Bearer ") => {
            let presented = value["Bearer ".len()..].trim();
            let token = shared.token.as_deref()?;
            if !bool::from(presented.as_bytes().ct_eq(token.as_bytes())) {
                return None;
            }
            Some(Caller {
                user: Some(token_user()),
                via: Via::Bearer,
                session: cookie_session,
                new_session: None,
            })
        }
        Some(value) if value.starts_with("Basic ") => {
            let decoded = decode_base64(value["Basic ".len()..].trim())?;
            let decoded = String::from_utf8(decoded).ok()?;
            let (name, password) = decoded.split_once(':')?;
            let known = shared
                .basic
                .iter()
                .any(|(n, p)| n == name && bool::from(p.as_bytes().ct_eq(password.as_bytes())));
            if !known {
                return None;
            }
            let user = state.user_named(name);
            let same_user = cookie_session
                .clone()
                .filter(|sid| state.sessions.get(sid).is_some_and(|s| s.user == user));
            let (session, new_session) = match same_user {
                Some(sid) => (Some(sid), None),
                None => {
                    let sid = new_secret();
                    state.sessions.insert(
                        sid.clone(),
                        Session {
                            user: user.clone(),
                            csrf: None,
                        },
                    );
                    (Some(sid.clone()), Some(sid))
                }
            };
            Some(Caller {
                user: Some(user),
                via: Via::Basic,
                session,
                new_session,
            })
        }
        Some(_) => None,
        None => {
            let sid = cookie_session?;
            let user = state.sessions.get(&sid)?.user.clone();
            Some(Caller {
                user: Some(user),
                via: Via::Session,
                session: Some(sid),
                new_session: None,
            })
        }
    }
}

/// Whether a modifying request from `caller` passes the CSRF filter.
pub(super) fn csrf_ok(
    shared: &Shared,
    caller: &Caller,
    headers: &HeaderMap,
    query_token: Option<&str>,
) -> bool {
    match caller.via {
        Via::Open => return true,
        Via::Bearer if caller.session.is_none() => return true,
        _ => {}
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if origin.is_some_and(|o| o.trim_end_matches('/') == shared.base_url) {
        return true;
    }
    let presented = headers
        .get("X-TC-CSRF-Token")
        .and_then(|v| v.to_str().ok())
        .or(query_token);
    let Some(presented) = presented else {
        return false;
    };
    let state = shared.lock();
    let matches = |session: &Session| {
        session
            .csrf
            .as_deref()
            .is_some_and(|t| bool::from(t.as_bytes().ct_eq(presented.as_bytes())))
    };
    // A session this very request opened has no token yet: fall back to the user's others.
    let own = caller
        .session
        .as_ref()
        .filter(|sid| caller.new_session.as_ref() != Some(sid))
        .and_then(|sid| state.sessions.get(sid));
    match own {
        Some(session) => matches(session),
        None => state
            .sessions
            .values()
            .any(|s| Some(&s.user) == caller.user.as_ref() && matches(s)),
    }
}

/// The CSRF token of the caller's session, opening a session for a bearer caller.
pub(super) fn csrf_token(shared: &Shared, caller: &mut Caller) -> String {
    let mut state = shared.lock();
    let sid = match &caller.session {
        Some(sid) => sid.clone(),
        None => {
            let sid = new_secret();
            let user = caller.user.clone().unwrap_or_else(token_user);
            state
                .sessions
                .insert(sid.clone(), Session { user, csrf: None });
            caller.session = Some(sid.clone());
            caller.new_session = Some(sid.clone());
            sid
        }
    };
    let session = state.sessions.entry(sid).or_insert_with(|| Session {
        user: token_user(),
        csrf: None,
    });
    session.csrf.get_or_insert_with(new_secret).clone()
}

/// `Set-Cookie` for a session a request opened.
pub(super) fn set_cookie(sid: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("{SESSION_COOKIE}={sid}; Path=/; HttpOnly")).ok()
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_string())
}

fn new_secret() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
