//! CI request economy: requests per completed build with callbacks and with polling
//! only, and requests/s with thousands of builds in flight (batched polling).

use crate::ci::{add_held, chain, pipeline, side_by_side, teamcity, Ci, Job, Sim};
use crate::daemon::{wait_for, Baton};
use crate::report::{Report, Target};
use crate::Sizes;

pub async fn economy(sizes: &Sizes, report: &mut Report) {
    for ci in [Ci::TeamCity, Ci::Jenkins] {
        for callbacks in [true, false] {
            let mode = if callbacks {
                "callbacks"
            } else {
                "polling only"
            };
            let (mut per_build, mut kinds) = (Vec::new(), String::new());
            for _ in 0..sizes.runs {
                let (requests, by_kind) = requests_per_build(ci, sizes, callbacks).await;
                per_build.push(requests);
                kinds = by_kind;
            }
            let note = format!(
                "{} executions of 3 builds of {:?}, polled every {}; the last run's requests: {kinds}",
                sizes.economy_executions, sizes.economy_build, sizes.economy_poll
            );
            let target = callbacks.then_some(Target::AtMost(4.0));
            let name = format!("{} {mode}: requests per build", ci.label());
            report.add("economy", &name, "requests", per_build, target, &note);
        }
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

/// Requests per build that started, and the requests by kind.
async fn requests_per_build(ci: Ci, sizes: &Sizes, callbacks: bool) -> (f64, String) {
    let sim = Sim::start(ci);
    let baton = Baton::start(&ci.server(&sim.url(), sizes.economy_poll, "10s")).await;
    let job = Job {
        duration: sizes.economy_build,
        hook: callbacks.then(|| ci.hook(baton.addr)),
    };
    sim.add_job("Bench_Timed", job);
    baton
        .apply("timed", &pipeline("timed", &chain(ci, 3, "Bench_Timed")))
        .await;
    let count = sizes.economy_executions;
    baton.closed_loop("timed", count, count).await;
    baton.stop().await;
    let per_build = sim.requests() as f64 / sim.builds() as f64;
    (per_build, sim.requests_by_kind())
}

/// Many held builds followed at once: requests/s, how many times fewer than one request
/// per build and poll that is, and the mean builds per list read.
async fn batched_polling(ci: Ci, sizes: &Sizes) -> (f64, f64, f64) {
    let tc = teamcity();
    let poll = humantime::format_duration(sizes.inflight_poll).to_string();
    let baton = Baton::start(&ci.server(&tc.url(), &poll, &poll)).await;
    let types = sizes.inflight_types;
    let jobs = side_by_side(ci, types, "Bench_Held");
    add_held(&tc, &jobs);
    baton.apply("wide", &pipeline("wide", &[jobs])).await;
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
