//! A Jenkins controller over HTTP, faithful to `shared/reference/jenkins-api.md` and its
//! samples: jobs in folders and multibranch projects, the build queue (quiet period,
//! blocked and buildable items, coalescing of identical triggers, left items forgotten
//! after five minutes or a restart), builds with a growing console log, results,
//! JUnit reports and artifacts, Stapler's JSON and XML export (`_class`, visibility by
//! depth, `tree=` with ranges), API-token and password authentication with CSRF crumbs
//! bound to sessions, and the notification plugin's callbacks. Baton's tests and demo
//! run against it over loopback; the [`JenkinsSim`] handle scripts it, injects faults
//! and counts what it received.
//!
//! HTTP surface (paths relative to [`JenkinsSim::url`]; a job path is
//! `/job/<a>/job/<b>`, a branch job's name percent-encoded once more, `feature%252Ffoo`):
//!
//! | method | path | answer |
//! |---|---|---|
//! | GET | `/` | a page; every answer carries `X-Jenkins` and `X-Jenkins-Session` |
//! | GET | `/api/json\|xml` | the root object (`hudson.model.Hudson`) with its jobs |
//! | GET | `/health` | `{"status":true}`, no authentication |
//! | GET | `/crumbIssuer/api/json\|xml` | a crumb for the caller's session (sets `JSESSIONID.*`); 404 with crumbs off |
//! | GET | `/me/api/json` | the signed-in user; 403 for anonymous |
//! | GET | `{job}/api/json\|xml`, `{folder}/api/json\|xml` | the job or folder (`tree=`, `depth=`, `pretty=`) |
//! | POST | `{job}/build` | 201 + `Location: …/queue/item/N/` (a merged request: the existing item, still 201); 400 on a parameterized job without `json`; 409 disabled; 404 unknown; 405 for GET without the job's token |
//! | POST | `{job}/buildWithParameters?NAME=value&delay=` | 201 + `Location`, 303 + the existing item when merged; 400 on a job without parameters |
//! | GET | `/queue/api/json`, `/queue/item/N/api/json\|xml` | the queue; one item in any state, 404 once forgotten |
//! | POST | `/queue/cancelItem?id=N` | 204; 404 unknown or forgotten; 500 already left |
//! | POST | `/queue/item/N/cancelQueue` | 204 (deprecated, always) |
//! | GET | `{job}/{N\|lastBuild\|…}/api/json\|xml` | a build |
//! | GET | `{build}/logText/progressiveText?start=` | log from a raw offset, `X-Text-Size`, `X-More-Data: true` while running |
//! | GET | `{build}/consoleText` | the whole log, console notes stripped |
//! | POST | `{build}/stop` (and Pipeline's `term`, `kill`) | 302; the build ends `ABORTED` shortly after (`kill`: at once) |
//! | POST | `{build}/submitDescription` (`description=`) | 302 |
//! | GET | `{build}/testReport/api/json\|xml` | the JUnit report; 404 without one |
//! | GET | `{build}/artifact/<path>` | an archived file |
//! | GET | `/computer/api/json`, `/computer/(built-in)/api/json` | the built-in node and the builds on its executors |
//! | GET | `/_sim/stats` | [`SimStats`] as JSON (no auth, no faults, not counted) |
//!
//! Scripting a build: its job's [`JobSpec`], overridden per build by the parameters
//! `SIM_RESULT` and `SIM_DURATION_MS` when the job defines them.
//!
//! Authentication: with no users, security is off and anyone may do anything. With
//! users, every request needs Basic credentials (anonymous gets 403, wrong ones 401);
//! an API token exempts a POST from the crumb, a password does not. With crumbs on (the
//! default, as on any Jenkins since 2.222), other POSTs need `Jenkins-Crumb` from
//! `/crumbIssuer` and the session cookie that came with it.

mod auth;
mod builds;
mod clock;
mod crumbs;
mod export;
mod faults;
mod jobs;
mod names;
mod notify;
mod queue;
mod render;
mod routes;
mod server;
mod shared;
mod spec;
mod stats;
mod world;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use auth::Realm;
use faults::Fault;
use jobs::{resolve, Found};
use shared::Shared;
use world::World;

pub use spec::{JobKind, JobSpec, ParamKind, ParamSpec, TestCounts};
pub use stats::{RouteKind, SimStats};

/// How to start a [`JenkinsSim`].
#[derive(Debug, Clone)]
pub struct JenkinsSimOptions {
    /// Where to listen; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Users and their API tokens. With none (and no passwords), security is off.
    pub users: Vec<(String, String)>,
    /// Users and their passwords: they authenticate, but their POSTs need a crumb.
    pub passwords: Vec<(String, String)>,
    /// CSRF protection: POSTs not authenticated by an API token need a crumb.
    pub crumbs: bool,
    /// Builds that may run at once; `None` for no limit. The root object shows this
    /// many executors (2 when unlimited).
    pub executors: Option<usize>,
    /// The first queue item id.
    pub first_queue_id: u64,
    /// How long an item stays readable after it left the queue (Jenkins: 5 minutes).
    pub left_item_ttl: Duration,
    /// The configured root URL that absolute URLs in bodies use (with a trailing
    /// slash); by default the simulator's own address.
    pub root_url: Option<String>,
    /// Seed of the random faults of [`JenkinsSim::fault_rate`].
    pub seed: u64,
}

impl Default for JenkinsSimOptions {
    fn default() -> Self {
        JenkinsSimOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            users: Vec::new(),
            passwords: Vec::new(),
            crumbs: true,
            executors: None,
            first_queue_id: 1,
            left_item_ttl: Duration::from_secs(300),
            root_url: None,
            seed: 0,
        }
    }
}

/// A running Jenkins simulator. Dropping it stops the server.
pub struct JenkinsSim {
    addr: SocketAddr,
    url: String,
    seed: u64,
    shared: Arc<Shared>,
    serving: Option<server::Serving>,
    notifier: JoinHandle<()>,
}

impl JenkinsSim {
    /// Starts a server on a free loopback port, security off. Needs a tokio runtime.
    pub fn start() -> io::Result<JenkinsSim> {
        JenkinsSim::start_with(JenkinsSimOptions::default())
    }

    pub fn start_with(options: JenkinsSimOptions) -> io::Result<JenkinsSim> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| {
            io::Error::other(format!("the Jenkins simulator needs a tokio runtime: {e}"))
        })?;
        let listener = server::bind(options.addr)?;
        let addr = listener.local_addr()?;
        let url = format!("http://{addr}");
        let root_url = match &options.root_url {
            Some(root) => format!("{}/", root.trim_end_matches('/')),
            None => format!("{url}/"),
        };
        let mut world = World::new(
            root_url,
            options.first_queue_id,
            options.executors,
            options.left_item_ttl,
        );
        let (notices, outbox) = mpsc::unbounded_channel();
        world.notices = Some(notices);
        let realm = Realm::new(&options.users, &options.passwords);
        let shared = Arc::new(Shared::new(world, realm, options.crumbs));
        let notifier = runtime.spawn(notify::deliver(shared.clone(), outbox));
        let serving = server::serve(listener, shared.clone())?;
        shared.serving.send_replace(true);
        Ok(JenkinsSim {
            addr,
            url,
            seed: options.seed,
            shared,
            serving: Some(serving),
            notifier,
        })
    }

    /// The base URL, `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Adds a job at `path` (`team/app/build`), creating its folders, or replaces the
    /// spec of the job already there (its builds stay). A last segment with `%` escapes
    /// (`repo/feature%2Ffoo`) is a branch of a multibranch project. An invalid path is
    /// logged and ignored; [`JenkinsSim::try_add_job`] reports it.
    pub fn add_job(&self, path: &str, spec: JobSpec) {
        if let Err(why) = self.try_add_job(path, spec) {
            tracing::warn!(%why, "the Jenkins simulator did not add a job");
        }
    }

    /// Like [`JenkinsSim::add_job`], with the reason a path is refused (an empty
    /// segment, or a job where a folder should be).
    pub fn try_add_job(&self, path: &str, spec: JobSpec) -> Result<(), String> {
        let mut world = self.shared.settled(Instant::now());
        let World { root, jobs, .. } = &mut *world;
        jobs::add_job(root, jobs, path, spec).map(|_| ())
    }

    /// Ends a running build of `job` (full name) with `result` (`SUCCESS`, `UNSTABLE`,
    /// `FAILURE`, `NOT_BUILT`, `ABORTED`; anything else is `FAILURE`). False if there
    /// is no such running build.
    pub fn finish(&self, job: &str, number: u32, result: &str) -> bool {
        let now = Instant::now();
        let mut world = self.shared.settled(now);
        let Some(index) = job_index(&world, job) else {
            return false;
        };
        let result = world::normalize_result(result);
        let ended = world.end_build(index, number, now, &result);
        world.settle(now);
        ended
    }

    /// Lets the items of `job` now held in the queue (its spec is `blocked`) go on to
    /// start; returns how many were released.
    pub fn release_queue(&self, job: &str) -> usize {
        let now = Instant::now();
        let mut world = self.shared.settled(now);
        let Some(index) = job_index(&world, job) else {
            return 0;
        };
        let held: Vec<u64> = world
            .queue
            .iter()
            .filter(|item| item.job == index && item.queued())
            .map(|item| item.id)
            .collect();
        world.jobs[index]
            .released_items
            .extend(held.iter().copied());
        world.settle(now);
        held.len()
    }

    /// The numbers of `job`'s builds, oldest first, and whether each is still running.
    pub fn builds(&self, job: &str) -> Vec<(u32, bool)> {
        let world = self.shared.settled(Instant::now());
        job_index(&world, job).map_or_else(Vec::new, |index| {
            world.jobs[index]
                .builds
                .iter()
                .map(|b| (b.number, b.building()))
                .collect()
        })
    }

    pub fn stats(&self) -> SimStats {
        self.shared.lock().stats.snapshot()
    }

    /// The next `n` requests get `status` without being handled.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.push_faults(n, Fault::Status(status));
    }

    /// The next `n` requests get 429 with `Retry-After` (whole seconds, rounded up), as
    /// a reverse proxy would answer; Jenkins itself never does.
    pub fn throttle_next(&self, n: usize, retry_after: Duration) {
        self.push_faults(n, Fault::Throttle(retry_after));
    }

    /// The next `n` requests are handled, then answered only after `delay`.
    pub fn delay_next(&self, n: usize, delay: Duration) {
        self.push_faults(n, Fault::Delay(delay));
    }

    /// The next `n` requests lose their connection without an answer (not handled).
    pub fn drop_next(&self, n: usize) {
        self.push_faults(n, Fault::Drop);
    }

    /// The next `n` requests are handled (a trigger queues its item) but answered with
    /// `status`, as if the answer was lost on the way.
    pub fn lose_next_responses(&self, n: usize, status: u16) {
        self.push_faults(n, Fault::Lose(status));
    }

    /// From now on, each request without a queued fault gets a 503 with probability
    /// `percent_5xx`, or loses its connection with probability `percent_drop`, drawn
    /// from a generator seeded with the options' `seed`. Zeros turn it off.
    pub fn fault_rate(&self, percent_5xx: u8, percent_drop: u8) {
        self.shared
            .lock()
            .faults
            .set_rate(percent_5xx, percent_drop, self.seed);
    }

    fn push_faults(&self, n: usize, fault: Fault) {
        self.shared.lock().faults.push(n, fault);
    }

    /// Forgets every session, so crumbs issued so far stop validating.
    pub fn invalidate_crumbs(&self) {
        self.shared.lock().sessions.clear();
    }

    /// Stops serving: connections are refused, open ones cut after a grace period.
    /// Jobs, builds and the queue stay; nothing moves and no notification is sent
    /// until [`JenkinsSim::restart`].
    pub async fn stop(&mut self) {
        self.shared.serving.send_replace(false);
        if let Some(serving) = self.serving.take() {
            serving.shut_down().await;
        }
    }

    /// A Jenkins restart on the same address (stopping first if it is serving): jobs,
    /// builds and queued items stay; left items and sessions (so crumbs) are gone.
    pub async fn restart(&mut self) -> io::Result<()> {
        self.restart_loading(Duration::ZERO).await
    }

    /// Like [`JenkinsSim::restart`], answering 503 "Jenkins is getting ready to work"
    /// for `startup` afterwards.
    pub async fn restart_loading(&mut self, startup: Duration) -> io::Result<()> {
        self.stop().await;
        self.shared.lock().restart(Instant::now(), startup);
        let listener = server::bind(self.addr)?;
        self.serving = Some(server::serve(listener, self.shared.clone())?);
        self.shared.serving.send_replace(true);
        Ok(())
    }
}

fn job_index(world: &World, job: &str) -> Option<usize> {
    let names: Vec<String> = job.split('/').map(str::to_string).collect();
    match resolve(&world.root, &names) {
        Some(Found::Job(index)) => Some(index),
        _ => None,
    }
}

impl Drop for JenkinsSim {
    fn drop(&mut self) {
        self.shared.serving.send_replace(false);
        if let Some(serving) = self.serving.take() {
            serving.abort();
        }
        self.notifier.abort();
    }
}

impl std::fmt::Debug for JenkinsSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JenkinsSim")
            .field("addr", &self.addr)
            .field("serving", &self.serving.is_some())
            .finish_non_exhaustive()
    }
}
