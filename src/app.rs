//! Startup and shutdown: the only module that imports everything. `App::build` opens the
//! store, prepares auth and adapters, recovers unfinished executions and binds the
//! listener; `App::run_until_stopped` serves until the shutdown signal, then drains.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::adapters::git::GitSource;
use crate::adapters::jenkins::JenkinsAdapter;
use crate::adapters::scripted::ScriptedAdapter;
use crate::adapters::teamcity::TeamCityAdapter;
use crate::adapters::Adapter;
use crate::api::{self, AppState, Auth, TokenEntry};
use crate::config::{LogFormat, LogSettings, Role, Secret, Settings};
use crate::model::{ActionTypeKey, ServerKind};
use crate::notify::Notifier;
use crate::runtime::{Executors, Runtime, RuntimeOptions};
use crate::service::{JobOptions, Service};
use crate::store::sqlite::SqliteStore;
use crate::store::Store;
use crate::triggers::poller::{self, Sources};

pub struct App {
    listener: TcpListener,
    runtime: Runtime,
    state: AppState,
    settings: Settings,
    /// Where the generated admin token was written, when the config has no tokens.
    pub admin_token_file: Option<std::path::PathBuf>,
}

impl App {
    pub async fn build(settings: Settings) -> anyhow::Result<App> {
        App::build_with(settings, RuntimeOptions::default()).await
    }

    /// `build`, with runtime options of the caller's choosing (tests bring their own clock).
    pub async fn build_with(
        mut settings: Settings,
        options: RuntimeOptions,
    ) -> anyhow::Result<App> {
        settings
            .resolve_secrets()
            .context("reading secrets from the environment")?;
        std::fs::create_dir_all(&settings.data_dir).with_context(|| {
            format!(
                "creating the data directory {}",
                settings.data_dir.display()
            )
        })?;
        let store = SqliteStore::open(&settings.database_url())
            .await
            .with_context(|| format!("opening the store at {}", settings.database_url()))?;
        tracing::info!(url = %settings.database_url(), "store open");

        let (tokens, admin_token_file) = tokens(&settings)?;
        let auth = Auth::new(tokens, settings.auth.open_reads);

        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("listening on {}", settings.listen))?;
        let executors = executors(&settings)?;
        let public_url = match &settings.public_url {
            Some(_) => settings.public_url(),
            None => format!("http://{}", listener.local_addr()?),
        };
        let notifier = Notifier::new(&settings.notifications)?;
        let options = RuntimeOptions {
            public_url,
            notifier: (!notifier.is_empty()).then(|| notifier.clone()),
            ..options
        };
        let mut catalog = settings.catalog();
        // Types registered through the API; the config's own win over a stored namesake.
        for stored in store
            .action_types()
            .await
            .context("reading the registered action types")?
        {
            catalog.action_types.entry(stored.key()).or_insert(stored);
        }
        let runtime = Runtime::new(Arc::new(store), executors, catalog, options);
        for worker in notifier.workers(runtime.stopping()) {
            runtime.spawn_worker(worker);
        }
        if !notifier.is_empty() {
            tracing::info!(
                receivers = settings.notifications.len(),
                "sending notifications"
            );
        }
        let recovered = runtime.recover().await.context("recovering executions")?;
        tracing::info!(executions = recovered, "recovered unfinished executions");

        let sources = Arc::new(Sources::from_settings(&settings.git));
        let jobs = JobOptions {
            ack_timeout: settings.jobs.ack_timeout,
            max_poll_wait: settings.jobs.max_poll_wait,
            config_types: settings.action_types.iter().map(|t| t.key()).collect(),
        };
        let service = Service::new(runtime.clone())
            .with_sources(sources.clone())
            .with_jobs(jobs);
        poller::spawn(service.clone(), sources);
        tracing::info!(
            interval = %humantime::format_duration(settings.git.poll_interval),
            "polling Git sources with PollForSourceChanges"
        );

        let state = AppState {
            service,
            auth: Arc::new(auth),
            prometheus: prometheus(),
        };
        Ok(App {
            listener,
            runtime,
            state,
            settings,
            admin_token_file,
        })
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then stops taking requests, lets in-flight ones
    /// and store writes finish (up to the configured grace), and returns.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let router = api::router(self.state, &self.settings.limits);
        let grace = self.settings.limits.shutdown_grace;
        let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
        let header_timeout = self.settings.limits.request_header_timeout;
        let server = api::server::serve(self.listener, router, header_timeout, async move {
            shutdown.await;
            tracing::info!("shutting down: no new requests");
            let _ = stopping.send(());
        });
        let mut server = tokio::spawn(server);
        tokio::select! {
            ended = &mut server => {
                // The server stopped before any signal: that is an error to report.
                ended.context("the HTTP server task failed")?.context("serving HTTP")?;
            }
            _ = stopped => {
                // Open requests (long-polls included) get the grace period to finish.
                match tokio::time::timeout(grace, server).await {
                    Ok(ended) => ended.context("the HTTP server task failed")?.context("serving HTTP")?,
                    Err(_) => tracing::warn!("requests still open after the grace period were dropped"),
                }
            }
        }
        self.runtime.shutdown(grace).await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// `baton serve`: logs, build, serve until SIGTERM or Ctrl-C.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    init_tracing(&settings.log);
    let app = App::build(settings).await?;
    let addr = app.local_addr()?;
    println!("Baton is listening on http://{addr}");
    if let Some(file) = &app.admin_token_file {
        println!(
            "Admin token: {} (the CLI on this machine reads it from there)",
            file.display()
        );
    }
    let _ = std::io::stdout().flush();
    tracing::info!(%addr, "listening");
    app.run_until_stopped(shutdown_signal()).await
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}

pub fn init_tracing(log: &LogSettings) {
    let filter = EnvFilter::try_new(&log.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Human => builder.try_init(),
    };
}

/// The process-wide Prometheus recorder, installed once.
fn prometheus() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new().install_recorder().ok()?;
            crate::runtime::describe_metrics();
            crate::notify::describe_metrics();
            Some(handle)
        })
        .clone()
}

/// The configured tokens, or the generated admin token when there are none.
fn tokens(settings: &Settings) -> anyhow::Result<(Vec<TokenEntry>, Option<std::path::PathBuf>)> {
    if !settings.auth.tokens.is_empty() {
        let tokens = settings
            .auth
            .tokens
            .iter()
            .filter_map(|t| {
                Some(TokenEntry {
                    name: t.name.clone(),
                    role: t.role,
                    value: t.value.clone()?,
                    // Checked when the settings were loaded.
                    action_types: t
                        .action_types
                        .iter()
                        .filter_map(|text| ActionTypeKey::parse(text).ok())
                        .collect(),
                })
            })
            .collect();
        return Ok((tokens, None));
    }
    let path = settings.admin_token_path();
    let value = read_or_create_token(&path)?;
    let entry = TokenEntry {
        name: "admin".into(),
        role: Role::Admin,
        value,
        action_types: Vec::new(),
    };
    Ok((vec![entry], Some(path)))
}

fn read_or_create_token(path: &Path) -> anyhow::Result<Secret> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let token = text.trim();
        if token.len() >= 16 {
            return Ok(Secret::new(token));
        }
    }
    let bytes: [u8; 32] = rand::random();
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("writing the admin token to {}", path.display()))?;
    file.write_all(token.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    tracing::info!(file = %path.display(), "created an admin token");
    Ok(Secret::new(token))
}

fn executors(settings: &Settings) -> anyhow::Result<Executors> {
    let mut executors = Executors::new(Arc::new(GitSource::from_settings(&settings.git)));
    for server in &settings.servers {
        let adapter: Arc<dyn Adapter> = match server.kind {
            ServerKind::Scripted => ScriptedAdapter::new(server).map(|a| Arc::new(a) as _),
            ServerKind::Jenkins => JenkinsAdapter::new(server).map(|a| Arc::new(a) as _),
            ServerKind::TeamCity => TeamCityAdapter::new(server).map(|a| Arc::new(a) as _),
        }
        .with_context(|| format!("setting up server {}", server.name))?;
        executors = executors.with_server(&server.name, adapter);
    }
    Ok(executors)
}
