//! The CI servers the actions run on: their `servers:` entries, their action lines, the
//! callback routes, and the simulators that stand in for them.

use std::net::SocketAddr;
use std::time::Duration;

use baton::sim::jenkins::{JenkinsSim, JenkinsSimOptions, JobSpec, ParamSpec};
use baton::sim::teamcity::{BuildTypeSpec, TeamCitySim, TeamCitySimOptions};

pub const TOKEN: &str = "bench-teamcity-token-0123456789";
pub const SECRET: &str = "bench-callback-secret-0123456789";
/// A build property carrying the execution id, to pair each build with the next one.
pub const EXECUTION_PROPERTY: &str = "bench.execution";
/// The Jenkins user the daemon signs in as, and its API token (which spares POSTs the
/// crumb, as on a real Jenkins).
const JENKINS_USER: &str = "bench";
const JENKINS_TOKEN: &str = "11bench22token33for44jenkins55";
/// The Jenkins job parameter carrying the execution id.
const EXECUTION_PARAMETER: &str = "BENCH_EXECUTION";

/// The CI servers the actions run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ci {
    TeamCity,
    Jenkins,
}

impl Ci {
    pub fn label(self) -> &'static str {
        match self {
            Ci::TeamCity => "TeamCity",
            Ci::Jenkins => "Jenkins",
        }
    }

    /// The whole `servers:` section with this server alone.
    pub fn server(self, url: &str, poll: &str, max_poll: &str) -> String {
        servers(&[self.entry(url, poll, max_poll)])
    }

    /// This server's entry in `servers:`, for a simulator at `url`, polling at `poll` up
    /// to `max_poll`, taking callbacks with the shared secret and not rate limited.
    pub fn entry(self, url: &str, poll: &str, max_poll: &str) -> String {
        let common = format!(
            "    poll_interval: {poll}\n    max_poll_interval: {max_poll}\n    \
             rate_limit: {{per_second: 1000000, burst: 1000000}}\n    callback: {{secret: {SECRET}}}\n"
        );
        match self {
            Ci::TeamCity => format!(
                "  - name: tc\n    kind: teamcity\n    url: {url}\n    token: {TOKEN}\n{common}"
            ),
            Ci::Jenkins => format!(
                "  - name: jk\n    kind: jenkins\n    url: {url}\n    user: {JENKINS_USER}\n    \
                 token: {JENKINS_TOKEN}\n{common}"
            ),
        }
    }

    /// An action running `job`, tagged with its execution.
    pub fn action(self, name: &str, job: &str) -> String {
        let execution = "\"#{codepipeline.PipelineExecutionId}\"";
        match self {
            Ci::TeamCity => format!(
                "{{name: {name}, provider: TeamCity, configuration: {{Server: tc, BuildType: {job}, \
                 Properties: {{{EXECUTION_PROPERTY}: {execution}}}}}}}"
            ),
            Ci::Jenkins => format!(
                "{{name: {name}, provider: Jenkins, configuration: {{Server: jk, ProjectName: {job}, \
                 Parameters: {{{EXECUTION_PARAMETER}: {execution}}}}}}}"
            ),
        }
    }

    /// Where the simulator sends callbacks for the daemon at `addr`.
    pub fn hook(self, addr: SocketAddr) -> String {
        self.hook_at(&format!("http://{addr}"))
    }

    /// Where the simulator sends callbacks for the daemon at `url` (`http://host:port`).
    pub fn hook_at(self, url: &str) -> String {
        match self {
            Ci::TeamCity => format!("{url}/hooks/teamcity/tc?token={SECRET}"),
            Ci::Jenkins => format!("{url}/hooks/jenkins/jk?token={SECRET}"),
        }
    }
}

/// A `servers:` section of these entries.
pub fn servers(entries: &[String]) -> String {
    format!("servers:\n{}", entries.concat())
}

pub fn teamcity() -> TeamCitySim {
    TeamCitySim::start_with(TeamCitySimOptions {
        token: Some(TOKEN.into()),
        ..TeamCitySimOptions::default()
    })
    .expect("the TeamCity simulator starts")
}

/// A build type for each action's job on TeamCity, whose builds run until finished.
pub fn add_held(tc: &TeamCitySim, actions: &[Action]) {
    for (_, _, job) in actions {
        let held = BuildTypeSpec {
            hold: true,
            ..BuildTypeSpec::default()
        };
        tc.add_build_type(job, held);
    }
}

/// A Jenkins simulator with security on (one user with an API token) and crumbs on, as
/// any Jenkins since 2.222.
pub fn jenkins() -> JenkinsSim {
    JenkinsSim::start_with(JenkinsSimOptions {
        users: vec![(JENKINS_USER.into(), JENKINS_TOKEN.into())],
        ..JenkinsSimOptions::default()
    })
    .expect("the Jenkins simulator starts")
}

/// How the builds of one job (build type) behave.
#[derive(Debug, Clone, Default)]
pub struct Job {
    pub duration: Duration,
    /// Where to send callbacks (webhooks, notifications) about its builds.
    pub hook: Option<String>,
}

/// A simulator of either kind, for what the groups count on both alike.
pub enum Sim {
    TeamCity(TeamCitySim),
    Jenkins(JenkinsSim),
}

impl Sim {
    pub fn start(ci: Ci) -> Sim {
        match ci {
            Ci::TeamCity => Sim::TeamCity(teamcity()),
            Ci::Jenkins => Sim::Jenkins(jenkins()),
        }
    }

    pub fn url(&self) -> String {
        match self {
            Sim::TeamCity(tc) => tc.url(),
            Sim::Jenkins(jk) => jk.url(),
        }
    }

    /// Adds a job (a build type on TeamCity) whose builds succeed after `job.duration`.
    /// A Jenkins job defines the execution parameter and Baton's marker parameter, as
    /// the jobs Baton triggers should (the marker finds a build again after a crash).
    pub fn add_job(&self, name: &str, job: Job) {
        match self {
            Sim::TeamCity(tc) => tc.add_build_type(
                name,
                BuildTypeSpec {
                    duration: job.duration,
                    webhook_url: job.hook,
                    ..BuildTypeSpec::default()
                },
            ),
            Sim::Jenkins(jk) => jk.add_job(
                name,
                JobSpec {
                    parameters: vec![
                        ParamSpec::new(EXECUTION_PARAMETER, None),
                        ParamSpec::new(baton::adapters::jenkins::MARKER, None),
                    ],
                    duration: job.duration,
                    notify_url: job.hook,
                    ..JobSpec::default()
                },
            ),
        }
    }

    /// Every request the simulator received.
    pub fn requests(&self) -> usize {
        match self {
            Sim::TeamCity(tc) => tc.stats().total_requests,
            Sim::Jenkins(jk) => jk.stats().requests_total as usize,
        }
    }

    /// The requests by kind of route, as `kind n, …`.
    pub fn requests_by_kind(&self) -> String {
        let kinds: Vec<(String, u64)> = match self {
            Sim::TeamCity(tc) => {
                let counts = serde_json::to_value(tc.stats().by_kind).unwrap_or_default();
                let counts = counts.as_object().cloned().unwrap_or_default();
                counts
                    .into_iter()
                    .map(|(kind, n)| (kind, n.as_u64().unwrap_or(0)))
                    .collect()
            }
            Sim::Jenkins(jk) => jk.stats().requests_by_kind.into_iter().collect(),
        };
        let kinds: Vec<String> = kinds
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect();
        kinds.join(", ")
    }

    /// Builds that started.
    pub fn builds(&self) -> usize {
        match self {
            Sim::TeamCity(tc) => tc.builds().len(),
            Sim::Jenkins(jk) => jk.stats().builds_started.values().sum::<u64>() as usize,
        }
    }
}

/// One action of a pipeline: where it runs, its name, and its job (build type).
pub type Action = (Ci, String, String);

/// A pipeline: the Git source, then `stages`, each a list of actions side by side.
pub fn pipeline(name: &str, stages: &[Vec<Action>]) -> String {
    let mut text = format!(
        "name: {name}\nexecutionMode: PARALLEL\nstages:\n  - name: Source\n    actions:\n      \
         - {{name: Checkout, provider: Git, configuration: {{RepositoryUrl: \"file:///bench.git\", BranchName: main}}}}\n"
    );
    for (n, actions) in stages.iter().enumerate() {
        text.push_str(&format!("  - name: Stage{n}\n    actions:\n"));
        for (ci, action, job) in actions {
            text.push_str(&format!("      - {}\n", ci.action(action, job)));
        }
    }
    text
}

/// `count` stages of one action each, all running `job` on `ci`.
pub fn chain(ci: Ci, count: usize, job: &str) -> Vec<Vec<Action>> {
    (0..count)
        .map(|n| vec![(ci, format!("Step{n}"), job.to_string())])
        .collect()
}

/// One stage of `count` actions side by side on `ci`, running `{prefix}0`, `{prefix}1`, …
pub fn side_by_side(ci: Ci, count: usize, prefix: &str) -> Vec<Action> {
    (0..count)
        .map(|n| (ci, format!("Build{n}"), format!("{prefix}{n}")))
        .collect()
}
