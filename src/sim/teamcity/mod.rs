//! A TeamCity server over HTTP, faithful to `shared/reference/teamcity-api.md` and its
//! samples: the REST plugin's build queue and builds (XML by default, JSON with
//! `Accept: application/json`, JAXB field order, default-value omission, `fields=`),
//! build locators (`id`, `buildType`, `property`, `state`, `defaultFilter`, `count`,
//! `item:` unions of several ids, ...), queue → running → finished with
//! `failedToStart`, `canceledInfo` and queue removal, cancel by both endpoints, resulting
//! properties, artifacts, test occurrences, the build log, TeamCity's error bodies, token
//! and Basic authentication with the CSRF rule, and webhooks in the native and tcWebHooks
//! formats. Baton's tests and demos run against it over loopback; the [`TeamCitySim`]
//! handle scripts it, injects faults and counts what it received.
//!
//! HTTP surface (also under `/httpAuth/…`, `/guestAuth/…`, `/app/rest/latest/…`):
//!
//! | method | path | answer |
//! |---|---|---|
//! | POST | `/app/rest/buildQueue` (a `build`, XML or JSON) | 200 + the queued build (`$long`) |
//! | GET | `/app/rest/buildQueue[?locator=]`, `/app/rest/buildQueue/{locator}[/{field}]` | queued builds; a single one in any state |
//! | POST / DELETE | `/app/rest/buildQueue/{locator}` (`buildCancelRequest`) | removes from the queue: 200 + canceled build / 204 |
//! | GET | `/app/rest/builds?locator=&fields=`, `/app/rest/builds/multiple/{locator}` | builds (default filter, paging, `nextHref`) |
//! | GET | `/app/rest/builds/{locator}[/{field}]` | one build in any state; `state`, `status`, … as `text/plain` |
//! | POST | `/app/rest/builds/{locator}` (`buildCancelRequest`) | cancels a queued or running build |
//! | GET | `/app/rest/builds/{locator}/resulting-properties[/{name}]` | resulting parameters |
//! | GET | `/app/rest/builds/{locator}/canceledInfo` | who canceled the build (204 if nobody) |
//! | GET | `/app/rest/builds/{locator}/artifacts/{children,content,files,metadata}/{path}` | artifacts |
//! | GET | `/app/rest/testOccurrences?locator=build:(id:N)`, `/app/rest/builds/{locator}/testOccurrences` | tests |
//! | GET | `/app/rest/problemOccurrences?locator=build:(id:N)` | build problems |
//! | GET | `/app/rest/buildTypes/{locator}`, `/app/rest/server` | configuration, server info |
//! | GET | `/downloadBuildLog.html?buildId=N[&plain=true]` | the log so far (`text/plain`) |
//! | GET | `/app/messages?buildId=N&messagesCount=SINCE,COUNT[&target=tail]` | log messages (the UI endpoint the official CLI tails) |
//! | GET | `/authenticationTest.html?csrf` | a CSRF token for the session (sets `TCSESSIONID`) |
//! | GET | `/_sim/stats` | [`SimStats`] as JSON (no auth, no faults, not counted) |
//!
//! Scripting a build: its type's [`BuildTypeSpec`], and two build properties posted with
//! the trigger: `sim.status` (`SUCCESS`, `FAILURE`, `ERROR` or `UNKNOWN`) overrides the
//! planned status and `sim.duration.ms` the running time.
//!
//! Authentication: a bearer token (no CSRF token needed unless a `TCSESSIONID` cookie is
//! sent), Basic users (modifying requests need `X-TC-CSRF-Token` or `tc-csrf-token`
//! from `/authenticationTest.html?csrf`, or an `Origin` equal to [`TeamCitySim::url`]),
//! a session cookie, and read-only guest access under `/guestAuth/`. With no token and no
//! users configured, authentication is off and every request acts as the token's user.

mod auth;
mod body;
mod build;
mod errors;
mod files;
mod handlers;
mod locator;
mod logs;
mod node;
mod occurrences;
mod query;
mod render;
mod resources;
mod server;
mod state;
mod webhook;

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use state::{Fault, FaultRate, Shared};

/// How long `stop` waits for open connections to close before it gives up on them.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// How often builds are moved along (and their webhooks sent) without any request.
const TICK: Duration = Duration::from_millis(20);

/// How to start a [`TeamCitySim`].
#[derive(Debug, Clone)]
pub struct TeamCitySimOptions {
    /// Where to listen; port 0 picks a free port.
    pub addr: SocketAddr,
    /// An access token for `Authorization: Bearer`, owned by user `ci-bot`.
    pub token: Option<String>,
    /// Users (name, password) for Basic authentication.
    pub users: Vec<(String, String)>,
    /// Whether `/guestAuth/…` may read without credentials.
    pub guest: bool,
}

impl Default for TeamCitySimOptions {
    fn default() -> Self {
        TeamCitySimOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: None,
            users: Vec::new(),
            guest: false,
        }
    }
}

/// Counts of tests a build reports when it finishes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TestCounts {
    pub passed: u32,
    pub failed: u32,
    pub ignored: u32,
}

/// Which webhook payloads a build configuration sends (reference §10).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WebhookFormat {
    /// JetBrains' TeamCity Webhooks: `{"eventType": …, "payload": <$long build JSON>}`
    /// for BUILD_STARTED, BUILD_FINISHED, BUILD_INTERRUPTED and BUILD_REMOVED_FROM_QUEUE.
    #[default]
    Native,
    /// tcWebHooks' legacy `json` format: `{"build": {…}}` with `notifyType`
    /// buildStarted/buildFinished/buildInterrupted/buildRemovedFromQueue.
    TcWebHooksJson,
    /// tcWebHooks' bundled `elasticsearch` JSON template.
    TcWebHooksElasticsearch,
}

/// How builds of one configuration behave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildTypeSpec {
    /// Running time (overridden per build by the `sim.duration.ms` property).
    pub duration: Duration,
    /// `SUCCESS` (default), `FAILURE`, `ERROR` or `UNKNOWN`; `sim.status` overrides it.
    pub status: String,
    /// The finished build's status text; derived from status and tests when absent.
    pub status_text: Option<String>,
    /// Runs until [`TeamCitySim::finish`].
    pub hold: bool,
    /// Stays queued until [`TeamCitySim::start_queued`].
    pub stay_queued: bool,
    /// Leaves the queue as a finished `failedToStart` build instead of running.
    pub fail_to_start: bool,
    /// Parameters the build reports once it starts, e.g. `build.vcs.number`.
    pub resulting_properties: Vec<(String, String)>,
    /// Log text, revealed line by line as the build runs.
    pub log: String,
    pub tests: Option<TestCounts>,
    /// Artifacts published when the build finishes: (path, content); `/` makes folders.
    pub artifacts: Vec<(String, String)>,
    /// Where to POST webhooks about this configuration's builds.
    pub webhook_url: Option<String>,
    pub webhook_format: WebhookFormat,
    /// How long a build waits in the queue before it starts (default 0).
    pub queue_time: Duration,
    /// How long a canceled running build stays `running` (agent stopping; default 100 ms).
    pub stop_delay: Duration,
    /// The configuration's default branch (default `main`); `None`: not branched.
    pub default_branch: Option<String>,
}

impl Default for BuildTypeSpec {
    fn default() -> Self {
        BuildTypeSpec {
            duration: Duration::ZERO,
            status: "SUCCESS".into(),
            status_text: None,
            hold: false,
            stay_queued: false,
            fail_to_start: false,
            resulting_properties: Vec::new(),
            log: String::new(),
            tests: None,
            artifacts: Vec::new(),
            webhook_url: None,
            webhook_format: WebhookFormat::Native,
            queue_time: Duration::ZERO,
            stop_delay: Duration::from_millis(100),
            default_branch: Some("main".into()),
        }
    }
}

/// Who canceled a build and why (`canceledInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanceledInfo {
    /// The user's name; none for a cancel by the server itself.
    pub user: Option<String>,
    pub text: Option<String>,
}

/// A build as tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildView {
    pub id: u64,
    /// Assigned when the build starts; `N/A` when it never ran.
    pub number: Option<String>,
    pub build_type: String,
    /// `queued`, `running` or `finished`.
    pub state: String,
    /// None while queued.
    pub status: Option<String>,
    pub status_text: Option<String>,
    /// The logical branch name, when the configuration is branched.
    pub branch: Option<String>,
    /// The properties posted with the trigger (including any marker).
    pub properties: BTreeMap<String, String>,
    pub comment: Option<String>,
    /// The triggering user's name.
    pub triggered_by: Option<String>,
    pub canceled_info: Option<CanceledInfo>,
    pub failed_to_start: bool,
    pub removed_from_queue: bool,
    /// When the trigger that queued the build arrived (benchmarks time transitions).
    pub queued_at: Instant,
    /// When the build finished, as the server has it.
    pub finished_at: Option<Instant>,
    /// When a client last read the build: alone, one field of it, or in a list.
    pub last_read_at: Option<Instant>,
}

/// Requests by the part of the API they used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RouteCounts {
    pub trigger: usize,
    /// Single builds, their fields and resulting properties.
    pub build: usize,
    /// `GET /app/rest/builds?locator=` (multi-build locators).
    pub builds_list: usize,
    pub queue: usize,
    pub cancel: usize,
    pub log: usize,
    pub artifacts: usize,
    pub tests: usize,
    pub other: usize,
}

/// What the server received and sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SimStats {
    /// Every request but `/_sim/…`, including faulted ones.
    pub total_requests: usize,
    pub by_kind: RouteCounts,
    /// Builds actually queued, per build configuration.
    pub triggers_per_build_type: BTreeMap<String, usize>,
    /// The most requests received within any one second.
    pub max_requests_per_second: usize,
    /// Webhook requests that got an answer (any status).
    pub webhooks_sent: usize,
    /// Webhook requests that got no answer.
    pub webhooks_failed: usize,
    /// For each answered builds-list request, how many builds it returned (batching).
    pub builds_list_sizes: Vec<usize>,
}

/// A running TeamCity simulator. Dropping it stops the server.
pub struct TeamCitySim {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Option<Serving>,
    sender: JoinHandle<()>,
}

/// The server task, the build ticker and the signal that stops them.
struct Serving {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    ticker: JoinHandle<()>,
}

impl TeamCitySim {
    /// Starts a server on a free loopback port, authentication off. Needs a tokio runtime.
    pub fn start() -> io::Result<TeamCitySim> {
        TeamCitySim::start_with(TeamCitySimOptions::default())
    }

    pub fn start_with(options: TeamCitySimOptions) -> io::Result<TeamCitySim> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| {
            io::Error::other(format!("the TeamCity simulator needs a tokio runtime: {e}"))
        })?;
        let listener = bind(options.addr)?;
        let addr = listener.local_addr()?;
        let (webhooks, outbox) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::new(format!("http://{addr}"), &options, webhooks));
        let sender = runtime.spawn(webhook::send_all(outbox, shared.clone()));
        let server = serve(&runtime, listener, shared.clone())?;
        Ok(TeamCitySim {
            addr,
            shared,
            server: Some(server),
            sender,
        })
    }

    /// The base URL, `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Adds (or replaces) a build configuration. Its project is the part of the id
    /// before the first `_` (`Backend_Deploy`: project `Backend`, name `Deploy`).
    pub fn add_build_type(&self, id: &str, spec: BuildTypeSpec) {
        self.shared
            .with(Instant::now(), |s| s.types.insert(id.to_string(), spec));
    }

    /// Every build (including canceled and failed-to-start ones), oldest first.
    pub fn builds(&self) -> Vec<BuildView> {
        self.shared.with(Instant::now(), |s| {
            s.builds.values().map(render::view).collect()
        })
    }

    /// The builds with ids from `first` on, oldest first: what is new since a look at
    /// [`TeamCitySim::builds`], without copying the whole history again.
    pub fn builds_from(&self, first: u64) -> Vec<BuildView> {
        self.shared.with(Instant::now(), |s| {
            s.builds
                .range(first..)
                .map(|(_, b)| render::view(b))
                .collect()
        })
    }

    /// How many builds a client has read (alone, one field, or in a list) at or after
    /// `since`: whether a restarted client follows every build again, without copying
    /// them all as [`TeamCitySim::builds`] does.
    pub fn builds_read_since(&self, since: Instant) -> usize {
        self.shared.with(Instant::now(), |s| {
            s.builds
                .values()
                .filter(|b| b.last_read_at.is_some_and(|at| at >= since))
                .count()
        })
    }

    /// Finishes a running (typically `hold`) build now; false if it is not running.
    pub fn finish(&self, id: u64, status: &str, status_text: &str) -> bool {
        let now = Instant::now();
        self.shared.with(now, |s| {
            let running = s
                .builds
                .get_mut(&id)
                .filter(|b| b.phase == build::Phase::Running && b.canceled.is_none());
            let Some(build) = running else {
                return false;
            };
            let text = (!status_text.is_empty()).then(|| status_text.to_string());
            build.complete(now, status, text);
            s.announce(id, build::Transition::Finished, now);
            true
        })
    }

    /// Lets the builds of `build_type` that are now held in the queue (`stay_queued`)
    /// start.
    pub fn start_queued(&self, build_type: &str) {
        let now = Instant::now();
        self.shared.with(now, |s| {
            for b in s.builds.values_mut() {
                if b.build_type == build_type && b.phase == build::Phase::Queued {
                    b.released_at.get_or_insert(now);
                }
            }
            s.settle(now);
        });
    }

    /// Removes a queued build as user `by` would in the UI (`canceledInfo` names them).
    /// False if the build is not queued.
    pub fn remove_from_queue(&self, id: u64, by: &str) -> bool {
        let now = Instant::now();
        self.shared.with(now, |s| {
            let user = s.user_named(by);
            match s.builds.get_mut(&id) {
                Some(b) if b.phase == build::Phase::Queued => {
                    b.remove_from_queue(Some(user), None, now);
                    s.announce(id, build::Transition::RemovedFromQueue, now);
                    true
                }
                _ => false,
            }
        })
    }

    pub fn stats(&self) -> SimStats {
        self.shared.lock().stats.view()
    }

    /// The next `n` requests get `status` without being handled (invalid codes: 500).
    pub fn fail_next(&self, n: usize, status: u16) {
        self.push_faults(n, Fault::Status(status));
    }

    /// The next `n` requests get 429 with `Retry-After` in whole seconds.
    pub fn throttle_next(&self, n: usize, retry_after: Duration) {
        let retry_after_secs = retry_after.as_secs();
        self.push_faults(n, Fault::Throttle { retry_after_secs });
    }

    /// The next `n` requests are handled only after `delay`.
    pub fn delay_next(&self, n: usize, delay: Duration) {
        self.push_faults(n, Fault::Delay(delay));
    }

    /// The next `n` requests lose their connection before any answer (not handled).
    pub fn drop_next(&self, n: usize) {
        self.push_faults(n, Fault::Drop);
    }

    /// The next `n` requests are handled (a trigger queues its build) but answered with
    /// `status`, as if the answer was lost on the way.
    pub fn lose_next_responses(&self, n: usize, status: u16) {
        self.push_faults(n, Fault::LoseResponse(status));
    }

    /// From now on, each request (when no queued fault applies) gets a 503 with
    /// probability `percent_5xx`, or loses its connection with probability
    /// `percent_drop`, drawn from a generator seeded with `seed`. Zeros turn it off.
    pub fn fault_rate(&self, percent_5xx: u8, percent_drop: u8, seed: u64) {
        let mut state = self.shared.lock();
        state.fault_rate = (percent_5xx > 0 || percent_drop > 0).then(|| FaultRate {
            percent_5xx,
            percent_drop,
            rng: rand::rngs::StdRng::seed_from_u64(seed),
        });
    }

    fn push_faults(&self, n: usize, fault: Fault) {
        self.shared
            .lock()
            .faults
            .extend(std::iter::repeat_n(fault, n));
    }

    /// Stops serving (connections are refused) but keeps the builds; builds do not move
    /// and no webhooks are sent until [`TeamCitySim::resume`].
    pub async fn stop(&mut self) {
        if let Some(Serving {
            stop,
            mut task,
            ticker,
        }) = self.server.take()
        {
            ticker.abort();
            let _ = stop.send(());
            if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
                task.abort();
            }
        }
    }

    /// Serves again on the same address with the same builds after [`TeamCitySim::stop`].
    pub fn resume(&mut self) -> io::Result<()> {
        if self.server.is_none() {
            let runtime = tokio::runtime::Handle::try_current().map_err(|e| {
                io::Error::other(format!("the TeamCity simulator needs a tokio runtime: {e}"))
            })?;
            let listener = bind(self.addr)?;
            self.server = Some(serve(&runtime, listener, self.shared.clone())?);
        }
        Ok(())
    }
}

impl Drop for TeamCitySim {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.ticker.abort();
            let _ = server.stop.send(());
        }
        self.sender.abort();
    }
}

impl std::fmt::Debug for TeamCitySim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamCitySim")
            .field("addr", &self.addr)
            .field("serving", &self.server.is_some())
            .finish_non_exhaustive()
    }
}

fn bind(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

fn serve(
    runtime: &tokio::runtime::Handle,
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
) -> io::Result<Serving> {
    let listener = {
        let _entered = runtime.enter();
        tokio::net::TcpListener::from_std(listener)?
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let app = server::router(shared.clone());
    let task = runtime.spawn(async move {
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "TeamCity simulator stopped with an error");
        }
    });
    let ticker = runtime.spawn(async move {
        let mut interval = tokio::time::interval(TICK);
        loop {
            interval.tick().await;
            shared.with(Instant::now(), |_| ());
        }
    });
    Ok(Serving { stop, task, ticker })
}
