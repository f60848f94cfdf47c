//! A small generic CI server over HTTP, scripted by each run's parameters. Baton's tests,
//! crash tests and demos run against it: the daemon talks to it over loopback through
//! `adapters::scripted`, and tests steer it in-process through the `ScriptedCi` handle.
//!
//! Protocol (JSON; errors are `{"error": "message"}`):
//!
//! | method | path | answer |
//! |---|---|---|
//! | POST | `/runs` `{key, job, parameters}` | 201 `{id, url}` |
//! | GET | `/runs?key=K` | `[{id, url}]`, oldest first |
//! | GET | `/runs/{id}` | `{id, key, job, state, outputs, error, percent}` |
//! | POST | `/runs/{id}/cancel` | 202 |
//! | GET | `/runs/{id}/log?offset=N` | `{text, nextOffset, complete}` |
//!
//! A run's parameters script it: `Outcome` = `SUCCEEDED` (default) | `FAILED` | `HOLD`
//! (runs until [`ScriptedCi::release`]), `DurationMs` (default 0: finished at once),
//! `Outputs` = `k=v,k2=v2` (published when it finishes), `Log` (its log text; a
//! `Finished: STATE` line follows once it is over) and `Error` (a failed run's message).
//!
//! Like a real CI server, it starts a second run when the same key is triggered again,
//! and counts triggers per key so tests can prove that Baton never does that.

mod server;
mod state;

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use state::{RunState, RunView};

use state::{Fault, Shared};

/// How long `stop` waits for open connections to close before it gives up on them.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// How to start a [`ScriptedCi`].
#[derive(Debug, Clone)]
pub struct ScriptedCiOptions {
    /// Where to listen; port 0 picks a free port.
    pub addr: SocketAddr,
    /// When set, every request needs `Authorization: Bearer <token>`, else 401.
    pub token: Option<String>,
}

impl Default for ScriptedCiOptions {
    fn default() -> Self {
        ScriptedCiOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: None,
        }
    }
}

/// A running scripted CI server. Dropping it stops the server.
pub struct ScriptedCi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Option<Serving>,
}

/// The server task and the signal that stops it.
struct Serving {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl ScriptedCi {
    /// Starts a server on a free loopback port. Must be called inside a tokio runtime.
    pub fn start() -> io::Result<ScriptedCi> {
        ScriptedCi::start_with(ScriptedCiOptions::default())
    }

    /// Starts a server on `addr`, such as the address of one that was shut down.
    pub fn start_on(addr: SocketAddr) -> io::Result<ScriptedCi> {
        ScriptedCi::start_with(ScriptedCiOptions {
            addr,
            ..ScriptedCiOptions::default()
        })
    }

    pub fn start_with(options: ScriptedCiOptions) -> io::Result<ScriptedCi> {
        let listener = bind(options.addr)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(format!("http://{addr}"), options.token));
        let server = serve(listener, shared.clone())?;
        Ok(ScriptedCi {
            addr,
            shared,
            server: Some(server),
        })
    }

    /// The base URL, `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server and waits until it no longer listens, so the port can be reused.
    pub async fn shutdown(mut self) {
        self.stop().await;
    }

    /// Stops serving (connections are refused) but keeps the runs, as a CI server that
    /// went down; [`ScriptedCi::resume`] brings it back on the same address.
    pub async fn stop(&mut self) {
        if let Some(Serving { stop, mut task }) = self.server.take() {
            let _ = stop.send(());
            if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
                task.abort();
            }
        }
    }

    /// Serves again on the same address with the same runs after [`ScriptedCi::stop`].
    pub fn resume(&mut self) -> io::Result<()> {
        if self.server.is_none() {
            let listener = bind(self.addr)?;
            self.server = Some(serve(listener, self.shared.clone())?);
        }
        Ok(())
    }

    /// How many times `key` was triggered.
    pub fn triggers(&self, key: &str) -> usize {
        self.shared.lock().triggers(key)
    }

    pub fn total_triggers(&self) -> usize {
        self.shared.lock().total_triggers()
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> Vec<RunView> {
        self.shared.lock().views(Instant::now())
    }

    /// Finishes a running (typically `HOLD`) run named by id, or else the newest running
    /// run with that key, adding `outputs` to its scripted ones. False if none is running.
    pub fn release<K, V>(
        &self,
        key_or_id: &str,
        succeeded: bool,
        outputs: impl IntoIterator<Item = (K, V)>,
    ) -> bool
    where
        K: Into<String>,
        V: Into<String>,
    {
        let outputs: BTreeMap<String, String> = outputs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self.shared
            .lock()
            .release(key_or_id, succeeded, outputs, Instant::now())
    }

    /// Whether a run with this key was cancelled while it was running.
    pub fn cancelled(&self, key: &str) -> bool {
        self.shared.lock().cancelled(key, Instant::now())
    }

    /// The next `n` requests get `status` (e.g. 503) without being handled. An invalid
    /// status code answers 500.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.shared.lock().push_faults(n, Fault::Status(status));
    }

    /// The next `n` requests get 429 with `Retry-After` in whole seconds.
    pub fn throttle_next(&self, n: usize, retry_after: Duration) {
        let retry_after_secs = retry_after.as_secs();
        self.shared
            .lock()
            .push_faults(n, Fault::Throttle { retry_after_secs });
    }

    /// The next `n` requests are handled only after `delay` (to make clients time out).
    pub fn delay_next(&self, n: usize, delay: Duration) {
        self.shared.lock().push_faults(n, Fault::Delay(delay));
    }

    /// The next `n` requests are handled, but answered with `status`: the client cannot
    /// tell whether, say, its trigger was received (the crash window that `find` covers).
    pub fn lose_next_responses(&self, n: usize, status: u16) {
        self.shared
            .lock()
            .push_faults(n, Fault::LoseResponse(status));
    }
}

impl Drop for ScriptedCi {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            // Graceful: the task stops listening and closes idle connections on its own.
            let _ = server.stop.send(());
        }
    }
}

impl std::fmt::Debug for ScriptedCi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedCi")
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

fn serve(listener: std::net::TcpListener, shared: Arc<Shared>) -> io::Result<Serving> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|e| io::Error::other(format!("the scripted CI needs a tokio runtime: {e}")))?;
    let listener = {
        let _entered = runtime.enter();
        tokio::net::TcpListener::from_std(listener)?
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let app = server::router(shared);
    let task = runtime.spawn(async move {
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "scripted CI server stopped with an error");
        }
    });
    Ok(Serving { stop, task })
}
