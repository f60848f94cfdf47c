//! Source triggers: what starts an execution when a Git source changes. Pushes arrive as
//! webhooks (`webhook`: which forge, its signature, the push), polling notices new heads
//! with `git ls-remote` (`poller`), and both go through one decision (`decide`): which
//! source action the push feeds and whether its trigger filters (`filter`) let it start.
//! The service starts the execution, and the store makes sure each revision of a ref
//! starts at most one.
//!
//! Everything here but `poller` is pure. Imports `model` and, in `poller`, the service and
//! the Git adapter.

pub mod filter;
pub mod poller;
pub mod webhook;

use crate::engine::state::Trigger;
use crate::model::{Catalog, Category, Executor, Pipeline, PipelineTrigger};
use webhook::Push;

/// A Git source action of a pipeline, with what decides when it starts the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch<'a> {
    pub action: &'a str,
    pub repository_url: String,
    pub branch: String,
    /// `PollForSourceChanges: "true"`.
    pub poll: bool,
    pub trigger: Option<&'a PipelineTrigger>,
}

impl Watch<'_> {
    /// The ref polling follows.
    pub fn branch_ref(&self) -> String {
        format!("refs/heads/{}", self.branch)
    }
}

/// The Git source actions of `pipeline`.
pub fn watches<'a>(pipeline: &'a Pipeline, catalog: &Catalog) -> Vec<Watch<'a>> {
    let Some(first) = pipeline.stages.first() else {
        return Vec::new();
    };
    first
        .actions
        .iter()
        .filter(|a| a.action_type_id.category == Category::Source)
        .filter_map(|action| match catalog.executor(action) {
            Ok(Executor::Git {
                repository_url,
                branch,
            }) => Some(Watch {
                action: &action.name,
                repository_url,
                branch,
                poll: action
                    .config_text("PollForSourceChanges")
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
                trigger: pipeline.trigger_for(&action.name),
            }),
            _ => None,
        })
        .collect()
}

/// A push that starts an execution, through this source action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted<'a> {
    pub watch: Watch<'a>,
    pub trigger: Trigger,
}

/// Which source of `pipeline` `push` feeds and whether it starts an execution; the reason
/// when it does not.
pub fn decide<'a>(
    pipeline: &'a Pipeline,
    catalog: &Catalog,
    push: &Push,
) -> Result<Accepted<'a>, String> {
    let pushed: Vec<String> = push
        .repository_urls
        .iter()
        .map(|u| same_repository(u))
        .collect();
    let fed: Vec<Watch<'a>> = watches(pipeline, catalog)
        .into_iter()
        .filter(|w| pushed.contains(&same_repository(&w.repository_url)))
        .collect();
    if fed.is_empty() {
        return Err(format!(
            "the pushed repository ({}) is not a source of pipeline {}",
            push.repository_urls
                .first()
                .map_or("unnamed", String::as_str),
            pipeline.name
        ));
    }
    let mut refusals = Vec::new();
    for watch in fed {
        let filters = watch
            .trigger
            .map_or(&[][..], |t| &t.git_configuration.push[..]);
        match filter::check(filters, &watch.branch, push) {
            Ok(()) => {
                let trigger = webhook_trigger(&watch, push);
                return Ok(Accepted { watch, trigger });
            }
            Err(refusal) => refusals.push(format!("{}: {refusal}", watch.action)),
        }
    }
    Err(refusals.join("; "))
}

fn webhook_trigger(watch: &Watch<'_>, push: &Push) -> Trigger {
    let files = if push.changed_files.is_none() && push.branch().is_some() {
        " (the payload does not list every changed file; file path filters were not applied)"
    } else {
        ""
    };
    Trigger {
        kind: "Webhook".into(),
        detail: Some(format!(
            "{} push to {} at {} for source {}{files}",
            push.forge.name(),
            push.git_ref,
            push.revision,
            watch.action
        )),
        by: push.pusher.clone(),
    }
}

/// The trigger of an execution started because polling saw a new head.
pub fn poll_trigger(watch: &Watch<'_>, revision: &str) -> Trigger {
    Trigger {
        kind: "PollForSourceChanges".into(),
        detail: Some(format!(
            "{} of {} moved to {revision} for source {}",
            watch.branch_ref(),
            crate::adapters::git::redact_url(&watch.repository_url),
            watch.action
        )),
        by: None,
    }
}

/// A repository URL reduced so that the forms one repository goes by compare equal:
/// `https://host/org/repo.git`, `git@host:org/repo.git`, `ssh://git@host/org/repo` and
/// `https://user:token@host/org/repo/` all give `host/org/repo`; a local path or `file://`
/// URL gives the path without `.git`.
pub fn same_repository(url: &str) -> String {
    let url = url.trim();
    let rest = match url.split_once("://") {
        Some((_, rest)) => rest.to_string(),
        // scp-like `user@host:path`, but not a Windows-style or plain path.
        None => match url.split_once(':') {
            Some((host, path)) if !host.contains('/') && !host.is_empty() => {
                format!("{host}/{}", path.trim_start_matches('/'))
            }
            _ => url.to_string(),
        },
    };
    let rest = match rest.split_once('/') {
        Some((authority, path)) => {
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{}/{path}", host.to_ascii_lowercase())
        }
        None => rest,
    };
    rest.trim_end_matches('/')
        .trim_end_matches(".git")
        .trim_end_matches('/')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_of_one_repository_compare_equal() {
        let expected = "github.com/acme/payments-api";
        for url in [
            "https://github.com/acme/payments-api.git",
            "https://GitHub.com/acme/payments-api",
            "git@github.com:acme/payments-api.git",
            "ssh://git@github.com/acme/payments-api.git",
            "https://bot:t0ken@github.com/acme/payments-api/",
        ] {
            assert_eq!(same_repository(url), expected, "{url}");
        }
        assert_eq!(same_repository("file:///srv/git/app.git"), "/srv/git/app");
        assert_eq!(same_repository("/srv/git/app.git"), "/srv/git/app");
        assert_ne!(
            same_repository("https://github.com/acme/payments"),
            same_repository("https://github.com/acme/payments-api")
        );
    }

    fn pipeline(triggers: &str) -> Pipeline {
        let text = format!(
            "name: p
stages:
  - name: Source
    actions:
      - {{name: App, provider: Git, configuration: {{RepositoryUrl: 'https://github.com/acme/app.git', BranchName: main, PollForSourceChanges: 'true'}}}}
      - {{name: Infra, provider: Git, configuration: {{RepositoryUrl: 'git@github.com:acme/infra.git', BranchName: prod}}}}
  - name: Build
    actions: [{{name: B, provider: Jenkins}}]
{triggers}"
        );
        let catalog = Catalog {
            servers: vec![crate::model::ServerEntry {
                name: "j".into(),
                kind: crate::model::ServerKind::Jenkins,
            }],
            ..Catalog::default()
        };
        crate::model::load("p.yaml", &text, &catalog)
            .unwrap_or_else(|e| panic!("{e:?}"))
            .pipeline
    }

    fn push(repository: &str, git_ref: &str) -> Push {
        Push {
            forge: webhook::Forge::GitLab,
            git_ref: git_ref.into(),
            revision: "0123abcd".into(),
            before: Some("4567".into()),
            changed_files: None,
            pusher: Some("dana".into()),
            repository_urls: vec![repository.into()],
        }
    }

    #[test]
    fn a_push_starts_the_source_it_feeds() {
        let pipeline = pipeline("");
        let catalog = Catalog::default();
        let watches = watches(&pipeline, &catalog);
        assert_eq!(watches.len(), 2);
        assert!(watches[0].poll && !watches[1].poll);

        let accepted = decide(
            &pipeline,
            &catalog,
            &push("https://github.com/acme/infra", "refs/heads/prod"),
        )
        .unwrap();
        assert_eq!(accepted.watch.action, "Infra");
        assert_eq!(accepted.trigger.kind, "Webhook");
        assert_eq!(accepted.trigger.by.as_deref(), Some("dana"));
        let detail = accepted.trigger.detail.unwrap();
        assert!(
            detail.starts_with("gitlab push to refs/heads/prod at 0123abcd for source Infra"),
            "{detail}"
        );

        let wrong_branch = decide(
            &pipeline,
            &catalog,
            &push("https://github.com/acme/app.git", "refs/heads/dev"),
        );
        assert_eq!(
            wrong_branch.unwrap_err(),
            "App: branch dev is not the source's branch main"
        );
        let elsewhere = decide(
            &pipeline,
            &catalog,
            &push("https://github.com/acme/other", "refs/heads/main"),
        );
        assert!(elsewhere
            .unwrap_err()
            .contains("is not a source of pipeline p"));
    }

    #[test]
    fn trigger_filters_replace_the_branch_rule() {
        let pipeline = pipeline(
            "triggers:
  - providerType: CodeStarSourceConnection
    gitConfiguration:
      sourceActionName: App
      push: [{tags: {includes: ['v*']}}]
",
        );
        let catalog = Catalog::default();
        let app = "https://github.com/acme/app.git";
        assert!(decide(&pipeline, &catalog, &push(app, "refs/tags/v2.0.0")).is_ok());
        assert!(decide(&pipeline, &catalog, &push(app, "refs/heads/main")).is_err());
    }
}
