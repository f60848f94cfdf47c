//! What the adapter remembers in memory, bounded, and deliberately lost on restart: what
//! each trigger attempt learned (so `find` can tell a refused trigger from a lost
//! answer even for jobs without a marker), which run first got each queue item (to spot
//! Jenkins merging two triggers into one item), notes about shared builds, builds whose
//! description already links back, and the console size of builds under an inactivity
//! limit. Nothing here is needed for correctness after a restart: the server is the truth.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Instant;

use super::path::JobPath;

/// Entries kept per map; the oldest go first.
const CAPACITY: usize = 10_000;

/// What the last trigger attempt of a run learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Jenkins answered with this queue item.
    Queued(u64),
    /// Jenkins certainly did not queue anything (refused connection, 429, 503, 3xx/4xx).
    NotQueued,
    /// The answer was lost: Jenkins may or may not have queued a build.
    Unknown,
}

/// Console size of a running build and when it last grew.
#[derive(Debug, Clone, Copy)]
pub struct Activity {
    pub size: u64,
    pub changed: Instant,
}

#[derive(Default)]
pub struct Memory {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    attempts: Bounded<String, Attempt>,
    owners: Bounded<u64, String>,
    notes: Bounded<String, String>,
    described: Bounded<(JobPath, u64), ()>,
    activity: Bounded<(JobPath, u64), Activity>,
}

impl Memory {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn record_attempt(&self, run_id: &str, attempt: Attempt) {
        self.state().attempts.insert(run_id.to_string(), attempt);
    }

    pub fn attempt(&self, run_id: &str) -> Option<Attempt> {
        self.state().attempts.get(&run_id.to_string()).copied()
    }

    /// Records that `run_id` got queue item `queue_id`; returns the run that got it
    /// first when that was another one.
    pub fn claim_queue_item(&self, queue_id: u64, run_id: &str) -> Option<String> {
        let mut state = self.state();
        match state.owners.get(&queue_id) {
            Some(owner) if owner != run_id => Some(owner.clone()),
            Some(_) => None,
            None => {
                state.owners.insert(queue_id, run_id.to_string());
                None
            }
        }
    }

    pub fn add_note(&self, run_id: &str, note: String) {
        self.state().notes.insert(run_id.to_string(), note);
    }

    pub fn note(&self, run_id: &str) -> Option<String> {
        self.state().notes.get(&run_id.to_string()).cloned()
    }

    /// True the first time it is asked about a build.
    pub fn first_description(&self, job: &JobPath, number: u64) -> bool {
        let mut state = self.state();
        let key = (job.clone(), number);
        if state.described.get(&key).is_some() {
            return false;
        }
        state.described.insert(key, ());
        true
    }

    /// Records the console size seen now; returns the activity as it stands after.
    pub fn observe_console(&self, job: &JobPath, number: u64, size: u64) -> Activity {
        let mut state = self.state();
        let key = (job.clone(), number);
        let activity = match state.activity.get(&key) {
            Some(seen) if seen.size == size => *seen,
            _ => Activity {
                size,
                changed: Instant::now(),
            },
        };
        state.activity.insert(key, activity);
        activity
    }

    pub fn console_size(&self, job: &JobPath, number: u64) -> Option<u64> {
        let key = (job.clone(), number);
        self.state().activity.get(&key).map(|a| a.size)
    }

    pub fn forget_build(&self, job: &JobPath, number: u64) {
        self.state().activity.remove(&(job.clone(), number));
    }
}

/// A map that forgets its oldest entries beyond `CAPACITY`.
struct Bounded<K, V> {
    map: HashMap<K, V>,
    order: VecDeque<K>,
}

impl<K, V> Default for Bounded<K, V> {
    fn default() -> Self {
        Bounded {
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<K: Eq + Hash + Clone, V> Bounded<K, V> {
    fn insert(&mut self, key: K, value: V) {
        if self.map.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
        }
        while self.map.len() > CAPACITY {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.map.remove(&oldest);
                }
                None => break,
            }
        }
    }

    fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }

    fn remove(&mut self, key: &K) {
        if self.map.remove(key).is_some() {
            self.order.retain(|k| k != key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_items_remember_their_first_run() {
        let memory = Memory::default();
        assert_eq!(memory.claim_queue_item(7, "a"), None);
        assert_eq!(memory.claim_queue_item(7, "a"), None);
        assert_eq!(memory.claim_queue_item(7, "b"), Some("a".into()));
    }

    #[test]
    fn console_activity_moves_only_when_the_log_grows() {
        let memory = Memory::default();
        let job = JobPath::parse("a").unwrap();
        let first = memory.observe_console(&job, 1, 10);
        let same = memory.observe_console(&job, 1, 10);
        assert_eq!(first.changed, same.changed);
        let grown = memory.observe_console(&job, 1, 12);
        assert!(grown.changed >= first.changed && grown.size == 12);
        memory.forget_build(&job, 1);
        assert_eq!(memory.console_size(&job, 1), None);
    }

    #[test]
    fn bounded_maps_forget_the_oldest() {
        let mut map = Bounded::default();
        for key in 0..CAPACITY + 5 {
            map.insert(key, ());
        }
        assert!(map.get(&0).is_none() && map.get(&(CAPACITY + 4)).is_some());
        assert_eq!(map.map.len(), CAPACITY);
    }
}
