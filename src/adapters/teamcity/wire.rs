//! TeamCity's wire types: the `build` entity (queued, running, finished) and its lists,
//! artifact listings, parameter lists, and the bodies Baton posts (`build` to the queue,
//! `buildCancelRequest`). Field names are the REST plugin's.
//!
//! Every read type parses both of TeamCity's formats: JSON (what Baton asks for) and XML
//! (the server's default, should a proxy drop the `Accept` header). In XML, TeamCity
//! writes scalars as attributes, so each field also answers to its `@name`. Fields left
//! at their default value are omitted by TeamCity (`failedToStart` only appears when
//! true, zero test counts vanish), hence the defaults everywhere.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// One build in any state. The `id` stays the same from queued to finished.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Build {
    #[serde(alias = "@id")]
    pub id: i64,
    #[serde(default, alias = "@buildTypeId")]
    pub build_type_id: Option<String>,
    #[serde(default, alias = "@number")]
    pub number: Option<String>,
    /// `SUCCESS`, `FAILURE`, `UNKNOWN` (canceled) or the legacy `ERROR`; provisional
    /// while running, absent while queued.
    #[serde(default, alias = "@status")]
    pub status: Option<String>,
    /// `queued`, `running` or `finished` (`deleted`, `unknown` in edge cases).
    #[serde(default, alias = "@state")]
    pub state: Option<String>,
    #[serde(default, alias = "@failedToStart")]
    pub failed_to_start: bool,
    #[serde(default, alias = "@percentageComplete")]
    pub percentage_complete: Option<u32>,
    #[serde(default, alias = "@branchName")]
    pub branch_name: Option<String>,
    #[serde(default, alias = "@href")]
    pub href: Option<String>,
    #[serde(default, alias = "@webUrl")]
    pub web_url: Option<String>,
    #[serde(default)]
    pub status_text: Option<String>,
    #[serde(default)]
    pub wait_reason: Option<String>,
    #[serde(default)]
    pub queued_date: Option<String>,
    #[serde(default)]
    pub start_date: Option<String>,
    #[serde(default)]
    pub finish_date: Option<String>,
    #[serde(default)]
    pub canceled_info: Option<CanceledInfo>,
    #[serde(default, rename = "running-info")]
    pub running_info: Option<RunningInfo>,
    #[serde(default)]
    pub test_occurrences: Option<TestSummary>,
    #[serde(default)]
    pub artifacts: Option<ArtifactsRef>,
    #[serde(default)]
    pub properties: Option<Properties>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CanceledInfo {
    /// Absent when TeamCity itself canceled the build (a failed dependency, say).
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct User {
    #[serde(default, alias = "@username")]
    pub username: Option<String>,
    #[serde(default, alias = "@name")]
    pub name: Option<String>,
}

impl User {
    /// The name people know the user by.
    pub fn display(&self) -> Option<&str> {
        self.name
            .as_deref()
            .or(self.username.as_deref())
            .filter(|n| !n.is_empty())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunningInfo {
    #[serde(default, alias = "@percentageComplete")]
    pub percentage_complete: Option<u32>,
    #[serde(default, alias = "@elapsedSeconds")]
    pub elapsed_seconds: Option<u64>,
    #[serde(default, alias = "@currentStageText")]
    pub current_stage_text: Option<String>,
    #[serde(default, alias = "@probablyHanging")]
    pub probably_hanging: bool,
}

/// The build's `testOccurrences` summary (zeros omitted by TeamCity).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestSummary {
    #[serde(default, alias = "@count")]
    pub count: u64,
    #[serde(default, alias = "@passed")]
    pub passed: u64,
    #[serde(default, alias = "@failed")]
    pub failed: u64,
    #[serde(default, alias = "@ignored")]
    pub ignored: u64,
    #[serde(default, alias = "@muted")]
    pub muted: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ArtifactsRef {
    #[serde(default, alias = "@count")]
    pub count: Option<u64>,
    #[serde(default, alias = "@href")]
    pub href: Option<String>,
}

/// `properties` of a build, and the answer of `…/resulting-properties`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Properties {
    #[serde(default)]
    pub property: Vec<Property>,
}

impl Properties {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.property
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.value.as_deref())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Property {
    #[serde(alias = "@name")]
    pub name: String,
    #[serde(default, alias = "@value")]
    pub value: Option<String>,
}

/// A page of `GET /app/rest/builds?locator=…`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Builds {
    #[serde(default, alias = "@count")]
    pub count: Option<u64>,
    #[serde(default, alias = "@nextHref")]
    pub next_href: Option<String>,
    #[serde(default)]
    pub build: Vec<Build>,
}

/// `GET /app/rest/builds/id:N/artifacts/children/`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Files {
    #[serde(default)]
    pub file: Vec<File>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct File {
    #[serde(alias = "@name")]
    pub name: String,
}

/// The body of `POST /app/rest/buildQueue`, written as XML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename = "build")]
pub struct TriggerRequest {
    #[serde(rename = "@branchName", skip_serializing_if = "Option::is_none")]
    pub branch_name: Option<String>,
    #[serde(rename = "buildType")]
    pub build_type: BuildTypeRef,
    pub comment: CommentBody,
    pub properties: PropertiesBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildTypeRef {
    #[serde(rename = "@id")]
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommentBody {
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PropertiesBody {
    pub property: Vec<PropertyBody>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PropertyBody {
    #[serde(rename = "@name")]
    pub name: String,
    #[serde(rename = "@value")]
    pub value: String,
}

/// The body of a cancel (`POST /app/rest/buildQueue/id:N` or `/app/rest/builds/id:N`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename = "buildCancelRequest")]
pub struct CancelRequest {
    #[serde(rename = "@comment")]
    pub comment: String,
    /// Must be false: TeamCity answers 400 for queued builds otherwise.
    #[serde(rename = "@readdIntoQueue")]
    pub readd_into_queue: bool,
}

/// Serialises a request body as XML.
pub fn to_xml<T: Serialize>(body: &T) -> Result<String, String> {
    quick_xml::se::to_string(body).map_err(|e| format!("cannot write the request body: {e}"))
}

/// Parses an answer in the format its `Content-Type` names: XML when it says so (or
/// when the body starts like XML), JSON otherwise.
pub fn decode<T: DeserializeOwned>(content_type: Option<&str>, body: &str) -> Result<T, String> {
    let xml = content_type.is_some_and(|c| c.contains("xml")) || body.trim_start().starts_with('<');
    if xml {
        quick_xml::de::from_str(body).map_err(|e| format!("unreadable XML answer: {e}"))
    } else {
        serde_json::from_str(body).map_err(|e| format!("unreadable JSON answer: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> &'static str {
        match name {
            "queued.json" => include_str!("testdata/teamcity-build-queued.json"),
            "queued.xml" => include_str!("testdata/teamcity-build-queued.xml"),
            "running.json" => include_str!("testdata/teamcity-build-running.json"),
            "canceled.xml" => include_str!("testdata/teamcity-build-canceled.xml"),
            "failure.json" => include_str!("testdata/teamcity-build-finished-failure.json"),
            "failed-to-start.json" => include_str!("testdata/teamcity-build-failed-to-start.json"),
            "artifacts.xml" => include_str!("testdata/teamcity-artifacts-children.xml"),
            _ => panic!("no sample {name}"),
        }
    }

    #[test]
    fn a_queued_build_reads_the_same_from_json_and_xml() {
        let json: Build = decode(Some("application/json"), sample("queued.json")).unwrap();
        let xml: Build = decode(Some("application/xml"), sample("queued.xml")).unwrap();
        assert_eq!(json.id, 4821);
        assert_eq!(json.state.as_deref(), Some("queued"));
        assert_eq!(json.queued_date.as_deref(), Some("20240820T080000+0000"));
        assert!(json.wait_reason.is_some());
        assert_eq!(
            json.web_url.as_deref(),
            Some("http://teamcity.example.com:8111/viewQueued.html?itemId=4821")
        );
        assert_eq!(xml.id, json.id);
        assert_eq!(xml.state, json.state);
        assert_eq!(xml.web_url, json.web_url);
        assert_eq!(xml.branch_name.as_deref(), Some("main"));
        assert_eq!(xml.queued_date, json.queued_date);
        assert_eq!(xml.properties, json.properties);
        assert_eq!(json.properties.unwrap().get("env.RUN_ID"), Some("pl-42"));
    }

    #[test]
    fn running_and_finished_builds_carry_progress_tests_and_cancel_info() {
        let running: Build = decode(None, sample("running.json")).unwrap();
        let info = running.running_info.unwrap();
        assert_eq!(info.percentage_complete, Some(42));
        assert_eq!(running.test_occurrences.unwrap().passed, 40);

        let failure: Build = decode(None, sample("failure.json")).unwrap();
        let tests = failure.test_occurrences.unwrap();
        assert_eq!(
            (tests.count, tests.passed, tests.failed, tests.ignored),
            (120, 117, 1, 2)
        );
        assert_eq!(failure.artifacts.unwrap().count, Some(2));
        assert!(!failure.failed_to_start);

        let canceled: Build = decode(Some("application/xml"), sample("canceled.xml")).unwrap();
        assert_eq!(canceled.status.as_deref(), Some("UNKNOWN"));
        assert_eq!(canceled.status_text.as_deref(), Some("Canceled"));
        let info = canceled.canceled_info.unwrap();
        assert_eq!(info.user.unwrap().display(), Some("CI Bot"));
        assert_eq!(info.text.as_deref(), Some("Superseded by pipeline pl-44"));

        let never: Build = decode(None, sample("failed-to-start.json")).unwrap();
        assert!(never.failed_to_start);
        assert_eq!(never.number.as_deref(), Some("N/A"));
    }

    #[test]
    fn lists_and_artifacts_parse() {
        let list: Builds = decode(
            Some("application/json"),
            r#"{"count":2,"build":[{"id":1,"state":"queued"},{"id":2,"state":"running"}]}"#,
        )
        .unwrap();
        assert_eq!(list.build.iter().map(|b| b.id).collect::<Vec<_>>(), [1, 2]);
        let list: Builds = decode(
            Some("application/xml"),
            r#"<builds count="1"><build id="7" state="finished" status="SUCCESS"/></builds>"#,
        )
        .unwrap();
        assert_eq!(list.build[0].status.as_deref(), Some("SUCCESS"));
        // What a search that finds nothing looks like: the list left out by default-value
        // omission, or written empty when `fields` names it; in either format.
        for (content_type, body) in [
            ("application/json", r#"{"count":0}"#),
            (
                "application/json",
                r#"{"count":0,"href":"/app/rest/builds","build":[]}"#,
            ),
            (
                "application/xml",
                r#"<builds count="0" href="/app/rest/builds"/>"#,
            ),
        ] {
            let empty: Builds = decode(Some(content_type), body).unwrap();
            assert!(empty.build.is_empty(), "{body}");
        }

        let files: Files = decode(Some("application/xml"), sample("artifacts.xml")).unwrap();
        let names: Vec<_> = files.file.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["app.jar", "reports"]);
    }

    #[test]
    fn the_trigger_body_matches_the_reference_sample() {
        let body = TriggerRequest {
            branch_name: Some("main".into()),
            build_type: BuildTypeRef {
                id: "Backend_Deploy".into(),
            },
            comment: CommentBody {
                text: "Triggered by pipeline pl-42".into(),
            },
            properties: PropertiesBody {
                property: vec![
                    PropertyBody {
                        name: "env.RUN_ID".into(),
                        value: "pl-42".into(),
                    },
                    PropertyBody {
                        name: "deploy.dryRun".into(),
                        value: "false".into(),
                    },
                ],
            },
        };
        let written = to_xml(&body).unwrap();
        let expected: String = include_str!("testdata/teamcity-buildqueue-request.xml")
            .lines()
            .map(str::trim)
            .collect();
        assert_eq!(written, expected);
    }

    #[test]
    fn the_cancel_body_matches_the_reference_sample() {
        let body = CancelRequest {
            comment: "Superseded by pipeline pl-44".into(),
            readd_into_queue: false,
        };
        assert_eq!(
            to_xml(&body).unwrap(),
            include_str!("testdata/teamcity-build-cancel-request.xml").trim()
        );
    }

    #[test]
    fn xml_special_characters_are_escaped() {
        let body = CancelRequest {
            comment: r#"a <b> & "c""#.into(),
            readd_into_queue: false,
        };
        let written = to_xml(&body).unwrap();
        assert!(!written.contains("<b>"), "{written}");
        assert!(written.contains("&amp;"), "{written}");
    }
}
