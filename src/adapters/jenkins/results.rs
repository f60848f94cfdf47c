//! From a Jenkins result (`SUCCESS`, `UNSTABLE`, `FAILURE`, `NOT_BUILT`, `ABORTED`) to the
//! action's outcome. The mapping is data: by default only `SUCCESS` succeeds;
//! `UnstableAsSuccess: "true"` lets `UNSTABLE` succeed too, and `ResultMapping`
//! (`UNSTABLE=Succeeded,ABORTED=Failed`) overrides any entry. Each verdict says which rule
//! made it, so a summary can tell an unstable build counted as success from a clean one.

use std::collections::BTreeMap;

/// The results Jenkins knows (reference §6, `hudson.model.Result`).
pub const RESULTS: [&str; 5] = ["SUCCESS", "UNSTABLE", "FAILURE", "NOT_BUILT", "ABORTED"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Succeeded,
    Failed,
}

/// Why a result got its verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Default,
    UnstableAsSuccess,
    ResultMapping,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultMapping {
    verdicts: BTreeMap<String, (Verdict, Rule)>,
}

impl Default for ResultMapping {
    fn default() -> Self {
        let verdicts = RESULTS
            .iter()
            .map(|result| {
                let verdict = if *result == "SUCCESS" {
                    Verdict::Succeeded
                } else {
                    Verdict::Failed
                };
                (result.to_string(), (verdict, Rule::Default))
            })
            .collect();
        ResultMapping { verdicts }
    }
}

impl ResultMapping {
    /// Reads `UnstableAsSuccess` and `ResultMapping` from an action's configuration.
    pub fn parse(
        unstable_as_success: Option<&str>,
        mapping: Option<&str>,
    ) -> Result<ResultMapping, String> {
        let mut result = ResultMapping::default();
        match unstable_as_success
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("") | Some("false") => {}
            Some("true") => {
                result.verdicts.insert(
                    "UNSTABLE".into(),
                    (Verdict::Succeeded, Rule::UnstableAsSuccess),
                );
            }
            Some(other) => {
                return Err(format!(
                    "UnstableAsSuccess must be \"true\" or \"false\", not \"{other}\""
                ))
            }
        }
        for entry in mapping.unwrap_or("").split(',') {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let (key, value) = entry.split_once('=').ok_or_else(|| {
                format!("ResultMapping entry `{entry}` is not RESULT=Succeeded or RESULT=Failed")
            })?;
            let key = key.trim().to_ascii_uppercase();
            if !RESULTS.contains(&key.as_str()) {
                return Err(format!(
                    "ResultMapping names `{key}`, which is not a Jenkins result ({})",
                    RESULTS.join(", ")
                ));
            }
            let verdict = match value.trim().to_ascii_lowercase().as_str() {
                "succeeded" => Verdict::Succeeded,
                "failed" => Verdict::Failed,
                other => {
                    return Err(format!(
                        "ResultMapping maps `{key}` to `{other}`; use Succeeded or Failed"
                    ))
                }
            };
            result.verdicts.insert(key, (verdict, Rule::ResultMapping));
        }
        Ok(result)
    }

    /// The verdict on `result` and the rule that gave it; a result Jenkins does not
    /// define fails.
    pub fn verdict(&self, result: &str) -> (Verdict, Rule) {
        self.verdicts
            .get(result)
            .copied()
            .unwrap_or((Verdict::Failed, Rule::Default))
    }
}

/// How a finished build reads in a summary or an error: "build #57 of `team/deploy`
/// finished UNSTABLE, counted as a success (UnstableAsSuccess)".
pub fn describe(job: &str, number: u64, result: &str, verdict: Verdict, rule: Rule) -> String {
    let what = match result {
        "ABORTED" => "was aborted (ABORTED)".to_string(),
        "NOT_BUILT" => "was not built (NOT_BUILT)".to_string(),
        other if RESULTS.contains(&other) => format!("finished {other}"),
        other => format!("finished with a result Baton does not know: {other}"),
    };
    let how = match (verdict, rule) {
        (_, Rule::Default) => String::new(),
        (Verdict::Succeeded, rule) => format!(", counted as a success ({rule:?})"),
        (Verdict::Failed, rule) => format!(", counted as a failure ({rule:?})"),
    };
    format!("build #{number} of `{job}` {what}{how}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(unstable: Option<&str>, mapping: Option<&str>, expect: &[(&str, Verdict, Rule)]) {
        let parsed = ResultMapping::parse(unstable, mapping).unwrap();
        for (result, verdict, rule) in expect {
            assert_eq!(parsed.verdict(result), (*verdict, *rule), "{result}");
        }
    }

    #[test]
    fn defaults_only_success_succeeds() {
        use {Rule::Default as D, Verdict::*};
        check(
            None,
            None,
            &[
                ("SUCCESS", Succeeded, D),
                ("UNSTABLE", Failed, D),
                ("FAILURE", Failed, D),
                ("NOT_BUILT", Failed, D),
                ("ABORTED", Failed, D),
                ("SOMETHING", Failed, D),
            ],
        );
    }

    #[test]
    fn unstable_as_success_and_explicit_mappings() {
        use Verdict::*;
        check(
            Some("TRUE"),
            None,
            &[
                ("UNSTABLE", Succeeded, Rule::UnstableAsSuccess),
                ("FAILURE", Failed, Rule::Default),
            ],
        );
        check(Some("false"), None, &[("UNSTABLE", Failed, Rule::Default)]);
        check(
            Some("true"),
            Some(" unstable=Failed , NOT_BUILT=succeeded,"),
            &[
                ("UNSTABLE", Failed, Rule::ResultMapping),
                ("NOT_BUILT", Succeeded, Rule::ResultMapping),
                ("SUCCESS", Succeeded, Rule::Default),
            ],
        );
        check(
            None,
            Some("SUCCESS=Failed"),
            &[("SUCCESS", Failed, Rule::ResultMapping)],
        );
    }

    #[test]
    fn bad_configuration_is_explained() {
        let error = |u, m| ResultMapping::parse(u, m).unwrap_err();
        assert!(error(Some("yes"), None).contains("UnstableAsSuccess"));
        assert!(error(None, Some("UNSTABLE")).contains("RESULT=Succeeded"));
        assert!(error(None, Some("FLAKY=Failed")).contains("not a Jenkins result"));
        assert!(error(None, Some("UNSTABLE=Passed")).contains("Succeeded or Failed"));
    }

    #[test]
    fn descriptions_say_which_result_and_which_rule() {
        assert_eq!(
            describe(
                "team/deploy",
                57,
                "SUCCESS",
                Verdict::Succeeded,
                Rule::Default
            ),
            "build #57 of `team/deploy` finished SUCCESS"
        );
        assert_eq!(
            describe(
                "a",
                1,
                "UNSTABLE",
                Verdict::Succeeded,
                Rule::UnstableAsSuccess
            ),
            "build #1 of `a` finished UNSTABLE, counted as a success (UnstableAsSuccess)"
        );
        assert_eq!(
            describe("a", 1, "ABORTED", Verdict::Failed, Rule::Default),
            "build #1 of `a` was aborted (ABORTED)"
        );
        assert_eq!(
            describe("a", 1, "NOT_BUILT", Verdict::Succeeded, Rule::ResultMapping),
            "build #1 of `a` was not built (NOT_BUILT), counted as a success (ResultMapping)"
        );
    }
}
