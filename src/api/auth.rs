//! Who is calling: bearer tokens from the daemon config (or the generated admin token),
//! each with a role. Tokens are compared in constant time and never logged.

use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::config::{Role, Secret};
use crate::model::ActionTypeKey;

/// A token the daemon accepts.
pub struct TokenEntry {
    pub name: String,
    pub role: Role,
    pub value: Secret,
    /// For worker tokens: the action types whose jobs it may take.
    pub action_types: Vec<ActionTypeKey>,
}

pub struct Auth {
    tokens: Vec<TokenEntry>,
    open_reads: bool,
}

/// The authenticated caller; its name is recorded as the actor of what it does.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    pub action_types: Vec<ActionTypeKey>,
}

impl Caller {
    /// Whether the caller may poll for and answer jobs of `key`: an admin may act as any
    /// worker, a worker token only for the types it names.
    pub fn may_work_on(&self, key: &ActionTypeKey) -> bool {
        self.role == Role::Admin || (self.role == Role::Worker && self.action_types.contains(key))
    }
}

impl Auth {
    pub fn new(tokens: Vec<TokenEntry>, open_reads: bool) -> Auth {
        Auth { tokens, open_reads }
    }

    /// The caller, if it holds a token of at least `needed`. 401 without a valid token,
    /// 403 with a token of a lower role.
    pub fn require(&self, headers: &HeaderMap, needed: Role) -> Result<Caller, ApiError> {
        let presented = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        let Some(presented) = presented else {
            if needed == Role::Read && self.open_reads {
                return Ok(Caller {
                    name: "anonymous".into(),
                    role: Role::Read,
                    action_types: Vec::new(),
                });
            }
            return Err(ApiError::unauthorized());
        };
        // Compare against every token, without stopping early, so timing says nothing
        // about which token (or how much of one) matched.
        let mut found: Option<&TokenEntry> = None;
        for entry in &self.tokens {
            let equal: bool = entry
                .value
                .expose()
                .as_bytes()
                .ct_eq(presented.as_bytes())
                .into();
            if equal {
                found = Some(entry);
            }
        }
        let entry = found.ok_or_else(ApiError::unauthorized)?;
        // Job routes are for worker tokens and admins, not for the roles in between.
        let refused = match needed {
            Role::Worker => !matches!(entry.role, Role::Worker | Role::Admin),
            _ => entry.role < needed,
        };
        if refused {
            return Err(ApiError::forbidden(match needed {
                Role::Worker => "worker",
                Role::Read => "read",
                Role::Operate => "operate",
                Role::Admin => "admin",
            }));
        }
        Ok(Caller {
            name: entry.name.clone(),
            role: entry.role,
            action_types: entry.action_types.clone(),
        })
    }
}

/// A role a handler needs, as a type, so the check runs as an extractor before the
/// request's path and body are even looked at.
pub trait Needs {
    const ROLE: Role;
}

pub struct WorkerRole;
pub struct ReadRole;
pub struct OperateRole;
pub struct AdminRole;

impl Needs for WorkerRole {
    const ROLE: Role = Role::Worker;
}
impl Needs for ReadRole {
    const ROLE: Role = Role::Read;
}
impl Needs for OperateRole {
    const ROLE: Role = Role::Operate;
}
impl Needs for AdminRole {
    const ROLE: Role = Role::Admin;
}

/// The caller, authorised for `R`; as a handler's first argument it refuses the request
/// (401/403) before anything else is read.
pub struct Authorized<R> {
    pub caller: Caller,
    role: std::marker::PhantomData<R>,
}

/// A worker or admin token; job handlers then check `Caller::may_work_on` for the job's
/// type.
pub type Worker = Authorized<WorkerRole>;
pub type Reader = Authorized<ReadRole>;
pub type Operator = Authorized<OperateRole>;
pub type Admin = Authorized<AdminRole>;

impl<R: Needs> axum::extract::FromRequestParts<super::AppState> for Authorized<R> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &super::AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = state.auth.require(&parts.headers, R::ROLE)?;
        Ok(Authorized {
            caller,
            role: std::marker::PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    fn auth() -> Auth {
        let entry = |name: &str, role, value: &str| TokenEntry {
            name: name.into(),
            role,
            value: Secret::new(value),
            action_types: Vec::new(),
        };
        Auth::new(
            vec![
                entry("rita", Role::Read, "reader-token-0123456789"),
                entry("ada", Role::Admin, "admin-token-0123456789"),
            ],
            false,
        )
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        headers
    }

    #[test]
    fn only_the_exact_token_is_accepted() {
        let auth = auth();
        let caller = auth
            .require(&bearer("admin-token-0123456789"), Role::Admin)
            .unwrap();
        assert_eq!(caller.name, "ada");
        for near in [
            "admin-token-012345678",
            "admin-token-01234567890",
            "ADMIN-TOKEN-0123456789",
            "admin-token-0123456788",
            "",
        ] {
            let refused = auth.require(&bearer(near), Role::Read).unwrap_err();
            assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{near:?}");
        }
        let refused = auth
            .require(&bearer("reader-token-0123456789"), Role::Operate)
            .unwrap_err();
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }

    /// A tidy check: secrets (API tokens, callback secrets) are compared with
    /// `subtle::ConstantTimeEq`, never with `==`, whose time says how much of a guess was
    /// right. Scans the daemon's sources, test modules and simulators aside.
    #[test]
    fn secrets_are_never_compared_with_eq() {
        let compared = regex::Regex::new(
            r"(?i)\b(secret|token|presented|offered|given|expose\(\))\s*[!=]=|[!=]=\s*[&*]*(secret|token|presented|offered|given)\s*($|[;){,])",
        )
        .unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut pending = vec![root.clone()];
        let mut checked = 0;
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    if path != root.join("sim") {
                        pending.push(path);
                    }
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or("");
                for (n, line) in code.lines().enumerate() {
                    assert!(
                        !compared.is_match(line.trim_start())
                            || line.trim_start().starts_with("//"),
                        "{}:{}: compare secrets with ct_eq: {line}",
                        path.display(),
                        n + 1
                    );
                }
                checked += 1;
            }
        }
        assert!(checked > 50, "the sources were found: {checked} files");
        assert!(compared.is_match("if given == secret {"));
        assert!(compared.is_match("token.expose() == presented"));
        assert!(!compared.is_match("token.value.is_none() == token.value_file.is_none()"));
    }
}
