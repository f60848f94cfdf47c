//! `baton demo`: the whole product on one machine. It starts simulated Jenkins and
//! TeamCity servers on loopback, makes a local git repository, starts the daemon against
//! them, applies `config/pipelines/demo.yaml` and follows one execution to its end with
//! live progress, approving the release gate after a few seconds unless someone else
//! decides first. With `--keep` everything stays up for exploring with the CLI.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use crate::api::dto::ExecutionDetail;
use crate::app::App;
use crate::cli::watch::{self, Display};
use crate::cli::ApiClient;
use crate::config::{ServerSettings, Settings};
use crate::engine::state::Trigger;
use crate::sim::jenkins::{JenkinsSim, JenkinsSimOptions, JobSpec, ParamSpec};
use crate::sim::teamcity::{BuildTypeSpec, TeamCitySim, TeamCitySimOptions};

/// The demo's pipeline, as shipped in `config/pipelines/demo.yaml`.
pub const PIPELINE: &str = include_str!("../config/pipelines/demo.yaml");

const JENKINS_USER: &str = "baton";
const JENKINS_TOKEN: &str = "11demo0jenkins0api0token0baton22";
const TEAMCITY_TOKEN: &str = "demo-teamcity-access-token-0123456789";
const CALLBACK_SECRET: &str = "demo-callback-secret-0123456789";

/// How `baton demo` runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Stay up after the execution ends, until Ctrl-C.
    pub keep: bool,
    /// Approve the release gate after this long (None: wait for a person).
    pub auto_approve: Option<Duration>,
    /// How long each simulated build takes.
    pub build_time: Duration,
    /// Where the daemon listens (port 0 picks a free one).
    pub listen: std::net::SocketAddr,
    /// How progress is shown.
    pub display: Display,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            keep: false,
            auto_approve: Some(Duration::from_secs(4)),
            build_time: Duration::from_secs(2),
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            display: Display::for_stdout(),
        }
    }
}

/// Runs the demo; the exit code is 0 when the execution succeeded.
pub async fn run(options: DemoOptions) -> anyhow::Result<u8> {
    tokio::select! {
        result = demo(&options) => result,
        _ = crate::app::shutdown_signal() => {
            println!("\nInterrupted; everything is stopped.");
            Ok(130)
        }
    }
}

async fn demo(options: &DemoOptions) -> anyhow::Result<u8> {
    let workspace = tempfile::Builder::new()
        .prefix("baton-demo-")
        .tempdir()
        .context("making a working directory")?;
    let repository = make_repository(workspace.path()).context("making the demo git repository")?;

    let jenkins = JenkinsSim::start_with(JenkinsSimOptions {
        users: vec![(JENKINS_USER.into(), JENKINS_TOKEN.into())],
        ..JenkinsSimOptions::default()
    })
    .context("starting the simulated Jenkins")?;
    let teamcity = TeamCitySim::start_with(TeamCitySimOptions {
        token: Some(TEAMCITY_TOKEN.into()),
        ..TeamCitySimOptions::default()
    })
    .context("starting the simulated TeamCity")?;

    let settings = settings(options, workspace.path(), &jenkins.url(), &teamcity.url())?;
    let app = App::build(settings).await.context("starting the daemon")?;
    let url = format!("http://{}", app.local_addr()?);
    // The simulated servers call back as the real ones would, once they know where.
    add_jobs(
        &jenkins,
        options,
        &format!("{url}/hooks/jenkins/jenkins-demo?token={CALLBACK_SECRET}"),
    );
    add_build_types(
        &teamcity,
        options,
        &format!("{url}/hooks/teamcity/teamcity-demo?token={CALLBACK_SECRET}"),
    );
    let service = crate::service::Service::new(app.runtime().clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));

    println!("Baton demo");
    println!("  daemon:   {url}");
    println!("  Jenkins:  {} (simulated)", jenkins.url());
    println!("  TeamCity: {} (simulated)", teamcity.url());
    println!();

    service
        .apply_pipeline("demo", PIPELINE)
        .await
        .map_err(|e| anyhow::anyhow!("applying the demo pipeline: {e}"))?;
    let variables = [("RepositoryUrl".to_string(), repository)]
        .into_iter()
        .collect();
    let trigger = Trigger {
        kind: "StartPipelineExecution".into(),
        detail: Some("baton demo".into()),
        by: Some("demo".into()),
    };
    let id = service
        .start("demo", variables, None, trigger)
        .await
        .map_err(|e| anyhow::anyhow!("starting the execution: {e}"))?;
    println!("execution {id}");

    let token = std::fs::read_to_string(workspace.path().join("data").join("admin.token"))
        .context("reading the admin token")?;
    match options.auto_approve {
        Some(delay) => {
            tokio::spawn(approve_later(service.clone(), id.clone(), delay));
            println!(
                "The Release approval is granted {} after it starts waiting.",
                humantime::format_duration(delay)
            );
        }
        None => println!(
            "The Release approval waits for you; in another terminal:\n  \
             baton approve {id} Approve Release --comment 'ship it' --server {url} --token {}",
            token.trim()
        ),
    }
    println!();
    let client = ApiClient::new(url.parse()?, Some(token.trim().to_string()))?;
    let detail: ExecutionDetail = watch::follow(&client, &id, options.display)
        .await
        .map_err(|e| anyhow::anyhow!("following the execution: {e}"))?;
    println!();
    println!(
        "{}",
        crate::cli::render::outcome(&detail, chrono::Utc::now())
    );
    let code = watch::exit_code(&detail);

    if options.keep {
        println!();
        println!("Everything stays up until Ctrl-C. Try:");
        println!("  export BATON_SERVER={url} BATON_TOKEN={}", token.trim());
        println!("  baton run list demo");
        println!("  baton run get {id}");
        println!("  baton run logs {id} Build Compile");
        println!("  baton run start demo --var RepositoryUrl=... --wait");
        crate::app::shutdown_signal().await;
    }
    let _ = stop.send(());
    let _ = server.await;
    drop((jenkins, teamcity));
    Ok(code)
}

/// Approves the release gate once it waits, after `delay`, unless a person decided.
async fn approve_later(service: crate::service::Service, id: String, delay: Duration) {
    let mut changes = service.runtime().changes();
    loop {
        let waiting = service.execution(&id).await.ok().is_some_and(|e| {
            e.stages.iter().flat_map(|s| &s.actions).any(|a| {
                a.name == "Release"
                    && a.status == Some(crate::engine::state::ActionStatus::InProgress)
            })
        });
        if waiting {
            break;
        }
        if changes.recv().await.is_err() {
            return;
        }
    }
    tokio::time::sleep(delay).await;
    let _ = service
        .approve(
            &id,
            "Approve",
            "Release",
            true,
            Some("approved by the demo".into()),
            "demo",
        )
        .await;
}

fn make_repository(dir: &Path) -> anyhow::Result<String> {
    let bare = dir.join("app.git");
    let work = dir.join("app");
    let git = |cwd: &Path, args: &[&str]| -> anyhow::Result<()> {
        let output = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=Baton Demo",
                "-c",
                "user.email=demo@baton.invalid",
            ])
            .args(args)
            .current_dir(cwd)
            .output()
            .context("running git (is it installed?)")?;
        anyhow::ensure!(
            output.status.success(),
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Ok(())
    };
    let (bare_path, work_path) = (path_text(&bare)?, path_text(&work)?);
    git(dir, &["init", "-q", "--bare", "-b", "main", &bare_path])?;
    git(dir, &["init", "-q", "-b", "main", &work_path])?;
    std::fs::write(work.join("README.md"), "The demo application.\n")?;
    git(&work, &["add", "README.md"])?;
    git(&work, &["commit", "-q", "-m", "Add the demo application"])?;
    git(&work, &["push", "-q", &bare_path, "HEAD:main"])?;
    Ok(format!("file://{bare_path}"))
}

fn path_text(path: &Path) -> anyhow::Result<String> {
    path.to_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("{} is not valid UTF-8", path.display()))
}

fn add_jobs(sim: &JenkinsSim, options: &DemoOptions, callback: &str) {
    let marker = ParamSpec::new(crate::adapters::jenkins::MARKER, None);
    let param = |name: &str| ParamSpec::new(name, None);
    sim.add_job(
        "demo/build",
        JobSpec {
            parameters: vec![param("COMMIT"), marker.clone()],
            duration: options.build_time,
            log: "Compiling the demo application\nRunning the unit tests\nPackaging app-1.4.2.tar.gz\n".into(),
            artifacts: vec![
                ("build.properties".into(), "Version=1.4.2\nImage=registry.invalid/demo:1.4.2\n".into()),
                ("app-1.4.2.tar.gz".into(), "not really a tarball".into()),
            ],
            notify_url: Some(callback.into()),
            ..JobSpec::default()
        },
    );
    sim.add_job(
        "demo/integration-tests",
        JobSpec {
            parameters: vec![marker.clone()],
            duration: options.build_time,
            log: "Starting the test environment\n128 tests passed\n".into(),
            notify_url: Some(callback.into()),
            ..JobSpec::default()
        },
    );
    sim.add_job(
        "demo/deploy",
        JobSpec {
            parameters: vec![param("ENV"), param("VERSION"), marker],
            duration: options.build_time,
            log: "Deploying to production\nHealth checks passed\n".into(),
            notify_url: Some(callback.into()),
            ..JobSpec::default()
        },
    );
}

fn add_build_types(sim: &TeamCitySim, options: &DemoOptions, webhook: &str) {
    sim.add_build_type(
        "Demo_UnitTests",
        BuildTypeSpec {
            duration: options.build_time + options.build_time / 2,
            resulting_properties: vec![("build.vcs.number".into(), "42".into())],
            log: "Running 512 unit tests\nAll tests passed\n".into(),
            webhook_url: Some(webhook.into()),
            ..BuildTypeSpec::default()
        },
    );
}

fn settings(
    options: &DemoOptions,
    workspace: &Path,
    jenkins: &str,
    teamcity: &str,
) -> anyhow::Result<Settings> {
    let server = |yaml: String| -> anyhow::Result<ServerSettings> {
        serde_yaml::from_str(&yaml).context("demo server settings")
    };
    let poll = "poll_interval: 500ms, max_poll_interval: 2s";
    let mut settings = Settings {
        listen: options.listen,
        data_dir: workspace.join("data"),
        ..Settings::default()
    };
    settings.log.level = "warn".into();
    settings.servers = vec![
        server(format!(
            "{{name: jenkins-demo, kind: jenkins, url: '{jenkins}', user: {JENKINS_USER}, token: {JENKINS_TOKEN}, {poll}, callback: {{secret: {CALLBACK_SECRET}}}}}"
        ))?,
        server(format!(
            "{{name: teamcity-demo, kind: teamcity, url: '{teamcity}', token: {TEAMCITY_TOKEN}, {poll}, callback: {{secret: {CALLBACK_SECRET}}}}}"
        ))?,
    ];
    Ok(settings)
}
