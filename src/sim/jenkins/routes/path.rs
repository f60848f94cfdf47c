//! Request paths as Stapler walks them: each segment percent-decoded once (the servlet
//! container's doing), `job/<name>` pairs down the item tree, then what is asked of
//! the item. Also which [`RouteKind`] a request counts as.

use axum::http::Method;

use super::super::names::percent_decode;
use super::super::stats::RouteKind;

/// What a request path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    /// `/` and `/api/…`.
    Root(Vec<String>),
    /// `/health`.
    Health,
    /// `/crumbIssuer/…`.
    Crumb(Vec<String>),
    /// `/me/…`.
    Me(Vec<String>),
    /// `/queue/…`.
    Queue(Vec<String>),
    /// `/computer/…`.
    Computer(Vec<String>),
    /// `/job/a/job/b/…`: the item names and what follows them.
    Job {
        names: Vec<String>,
        rest: Vec<String>,
    },
    Unknown,
}

/// The builds a path may name after the job: numbers and permalinks.
const PERMALINKS: [&str; 8] = [
    "firstBuild",
    "lastBuild",
    "lastCompletedBuild",
    "lastFailedBuild",
    "lastStableBuild",
    "lastSuccessfulBuild",
    "lastUnstableBuild",
    "lastUnsuccessfulBuild",
];

/// Whether a segment after a job names one of its builds.
pub(super) fn is_build_ref(segment: &str) -> bool {
    segment.parse::<u32>().is_ok() || PERMALINKS.contains(&segment)
}

pub(super) fn parse(path: &str) -> Target {
    let decoded: Option<Vec<String>> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let Some(segments) = decoded else {
        return Target::Unknown;
    };
    let Some((first, rest)) = segments.split_first() else {
        return Target::Root(Vec::new());
    };
    let rest = rest.to_vec();
    match first.as_str() {
        "api" => Target::Root(segments),
        "health" if rest.is_empty() => Target::Health,
        "crumbIssuer" => Target::Crumb(rest),
        "me" => Target::Me(rest),
        "queue" => Target::Queue(rest),
        "computer" => Target::Computer(rest),
        "job" => {
            let mut names = Vec::new();
            let mut i = 0;
            while segments.get(i).is_some_and(|s| s == "job") && i + 1 < segments.len() {
                names.push(segments[i + 1].clone());
                i += 2;
            }
            Target::Job {
                names,
                rest: segments[i..].to_vec(),
            }
        }
        _ => Target::Unknown,
    }
}

impl Target {
    /// The kind of route, for the request counters.
    pub(super) fn kind(&self, method: &Method) -> RouteKind {
        match self {
            Target::Crumb(_) => RouteKind::Crumb,
            Target::Queue(rest) => match strs(rest).as_slice() {
                ["cancelItem"] | ["item", _, "cancelQueue"] => RouteKind::Cancel,
                ["item", ..] => RouteKind::QueueItem,
                _ => RouteKind::Queue,
            },
            Target::Job { rest, .. } => match strs(rest).as_slice() {
                ["build" | "buildWithParameters"] => RouteKind::Trigger,
                [run, tail @ ..] if is_build_ref(run) => match tail {
                    ["logText", ..] => RouteKind::ProgressiveText,
                    ["consoleText"] => RouteKind::Console,
                    ["stop" | "term" | "kill"] if method == Method::POST => RouteKind::Stop,
                    ["submitDescription"] => RouteKind::Description,
                    ["testReport", ..] => RouteKind::TestReport,
                    ["artifact", ..] => RouteKind::Artifact,
                    _ => RouteKind::Build,
                },
                _ => RouteKind::Job,
            },
            _ => RouteKind::Other,
        }
    }
}

fn strs(segments: &[String]) -> Vec<&str> {
    segments.iter().map(String::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn walks_folders_branches_and_builds() {
        assert_eq!(
            parse("/job/org/job/repo/job/feature%252Ffoo/57/api/json"),
            Target::Job {
                names: strings(&["org", "repo", "feature%2Ffoo"]),
                rest: strings(&["57", "api", "json"]),
            }
        );
        assert_eq!(parse("/"), Target::Root(Vec::new()));
        assert_eq!(parse("/api/json"), Target::Root(strings(&["api", "json"])));
        assert_eq!(
            parse("/queue/item/5/api/json"),
            Target::Queue(strings(&["item", "5", "api", "json"]))
        );
        assert_eq!(parse("/job/%zz/"), Target::Unknown);
        assert_eq!(parse("/nope"), Target::Unknown);
        // A job literally named `job` still resolves as a name.
        assert_eq!(
            parse("/job/job/build"),
            Target::Job {
                names: strings(&["job"]),
                rest: strings(&["build"]),
            }
        );
    }

    #[test]
    fn counts_requests_by_kind() {
        let kind = |method: Method, path: &str| parse(path).kind(&method);
        assert_eq!(
            kind(Method::POST, "/job/a/buildWithParameters"),
            RouteKind::Trigger
        );
        assert_eq!(
            kind(Method::GET, "/job/a/lastBuild/api/json"),
            RouteKind::Build
        );
        assert_eq!(
            kind(Method::GET, "/job/a/3/logText/progressiveText"),
            RouteKind::ProgressiveText
        );
        assert_eq!(kind(Method::POST, "/job/a/3/stop"), RouteKind::Stop);
        assert_eq!(kind(Method::GET, "/job/a/api/json"), RouteKind::Job);
        assert_eq!(kind(Method::POST, "/queue/cancelItem"), RouteKind::Cancel);
        assert_eq!(
            kind(Method::GET, "/queue/item/3/api/json"),
            RouteKind::QueueItem
        );
        assert_eq!(kind(Method::GET, "/queue/api/json"), RouteKind::Queue);
        assert_eq!(kind(Method::GET, "/crumbIssuer/api/json"), RouteKind::Crumb);
        assert_eq!(kind(Method::GET, "/me/api/json"), RouteKind::Other);
    }
}
