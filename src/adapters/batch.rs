//! Batched reads: followers ask for one build each, and a `Batcher` gathers the requests
//! that arrive within a short window into one call (one Jenkins `tree=` request over a
//! job's builds, one TeamCity multi-id locator), so a server with thousands of builds in
//! flight sees a few requests per poll round instead of one per build.
//!
//! A request made in [`urgency`] with `true` (a follower woken by a callback that may
//! report the end of its build) does not wait for the window: its batch goes out at once
//! with whatever is queued, so a build's end reported by a callback moves the pipeline on
//! without delay. A request already waiting in a window can be hurried the same way
//! through its [`Hurry`].

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Notify};

use super::AdapterError;

type Reply<V> = oneshot::Sender<Result<Option<V>, AdapterError>>;

/// How the batched reads of one piece of work go out.
struct Urgency {
    urgent: bool,
    hurry: Arc<Hurry>,
}

tokio::task_local! {
    static URGENCY: Urgency;
}

/// Lets the caller of [`urgency`] send at once a batch its work is waiting in (a callback
/// came that may report the end of the work).
#[derive(Debug, Default)]
pub struct Hurry {
    state: Mutex<HurryState>,
}

#[derive(Debug, Default)]
struct HurryState {
    hurried: bool,
    /// The signal of the batch the work's request waits in.
    batch: Option<Arc<Notify>>,
}

impl Hurry {
    /// Sends the batch the work waits in now; a request the work makes afterwards is
    /// urgent.
    pub fn now(&self) {
        let mut state = self.lock();
        state.hurried = true;
        if let Some(batch) = state.batch.as_ref() {
            batch.notify_one();
        }
    }

    /// Notes the batch a request waits in; returns whether the work was hurried.
    fn waiting_in(&self, batch: Arc<Notify>) -> bool {
        let mut state = self.lock();
        state.batch = Some(batch);
        state.hurried
    }

    fn not_waiting(&self) {
        self.lock().batch = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HurryState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Runs `work` with every batched read it makes marked urgent (or not); `hurry` can
/// send a read waiting in its batch's window at once.
pub async fn urgency<F: Future>(urgent: bool, hurry: Arc<Hurry>, work: F) -> F::Output {
    URGENCY.scope(Urgency { urgent, hurry }, work).await
}

/// A queued request: its key, where the answer goes, and whether it may not wait.
type Request<K, V> = (K, Reply<V>, bool);

/// Gathers keys for `window`, then fetches them together.
pub struct Batcher<K, V> {
    requests: mpsc::UnboundedSender<Request<K, V>>,
    /// Ends the window of the batch being gathered (a waiting request was hurried).
    hurried: Arc<Notify>,
}

impl<K, V> Batcher<K, V>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    /// `fetch` gets the distinct keys of one batch (at most `max_batch`) and returns what
    /// it found; a key it leaves out comes back as `None`. Must be called in a tokio runtime.
    pub fn new<F, Fut>(window: Duration, max_batch: usize, fetch: F) -> Self
    where
        F: Fn(Vec<K>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<HashMap<K, V>, AdapterError>> + Send + 'static,
    {
        let (requests, mut inbox) = mpsc::unbounded_channel::<Request<K, V>>();
        let fetch = Arc::new(fetch);
        let hurried = Arc::new(Notify::new());
        let hurry = hurried.clone();
        tokio::spawn(async move {
            while let Some(first) = inbox.recv().await {
                let mut waiting: HashMap<K, Vec<Reply<V>>> = HashMap::new();
                let mut urgent = first.2;
                waiting.entry(first.0).or_default().push(first.1);
                let deadline = tokio::time::Instant::now() + window;
                while waiting.len() < max_batch.max(1) {
                    let next = if urgent {
                        // Only what is queued already joins an urgent batch.
                        inbox.try_recv().ok()
                    } else {
                        tokio::select! {
                            next = tokio::time::timeout_at(deadline, inbox.recv()) => {
                                next.ok().flatten()
                            }
                            _ = hurry.notified() => {
                                urgent = true;
                                inbox.try_recv().ok()
                            }
                        }
                    };
                    let Some((key, reply, now)) = next else { break };
                    urgent |= now;
                    waiting.entry(key).or_default().push(reply);
                }
                let fetch = fetch.clone();
                // Each batch runs on its own, so a slow server does not hold up gathering.
                tokio::spawn(async move {
                    let keys: Vec<K> = waiting.keys().cloned().collect();
                    match fetch(keys).await {
                        Ok(found) => {
                            for (key, replies) in waiting {
                                let value = found.get(&key).cloned();
                                for reply in replies {
                                    let _ = reply.send(Ok(value.clone()));
                                }
                            }
                        }
                        Err(error) => {
                            for reply in waiting.into_values().flatten() {
                                let _ = reply.send(Err(error.clone()));
                            }
                        }
                    }
                });
            }
        });
        Batcher { requests, hurried }
    }

    /// The value for `key`, fetched together with whatever else was asked meanwhile.
    pub async fn get(&self, key: K) -> Result<Option<V>, AdapterError> {
        let (reply, answer) = oneshot::channel();
        let (urgent, hurry) = URGENCY
            .try_with(|u| (u.urgent, Some(u.hurry.clone())))
            .unwrap_or((false, None));
        // Noted before the request goes: a hurry from then on ends its batch's window,
        // and one that came before makes it urgent.
        let hurried = hurry
            .as_ref()
            .is_some_and(|hurry| hurry.waiting_in(self.hurried.clone()));
        self.requests
            .send((key, reply, urgent || hurried))
            .map_err(|_| AdapterError::retryable("the batcher stopped"))?;
        let answer = answer.await;
        if let Some(hurry) = &hurry {
            hurry.not_waiting();
        }
        answer.map_err(|_| AdapterError::retryable("the batcher dropped a request"))?
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn concurrent_requests_share_one_fetch() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let batcher = Arc::new(Batcher::new(
            Duration::from_millis(30),
            100,
            move |keys: Vec<u32>| {
                counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    Ok(keys
                        .into_iter()
                        .filter(|k| k % 2 == 0)
                        .map(|k| (k, k * 10))
                        .collect())
                }
            },
        ));
        let mut tasks = Vec::new();
        for key in 0..20u32 {
            let batcher = batcher.clone();
            tasks.push(tokio::spawn(async move {
                (key, batcher.get(key).await.unwrap())
            }));
        }
        for task in tasks {
            let (key, value) = task.await.unwrap();
            assert_eq!(value, (key % 2 == 0).then_some(key * 10));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_urgent_request_does_not_wait_for_the_window() {
        let batcher = Arc::new(Batcher::new(
            Duration::from_secs(3600),
            10,
            |keys: Vec<u32>| async move { Ok(keys.into_iter().map(|k| (k, k)).collect()) },
        ));
        let urgent = urgency(true, Arc::default(), batcher.get(7));
        let answer = tokio::time::timeout(Duration::from_secs(10), urgent).await;
        assert_eq!(answer.expect("not held for the window").unwrap(), Some(7));
        // An ordinary request waits for company, as long as the window.
        let ordinary = tokio::time::timeout(Duration::from_millis(200), batcher.get(8)).await;
        assert!(ordinary.is_err(), "held for the window");
    }

    #[tokio::test]
    async fn a_hurried_request_leaves_the_window_at_once() {
        let batcher = Arc::new(Batcher::new(
            Duration::from_secs(3600),
            10,
            |keys: Vec<u32>| async move { Ok(keys.into_iter().map(|k| (k, k)).collect()) },
        ));
        // Whether the hurry comes before the request reaches its batch (the request is
        // then urgent) or after (its window ends), one is enough.
        let hurry = Arc::new(Hurry::default());
        let waiting = tokio::spawn(urgency(false, hurry.clone(), {
            let batcher = batcher.clone();
            async move { batcher.get(3).await }
        }));
        tokio::task::yield_now().await;
        hurry.now();
        let answer = tokio::time::timeout(Duration::from_secs(10), waiting).await;
        assert_eq!(
            answer.expect("not held for the window").unwrap().unwrap(),
            Some(3)
        );
        // Hurried before it asks: the request is urgent.
        let early = Arc::new(Hurry::default());
        early.now();
        let read = urgency(false, early, batcher.get(4));
        let answer = tokio::time::timeout(Duration::from_secs(10), read).await;
        assert_eq!(answer.expect("not held for the window").unwrap(), Some(4));
    }

    #[tokio::test]
    async fn a_failed_fetch_fails_every_request_of_the_batch() {
        let batcher: Batcher<u32, u32> =
            Batcher::new(Duration::from_millis(5), 10, |_keys| async {
                Err(AdapterError::retryable("down"))
            });
        assert!(matches!(
            batcher.get(1).await,
            Err(AdapterError::Retryable { .. })
        ));
    }
}
