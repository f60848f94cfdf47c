//! Whether a push passes a source's trigger: CodePipeline V2's push filters when the
//! pipeline declares them, otherwise "a push to the source's BranchName".
//!
//! Filters are ORed; inside a filter every criteria given must match; a criteria matches a
//! name that matches one of its includes (or it has none) and none of its excludes, so
//! excludes win. A branch filter never matches a tag push, nor a tag filter a branch push.
//! File paths match when at least one changed file passes; when the push cannot say which
//! files changed (`Push::changed_files` is `None`), file criteria pass rather than
//! silently skip a release.

use globset::GlobMatcher;

use super::webhook::Push;
use crate::model::{glob, FilterCriteria, GitPushFilter};

/// A criteria with its patterns compiled.
struct Criteria {
    includes: Vec<GlobMatcher>,
    excludes: Vec<GlobMatcher>,
}

impl Criteria {
    fn new(criteria: &FilterCriteria) -> Criteria {
        // Stored definitions were validated, so every pattern compiles.
        let compile = |patterns: &[String]| {
            patterns
                .iter()
                .filter_map(|p| glob::compile(p).ok())
                .collect()
        };
        Criteria {
            includes: compile(&criteria.includes),
            excludes: compile(&criteria.excludes),
        }
    }

    fn matches(&self, name: &str) -> bool {
        (self.includes.is_empty() || self.includes.iter().any(|g| g.is_match(name)))
            && !self.excludes.iter().any(|g| g.is_match(name))
    }
}

/// Why a push does not start an execution, in words for logs and answers.
pub type Refusal = String;

/// Checks `push` against the source's `filters`, or against its `branch` when there are
/// none.
pub fn check(filters: &[GitPushFilter], branch: &str, push: &Push) -> Result<(), Refusal> {
    check_ref(
        filters,
        branch,
        &push.git_ref,
        push.changed_files.as_deref(),
    )
}

/// [`check`] for a change of `git_ref` that touched `files` (`None`: unknown), as polling
/// sees it.
pub fn check_ref(
    filters: &[GitPushFilter],
    branch: &str,
    git_ref: &str,
    files: Option<&[String]>,
) -> Result<(), Refusal> {
    let change = Change { git_ref, files };
    if filters.is_empty() {
        return match change.branch() {
            Some(pushed) if pushed == branch => Ok(()),
            Some(pushed) => Err(format!(
                "branch {pushed} is not the source's branch {branch}"
            )),
            None => Err(format!(
                "{git_ref} is not a branch; without trigger filters only pushes to {branch} start"
            )),
        };
    }
    if filters.iter().any(|filter| matches(filter, &change)) {
        Ok(())
    } else {
        Err(format!(
            "{git_ref} matches none of the trigger's push filters"
        ))
    }
}

/// What a filter looks at.
struct Change<'a> {
    git_ref: &'a str,
    files: Option<&'a [String]>,
}

impl Change<'_> {
    fn branch(&self) -> Option<&str> {
        self.git_ref.strip_prefix("refs/heads/")
    }

    fn tag(&self) -> Option<&str> {
        self.git_ref.strip_prefix("refs/tags/")
    }
}

fn matches(filter: &GitPushFilter, push: &Change<'_>) -> bool {
    let passes = |criteria: &Option<FilterCriteria>, name: &str| {
        criteria
            .as_ref()
            .is_some_and(|c| Criteria::new(c).matches(name))
    };
    if let Some(tag) = push.tag() {
        return passes(&filter.tags, tag);
    }
    let Some(branch) = push.branch() else {
        return false;
    };
    if !passes(&filter.branches, branch) {
        return false;
    }
    match (&filter.file_paths, push.files) {
        (None, _) | (Some(_), None) => true,
        (Some(criteria), Some(files)) => {
            let criteria = Criteria::new(criteria);
            files.iter().any(|file| criteria.matches(file))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triggers::webhook::Forge;

    fn push(git_ref: &str, files: Option<&[&str]>) -> Push {
        Push {
            forge: Forge::GitHub,
            git_ref: git_ref.into(),
            revision: "ab12".into(),
            before: Some("cd34".into()),
            changed_files: files.map(|f| f.iter().map(|s| s.to_string()).collect()),
            pusher: None,
            repository_urls: vec![],
        }
    }

    fn criteria(includes: &[&str], excludes: &[&str]) -> Option<FilterCriteria> {
        let own = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
        Some(FilterCriteria {
            includes: own(includes),
            excludes: own(excludes),
        })
    }

    #[test]
    fn without_filters_only_the_source_branch_starts() {
        assert!(check(&[], "main", &push("refs/heads/main", None)).is_ok());
        assert!(check(&[], "main", &push("refs/heads/dev", None)).is_err());
        assert!(check(&[], "main", &push("refs/tags/main", None)).is_err());
    }

    #[test]
    fn branch_globs_with_excludes_winning() {
        let filters = [GitPushFilter {
            branches: criteria(&["main", "release/*"], &["release/old"]),
            ..GitPushFilter::default()
        }];
        let check = |r: &str| check(&filters, "main", &push(r, None)).is_ok();
        assert!(check("refs/heads/main"));
        assert!(check("refs/heads/release/2.0"));
        assert!(!check("refs/heads/release/old"));
        assert!(!check("refs/heads/release/2.0/hotfix"));
        assert!(!check("refs/heads/dev"));
        assert!(!check("refs/tags/release/2.0"));
    }

    #[test]
    fn excludes_alone_include_everything_else() {
        let filters = [GitPushFilter {
            branches: criteria(&[], &["wip/**"]),
            ..GitPushFilter::default()
        }];
        assert!(check(&filters, "main", &push("refs/heads/anything", None)).is_ok());
        assert!(check(&filters, "main", &push("refs/heads/wip/a/b", None)).is_err());
    }

    #[test]
    fn tag_filters_match_tags_only_and_filters_are_ored() {
        let filters = [
            GitPushFilter {
                tags: criteria(&["v*"], &["v*-rc*"]),
                ..GitPushFilter::default()
            },
            GitPushFilter {
                branches: criteria(&["main"], &[]),
                ..GitPushFilter::default()
            },
        ];
        let check = |r: &str| check(&filters, "main", &push(r, None)).is_ok();
        assert!(check("refs/tags/v1.4.0"));
        assert!(!check("refs/tags/v1.5.0-rc1"));
        assert!(!check("refs/heads/v1.4.0"));
        assert!(check("refs/heads/main"));
    }

    #[test]
    fn file_paths_need_one_matching_file_and_pass_when_unknown() {
        let filters = [GitPushFilter {
            branches: criteria(&["main"], &[]),
            file_paths: criteria(&["services/**"], &["**/*.md"]),
            ..GitPushFilter::default()
        }];
        let check = |files: Option<&[&str]>| {
            check(&filters, "main", &push("refs/heads/main", files)).is_ok()
        };
        assert!(check(Some(&["README.md", "services/api/src/lib.rs"])));
        assert!(!check(Some(&["services/api/README.md", "docs/a.rs"])));
        assert!(!check(Some(&[])));
        assert!(
            check(None),
            "an unknown file list must not filter a push out"
        );
    }
}
