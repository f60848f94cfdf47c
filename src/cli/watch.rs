//! Following an execution until it ends (`run watch`, `run start --wait`): long polls with
//! `since`, then either the live board on a terminal ([`super::live`]) or one plain line
//! per change, e.g. `12:00:01 Build/compile InProgress`, when stdout is a pipe or a file.

use std::io::IsTerminal;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Local, Utc};

use super::client::{ApiClient, Polled};
use super::live::Board;
use super::render::{self, clock};
use super::{stdout_line, CliError};
use crate::api::dto::{ActionDto, ExecutionDetail, StageDto};

/// How many failed polls in a row (daemon restarting, network blip) before giving up.
const MAX_TRANSIENT_FAILURES: u32 = 10;

/// How the progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// Redrawn in place on a terminal.
    Live,
    /// One line per change.
    Lines,
    /// Nothing until the end.
    Quiet,
}

impl Display {
    /// Live on a terminal, lines otherwise.
    pub fn for_stdout() -> Display {
        if std::io::stdout().is_terminal() {
            Display::Live
        } else {
            Display::Lines
        }
    }
}

/// Follows execution `id` until its status is final and returns its last detail.
pub async fn follow(
    client: &ApiClient,
    id: &str,
    display: Display,
) -> Result<ExecutionDetail, CliError> {
    let tz = *Local::now().offset();
    let mut board = (display == Display::Live).then(Board::new);
    let mut last: Option<Polled> = None;
    let mut failures = 0;
    loop {
        let since = last.as_ref().map(|p| p.updated_at.clone());
        let poll = client.poll_execution(id, since.as_deref());
        tokio::pin!(poll);
        let answer = loop {
            tokio::select! {
                answer = &mut poll => break answer,
                // Keeps the elapsed times on the board moving between answers.
                () = tokio::time::sleep(Duration::from_secs(1)), if board.is_some() => {
                    if let (Some(board), Some(seen)) = (&mut board, &last) {
                        board.show(&seen.detail, Utc::now());
                    }
                }
            }
        };
        let polled = match answer {
            Ok(polled) => {
                failures = 0;
                polled
            }
            Err(e) if e.is_transient() && failures < MAX_TRANSIENT_FAILURES => {
                failures += 1;
                tokio::time::sleep(Duration::from_secs(u64::from(failures.min(5)))).await;
                continue;
            }
            Err(e) => {
                if let Some(board) = &board {
                    board.abandon();
                }
                return Err(e.into());
            }
        };
        match (&mut board, display) {
            (Some(board), _) => board.show(&polled.detail, Utc::now()),
            (None, Display::Lines) => {
                for line in changes(last.as_ref().map(|p| &p.detail), &polled.detail, &tz) {
                    stdout_line(&line);
                }
            }
            (None, _) => {}
        }
        if render::is_final(&polled.detail.summary.status) {
            if let Some(board) = &board {
                board.finish();
            }
            return Ok(polled.detail);
        }
        last = Some(polled);
    }
}

/// Exit code for an execution's final status: 0 only for Succeeded.
pub fn exit_code(detail: &ExecutionDetail) -> u8 {
    u8::from(detail.summary.status != "Succeeded")
}

/// The plain lines for what changed from `before` (none: everything so far) to `after`,
/// in the order things happened. The final status of the execution is left to
/// [`render::outcome`].
pub fn changes(
    before: Option<&ExecutionDetail>,
    after: &ExecutionDetail,
    tz: &FixedOffset,
) -> Vec<String> {
    let mut events: Vec<(DateTime<Utc>, String)> = Vec::new();
    let e = &after.summary;
    let status_changed = before.is_none_or(|b| b.summary.status != e.status);
    if status_changed && !render::is_final(&e.status) {
        let text = match before {
            None => format!(
                "execution {} {} (pipeline {} v{})",
                e.id, e.status, e.pipeline, e.pipeline_version
            ),
            Some(_) => format!("execution {}", e.status),
        };
        let at = if before.is_none() {
            e.started_at
        } else {
            after.updated_at
        };
        events.push((at, text));
    }
    for stage in &after.stages {
        let old = before.and_then(|b| b.stages.iter().find(|s| s.name == stage.name));
        let mut stage_events = Vec::new();
        if let Some(status) = &stage.status {
            if old.is_none_or(|o| (&o.status, o.attempt) != (&stage.status, stage.attempt)) {
                let mut text = format!("{} {status}", stage.name);
                if let Some(took) = span_of(stage) {
                    text.push(' ');
                    text.push_str(&took);
                }
                if stage.attempt > 1 {
                    text.push_str(&format!(" (attempt {})", stage.attempt));
                }
                let at = stage
                    .finished_at
                    .or(stage.started_at)
                    .unwrap_or(after.updated_at);
                stage_events.push((at, text));
            }
        }
        let mut action_events = Vec::new();
        for action in &stage.actions {
            let old = old.and_then(|o| o.actions.iter().find(|a| a.name == action.name));
            if let Some(text) = action_change(&stage.name, old, action) {
                let at = action
                    .finished_at
                    .or(action.started_at)
                    .unwrap_or(after.updated_at);
                action_events.push((at, text));
            }
        }
        // A stage starts before its actions and ends after them.
        if stage.finished_at.is_some() {
            events.extend(action_events);
            events.extend(stage_events);
        } else {
            events.extend(stage_events);
            events.extend(action_events);
        }
    }
    let was_waiting = before.is_some_and(|b| b.waiting && b.current_stage == after.current_stage);
    if let (true, false, Some(stage)) = (after.waiting, was_waiting, &after.current_stage) {
        events.push((after.updated_at, format!("{stage} waiting")));
    }
    // Stable: what happened at the same instant keeps the order above.
    events.sort_by_key(|(at, _)| *at);
    events
        .into_iter()
        .map(|(at, text)| format!("{} {text}", clock(at, tz)))
        .collect()
}

/// The line for an action whose status, attempt, build or link changed.
fn action_change(stage: &str, old: Option<&ActionDto>, new: &ActionDto) -> Option<String> {
    let status = new.status.as_ref()?;
    let key = |a: &ActionDto| {
        (
            a.status.clone(),
            a.attempt,
            a.build_number.clone(),
            a.external_execution_url.clone(),
        )
    };
    if old.is_some_and(|o| key(o) == key(new)) {
        return None;
    }
    let mut text = format!("{stage}/{} {status}", new.name);
    if let (Some(start), Some(end)) = (new.started_at, new.finished_at) {
        text.push(' ');
        text.push_str(&render::elapsed(end - start));
    }
    if new.attempt > 1 {
        text.push_str(&format!(" (attempt {})", new.attempt));
    }
    if let Some(number) = &new.build_number {
        text.push_str(&format!(" #{number}"));
    }
    if let Some(url) = &new.external_execution_url {
        text.push(' ');
        text.push_str(url);
    }
    if let Some(error) = new.error.as_ref().filter(|_| new.finished_at.is_some()) {
        text.push_str(&format!(": {error}"));
    }
    Some(text)
}

fn span_of(stage: &StageDto) -> Option<String> {
    match (stage.started_at, stage.finished_at) {
        (Some(start), Some(end)) => Some(render::elapsed(end - start)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
