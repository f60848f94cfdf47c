//! Followers: one task per running action. It starts the external work — or, after a
//! crash, finds the work it started before, so nothing is triggered twice — then follows
//! it by polling at the adapter's interval, looking when a callback wakes it,
//! until the work finishes. Every piece of news goes to the pipeline actor as an event.

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::executors::{prepare, Prepared};
use super::wakes::Waker;
use super::{metrics, Runtime, RuntimeError};
use crate::adapters::batch::{urgency, Hurry};
use crate::adapters::http::Boxed;
use crate::adapters::{AdapterError, Outcome, Progress, Started};
use crate::engine::state::Execution;
use crate::engine::{ActionOutcome, Event};
use crate::model::Pipeline;

/// Starts following a run; `recovered` means a trigger may already have been sent.
/// `definition` is the version of the pipeline the execution runs. The follower keeps only
/// what it needs to reach the work (the prepared context and a few ids), not the execution
/// or the definition: thousands of them may be in flight.
pub(super) fn spawn(
    runtime: Runtime,
    definition: &Pipeline,
    execution: &Execution,
    run_id: &str,
    recovered: bool,
) {
    let Some((s, a)) = execution.find_run(run_id) else {
        return;
    };
    let prepared = match prepare(&runtime, definition, execution, run_id) {
        Ok(Some(prepared)) => Ok(prepared),
        // Approvals wait for people, not for an executor.
        Ok(None) => return,
        Err(why) => Err(why),
    };
    let external_id = execution.stages[s].actions[a].external_id.clone();
    let token = runtime.inner.shutdown.child_token();
    let waker = Arc::new(Waker::default());
    lock(&runtime.inner.followers).insert(run_id.to_string(), token.clone());
    lock(&runtime.inner.wakers).insert(run_id.to_string(), waker.clone());
    let follower = Follower {
        runtime: runtime.clone(),
        pipeline: execution.pipeline.clone(),
        execution_id: execution.id.clone(),
        run_id: run_id.to_string(),
        token,
        waker,
    };
    let span = tracing::info_span!(
        "action",
        execution = %execution.id,
        stage = %execution.stages[s].name,
        action = %execution.stages[s].actions[a].name,
        run = %run_id,
    );
    let task = async move {
        match prepared {
            Ok(prepared) => follower.run(prepared, recovered, external_id).await,
            Err(why) => {
                follower
                    .complete(ActionOutcome::Failed {
                        error: why,
                        outputs: Default::default(),
                    })
                    .await
            }
        }
        lock(&follower.runtime.inner.followers).remove(&follower.run_id);
        lock(&follower.runtime.inner.wakers).remove(&follower.run_id);
    };
    runtime.inner.tasks.spawn(task.instrument(span));
}

/// Stops following a run that no longer counts and asks its executor to cancel the work.
/// `definition` is the version of the pipeline the execution runs, as for [`spawn`].
pub(super) fn cancel(
    runtime: Runtime,
    definition: &Pipeline,
    execution: &Execution,
    run_id: &str,
    external_id: Option<String>,
) {
    if let Some(token) = lock(&runtime.inner.followers).remove(run_id) {
        token.cancel();
    }
    let Ok(Some(Prepared {
        adapter, context, ..
    })) = prepare(&runtime, definition, execution, run_id)
    else {
        return;
    };
    let run_id = run_id.to_string();
    let shutdown = runtime.inner.shutdown.clone();
    runtime.inner.tasks.clone().spawn(async move {
        let mut delays = backoff(&runtime);
        for _ in 0..6 {
            match adapter.cancel(&context, external_id.as_deref()).await {
                Ok(()) => {
                    tracing::info!(run = %run_id, "asked the CI server to cancel the work");
                    return;
                }
                Err(AdapterError::Retryable {
                    message,
                    retry_after,
                }) => {
                    tracing::warn!(run = %run_id, %message, "cancel failed; will retry");
                    let delay = next_delay(&mut delays, retry_after);
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shutdown.cancelled() => return,
                    }
                }
                Err(error) => {
                    tracing::warn!(run = %run_id, %error, "could not cancel the work");
                    return;
                }
            }
        }
    });
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn backoff(runtime: &Runtime) -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(runtime.inner.options.min_backoff)
        .with_max_delay(runtime.inner.options.max_backoff)
        .with_jitter()
        .without_max_times()
        .build()
}

fn next_delay(
    delays: &mut impl Iterator<Item = Duration>,
    retry_after: Option<Duration>,
) -> Duration {
    let delay = delays.next().unwrap_or(Duration::from_secs(60));
    retry_after.map_or(delay, |after| after.max(delay))
}

/// The callback keys a follower is filed under; removed from the index when it ends.
struct WakeKeys {
    runtime: Runtime,
    server: Option<String>,
    keys: Vec<super::wakes::Entry>,
}

impl WakeKeys {
    /// Files the run under `keys`; a callback that named one of them before is passed on
    /// to the follower's wake-up, so it looks as that callback asked.
    fn register(&mut self, keys: Vec<String>, run_id: &str, waker: &Waker) {
        let Some(server) = &self.server else { return };
        let (filed, came_early) = self.runtime.inner.wake_index.file(server, keys, run_id);
        self.keys.extend(filed);
        if let Some(look) = came_early {
            waker.wake(look);
        }
    }
}

impl Drop for WakeKeys {
    fn drop(&mut self) {
        self.runtime.inner.wake_index.remove(&self.keys);
    }
}

struct Follower {
    runtime: Runtime,
    pipeline: String,
    execution_id: String,
    run_id: String,
    token: CancellationToken,
    waker: Arc<Waker>,
}

impl Follower {
    async fn run(&self, prepared: Prepared, recovered: bool, external_id: Option<String>) {
        let Prepared {
            adapter,
            mut context,
            server,
            slots,
        } = prepared;
        // The server's cap on builds in flight: wait for a slot, held until the work ends.
        let _slot = match slots {
            Some(slots) => tokio::select! {
                permit = slots.acquire_owned() => permit.ok(),
                _ = self.token.cancelled() => return,
            },
            None => None,
        };
        let mut keys = WakeKeys {
            runtime: self.runtime.clone(),
            server,
            keys: Vec::new(),
        };
        let started_at = std::time::Instant::now();
        // Work this follower has just triggered is not looked at straight away: it has
        // barely reached the server's queue, and the server's callback (or the first
        // poll) says when there is news. Work found after a restart, or recorded before,
        // is looked at at once.
        let (mut external_id, look_at_once) = match external_id {
            Some(id) => {
                keys.register(adapter.wake_keys(&context, &id), &self.run_id, &self.waker);
                (id, true)
            }
            None => {
                let Some((started, triggered)) =
                    Box::pin(self.start(adapter.as_ref(), &context, recovered)).await
                else {
                    return;
                };
                keys.register(
                    adapter.wake_keys(&context, &started.external_id),
                    &self.run_id,
                    &self.waker,
                );
                self.deliver(Event::ActionStarted {
                    execution: self.execution_id.clone(),
                    run_id: self.run_id.clone(),
                    external_id: started.external_id.clone(),
                    external_url: started.external_url.clone(),
                })
                .await;
                if let Some(outcome) = started.finished {
                    self.complete(outcome.into()).await;
                    return;
                }
                (started.external_id, !triggered)
            }
        };
        // Only a trigger reads the input artifacts' variables; the follower may live for
        // hours, so it lets them go.
        context.input_artifacts = Vec::new();
        let mut delays = backoff(&self.runtime);
        let mut last_seen: Option<Progress> = None;
        // The first look and a look after a callback that may report the end go out at
        // once; scheduled polls, and looks after callbacks that report progress, may wait
        // a moment to share a request with other builds. After a restart every
        // running build is looked at again at the same moment: those first looks wait to
        // share requests too, so thousands of them cost a few list reads, not one each.
        let mut urgent = !recovered;
        let mut pause = (!look_at_once).then(|| adapter.poll_interval(started_at.elapsed()));
        loop {
            // One place to wait (the task's state machine keeps one set of its futures).
            if let Some(pause) = pause {
                urgent = tokio::select! {
                    _ = tokio::time::sleep(pause) => false,
                    now = self.waker.woken() => now,
                    _ = self.token.cancelled() => return,
                };
            }
            let (read, woken) = self
                .look(adapter.as_ref(), &context, &external_id, urgent)
                .await;
            let next = match read {
                Ok(Progress::Finished(outcome)) => {
                    metrics::action_finished(&context.stage, started_at.elapsed());
                    self.complete(outcome.into()).await;
                    return;
                }
                Ok(progress) => {
                    if last_seen.as_ref() != Some(&progress) {
                        if let Progress::Running {
                            external_id: better_id,
                            external_url,
                            percent_complete,
                            summary,
                        } = &progress
                        {
                            if let Some(better) = better_id {
                                if *better != external_id {
                                    external_id = better.clone();
                                    keys.register(
                                        adapter.wake_keys(&context, &external_id),
                                        &self.run_id,
                                        &self.waker,
                                    );
                                }
                            }
                            self.deliver(Event::ActionProgress {
                                execution: self.execution_id.clone(),
                                run_id: self.run_id.clone(),
                                external_id: better_id.clone(),
                                external_url: external_url.clone(),
                                percent_complete: *percent_complete,
                                summary: summary.clone(),
                            })
                            .await;
                        }
                        last_seen = Some(progress);
                    }
                    delays = backoff(&self.runtime);
                    // A callback during the read may bring news the read predates.
                    woken.map_or(Some(adapter.poll_interval(started_at.elapsed())), |now| {
                        urgent = now;
                        None
                    })
                }
                Err(AdapterError::Retryable {
                    message,
                    retry_after,
                }) => {
                    tracing::warn!(%message, "reading the work's status failed; will retry");
                    Some(next_delay(&mut delays, retry_after))
                }
                Err(error) => {
                    self.complete(ActionOutcome::Failed {
                        error: format!("lost track of the external work: {error}"),
                        outputs: Default::default(),
                    })
                    .await;
                    return;
                }
            };
            pause = next;
        }
    }

    /// Reads the work's status. A callback that comes meanwhile and may report the end
    /// hurries the read if it still waits in a batch's window. Returns the read and, if
    /// a callback came during it, whether one asked to look now: the follower then looks
    /// again at once, as the read may predate the callback's news.
    async fn look(
        &self,
        adapter: &dyn crate::adapters::Adapter,
        context: &crate::adapters::ActionContext,
        external_id: &str,
        urgent: bool,
    ) -> (crate::adapters::Result<Progress>, Option<bool>) {
        let hurry = Arc::new(Hurry::default());
        let read = urgency(urgent, hurry.clone(), adapter.status(context, external_id));
        tokio::pin!(read);
        let mut woken: Option<bool> = None;
        loop {
            tokio::select! {
                result = &mut read => return (result, woken),
                now = self.waker.woken(), if woken != Some(true) => {
                    if now {
                        hurry.now();
                    }
                    woken = Some(now);
                }
            }
        }
    }

    /// Triggers the work once. Before any second attempt (and after a crash) it asks the
    /// executor whether the work already exists, so a trigger whose answer was lost is
    /// never repeated. Returns the work, and whether this call triggered it (rather than
    /// found it).
    async fn start(
        &self,
        adapter: &dyn crate::adapters::Adapter,
        context: &crate::adapters::ActionContext,
        mut look_first: bool,
    ) -> Option<(Started, bool)> {
        let mut delays = backoff(&self.runtime);
        loop {
            if look_first {
                match adapter.find(context).await {
                    Ok(Some(found)) => {
                        tracing::info!(external = %found.external_id, "found work started before a restart");
                        return Some((found, false));
                    }
                    Ok(None) => {}
                    Err(AdapterError::Retryable {
                        message,
                        retry_after,
                    }) => {
                        tracing::warn!(%message, "looking for earlier work failed; will retry");
                        if !self.pause(next_delay(&mut delays, retry_after)).await {
                            return None;
                        }
                        continue;
                    }
                    Err(error) => {
                        self.fail_to_start(error).await;
                        return None;
                    }
                }
            }
            match adapter.trigger(context).await {
                Ok(started) => return Some((started, true)),
                Err(AdapterError::Retryable {
                    message,
                    retry_after,
                }) => {
                    tracing::warn!(%message, "trigger failed; will look for it, then retry");
                    look_first = true;
                    if !self.pause(next_delay(&mut delays, retry_after)).await {
                        return None;
                    }
                }
                Err(error) => {
                    self.fail_to_start(error).await;
                    return None;
                }
            }
        }
    }

    async fn fail_to_start(&self, error: AdapterError) {
        self.complete(ActionOutcome::Failed {
            error: format!("could not start: {error}"),
            outputs: Default::default(),
        })
        .await;
    }

    /// Sleeps, unless the run stops counting first. Returns whether to go on.
    async fn pause(&self, delay: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(delay) => true,
            _ = self.token.cancelled() => false,
        }
    }

    fn complete(&self, outcome: ActionOutcome) -> Boxed<'_, ()> {
        self.deliver(Event::ActionCompleted {
            execution: self.execution_id.clone(),
            run_id: self.run_id.clone(),
            outcome,
        })
    }

    /// Hands an event to the actor, retrying while the store is unavailable. Boxed, as
    /// `complete` and `start`: the follower's own task, alive for as long as the build
    /// runs, then holds a pointer instead of these rarely running state machines.
    fn deliver(&self, event: Event) -> Boxed<'_, ()> {
        Box::pin(async move {
            let mut delays = backoff(&self.runtime);
            loop {
                match self.runtime.submit(&self.pipeline, event.clone()).await {
                    Ok(_) | Err(RuntimeError::Rejected(_)) | Err(RuntimeError::ShuttingDown) => {
                        return
                    }
                    Err(error) => {
                        tracing::warn!(%error, event = event.kind(), "could not record; will retry");
                        let delay = next_delay(&mut delays, None);
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => {}
                            _ = self.runtime.inner.shutdown.cancelled() => return,
                        }
                    }
                }
            }
        })
    }
}

impl From<Outcome> for ActionOutcome {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Succeeded { outputs, summary } => {
                ActionOutcome::Succeeded { outputs, summary }
            }
            Outcome::Failed { error, outputs } => ActionOutcome::Failed { error, outputs },
        }
    }
}
