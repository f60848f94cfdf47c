//! The simulated server's memory: build configurations, builds, users and sessions, the
//! queue of injected faults, the counters behind [`super::SimStats`] and the webhooks
//! waiting to be sent. One mutex guards it and is never held across an await; every
//! access first lets due builds move on ([`State::settle`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::Rng;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::build::{Build, Phase, Transition, User};
use super::webhook::{self, Outgoing};
use super::{BuildTypeSpec, RouteCounts, SimStats};

/// Build ids start here, far from build numbers, so a client that mixes them up fails.
pub(super) const FIRST_BUILD_ID: u64 = 1001;

/// Something the server does to a request instead of (or besides) answering it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    Status(u16),
    Throttle { retry_after_secs: u64 },
    Delay(Duration),
    Drop,
    LoseResponse(u16),
}

/// Random 5xx answers and dropped connections, from a seeded generator.
pub(super) struct FaultRate {
    pub(super) percent_5xx: u8,
    pub(super) percent_drop: u8,
    pub(super) rng: StdRng,
}

/// A login session (`TCSESSIONID`) and the CSRF token issued in it.
#[derive(Debug, Clone)]
pub(super) struct Session {
    pub(super) user: User,
    pub(super) csrf: Option<String>,
}

/// Which part of the API a request used, for [`SimStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RouteKind {
    Trigger,
    Build,
    BuildsList,
    Queue,
    Cancel,
    Log,
    Artifacts,
    Tests,
    Other,
}

#[derive(Default)]
pub(super) struct Stats {
    pub(super) total: usize,
    pub(super) by_kind: RouteCounts,
    pub(super) triggers: BTreeMap<String, usize>,
    recent: VecDeque<Instant>,
    pub(super) max_per_second: usize,
    pub(super) webhooks_sent: usize,
    pub(super) webhooks_failed: usize,
    pub(super) builds_list_sizes: Vec<usize>,
}

impl Stats {
    pub(super) fn record(&mut self, kind: RouteKind, now: Instant) {
        self.total += 1;
        let counter = match kind {
            RouteKind::Trigger => &mut self.by_kind.trigger,
            RouteKind::Build => &mut self.by_kind.build,
            RouteKind::BuildsList => &mut self.by_kind.builds_list,
            RouteKind::Queue => &mut self.by_kind.queue,
            RouteKind::Cancel => &mut self.by_kind.cancel,
            RouteKind::Log => &mut self.by_kind.log,
            RouteKind::Artifacts => &mut self.by_kind.artifacts,
            RouteKind::Tests => &mut self.by_kind.tests,
            RouteKind::Other => &mut self.by_kind.other,
        };
        *counter += 1;
        self.recent.push_back(now);
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            self.recent.pop_front();
        }
        self.max_per_second = self.max_per_second.max(self.recent.len());
    }

    pub(super) fn view(&self) -> SimStats {
        SimStats {
            total_requests: self.total,
            by_kind: self.by_kind.clone(),
            triggers_per_build_type: self.triggers.clone(),
            max_requests_per_second: self.max_per_second,
            webhooks_sent: self.webhooks_sent,
            webhooks_failed: self.webhooks_failed,
            builds_list_sizes: self.builds_list_sizes.clone(),
        }
    }
}

pub(super) struct State {
    pub(super) base_url: String,
    base_wall: DateTime<Utc>,
    /// When the server started; wall-clock dates are computed from it.
    pub(super) started: Instant,
    pub(super) types: BTreeMap<String, BuildTypeSpec>,
    pub(super) builds: BTreeMap<u64, Build>,
    next_id: u64,
    numbers: HashMap<String, u64>,
    pub(super) users: Vec<User>,
    pub(super) sessions: HashMap<String, Session>,
    pub(super) faults: VecDeque<Fault>,
    pub(super) fault_rate: Option<FaultRate>,
    pub(super) stats: Stats,
    outbox: Vec<Outgoing>,
}

impl State {
    fn new(base_url: String, users: Vec<User>) -> State {
        State {
            base_url,
            base_wall: Utc::now(),
            started: Instant::now(),
            types: BTreeMap::new(),
            builds: BTreeMap::new(),
            next_id: FIRST_BUILD_ID,
            numbers: HashMap::new(),
            users,
            sessions: HashMap::new(),
            faults: VecDeque::new(),
            fault_rate: None,
            stats: Stats::default(),
            outbox: Vec::new(),
        }
    }

    /// The wall-clock time of `at`.
    pub(super) fn wall(&self, at: Instant) -> DateTime<Utc> {
        let offset = at.saturating_duration_since(self.started);
        self.base_wall + chrono::Duration::from_std(offset).unwrap_or_default()
    }

    /// TeamCity's compact date format, `20240820T080012+0000`.
    pub(super) fn date(&self, at: Instant) -> String {
        self.wall(at).format("%Y%m%dT%H%M%S%z").to_string()
    }

    pub(super) fn next_build_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Notes that a client read build `id` (if it exists) at `now`.
    pub(super) fn note_read(&mut self, id: u64, now: Instant) {
        if let Some(build) = self.builds.get_mut(&id) {
            build.last_read_at = Some(now);
        }
    }

    /// Moves every build along to `now`, announcing each transition.
    pub(super) fn settle(&mut self, now: Instant) {
        let ids: Vec<u64> = self
            .builds
            .iter()
            .filter(|(_, b)| b.phase != Phase::Finished)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            loop {
                let numbers = &mut self.numbers;
                let Some(build) = self.builds.get_mut(&id) else {
                    break;
                };
                let mut next_number = |build_type: &str| {
                    let n = numbers.entry(build_type.to_string()).or_insert(0);
                    *n += 1;
                    *n
                };
                match build.step(now, &mut next_number) {
                    Some(transition) => self.announce(id, transition, now),
                    None => break,
                }
            }
        }
    }

    /// Queues the webhook for a transition, if the build's type has one.
    pub(super) fn announce(&mut self, id: u64, transition: Transition, now: Instant) {
        let Some(build) = self.builds.get(&id) else {
            return;
        };
        if let Some(outgoing) = webhook::render(self, build, transition, now) {
            self.outbox.push(outgoing);
        }
    }

    /// Finds a user by name, creating one (as TeamCity's user list would have it).
    pub(super) fn user_named(&mut self, username: &str) -> User {
        if let Some(user) = self.users.iter().find(|u| u.username == username) {
            return user.clone();
        }
        let user = User {
            id: self.users.iter().map(|u| u.id).max().unwrap_or(0) + 1,
            username: username.to_string(),
            name: username.to_string(),
        };
        self.users.push(user.clone());
        user
    }

    /// The builds of `build_type` that finished before `id`, newest first.
    pub(super) fn previous_finished(&self, build_type: &str, id: u64) -> Option<&Build> {
        self.builds
            .range(..id)
            .rev()
            .map(|(_, b)| b)
            .find(|b| b.build_type == build_type && b.phase == Phase::Finished && b.ran())
    }

    /// Decides the fault for the next request: queued ones first, then the random rate.
    pub(super) fn next_fault(&mut self) -> Option<Fault> {
        if let Some(fault) = self.faults.pop_front() {
            return Some(fault);
        }
        let rate = self.fault_rate.as_mut()?;
        let roll: u8 = rate.rng.random_range(0..100);
        if roll < rate.percent_5xx {
            Some(Fault::Status(503))
        } else if roll < rate.percent_5xx.saturating_add(rate.percent_drop) {
            Some(Fault::Drop)
        } else {
            None
        }
    }
}

/// The state and the channel to the webhook sender, shared by handlers and the handle.
pub(super) struct Shared {
    state: Mutex<State>,
    webhooks: mpsc::UnboundedSender<Outgoing>,
    pub(super) base_url: String,
    pub(super) token: Option<String>,
    pub(super) basic: Vec<(String, String)>,
    pub(super) guest: bool,
}

impl Shared {
    pub(super) fn new(
        base_url: String,
        options: &super::TeamCitySimOptions,
        webhooks: mpsc::UnboundedSender<Outgoing>,
    ) -> Shared {
        let mut users = vec![token_user()];
        for (i, (username, _)) in options.users.iter().enumerate() {
            users.push(User {
                id: i as i64 + 2,
                username: username.clone(),
                name: username.clone(),
            });
        }
        Shared {
            state: Mutex::new(State::new(base_url.clone(), users)),
            webhooks,
            base_url,
            token: options.token.clone(),
            basic: options.users.clone(),
            guest: options.guest,
        }
    }

    /// Whether any credentials are configured; without them every request is let in.
    pub(super) fn auth_enabled(&self) -> bool {
        self.token.is_some() || !self.basic.is_empty()
    }

    /// The state, even if a panicking test poisoned the lock.
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Settles the builds at `now`, runs `f`, then hands any new webhooks to the sender.
    pub(super) fn with<R>(&self, now: Instant, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self.lock();
        state.settle(now);
        let result = f(&mut state);
        for outgoing in state.outbox.drain(..) {
            let _ = self.webhooks.send(outgoing);
        }
        result
    }
}

/// The user the bearer token belongs to (and who acts when authentication is off).
pub(super) fn token_user() -> User {
    User {
        id: 1,
        username: "ci-bot".into(),
        name: "CI Bot".into(),
    }
}
