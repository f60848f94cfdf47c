//! The daemon against the TeamCity simulator: builds queued with resolved properties,
//! their outputs feeding a later action, webhooks that only wake the follower (and are
//! enough to finish an execution when polling is an hour apart), stop and abandon
//! cancelling a running build or removing a queued one, every build status mapped, a
//! lost trigger answer followed by `kill -9` that never queues a second build, a flaky
//! server that still ends every execution right, and the reads of many followed builds
//! batched into a few list requests.

use std::time::Duration;

use baton::sim::teamcity::{BuildTypeSpec, BuildView, TeamCitySim, TeamCitySimOptions};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

const TOKEN: &str = "tc-daemon-test-token-0123456789";
const SECRET: &str = "tc-callback-secret-0123456789";

async fn teamcity() -> TeamCitySim {
    TeamCitySim::start_with(TeamCitySimOptions {
        token: Some(TOKEN.into()),
        ..TeamCitySimOptions::default()
    })
    .expect("the TeamCity simulator starts")
}

/// Daemon config lines for the simulator as server `tc`; `extra` adds indented keys.
fn server(sim: &TeamCitySim, extra: &str) -> String {
    server_polling(sim, "100ms", "300ms", extra)
}

/// `server` with the given polling intervals.
fn server_polling(sim: &TeamCitySim, every: &str, at_most: &str, extra: &str) -> String {
    format!(
        "servers:\n  - name: tc\n    kind: teamcity\n    url: {}\n    token: {TOKEN}\n    \
         poll_interval: {every}\n    max_poll_interval: {at_most}\n    callback:\n      secret: {SECRET}\n{extra}",
        sim.url()
    )
}

/// A temporary directory with a git repository, the simulator and a daemon configured
/// by `config`.
struct World(tempfile::TempDir, GitRepo, TeamCitySim, Daemon);

async fn world(config: impl FnOnce(&TeamCitySim) -> String) -> World {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let tc = teamcity().await;
    let daemon = Daemon::start(dir.path(), &config(&tc)).await;
    World(dir, repo, tc, daemon)
}

fn webhook(daemon: &Daemon) -> String {
    format!("{}/hooks/teamcity/tc?token={SECRET}", daemon.url)
}

fn pipeline(repo: &str) -> String {
    format!(
        r##"name: backend
stages:
  - name: Source
    actions:
      - {{name: Checkout, provider: Git, namespace: Src, configuration: {{RepositoryUrl: "{repo}", BranchName: main}}}}
  - name: Build
    actions:
      - name: Compile
        provider: TeamCity
        namespace: Tc
        configuration:
          Server: tc
          BuildType: Backend_Build
          Branch: main
          OutputParameters: build.vcs.number
          Properties: {{env.COMMIT: "#{{Src.CommitId}}", system.channel: stable}}
  - name: Deploy
    actions:
      - name: Ship
        provider: TeamCity
        configuration:
          Server: tc
          BuildType: Backend_Deploy
          Properties: {{VCS_NUMBER: "#{{Tc.build.vcs.number}}", BUILD: "#{{Tc.BuildNumber}}"}}
"##
    )
}

fn build_type(webhook: Option<String>) -> BuildTypeSpec {
    BuildTypeSpec {
        duration: Duration::from_millis(300),
        resulting_properties: vec![("build.vcs.number".into(), "4711".into())],
        log: "compiling\nlinking\n".into(),
        webhook_url: webhook,
        ..BuildTypeSpec::default()
    }
}

fn property<'a>(build: &'a BuildView, name: &str) -> Option<&'a str> {
    build.properties.get(name).map(String::as_str)
}

#[tokio::test]
async fn builds_run_with_resolved_properties_and_outputs_flow_to_the_next_stage() {
    let World(_dir, repo, tc, daemon) = world(|tc| server(tc, "")).await;
    tc.add_build_type("Backend_Build", build_type(Some(webhook(&daemon))));
    tc.add_build_type("Backend_Deploy", build_type(Some(webhook(&daemon))));
    daemon.apply("backend", &pipeline(&repo.url)).await;

    let id = daemon.start_run("backend", json!({})).await;
    let done = daemon.wait_status(&id, "Succeeded").await;

    let compile = &done.stages[1].actions[0];
    assert_eq!(compile.output_variables["build.vcs.number"], "4711");
    assert_eq!(compile.output_variables["Status"], "SUCCESS");
    let url = compile.external_execution_url.as_deref().unwrap();
    assert!(url.starts_with(&tc.url()), "{url}");

    let builds = tc.builds();
    assert_eq!(builds.len(), 2, "{builds:#?}");
    let head = &done.stages[0].actions[0].output_variables["CommitId"];
    assert_eq!(property(&builds[0], "env.COMMIT"), Some(head.as_str()));
    assert_eq!(property(&builds[0], "system.channel"), Some("stable"));
    assert_eq!(builds[0].branch.as_deref(), Some("main"));
    assert_eq!(property(&builds[1], "VCS_NUMBER"), Some("4711"));
    assert_eq!(
        property(&builds[1], "BUILD"),
        builds[0].number.as_deref(),
        "the build number of the first build flows to the second"
    );
    let stats = tc.stats();
    assert_eq!(stats.triggers_per_build_type["Backend_Build"], 1);
    assert_eq!(stats.triggers_per_build_type["Backend_Deploy"], 1);
    assert!(stats.webhooks_sent > 0, "the builds called back: {stats:?}");
}

/// A daemon with an execution whose Build stage runs a build that waits for
/// `TeamCitySim::finish`.
async fn a_held_build() -> (World, String) {
    a_waiting_build(BuildTypeSpec {
        hold: true,
        ..build_type(None)
    })
    .await
}

/// A daemon with an execution whose Build stage runs a `Backend_Build` of `waiting`.
async fn a_waiting_build(waiting: BuildTypeSpec) -> (World, String) {
    let world = world(|tc| server(tc, "")).await;
    let World(_, repo, tc, daemon) = &world;
    tc.add_build_type("Backend_Build", waiting);
    tc.add_build_type("Backend_Deploy", build_type(None));
    daemon.apply("backend", &pipeline(&repo.url)).await;
    let id = daemon.start_run("backend", json!({})).await;
    (world, id)
}

/// Polls the simulator until `found` returns something.
async fn sim_until<T>(what: &str, found: impl Fn() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = found() {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited too long for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The build the action started, by the id the daemon recorded.
async fn external_build_id(daemon: &Daemon, id: &str, stage: &str, action: &str) -> u64 {
    let running = daemon
        .wait_until(id, &format!("{stage}/{action} to have a build"), |e| {
            find_action(e, stage, action).is_some_and(|a| a.external_execution_id.is_some())
        })
        .await;
    find_action(&running, stage, action)
        .and_then(|a| a.external_execution_id.as_deref())
        .unwrap()
        .parse()
        .unwrap()
}

fn find_action<'a>(
    e: &'a baton::api::dto::ExecutionDetail,
    stage: &str,
    action: &str,
) -> Option<&'a baton::api::dto::ActionDto> {
    e.stages
        .iter()
        .find(|s| s.name == stage)?
        .actions
        .iter()
        .find(|a| a.name == action)
}

#[tokio::test]
async fn webhooks_need_the_secret_and_cannot_decide_a_build() {
    let (world, id) = a_held_build().await;
    let World(_, _, tc, daemon) = &world;
    let build_id = external_build_id(daemon, &id, "Build", "Compile").await;

    // A forged "finished with failure" for the running build, with and without the secret.
    let forged = json!({
        "eventType": "BUILD_FINISHED",
        "payload": {"id": build_id, "buildTypeId": "Backend_Build", "state": "finished",
                    "status": "FAILURE", "statusText": "forged"}
    });
    let anonymous = format!("{}/hooks/teamcity/tc", daemon.url);
    assert_eq!(
        post_callback(&anonymous, &forged).await,
        StatusCode::UNAUTHORIZED
    );
    let accepted = post_callback(&webhook(daemon), &forged).await;
    assert!(accepted.is_success(), "{accepted}");
    let still = daemon.execution(&id).await;
    assert_eq!(
        action_status(&still, "Build", "Compile"),
        Some("InProgress")
    );

    assert!(tc.finish(build_id, "SUCCESS", "Success"));
    daemon.wait_status(&id, "Succeeded").await;
}

#[tokio::test]
async fn stop_and_abandon_cancels_the_running_build() {
    let (world, id) = a_held_build().await;
    let World(_, _, tc, daemon) = &world;
    daemon
        .wait_until(&id, "the build to run", |_| {
            tc.builds().iter().any(|b| b.state == "running")
        })
        .await;

    let build = abandoned(tc, daemon, &id).await;
    assert!(!build.removed_from_queue, "it had started: {build:?}");
    assert_ne!(build.number.as_deref(), Some("N/A"), "{build:?}");
}

/// Stops and abandons the execution, then waits for TeamCity to finish its build; checks
/// the action was abandoned, the cancel says why, and there was one trigger.
async fn abandoned(tc: &TeamCitySim, daemon: &Daemon, id: &str) -> BuildView {
    let stopped = daemon.stop_and_abandon(id, "wrong branch").await;
    assert_eq!(
        action_status(&stopped, "Build", "Compile"),
        Some("Abandoned")
    );
    let build = sim_until("the build to be canceled", || {
        tc.builds().into_iter().find(|b| b.state == "finished")
    })
    .await;
    let canceled = build.canceled_info.clone().expect("the build was canceled");
    let text = canceled.text.as_deref().unwrap_or("");
    assert!(
        text.contains("wrong branch") || text.contains(id),
        "the cancel says why: {canceled:?}"
    );
    assert_eq!(tc.stats().triggers_per_build_type["Backend_Build"], 1);
    build
}

#[tokio::test]
async fn stop_and_abandon_removes_a_queued_build_that_never_starts() {
    let queued = BuildTypeSpec {
        stay_queued: true,
        ..build_type(None)
    };
    let (world, id) = a_waiting_build(queued).await;
    let World(_, _, tc, daemon) = &world;
    let build_id = external_build_id(daemon, &id, "Build", "Compile").await;
    assert_eq!(tc.builds()[0].state, "queued");

    let build = abandoned(tc, daemon, &id).await;
    assert_eq!(build.id, build_id);
    assert!(build.removed_from_queue, "{build:?}");
    assert!(!build.failed_to_start, "{build:?}");
    assert_eq!(build.number.as_deref(), Some("N/A"), "never started");
    assert!(tc.stats().by_kind.cancel >= 1);

    // Released now, it stays removed: nothing is left in the queue to start.
    tc.start_queued("Backend_Build");
    let after = tc.builds();
    assert_eq!(after.len(), 1, "{after:#?}");
    assert_eq!(after[0].number.as_deref(), Some("N/A"), "{after:#?}");
    assert!(after[0].removed_from_queue);
}

#[tokio::test]
async fn a_lost_trigger_answer_and_a_kill_never_queue_a_second_build() {
    let World(_dir, repo, tc, mut daemon) = world(|tc| server(tc, "")).await;
    tc.add_build_type("Backend_Build", build_type(None));
    tc.add_build_type("Backend_Deploy", build_type(None));
    daemon.apply("backend", &pipeline(&repo.url)).await;

    // The trigger reaches TeamCity and queues the build, but its answer is lost; the
    // daemon is killed right after, before it can learn anything more.
    tc.lose_next_responses(1, 502);
    let id = daemon.start_run("backend", json!({})).await;
    sim_until("a build to be queued", || {
        (!tc.builds().is_empty()).then_some(())
    })
    .await;
    daemon.kill9().await;
    daemon.restart().await;

    let done = daemon.wait_status(&id, "Succeeded").await;
    let stats = tc.stats();
    assert_eq!(
        stats.triggers_per_build_type["Backend_Build"], 1,
        "{stats:?}"
    );
    assert_eq!(
        stats.triggers_per_build_type["Backend_Deploy"], 1,
        "{stats:?}"
    );
    let compile = &done.stages[1].actions[0];
    assert_eq!(
        compile.external_execution_id.as_deref(),
        Some(tc.builds()[0].id.to_string().as_str())
    );
}

#[tokio::test]
async fn a_flaky_server_within_its_rate_limit_still_ends_every_execution_once() {
    let limit = "    rate_limit: {per_second: 15, burst: 5}\n";
    let World(_dir, repo, tc, daemon) = world(|tc| server(tc, limit)).await;
    tc.add_build_type("Backend_Build", build_type(Some(webhook(&daemon))));
    tc.add_build_type("Backend_Deploy", build_type(Some(webhook(&daemon))));
    daemon
        .apply(
            "backend",
            &pipeline(&repo.url).replace("name: backend", "name: backend\nexecutionMode: PARALLEL"),
        )
        .await;

    tc.fault_rate(20, 5, 7);
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(daemon.start_run("backend", json!({})).await);
    }
    for id in &ids {
        let done = daemon
            .wait_until(id, "a final status", |e| {
                matches!(e.summary.status.as_str(), "Succeeded" | "Failed")
            })
            .await;
        // A trigger whose answer is lost to a fault is found again by its marker, or,
        // if TeamCity never queued it, fails the action with a message that says so;
        // either way nothing runs twice.
        if done.summary.status == "Failed" {
            let failed = done
                .stages
                .iter()
                .flat_map(|s| &s.actions)
                .find(|a| a.status.as_deref() == Some("Failed"))
                .unwrap();
            assert!(
                failed.error.is_some() || failed.summary.is_some(),
                "{failed:?}"
            );
        }
    }
    tc.fault_rate(0, 0, 0);
    let stats = tc.stats();
    let builds = tc.builds();
    let runs: std::collections::BTreeSet<_> = builds
        .iter()
        .filter_map(|b| property(b, baton::adapters::teamcity::MARKER))
        .collect();
    assert_eq!(
        runs.len(),
        builds.len(),
        "one build per action run: {builds:#?}"
    );
    assert!(
        stats.max_requests_per_second <= 15 + 5,
        "rate limit held: {stats:?}"
    );
}

/// A pipeline named `name`: a Git source, then each stage's TeamCity actions (name,
/// build type) side by side.
fn stages(name: &str, mode: &str, repo: &str, stages: &[(&str, &[(&str, &str)])]) -> String {
    let mut text = format!(
        "name: {name}\nexecutionMode: {mode}\nstages:\n  - name: Source\n    actions:\n      \
         - {{name: Checkout, provider: Git, configuration: {{RepositoryUrl: \"{repo}\", BranchName: main}}}}\n"
    );
    for (stage, actions) in stages {
        text.push_str(&format!("  - name: {stage}\n    actions:\n"));
        for (action, build_type) in actions.iter() {
            text.push_str(&format!(
                "      - {{name: {action}, provider: TeamCity, configuration: {{Server: tc, BuildType: {build_type}}}}}\n"
            ));
        }
    }
    text
}

fn finished(build_type: BuildTypeSpec, status: &str, text: &str) -> BuildTypeSpec {
    BuildTypeSpec {
        status: status.into(),
        status_text: Some(text.into()),
        ..build_type
    }
}

#[tokio::test]
async fn every_build_status_maps_to_the_action_result() {
    let World(_dir, repo, tc, daemon) = world(|tc| server(tc, "")).await;
    let plain = build_type(Some(webhook(&daemon)));
    tc.add_build_type(
        "App_Ok",
        finished(plain.clone(), "SUCCESS", "Tests passed: 12"),
    );
    tc.add_build_type(
        "App_Fails",
        finished(
            plain.clone(),
            "FAILURE",
            "Tests failed: 3 (3 new), passed: 9",
        ),
    );
    tc.add_build_type(
        "App_Errs",
        finished(plain.clone(), "ERROR", "Compilation error: Main.kt"),
    );
    let no_agent = BuildTypeSpec {
        fail_to_start: true,
        ..finished(plain, "FAILURE", "No compatible agents: linux-x64")
    };
    tc.add_build_type("App_NoAgent", no_agent);
    let actions: &[(&str, &str)] = &[
        ("Ok", "App_Ok"),
        ("Fails", "App_Fails"),
        ("Errs", "App_Errs"),
        ("NoAgent", "App_NoAgent"),
    ];
    daemon
        .apply(
            "statuses",
            &stages("statuses", "QUEUED", &repo.url, &[("Build", actions)]),
        )
        .await;

    let id = daemon.start_run("statuses", json!({})).await;
    let done = daemon.wait_status(&id, "Failed").await;
    let action = |name: &str| find_action(&done, "Build", name).unwrap();
    let words = |name: &str| {
        let a = action(name);
        format!(
            "{} {}",
            a.summary.as_deref().unwrap_or(""),
            a.error.as_deref().unwrap_or("")
        )
    };

    assert_eq!(action("Ok").status.as_deref(), Some("Succeeded"));
    assert_eq!(action("Ok").output_variables["Status"], "SUCCESS");
    for (name, status, text) in [
        ("Fails", "FAILURE", "Tests failed: 3"),
        ("Errs", "ERROR", "Compilation error: Main.kt"),
    ] {
        assert_eq!(action(name).status.as_deref(), Some("Failed"), "{name}");
        assert_eq!(action(name).output_variables["Status"], status, "{name}");
        assert!(words(name).contains(text), "{name}: {}", words(name));
    }
    assert_eq!(action("NoAgent").status.as_deref(), Some("Failed"));
    let never = words("NoAgent");
    assert!(
        never.contains("failed to start") && never.contains("No compatible agents"),
        "{never}"
    );
    let builds = tc.builds();
    assert_eq!(builds.len(), 4, "one build each: {builds:#?}");
}

#[tokio::test]
async fn callbacks_alone_finish_an_execution_when_polls_are_an_hour_apart() {
    let World(_dir, repo, tc, daemon) = world(|tc| server_polling(tc, "1h", "1h", "")).await;
    // Each build outlasts the daemon's first look right after the trigger, so only a
    // webhook can tell it that the build finished.
    let slow = BuildTypeSpec {
        duration: Duration::from_millis(1500),
        ..build_type(Some(webhook(&daemon)))
    };
    tc.add_build_type("App_Build", slow.clone());
    tc.add_build_type("App_Test", slow.clone());
    tc.add_build_type("App_Deploy", slow);
    let pipeline = stages(
        "hooked",
        "QUEUED",
        &repo.url,
        &[
            ("Build", &[("Compile", "App_Build"), ("Test", "App_Test")]),
            ("Deploy", &[("Ship", "App_Deploy")]),
        ],
    );
    daemon.apply("hooked", &pipeline).await;

    let started = std::time::Instant::now();
    let id = daemon.start_run("hooked", json!({})).await;
    daemon.wait_status(&id, "Succeeded").await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "callbacks, not polls, moved it on: {:?}",
        started.elapsed()
    );
    let stats = tc.stats();
    assert!(stats.webhooks_sent >= 6, "{stats:?}");
    let reads = stats.by_kind.build + stats.by_kind.builds_list;
    assert!(
        reads <= 3 * 4,
        "a few reads per build, no polling: {stats:?}"
    );
}

/// Starts `count` executions of a PARALLEL pipeline whose one action is a held TeamCity
/// build (`App_Build`), and returns their ids.
async fn start_held_builds(
    tc: &TeamCitySim,
    daemon: &Daemon,
    repo: &GitRepo,
    count: usize,
) -> Vec<String> {
    tc.add_build_type(
        "App_Build",
        BuildTypeSpec {
            hold: true,
            ..build_type(None)
        },
    );
    let pipeline = stages(
        "many",
        "PARALLEL",
        &repo.url,
        &[("Build", &[("Compile", "App_Build")])],
    );
    daemon.apply("many", &pipeline).await;
    let mut ids = Vec::new();
    for _ in 0..count {
        ids.push(daemon.start_run("many", json!({})).await);
    }
    ids
}

#[tokio::test]
async fn after_a_restart_the_first_reads_of_running_builds_share_list_requests() {
    const BUILDS: usize = 12;
    // Polls an hour apart, and a build just triggered is not read before its first
    // poll: every read after the restart is the recovery's first look.
    let World(_dir, repo, tc, mut daemon) = world(|tc| server_polling(tc, "1h", "1h", "")).await;
    let applied = tokio::time::Instant::now();
    let ids = start_held_builds(&tc, &daemon, &repo, BUILDS).await;
    for id in &ids {
        daemon
            .wait_action(id, "Build", "Compile", "InProgress")
            .await;
    }
    assert_eq!(
        tc.builds_read_since(applied),
        0,
        "read before the first poll"
    );

    daemon.kill9().await;
    let restarted = tokio::time::Instant::now();
    let before = tc.stats();
    daemon.restart().await;
    sim_until("every build to be read again", || {
        (tc.builds_read_since(restarted) == BUILDS).then_some(())
    })
    .await;
    let after = tc.stats();
    let lists = after.builds_list_sizes.len() - before.builds_list_sizes.len();
    let singles = after.by_kind.build - before.by_kind.build;
    assert!(
        lists + singles <= BUILDS / 3,
        "{BUILDS} recovered builds took {lists} list reads and {singles} single reads"
    );
    assert_eq!(
        after.triggers_per_build_type, before.triggers_per_build_type,
        "nothing triggered again"
    );
}

#[tokio::test]
async fn the_reads_of_many_running_builds_are_batched_into_list_requests() {
    const BUILDS: usize = 8;
    let World(_dir, repo, tc, daemon) = world(|tc| server(tc, "")).await;
    let ids = start_held_builds(&tc, &daemon, &repo, BUILDS).await;
    let builds = sim_until("every build to run", || {
        let builds = tc.builds();
        (builds.len() == BUILDS && builds.iter().all(|b| b.state == "running")).then_some(builds)
    })
    .await;
    for id in &ids {
        daemon
            .wait_action(id, "Build", "Compile", "InProgress")
            .await;
    }

    // Several poll rounds (100-300 ms apart) with every build followed.
    let before = tc.stats();
    let after = sim_until("five more poll rounds", || {
        let now = tc.stats();
        (now.builds_list_sizes.len() >= before.builds_list_sizes.len() + 5).then_some(now)
    })
    .await;
    let lists = &after.builds_list_sizes[before.builds_list_sizes.len()..];
    let singles = after.by_kind.build - before.by_kind.build;
    let reads = lists.len() + singles;
    let followed: usize = lists.iter().sum::<usize>() + singles;
    let multi = lists.iter().filter(|n| **n > 1).count();
    assert!(
        multi * 2 > reads,
        "most reads cover several builds: {lists:?}, {singles} single reads"
    );
    assert!(
        followed >= 4 * reads,
        "each read covers several builds on average: {followed} build readings in {reads} reads"
    );

    for build in &builds {
        assert!(tc.finish(build.id, "SUCCESS", "Success"));
    }
    for id in &ids {
        daemon.wait_status(id, "Succeeded").await;
    }
}
