//! Serving: a loopback listener whose connections can be cut without an answer (the
//! `drop_next` fault, and a `stop` that must not leave kept-alive connections serving),
//! the axum server with graceful shutdown, and the ticker that keeps the timeline moving
//! (builds start and end, notifications fire) while nobody polls.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::routes;
use super::shared::Shared;

/// How long `stop` waits for open connections to finish before it cuts them.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How often the ticker moves the timeline forward.
const TICK: Duration = Duration::from_millis(20);

/// A connection's remote address and the switch that cuts it.
#[derive(Debug, Clone)]
pub(super) struct ConnInfo {
    pub(super) remote: SocketAddr,
    kill: Arc<AtomicBool>,
}

impl ConnInfo {
    /// Cuts the connection: nothing more is read or written, so the client sees it close
    /// without an answer.
    pub(super) fn kill(&self) {
        self.kill.store(true, Ordering::SeqCst);
    }
}

impl Connected<IncomingStream<'_, SimListener>> for ConnInfo {
    fn connect_info(stream: IncomingStream<'_, SimListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// Open connections' switches, so `stop` can cut them all.
pub(super) type Switches = Arc<Mutex<Vec<Weak<AtomicBool>>>>;

pub(super) struct SimListener {
    inner: TcpListener,
    switches: Switches,
}

impl Listener for SimListener {
    type Io = ConnStream;
    type Addr = ConnInfo;

    async fn accept(&mut self) -> (ConnStream, ConnInfo) {
        loop {
            match self.inner.accept().await {
                Ok((stream, remote)) => {
                    let _ = stream.set_nodelay(true);
                    let kill = Arc::new(AtomicBool::new(false));
                    let mut switches = self.switches.lock().unwrap_or_else(|p| p.into_inner());
                    switches.retain(|w| w.strong_count() > 0);
                    switches.push(Arc::downgrade(&kill));
                    return (
                        ConnStream {
                            inner: stream,
                            kill: kill.clone(),
                        },
                        ConnInfo { remote, kill },
                    );
                }
                // Out of file descriptors and the like: wait, as axum's listener does.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<ConnInfo> {
        Ok(ConnInfo {
            remote: self.inner.local_addr()?,
            kill: Arc::new(AtomicBool::new(false)),
        })
    }
}

/// A TCP stream that fails every operation once its switch is off.
pub(super) struct ConnStream {
    inner: TcpStream,
    kill: Arc<AtomicBool>,
}

impl ConnStream {
    fn cut(&self) -> Option<io::Error> {
        self.kill.load(Ordering::SeqCst).then(|| {
            io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "connection cut by the simulator",
            )
        })
    }
}

impl AsyncRead for ConnStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(e) = self.cut() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ConnStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.cut() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.cut() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A running server: the signal that stops it, its task, the ticker and the switches of
/// its connections.
pub(super) struct Serving {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    ticker: JoinHandle<()>,
    switches: Switches,
}

impl Serving {
    /// Stops listening, lets open requests finish for a while, then cuts what is left.
    pub(super) async fn shut_down(mut self) {
        self.ticker.abort();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(STOP_GRACE, &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
        self.cut_all();
    }

    /// Stops without waiting (for `Drop`).
    pub(super) fn abort(mut self) {
        self.ticker.abort();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.cut_all();
    }

    fn cut_all(&self) {
        let switches = self.switches.lock().unwrap_or_else(|p| p.into_inner());
        for switch in switches.iter().filter_map(Weak::upgrade) {
            switch.store(true, Ordering::SeqCst);
        }
    }
}

/// Binds `addr` (synchronously, so the port is known at once).
pub(super) fn bind(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Serves on `listener` in the current tokio runtime.
pub(super) fn serve(listener: std::net::TcpListener, shared: Arc<Shared>) -> io::Result<Serving> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|e| {
        io::Error::other(format!("the Jenkins simulator needs a tokio runtime: {e}"))
    })?;
    let inner = {
        let _entered = runtime.enter();
        TcpListener::from_std(listener)?
    };
    let switches = Switches::default();
    let listener = SimListener {
        inner,
        switches: switches.clone(),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let app = routes::router(shared.clone()).into_make_service_with_connect_info::<ConnInfo>();
    let task = runtime.spawn(async move {
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "the Jenkins simulator stopped with an error");
        }
    });
    let ticker = runtime.spawn(tick(shared));
    Ok(Serving {
        stop: Some(stop),
        task,
        ticker,
        switches,
    })
}

async fn tick(shared: Arc<Shared>) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        shared.lock().settle(Instant::now());
    }
}
