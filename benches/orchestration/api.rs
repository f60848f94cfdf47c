//! API and callbacks: requests/s and latency of `GET /api/v1/executions/{id}` and of
//! callback ingestion (`POST /hooks/teamcity/{server}` with TeamCity's native webhook
//! bodies), from a load generator in this process on loopback, against `baton serve` in
//! a child process holding a history of finished executions and held builds in flight.
//! Each window is one run; the windows run one after another against one daemon.

use std::sync::Arc;
use std::time::{Duration, Instant};

use baton::sim::teamcity::{BuildTypeSpec, TeamCitySim};

use crate::child::Daemon;
use crate::ci::{add_held, chain, pipeline, side_by_side, teamcity, Ci, SECRET, TOKEN};
use crate::daemon::wait_for;
use crate::report::{millis, percentile, Report, Target};
use crate::Sizes;

/// The `User-Agent` TeamCity sends its webhooks with.
const TEAMCITY_AGENT: &str = "TeamCity Server 2024.07 (build 160000)";

pub async fn api(sizes: &Sizes, report: &mut Report) {
    let setup = Setup::new(sizes).await;
    let mut gets = Windows::default();
    let mut callbacks = Windows::default();
    let mut ci_reads = Vec::new();
    for _ in 0..sizes.runs {
        gets.add(load(sizes, &setup.daemon, Kind::Get(setup.executions.clone())).await);
        let before = setup.tc.stats().total_requests;
        let window = load(sizes, &setup.daemon, Kind::Callback(setup.bodies.clone())).await;
        let caused = setup.tc.stats().total_requests - before;
        ci_reads.push(caused as f64 / window.ok.max(1) as f64);
        callbacks.add(window);
    }
    let note = format!(
        "{} connections for {:?}; {} finished and {} running executions",
        sizes.api_connections, sizes.api_window, sizes.api_history, sizes.api_held_executions
    );
    gets.report(report, "GET execution", &note);
    let note = format!(
        "{} connections for {:?}; native webhooks for {} held builds",
        sizes.api_connections,
        sizes.api_window,
        setup.bodies.len()
    );
    callbacks.report(report, "callbacks", &note);
    let name = "callbacks: CI requests per callback";
    report.add("api", name, "requests", ci_reads, None, &note);
    setup.finish().await;
}

/// The daemon with its history and builds in flight, and what the load sends.
struct Setup {
    tc: TeamCitySim,
    daemon: Daemon,
    /// Every execution, finished or running.
    executions: Arc<Vec<String>>,
    /// A webhook body for each held build.
    bodies: Arc<Vec<String>>,
}

impl Setup {
    async fn new(sizes: &Sizes) -> Setup {
        let ci = Ci::TeamCity;
        let tc = teamcity();
        let daemon = Daemon::start(&ci.server(&tc.url(), "10s", "60s")).await;
        let instant = BuildTypeSpec {
            webhook_url: Some(ci.hook_at(&daemon.url)),
            ..BuildTypeSpec::default()
        };
        tc.add_build_type("Api_Instant", instant);
        let per_execution = 10;
        let held = side_by_side(ci, per_execution, "Api_Held");
        add_held(&tc, &held);
        let history = pipeline("history", &chain(ci, 3, "Api_Instant"));
        daemon.apply("history", &history).await;
        daemon.apply("held", &pipeline("held", &[held])).await;
        let mut executions = daemon
            .run_to_success("history", sizes.api_history, 50)
            .await;
        let began = tokio::time::Instant::now();
        for _ in 0..sizes.api_held_executions {
            executions.push(daemon.start_execution("held").await);
        }
        let builds = sizes.api_held_executions * per_execution;
        wait_for(&format!("{builds} held builds to be followed"), || {
            tc.builds_read_since(began) >= builds
        })
        .await;
        let mut bodies = Vec::new();
        let http = reqwest::Client::new();
        for build in tc.builds().iter().filter(|b| b.state == "running") {
            let payload = http
                .get(format!("{}/app/rest/builds/id:{}", tc.url(), build.id))
                .bearer_auth(TOKEN)
                .header("accept", "application/json")
                .send()
                .await
                .expect("the simulator answers")
                .text()
                .await
                .expect("the build");
            bodies.push(format!(
                "{{\"eventType\":\"BUILD_STARTED\",\"payload\":{payload}}}"
            ));
        }
        // The load is only honest if each callback names a build the daemon follows.
        let answer: serde_json::Value = http
            .post(format!("{}/hooks/teamcity/tc?token={SECRET}", daemon.url))
            .header("content-type", "application/json")
            .body(bodies[0].clone())
            .send()
            .await
            .expect("the daemon answers")
            .json()
            .await
            .expect("a callback answer");
        assert_eq!(answer["woken"], 1, "a callback wakes its build's follower");
        Setup {
            tc,
            daemon,
            executions: Arc::new(executions),
            bodies: Arc::new(bodies),
        }
    }

    async fn finish(mut self) {
        self.daemon.kill9().await;
    }
}

/// What each connection sends, round robin over the list.
#[derive(Clone)]
enum Kind {
    Get(Arc<Vec<String>>),
    Callback(Arc<Vec<String>>),
}

/// One window of load.
struct Window {
    ok: usize,
    failed: usize,
    elapsed: Duration,
    /// Latencies of the 2xx answers, sorted.
    latencies: Vec<Duration>,
}

/// `api_connections` connections, each sending one request after another for
/// `api_window`.
async fn load(sizes: &Sizes, daemon: &Daemon, kind: Kind) -> Window {
    let began = Instant::now();
    let until = began + sizes.api_window;
    let connections = sizes.api_connections;
    let mut tasks = Vec::new();
    for n in 0..connections {
        let kind = kind.clone();
        let (url, token) = (daemon.url.clone(), daemon.token.clone());
        tasks.push(tokio::spawn(async move {
            connection(n, connections, kind, &url, &token, until).await
        }));
    }
    let mut window = Window {
        ok: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for task in tasks {
        let (ok, failed) = task.await.expect("a load connection");
        window.ok += ok.len();
        window.failed += failed;
        window.latencies.extend(ok);
    }
    window.elapsed = began.elapsed();
    window.latencies.sort();
    window
}

/// Connection `n` of `of`: its 2xx latencies and how many answers were not 2xx (or
/// never came).
async fn connection(
    n: usize,
    of: usize,
    kind: Kind,
    url: &str,
    token: &str,
    until: Instant,
) -> (Vec<Duration>, usize) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .http1_only()
        .build()
        .expect("an HTTP client");
    let (mut latencies, mut failed) = (Vec::new(), 0);
    let mut next = n;
    while Instant::now() < until {
        let request = match &kind {
            Kind::Get(ids) => http
                .get(format!("{url}/api/v1/executions/{}", ids[next % ids.len()]))
                .bearer_auth(token),
            Kind::Callback(bodies) => http
                .post(format!("{url}/hooks/teamcity/tc?token={SECRET}"))
                .header("content-type", "application/json")
                .header("user-agent", TEAMCITY_AGENT)
                .body(bodies[next % bodies.len()].clone()),
        };
        next += of;
        let sent = Instant::now();
        let answer = match request.send().await {
            Ok(response) => {
                let status = response.status();
                response.bytes().await.ok().map(|_| status)
            }
            Err(_) => None,
        };
        match answer {
            Some(status) if status.is_success() => latencies.push(sent.elapsed()),
            _ => failed += 1,
        }
    }
    (latencies, failed)
}

/// The windows of one kind of request.
#[derive(Default)]
struct Windows {
    rates: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
    failed: Vec<f64>,
    count: usize,
}

impl Windows {
    fn add(&mut self, window: Window) {
        self.rates
            .push(window.ok as f64 / window.elapsed.as_secs_f64());
        self.p50.push(millis(percentile(&window.latencies, 0.50)));
        self.p99.push(millis(percentile(&window.latencies, 0.99)));
        self.failed.push(window.failed as f64);
        self.count += window.ok;
    }

    fn report(self, report: &mut Report, what: &str, note: &str) {
        let note = format!("{note}; {} requests answered 2xx in all", self.count);
        report.add(
            "api",
            &format!("{what}: requests"),
            "/s",
            self.rates,
            None,
            &note,
        );
        report.add("api", &format!("{what}: p50"), "ms", self.p50, None, &note);
        report.add("api", &format!("{what}: p99"), "ms", self.p99, None, &note);
        let name = format!("{what}: not 2xx");
        let target = Some(Target::AtMost(0.0));
        report.add("api", &name, "requests", self.failed, target, &note);
    }
}
