//! The daemon in this process (`App`, as `baton serve` builds it, store on disk).

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use baton::app::App;
use baton::config::Settings;
use baton::engine::state::{ExecutionStatus, Trigger};
use baton::service::Service;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::oneshot;

use crate::{PATIENCE, REVISION};

pub struct Baton {
    service: Service,
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Baton {
    pub async fn start(servers: &str) -> Baton {
        let dir = scratch("data-");
        let yaml = format!(
            "listen: 127.0.0.1:0\ndata_dir: {}\nlimits: {{shutdown_grace: 2s}}\n{servers}",
            dir.path().display()
        );
        let settings: Settings = serde_yaml::from_str(&yaml).expect("benchmark settings");
        let app = App::build(settings).await.expect("the daemon starts");
        let addr = app.local_addr().expect("an address");
        let service = Service::new(app.runtime().clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        Baton {
            service,
            addr,
            stop,
            task,
            _dir: dir,
        }
    }

    pub async fn apply(&self, name: &str, yaml: &str) {
        if let Err(e) = self.service.apply_pipeline(name, yaml).await {
            panic!("apply {name}: {e:?}\n{yaml}");
        }
    }

    pub async fn start_execution(&self, pipeline: &str) -> String {
        let trigger = Trigger {
            kind: "StartPipelineExecution".into(),
            detail: None,
            by: Some("bench".into()),
        };
        self.service
            .start(pipeline, BTreeMap::new(), Some(REVISION.into()), trigger)
            .await
            .unwrap_or_else(|e| panic!("start {pipeline}: {e:?}"))
    }

    /// Runs `total` executions of `pipeline`, `concurrency` at a time, until every one
    /// succeeded; returns their ids and the time it took.
    pub async fn closed_loop(
        &self,
        pipeline: &str,
        total: usize,
        concurrency: usize,
    ) -> (Vec<String>, Duration) {
        let mut changes = self.service.runtime().changes();
        let began = Instant::now();
        let mut all = Vec::new();
        let mut in_flight = HashSet::new();
        while all.len() < total.min(concurrency) {
            let id = self.start_execution(pipeline).await;
            in_flight.insert(id.clone());
            all.push(id);
        }
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !in_flight.is_empty() {
            let look: Vec<String> = match tokio::time::timeout_at(deadline, changes.recv()).await {
                Err(_) => panic!("{} executions of {pipeline} never ended", in_flight.len()),
                Ok(Ok(id)) if in_flight.contains(&id) => vec![id],
                Ok(Ok(_)) => continue,
                Ok(Err(RecvError::Lagged(_))) => in_flight.iter().cloned().collect(),
                Ok(Err(RecvError::Closed)) => panic!("the daemon stopped"),
            };
            for id in look {
                let execution = self.service.execution(&id).await.expect("the execution");
                if !execution.status.is_terminal() {
                    continue;
                }
                assert_eq!(
                    execution.status,
                    ExecutionStatus::Succeeded,
                    "{id}: {:?}",
                    execution.status_summary
                );
                in_flight.remove(&id);
                if all.len() < total {
                    let id = self.start_execution(pipeline).await;
                    in_flight.insert(id.clone());
                    all.push(id);
                }
            }
        }
        (all, began.elapsed())
    }

    /// Events committed for these executions: each one durable state transition.
    pub async fn transitions(&self, ids: &[String]) -> usize {
        let store = self.service.runtime().store();
        let mut total = 0;
        for id in ids {
            total += store.events(id).await.expect("the event log").len();
        }
        total
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        match tokio::time::timeout(Duration::from_secs(30), self.task).await {
            Ok(Ok(Ok(()))) => {}
            other => eprintln!("the daemon did not stop cleanly: {other:?}"),
        }
    }
}

/// A fresh directory under `target/bench`, removed when dropped.
pub fn scratch(prefix: &str) -> tempfile::TempDir {
    std::fs::create_dir_all(bench_dir()).expect("target/bench");
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(bench_dir())
        .expect("a scratch directory")
}

pub fn bench_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("bench")
}

/// Waits until `done` holds, checking every 50 ms.
pub async fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "waited too long for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
