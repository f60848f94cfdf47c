//! What a test declares about a simulated job: its parameters, how its builds behave
//! (duration, result, log, tests, artifacts, holding until released) and how its queue
//! items behave (quiet period, blocking). Builds may script themselves further through
//! the `SIM_RESULT` and `SIM_DURATION_MS` parameters when the job defines them.

use std::time::Duration;

/// The kind of job, which decides the `_class` names and a few fields and endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JobKind {
    /// `org.jenkinsci.plugins.workflow.job.WorkflowJob` with `WorkflowRun` builds
    /// (`changeSets`, `nextBuild`/`previousBuild`, `term` and `kill` endpoints).
    #[default]
    Pipeline,
    /// `hudson.model.FreeStyleProject` with `FreeStyleBuild` builds (`builtOn`,
    /// `changeSet`; no `term`/`kill`).
    FreeStyle,
}

/// The type of a parameter definition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ParamKind {
    /// `StringParameterDefinition`; the default value defaults to `""`.
    #[default]
    String,
    /// `TextParameterDefinition`.
    Text,
    /// `BooleanParameterDefinition`; values are `true`/`false`, written as JSON booleans.
    Boolean,
    /// `ChoiceParameterDefinition`; the default is the first choice, and a value outside
    /// the list is refused ("Illegal choice for parameter …").
    Choice(Vec<String>),
    /// `PasswordParameterDefinition`: sensitive, so its value is never exported and the
    /// notification plugin leaves it out.
    Password,
}

/// One parameter definition of a job.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParamSpec {
    pub name: String,
    /// The default value; `None` means the type's own default (`""`, `false`, the first
    /// choice).
    pub default: Option<String>,
    pub kind: ParamKind,
    pub description: String,
}

impl ParamSpec {
    /// A string parameter.
    pub fn new(name: impl Into<String>, default: Option<&str>) -> ParamSpec {
        ParamSpec {
            name: name.into(),
            default: default.map(str::to_string),
            ..ParamSpec::default()
        }
    }

    /// A boolean parameter.
    pub fn boolean(name: impl Into<String>, default: bool) -> ParamSpec {
        ParamSpec {
            name: name.into(),
            default: Some(default.to_string()),
            kind: ParamKind::Boolean,
            ..ParamSpec::default()
        }
    }

    /// A choice parameter; the first choice is the default.
    pub fn choice(name: impl Into<String>, choices: &[&str]) -> ParamSpec {
        ParamSpec {
            name: name.into(),
            default: None,
            kind: ParamKind::Choice(choices.iter().map(|c| c.to_string()).collect()),
            ..ParamSpec::default()
        }
    }

    /// A password parameter.
    pub fn password(name: impl Into<String>, default: Option<&str>) -> ParamSpec {
        ParamSpec {
            name: name.into(),
            default: default.map(str::to_string),
            kind: ParamKind::Password,
            ..ParamSpec::default()
        }
    }

    /// The default value as Jenkins fills it in when the parameter is not given.
    pub(super) fn default_value(&self) -> String {
        match (&self.default, &self.kind) {
            (Some(value), _) => value.clone(),
            (None, ParamKind::Boolean) => "false".to_string(),
            (None, ParamKind::Choice(choices)) => choices.first().cloned().unwrap_or_default(),
            (None, _) => String::new(),
        }
    }
}

/// A JUnit result summary; the simulator generates a report with this many cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TestCounts {
    pub passed: u32,
    pub failed: u32,
    pub skipped: u32,
}

/// How a simulated job and its builds behave.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    pub kind: JobKind,
    /// Parameter definitions; a job with any is "parameterized": it is triggered through
    /// `buildWithParameters` (or `build` with a `json` form field), and `build` without
    /// that field answers 400 as Jenkins does.
    pub parameters: Vec<ParamSpec>,
    /// How long a build runs. The parameter `SIM_DURATION_MS`, when the job defines it,
    /// overrides this per build.
    pub duration: Duration,
    /// The result a build ends with: SUCCESS, UNSTABLE, FAILURE, NOT_BUILT or ABORTED.
    /// The parameter `SIM_RESULT`, when the job defines it, overrides this per build.
    pub result: String,
    /// Builds run until `JenkinsSim::finish` (or a stop) ends them.
    pub hold: bool,
    /// Queue items stay `BlockedItem`s until `JenkinsSim::release_queue`.
    pub blocked: bool,
    /// The job's quiet period (Jenkins' global default is 5 s; here it is 0). A trigger's
    /// `delay=` overrides it.
    pub quiet_period: Duration,
    /// Console text, one line after another, written progressively over the duration;
    /// "Finished: RESULT" follows when the build ends.
    pub log: String,
    /// A JUnit report attached when the build completes (`testReport`, the
    /// `TestResultAction` in the build's actions, `test_summary` in notifications).
    pub test_report: Option<TestCounts>,
    /// Archived artifacts `(relativePath, content)`, published when the build completes.
    pub artifacts: Vec<(String, String)>,
    /// A notification-plugin endpoint: QUEUED and STARTED are POSTed when a build starts,
    /// COMPLETED and FINALIZED when it ends (reference §13.1).
    pub notify_url: Option<String>,
    /// The job's `estimatedDuration`; by default the average of the last successful
    /// builds, or -1 before there is one, as Jenkins computes it.
    pub estimated_duration: Option<Duration>,
    /// `submitDescription` is permitted (`Run.Update`); when false it answers 403.
    pub description_allowed: bool,
    /// Builds may run at the same time (Pipeline's default); when false, a queued item
    /// waits as a `BlockedItem` ("Build #N is already in progress") while one runs.
    pub concurrent_build: bool,
    /// A disabled job is not buildable: triggers answer 409.
    pub disabled: bool,
    /// The "Trigger builds remotely" token: `?token=` with this value also allows GET
    /// triggers and records a `RemoteCause`; a wrong token answers 403.
    pub remote_token: Option<String>,
    /// Like a Pipeline that sets `currentBuild.result` early: `result` is already non-null
    /// during the second half of the build while `building` is still true.
    pub result_while_building: bool,
    /// FreeStyle only: how long publishers run after the result is set (Jenkins'
    /// POST_PRODUCTION). Meanwhile `building` is false but `inProgress` true, the log
    /// is not complete and the artifacts are not archived yet.
    pub post_production: Duration,
}

impl Default for JobSpec {
    fn default() -> Self {
        JobSpec {
            kind: JobKind::Pipeline,
            parameters: Vec::new(),
            duration: Duration::ZERO,
            result: "SUCCESS".to_string(),
            hold: false,
            blocked: false,
            quiet_period: Duration::ZERO,
            log: String::new(),
            test_report: None,
            artifacts: Vec::new(),
            notify_url: None,
            estimated_duration: None,
            description_allowed: true,
            concurrent_build: true,
            disabled: false,
            remote_token: None,
            result_while_building: false,
            post_production: Duration::ZERO,
        }
    }
}

impl JobSpec {
    pub(super) fn parameterized(&self) -> bool {
        !self.parameters.is_empty()
    }

    pub(super) fn parameter(&self, name: &str) -> Option<&ParamSpec> {
        self.parameters.iter().find(|p| p.name == name)
    }
}
