//! One receiver's side: its bounded queue (the oldest notification goes when it is full,
//! so the actor never waits) and the worker that renders, signs and POSTs each
//! notification in order, retrying with exponential backoff and jitter.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::changes::Notification;
use super::{metrics, slack};
use crate::config::{NotificationFormat, NotificationSettings};

/// Header with `sha256=<hex HMAC-SHA256 of the raw body>`.
pub const SIGNATURE_HEADER: &str = "X-Baton-Signature-256";
pub const EVENT_HEADER: &str = "X-Baton-Event";
/// The notification's id, the same on every attempt.
pub const DELIVERY_HEADER: &str = "X-Baton-Delivery";
/// Unix seconds when this attempt was sent.
pub const TIMESTAMP_HEADER: &str = "X-Baton-Timestamp";
pub const ATTEMPT_HEADER: &str = "X-Baton-Attempt";

const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

pub(super) struct Sink {
    /// Position in the config, the only name logs and metrics use: a receiver's URL
    /// (a Slack webhook, say) can itself be a secret.
    pub index: usize,
    pub settings: NotificationSettings,
    queue: Mutex<VecDeque<Arc<Notification>>>,
    ready: Notify,
    client: reqwest::Client,
}

enum Failure {
    Retryable(String),
    Permanent(String),
}

impl Sink {
    pub fn new(index: usize, settings: NotificationSettings) -> Result<Sink, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Sink {
            index,
            settings,
            queue: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            client,
        })
    }

    /// Whether the receiver asked for this notification.
    pub fn wants(&self, notification: &Notification) -> bool {
        let settings = &self.settings;
        (settings.pipelines.is_empty() || settings.pipelines.contains(&notification.pipeline))
            && (settings.events.is_empty() || settings.events.contains(&notification.event))
    }

    /// Queues without ever waiting; a full queue loses its oldest notification.
    pub fn push(&self, notification: Arc<Notification>) {
        {
            let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            if queue.len() >= self.settings.queue_size {
                queue.pop_front();
                metrics::dropped(self.index);
                tracing::warn!(
                    sink = self.index,
                    "notification queue full; dropped the oldest notification"
                );
            }
            queue.push_back(notification);
        }
        self.ready.notify_one();
    }

    fn pop(&self) -> Option<Arc<Notification>> {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
    }

    /// Delivers queued notifications one by one until `stop`.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        loop {
            let Some(notification) = self.pop() else {
                tokio::select! {
                    _ = self.ready.notified() => continue,
                    _ = stop.cancelled() => return,
                }
            };
            tokio::select! {
                _ = self.deliver(&notification) => {}
                _ = stop.cancelled() => return,
            }
        }
    }

    async fn deliver(&self, notification: &Notification) {
        let body = match render(self.settings.format, notification) {
            Ok(body) => body,
            Err(error) => {
                tracing::error!(sink = self.index, %error, "cannot render a notification");
                return;
            }
        };
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(self.settings.retry_delay)
            .with_max_delay(MAX_RETRY_DELAY.max(self.settings.retry_delay))
            .with_jitter()
            .with_max_times(self.settings.max_attempts.saturating_sub(1) as usize)
            .build();
        let mut attempt = 1u32;
        loop {
            let why = match self.send(notification, &body, attempt).await {
                Ok(()) => {
                    metrics::delivered(self.index);
                    return;
                }
                Err(Failure::Permanent(why)) => {
                    tracing::warn!(sink = self.index, delivery = %notification.id, %why, "notification refused; not retrying");
                    metrics::failed(self.index);
                    return;
                }
                Err(Failure::Retryable(why)) => why,
            };
            let Some(delay) = delays.next() else {
                tracing::warn!(sink = self.index, delivery = %notification.id, %why, attempts = attempt, "notification given up");
                metrics::failed(self.index);
                return;
            };
            tracing::debug!(sink = self.index, delivery = %notification.id, %why, "notification failed; will retry");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn send(
        &self,
        notification: &Notification,
        body: &[u8],
        attempt: u32,
    ) -> Result<(), Failure> {
        let mut request = self
            .client
            .post(self.settings.url.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(EVENT_HEADER, notification.event.as_str())
            .header(DELIVERY_HEADER, &notification.id)
            .header(TIMESTAMP_HEADER, chrono::Utc::now().timestamp().to_string())
            .header(ATTEMPT_HEADER, attempt.to_string());
        if let Some(signed) = self
            .settings
            .secret
            .as_ref()
            .and_then(|secret| signature(secret.expose(), body))
        {
            request = request.header(SIGNATURE_HEADER, signed);
        }
        // `without_url`: the URL may carry a secret, and reqwest puts it in its errors.
        let response = request
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| Failure::Retryable(e.without_url().to_string()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_server_error()
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
            || status == reqwest::StatusCode::REQUEST_TIMEOUT
        {
            Err(Failure::Retryable(format!("answered {status}")))
        } else {
            Err(Failure::Permanent(format!("answered {status}")))
        }
    }
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret` (HMAC takes keys of any
/// length, so this is always `Some`).
pub fn signature(secret: &str, body: &[u8]) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(body);
    Some(format!(
        "sha256={}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

/// The body sent for `notification` in `format`.
pub fn render(
    format: NotificationFormat,
    notification: &Notification,
) -> Result<Vec<u8>, serde_json::Error> {
    match format {
        NotificationFormat::Json => serde_json::to_vec(notification),
        NotificationFormat::Slack => serde_json::to_vec(&slack::message(notification)),
    }
}
