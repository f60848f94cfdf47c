//! Orchestration benchmarks: the daemon against CI simulators on loopback, and each
//! figure is the median of repeated runs with their spread. Most groups run the daemon
//! in this process (`App`, as `baton serve` builds it, store on disk); recovery and the
//! API group run the real `baton serve` binary as a child process.
//!
//! - overhead: from the simulator finishing a build to the next action's trigger reaching
//!   it (p50, p99), with callbacks and with polling only;
//! - throughput: executions/s and durable transitions (committed events)/s of a
//!   five-action pipeline of instant Jenkins and TeamCity builds (one parallel pair) at
//!   1, 10 and 100 concurrent executions;
//! - economy: CI requests per completed build on TeamCity and on Jenkins, with callbacks
//!   and polling only, and requests/s with thousands of builds in flight (batched
//!   polling);
//! - recovery: after `kill -9` with thousands of held builds in flight, the time from
//!   the restart until every one is read again, and the builds triggered again (none);
//! - api: requests/s and latency of `GET /api/v1/executions/{id}` and of TeamCity
//!   webhooks, from a load generator in this process;
//! - memory: resident memory per in-flight action (measured in a fresh child process,
//!   with the simulator in another one, so neither earlier runs nor the simulator count).
//!
//! `cargo bench --bench orchestration [-- --quick] [GROUP…]`; `BATON_BENCH_QUICK=1` is
//! the same as `--quick`: every measurement at a tiny size, for CI to keep this running
//! (no assertions on timings). Results: a table on stdout and
//! `target/bench/orchestration.json`.
//!
//! One concern per module under `orchestration/`: the CI kinds and simulators (`ci`),
//! the daemon in process (`daemon`) and as a child process (`child`), a module per
//! group, and the figures (`report`).

#[path = "orchestration/api.rs"]
mod api;
#[path = "orchestration/child.rs"]
mod child;
#[path = "orchestration/ci.rs"]
mod ci;
#[path = "orchestration/daemon.rs"]
mod daemon;
#[path = "orchestration/economy.rs"]
mod economy;
#[path = "orchestration/memory.rs"]
mod memory;
#[path = "orchestration/overhead.rs"]
mod overhead;
#[path = "orchestration/recovery.rs"]
mod recovery;
#[path = "orchestration/report.rs"]
mod report;
#[path = "orchestration/throughput.rs"]
mod throughput;

use std::time::Duration;

use report::Report;

/// Executions start at a given revision, so the Git source never runs `git ls-remote`.
const REVISION: &str = "0123456789abcdef0123456789abcdef01234567";
/// Set in child processes to the part they play.
const ROLE: &str = "BATON_BENCH_ROLE";
/// How long any one wait may take before the benchmark gives up.
const PATIENCE: Duration = Duration::from_secs(600);

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
    recovery_actions: usize,
    recovery_per_execution: usize,
    /// How long to watch for triggers after every build was read again.
    recovery_grace: Duration,
    /// Finished executions in the daemon's history, and executions of 10 held builds
    /// running, while the API is under load.
    api_history: usize,
    api_held_executions: usize,
    api_connections: usize,
    api_window: Duration,
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
            recovery_actions: 10_000,
            recovery_per_execution: 10,
            recovery_grace: Duration::from_secs(2),
            api_history: 1000,
            api_held_executions: 100,
            api_connections: 32,
            api_window: Duration::from_secs(10),
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
            recovery_actions: 20,
            recovery_per_execution: 10,
            recovery_grace: Duration::from_millis(300),
            api_history: 10,
            api_held_executions: 2,
            api_connections: 4,
            api_window: Duration::from_secs(1),
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
        Ok("teamcity-sim") => return runtime.block_on(memory::serve_held_builds()),
        Ok("memory") => {
            let result = runtime.block_on(memory::memory_once(&sizes));
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
            overhead::overhead(&sizes, &mut report).await;
        }
        if wanted("throughput") {
            throughput::throughput(&sizes, &mut report).await;
        }
        if wanted("economy") {
            economy::economy(&sizes, &mut report).await;
        }
        if wanted("recovery") {
            recovery::recovery(&sizes, &mut report).await;
        }
        if wanted("api") {
            api::api(&sizes, &mut report).await;
        }
    });
    if wanted("memory") {
        memory::memory(&sizes, &mut report);
    }
    report.finish(&sizes);
}
