//! `baton worker`: a job worker for one custom action type. It long-polls the daemon,
//! acknowledges each job with its nonce (another worker that got the same job loses the
//! race and skips it), runs the command with the job in its environment and reports the
//! exit status and the command's `KEY=VALUE` output lines. Network errors and daemon
//! restarts are retried with backoff; a result is sent until the daemon has it, and the
//! daemon accepts the same result twice, so a job is neither lost nor reported twice.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

use super::args::WorkerArgs;
use super::client::{ApiClient, ClientError};
use super::{stderr_line, CliError};
use crate::api::dto::{
    ActionTypeIdDto, ExecutionDetailsDto, FailureDetailsDto, FailureType, JobDto,
    JobFailureRequest, JobLogRequest, JobSuccessRequest, PollJobsRequest,
};
use crate::model::ActionTypeKey;

/// Output lines with these keys steer the report instead of becoming output variables.
const CONTINUATION_KEY: &str = "BATON_CONTINUATION_TOKEN";
const SUMMARY_KEY: &str = "BATON_SUMMARY";
const EXTERNAL_ID_KEY: &str = "BATON_EXTERNAL_EXECUTION_ID";
const PERCENT_KEY: &str = "BATON_PERCENT_COMPLETE";

/// Output waits at most this long, or until this many bytes gather, before it is sent.
const LOG_FLUSH: Duration = Duration::from_millis(300);
const LOG_CHUNK: usize = 16 * 1024;

pub async fn run(client: ApiClient, args: WorkerArgs) -> Result<u8, CliError> {
    let key = ActionTypeKey::parse(&args.action_type).map_err(CliError::Usage)?;
    let request = PollJobsRequest {
        action_type_id: Some(ActionTypeIdDto {
            category: key.category.to_string(),
            owner: Some("Custom".into()),
            provider: key.provider.clone(),
            version: key.version.clone(),
        }),
        max_batch_size: Some(1),
        wait_seconds: Some(args.poll_wait),
    };
    stderr_line(&format!("baton worker: taking jobs of {key}"));
    let mut done = 0u64;
    let mut delays = backoff();
    while args.max_jobs.is_none_or(|max| done < max) {
        let jobs = match client.poll_jobs(&request).await {
            Ok(answer) => {
                delays = backoff();
                answer.jobs
            }
            Err(error) if retryable(&error) => {
                let delay = delays.next().unwrap_or(Duration::from_secs(30));
                stderr_line(&format!("baton worker: polling failed ({error}); retrying"));
                tokio::time::sleep(delay).await;
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        for job in jobs {
            if work(&client, &args.exec, job).await? {
                done += 1;
            }
        }
    }
    Ok(0)
}

fn backoff() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(30))
        .with_jitter()
        .without_max_times()
        .build()
}

/// Transport failures and a daemon that is restarting or overloaded.
fn retryable(error: &ClientError) -> bool {
    error.is_transient() || matches!(error, ClientError::Api { status: 503, .. })
}

/// Repeats `call` until it gets an answer that is not a transient failure.
async fn persist<T, F, Fut>(what: &str, mut call: F) -> Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ClientError>>,
{
    let mut delays = backoff();
    loop {
        match call().await {
            Err(error) if retryable(&error) => {
                stderr_line(&format!("baton worker: {what} failed ({error}); retrying"));
                let delay = delays.next().unwrap_or(Duration::from_secs(30));
                tokio::time::sleep(delay).await;
            }
            other => return other,
        }
    }
}

/// Takes one job: true when it was ours and reported.
async fn work(client: &ApiClient, command: &str, job: JobDto) -> Result<bool, CliError> {
    let Some(nonce) = job.nonce.clone() else {
        return Ok(false);
    };
    match persist("acknowledging", || client.acknowledge_job(&job.id, &nonce)).await {
        Ok(_) => {}
        // Another worker acknowledged it first, or it was cancelled meanwhile.
        Err(ClientError::Api {
            status: 404 | 409, ..
        }) => {
            stderr_line(&format!(
                "baton worker: job {} went to another worker",
                job.id
            ));
            return Ok(false);
        }
        Err(error) => return Err(error.into()),
    }
    stderr_line(&format!("baton worker: running job {}", job.id));
    let outcome = execute(client, command, &job).await;
    let report = match outcome {
        Ok(ran) if ran.success => {
            let request = ran.success_request();
            persist("reporting", || client.job_success(&job.id, &request)).await
        }
        Ok(ran) => {
            let request = failure(FailureType::JobFailed, ran.failure_message());
            persist("reporting", || client.job_failure(&job.id, &request)).await
        }
        Err(why) => {
            let request = failure(FailureType::ConfigurationError, why);
            persist("reporting", || client.job_failure(&job.id, &request)).await
        }
    };
    match report {
        Ok(status) => {
            stderr_line(&format!(
                "baton worker: job {} reported ({})",
                job.id, status.status
            ));
            Ok(true)
        }
        Err(ClientError::Api {
            status: 404 | 409,
            message,
            ..
        }) => {
            stderr_line(&format!(
                "baton worker: the daemon no longer wants job {}: {message}",
                job.id
            ));
            Ok(false)
        }
        Err(error) => Err(error.into()),
    }
}

fn failure(kind: FailureType, message: String) -> JobFailureRequest {
    JobFailureRequest {
        failure_details: Some(FailureDetailsDto {
            kind,
            message: message.chars().take(5000).collect(),
            external_execution_id: None,
        }),
    }
}

struct Ran {
    success: bool,
    code: Option<i32>,
    outputs: BTreeMap<String, String>,
}

impl Ran {
    fn success_request(&self) -> JobSuccessRequest {
        let mut outputs = self.outputs.clone();
        let continuation = outputs.remove(CONTINUATION_KEY);
        let summary = outputs.remove(SUMMARY_KEY);
        let external = outputs.remove(EXTERNAL_ID_KEY);
        let percent = outputs
            .remove(PERCENT_KEY)
            .and_then(|p| p.trim().parse::<u8>().ok())
            .map(|p| p.min(100));
        let any = summary.is_some() || external.is_some() || percent.is_some();
        let details = any.then_some(ExecutionDetailsDto {
            summary,
            external_execution_id: external,
            percent_complete: percent,
        });
        JobSuccessRequest {
            output_variables: outputs,
            execution_details: details,
            current_revision: None,
            continuation_token: continuation,
        }
    }

    fn failure_message(&self) -> String {
        let summary = self.outputs.get(SUMMARY_KEY);
        match (self.code, summary) {
            (_, Some(summary)) => summary.clone(),
            (Some(code), None) => format!("the command exited with status {code}"),
            (None, None) => "the command was killed by a signal".into(),
        }
    }
}

/// Runs the command for `job`, streaming its output to the daemon as the action's log;
/// Err says why it could not run at all.
async fn execute(client: &ApiClient, command: &str, job: &JobDto) -> Result<Ran, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a work directory: {e}"))?;
    let job_file = dir.path().join("job.json");
    let output_file = dir.path().join("output");
    let text = serde_json::to_vec_pretty(&serde_json::json!({ "id": job.id, "data": job.data }))
        .map_err(|e| e.to_string())?;
    std::fs::write(&job_file, text).map_err(|e| format!("cannot write the job file: {e}"))?;
    std::fs::write(&output_file, b"").map_err(|e| format!("cannot make $BATON_OUTPUT: {e}"))?;

    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .envs(environment(job))
        .env("BATON_JOB_ID", &job.id)
        .env("BATON_JOB_FILE", &job_file)
        .env("BATON_OUTPUT", &output_file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run `{command}`: {e}"))?;
    let (lines, received) = mpsc::unbounded_channel();
    let readers = [
        child
            .stdout
            .take()
            .map(|out| tokio::spawn(forward(out, lines.clone()))),
        child
            .stderr
            .take()
            .map(|err| tokio::spawn(forward(err, lines.clone()))),
    ];
    drop(lines);
    let shipper = tokio::spawn(ship_log(client.clone(), job.id.clone(), received));
    let status = child
        .wait()
        .await
        .map_err(|e| format!("`{command}` could not be waited for: {e}"))?;
    for reader in readers.into_iter().flatten() {
        let _ = reader.await;
    }
    // The whole log is with the daemon before the result is.
    let _ = shipper.await;
    Ok(Ran {
        success: status.success(),
        code: status.code(),
        outputs: read_outputs(&output_file),
    })
}

/// Copies a stream of the command to this worker's stderr and, line by line, to `lines`.
async fn forward(stream: impl AsyncRead + Unpin, lines: mpsc::UnboundedSender<String>) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line).into_owned();
                let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), text.as_bytes());
                let _ = lines.send(text);
            }
        }
    }
}

/// Sends the command's output to the job's log in pieces, each at its byte offset, so a
/// piece resent after a lost answer is stored once. Stops sending (and keeps draining)
/// when the daemon refuses, such as for a job that was cancelled.
async fn ship_log(client: ApiClient, job: String, mut lines: mpsc::UnboundedReceiver<String>) {
    let mut offset = 0u64;
    let mut refused = false;
    let mut pending = String::new();
    let mut flush_at: Option<tokio::time::Instant> = None;
    loop {
        let tick = async {
            match flush_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let (ended, due) = tokio::select! {
            line = lines.recv() => match line {
                Some(line) => {
                    pending.push_str(&line);
                    flush_at.get_or_insert_with(|| tokio::time::Instant::now() + LOG_FLUSH);
                    (false, pending.len() >= LOG_CHUNK)
                }
                None => (true, true),
            },
            () = tick => (false, true),
        };
        if due && !pending.is_empty() {
            flush_at = None;
            let request = JobLogRequest {
                offset,
                text: std::mem::take(&mut pending),
            };
            if !refused {
                match persist("sending the log", || client.append_job_log(&job, &request)).await {
                    Ok(answer) => offset = answer.next_offset,
                    Err(error) => {
                        stderr_line(&format!("baton worker: the log is not taken ({error})"));
                        refused = true;
                    }
                }
            }
        }
        if ended {
            return;
        }
    }
}

/// `BATON_CONFIG_<NAME>` per configuration value, the run's context, the continuation
/// token, and `BATON_INPUT_<ARTIFACT>_<NAME>` per variable of an input artifact's producer.
fn environment(job: &JobDto) -> Vec<(String, String)> {
    let data = &job.data;
    let mut env = Vec::new();
    if let Some(configuration) = data["actionConfiguration"]["configuration"].as_object() {
        for (name, value) in configuration {
            let text = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            env.push((format!("BATON_CONFIG_{}", env_name(name)), text));
        }
    }
    let context = &data["pipelineContext"];
    for (name, value) in [
        ("BATON_PIPELINE", &context["pipelineName"]),
        ("BATON_EXECUTION_ID", &context["pipelineExecutionId"]),
        ("BATON_STAGE", &context["stage"]["name"]),
        ("BATON_ACTION", &context["action"]["name"]),
        ("BATON_RUN_ID", &context["action"]["actionExecutionId"]),
        ("BATON_CONTINUATION_TOKEN", &data["continuationToken"]),
        ("BATON_REVISION", &data["revision"]),
    ] {
        if let Some(text) = value.as_str() {
            env.push((name.to_string(), text.to_string()));
        }
    }
    for artifact in data["inputArtifacts"].as_array().into_iter().flatten() {
        let Some(name) = artifact["name"].as_str() else {
            continue;
        };
        for (key, value) in artifact["variables"].as_object().into_iter().flatten() {
            if let Some(text) = value.as_str() {
                env.push((
                    format!("BATON_INPUT_{}_{}", env_name(name), env_name(key)),
                    text.to_string(),
                ));
            }
        }
    }
    env
}

/// Upper case, with anything but letters and digits as `_`.
fn env_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// `KEY=VALUE` lines; others are ignored, and a later key wins.
fn read_outputs(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let (key, value) = line.split_once('=')?;
            let key = key.trim();
            (!key.is_empty()).then(|| (key.to_string(), value.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_lines_become_variables_and_steering_keys_do_not() {
        let ran = Ran {
            success: true,
            code: Some(0),
            outputs: BTreeMap::from([
                ("URL".to_string(), "https://x".to_string()),
                (CONTINUATION_KEY.to_string(), "step-2".to_string()),
                (PERCENT_KEY.to_string(), "140".to_string()),
            ]),
        };
        let request = ran.success_request();
        assert_eq!(
            request.output_variables,
            BTreeMap::from([("URL".to_string(), "https://x".to_string())])
        );
        assert_eq!(request.continuation_token.as_deref(), Some("step-2"));
        assert_eq!(
            request.execution_details.unwrap().percent_complete,
            Some(100)
        );
    }

    #[test]
    fn configuration_names_become_environment_names() {
        assert_eq!(env_name("TargetEnv"), "TARGETENV");
        assert_eq!(env_name("image-tag.v2"), "IMAGE_TAG_V2");
    }
}
