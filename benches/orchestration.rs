//! Orchestration benchmarks: the daemon runs in this process (`App`, as `baton serve`
//! builds it, store on disk) against CI simulators on loopback, and each figure is the
//! median of repeated runs with their spread.
//!
//! - overhead: from the simulator finishing a build to the next action's trigger reaching
//!   it (p50, p99), with callbacks and with polling only;
//! - throughput: executions/s and durable transitions (committed events)/s of a
//!   five-action pipeline of instant builds at 1, 10 and 100 concurrent executions;
//! - economy: CI requests per completed build with callbacks and polling only, and
//!   requests/s with thousands of builds in flight (batched polling);
//! - memory: resident memory per in-flight action (measured in a fresh child process,
//!   with the simulator in another one, so neither earlier runs nor the simulator count).
//!
//! `cargo bench --bench orchestration [-- --quick] [GROUP…]`; `BATON_BENCH_QUICK=1` is
//! the same as `--quick`: every measurement at a tiny size, for CI to keep this running
//! (no assertions on timings). Results: a table on stdout and
//! `target/bench/orchestration.json`.
//!
//! CI kinds: the actions are TeamCity builds (`Ci::TeamCity`). Jenkins slots in as
//! another `Ci` variant once its simulator can hold and finish builds the same way:
//! its server lines, action lines and simulator handle are the three places to extend.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use baton::app::App;
use baton::config::Settings;
use baton::engine::state::{ExecutionStatus, Trigger};
use baton::service::Service;
use baton::sim::teamcity::{BuildTypeSpec, TeamCitySim, TeamCitySimOptions};
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::oneshot;

const TOKEN: &str = "bench-teamcity-token-0123456789";
const SECRET: &str = "bench-callback-secret-0123456789";
/// Executions start at a given revision, so the Git source never runs `git ls-remote`.
const REVISION: &str = "0123456789abcdef0123456789abcdef01234567";
/// A build property carrying the execution id, to pair each build with the next one.
const EXECUTION_PROPERTY: &str = "bench.execution";
/// Set in child processes to the part they play.
const ROLE: &str = "BATON_BENCH_ROLE";
/// How long any one wait may take before the benchmark gives up.
const PATIENCE: Duration = Duration::from_secs(600);

/// The CI servers the actions run on.
#[derive(Debug, Clone, Copy)]
enum Ci {
    TeamCity,
}

impl Ci {
    /// The `servers:` entry for a simulator at `url`, polling at `poll` up to `max_poll`.
    fn server(self, url: &str, poll: &str, max_poll: &str) -> String {
        match self {
            Ci::TeamCity => format!(
                "servers:\n  - name: tc\n    kind: teamcity\n    url: {url}\n    token: {TOKEN}\n    \
                 poll_interval: {poll}\n    max_poll_interval: {max_poll}\n    \
                 rate_limit: {{per_second: 1000000, burst: 1000000}}\n    callback: {{secret: {SECRET}}}\n"
            ),
        }
    }

    /// An action running `job`, tagged with its execution.
    fn action(self, name: &str, job: &str) -> String {
        match self {
            Ci::TeamCity => format!(
                "{{name: {name}, provider: TeamCity, configuration: {{Server: tc, BuildType: {job}, \
                 Properties: {{{EXECUTION_PROPERTY}: \"#{{codepipeline.PipelineExecutionId}}\"}}}}}}"
            ),
        }
    }

    /// Where the simulator sends callbacks for the daemon at `addr`.
    fn hook(self, addr: SocketAddr) -> String {
        match self {
            Ci::TeamCity => format!("http://{addr}/hooks/teamcity/tc?token={SECRET}"),
        }
    }
}

/// How big each measurement is.
struct Sizes {
    quick: bool,
    runs: usize,
    overhead_transitions: usize,
    overhead_parallel: usize,
    overhead_stages: usize,
    /// (concurrent executions, executions in all)
    throughput: Vec<(usize, usize)>,
    economy_executions: usize,
    economy_build: Duration,
    economy_poll: &'static str,
    inflight_builds: usize,
    inflight_types: usize,
    inflight_poll: Duration,
    inflight_window: Duration,
    memory_actions: usize,
    memory_per_execution: usize,
}

impl Sizes {
    fn full() -> Sizes {
        Sizes {
            quick: false,
            runs: 3,
            overhead_transitions: 1000,
            overhead_parallel: 10,
            overhead_stages: 11,
            throughput: vec![(1, 20), (10, 100), (100, 500)],
            economy_executions: 20,
            economy_build: Duration::from_secs(3),
            economy_poll: "1s",
            inflight_builds: 2000,
            inflight_types: 20,
            inflight_poll: Duration::from_secs(1),
            inflight_window: Duration::from_secs(5),
            memory_actions: 10_000,
            memory_per_execution: 10,
        }
    }

    fn quick() -> Sizes {
        Sizes {
            quick: true,
            runs: 1,
            overhead_transitions: 10,
            overhead_parallel: 2,
            overhead_stages: 3,
            throughput: vec![(1, 2), (2, 4), (4, 8)],
            economy_executions: 2,
            economy_build: Duration::from_millis(300),
            economy_poll: "100ms",
            inflight_builds: 40,
            inflight_types: 4,
            inflight_poll: Duration::from_millis(200),
            inflight_window: Duration::from_secs(1),
            memory_actions: 100,
            memory_per_execution: 10,
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick")
        || std::env::var("BATON_BENCH_QUICK").is_ok_and(|v| v == "1");
    let sizes = if quick { Sizes::quick() } else { Sizes::full() };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match std::env::var(ROLE).as_deref() {
        Ok("teamcity-sim") => return runtime.block_on(serve_held_builds()),
        Ok("memory") => {
            let result = runtime.block_on(memory_once(&sizes));
            println!("{result}");
            return;
        }
        _ => {}
    }
    let groups: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    let wanted = |group: &str| groups.is_empty() || groups.contains(&group);
    let mut report = Report::default();
    runtime.block_on(async {
        if wanted("overhead") {
            overhead(&sizes, &mut report).await;
        }
        if wanted("throughput") {
            throughput(&sizes, &mut report).await;
        }
        if wanted("economy") {
            economy(&sizes, &mut report).await;
        }
    });
    if wanted("memory") {
        memory(&sizes, &mut report);
    }
    report.finish(&sizes);
}

// ---------------------------------------------------------------------------------------
// The daemon, in process.

struct Baton {
    service: Service,
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Baton {
    async fn start(servers: &str) -> Baton {
        std::fs::create_dir_all(bench_dir()).expect("target/bench");
        let dir = tempfile::Builder::new()
            .prefix("data-")
            .tempdir_in(bench_dir())
            .expect("a data directory");
        let yaml = format!(
            "listen: 127.0.0.1:0\ndata_dir: {}\nlimits: {{shutdown_grace: 2s}}\n{servers}",
            dir.path().display()
        );
        let settings: Settings = serde_yaml::from_str(&yaml).expect("benchmark settings");
        let app = App::build(settings).await.expect("the daemon starts");
        let addr = app.local_addr().expect("an address");
        let service = Service::new(app.runtime().clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        Baton {
            service,
            addr,
            stop,
            task,
            _dir: dir,
        }
    }

    async fn apply(&self, name: &str, yaml: &str) {
        if let Err(e) = self.service.apply_pipeline(name, yaml).await {
            panic!("apply {name}: {e:?}\n{yaml}");
        }
    }

    async fn start_execution(&self, pipeline: &str) -> String {
        let trigger = Trigger {
            kind: "StartPipelineExecution".into(),
            detail: None,
            by: Some("bench".into()),
        };
        self.service
            .start(pipeline, BTreeMap::new(), Some(REVISION.into()), trigger)
            .await
            .unwrap_or_else(|e| panic!("start {pipeline}: {e:?}"))
    }

    /// Runs `total` executions of `pipeline`, `concurrency` at a time, until every one
    /// succeeded; returns their ids and the time it took.
    async fn closed_loop(
        &self,
        pipeline: &str,
        total: usize,
        concurrency: usize,
    ) -> (Vec<String>, Duration) {
        let mut changes = self.service.runtime().changes();
        let began = Instant::now();
        let mut all = Vec::new();
        let mut in_flight = HashSet::new();
        while all.len() < total.min(concurrency) {
            let id = self.start_execution(pipeline).await;
            in_flight.insert(id.clone());
            all.push(id);
        }
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !in_flight.is_empty() {
            let look: Vec<String> = match tokio::time::timeout_at(deadline, changes.recv()).await {
                Err(_) => panic!("{} executions of {pipeline} never ended", in_flight.len()),
                Ok(Ok(id)) if in_flight.contains(&id) => vec![id],
                Ok(Ok(_)) => continue,
                Ok(Err(RecvError::Lagged(_))) => in_flight.iter().cloned().collect(),
                Ok(Err(RecvError::Closed)) => panic!("the daemon stopped"),
            };
            for id in look {
                let execution = self.service.execution(&id).await.expect("the execution");
                if !execution.status.is_terminal() {
                    continue;
                }
                assert_eq!(
                    execution.status,
                    ExecutionStatus::Succeeded,
                    "{id}: {:?}",
                    execution.status_summary
                );
                in_flight.remove(&id);
                if all.len() < total {
                    let id = self.start_execution(pipeline).await;
                    in_flight.insert(id.clone());
                    all.push(id);
                }
            }
        }
        (all, began.elapsed())
    }

    /// Events committed for these executions: each one durable state transition.
    async fn transitions(&self, ids: &[String]) -> usize {
        let store = self.service.runtime().store();
        let mut total = 0;
        for id in ids {
            total += store.events(id).await.expect("the event log").len();
        }
        total
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        match tokio::time::timeout(Duration::from_secs(30), self.task).await {
            Ok(Ok(Ok(()))) => {}
            other => eprintln!("the daemon did not stop cleanly: {other:?}"),
        }
    }
}

fn bench_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("bench")
}

fn teamcity() -> TeamCitySim {
    TeamCitySim::start_with(TeamCitySimOptions {
        token: Some(TOKEN.into()),
        ..TeamCitySimOptions::default()
    })
    .expect("the TeamCity simulator starts")
}

/// A pipeline: the Git source, then `stages`, each a list of (action, job) side by side.
fn pipeline(ci: Ci, name: &str, stages: &[Vec<(String, String)>]) -> String {
    let mut text = format!(
        "name: {name}\nexecutionMode: PARALLEL\nstages:\n  - name: Source\n    actions:\n      \
         - {{name: Checkout, provider: Git, configuration: {{RepositoryUrl: \"file:///bench.git\", BranchName: main}}}}\n"
    );
    for (n, actions) in stages.iter().enumerate() {
        text.push_str(&format!("  - name: Stage{n}\n    actions:\n"));
        for (action, job) in actions {
            text.push_str(&format!("      - {}\n", ci.action(action, job)));
        }
    }
    text
}

/// `count` stages of one action each, all running `job`.
fn chain(count: usize, job: &str) -> Vec<Vec<(String, String)>> {
    (0..count)
        .map(|n| vec![(format!("Step{n}"), job.to_string())])
        .collect()
}

// ---------------------------------------------------------------------------------------
// Stage-to-stage overhead.

/// How long a held build runs before it is finished: the daemon has read it as running
/// (and taken the start callback) by then, so the finish is what it waits for.
const SETTLE: Duration = Duration::from_millis(150);

async fn overhead(sizes: &Sizes, report: &mut Report) {
    for callbacks in [true, false] {
        let mode = if callbacks { "callbacks" } else { "polling" };
        let (mut p50, mut p99, mut count) = (Vec::new(), Vec::new(), 0);
        for _ in 0..sizes.runs {
            let mut gaps = overhead_once(Ci::TeamCity, sizes, callbacks).await;
            gaps.sort();
            count += gaps.len();
            p50.push(millis(percentile(&gaps, 0.50)));
            p99.push(millis(percentile(&gaps, 0.99)));
        }
        let note = format!("{count} transitions over {} runs", sizes.runs);
        let (target50, target99) = if callbacks {
            (Some(Target::AtMost(2.0)), Some(Target::AtMost(10.0)))
        } else {
            (None, None)
        };
        report.add(
            "overhead",
            &format!("{mode}: p50"),
            "ms",
            p50,
            target50,
            &note,
        );
        report.add(
            "overhead",
            &format!("{mode}: p99"),
            "ms",
            p99,
            target99,
            &note,
        );
    }
}

/// One run: executions of a chain of held builds, each finished `SETTLE` after it was
/// queued; returns each gap between a build finishing and the next one's trigger arriving.
async fn overhead_once(ci: Ci, sizes: &Sizes, callbacks: bool) -> Vec<Duration> {
    let tc = Arc::new(teamcity());
    // With callbacks polling is TeamCity's default pace; without, a brisk 100 ms.
    let (poll, max_poll) = if callbacks {
        ("10s", "60s")
    } else {
        ("100ms", "100ms")
    };
    let baton = Baton::start(&ci.server(&tc.url(), poll, max_poll)).await;
    tc.add_build_type(
        "Bench_Step",
        BuildTypeSpec {
            hold: true,
            webhook_url: callbacks.then(|| ci.hook(baton.addr)),
            ..BuildTypeSpec::default()
        },
    );
    let stages = sizes.overhead_stages;
    baton
        .apply(
            "chain",
            &pipeline(ci, "chain", &chain(stages, "Bench_Step")),
        )
        .await;
    let finisher = tokio::spawn(finish_when_settled(tc.clone()));
    let executions = sizes.overhead_transitions.div_ceil(stages - 1);
    baton
        .closed_loop("chain", executions, sizes.overhead_parallel)
        .await;
    finisher.abort();
    baton.stop().await;

    let mut chains: HashMap<String, Vec<_>> = HashMap::new();
    for build in tc.builds() {
        let execution = build.properties.get(EXECUTION_PROPERTY).cloned();
        chains
            .entry(execution.unwrap_or_default())
            .or_default()
            .push(build);
    }
    let mut gaps = Vec::new();
    for builds in chains.values() {
        for pair in builds.windows(2) {
            let finished = pair[0]
                .finished_at
                .expect("finished before the next started");
            gaps.push(pair[1].queued_at.duration_since(finished));
        }
    }
    gaps
}

/// Finishes every running build once it has run `SETTLE`.
async fn finish_when_settled(tc: Arc<TeamCitySim>) {
    let mut first = 0;
    loop {
        let builds = tc.builds_from(first);
        let now = tokio::time::Instant::now();
        for build in &builds {
            if build.state == "running" && now.duration_since(build.queued_at) >= SETTLE {
                tc.finish(build.id, "SUCCESS", "Success");
            }
        }
        first = match builds.iter().find(|b| b.state != "finished") {
            Some(open) => open.id,
            None => builds.last().map_or(first, |b| b.id + 1),
        };
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

// ---------------------------------------------------------------------------------------
// Throughput.

async fn throughput(sizes: &Sizes, report: &mut Report) {
    for &(concurrency, total) in &sizes.throughput {
        let (mut executions, mut transitions) = (Vec::new(), Vec::new());
        for _ in 0..sizes.runs {
            let (rate, durable) = throughput_once(Ci::TeamCity, concurrency, total).await;
            executions.push(rate);
            transitions.push(durable);
        }
        let note = format!("{total} executions of 5 actions, {concurrency} at a time");
        let target = (concurrency == 100).then_some(Target::AtLeast(200.0));
        let name = format!("{concurrency} concurrent: executions");
        report.add("throughput", &name, "/s", executions, target, &note);
        let name = format!("{concurrency} concurrent: durable transitions");
        report.add("throughput", &name, "/s", transitions, None, &note);
    }
}

async fn throughput_once(ci: Ci, concurrency: usize, total: usize) -> (f64, f64) {
    let tc = teamcity();
    let baton = Baton::start(&ci.server(&tc.url(), "10s", "60s")).await;
    tc.add_build_type(
        "Bench_Instant",
        BuildTypeSpec {
            webhook_url: Some(ci.hook(baton.addr)),
            ..BuildTypeSpec::default()
        },
    );
    baton
        .apply("five", &pipeline(ci, "five", &chain(5, "Bench_Instant")))
        .await;
    let (ids, took) = baton.closed_loop("five", total, concurrency).await;
    let transitions = baton.transitions(&ids).await;
    baton.stop().await;
    let secs = took.as_secs_f64();
    (ids.len() as f64 / secs, transitions as f64 / secs)
}

// ---------------------------------------------------------------------------------------
// CI request economy.

async fn economy(sizes: &Sizes, report: &mut Report) {
    for callbacks in [true, false] {
        let mode = if callbacks {
            "callbacks"
        } else {
            "polling only"
        };
        let mut per_build = Vec::new();
        for _ in 0..sizes.runs {
            per_build.push(requests_per_build(Ci::TeamCity, sizes, callbacks).await);
        }
        let note = format!(
            "{} executions of 3 builds of {:?}, polled every {}",
            sizes.economy_executions, sizes.economy_build, sizes.economy_poll
        );
        let target = callbacks.then_some(Target::AtMost(4.0));
        let name = format!("{mode}: requests per build");
        report.add("economy", &name, "requests", per_build, target, &note);
    }
    let (mut rates, mut factors, mut sizes_seen) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..sizes.runs {
        let (rate, factor, batch) = batched_polling(Ci::TeamCity, sizes).await;
        rates.push(rate);
        factors.push(factor);
        sizes_seen.push(batch);
    }
    let note = format!(
        "{} held builds of {} build types, polled every {:?}",
        sizes.inflight_builds, sizes.inflight_types, sizes.inflight_poll
    );
    report.add("economy", "in flight: requests", "/s", rates, None, &note);
    let target = Some(Target::AtLeast(10.0));
    let name = "in flight: fewer than one request per build and poll";
    report.add("economy", name, "x", factors, target, &note);
    report.add(
        "economy",
        "in flight: builds per list read",
        "builds",
        sizes_seen,
        None,
        &note,
    );
}

async fn requests_per_build(ci: Ci, sizes: &Sizes, callbacks: bool) -> f64 {
    let tc = teamcity();
    let baton = Baton::start(&ci.server(&tc.url(), sizes.economy_poll, "10s")).await;
    tc.add_build_type(
        "Bench_Timed",
        BuildTypeSpec {
            duration: sizes.economy_build,
            webhook_url: callbacks.then(|| ci.hook(baton.addr)),
            ..BuildTypeSpec::default()
        },
    );
    baton
        .apply("timed", &pipeline(ci, "timed", &chain(3, "Bench_Timed")))
        .await;
    let count = sizes.economy_executions;
    baton.closed_loop("timed", count, count).await;
    baton.stop().await;
    let stats = tc.stats();
    stats.total_requests as f64 / tc.builds().len() as f64
}

/// Many held builds followed at once: requests/s, how many times fewer than one request
/// per build and poll that is, and the mean builds per list read.
async fn batched_polling(ci: Ci, sizes: &Sizes) -> (f64, f64, f64) {
    let tc = teamcity();
    let poll = humantime::format_duration(sizes.inflight_poll).to_string();
    let baton = Baton::start(&ci.server(&tc.url(), &poll, &poll)).await;
    let types = sizes.inflight_types;
    let jobs: Vec<(String, String)> = (0..types)
        .map(|n| (format!("Build{n}"), format!("Bench_Held{n}")))
        .collect();
    for (_, job) in &jobs {
        let held = BuildTypeSpec {
            hold: true,
            ..BuildTypeSpec::default()
        };
        tc.add_build_type(job, held);
    }
    baton.apply("wide", &pipeline(ci, "wide", &[jobs])).await;
    let builds = sizes.inflight_builds;
    for _ in 0..builds.div_ceil(types) {
        baton.start_execution("wide").await;
    }
    wait_for(&format!("{builds} builds to run"), || {
        tc.builds().iter().filter(|b| b.state == "running").count() >= builds
    })
    .await;
    // A few rounds to settle into the steady pace, then a window of it.
    tokio::time::sleep(sizes.inflight_poll * 3).await;
    let before = tc.stats();
    tokio::time::sleep(sizes.inflight_window).await;
    let after = tc.stats();
    baton.stop().await;
    let requests = (after.total_requests - before.total_requests) as f64;
    let rate = requests / sizes.inflight_window.as_secs_f64();
    let per_build_polling = builds as f64 / sizes.inflight_poll.as_secs_f64();
    let lists = &after.builds_list_sizes[before.builds_list_sizes.len()..];
    let batch = lists.iter().sum::<usize>() as f64 / lists.len().max(1) as f64;
    (rate, per_build_polling / rate.max(f64::MIN_POSITIVE), batch)
}

async fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "waited too long for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------
// Memory.

/// Each run in a fresh process of its own, whose simulator runs in yet another.
fn memory(sizes: &Sizes, report: &mut Report) {
    let mut per_action = Vec::new();
    let mut note = String::new();
    for _ in 0..sizes.runs {
        let exe = std::env::current_exe().expect("this benchmark's path");
        let mut command = std::process::Command::new(exe);
        command.env(ROLE, "memory");
        if sizes.quick {
            command.env("BATON_BENCH_QUICK", "1");
        }
        let output = command.output().expect("the memory run starts");
        assert!(
            output.status.success(),
            "the memory run failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8_lossy(&output.stdout);
        let line = text.lines().last().unwrap_or_default();
        let result: Value = serde_json::from_str(line).expect("the memory run's result");
        per_action.push(result["bytes_per_action"].as_f64().unwrap_or_default());
        note = format!(
            "{} actions in flight; daemon RSS {:.0} MiB → {:.0} MiB",
            result["actions"],
            result["rss_before"].as_f64().unwrap_or_default() / 1048576.0,
            result["rss_after"].as_f64().unwrap_or_default() / 1048576.0,
        );
    }
    let target = Some(Target::AtMost(10.0 * 1024.0));
    report.add(
        "memory",
        "per in-flight action",
        "bytes",
        per_action,
        target,
        &note,
    );
}

/// The child's part: the daemon with `memory_actions` held builds in flight, RSS before
/// (after a warm-up tenth) and after; prints the result as one JSON line.
async fn memory_once(sizes: &Sizes) -> Value {
    let ci = Ci::TeamCity;
    let per_execution = sizes.memory_per_execution;
    let (sim, url) = spawn_held_build_server(per_execution);
    let poll = if sizes.quick {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(2)
    };
    let every = humantime::format_duration(poll).to_string();
    let baton = Baton::start(&ci.server(&url, &every, &every)).await;
    let jobs: Vec<(String, String)> = (0..per_execution)
        .map(|n| (format!("Build{n}"), format!("Mem_Held{n}")))
        .collect();
    baton.apply("mem", &pipeline(ci, "mem", &[jobs])).await;
    let executions = sizes.memory_actions / per_execution;
    let warm = (executions / 10).max(1);
    for _ in 0..warm {
        baton.start_execution("mem").await;
    }
    wait_for_triggers(&url, warm * per_execution).await;
    // A few poll rounds for the warm-up to reach its steady state.
    tokio::time::sleep(poll * 3).await;
    let before = rss();
    for _ in warm..executions {
        baton.start_execution("mem").await;
    }
    wait_for_triggers(&url, executions * per_execution).await;
    tokio::time::sleep(poll * 3).await;
    let after = rss();
    let added = (executions - warm) * per_execution;
    baton.stop().await;
    drop(sim);
    json!({
        "actions": executions * per_execution,
        "rss_before": before,
        "rss_after": after,
        "bytes_per_action": after.saturating_sub(before) as f64 / added as f64,
    })
}

/// Waits until the simulator at `url` queued `count` builds.
async fn wait_for_triggers(url: &str, count: usize) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let stats: Value = http
            .get(format!("{url}/_sim/stats"))
            .send()
            .await
            .expect("the simulator answers")
            .json()
            .await
            .expect("its stats");
        let triggered: u64 = stats["triggers_per_build_type"]
            .as_object()
            .map_or(0, |m| m.values().filter_map(Value::as_u64).sum());
        if triggered as usize >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "waited too long for {count} builds"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// This process's resident set, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Starts this program again as a TeamCity simulator with `types` held build types;
/// returns the child (it ends when its stdin closes) and its URL.
fn spawn_held_build_server(types: usize) -> (std::process::Child, String) {
    let exe = std::env::current_exe().expect("this benchmark's path");
    let mut child = std::process::Command::new(exe)
        .env(ROLE, "teamcity-sim")
        .env("BATON_BENCH_TYPES", types.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the simulator process starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("its stdout"))
        .read_line(&mut line)
        .expect("its URL");
    (child, line.trim().to_string())
}

async fn serve_held_builds() {
    let types: usize = std::env::var("BATON_BENCH_TYPES")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    let tc = teamcity();
    for n in 0..types {
        let held = BuildTypeSpec {
            hold: true,
            ..BuildTypeSpec::default()
        };
        tc.add_build_type(&format!("Mem_Held{n}"), held);
    }
    println!("{}", tc.url());
    let _ = std::io::stdout().flush();
    let _ = tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new())).await;
}

// ---------------------------------------------------------------------------------------
// Figures.

#[derive(Debug, Clone, Copy)]
enum Target {
    AtMost(f64),
    AtLeast(f64),
}

impl Target {
    fn met(self, value: f64) -> bool {
        match self {
            Target::AtMost(limit) => value <= limit,
            Target::AtLeast(floor) => value >= floor,
        }
    }

    fn text(self) -> String {
        match self {
            Target::AtMost(limit) => format!("≤ {}", number(limit)),
            Target::AtLeast(floor) => format!("≥ {}", number(floor)),
        }
    }
}

struct Figure {
    group: &'static str,
    name: String,
    unit: &'static str,
    samples: Vec<f64>,
    target: Option<Target>,
    note: String,
}

impl Figure {
    fn median(&self) -> f64 {
        let mut sorted = self.samples.clone();
        sorted.sort_by(f64::total_cmp);
        match sorted.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        }
    }

    fn spread(&self) -> (f64, f64) {
        let min = self.samples.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self
            .samples
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        (min, max)
    }
}

#[derive(Default)]
struct Report {
    figures: Vec<Figure>,
}

impl Report {
    fn add(
        &mut self,
        group: &'static str,
        name: &str,
        unit: &'static str,
        samples: Vec<f64>,
        target: Option<Target>,
        note: &str,
    ) {
        let figure = Figure {
            group,
            name: name.to_string(),
            unit,
            samples,
            target,
            note: note.to_string(),
        };
        eprintln!(
            "{} / {}: {} {}",
            figure.group,
            figure.name,
            number(figure.median()),
            figure.unit
        );
        self.figures.push(figure);
    }

    fn finish(&self, sizes: &Sizes) {
        println!();
        row([
            "group",
            "figure",
            "median",
            "spread (min–max)",
            "unit",
            "target",
            "met",
        ]);
        let mut figures = Vec::new();
        for f in &self.figures {
            let median = f.median();
            let (min, max) = f.spread();
            let met = f.target.map(|t| t.met(median));
            row([
                f.group,
                &f.name,
                &number(median),
                &format!("{}–{}", number(min), number(max)),
                f.unit,
                &f.target.map(Target::text).unwrap_or_default(),
                match met {
                    Some(true) => "yes",
                    Some(false) => "NO",
                    None => "",
                },
            ]);
            figures.push(json!({
                "group": f.group,
                "name": f.name,
                "unit": f.unit,
                "median": median,
                "min": min,
                "max": max,
                "samples": f.samples,
                "target": f.target.map(Target::text),
                "met": met,
                "note": f.note,
            }));
        }
        let document = json!({
            "quick": sizes.quick,
            "runs": sizes.runs,
            "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "cpu": cpu_model(),
            "unix_time": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            "figures": figures,
        });
        let path = bench_dir().join("orchestration.json");
        std::fs::create_dir_all(bench_dir()).expect("target/bench");
        std::fs::write(&path, serde_json::to_string_pretty(&document).unwrap())
            .expect("writing the results");
        println!("\nwritten to {}", path.display());
    }
}

fn row([group, name, median, spread, unit, target, met]: [&str; 7]) {
    println!("{group:<11} {name:<52} {median:>10} {spread:>21} {unit:<9} {target:<9} {met}");
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_default()
}

fn number(value: f64) -> String {
    if !value.is_finite() {
        "-".into()
    } else if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
