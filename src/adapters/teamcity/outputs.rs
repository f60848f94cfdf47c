//! The output variables of a TeamCity action: `BuildId`, `BuildNumber`, `WebUrl`,
//! `Status`, `StatusText`, the test counts of the build's `testOccurrences` summary
//! (`TestsPassed`, `TestsFailed`, `TestsIgnored`, `TestsTotal`; TeamCity omits zeros, so
//! a missing count is 0), `Artifacts` (top-level names, comma-separated), and each
//! requested `OutputParameters` name — dots kept — with its resulting value.

use std::collections::BTreeMap;

use super::results::Details;
use super::wire::Build;

pub fn outputs(build: &Build, details: &Details) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    out.insert("BuildId".to_string(), build.id.to_string());
    let mut put = |name: &str, value: Option<&str>| {
        if let Some(value) = value {
            out.insert(name.to_string(), value.to_string());
        }
    };
    put("BuildNumber", build.number.as_deref());
    put("WebUrl", build.web_url.as_deref());
    put("Status", build.status.as_deref());
    put("StatusText", build.status_text.as_deref());
    let tests = build.test_occurrences.clone().unwrap_or_default();
    out.insert("TestsPassed".into(), tests.passed.to_string());
    out.insert("TestsFailed".into(), tests.failed.to_string());
    out.insert("TestsIgnored".into(), tests.ignored.to_string());
    out.insert("TestsTotal".into(), tests.count.to_string());
    out.insert("Artifacts".into(), details.artifacts.join(","));
    for (name, value) in &details.parameters {
        out.insert(name.clone(), value.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::teamcity::wire::decode;

    #[test]
    fn a_failed_build_with_tests_artifacts_and_parameters() {
        let build: Build = decode(
            None,
            include_str!("testdata/teamcity-build-finished-failure.json"),
        )
        .unwrap();
        let details = Details {
            artifacts: vec!["app.jar".into(), "reports".into()],
            parameters: BTreeMap::from([("build.vcs.number".into(), "9f1c2e7".into())]),
        };
        let out = outputs(&build, &details);
        let expected: BTreeMap<String, String> = [
            ("BuildId", "4822"),
            ("BuildNumber", "313"),
            (
                "WebUrl",
                "http://teamcity.example.com:8111/buildConfiguration/Backend_Deploy/4822",
            ),
            ("Status", "FAILURE"),
            (
                "StatusText",
                "Tests failed: 1 (1 new), passed: 117, ignored: 2",
            ),
            ("TestsPassed", "117"),
            ("TestsFailed", "1"),
            ("TestsIgnored", "2"),
            ("TestsTotal", "120"),
            ("Artifacts", "app.jar,reports"),
            ("build.vcs.number", "9f1c2e7"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn a_build_without_tests_counts_zero() {
        let build: Build = decode(
            None,
            include_str!("testdata/teamcity-build-canceled-from-queue.json"),
        )
        .unwrap();
        let out = outputs(&build, &Details::default());
        assert_eq!(out["TestsTotal"], "0");
        assert_eq!(out["TestsFailed"], "0");
        assert_eq!(out["Artifacts"], "");
        assert_eq!(out["BuildNumber"], "N/A");
    }
}
