//! Who a request comes from. Jenkins reads `Authorization: Basic` pre-emptively: an API
//! token authenticates the request *and* exempts it from CSRF crumbs
//! (`BasicHeaderApiTokenAuthenticator`, `ApiCrumbExclusion`); a password authenticates it
//! but POSTs still need a crumb; wrong credentials are a 401; no credentials is
//! anonymous, which a secured instance answers with 403, not 401.

use std::collections::HashMap;

use subtle::ConstantTimeEq;

/// The authenticated identity of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Identity {
    Anonymous,
    /// Authenticated by an API token: no crumb needed.
    Token(String),
    /// Authenticated by a password: POSTs need a crumb and its session.
    Password(String),
}

impl Identity {
    /// The user id; `None` for anonymous.
    pub(super) fn user(&self) -> Option<&str> {
        match self {
            Identity::Anonymous => None,
            Identity::Token(user) | Identity::Password(user) => Some(user),
        }
    }

    /// The name crumbs are bound to.
    pub(super) fn crumb_user(&self) -> &str {
        self.user().unwrap_or("anonymous")
    }
}

/// The users of a secured instance.
#[derive(Debug, Default)]
pub(super) struct Realm {
    tokens: HashMap<String, String>,
    passwords: HashMap<String, String>,
}

impl Realm {
    pub(super) fn new(tokens: &[(String, String)], passwords: &[(String, String)]) -> Realm {
        Realm {
            tokens: tokens.iter().cloned().collect(),
            passwords: passwords.iter().cloned().collect(),
        }
    }

    /// With no users, anonymous may do anything ("Anyone can do anything").
    pub(super) fn secured(&self) -> bool {
        !self.tokens.is_empty() || !self.passwords.is_empty()
    }

    /// The identity of an `Authorization` header value; `Err(user)` for wrong credentials.
    /// A header that is not `Basic user:secret` is ignored, as `BasicHeaderProcessor` does.
    pub(super) fn authenticate(&self, authorization: Option<&str>) -> Result<Identity, String> {
        let Some((user, secret)) = authorization.and_then(basic_credentials) else {
            return Ok(Identity::Anonymous);
        };
        let matches = |expected: Option<&String>| {
            expected.is_some_and(|e| bool::from(e.as_bytes().ct_eq(secret.as_bytes())))
        };
        if matches(self.tokens.get(&user)) {
            Ok(Identity::Token(user))
        } else if matches(self.passwords.get(&user)) {
            Ok(Identity::Password(user))
        } else {
            Err(user)
        }
    }
}

/// `Basic base64(user:secret)` → `(user, secret)`.
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(encoded.trim())?).ok()?;
    let (user, secret) = decoded.split_once(':')?;
    Some((user.to_string(), secret.to_string()))
}

/// Standard base64 with optional padding.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes: Vec<u8> = text.bytes().filter(|&b| b != b'=').collect();
    if bytes.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let produced = chunk.len() - 1;
        for i in 0..produced {
            out.push((acc >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_basic_credentials() {
        // samples/jenkins-trigger-exchange.http
        assert_eq!(
            basic_credentials("Basic Y2ktYm90OjExMjIzMzQ0NTU2Njc3ODg5OTAwYWFiYmNjZGRlZWZm"),
            Some(("ci-bot".into(), "11223344556677889900aabbccddeeff".into()))
        );
        assert_eq!(
            basic_credentials("Basic Y2ktYm90OnMzY3IzdC1wYXNzd29yZA=="),
            Some(("ci-bot".into(), "s3cr3t-password".into()))
        );
        assert_eq!(basic_credentials("Bearer abc"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
    }

    #[test]
    fn tells_tokens_passwords_and_strangers_apart() {
        let realm = Realm::new(
            &[("ci-bot".into(), "tok".into())],
            &[("alice".into(), "pw".into())],
        );
        let header = |user: &str, secret: &str| {
            let raw = format!("{user}:{secret}");
            let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut out = String::from("Basic ");
            for chunk in raw.as_bytes().chunks(3) {
                let b = [
                    chunk[0],
                    *chunk.get(1).unwrap_or(&0),
                    *chunk.get(2).unwrap_or(&0),
                ];
                let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
                for i in 0..4 {
                    if i <= chunk.len() {
                        out.push(char::from(table[((n >> (18 - 6 * i)) & 63) as usize]));
                    } else {
                        out.push('=');
                    }
                }
            }
            out
        };
        assert!(realm.secured());
        assert_eq!(
            realm.authenticate(Some(&header("ci-bot", "tok"))),
            Ok(Identity::Token("ci-bot".into()))
        );
        assert_eq!(
            realm.authenticate(Some(&header("alice", "pw"))),
            Ok(Identity::Password("alice".into()))
        );
        assert_eq!(
            realm.authenticate(Some(&header("ci-bot", "nope"))),
            Err("ci-bot".into())
        );
        assert_eq!(realm.authenticate(None), Ok(Identity::Anonymous));
        assert!(!Realm::default().secured());
    }
}
