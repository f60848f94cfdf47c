//! Callbacks are hints: the notifications Jenkins and TeamCity really sent for a build,
//! recorded on their way to the daemon and sent again after the execution finished, are
//! accepted (they carry the right secret) and change nothing: the execution, the builds on
//! the CI servers and the store stay as they were.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use baton::sim::jenkins::JobSpec;
use baton::sim::teamcity::BuildTypeSpec;
use serde_json::json;

use crate::helpers::*;

const JENKINS_TOKEN: &str = "11aaaabbbbccccddddeeeeffff000022";
const TEAMCITY_TOKEN: &str = "tc-replay-token-0123456789";
const SECRET: &str = "replay-callback-secret-0123456789";

/// Sits between a CI server and the daemon: keeps each body it passes on.
#[derive(Clone, Default)]
struct Recorder {
    target: Arc<Mutex<String>>,
    bodies: Arc<Mutex<Vec<Bytes>>>,
}

impl Recorder {
    /// Starts the recorder; returns its URL.
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(pass_on)
            .with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    fn bodies(&self) -> Vec<Bytes> {
        self.bodies.lock().unwrap().clone()
    }
}

async fn pass_on(State(recorder): State<Recorder>, body: Bytes) -> StatusCode {
    recorder.bodies.lock().unwrap().push(body.clone());
    let target = recorder.target.lock().unwrap().clone();
    let response = reqwest::Client::new()
        .post(target)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    StatusCode::from_u16(response.status().as_u16()).unwrap()
}

#[tokio::test]
async fn replayed_notifications_after_the_build_finished_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let jk = jenkins_sim("baton", JENKINS_TOKEN);
    let tc = teamcity_sim(TEAMCITY_TOKEN);
    let config = format!(
        "servers:\n  - {{name: jk, kind: jenkins, url: \"{}\", user: baton, token: {JENKINS_TOKEN}, \
         poll_interval: 100ms, callback: {{secret: {SECRET}}}}}\n  \
         - {{name: tc, kind: teamcity, url: \"{}\", token: {TEAMCITY_TOKEN}, poll_interval: 100ms, \
         callback: {{secret: {SECRET}}}}}\n",
        jk.url(),
        tc.url()
    );
    let daemon = Daemon::start(dir.path(), &config).await;
    let jenkins_hook = format!("{}/hooks/jenkins/jk?token={SECRET}", daemon.url);
    let teamcity_hook = format!("{}/hooks/teamcity/tc?token={SECRET}", daemon.url);
    let (from_jenkins, from_teamcity) = (Recorder::default(), Recorder::default());
    *from_jenkins.target.lock().unwrap() = jenkins_hook.clone();
    *from_teamcity.target.lock().unwrap() = teamcity_hook.clone();
    jk.add_job(
        "app/build",
        JobSpec {
            duration: Duration::from_millis(100),
            notify_url: Some(from_jenkins.start().await),
            ..JobSpec::default()
        },
    );
    tc.add_build_type(
        "App_Test",
        BuildTypeSpec {
            duration: Duration::from_millis(100),
            webhook_url: Some(from_teamcity.start().await),
            ..BuildTypeSpec::default()
        },
    );
    let yaml = format!(
        "name: replay\nstages:\n  - name: Source\n    actions:\n      - {{name: S, provider: Git, configuration: {{RepositoryUrl: \"{}\", BranchName: main}}}}\n  \
         - name: Build\n    actions:\n      - {{name: Compile, provider: Jenkins, configuration: {{Server: jk, ProjectName: app/build}}}}\n      \
         - {{name: Test, provider: TeamCity, configuration: {{Server: tc, BuildType: App_Test}}}}\n",
        repo.url
    );
    daemon.apply("replay", &yaml).await;
    let id = daemon.start_run("replay", json!({})).await;
    let done = daemon.wait_status(&id, "Succeeded").await;
    let jenkins_bodies = from_jenkins.bodies();
    let teamcity_bodies = from_teamcity.bodies();
    assert!(
        !jenkins_bodies.is_empty() && !teamcity_bodies.is_empty(),
        "both servers sent notifications: {} from Jenkins, {} from TeamCity",
        jenkins_bodies.len(),
        teamcity_bodies.len()
    );
    let (_, history_before) = daemon.get("/api/v1/pipelines/replay/executions").await;
    let jenkins_before = jk.stats();
    let teamcity_before = tc.stats();

    for (hook, bodies) in [
        (&jenkins_hook, &jenkins_bodies),
        (&teamcity_hook, &teamcity_bodies),
    ] {
        for body in bodies.iter().chain(bodies.iter()) {
            let response = reqwest::Client::new()
                .post(hook.as_str())
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = response.status();
            let answer: serde_json::Value = response.json().await.unwrap();
            assert_eq!(status, 202, "{answer}");
            assert_eq!(answer["woken"], 0, "no follower is left to wake: {answer}");
        }
    }

    let after = daemon.execution(&id).await;
    assert_eq!(
        after.updated_at, done.updated_at,
        "the execution did not change"
    );
    assert_eq!(
        serde_json::to_value(&after.stages).unwrap(),
        serde_json::to_value(&done.stages).unwrap()
    );
    let (_, history_after) = daemon.get("/api/v1/pipelines/replay/executions").await;
    assert_eq!(history_after, history_before, "no execution started");
    assert_eq!(jk.stats().triggers_of("app/build"), 1);
    assert_eq!(
        jk.stats().triggers_of("app/build"),
        jenkins_before.triggers_of("app/build")
    );
    assert_eq!(
        tc.stats().triggers_per_build_type,
        teamcity_before.triggers_per_build_type
    );
}
