//! Where callbacks find followers: the keys each follower is filed under, each follower's
//! wake-up (which says whether the look may wait to share a read), and the callbacks that
//! named a key no follower had yet. A CI server may report a build before
//! the answer to its trigger has reached Baton; such a callback is kept for a while, so
//! the follower filed under its key afterwards looks at once instead of at its next poll.
//!
//! Bookkeeping behind one mutex, and tokio's `Notify`; imports nothing of the runtime.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// How soon a woken follower looks; of two wake-ups, the greater wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Look {
    /// Within the batching window, sharing the read with other builds: progress.
    Soon,
    /// At once: the news may be the end of the work.
    Now,
}

/// One follower's wake-up.
#[derive(Debug, Default)]
pub struct Waker {
    notify: Notify,
    now: AtomicBool,
}

impl Waker {
    pub fn wake(&self, look: Look) {
        if look == Look::Now {
            self.now.store(true, Ordering::SeqCst);
        }
        self.notify.notify_one();
    }

    /// Waits for a wake-up; returns whether any since the last one asked for `Look::Now`.
    pub async fn woken(&self) -> bool {
        self.notify.notified().await;
        self.now.swap(false, Ordering::SeqCst)
    }
}

/// How long a callback that found no follower is remembered.
const EARLY_FOR: Duration = Duration::from_secs(60);
/// Most such callbacks remembered: callbacks about builds Baton did not start (other
/// jobs on the same server) must not grow the map without bound.
const MAX_EARLY: usize = 10_000;

/// A key a callback carries, on one server.
pub type Entry = (String, String);

#[derive(Default)]
pub struct WakeIndex {
    inner: Mutex<Index>,
}

#[derive(Default)]
struct Index {
    /// (server, key) → run id of the follower filed under it.
    runs: HashMap<Entry, String>,
    /// (server, key) of callbacks that found no follower → when they came, all the keys
    /// of that callback (one of them found is the callback delivered), and how soon it
    /// asked to look.
    early: HashMap<Entry, Early>,
}

#[derive(Clone)]
struct Early {
    at: Instant,
    group: Arc<[Entry]>,
    look: Look,
}

impl WakeIndex {
    /// The runs filed under `keys` of `server`. With `remember`, a callback none of whose
    /// keys names a run is kept as an early one, asking for that look.
    pub fn runs(&self, server: &str, keys: &[String], remember: Option<Look>) -> Vec<String> {
        let mut index = self.lock();
        let entries: Vec<Entry> = keys
            .iter()
            .map(|key| (server.to_string(), key.clone()))
            .collect();
        let mut runs: Vec<String> = entries
            .iter()
            .filter_map(|entry| index.runs.get(entry).cloned())
            .collect();
        if let Some(look) = remember.filter(|_| runs.is_empty() && !entries.is_empty()) {
            index.remember(entries.into(), Instant::now(), look);
        }
        runs.sort();
        runs.dedup();
        runs
    }

    /// Files `run_id` under `keys` of `server`; returns the entries filed, and the look
    /// a callback that named one of them before asked for (the run should look so).
    pub fn file(
        &self,
        server: &str,
        keys: Vec<String>,
        run_id: &str,
    ) -> (Vec<Entry>, Option<Look>) {
        let mut index = self.lock();
        let now = Instant::now();
        let mut came_early: Option<Look> = None;
        let mut filed = Vec::with_capacity(keys.len());
        for key in keys {
            let entry = (server.to_string(), key);
            if let Some(early) = index.early.remove(&entry) {
                if now.duration_since(early.at) <= EARLY_FOR {
                    came_early = came_early.max(Some(early.look));
                }
                for other in early.group.iter() {
                    index.early.remove(other);
                }
            }
            index.runs.insert(entry.clone(), run_id.to_string());
            filed.push(entry);
        }
        (filed, came_early)
    }

    /// Takes entries out of the index (their follower ended).
    pub fn remove(&self, entries: &[Entry]) {
        let mut index = self.lock();
        for entry in entries {
            index.runs.remove(entry);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Index {
    fn remember(&mut self, group: Arc<[Entry]>, at: Instant, look: Look) {
        if self.early.len() + group.len() > MAX_EARLY {
            self.early
                .retain(|_, early| at.duration_since(early.at) <= EARLY_FOR);
        }
        if self.early.len() + group.len() <= MAX_EARLY {
            // Callbacks may arrive out of order: one that asked to look now keeps its say.
            let look = group
                .iter()
                .filter_map(|entry| self.early.get(entry))
                .map(|earlier| earlier.look)
                .fold(look, Look::max);
            let early = Early { at, group, look };
            for entry in early.group.iter() {
                self.early.insert(entry.clone(), early.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|k| k.to_string()).collect()
    }

    #[test]
    fn callbacks_find_the_runs_filed_under_their_keys() {
        let index = WakeIndex::default();
        let (filed, early) = index.file("j", keys(&["queue:7", "run:a"]), "a");
        assert_eq!(early, None);
        assert_eq!(index.runs("j", &keys(&["queue:7"]), Some(Look::Now)), ["a"]);
        assert_eq!(
            index.runs("j", &keys(&["queue:7", "run:a"]), Some(Look::Now)),
            ["a"]
        );
        assert!(index
            .runs("other", &keys(&["queue:7"]), Some(Look::Now))
            .is_empty());
        index.remove(&filed);
        assert!(index.runs("j", &keys(&["queue:7"]), None).is_empty());
    }

    #[test]
    fn a_callback_before_its_run_is_filed_is_kept_for_it() {
        let index = WakeIndex::default();
        assert!(index
            .runs("j", &keys(&["queue:7"]), Some(Look::Now))
            .is_empty());
        let (_, early) = index.file("j", keys(&["queue:7", "run:a"]), "a");
        assert_eq!(early, Some(Look::Now), "the run should look at once");
        // Kept once: filing again under the same key does not look again.
        let (_, again) = index.file("j", keys(&["queue:7"]), "a");
        assert_eq!(again, None);
        // Nor under another key of the same callback, once the run knows it.
        assert!(index
            .runs("j", &keys(&["queue:9", "build:x#4"]), Some(Look::Now))
            .is_empty());
        assert_eq!(index.file("j", keys(&["queue:9"]), "c").1, Some(Look::Now));
        assert_eq!(index.file("j", keys(&["build:x#4"]), "c").1, None);
        // The end reported before the start still asks for a look now.
        index.runs("j", &keys(&["build:5"]), Some(Look::Now));
        index.runs("j", &keys(&["build:5"]), Some(Look::Soon));
        assert_eq!(index.file("j", keys(&["build:5"]), "e").1, Some(Look::Now));
        // A progress callback asks for a look soon.
        assert!(index
            .runs("j", &keys(&["queue:10"]), Some(Look::Soon))
            .is_empty());
        assert_eq!(
            index.file("j", keys(&["queue:10"]), "d").1,
            Some(Look::Soon)
        );
        // A late wake (remember = false) is not kept.
        assert!(index.runs("j", &keys(&["queue:8"]), None).is_empty());
        assert_eq!(index.file("j", keys(&["queue:8"]), "b").1, None);
    }

    #[tokio::test]
    async fn a_wake_up_says_whether_any_look_was_urgent() {
        let waker = Waker::default();
        waker.wake(Look::Soon);
        assert!(!waker.woken().await);
        waker.wake(Look::Soon);
        waker.wake(Look::Now);
        assert!(waker.woken().await);
        waker.wake(Look::Soon);
        assert!(!waker.woken().await, "the urgency is used up");
    }

    #[test]
    fn early_callbacks_are_bounded() {
        let index = WakeIndex::default();
        for n in 0..MAX_EARLY + 50 {
            index.runs("j", &[format!("build:{n}")], Some(Look::Now));
        }
        assert_eq!(index.lock().early.len(), MAX_EARLY);
    }
}
