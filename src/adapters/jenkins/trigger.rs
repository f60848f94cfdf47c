//! Triggering (reference §4): read the job's parameter definitions (cached per job), then
//! `POST build` for a job without parameters or `POST buildWithParameters` (form-encoded)
//! for one with them, carrying the run id in `BATON_ACTION_RUN` when the job defines it.
//! The POST is sent once: a lost answer is resolved by `find`, never by sending again.
//!
//! 201 and 303 both carry the queue item in `Location`; 303 means Jenkins merged the
//! trigger into an item already queued with the same parameters, and a 201 whose item
//! another run already got means the same for a job without parameters. Either way the
//! build is shared, and the run's summaries say so.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use super::action::JobConfig;
use super::ids::ExternalId;
use super::memory::Attempt;
use super::path::JobPath;
use super::wire::JobParameters;
use super::{JenkinsAdapter, MARKER};
use crate::adapters::{ActionContext, AdapterError, Result, Started};

/// How long a job's parameter definitions are trusted: a Jenkinsfile may add some.
const PARAMETERS_TTL: Duration = Duration::from_secs(300);

impl JenkinsAdapter {
    /// The names of the job's parameters (empty: the job takes none).
    pub(super) async fn job_parameters(&self, job: &JobPath) -> Result<Arc<Vec<String>>> {
        if let Some((read_at, names)) = self.lock_parameters().get(job) {
            if read_at.elapsed() < PARAMETERS_TTL {
                return Ok(names.clone());
            }
        }
        let what = format!("read the parameters of job `{job}`");
        let query = [("tree", "property[parameterDefinitions[name]]".to_string())];
        let reply = self
            .jenkins
            .get(&what, &format!("{}api/json", job.url_path()), &query)
            .await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Err(self.no_such_job(job));
        }
        if !reply.status.is_success() {
            return Err(self.jenkins.failure(&what, &reply));
        }
        let definitions: JobParameters = self.jenkins.decode(&what, &reply)?;
        let names = Arc::new(definitions.names());
        self.lock_parameters()
            .insert(job.clone(), (Instant::now(), names.clone()));
        Ok(names)
    }

    pub(super) fn forget_parameters(&self, job: &JobPath) {
        self.lock_parameters().remove(job);
    }

    pub(super) fn no_such_job(&self, job: &JobPath) -> AdapterError {
        AdapterError::Fatal(format!(
            "Jenkins server `{}` has no job `{job}` (404 on {}); ProjectName is the job's full name, folders separated by `/`",
            self.jenkins.name(),
            job.url_path()
        ))
    }

    pub(super) async fn start_build(
        &self,
        ctx: &ActionContext,
        config: &JobConfig,
    ) -> Result<Started> {
        let job = &config.job;
        let defined = self.job_parameters(job).await?;
        let form = build_form(ctx, config, &defined)?;
        let endpoint = if defined.is_empty() {
            "build"
        } else {
            "buildWithParameters"
        };
        let what = format!("trigger job `{job}`");
        self.memory.record_attempt(&ctx.run_id, Attempt::Unknown);
        let path = format!("{}{endpoint}", job.url_path());
        let reply = match self.jenkins.post(&what, &path, &[], &form).await {
            Ok(reply) => reply,
            Err(error) => {
                if never_arrived(&error) {
                    self.memory.record_attempt(&ctx.run_id, Attempt::NotQueued);
                }
                return Err(error);
            }
        };
        let merged = match reply.status {
            StatusCode::CREATED => false,
            StatusCode::SEE_OTHER => true,
            status => {
                // Jenkins refused, or is starting up, or a proxy throttled: nothing queued.
                // Other 5xx may come from a proxy that gave up after Jenkins acted.
                if !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE {
                    self.memory.record_attempt(&ctx.run_id, Attempt::NotQueued);
                }
                return Err(self.refused(job, &what, &reply));
            }
        };
        let queue_id = reply
            .header("location")
            .and_then(queue_id_from_location)
            .ok_or_else(|| {
                AdapterError::Fatal(format!(
                    "{what}: {} answered {} without a queue item in Location",
                    self.jenkins.name(),
                    reply.status
                ))
            })?;
        self.memory
            .record_attempt(&ctx.run_id, Attempt::Queued(queue_id));
        self.note_sharing(
            ctx,
            job,
            queue_id,
            merged && !defined.iter().any(|n| n == MARKER),
        );
        tracing::info!(server = %self.jenkins.name(), job = %job, queue_id, merged, "triggered a Jenkins build");
        Ok(Started {
            external_id: ExternalId::Queued { queue_id }.to_string(),
            external_url: Some(self.jenkins.url(&job.url_path())),
            finished: None,
        })
    }

    /// Notes, for both runs' summaries, that Jenkins gave one queue item to two triggers.
    /// A 303 for a job with the marker is this very run's trigger again, not sharing.
    fn note_sharing(&self, ctx: &ActionContext, job: &JobPath, queue_id: u64, merged: bool) {
        let owner = self.memory.claim_queue_item(queue_id, &ctx.run_id);
        let note = match (&owner, merged) {
            (Some(owner), _) => {
                self.memory.add_note(
                    owner,
                    format!(
                        "Jenkins merged action run {} into this run's queue item {queue_id}; both follow one build",
                        ctx.run_id
                    ),
                );
                format!(
                    "Jenkins merged this trigger into queue item {queue_id} of action run {owner} (job `{job}` takes no distinguishing parameters); both follow one build"
                )
            }
            (None, true) => format!(
                "Jenkins merged this trigger into queue item {queue_id}, already queued with the same parameters (303); the build is shared with whoever queued it"
            ),
            (None, false) => return,
        };
        tracing::warn!(server = %self.jenkins.name(), job = %job, run = %ctx.run_id, "{note}");
        self.memory.add_note(&ctx.run_id, note);
    }

    fn refused(&self, job: &JobPath, what: &str, reply: &super::client::Reply) -> AdapterError {
        let name = self.jenkins.name();
        match reply.status {
            StatusCode::NOT_FOUND => {
                self.forget_parameters(job);
                self.no_such_job(job)
            }
            StatusCode::FOUND => AdapterError::Fatal(format!(
                "{what}: {name} refused to queue the build (302: a queue decision handler said no)"
            )),
            StatusCode::CONFLICT => AdapterError::Fatal(format!(
                "{what}: {name} says the job is not buildable (409: disabled?)"
            )),
            StatusCode::BAD_REQUEST => {
                // The job's parameters may have changed since they were read.
                self.forget_parameters(job);
                self.jenkins.failure(what, reply)
            }
            _ => self.jenkins.failure(what, reply),
        }
    }

    fn lock_parameters(&self) -> std::sync::MutexGuard<'_, super::ParameterCache> {
        self.parameters.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The form of the trigger: the action's parameters, checked against the job's, and the
/// marker. Jenkins drops parameters a job does not define without a word (reference §15.3),
/// so an unknown one is an error here.
fn build_form(
    ctx: &ActionContext,
    config: &JobConfig,
    defined: &[String],
) -> Result<Vec<(String, String)>> {
    let job = &config.job;
    if defined.is_empty() && !config.parameters.is_empty() {
        let given: Vec<&str> = config.parameters.keys().map(String::as_str).collect();
        return Err(AdapterError::Fatal(format!(
            "job `{job}` takes no parameters, but the action gives {}",
            given.join(", ")
        )));
    }
    let unknown: Vec<&str> = config
        .parameters
        .keys()
        .filter(|name| !defined.contains(name))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(AdapterError::Fatal(format!(
            "job `{job}` has no parameter {} (it defines {}); Jenkins would drop it silently",
            unknown.join(", "),
            defined.join(", ")
        )));
    }
    let mut form: Vec<(String, String)> = config
        .parameters
        .iter()
        .filter(|(name, _)| name.as_str() != MARKER)
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    if defined.iter().any(|name| name == MARKER) {
        form.push((MARKER.to_string(), ctx.run_id.clone()));
    }
    Ok(form)
}

/// Whether a send error proves the request never reached Jenkins: the connection was
/// refused (`ServerClient` says "cannot connect"). Timeouts and broken answers prove
/// nothing.
fn never_arrived(error: &AdapterError) -> bool {
    matches!(error, AdapterError::Retryable { message, .. } if message.contains("cannot connect"))
}

/// `http://host/queue/item/1234/` → 1234.
pub fn queue_id_from_location(location: &str) -> Option<u64> {
    let rest = &location[location.find("queue/item/")? + "queue/item/".len()..];
    rest.split('/').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::adapters::jenkins::results::ResultMapping;

    #[test]
    fn queue_ids_from_locations() {
        assert_eq!(
            queue_id_from_location("http://jenkins.example.com:8080/queue/item/1234/"),
            Some(1234)
        );
        assert_eq!(queue_id_from_location("/jenkins/queue/item/7"), Some(7));
        assert_eq!(queue_id_from_location("http://j/job/a/"), None);
        assert_eq!(queue_id_from_location("http://j/queue/item/x/"), None);
    }

    fn config(parameters: &[(&str, &str)]) -> JobConfig {
        JobConfig {
            job: JobPath::parse("team/app").unwrap(),
            parameters: parameters
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            mapping: ResultMapping::default(),
            property_file: None,
        }
    }

    fn ctx() -> ActionContext {
        ActionContext {
            run_id: "exec.3".into(),
            pipeline: "p".into(),
            execution_id: "exec".into(),
            stage: "s".into(),
            action: "a".into(),
            attempt: 1,
            configuration: Default::default(),
            revision: None,
            input_artifacts: Vec::new(),
            execution_link: String::new(),
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_form_carries_parameters_and_the_marker() {
        let form = build_form(
            &ctx(),
            &config(&[("BRANCH", "main"), (MARKER, "forged")]),
            &names(&["BRANCH", MARKER]),
        )
        .unwrap();
        assert_eq!(
            form,
            [
                ("BRANCH".to_string(), "main".to_string()),
                (MARKER.to_string(), "exec.3".to_string())
            ]
        );
        assert!(build_form(&ctx(), &config(&[]), &[]).unwrap().is_empty());
    }

    #[test]
    fn parameters_the_job_does_not_define_are_refused() {
        let error = build_form(&ctx(), &config(&[("X", "1")]), &[]).unwrap_err();
        assert!(error.to_string().contains("takes no parameters"), "{error}");
        let error = build_form(&ctx(), &config(&[("X", "1")]), &names(&["BRANCH"])).unwrap_err();
        assert!(error.to_string().contains("has no parameter X"), "{error}");
    }
}
