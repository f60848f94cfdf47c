//! The crash and fault campaign: many executions of one pipeline that spans Jenkins and
//! TeamCity, run side by side by the real `baton serve` binary while the simulated CI
//! servers misbehave (5xx, 429 with Retry-After, slow answers, dropped connections,
//! answers lost after the server acted, restarts) and the daemon is killed with SIGKILL
//! and started again on the same data directory and port. Every choice (plans, fault
//! kinds and counts, kill and restart moments) comes from one seed.
//!
//! At the end, with faults off and everything drained, it checks that each execution
//! ended as it should, that every action run triggered exactly one CI build, that no
//! acknowledged approval and no finished build's result was lost, that nothing is stuck,
//! and that the SQLite store is intact; it prints a table and panics on any failure.
//!
//! `cargo test` runs the short campaign. A long one:
//! `cargo test --release --test campaign -- --executions 1000 --kills 200 --seed 7`
//! (or `BATON_CAMPAIGN_EXECUTIONS`, `BATON_CAMPAIGN_KILLS`, `BATON_CAMPAIGN_SEED`).

#[allow(dead_code)]
#[path = "daemon/helpers.rs"]
mod helpers;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton::api::dto::{ActionDto, ExecutionDetail};
use baton::sim::jenkins::{JenkinsSim, JenkinsSimOptions, JobSpec, ParamSpec};
use baton::sim::teamcity::{BuildTypeSpec, TeamCitySim, TeamCitySimOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::RwLock;
use tokio::time::Instant;

use helpers::{urlencode, Daemon, GitRepo};

const PIPELINE: &str = "campaign";
const JK_USER: &str = "baton";
const JK_TOKEN: &str = "11campaign0000aaaabbbbccccdddd11";
const TC_TOKEN: &str = "tc-campaign-token-0123456789";
const SECRET: &str = "campaign-callback-secret-0123456789";
const JOB_BUILD: &str = "campaign/build";
const JOB_UNIT: &str = "campaign/unit";
const TC_TEST: &str = "Campaign_Integration";
const TC_DEPLOY: &str = "Campaign_Deploy";
const JENKINS_MARKER: &str = baton::adapters::jenkins::MARKER;
const TEAMCITY_MARKER: &str = "baton.action.run";

/// How long one execution may take, from its start, before it counts as stuck.
const EXECUTION_PATIENCE: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
struct Args {
    executions: usize,
    kills: usize,
    seed: u64,
    /// Executions in flight at once.
    parallel: usize,
}

impl Args {
    /// The campaign's own options; libtest's flags and filters, which `cargo test`
    /// passes to every target, are ignored.
    fn parse() -> Option<Args> {
        fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        }
        let mut args = Args {
            executions: env("BATON_CAMPAIGN_EXECUTIONS", 50),
            kills: env("BATON_CAMPAIGN_KILLS", 20),
            seed: env("BATON_CAMPAIGN_SEED", 1),
            parallel: env("BATON_CAMPAIGN_PARALLEL", 6),
        };
        let mut given = std::env::args().skip(1);
        while let Some(arg) = given.next() {
            if arg == "--list" {
                println!("campaign: test");
                return None;
            }
            let (key, inline) = match arg.split_once('=') {
                Some((key, value)) => (key.to_string(), Some(value.to_string())),
                None => (arg.clone(), None),
            };
            if !["--executions", "--kills", "--seed", "--parallel"].contains(&key.as_str()) {
                continue;
            }
            let value = inline
                .or_else(|| given.next())
                .unwrap_or_else(|| panic!("{key} needs a value"));
            let number: u64 = value
                .parse()
                .unwrap_or_else(|_| panic!("{key} {value}: not a number"));
            match key.as_str() {
                "--executions" => args.executions = number as usize,
                "--kills" => args.kills = number as usize,
                "--seed" => args.seed = number,
                _ => args.parallel = (number as usize).max(1),
            }
        }
        Some(args)
    }
}

fn main() {
    let Some(args) = Args::parse() else { return };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(campaign(args));
}

/// What the harness decided up front about one execution.
#[derive(Debug, Clone)]
struct Plan {
    index: usize,
    build_ms: u64,
    unit_ms: u64,
    integration_ms: u64,
    /// How long the harness lets each deploy build run before it finishes it.
    deploy_ms: u64,
    /// The approval is a rejection: the execution should fail at Approve.
    reject: bool,
    /// The first deploy build fails, and the harness retries the stage.
    fail_first_deploy: bool,
}

impl Plan {
    fn expected(&self) -> &'static str {
        if self.reject {
            "Failed"
        } else {
            "Succeeded"
        }
    }

    fn comment(&self) -> String {
        format!("campaign decision for execution #{}", self.index)
    }
}

/// What happened to one execution, as the harness saw it.
#[derive(Debug, Default)]
struct Record {
    id: Option<String>,
    /// The approval the daemon acknowledged (200), or one a lost answer had already
    /// recorded (found on the execution when the repeat was refused).
    approval_acknowledged: bool,
    retry_acknowledged: bool,
    /// Why the harness gave up on it, if it did.
    problem: Option<String>,
}

#[derive(Debug, Default)]
struct Counters {
    faults: BTreeMap<&'static str, usize>,
    jenkins_restarts: usize,
    teamcity_restarts: usize,
    kills: usize,
    /// Requests the harness sent again because the daemon was down or answered 5xx.
    resent: usize,
    approvals_acknowledged: usize,
    retries_acknowledged: usize,
    answers_lost_but_done: usize,
}

/// The deploy builds the harness finished, by run id: the result it gave.
type Finished = Mutex<HashMap<String, &'static str>>;

struct Shared {
    url: String,
    token: String,
    http: reqwest::Client,
    started: AtomicUsize,
    /// Execution id → plan, for the deploy watcher.
    plans: Mutex<HashMap<String, Plan>>,
    known: Mutex<HashSet<String>>,
    counters: Mutex<Counters>,
    finished_deploys: Finished,
    /// Run ids of deploy builds failed on purpose whose stage was then retried.
    failed_deploy_runs: Mutex<HashSet<String>>,
    /// The deploy watcher goes on while this holds.
    running: AtomicBool,
    /// Faults are injected while this holds.
    faulty: AtomicBool,
}

impl Shared {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Option<(u16, Value)> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.ok()?;
        let status = response.status().as_u16();
        let text = response.text().await.ok()?;
        Some((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    fn count(&self, what: impl FnOnce(&mut Counters)) {
        what(&mut self.counters.lock().unwrap());
    }

    /// GETs until the daemon answers something other than a 5xx.
    async fn get_answered(&self, path: &str) -> (u16, Value) {
        loop {
            match self.call(Method::GET, path, None).await {
                Some((status, body)) if status < 500 => return (status, body),
                _ => {
                    self.count(|c| c.resent += 1);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    async fn detail(&self, id: &str) -> Option<ExecutionDetail> {
        let (status, body) = self.get_answered(&format!("/api/v1/executions/{id}")).await;
        (status == 200).then(|| serde_json::from_value(body).expect("an execution's JSON"))
    }
}

fn find_action<'a>(e: &'a ExecutionDetail, stage: &str, action: &str) -> Option<&'a ActionDto> {
    e.stages
        .iter()
        .find(|s| s.name == stage)?
        .actions
        .iter()
        .find(|a| a.name == action)
}

fn stage<'a>(e: &'a ExecutionDetail, name: &str) -> Option<&'a baton::api::dto::StageDto> {
    e.stages.iter().find(|s| s.name == name)
}

fn terminal(status: &str) -> bool {
    matches!(status, "Succeeded" | "Failed" | "Stopped" | "Superseded")
}

fn pipeline(repo: &str) -> String {
    format!(
        r##"name: {PIPELINE}
executionMode: PARALLEL
variables:
  - {{name: INDEX, defaultValue: "0"}}
  - {{name: BUILD_MS, defaultValue: "100"}}
  - {{name: UNIT_MS, defaultValue: "100"}}
  - {{name: INTEGRATION_MS, defaultValue: "100"}}
stages:
  - name: Source
    actions:
      - {{name: Checkout, provider: Git, namespace: Src, configuration: {{RepositoryUrl: "{repo}", BranchName: main}}}}
  - name: Build
    actions:
      - name: Compile
        provider: Jenkins
        configuration:
          Server: jk
          ProjectName: {JOB_BUILD}
          Parameters: {{COMMIT: "#{{Src.CommitId}}", SIM_DURATION_MS: "#{{variables.BUILD_MS}}"}}
  - name: Test
    actions:
      - name: Unit
        provider: Jenkins
        runOrder: 1
        configuration:
          Server: jk
          ProjectName: {JOB_UNIT}
          Parameters: {{SIM_DURATION_MS: "#{{variables.UNIT_MS}}"}}
      - name: Integration
        provider: TeamCity
        runOrder: 1
        configuration:
          Server: tc
          BuildType: {TC_TEST}
          Properties: {{sim.duration.ms: "#{{variables.INTEGRATION_MS}}"}}
  - name: Approve
    actions:
      - {{name: Gate, provider: Manual}}
  - name: Deploy
    actions:
      - name: Ship
        provider: TeamCity
        configuration:
          Server: tc
          BuildType: {TC_DEPLOY}
          Properties: {{env.CAMPAIGN_INDEX: "#{{variables.INDEX}}"}}
"##
    )
}

/// The kinds of fault the injector queues, as the table names them.
const FAULT_KINDS: [&str; 5] = [
    "5xx",
    "429 with Retry-After",
    "slow answer",
    "dropped connection",
    "answer lost after acting",
];

/// The CI actions of the pipeline: (stage, action).
const CI_ACTIONS: [(&str, &str); 4] = [
    ("Build", "Compile"),
    ("Test", "Unit"),
    ("Test", "Integration"),
    ("Deploy", "Ship"),
];

async fn campaign(args: Args) {
    let began = Instant::now();
    let mut rng = StdRng::seed_from_u64(args.seed);
    println!(
        "campaign: {} executions, {} kills, seed {}, {} in flight",
        args.executions, args.kills, args.seed, args.parallel
    );
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let daemon_url = format!("http://127.0.0.1:{port}");

    let jenkins = JenkinsSim::start_with(JenkinsSimOptions {
        users: vec![(JK_USER.into(), JK_TOKEN.into())],
        seed: args.seed,
        ..JenkinsSimOptions::default()
    })
    .expect("the Jenkins simulator starts");
    let teamcity = TeamCitySim::start_with(TeamCitySimOptions {
        token: Some(TC_TOKEN.into()),
        ..TeamCitySimOptions::default()
    })
    .expect("the TeamCity simulator starts");
    let notify = format!("{daemon_url}/hooks/jenkins/jk?token={SECRET}");
    let marker = || ParamSpec::new(JENKINS_MARKER, None);
    let duration = || ParamSpec::new("SIM_DURATION_MS", Some("100"));
    jenkins.add_job(
        JOB_BUILD,
        JobSpec {
            parameters: vec![ParamSpec::new("COMMIT", None), duration(), marker()],
            log: "compiling\npackaging\n".into(),
            notify_url: Some(notify.clone()),
            ..JobSpec::default()
        },
    );
    jenkins.add_job(
        JOB_UNIT,
        JobSpec {
            parameters: vec![duration(), marker()],
            log: "testing\n".into(),
            notify_url: Some(notify),
            ..JobSpec::default()
        },
    );
    let webhook = format!("{daemon_url}/hooks/teamcity/tc?token={SECRET}");
    teamcity.add_build_type(
        TC_TEST,
        BuildTypeSpec {
            log: "integration tests\n".into(),
            webhook_url: Some(webhook.clone()),
            ..BuildTypeSpec::default()
        },
    );
    teamcity.add_build_type(
        TC_DEPLOY,
        BuildTypeSpec {
            hold: true,
            log: "deploying\n".into(),
            webhook_url: Some(webhook),
            ..BuildTypeSpec::default()
        },
    );

    // Polling slow enough that callbacks matter, fast enough that a restart (whose
    // callbacks went nowhere) recovers in seconds.
    let servers = format!(
        "servers:
  - name: jk
    kind: jenkins
    url: {jk}
    user: {JK_USER}
    token: {JK_TOKEN}
    poll_interval: 1s
    max_poll_interval: 3s
    request_timeout: 2s
    rate_limit: {{per_second: 200, burst: 100}}
    callback:
      secret: {SECRET}
  - name: tc
    kind: teamcity
    url: {tc}
    token: {TC_TOKEN}
    poll_interval: 1s
    max_poll_interval: 3s
    request_timeout: 2s
    rate_limit: {{per_second: 200, burst: 100}}
    callback:
      secret: {SECRET}
",
        jk = jenkins.url(),
        tc = teamcity.url(),
    );
    let daemon =
        Daemon::start_listening(dir.path(), &format!("127.0.0.1:{port}"), &servers, &[]).await;
    assert_eq!(daemon.url, daemon_url);
    daemon.apply(PIPELINE, &pipeline(&repo.url)).await;

    let plans: Vec<Plan> = (0..args.executions)
        .map(|index| {
            let reject = rng.random_bool(0.1);
            Plan {
                index,
                build_ms: rng.random_range(50..400),
                unit_ms: rng.random_range(50..600),
                integration_ms: rng.random_range(50..600),
                deploy_ms: rng.random_range(50..500),
                reject,
                fail_first_deploy: !reject && rng.random_bool(0.3),
            }
        })
        .collect();
    let mut kill_points: Vec<usize> = (0..args.kills)
        .map(|_| rng.random_range(1..args.executions.max(2)))
        .collect();
    kill_points.sort_unstable();
    let restarts_each = (args.executions / 250).max(1);
    let restart_points = |rng: &mut StdRng| -> Vec<usize> {
        let mut points: Vec<usize> = (0..restarts_each)
            .map(|k| {
                let slice = args.executions / restarts_each;
                k * slice + rng.random_range(slice / 4..(3 * slice / 4).max(slice / 4 + 1))
            })
            .collect();
        points.sort_unstable();
        points
    };
    let jenkins_restarts = restart_points(&mut rng);
    let teamcity_restarts = restart_points(&mut rng);

    let shared = Arc::new(Shared {
        url: daemon.url.clone(),
        token: daemon.token.clone(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        started: AtomicUsize::new(0),
        plans: Mutex::new(HashMap::new()),
        known: Mutex::new(HashSet::new()),
        counters: Mutex::new(Counters::default()),
        finished_deploys: Mutex::new(HashMap::new()),
        failed_deploy_runs: Mutex::new(HashSet::new()),
        running: AtomicBool::new(true),
        faulty: AtomicBool::new(true),
    });
    let jenkins = Arc::new(RwLock::new(jenkins));
    let teamcity = Arc::new(RwLock::new(teamcity));
    let daemon = Arc::new(tokio::sync::Mutex::new(daemon));

    let watcher = tokio::spawn(deploy_watcher(
        shared.clone(),
        teamcity.clone(),
        StdRng::seed_from_u64(args.seed ^ 0xdeb1),
    ));
    let faults = tokio::spawn(fault_injector(
        shared.clone(),
        jenkins.clone(),
        teamcity.clone(),
        StdRng::seed_from_u64(args.seed ^ 0xfa17),
        jenkins_restarts,
        teamcity_restarts,
    ));
    let killer = tokio::spawn(killer(
        shared.clone(),
        daemon.clone(),
        StdRng::seed_from_u64(args.seed ^ 0x5191),
        kill_points,
    ));

    // Start every execution, keeping `parallel` in flight.
    let slots = Arc::new(tokio::sync::Semaphore::new(args.parallel));
    let mut tasks = Vec::new();
    for plan in &plans {
        let plan = plan.clone();
        let permit = slots.clone().acquire_owned().await.unwrap();
        let shared = shared.clone();
        tasks.push(tokio::spawn(async move {
            let record = drive(&shared, &plan).await;
            drop(permit);
            record
        }));
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..100))).await;
    }
    // Every execution has started: after the last kill, faults stop and all drains.
    killer.await.expect("the killer does not panic");
    shared.faulty.store(false, Ordering::SeqCst);
    faults.await.expect("the fault injector does not panic");
    jenkins.read().await.fault_rate(0, 0);
    teamcity.read().await.fault_rate(0, 0, 0);
    let mut records = Vec::new();
    for task in tasks {
        records.push(task.await.expect("an execution's driver does not panic"));
    }
    shared.running.store(false, Ordering::SeqCst);
    watcher.await.expect("the deploy watcher does not panic");
    let drained = began.elapsed();

    // With every execution finished (or given up on), faults off: check.
    let jenkins = Arc::try_unwrap(jenkins).unwrap().into_inner();
    let teamcity = Arc::try_unwrap(teamcity).unwrap().into_inner();
    let Ok(daemon) = Arc::try_unwrap(daemon) else {
        panic!("the killer still holds the daemon")
    };
    let mut daemon = daemon.into_inner();
    verify(
        &args,
        &shared,
        &plans,
        &records,
        &jenkins,
        &teamcity,
        &mut daemon,
        drained,
    )
    .await;
}

/// Starts one execution and sees it through: approves (or rejects) it, retries a deploy
/// that failed on purpose, and resends what the daemon did not acknowledge.
async fn drive(shared: &Shared, plan: &Plan) -> Record {
    let mut record = Record::default();
    let id = start(shared, plan).await;
    shared.started.fetch_add(1, Ordering::SeqCst);
    shared
        .plans
        .lock()
        .unwrap()
        .insert(id.clone(), plan.clone());
    record.id = Some(id.clone());
    let deadline = Instant::now() + EXECUTION_PATIENCE;
    let mut since: Option<String> = None;
    loop {
        if Instant::now() > deadline {
            record.problem = Some("not finished within the deadline".into());
            return record;
        }
        let path = match &since {
            Some(since) => format!("/api/v1/executions/{id}?since={}", urlencode(since)),
            None => format!("/api/v1/executions/{id}"),
        };
        let detail: ExecutionDetail = match shared.call(Method::GET, &path, None).await {
            Some((200, body)) => serde_json::from_value(body).expect("an execution's JSON"),
            Some((404, body)) => {
                record.problem = Some(format!("the acknowledged execution is gone: {body}"));
                return record;
            }
            _ => {
                since = None;
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        since = Some(
            detail
                .updated_at
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        );
        let status = detail.summary.status.as_str();
        let deploy = stage(&detail, "Deploy");
        if status == "Failed"
            && plan.fail_first_deploy
            && !record.retry_acknowledged
            && deploy.is_some_and(|s| s.status.as_deref() == Some("Failed") && s.attempt == 1)
        {
            if let Some(ship) =
                find_action(&detail, "Deploy", "Ship").and_then(|a| a.run_id.clone())
            {
                shared.failed_deploy_runs.lock().unwrap().insert(ship);
            }
            match retry(shared, &id).await {
                Ok(()) => record.retry_acknowledged = true,
                Err(problem) => {
                    record.problem = Some(problem);
                    return record;
                }
            }
            continue;
        }
        if terminal(status) {
            return record;
        }
        let gate = find_action(&detail, "Approve", "Gate");
        if !record.approval_acknowledged
            && gate.is_some_and(|g| g.status.as_deref() == Some("InProgress"))
        {
            match approve(shared, &id, plan).await {
                Ok(()) => record.approval_acknowledged = true,
                Err(problem) => {
                    record.problem = Some(problem);
                    return record;
                }
            }
        }
    }
}

/// Starts the execution, sending again until the daemon acknowledges it; after an answer
/// that never came, it first looks whether the execution was started after all.
async fn start(shared: &Shared, plan: &Plan) -> String {
    let body = json!({"variables": {
        "INDEX": plan.index.to_string(),
        "BUILD_MS": plan.build_ms.to_string(),
        "UNIT_MS": plan.unit_ms.to_string(),
        "INTEGRATION_MS": plan.integration_ms.to_string(),
    }});
    let path = format!("/api/v1/pipelines/{PIPELINE}/executions");
    loop {
        match shared.call(Method::POST, &path, Some(body.clone())).await {
            Some((201, answer)) => {
                let id = answer["id"].as_str().expect("an id").to_string();
                shared.known.lock().unwrap().insert(id.clone());
                return id;
            }
            Some((status, answer)) if status < 500 => {
                panic!(
                    "starting execution #{} was refused: {status} {answer}",
                    plan.index
                )
            }
            _ => {}
        }
        shared.count(|c| c.resent += 1);
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some(id) = started_after_all(shared, plan).await {
            shared.count(|c| c.answers_lost_but_done += 1);
            shared.known.lock().unwrap().insert(id.clone());
            return id;
        }
    }
}

/// The execution of `plan` that a start whose answer was lost created, if any.
async fn started_after_all(shared: &Shared, plan: &Plan) -> Option<String> {
    let (status, history) = shared
        .get_answered(&format!(
            "/api/v1/pipelines/{PIPELINE}/executions?limit=100"
        ))
        .await;
    assert_eq!(status, 200, "history: {history}");
    let unknown: Vec<String> = history
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|e| e["id"].as_str().map(str::to_string))
        .filter(|id| !shared.known.lock().unwrap().contains(id))
        .collect();
    for id in unknown {
        let detail = shared.detail(&id).await?;
        if detail.variables.get("INDEX") == Some(&plan.index.to_string()) {
            return Some(id);
        }
    }
    None
}

/// Decides the approval, sending again until the daemon acknowledges it.
async fn approve(shared: &Shared, id: &str, plan: &Plan) -> Result<(), String> {
    let path = format!("/api/v1/executions/{id}/stages/Approve/actions/Gate/approval");
    let body = json!({"approved": !plan.reject, "comment": plan.comment()});
    let recorded = |e: &ExecutionDetail| {
        find_action(e, "Approve", "Gate").is_some_and(|g| {
            g.approvals
                .iter()
                .any(|a| a.comment.as_deref() == Some(&plan.comment()) && a.approved != plan.reject)
        })
    };
    until_acknowledged(shared, id, &path, body, recorded).await?;
    shared.count(|c| c.approvals_acknowledged += 1);
    Ok(())
}

/// Retries the failed Deploy stage, sending again until the daemon acknowledges it.
async fn retry(shared: &Shared, id: &str) -> Result<(), String> {
    let path = format!("/api/v1/executions/{id}/stages/Deploy/retry");
    let body = json!({"mode": "FAILED_ACTIONS"});
    let retried = |e: &ExecutionDetail| stage(e, "Deploy").is_some_and(|s| s.attempt >= 2);
    until_acknowledged(shared, id, &path, body, retried).await?;
    shared.count(|c| c.retries_acknowledged += 1);
    Ok(())
}

/// POSTs a command about execution `id` until the daemon acknowledges it. When an
/// earlier attempt's answer was lost, a refusal is fine if the execution shows that
/// the command took effect (`done`).
async fn until_acknowledged(
    shared: &Shared,
    id: &str,
    path: &str,
    body: Value,
    done: impl Fn(&ExecutionDetail) -> bool,
) -> Result<(), String> {
    let mut resent = false;
    loop {
        match shared.call(Method::POST, path, Some(body.clone())).await {
            Some((200, _)) => return Ok(()),
            Some((status, answer)) if status < 500 => {
                if resent && shared.detail(id).await.is_some_and(|e| done(&e)) {
                    shared.count(|c| c.answers_lost_but_done += 1);
                    return Ok(());
                }
                return Err(format!("{path} was refused: {status} {answer}"));
            }
            _ => {
                resent = true;
                shared.count(|c| c.resent += 1);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Finishes the held deploy builds after their planned time: the first one of an
/// execution planned to fail with FAILURE, every other with SUCCESS.
async fn deploy_watcher(shared: Arc<Shared>, teamcity: Arc<RwLock<TeamCitySim>>, mut rng: StdRng) {
    let mut cursor = 0;
    let mut due: BTreeMap<u64, (Instant, &'static str, String)> = BTreeMap::new();
    let mut failed_executions: HashSet<String> = HashSet::new();
    while shared.running.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(25)).await;
        let tc = teamcity.read().await;
        let builds = tc.builds_from(cursor);
        let mut next_cursor = None;
        for build in &builds {
            if build.build_type != TC_DEPLOY || build.state == "finished" {
                continue;
            }
            next_cursor.get_or_insert(build.id);
            if build.state != "running" || due.contains_key(&build.id) {
                continue;
            }
            let Some(run) = build.properties.get(TEAMCITY_MARKER) else {
                continue;
            };
            let execution = run.rsplit_once('.').map_or(run.as_str(), |(e, _)| e);
            let Some(plan) = shared.plans.lock().unwrap().get(execution).cloned() else {
                continue;
            };
            let fail = plan.fail_first_deploy && failed_executions.insert(execution.to_string());
            let result = if fail { "FAILURE" } else { "SUCCESS" };
            let after = Duration::from_millis(plan.deploy_ms + rng.random_range(0..50));
            due.insert(build.id, (Instant::now() + after, result, run.clone()));
        }
        cursor = next_cursor.unwrap_or_else(|| builds.last().map_or(cursor, |b| b.id + 1));
        let now = Instant::now();
        let ready: Vec<u64> = due
            .iter()
            .filter(|(_, (at, _, _))| *at <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in ready {
            let (_, result, run) = due.remove(&id).unwrap();
            if tc.finish(id, result, &format!("campaign: {result}")) {
                shared.finished_deploys.lock().unwrap().insert(run, result);
            }
        }
    }
}

/// Queues faults on the simulators at seeded moments, and restarts each of them when
/// the campaign passes its restart points.
async fn fault_injector(
    shared: Arc<Shared>,
    jenkins: Arc<RwLock<JenkinsSim>>,
    teamcity: Arc<RwLock<TeamCitySim>>,
    mut rng: StdRng,
    mut jenkins_restarts: Vec<usize>,
    mut teamcity_restarts: Vec<usize>,
) {
    jenkins_restarts.reverse();
    teamcity_restarts.reverse();
    let (mut next_jenkins, mut next_teamcity) = (0, 0);
    while shared.faulty.load(Ordering::SeqCst)
        || !jenkins_restarts.is_empty()
        || !teamcity_restarts.is_empty()
    {
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..200))).await;
        let started = shared.started.load(Ordering::SeqCst);
        if jenkins_restarts.last().is_some_and(|&at| started >= at) {
            jenkins_restarts.pop();
            let down = Duration::from_millis(rng.random_range(200..1500));
            let mut jk = jenkins.write().await;
            jk.stop().await;
            tokio::time::sleep(down).await;
            jk.restart().await.expect("Jenkins comes back on its port");
            shared.count(|c| c.jenkins_restarts += 1);
            continue;
        }
        if teamcity_restarts.last().is_some_and(|&at| started >= at) {
            teamcity_restarts.pop();
            let down = Duration::from_millis(rng.random_range(200..1500));
            let mut tc = teamcity.write().await;
            tc.stop().await;
            tokio::time::sleep(down).await;
            tc.resume().expect("TeamCity comes back on its port");
            shared.count(|c| c.teamcity_restarts += 1);
            continue;
        }
        if !shared.faulty.load(Ordering::SeqCst) {
            continue;
        }
        // Faults follow the traffic (about one in every 5 to 25 requests a server
        // gets): queued faults hit the next requests whatever their number, so a fixed
        // pace would fault nearly every request while traffic is low.
        let jk_requests = jenkins.read().await.stats().requests_total as usize;
        let tc_requests = teamcity.read().await.stats().total_requests;
        let on_jenkins = if jk_requests >= next_jenkins {
            next_jenkins = jk_requests + rng.random_range(5..25);
            true
        } else if tc_requests >= next_teamcity {
            next_teamcity = tc_requests + rng.random_range(5..25);
            false
        } else {
            continue;
        };
        let roll = rng.random_range(0..100);
        let n = rng.random_range(1..=3);
        let jk = jenkins.read().await;
        let tc = teamcity.read().await;
        let kind = match roll {
            0..25 => {
                let status = [500, 502, 503][rng.random_range(0..3)];
                if on_jenkins {
                    jk.fail_next(n, status)
                } else {
                    tc.fail_next(n, status)
                }
                "5xx"
            }
            25..35 => {
                if on_jenkins {
                    jk.throttle_next(n, Duration::from_secs(1))
                } else {
                    tc.throttle_next(n, Duration::from_secs(1))
                }
                "429 with Retry-After"
            }
            35..55 => {
                // Some answers come after the daemon's 2 s request timeout.
                let delay = Duration::from_millis(rng.random_range(300..3000));
                if on_jenkins {
                    jk.delay_next(n, delay)
                } else {
                    tc.delay_next(n, delay)
                }
                "slow answer"
            }
            55..75 => {
                if on_jenkins {
                    jk.drop_next(n)
                } else {
                    tc.drop_next(n)
                }
                "dropped connection"
            }
            _ => {
                let status = [502, 504][rng.random_range(0..2)];
                if on_jenkins {
                    jk.lose_next_responses(n, status)
                } else {
                    tc.lose_next_responses(n, status)
                }
                "answer lost after acting"
            }
        };
        let server = if on_jenkins { "Jenkins" } else { "TeamCity" };
        shared.count(|c| {
            *c.faults.entry(kind).or_default() += n;
            *c.faults.entry(server).or_default() += n;
        });
    }
}

/// SIGKILLs the daemon once the campaign passes each kill point (after a seeded extra
/// moment), and starts it again on the same data directory and port.
async fn killer(
    shared: Arc<Shared>,
    daemon: Arc<tokio::sync::Mutex<Daemon>>,
    mut rng: StdRng,
    points: Vec<usize>,
) {
    for point in points {
        while shared.started.load(Ordering::SeqCst) < point {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..1500))).await;
        let mut daemon = daemon.lock().await;
        daemon.kill9().await;
        shared.count(|c| c.kills += 1);
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..500))).await;
        daemon.restart().await;
        assert_eq!(daemon.url, shared.url, "the daemon came back on its port");
    }
}

/// One CI build as the server has it.
#[derive(Debug)]
struct CiBuild {
    server: &'static str,
    what: String,
    run: Option<String>,
    /// `Some(result)` once finished: SUCCESS, FAILURE, …
    result: Option<String>,
}

async fn jenkins_builds(jenkins: &JenkinsSim) -> Vec<CiBuild> {
    let http = reqwest::Client::new();
    let mut builds = Vec::new();
    for job in [JOB_BUILD, JOB_UNIT] {
        let job_path: String = job.split('/').map(|s| format!("/job/{s}")).collect();
        for (number, _) in jenkins.builds(job) {
            let url = format!("{}{job_path}/{number}/api/json", jenkins.url());
            // Faults queued last may still be waiting for a request to hit.
            let mut answer = Err(String::new());
            for _ in 0..100 {
                let response = http
                    .get(&url)
                    .basic_auth(JK_USER, Some(JK_TOKEN))
                    .send()
                    .await;
                answer = match response {
                    Ok(response) if response.status() == StatusCode::OK => {
                        response.json::<Value>().await.map_err(|e| e.to_string())
                    }
                    Ok(response) => Err(response.status().to_string()),
                    Err(e) => Err(e.to_string()),
                };
                if answer.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let json = answer.unwrap_or_else(|e| panic!("Jenkins answers for {url}: {e}"));
            let run = json["actions"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|a| a["parameters"].as_array().into_iter().flatten())
                .find(|p| p["name"] == JENKINS_MARKER)
                .and_then(|p| p["value"].as_str().map(str::to_string))
                .filter(|v| !v.is_empty());
            let result = if json["building"] == true {
                None
            } else {
                json["result"].as_str().map(str::to_string)
            };
            builds.push(CiBuild {
                server: "Jenkins",
                what: format!("{job} #{number}"),
                run,
                result,
            });
        }
    }
    builds
}

fn teamcity_builds(teamcity: &TeamCitySim) -> Vec<CiBuild> {
    teamcity
        .builds()
        .into_iter()
        .map(|b| CiBuild {
            server: "TeamCity",
            what: format!("{} id {}", b.build_type, b.id),
            run: b.properties.get(TEAMCITY_MARKER).cloned(),
            result: (b.state == "finished").then(|| b.status.clone().unwrap_or_default()),
        })
        .collect()
}

fn action_status_for(result: &str) -> &'static str {
    if result == "SUCCESS" {
        "Succeeded"
    } else {
        "Failed"
    }
}

#[allow(clippy::too_many_arguments)]
async fn verify(
    args: &Args,
    shared: &Shared,
    plans: &[Plan],
    records: &[Record],
    jenkins: &JenkinsSim,
    teamcity: &TeamCitySim,
    daemon: &mut Daemon,
    drained: Duration,
) {
    let mut failures: Vec<String> = Vec::new();
    let mut details: HashMap<String, ExecutionDetail> = HashMap::new();
    let (mut as_expected, mut not_as_expected, mut stuck) = (0, 0, 0);
    let mut approvals_lost = 0;
    for (plan, record) in plans.iter().zip(records) {
        let Some(id) = &record.id else { continue };
        let Some(detail) = shared.detail(id).await else {
            failures.push(format!("execution #{} ({id}) is gone", plan.index));
            stuck += 1;
            continue;
        };
        let status = detail.summary.status.clone();
        if !terminal(&status) {
            stuck += 1;
            failures.push(format!(
                "execution #{} ({id}) is stuck: {status}, in {:?}",
                plan.index, detail.current_stage
            ));
        } else if status == plan.expected() {
            as_expected += 1;
        } else {
            not_as_expected += 1;
            let errors: Vec<String> = detail
                .stages
                .iter()
                .flat_map(|s| &s.actions)
                .filter_map(|a| a.error.as_ref().map(|e| format!("{}: {e}", a.name)))
                .collect();
            failures.push(format!(
                "execution #{} ({id}) ended {status}, expected {}: {errors:?}",
                plan.index,
                plan.expected()
            ));
        }
        if let Some(problem) = &record.problem {
            failures.push(format!("execution #{} ({id}): {problem}", plan.index));
        }
        if record.approval_acknowledged {
            let gate = find_action(&detail, "Approve", "Gate");
            let took_effect = gate.is_some_and(|g| {
                g.approvals
                    .iter()
                    .any(|a| a.comment.as_deref() == Some(&plan.comment()))
                    && g.status.as_deref() == Some(if plan.reject { "Failed" } else { "Succeeded" })
            });
            if !took_effect {
                approvals_lost += 1;
                failures.push(format!(
                    "execution #{} ({id}): the acknowledged approval did not take effect: {gate:#?}",
                    plan.index
                ));
            }
        }
        if plan.fail_first_deploy && !record.retry_acknowledged && terminal(&status) {
            failures.push(format!(
                "execution #{} ({id}): the deploy was planned to fail once and be retried, \
                 but no retry was acknowledged",
                plan.index
            ));
        }
        details.insert(id.clone(), detail);
    }

    // Every build names a known run, every run has exactly one build, and each finished
    // build's result is the result of its run.
    let mut builds = jenkins_builds(jenkins).await;
    builds.extend(teamcity_builds(teamcity));
    let current_runs: HashMap<String, (String, &ActionDto)> = details
        .iter()
        .flat_map(|(id, e)| {
            CI_ACTIONS.iter().filter_map(move |(s, a)| {
                let action = find_action(e, s, a)?;
                Some((action.run_id.clone()?, (id.clone(), action)))
            })
        })
        .collect();
    let failed_deploys = shared.failed_deploy_runs.lock().unwrap().clone();
    let mut by_run: BTreeMap<String, Vec<&CiBuild>> = BTreeMap::new();
    let mut unknown_builds = 0;
    let mut builds_lost = 0;
    for build in &builds {
        let Some(run) = &build.run else {
            unknown_builds += 1;
            failures.push(format!(
                "{} build {} carries no run marker",
                build.server, build.what
            ));
            continue;
        };
        by_run.entry(run.clone()).or_default().push(build);
        match current_runs.get(run) {
            Some((id, action)) => {
                let expected = build.result.as_deref().map(action_status_for);
                if expected.is_none() || action.status.as_deref() != expected {
                    builds_lost += 1;
                    failures.push(format!(
                        "execution {id}: {} build {} of run {run} is {:?}, but {} is {:?}",
                        build.server, build.what, build.result, action.name, action.status
                    ));
                }
            }
            None if failed_deploys.contains(run) && build.result.as_deref() == Some("FAILURE") => {}
            None => {
                unknown_builds += 1;
                failures.push(format!(
                    "{} build {} belongs to run {run}, which no execution has",
                    build.server, build.what
                ));
            }
        }
    }
    let duplicates: Vec<(&String, &Vec<&CiBuild>)> = by_run
        .iter()
        .filter(|(_, builds)| builds.len() > 1)
        .collect();
    for (run, builds) in &duplicates {
        let what: Vec<String> = builds
            .iter()
            .map(|b| format!("{} {}", b.server, b.what))
            .collect();
        failures.push(format!(
            "run {run} triggered {} builds: {what:?}",
            builds.len()
        ));
    }
    let mut runs_without_build = 0;
    for (run, (id, action)) in &current_runs {
        if !by_run.contains_key(run) {
            runs_without_build += 1;
            failures.push(format!(
                "execution {id}: {} run {run} ({:?}) has no build",
                action.name, action.status
            ));
        }
    }
    let (status, history) = shared
        .get_answered(&format!(
            "/api/v1/pipelines/{PIPELINE}/executions?limit=1000"
        ))
        .await;
    assert_eq!(status, 200, "{history}");
    let listed = history.as_array().map_or(0, Vec::len);
    let known = shared.known.lock().unwrap().len();
    if known <= 1000 && listed != known {
        failures.push(format!(
            "the pipeline has {listed} executions; the harness started {known}"
        ));
    }

    let clean_stop = daemon.terminate().await;
    if !clean_stop {
        failures.push("the daemon did not exit cleanly on SIGTERM".into());
    }
    let (integrity, foreign_keys) = store_integrity(&daemon.dir.join("data/baton.db")).await;
    let integrity_ok = integrity == ["ok"];
    if !integrity_ok {
        failures.push(format!("PRAGMA integrity_check: {integrity:?}"));
    }
    if foreign_keys != 0 {
        failures.push(format!("PRAGMA foreign_key_check: {foreign_keys} rows"));
    }

    let counters = shared.counters.lock().unwrap();
    let jk_stats = jenkins.stats();
    let tc_stats = teamcity.stats();
    let faults_total: usize = FAULT_KINDS
        .iter()
        .map(|k| counters.faults.get(k).copied().unwrap_or(0))
        .sum();
    let mut table = vec![
        ("seed".to_string(), args.seed.to_string()),
        ("executions started".into(), known.to_string()),
        (
            "executions in flight at once (at most)".into(),
            args.parallel.to_string(),
        ),
        (
            "daemon SIGKILLs (restarts on the same data dir and port)".into(),
            counters.kills.to_string(),
        ),
        (
            "faults injected".into(),
            format!(
                "{faults_total} (Jenkins {}, TeamCity {})",
                counters.faults.get("Jenkins").copied().unwrap_or(0),
                counters.faults.get("TeamCity").copied().unwrap_or(0)
            ),
        ),
    ];
    for kind in FAULT_KINDS {
        table.push((
            format!("— {kind}"),
            counters.faults.get(kind).copied().unwrap_or(0).to_string(),
        ));
    }
    table.extend([
        (
            "simulator restarts".into(),
            format!(
                "Jenkins {}, TeamCity {}",
                counters.jenkins_restarts, counters.teamcity_restarts
            ),
        ),
        (
            "approvals acknowledged (rejections among them)".into(),
            format!(
                "{} ({})",
                counters.approvals_acknowledged,
                plans.iter().filter(|p| p.reject).count()
            ),
        ),
        (
            "stage retries acknowledged".into(),
            counters.retries_acknowledged.to_string(),
        ),
        (
            "requests resent by the harness (daemon down or 5xx)".into(),
            counters.resent.to_string(),
        ),
        (
            "answers lost, action found done".into(),
            counters.answers_lost_but_done.to_string(),
        ),
        (
            "CI builds (Jenkins, TeamCity)".into(),
            format!(
                "{} ({}, {})",
                builds.len(),
                builds.iter().filter(|b| b.server == "Jenkins").count(),
                builds.iter().filter(|b| b.server == "TeamCity").count()
            ),
        ),
        (
            "callbacks sent (Jenkins, TeamCity)".into(),
            format!(
                "{}, {}",
                jk_stats.notifications_sent, tc_stats.webhooks_sent
            ),
        ),
        (
            "executions in the expected terminal status".into(),
            as_expected.to_string(),
        ),
        (
            "executions not in the expected status".into(),
            not_as_expected.to_string(),
        ),
        (
            "duplicates (runs with more than one build)".into(),
            duplicates.len().to_string(),
        ),
        ("builds of no known run".into(), unknown_builds.to_string()),
        (
            "runs without a build".into(),
            runs_without_build.to_string(),
        ),
        (
            "lost (acknowledged approvals, finished builds' results)".into(),
            format!(
                "{} ({approvals_lost}, {builds_lost})",
                approvals_lost + builds_lost
            ),
        ),
        (
            "stuck (not terminal at the deadline)".into(),
            stuck.to_string(),
        ),
        (
            "store integrity (integrity_check, foreign_key_check)".into(),
            format!(
                "{} ({}, {} rows)",
                if integrity_ok && foreign_keys == 0 {
                    "ok"
                } else {
                    "FAILED"
                },
                integrity.join(" "),
                foreign_keys
            ),
        ),
        (
            "clean stop on SIGTERM at the end".into(),
            if clean_stop { "yes" } else { "no" }.into(),
        ),
        (
            "wall time".into(),
            format!("{:.0} s", drained.as_secs_f64()),
        ),
    ]);
    println!("\n| measure | value |\n|---|---|");
    for (what, value) in &table {
        println!("| {what} | {value} |");
    }
    if !failures.is_empty() {
        let log = daemon.log();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(80)..].join("\n");
        panic!(
            "the campaign (seed {}) found {} problem(s):\n- {}\n\ndaemon log tail:\n{tail}",
            args.seed,
            failures.len(),
            failures.join("\n- ")
        );
    }
    println!("\ncampaign passed");
}

/// `PRAGMA integrity_check` rows and the number of `PRAGMA foreign_key_check` rows of the
/// stopped daemon's database.
async fn store_integrity(path: &std::path::Path) -> (Vec<String>, usize) {
    use sqlx::ConnectOptions;
    let mut connection = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .connect()
        .await
        .expect("the store opens");
    let integrity: Vec<(String,)> = sqlx::query_as("PRAGMA integrity_check")
        .fetch_all(&mut connection)
        .await
        .expect("integrity_check runs");
    let foreign_keys = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut connection)
        .await
        .expect("foreign_key_check runs");
    (
        integrity.into_iter().map(|(row,)| row).collect(),
        foreign_keys.len(),
    )
}
