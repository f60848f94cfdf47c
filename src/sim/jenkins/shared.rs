//! What the HTTP handlers, the background tasks and the test handle share: the world
//! behind its mutex, the realm of users, the CSRF setting and whether the simulator is
//! currently serving (a stopped Jenkins sends no notifications).

use std::sync::{Mutex, MutexGuard};

use tokio::sync::watch;
use tokio::time::Instant;

use super::auth::Realm;
use super::world::World;

/// `X-Jenkins`: the version this simulator claims to be.
pub(super) const VERSION: &str = "2.528.3";

pub(super) struct Shared {
    world: Mutex<World>,
    pub(super) realm: Realm,
    /// CSRF protection: POSTs not authenticated by an API token need a crumb.
    pub(super) crumbs: bool,
    /// `numExecutors` shown on the root object.
    pub(super) executors_shown: usize,
    pub(super) serving: watch::Sender<bool>,
}

impl Shared {
    pub(super) fn new(world: World, realm: Realm, crumbs: bool) -> Shared {
        let executors_shown = world.executors.unwrap_or(2);
        Shared {
            world: Mutex::new(world),
            realm,
            crumbs,
            executors_shown,
            serving: watch::Sender::new(false),
        }
    }

    /// The world, even if a panicking test thread poisoned the lock: the data stays usable.
    pub(super) fn lock(&self) -> MutexGuard<'_, World> {
        self.world
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The world moved forward to `now`.
    pub(super) fn settled(&self, now: Instant) -> MutexGuard<'_, World> {
        let mut world = self.lock();
        world.settle(now);
        world
    }
}
