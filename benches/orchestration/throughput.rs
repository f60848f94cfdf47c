//! Throughput: executions/s and durable transitions/s of a five-action pipeline of
//! instant builds on Jenkins and TeamCity, sending callbacks, at several numbers of
//! concurrent executions.

use crate::ci::{pipeline, servers, Action, Ci, Job, Sim};
use crate::daemon::Baton;
use crate::report::{Report, Target};
use crate::Sizes;

pub async fn throughput(sizes: &Sizes, report: &mut Report) {
    for &(concurrency, total) in &sizes.throughput {
        let (mut executions, mut transitions) = (Vec::new(), Vec::new());
        for _ in 0..sizes.runs {
            let (rate, durable) = throughput_once(concurrency, total).await;
            executions.push(rate);
            transitions.push(durable);
        }
        let note = format!(
            "{total} executions of 5 actions (3 TeamCity, 2 Jenkins; one parallel pair), \
             {concurrency} at a time"
        );
        let target = (concurrency == 100).then_some(Target::AtLeast(200.0));
        let name = format!("{concurrency} concurrent: executions");
        report.add("throughput", &name, "/s", executions, target, &note);
        let name = format!("{concurrency} concurrent: durable transitions");
        report.add("throughput", &name, "/s", transitions, None, &note);
    }
}

/// The source, then Compile (TeamCity), Test (Jenkins) beside Lint (TeamCity), Package
/// (Jenkins) and Deploy (TeamCity).
fn five_actions() -> Vec<Vec<Action>> {
    let tc = |name: &str| (Ci::TeamCity, name.to_string(), "Bench_Instant".to_string());
    let jk = |name: &str| (Ci::Jenkins, name.to_string(), "bench-instant".to_string());
    vec![
        vec![tc("Compile")],
        vec![jk("Test"), tc("Lint")],
        vec![jk("Package")],
        vec![tc("Deploy")],
    ]
}

async fn throughput_once(concurrency: usize, total: usize) -> (f64, f64) {
    let (tc, jk) = (Sim::start(Ci::TeamCity), Sim::start(Ci::Jenkins));
    let entries = [
        Ci::TeamCity.entry(&tc.url(), "10s", "60s"),
        Ci::Jenkins.entry(&jk.url(), "10s", "60s"),
    ];
    let baton = Baton::start(&servers(&entries)).await;
    for (sim, ci, job) in [
        (&tc, Ci::TeamCity, "Bench_Instant"),
        (&jk, Ci::Jenkins, "bench-instant"),
    ] {
        let hook = Some(ci.hook(baton.addr));
        sim.add_job(
            job,
            Job {
                hook,
                ..Job::default()
            },
        );
    }
    baton
        .apply("five", &pipeline("five", &five_actions()))
        .await;
    let (ids, took) = baton.closed_loop("five", total, concurrency).await;
    let transitions = baton.transitions(&ids).await;
    baton.stop().await;
    let secs = took.as_secs_f64();
    (ids.len() as f64 / secs, transitions as f64 / secs)
}
