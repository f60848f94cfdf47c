//! Push webhooks from GitHub, GitLab and Gitea/Forgejo: which forge sent a request, whether
//! it carries the shared secret, and what the push says. The signature is checked over the
//! raw bytes before anything is parsed; HMACs and GitLab's plain token are compared in
//! constant time. Payloads are read tolerantly: only the fields Baton needs, each optional.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The forges Baton takes push webhooks from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forge {
    GitHub,
    GitLab,
    Gitea,
    Forgejo,
}

impl Forge {
    pub fn name(self) -> &'static str {
        match self {
            Forge::GitHub => "github",
            Forge::GitLab => "gitlab",
            Forge::Gitea => "gitea",
            Forge::Forgejo => "forgejo",
        }
    }

    /// The forge and the event named by its headers. Gitea and Forgejo also send GitHub's
    /// headers, so their own are looked at first.
    pub fn detect(headers: &Headers<'_>) -> Option<(Forge, String)> {
        [
            (Forge::GitLab, "x-gitlab-event"),
            (Forge::Forgejo, "x-forgejo-event"),
            (Forge::Gitea, "x-gitea-event"),
            (Forge::GitHub, "x-github-event"),
        ]
        .into_iter()
        .find_map(|(forge, header)| Some((forge, headers.get(header)?.to_string())))
    }

    /// The header that identifies this delivery, for logs.
    pub fn delivery<'a>(self, headers: &Headers<'a>) -> Option<&'a str> {
        match self {
            Forge::GitHub => headers.get("x-github-delivery"),
            Forge::GitLab => headers
                .get("idempotency-key")
                .or_else(|| headers.get("x-gitlab-event-uuid")),
            Forge::Gitea => headers.get("x-gitea-delivery"),
            Forge::Forgejo => headers
                .get("x-forgejo-delivery")
                .or_else(|| headers.get("x-gitea-delivery")),
        }
    }
}

/// Request headers by lowercase name.
pub struct Headers<'a>(pub &'a [(String, String)]);

impl<'a> Headers<'a> {
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.0
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("no webhook event header (X-GitHub-Event, X-Gitlab-Event, X-Gitea-Event or X-Forgejo-Event)")]
    UnknownSender,
    #[error("the {0} signature is missing")]
    MissingSignature(&'static str),
    #[error("the {0} signature does not match")]
    BadSignature(&'static str),
    #[error("the push payload is malformed: {0}")]
    Malformed(String),
}

/// Checks that `body` came from someone holding `secret`, the way `forge` proves it.
pub fn verify(
    forge: Forge,
    headers: &Headers<'_>,
    body: &[u8],
    secret: &str,
) -> Result<(), WebhookError> {
    match forge {
        Forge::GitLab => {
            let token = headers
                .get("x-gitlab-token")
                .filter(|t| !t.is_empty())
                .ok_or(WebhookError::MissingSignature("X-Gitlab-Token"))?;
            // Hashing both sides first makes the comparison independent of their lengths.
            let equal = Sha256::digest(token.as_bytes()).ct_eq(&Sha256::digest(secret.as_bytes()));
            if bool::from(equal) {
                Ok(())
            } else {
                Err(WebhookError::BadSignature("X-Gitlab-Token"))
            }
        }
        Forge::GitHub => {
            let header = "X-Hub-Signature-256";
            let value = headers
                .get(header)
                .filter(|v| !v.is_empty())
                .ok_or(WebhookError::MissingSignature(header))?;
            let hex = value
                .strip_prefix("sha256=")
                .ok_or(WebhookError::BadSignature(header))?;
            check_hmac(header, hex, body, secret)
        }
        Forge::Gitea | Forge::Forgejo => {
            let own = if forge == Forge::Forgejo {
                "X-Forgejo-Signature"
            } else {
                "X-Gitea-Signature"
            };
            let (header, hex) = [own, "X-Gitea-Signature"]
                .into_iter()
                .find_map(|h| Some((h, headers.get(h).filter(|v| !v.is_empty())?)))
                .ok_or(WebhookError::MissingSignature(own))?;
            check_hmac(header, hex, body, secret)
        }
    }
}

fn check_hmac(
    header: &'static str,
    hex: &str,
    body: &[u8],
    secret: &str,
) -> Result<(), WebhookError> {
    let expected = hex::decode(hex).map_err(|_| WebhookError::BadSignature(header))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| WebhookError::BadSignature(header))?;
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&expected)
        .map_err(|_| WebhookError::BadSignature(header))
}

/// What a verified delivery asks of Baton.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// GitHub's hello when a hook is created.
    Ping,
    Push(Push),
    /// A branch deletion Gitea/Forgejo report as a `delete` event, or any push whose new
    /// value is the zero id: nothing to build.
    Deleted {
        git_ref: String,
    },
    /// An event Baton does not act on.
    Ignored {
        event: String,
    },
}

/// A push, reduced to what triggers need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    pub forge: Forge,
    /// The full ref: `refs/heads/main` or `refs/tags/v1.4.0`.
    pub git_ref: String,
    /// The commit to build: the pushed head, or the commit an annotated tag points to.
    pub revision: String,
    /// The ref's value before the push; `None` when the push created the ref.
    pub before: Option<String>,
    /// The files the push changed, or `None` when the payload cannot say for sure (a
    /// truncated commit list, a force push, a new branch); file filters then pass.
    pub changed_files: Option<Vec<String>>,
    /// Who pushed.
    pub pusher: Option<String>,
    /// Every URL the payload gives for the repository, to find the source it feeds.
    pub repository_urls: Vec<String>,
}

impl Push {
    /// The branch name, for a branch push.
    pub fn branch(&self) -> Option<&str> {
        self.git_ref.strip_prefix("refs/heads/")
    }

    /// The tag name, for a tag push.
    pub fn tag(&self) -> Option<&str> {
        self.git_ref.strip_prefix("refs/tags/")
    }
}

/// Reads a verified delivery of `event` from `forge`.
pub fn parse(forge: Forge, event: &str, body: &[u8]) -> Result<Delivery, WebhookError> {
    let push_event = match forge {
        Forge::GitHub if event == "ping" => return Ok(Delivery::Ping),
        Forge::GitHub | Forge::Gitea | Forge::Forgejo => event == "push",
        Forge::GitLab => matches!(event, "Push Hook" | "Tag Push Hook"),
    };
    if matches!(forge, Forge::Gitea | Forge::Forgejo) && event == "delete" {
        let deleted: GiteaDelete = from_json(body)?;
        if deleted.ref_type.as_deref() == Some("branch") {
            return Ok(Delivery::Deleted {
                git_ref: format!("refs/heads/{}", deleted.git_ref.unwrap_or_default()),
            });
        }
    }
    if !push_event {
        return Ok(Delivery::Ignored {
            event: event.to_string(),
        });
    }
    let payload: Payload = from_json(body)?;
    payload.into_delivery(forge)
}

fn from_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, WebhookError> {
    serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))
}

/// GitHub's per-push commit cap; a list this long may have been cut.
const GITHUB_MAX_COMMITS: usize = 2048;

#[derive(Debug, Deserialize)]
struct GiteaDelete {
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    ref_type: Option<String>,
}

/// The union of the three forges' push payloads; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Payload {
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    before: Option<String>,
    after: Option<String>,
    deleted: Option<bool>,
    forced: Option<bool>,
    checkout_sha: Option<String>,
    head_commit: Option<CommitId>,
    commits: Option<Vec<Commit>>,
    total_commits_count: Option<u64>,
    total_commits: Option<u64>,
    repository: Option<Repository>,
    project: Option<Repository>,
    pusher: Option<Person>,
    sender: Option<Person>,
    user_username: Option<String>,
    user_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CommitId {
    id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Commit {
    added: Option<Vec<String>>,
    removed: Option<Vec<String>>,
    modified: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Repository {
    clone_url: Option<String>,
    ssh_url: Option<String>,
    html_url: Option<String>,
    git_http_url: Option<String>,
    git_ssh_url: Option<String>,
    web_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Person {
    login: Option<String>,
    username: Option<String>,
    name: Option<String>,
}

impl Person {
    fn handle(self) -> Option<String> {
        self.login.or(self.username).or(self.name)
    }
}

fn is_zero(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b == b'0')
}

impl Payload {
    fn into_delivery(self, forge: Forge) -> Result<Delivery, WebhookError> {
        let git_ref = self
            .git_ref
            .filter(|r| r.starts_with("refs/"))
            .ok_or_else(|| WebhookError::Malformed("`ref` is missing or not a full ref".into()))?;
        let after = self.after.unwrap_or_default();
        if self.deleted == Some(true) || is_zero(&after) {
            return Ok(Delivery::Deleted { git_ref });
        }
        let revision = self
            .head_commit
            .and_then(|c| c.id)
            .or(self.checkout_sha)
            .or(Some(after.clone()))
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| WebhookError::Malformed("no commit id for the pushed ref".into()))?;
        let before = self.before.filter(|b| !b.is_empty() && !is_zero(b));
        if before.as_deref() == Some(after.as_str()) {
            // Gitea's "Test Delivery" and some GitLab tests: the ref did not move.
            return Ok(Delivery::Ignored {
                event: "push that moved nothing".into(),
            });
        }
        let commits = self.commits.unwrap_or_default();
        let listed = commits.len() as u64;
        let truncated = match forge {
            Forge::GitLab => self.total_commits_count.is_some_and(|n| n > listed),
            Forge::Gitea | Forge::Forgejo => self.total_commits.is_some_and(|n| n > listed),
            Forge::GitHub => commits.len() >= GITHUB_MAX_COMMITS,
        };
        let complete = before.is_some()
            && !truncated
            && self.forced != Some(true)
            && !commits.is_empty()
            && git_ref.starts_with("refs/heads/");
        let changed_files = complete.then(|| {
            let mut files: Vec<String> = commits
                .into_iter()
                .flat_map(|c| {
                    [c.added, c.removed, c.modified]
                        .into_iter()
                        .flatten()
                        .flatten()
                })
                .collect();
            files.sort();
            files.dedup();
            files
        });
        let repository_urls = [self.repository, self.project]
            .into_iter()
            .flatten()
            .flat_map(|r| {
                [
                    r.clone_url,
                    r.ssh_url,
                    r.html_url,
                    r.git_http_url,
                    r.git_ssh_url,
                    r.web_url,
                ]
            })
            .flatten()
            .collect();
        let pusher = match forge {
            Forge::GitLab => self.user_username.or(self.user_name),
            _ => self
                .sender
                .and_then(Person::handle)
                .or_else(|| self.pusher.and_then(Person::handle)),
        };
        Ok(Delivery::Push(Push {
            forge,
            git_ref,
            revision,
            before,
            changed_files,
            pusher,
            repository_urls,
        }))
    }
}

#[cfg(test)]
mod tests;
