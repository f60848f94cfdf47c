//! Stage-to-stage overhead: from the simulator finishing a build to the next action's
//! trigger reaching it, with callbacks and with polling only.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use baton::sim::teamcity::{BuildTypeSpec, TeamCitySim};

use crate::ci::{chain, pipeline, teamcity, Ci, EXECUTION_PROPERTY};
use crate::daemon::Baton;
use crate::report::{millis, percentile, Report, Target};
use crate::Sizes;

/// How long a held build runs before it is finished: the daemon has read it as running
/// (and taken the start callback) by then, so the finish is what it waits for.
const SETTLE: Duration = Duration::from_millis(150);

pub async fn overhead(sizes: &Sizes, report: &mut Report) {
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
            &pipeline("chain", &chain(ci, stages, "Bench_Step")),
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
