//! A finished build, as the poll read it, becomes an outcome: its result through the
//! action's mapping, and its outputs — build facts, test counts from the build's test
//! result action, artifact paths and the keys of the `PropertyFile` artifact (the one
//! further request). A successful build whose property
//! file is missing or unreadable fails: later actions would miss its variables.

use reqwest::StatusCode;

use super::action::JobConfig;
use super::outputs::{self, Outputs};
use super::path::{encode_relative, JobPath};
use super::results::{describe, Verdict};
use super::wire::Build;
use super::JenkinsAdapter;
use crate::adapters::{ActionContext, Outcome, Result};

impl JenkinsAdapter {
    pub(super) async fn finish(
        &self,
        ctx: &ActionContext,
        config: &JobConfig,
        build: &Build,
        url: &str,
    ) -> Result<Outcome> {
        let job = &config.job;
        let number = build.number;
        // The poll read the outcome's fields too (`BUILD_FIELDS`): no second request.
        let result = build.result.clone().unwrap_or_else(|| "NONE".to_string());
        let (verdict, rule) = config.mapping.verdict(&result);
        let mut outputs =
            outputs::build_outputs(number, url, &result, build.duration, &build.artifacts);
        let report = build.test_counts();
        if let Some(report) = &report {
            outputs::test_outputs(report, &mut outputs);
        }
        let mut text = describe(&job.full_name(), number, &result, verdict, rule);
        if let Some(report) = report.filter(|r| r.fail_count > 0) {
            let total = report.pass_count + report.fail_count + report.skip_count;
            text.push_str(&format!("; {} of {total} tests failed", report.fail_count));
        }
        if let Some(file) = &config.property_file {
            match self.property_file(job, number, file).await? {
                Ok(properties) => {
                    let clashes = outputs::merge_properties(properties, &mut outputs);
                    if !clashes.is_empty() {
                        tracing::warn!(job = %job, number, keys = ?clashes, "PropertyFile keys that name built-in outputs were ignored");
                    }
                }
                Err(why) if verdict == Verdict::Succeeded => {
                    return Ok(Outcome::Failed {
                        error: self.noted(ctx, format!("{text}, but its PropertyFile {why}")),
                        outputs,
                    });
                }
                Err(why) => tracing::debug!(job = %job, number, "PropertyFile {why}"),
            }
        }
        let text = self.noted(ctx, text);
        Ok(match verdict {
            Verdict::Succeeded => Outcome::Succeeded {
                outputs,
                summary: Some(text),
            },
            Verdict::Failed => Outcome::Failed {
                error: text,
                outputs,
            },
        })
    }

    /// The keys of the property file artifact, or why there are none.
    async fn property_file(
        &self,
        job: &JobPath,
        number: u64,
        file: &str,
    ) -> Result<std::result::Result<Outputs, String>> {
        let what = format!("read artifact `{file}` of build #{number} of job `{job}`");
        let path = format!(
            "{}artifact/{}",
            job.build_path(number),
            encode_relative(file)
        );
        let reply = self.jenkins.get(&what, &path, &[]).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(Err(format!("`{file}` is not among the build's artifacts")));
        }
        if !reply.status.is_success() {
            return Err(self.jenkins.failure(&what, &reply));
        }
        Ok(outputs::parse_property_file(file, &reply.body)
            .map_err(|why| format!("`{file}` cannot be read: {why}")))
    }
}
