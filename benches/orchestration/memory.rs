//! Resident memory per in-flight action, measured in a fresh child process whose
//! simulator runs in yet another, so neither earlier runs nor the simulator count.

use std::io::{BufRead, Read, Write};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::ci::{add_held, pipeline, side_by_side, teamcity, Ci};
use crate::daemon::Baton;
use crate::report::{Report, Target};
use crate::{Sizes, PATIENCE, ROLE};

/// Each run in a fresh process of its own, whose simulator runs in yet another.
pub fn memory(sizes: &Sizes, report: &mut Report) {
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
pub async fn memory_once(sizes: &Sizes) -> Value {
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
    let jobs = side_by_side(ci, per_execution, "Mem_Held");
    baton.apply("mem", &pipeline("mem", &[jobs])).await;
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

pub async fn serve_held_builds() {
    let types: usize = std::env::var("BATON_BENCH_TYPES")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    let tc = teamcity();
    add_held(&tc, &side_by_side(Ci::TeamCity, types, "Mem_Held"));
    println!("{}", tc.url());
    let _ = std::io::stdout().flush();
    let _ = tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new())).await;
}
