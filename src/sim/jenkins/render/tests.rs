//! A JUnit report generated from a job's `TestCounts`, as `…/N/testReport/api/json`
//! exports it (`samples/jenkins-test-report.json`): one suite with one case per test,
//! failures as `FAILED` with details and a stack trace.

use super::super::export::{list, ObjBuilder, Pruner, Value, ALWAYS};
use super::super::spec::TestCounts;

const SUITE: &str = "sim.SimulatedTest";

/// `CaseResult.getFullName()` of the n-th failing case, also named in notifications.
pub(in crate::sim::jenkins) fn failed_test_name(n: u32) -> String {
    format!("{SUITE}.failing{n}")
}

#[derive(Clone, Copy)]
enum Status {
    Passed,
    Failed,
    Skipped,
}

/// `/testReport/api/json`.
pub(in crate::sim::jenkins) fn report<'t>(
    p: Pruner<'t>,
    counts: TestCounts,
    timestamp: &str,
) -> Value {
    let cases: Vec<(Status, u32)> = (1..=counts.passed)
        .map(|i| (Status::Passed, i))
        .chain((1..=counts.failed).map(|i| (Status::Failed, i)))
        .chain((1..=counts.skipped).map(|i| (Status::Skipped, i)))
        .collect();
    let duration = cases.len() as f64 * 0.25;
    let suites = if cases.is_empty() { 0 } else { 1 };
    ObjBuilder::new(p, Some("hudson.tasks.junit.TestResult"))
        .val("testActions", ALWAYS, Value::Arr(Vec::new()))
        .val("duration", ALWAYS, duration)
        .val("empty", ALWAYS, cases.is_empty())
        .val("failCount", ALWAYS, counts.failed)
        .val("passCount", ALWAYS, counts.passed)
        .val("skipCount", ALWAYS, counts.skipped)
        .obj("suites", ALWAYS, |p| {
            list(p, 0..suites, |p, _| {
                ObjBuilder::new(p, None)
                    .obj("cases", ALWAYS, |p| {
                        list(p, &cases, |p, (status, i)| case(p, *status, *i))
                    })
                    .val("duration", ALWAYS, duration)
                    .val(
                        "enclosingBlockNames",
                        ALWAYS,
                        Value::Arr(vec!["Test".into()]),
                    )
                    .val("enclosingBlocks", ALWAYS, Value::Arr(vec!["23".into()]))
                    .val("id", ALWAYS, Value::Null)
                    .val("name", ALWAYS, SUITE)
                    .val("nodeId", ALWAYS, "27")
                    .val("stderr", ALWAYS, Value::Null)
                    .val("stdout", ALWAYS, Value::Null)
                    .val("timestamp", ALWAYS, timestamp)
                    .build()
            })
        })
        .build()
}

fn case<'t>(p: Pruner<'t>, status: Status, i: u32) -> Value {
    let (name, text, details, trace, skipped_message): (String, &str, Option<&str>, Option<String>, Option<&str>) =
        match status {
            Status::Passed => (format!("passing{i}"), "PASSED", None, None, None),
            Status::Failed => (
                format!("failing{i}"),
                "FAILED",
                Some("expected:<true> but was:<false>"),
                Some(format!(
                    "java.lang.AssertionError: expected:<true> but was:<false>\n\tat {SUITE}.failing{i}({}.java:{})\n",
                    SUITE.rsplit('.').next().unwrap_or(SUITE),
                    10 + i
                )),
                None,
            ),
            Status::Skipped => (format!("skipped{i}"), "SKIPPED", None, None, Some("skipped by the simulator")),
        };
    ObjBuilder::new(p, None)
        .val("testActions", ALWAYS, Value::Arr(Vec::new()))
        .val("age", ALWAYS, u32::from(matches!(status, Status::Failed)))
        .val("className", ALWAYS, SUITE)
        .val("duration", ALWAYS, 0.25)
        .val("errorDetails", ALWAYS, details)
        .val("errorStackTrace", ALWAYS, trace)
        .val("failedSince", ALWAYS, 0u32)
        .val("name", ALWAYS, name)
        .val("skipped", ALWAYS, matches!(status, Status::Skipped))
        .val("skippedMessage", ALWAYS, skipped_message)
        .val("status", ALWAYS, text)
        .val("stderr", ALWAYS, Value::Null)
        .val("stdout", ALWAYS, Value::Null)
        .build()
}
