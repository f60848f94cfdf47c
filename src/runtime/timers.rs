//! Action deadlines: one task holds every armed deadline in order and delivers
//! `Event::Timeout` when the runtime's clock passes it. Deadlines are stored with the
//! action, so recovery simply arms them again; a timeout that fires for a run that already
//! finished changes nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::sync::mpsc;

use super::Runtime;
use crate::engine::state::Time;
use crate::engine::Event;

/// Longest single sleep, so a clock that jumps (suspend, a test's clock) is noticed.
const MAX_SLEEP: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Deadline {
    at: Time,
    pipeline: String,
    execution: String,
    run_id: String,
}

pub(super) enum TimerMessage {
    Arm {
        at: Time,
        pipeline: String,
        execution: String,
        run_id: String,
    },
    /// The clock moved: look again now.
    Poke,
}

pub(super) fn spawn(runtime: Runtime, mut inbox: mpsc::UnboundedReceiver<TimerMessage>) {
    let shutdown = runtime.inner.shutdown.clone();
    runtime.inner.tasks.clone().spawn(async move {
        let mut armed: BTreeSet<Deadline> = BTreeSet::new();
        loop {
            let now = runtime.now();
            while armed.first().is_some_and(|d| d.at <= now) {
                if let Some(due) = armed.pop_first() {
                    fire(&runtime, due);
                }
            }
            let sleep = armed
                .first()
                .map_or(MAX_SLEEP, |d| (d.at - now).to_std().unwrap_or_default())
                .min(MAX_SLEEP);
            tokio::select! {
                message = inbox.recv() => match message {
                    Some(TimerMessage::Arm { at, pipeline, execution, run_id }) => {
                        armed.insert(Deadline { at, pipeline, execution, run_id });
                    }
                    Some(TimerMessage::Poke) => {}
                    None => return,
                },
                _ = tokio::time::sleep(sleep) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    });
}

fn fire(runtime: &Runtime, due: Deadline) {
    let runtime = runtime.clone();
    runtime.inner.tasks.clone().spawn(async move {
        let event = Event::Timeout {
            execution: due.execution,
            run_id: due.run_id,
        };
        if let Err(error) = runtime.submit(&due.pipeline, event).await {
            tracing::debug!(%error, "timeout not delivered");
        }
    });
}
