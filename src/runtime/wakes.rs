//! Where callbacks find followers: the keys each follower is filed under, and the
//! callbacks that named a key no follower had yet. A CI server may report a build before
//! the answer to its trigger has reached Baton; such a callback is kept for a while, so
//! the follower filed under its key afterwards looks at once instead of at its next poll.
//!
//! Pure bookkeeping behind one mutex; imports nothing of the runtime.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    /// (server, key) of callbacks that found no follower → when they came, and all the
    /// keys of that callback (one of them found is the callback delivered).
    early: HashMap<Entry, (Instant, Arc<[Entry]>)>,
}

impl WakeIndex {
    /// The runs filed under `keys` of `server`. With `remember`, a key no run is filed
    /// under is kept as an early callback.
    pub fn runs(&self, server: &str, keys: &[String], remember: bool) -> Vec<String> {
        let mut index = self.lock();
        let entries: Vec<Entry> = keys
            .iter()
            .map(|key| (server.to_string(), key.clone()))
            .collect();
        let mut runs: Vec<String> = entries
            .iter()
            .filter_map(|entry| index.runs.get(entry).cloned())
            .collect();
        if runs.is_empty() && remember && !entries.is_empty() {
            index.remember(entries.into(), Instant::now());
        }
        runs.sort();
        runs.dedup();
        runs
    }

    /// Files `run_id` under `keys` of `server`; returns whether a callback named one of
    /// them before (so the run should look now).
    pub fn file(&self, server: &str, keys: Vec<String>, run_id: &str) -> (Vec<Entry>, bool) {
        let mut index = self.lock();
        let now = Instant::now();
        let mut came_early = false;
        let mut filed = Vec::with_capacity(keys.len());
        for key in keys {
            let entry = (server.to_string(), key);
            if let Some((at, group)) = index.early.remove(&entry) {
                came_early |= now.duration_since(at) <= EARLY_FOR;
                for other in group.iter() {
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
    fn remember(&mut self, group: Arc<[Entry]>, now: Instant) {
        if self.early.len() + group.len() > MAX_EARLY {
            self.early
                .retain(|_, (at, _)| now.duration_since(*at) <= EARLY_FOR);
        }
        if self.early.len() + group.len() <= MAX_EARLY {
            for entry in group.iter() {
                self.early.insert(entry.clone(), (now, group.clone()));
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
        assert!(!early);
        assert_eq!(index.runs("j", &keys(&["queue:7"]), true), ["a"]);
        assert_eq!(index.runs("j", &keys(&["queue:7", "run:a"]), true), ["a"]);
        assert!(index.runs("other", &keys(&["queue:7"]), true).is_empty());
        index.remove(&filed);
        assert!(index.runs("j", &keys(&["queue:7"]), false).is_empty());
    }

    #[test]
    fn a_callback_before_its_run_is_filed_is_kept_for_it() {
        let index = WakeIndex::default();
        assert!(index.runs("j", &keys(&["queue:7"]), true).is_empty());
        let (_, early) = index.file("j", keys(&["queue:7", "run:a"]), "a");
        assert!(early, "the run should look at once");
        // Kept once: filing again under the same key does not look again.
        let (_, again) = index.file("j", keys(&["queue:7"]), "a");
        assert!(!again);
        // Nor under another key of the same callback, once the run knows it.
        assert!(index
            .runs("j", &keys(&["queue:9", "build:x#4"]), true)
            .is_empty());
        assert!(index.file("j", keys(&["queue:9"]), "c").1);
        assert!(!index.file("j", keys(&["build:x#4"]), "c").1);
        // A late wake (remember = false) is not kept.
        assert!(index.runs("j", &keys(&["queue:8"]), false).is_empty());
        assert!(!index.file("j", keys(&["queue:8"]), "b").1);
    }

    #[test]
    fn early_callbacks_are_bounded() {
        let index = WakeIndex::default();
        for n in 0..MAX_EARLY + 50 {
            index.runs("j", &[format!("build:{n}")], true);
        }
        assert_eq!(index.lock().early.len(), MAX_EARLY);
    }
}
