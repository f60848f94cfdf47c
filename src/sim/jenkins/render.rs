//! The exported shapes of Jenkins' model objects, property by property in Stapler's order
//! with Jenkins' visibilities, after `samples/jenkins-*.json`: jobs and folders, builds,
//! queue items, the root object, the crumb issuer, the current user and test reports.

pub(super) mod build;
pub(super) mod computer;
pub(super) mod job;
pub(super) mod queue;
pub(super) mod root;
pub(super) mod tests;

use tokio::time::Instant;

use super::export::{ObjBuilder, Pruner, Value, NESTED};
use super::jobs::build_url;
use super::world::World;

/// What every renderer needs: the state and the time it is rendered at.
#[derive(Clone, Copy)]
pub(super) struct Ctx<'a> {
    pub(super) world: &'a World,
    pub(super) now: Instant,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(world: &'a World, now: Instant) -> Ctx<'a> {
        Ctx { world, now }
    }

    /// An absolute URL from a relative one, on the configured root URL.
    pub(super) fn abs(&self, relative: &str) -> String {
        format!("{}{relative}", self.world.root_url)
    }

    pub(super) fn ms(&self, at: Instant) -> i64 {
        self.world.clock.ms(at)
    }
}

/// A run as a nested reference: `{_class, number, url}` at the default depth, the whole
/// run when a `tree=` asks for more. `class` is false for `previousBuild`/`nextBuild` of a
/// Pipeline run, where Stapler omits it.
pub(super) fn run_ref(ctx: Ctx<'_>, p: Pruner<'_>, job: usize, number: u32, class: bool) -> Value {
    let job_ref = &ctx.world.jobs[job];
    match job_ref.build(number) {
        Some(build) => build::build(ctx, p, job, build, class),
        None => ObjBuilder::new(p, None)
            .val("number", NESTED, number)
            .val("url", NESTED, ctx.abs(&build_url(&job_ref.names, number)))
            .build(),
    }
}
