//! Recovery: `baton serve` with thousands of held TeamCity builds in flight is killed
//! with SIGKILL and started again on the same data directory. Measured from the new
//! process's spawn: until it listens, and until the simulator has seen every in-flight
//! build read again (the new daemon follows them all); and the builds triggered after
//! the restart, which must be none.

use std::time::{Duration, Instant};

use baton::sim::teamcity::TeamCitySim;

use crate::child::Daemon;
use crate::ci::{add_held, pipeline, side_by_side, teamcity, Ci};
use crate::daemon::wait_for;
use crate::report::{Report, Target};
use crate::{Sizes, PATIENCE};

/// How often the simulator is asked how many builds were read again.
const LOOK: Duration = Duration::from_millis(10);

pub async fn recovery(sizes: &Sizes, report: &mut Report) {
    let (mut followed, mut listening, mut retriggered) = (Vec::new(), Vec::new(), Vec::new());
    let mut reads = String::new();
    for _ in 0..sizes.runs {
        let run = recovery_once(sizes).await;
        followed.push(run.followed.as_secs_f64());
        listening.push(run.listening.as_secs_f64());
        retriggered.push(run.retriggered as f64);
        reads = format!(
            "{} CI requests until every build was read again, {:.0} builds per list read",
            run.requests, run.builds_per_list
        );
    }
    let note = format!(
        "{} held builds ({} executions of {} parallel actions), SIGKILL, restart on the same \
         store; the last run: {reads}",
        sizes.recovery_actions,
        sizes.recovery_actions / sizes.recovery_per_execution,
        sizes.recovery_per_execution
    );
    let target = Some(Target::AtMost(5.0));
    let name = "every in-flight build followed again";
    report.add("recovery", name, "s", followed, target, &note);
    let name = "listening again";
    report.add("recovery", name, "s", listening, None, &note);
    let name = "builds triggered again";
    let target = Some(Target::AtMost(0.0));
    report.add("recovery", name, "builds", retriggered, target, &note);
}

struct Recovered {
    followed: Duration,
    listening: Duration,
    retriggered: usize,
    /// CI requests from the restart until every build was read again.
    requests: usize,
    builds_per_list: f64,
}

async fn recovery_once(sizes: &Sizes) -> Recovered {
    let ci = Ci::TeamCity;
    let tc = teamcity();
    let per_execution = sizes.recovery_per_execution;
    let jobs = side_by_side(ci, per_execution, "Rec_Held");
    add_held(&tc, &jobs);
    // TeamCity's default pace: after the restart only the first reads can be quick.
    let mut daemon = Daemon::start(&ci.server(&tc.url(), "10s", "60s")).await;
    daemon.apply("wide", &pipeline("wide", &[jobs])).await;
    let began = tokio::time::Instant::now();
    let builds = sizes.recovery_actions;
    for _ in 0..builds / per_execution {
        daemon.start_execution("wide").await;
    }
    // A read follows the durable record of the build's start, so once every build was
    // read every one is in flight as far as the store knows.
    wait_for(&format!("{builds} builds to be followed"), || {
        tc.builds_read_since(began) >= builds
    })
    .await;
    assert_eq!(running(&tc), builds, "only the held builds run");
    let triggered = triggers(&tc);
    let before = tc.stats();

    daemon.kill9().await;
    let restarted = daemon.launch().await;
    let listening = restarted.elapsed();
    let since = tokio::time::Instant::from_std(restarted);
    let deadline = Instant::now() + PATIENCE;
    while tc.builds_read_since(since) < builds {
        assert!(
            Instant::now() < deadline,
            "waited too long for the restarted daemon to read every build"
        );
        tokio::time::sleep(LOOK).await;
    }
    let followed = restarted.elapsed();
    let after = tc.stats();
    let lists = &after.builds_list_sizes[before.builds_list_sizes.len()..];
    // Anything the new daemon would trigger again would come with or soon after the
    // first reads; give it a moment.
    tokio::time::sleep(sizes.recovery_grace).await;
    let retriggered = triggers(&tc) - triggered;
    daemon.kill9().await;
    Recovered {
        followed,
        listening,
        retriggered,
        requests: after.total_requests - before.total_requests,
        builds_per_list: lists.iter().sum::<usize>() as f64 / lists.len().max(1) as f64,
    }
}

fn running(tc: &TeamCitySim) -> usize {
    tc.builds().iter().filter(|b| b.state == "running").count()
}

fn triggers(tc: &TeamCitySim) -> usize {
    tc.stats().triggers_per_build_type.values().sum()
}
