//! Git source: resolves the head commit of a branch with `git ls-remote` and finishes at
//! once, publishing `CommitId`, `BranchName` and `RepositoryUrl` as output variables.
//!
//! Reading a head is idempotent, so `find` never reports earlier work and re-running a
//! trigger after a crash is safe. `git` runs with `GIT_TERMINAL_PROMPT=0` (never waits for
//! a password) and `GIT_ALLOW_PROTOCOL` limited to plain transports, so a repository URL
//! cannot run commands through `ext::` or another remote helper; a URL that could be read
//! as an option is refused before `git` sees it. Credentials written into a URL
//! (`https://user:token@host/…`) are redacted from every message and output.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use super::{ActionContext, Adapter, AdapterError, LogChunk, Outcome, Progress, Result, Started};
use crate::config::GitSettings;

/// Transports `git` may use; everything else (`ext::`, `fd::`, other remote helpers) is refused.
const ALLOWED_PROTOCOLS: &str = "file:git:http:https:ssh";

/// How many lines of git's stderr an error message keeps.
const STDERR_LINES: usize = 3;

/// The Git source adapter. Holds no connection state: every call runs `git` afresh.
#[derive(Debug, Clone)]
pub struct GitSource {
    ls_remote_timeout: Duration,
}

impl GitSource {
    /// A source whose `git ls-remote` calls are stopped after `ls_remote_timeout`.
    pub fn new(ls_remote_timeout: Duration) -> GitSource {
        GitSource { ls_remote_timeout }
    }

    pub fn from_settings(settings: &GitSettings) -> GitSource {
        GitSource::new(settings.ls_remote_timeout)
    }

    /// The commit `refs/heads/{branch}` of the repository at `url` points to, for
    /// polling. The URL and branch pass the same checks as a source action's.
    pub async fn head(&self, url: &str, branch: &str) -> Result<String> {
        self.resolve_head(&SourceConfig::new(url.trim(), branch.trim())?)
            .await
    }

    /// Asks the remote for `refs/heads/{branch}` and returns its commit.
    async fn resolve_head(&self, source: &SourceConfig<'_>) -> Result<String> {
        let mut command = Command::new("git");
        command
            .args(["ls-remote", "--heads", "--", source.url])
            .arg(format!("refs/heads/{}", source.branch))
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ALLOW_PROTOCOL", ALLOWED_PROTOCOLS)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| AdapterError::Fatal(format!("cannot run git: {e}")))?;
        let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take())
        else {
            return Err(AdapterError::Fatal("cannot read git's output".into()));
        };

        let mut out = Vec::new();
        let mut err = Vec::new();
        let finished = tokio::time::timeout(self.ls_remote_timeout, async {
            let (read_out, read_err, status) = tokio::join!(
                stdout.read_to_end(&mut out),
                stderr.read_to_end(&mut err),
                child.wait()
            );
            read_out.and(read_err).and(status)
        })
        .await;
        let status = match finished {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => {
                return Err(AdapterError::retryable(format!(
                    "git ls-remote {}: {e}",
                    source.display_url
                )))
            }
            Err(_elapsed) => {
                // The child may be blocked on the network; it must not outlive the call.
                let _ = child.kill().await;
                return Err(AdapterError::retryable(format!(
                    "git ls-remote {} timed out after {}",
                    source.display_url,
                    humantime::format_duration(self.ls_remote_timeout)
                )));
            }
        };

        if !status.success() {
            let stderr = String::from_utf8_lossy(&err);
            let detail = first_lines(&redact(&stderr, source.url), STDERR_LINES);
            let detail = if detail.is_empty() {
                format!("git exited with {status}")
            } else {
                detail
            };
            return Err(AdapterError::Fatal(format!(
                "cannot read {}: {detail}",
                source.display_url
            )));
        }
        let listing = String::from_utf8_lossy(&out);
        find_head(&listing, source.branch).ok_or_else(|| {
            AdapterError::Fatal(format!(
                "branch `{}` not found in {}",
                source.branch, source.display_url
            ))
        })
    }
}

#[async_trait]
impl Adapter for GitSource {
    async fn trigger(&self, ctx: &ActionContext) -> Result<Started> {
        let source = SourceConfig::read(ctx)?;
        let commit = match ctx.revision.as_deref().map(str::trim) {
            Some(revision) if !revision.is_empty() => revision.to_string(),
            _ => self.resolve_head(&source).await?,
        };
        Ok(Started {
            finished: Some(source.outcome(&commit)),
            external_id: commit,
            external_url: None,
        })
    }

    async fn find(&self, _ctx: &ActionContext) -> Result<Option<Started>> {
        // Nothing to find: resolving a head again is harmless.
        Ok(None)
    }

    async fn status(&self, ctx: &ActionContext, external_id: &str) -> Result<Progress> {
        let source = SourceConfig::read(ctx)?;
        Ok(Progress::Finished(source.outcome(external_id)))
    }

    async fn cancel(&self, _ctx: &ActionContext, _external_id: Option<&str>) -> Result<()> {
        Ok(())
    }

    async fn log(
        &self,
        _ctx: &ActionContext,
        _external_id: &str,
        _offset: u64,
    ) -> Result<LogChunk> {
        Err(AdapterError::Unsupported(
            "a Git source has no log".to_string(),
        ))
    }

    fn poll_interval(&self, _followed_for: Duration) -> Duration {
        Duration::from_secs(1)
    }
}

/// The source's configuration, checked.
struct SourceConfig<'a> {
    url: &'a str,
    /// The URL with any credentials replaced, for messages and outputs.
    display_url: String,
    branch: &'a str,
}

impl<'a> SourceConfig<'a> {
    fn read(ctx: &'a ActionContext) -> Result<SourceConfig<'a>> {
        let required = |key: &str| {
            ctx.config_text(key)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| AdapterError::Fatal(format!("Git source needs configuration.{key}")))
        };
        SourceConfig::new(required("RepositoryUrl")?, required("BranchName")?)
    }

    fn new(url: &'a str, branch: &'a str) -> Result<SourceConfig<'a>> {
        let display_url = redact_url(url);
        if url.starts_with('-') {
            return Err(AdapterError::Fatal(format!(
                "repository URL `{display_url}` starts with `-`"
            )));
        }
        if let Some(helper) = remote_helper(url) {
            return Err(AdapterError::Fatal(format!(
                "repository URL `{display_url}` uses the `{helper}::` remote helper; only \
                 file, git, http, https and ssh URLs are allowed"
            )));
        }
        if branch.starts_with('-') || branch.chars().any(|c| c.is_control() || c == ' ') {
            return Err(AdapterError::Fatal(format!(
                "`{branch}` is not a valid branch name"
            )));
        }
        Ok(SourceConfig {
            url,
            display_url,
            branch,
        })
    }

    fn outcome(&self, commit: &str) -> Outcome {
        let outputs = BTreeMap::from([
            ("CommitId".to_string(), commit.to_string()),
            ("BranchName".to_string(), self.branch.to_string()),
            ("RepositoryUrl".to_string(), self.display_url.clone()),
        ]);
        let short: String = commit.chars().take(7).collect();
        Outcome::Succeeded {
            outputs,
            summary: Some(format!("{} at {short}", self.branch)),
        }
    }
}

/// The commit of `refs/heads/{branch}` in `git ls-remote` output (`<sha>\t<ref>` lines).
/// Only an exact ref matches: git's pattern also matches `refs/heads/x/refs/heads/{branch}`.
fn find_head(listing: &str, branch: &str) -> Option<String> {
    let wanted = format!("refs/heads/{branch}");
    listing.lines().find_map(|line| {
        let (sha, name) = line.split_once('\t')?;
        (name.trim_end() == wanted && !sha.is_empty()).then(|| sha.trim().to_string())
    })
}

/// The helper named by git's `<transport>::<address>` syntax, if the URL uses it.
fn remote_helper(url: &str) -> Option<&str> {
    let (helper, _) = url.split_once("::")?;
    let is_name = !helper.is_empty()
        && helper
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.' | '_'));
    is_name.then_some(helper)
}

/// The URL with its userinfo (`user:token@`) replaced by `***@`.
pub(crate) fn redact_url(url: &str) -> String {
    redact(url, url)
}

/// Replaces the userinfo of every `scheme://userinfo@host` in `text`, and any literal
/// occurrence of the userinfo of `url` (git sometimes prints it percent-decoded or alone).
fn redact(text: &str, url: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || matches!(c, '\'' | '"' | '`'))
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(user_end) => {
                out.push_str("***");
                out.push_str(&authority[user_end..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    if let Some(userinfo) = userinfo(url) {
        for secret in [
            Some(userinfo),
            userinfo.split_once(':').map(|(_, password)| password),
        ]
        .into_iter()
        .flatten()
        .filter(|s| s.len() >= 4)
        {
            out = out.replace(secret, "***");
        }
    }
    out
}

fn userinfo(url: &str) -> Option<&str> {
    let (_, tail) = url.split_once("://")?;
    let authority = tail.split('/').next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    Some(userinfo).filter(|u| !u.is_empty())
}

/// Up to `n` non-empty lines of `text`, trimmed, without git's `fatal: ` and `error: `
/// prefixes, joined with `; `.
fn first_lines(text: &str, n: usize) -> String {
    text.lines()
        .map(|line| {
            let line = line.trim();
            ["fatal: ", "error: "]
                .iter()
                .find_map(|prefix| line.strip_prefix(prefix))
                .unwrap_or(line)
        })
        .filter(|l| !l.is_empty())
        .take(n)
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_redact(input: &str, expected: &str) {
        assert_eq!(redact_url(input), expected);
    }

    #[test]
    fn redacts_userinfo() {
        check_redact(
            "https://bob:s3cret@example.com/org/repo.git",
            "https://***@example.com/org/repo.git",
        );
        check_redact("https://tok@example.com/r", "https://***@example.com/r");
        check_redact(
            "https://example.com/org/repo.git",
            "https://example.com/org/repo.git",
        );
        check_redact("git@github.com:org/repo.git", "git@github.com:org/repo.git");
        check_redact("/srv/git/repo.git", "/srv/git/repo.git");
    }

    #[test]
    fn redacts_credentials_in_git_messages() {
        let url = "https://bob:s3cret@example.com/r.git";
        let stderr = "fatal: unable to access 'https://bob:s3cret@example.com/r.git/': \
                      Could not resolve host\npassword s3cret rejected";
        let redacted = redact(stderr, url);
        assert!(!redacted.contains("s3cret"), "{redacted}");
        assert!(redacted.contains("https://***@example.com/r.git/"));
    }

    #[test]
    fn finds_the_exact_head() {
        let listing = "1111111111111111111111111111111111111111\trefs/heads/x/refs/heads/main\n\
                       2222222222222222222222222222222222222222\trefs/heads/main\n";
        assert_eq!(
            find_head(listing, "main").as_deref(),
            Some("2222222222222222222222222222222222222222")
        );
        assert_eq!(find_head(listing, "mai"), None);
        assert_eq!(find_head("", "main"), None);
    }

    #[test]
    fn recognises_remote_helpers() {
        assert_eq!(remote_helper("ext::sh -c touch% /tmp/x"), Some("ext"));
        assert_eq!(remote_helper("fd::3"), Some("fd"));
        assert_eq!(remote_helper("https://example.com/a::b"), None);
        assert_eq!(remote_helper("/srv/git/repo.git"), None);
    }

    #[test]
    fn keeps_the_first_lines() {
        assert_eq!(first_lines("\n a \n\nb\nc\nd\n", 3), "a; b; c");
        assert_eq!(
            first_lines("fatal: 'x' does not appear to be a git repository\n", 3),
            "'x' does not appear to be a git repository"
        );
    }
}
