//! What Jenkins sends, as serde types: queue items, builds, job parameter definitions,
//! crumbs, test reports and the two callback payloads. Only the fields Baton reads are
//! declared; `_class` and everything else is ignored. Nullable fields are `Option`s and
//! lists default to empty, because `tree=` leaves out whatever it was not asked for and
//! Jenkins writes non-exported actions as `{}` (reference §1).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// `/queue/item/N/api/json` and the entries of `/queue/api/json`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueueItem {
    pub id: u64,
    pub why: Option<String>,
    pub blocked: bool,
    pub buildable: bool,
    pub stuck: bool,
    /// Only on a `LeftItem`: true when it was cancelled and no build will ever exist.
    pub cancelled: Option<bool>,
    /// Only on a `LeftItem` that became a build.
    pub executable: Option<Executable>,
    pub in_queue_since: Option<i64>,
    pub task: Option<Task>,
    pub actions: Vec<Option<Action>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Executable {
    pub number: u64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Task {
    pub name: Option<String>,
    pub url: Option<String>,
}

/// One entry of `actions`; only a `ParametersAction` has `parameters`, only a test
/// result action (`hudson.tasks.junit.TestResultAction`, or an aggregated one) has the
/// counts.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Action {
    pub parameters: Vec<Option<ParameterValue>>,
    pub fail_count: Option<u64>,
    pub skip_count: Option<u64>,
    pub total_count: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ParameterValue {
    pub name: String,
    #[serde(default)]
    pub value: Value,
}

/// `/queue/api/json`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Queue {
    pub items: Vec<QueueItem>,
}

/// The value of parameter `name` among `actions`.
pub fn parameter<'a>(actions: &'a [Option<Action>], name: &str) -> Option<&'a Value> {
    actions
        .iter()
        .flatten()
        .flat_map(|action| action.parameters.iter().flatten())
        .find(|p| p.name == name)
        .map(|p| &p.value)
}

/// A JSON scalar as the text Jenkins would show (`false`, `3`, `main`).
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// `job/…/api/json?tree=property[parameterDefinitions[name]]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct JobParameters {
    pub property: Vec<Option<Property>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Property {
    pub parameter_definitions: Option<Vec<ParameterDefinition>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ParameterDefinition {
    pub name: String,
}

impl JobParameters {
    /// The names of the job's parameters; empty when the job is not parameterized.
    pub fn names(&self) -> Vec<String> {
        self.property
            .iter()
            .flatten()
            .filter_map(|p| p.parameter_definitions.as_ref())
            .flatten()
            .map(|d| d.name.clone())
            .collect()
    }
}

/// `job/…/api/json?tree=builds[…]{M,N}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Builds {
    pub builds: Vec<Build>,
}

/// A build (Run), with whichever fields the request's `tree` asked for.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Build {
    pub number: u64,
    pub queue_id: Option<u64>,
    /// `null` while building (but may be set early in Pipeline: use `building`).
    pub result: Option<String>,
    pub building: bool,
    /// Building or in post-production (publishers, archiving); exported since 2.369.
    /// A FreeStyle build is `building: false` but `inProgress: true` meanwhile.
    pub in_progress: Option<bool>,
    /// 0 while building.
    pub duration: i64,
    /// -1 when unknown.
    #[serde(deserialize_with = "nullable_i64")]
    pub estimated_duration: i64,
    /// Start of the build, in ms since the epoch.
    pub timestamp: i64,
    pub description: Option<String>,
    pub actions: Vec<Option<Action>>,
    pub artifacts: Vec<Artifact>,
}

impl Build {
    /// The test counts of the build's test result action (there is no `passCount`
    /// there: it is what remains of the total); `None` when it recorded no tests.
    pub fn test_counts(&self) -> Option<TestReport> {
        self.actions.iter().flatten().find_map(|action| {
            let total = action.total_count?;
            let fail_count = action.fail_count.unwrap_or(0);
            let skip_count = action.skip_count.unwrap_or(0);
            Some(TestReport {
                pass_count: total.saturating_sub(fail_count).saturating_sub(skip_count),
                fail_count,
                skip_count,
            })
        })
    }

    /// The value of parameter `name`, as text.
    pub fn parameter(&self, name: &str) -> Option<String> {
        parameter(&self.actions, name).and_then(scalar_text)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    pub relative_path: String,
}

/// A build's test counts, as `…/N/testReport/api/json` has them; Baton reads them from
/// the build's test result action instead, which costs no request of its own.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TestReport {
    pub pass_count: u64,
    pub fail_count: u64,
    pub skip_count: u64,
}

/// `/crumbIssuer/api/json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Crumb {
    pub crumb: String,
    pub crumb_request_field: String,
}

/// The notification plugin's JSON body (reference §13.1); Gson drops nulls.
#[derive(Debug, Clone, Deserialize)]
pub struct Notification {
    /// The job's URL relative to the Jenkins root: `job/team/job/deploy/`.
    #[serde(default)]
    pub url: Option<String>,
    pub build: NotificationBuild,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NotificationBuild {
    #[serde(deserialize_with = "lenient_u64")]
    pub number: Option<u64>,
    #[serde(deserialize_with = "lenient_u64")]
    pub queue_id: Option<u64>,
    pub phase: Option<String>,
    pub status: Option<String>,
    pub url: Option<String>,
    pub full_url: Option<String>,
    pub parameters: BTreeMap<String, Value>,
}

/// The plain callback a Jenkinsfile's `post` section sends (reference §13.2; our shape).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PlainCallback {
    /// `env.JOB_NAME`: the full name (`team/deploy`, `repo/feature%2Ffoo`).
    pub job: Option<String>,
    #[serde(deserialize_with = "lenient_u64")]
    pub number: Option<u64>,
    #[serde(deserialize_with = "lenient_u64")]
    pub queue_id: Option<u64>,
    pub run_id: Option<String>,
    pub result: Option<String>,
    pub url: Option<String>,
}

/// A number that a shell script may have written as a string (`"57"`), or null.
fn lenient_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    })
}

fn nullable_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    Ok(Option::<i64>::deserialize(deserializer)?.unwrap_or(-1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample<T: serde::de::DeserializeOwned>(text: &str) -> T {
        serde_json::from_str(text).expect("sample parses")
    }

    #[test]
    fn queue_items_in_every_state() {
        let waiting: QueueItem = sample(include_str!("testdata/jenkins-queue-item-waiting.json"));
        assert_eq!(waiting.id, 1234);
        assert_eq!(waiting.in_queue_since, Some(1724140800021));
        assert!(waiting.why.unwrap().starts_with("In the quiet period"));
        assert!(waiting.executable.is_none() && waiting.cancelled.is_none());
        assert_eq!(
            parameter(&waiting.actions, "RUN_ID").and_then(scalar_text),
            Some("pl-42".into())
        );
        assert_eq!(
            parameter(&waiting.actions, "DRY_RUN").and_then(scalar_text),
            Some("false".into())
        );

        let blocked: QueueItem = sample(include_str!("testdata/jenkins-queue-item-blocked.json"));
        assert!(blocked.blocked);
        assert_eq!(
            blocked.task.unwrap().url.as_deref(),
            Some("http://jenkins.example.com:8080/job/team/job/deploy/")
        );

        let buildable: QueueItem =
            sample(include_str!("testdata/jenkins-queue-item-buildable.json"));
        assert!(buildable.buildable && !buildable.stuck);

        let left: QueueItem = sample(include_str!("testdata/jenkins-queue-item-left.json"));
        assert_eq!(left.cancelled, Some(false));
        assert_eq!(left.executable.map(|e| e.number), Some(57));
        assert_eq!(left.why, None);

        let cancelled: QueueItem = sample(include_str!(
            "testdata/jenkins-queue-item-left-cancelled.json"
        ));
        assert_eq!(cancelled.cancelled, Some(true));
        assert!(cancelled.executable.is_none());
    }

    #[test]
    fn builds_running_and_finished() {
        let running: Build = sample(include_str!("testdata/jenkins-build-running.json"));
        assert!(running.building);
        assert_eq!((running.number, running.queue_id), (57, Some(1234)));
        assert_eq!(running.result, None);
        assert_eq!(running.estimated_duration, 183422);
        assert_eq!(running.parameter("RUN_ID").as_deref(), Some("pl-42"));

        let success: Build = sample(include_str!("testdata/jenkins-build-success.json"));
        assert!(!success.building);
        assert_eq!(success.result.as_deref(), Some("SUCCESS"));
        assert_eq!(success.duration, 187311);
        let paths: Vec<_> = success.artifacts.iter().map(|a| &a.relative_path).collect();
        assert_eq!(paths, ["build/libs/app.jar", "reports/report.html"]);

        let aborted: Build = sample(include_str!("testdata/jenkins-build-aborted.json"));
        assert_eq!(aborted.result.as_deref(), Some("ABORTED"));

        let unstable: Build = sample(include_str!(
            "testdata/jenkins-build-unstable-freestyle.json"
        ));
        assert_eq!(unstable.result.as_deref(), Some("UNSTABLE"));
        assert_eq!(unstable.parameter("RUN_ID"), None);

        // Test counts from the test result action: passed is what the others leave.
        let counts = |build: &Build| {
            build
                .test_counts()
                .map(|t| (t.pass_count, t.fail_count, t.skip_count))
        };
        assert_eq!(counts(&success), Some((118, 0, 2)));
        assert_eq!(counts(&unstable), Some((54, 3, 0)));
        assert_eq!(counts(&running), None, "no tests recorded");
        assert_eq!(counts(&aborted), None);
    }

    #[test]
    fn a_build_tree_with_nulls_and_empty_actions() {
        let builds: Builds = sample(
            r#"{"_class":"x","builds":[
                {"number":3,"queueId":9,"result":null,"building":true,"duration":0,
                 "estimatedDuration":null,"timestamp":5,"description":null,
                 "actions":[{},null,{"parameters":[{"name":"BATON_ACTION_RUN","value":"e.1"}]}]}]}"#,
        );
        let build = &builds.builds[0];
        assert_eq!(build.estimated_duration, -1);
        assert_eq!(build.parameter("BATON_ACTION_RUN").as_deref(), Some("e.1"));
    }

    #[test]
    fn parameter_definitions() {
        let job: JobParameters = sample(include_str!("testdata/jenkins-job-parameterized.json"));
        assert_eq!(job.names(), ["BRANCH", "RUN_ID", "DRY_RUN"]);
        let plain: JobParameters = sample(r#"{"property":[{},{"_class":"x"}]}"#);
        assert!(plain.names().is_empty());
    }

    #[test]
    fn crumbs_and_test_reports() {
        let crumb: Crumb = sample(include_str!("testdata/jenkins-crumb.json"));
        assert_eq!(crumb.crumb_request_field, "Jenkins-Crumb");
        assert_eq!(crumb.crumb.len(), 64);
        let report: TestReport = sample(include_str!("testdata/jenkins-test-report.json"));
        assert_eq!(
            (report.pass_count, report.fail_count, report.skip_count),
            (2, 1, 1)
        );
    }

    #[test]
    fn notifications_and_plain_callbacks() {
        let completed: Notification =
            sample(include_str!("testdata/jenkins-notification-completed.json"));
        assert_eq!(completed.url.as_deref(), Some("job/team/job/deploy/"));
        assert_eq!(completed.build.number, Some(57));
        assert_eq!(completed.build.queue_id, Some(1234));
        assert_eq!(completed.build.status.as_deref(), Some("SUCCESS"));
        let queued: Notification =
            sample(include_str!("testdata/jenkins-notification-queued.json"));
        assert_eq!(queued.build.phase.as_deref(), Some("QUEUED"));
        assert_eq!(queued.build.status, None);

        let plain: PlainCallback =
            sample(include_str!("testdata/jenkins-pipeline-post-callback.json"));
        assert_eq!(plain.job.as_deref(), Some("team/deploy"));
        assert_eq!((plain.number, plain.queue_id), (Some(57), Some(1234)));
        let quoted: PlainCallback = sample(r#"{"job":"a","number":"12"}"#);
        assert_eq!(quoted.number, Some(12));
    }
}
