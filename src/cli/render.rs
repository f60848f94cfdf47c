//! Text for people, from API answers: tables, the execution view, one-line summaries and
//! durations. Pure functions of a DTO, the current time and the local offset, so each is
//! tested with fixed input and expected text.

use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};

use crate::api::dto::{
    ActionDto, ApplyResult, ExecutionDetail, ExecutionSummary, PipelineSummary, StageDto,
};

/// A duration as people read it: `42s`, `3m05s`, `2h07m`, `3d04h`.
pub fn elapsed(delta: TimeDelta) -> String {
    let secs = delta.num_seconds().max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        3600..86400 => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{:02}h", secs / 86400, secs % 86400 / 3600),
    }
}

/// Time spent between `start` and `end`, or until `now` while it goes on.
pub fn span(
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<String> {
    start.map(|s| elapsed(end.unwrap_or(now) - s))
}

/// `12:00:01` in the given offset.
pub fn clock(at: DateTime<Utc>, tz: &FixedOffset) -> String {
    at.with_timezone(tz).format("%H:%M:%S").to_string()
}

/// `2024-05-01 12:00:01` in the given offset.
pub fn timestamp(at: DateTime<Utc>, tz: &FixedOffset) -> String {
    at.with_timezone(tz).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Whether an execution status is final (it will not change unless a stage is retried).
pub fn is_final(status: &str) -> bool {
    matches!(status, "Succeeded" | "Failed" | "Stopped" | "Superseded")
}

/// Columns separated by two spaces, each as wide as its widest cell; the last is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut all = vec![headers.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
    all.extend(rows.iter().cloned());
    layout(&all.into_iter().map(Line::Row).collect::<Vec<_>>())
}

pub fn pipelines(list: &[PipelineSummary]) -> String {
    if list.is_empty() {
        return "no pipelines\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                p.version.to_string(),
                p.execution_mode.clone(),
                p.stages.len().to_string(),
                p.latest_execution
                    .as_ref()
                    .map_or("-".into(), |e| e.status.clone()),
            ]
        })
        .collect();
    table(&["NAME", "VERSION", "MODE", "STAGES", "LATEST"], &rows)
}

pub fn executions(list: &[ExecutionSummary], now: DateTime<Utc>, tz: &FixedOffset) -> String {
    if list.is_empty() {
        return "no executions\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|e| {
            vec![
                e.id.clone(),
                e.status.clone(),
                timestamp(e.started_at, tz),
                elapsed(e.finished_at.unwrap_or(now) - e.started_at),
                e.pipeline_version.to_string(),
                e.trigger.trigger_type.clone(),
                e.revision.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let headers = [
        "ID", "STATUS", "STARTED", "DURATION", "VERSION", "TRIGGER", "REVISION",
    ];
    table(&headers, &rows)
}

/// `pipeline web: version 3` or `pipeline web: version 3 (unchanged)`.
pub fn applied(result: &ApplyResult) -> String {
    let unchanged = if result.changed { "" } else { " (unchanged)" };
    format!(
        "pipeline {}: version {}{unchanged}",
        result.name, result.version
    )
}

/// The last line of a watch: `execution ID Succeeded in 42s`, with the summary if any.
pub fn outcome(detail: &ExecutionDetail, now: DateTime<Utc>) -> String {
    let e = &detail.summary;
    let took = elapsed(e.finished_at.unwrap_or(now) - e.started_at);
    let mut line = format!("execution {} {} in {took}", e.id, e.status);
    if let Some(summary) = e.status_summary.as_deref().filter(|s| !s.is_empty()) {
        let _ = write!(line, ": {summary}");
    }
    line
}

/// `run get`: the execution, then a line per stage and per started action with its details.
pub fn execution(detail: &ExecutionDetail, now: DateTime<Utc>, tz: &FixedOffset) -> String {
    let e = &detail.summary;
    let mut out = String::new();
    let took = elapsed(e.finished_at.unwrap_or(now) - e.started_at);
    let _ = writeln!(
        out,
        "execution {}  {} v{}  {}  {took}",
        e.id, e.pipeline, e.pipeline_version, e.status
    );
    if let Some(summary) = e.status_summary.as_deref().filter(|s| !s.is_empty()) {
        let _ = writeln!(out, "  summary: {summary}");
    }
    let mut trigger = e.trigger.trigger_type.clone();
    if let Some(by) = &e.trigger.triggered_by {
        let _ = write!(trigger, " by {by}");
    }
    if let Some(what) = &e.trigger.trigger_detail {
        let _ = write!(trigger, " ({what})");
    }
    let _ = writeln!(out, "  trigger: {trigger}");
    if let Some(revision) = &e.revision {
        let _ = writeln!(out, "  revision: {revision}");
    }
    let _ = write!(out, "  started: {}", timestamp(e.started_at, tz));
    if let Some(end) = e.finished_at {
        let _ = write!(out, "  finished: {}", timestamp(end, tz));
    }
    out.push('\n');
    if let Some(reason) = &detail.stop_reason {
        let _ = writeln!(out, "  stop reason: {reason}");
    }
    if !detail.variables.is_empty() {
        let _ = writeln!(out, "  variables: {}", pairs(&detail.variables));
    }
    if let (true, Some(stage)) = (detail.waiting, &detail.current_stage) {
        let _ = writeln!(out, "  waiting to enter {stage}");
    }
    out.push('\n');
    let mut lines = Vec::new();
    for stage in &detail.stages {
        lines.push(Line::Row(stage_cells(stage, detail, now)));
        for action in stage.actions.iter().filter(|a| a.status.is_some()) {
            lines.push(Line::Row(action_cells(action, now)));
            lines.extend(action_notes(action, tz).into_iter().map(Line::Free));
        }
    }
    out.push_str(&layout(&lines));
    out
}

/// Stage name, status (`waiting` when the execution waits to enter it, `-` before), elapsed.
pub fn stage_cells(stage: &StageDto, detail: &ExecutionDetail, now: DateTime<Utc>) -> Vec<String> {
    let waiting = detail.waiting && detail.current_stage.as_deref() == Some(stage.name.as_str());
    let status = match (&stage.status, waiting) {
        (_, true) => "waiting".to_string(),
        (Some(status), false) => status.clone(),
        (None, false) => "-".to_string(),
    };
    let mut cells = vec![stage.name.clone(), status];
    if !waiting {
        cells.extend(span(stage.started_at, stage.finished_at, now));
    }
    if stage.attempt > 1 {
        cells.push(format!("attempt {}", stage.attempt));
    }
    cells
}

/// Indented action name, status, elapsed, then build number and link when known.
pub fn action_cells(action: &ActionDto, now: DateTime<Utc>) -> Vec<String> {
    let mut cells = vec![
        format!("  {}", action.name),
        action.status.clone().unwrap_or_else(|| "-".into()),
        span(action.started_at, action.finished_at, now).unwrap_or_default(),
    ];
    if let Some(percent) = action
        .percent_complete
        .filter(|_| action.finished_at.is_none())
    {
        cells.push(format!("{percent}%"));
    }
    if let Some(number) = &action.build_number {
        cells.push(format!("#{number}"));
    }
    if let Some(url) = &action.external_execution_url {
        cells.push(url.clone());
    }
    if action.attempt > 1 {
        cells.push(format!("attempt {}", action.attempt));
    }
    cells
}

/// What an action reported: error, summary, output variables, approvals; one line each.
fn action_notes(action: &ActionDto, tz: &FixedOffset) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(error) = &action.error {
        notes.push(format!("      error: {error}"));
    }
    if let Some(summary) = &action.summary {
        notes.push(format!("      summary: {summary}"));
    }
    if !action.output_variables.is_empty() {
        notes.push(format!(
            "      outputs: {}",
            pairs(&action.output_variables)
        ));
    }
    for approval in &action.approvals {
        let verdict = if approval.approved {
            "approved"
        } else {
            "rejected"
        };
        let mut line = format!(
            "      {verdict} by {} at {}",
            approval.by,
            timestamp(approval.at, tz)
        );
        if let Some(comment) = &approval.comment {
            let _ = write!(line, ": {comment}");
        }
        notes.push(line);
    }
    notes
}

fn pairs(map: &std::collections::BTreeMap<String, String>) -> String {
    let items: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
    items.join(", ")
}

/// A line of [`layout`]: cells aligned with the other rows, or text printed as it is.
enum Line {
    Row(Vec<String>),
    Free(String),
}

fn layout(lines: &[Line]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for line in lines {
        if let Line::Row(cells) = line {
            for (i, cell) in cells.iter().enumerate() {
                let width = cell.chars().count();
                match widths.get_mut(i) {
                    Some(w) => *w = (*w).max(width),
                    None => widths.push(width),
                }
            }
        }
    }
    let mut out = String::new();
    for line in lines {
        match line {
            Line::Free(text) => out.push_str(text),
            Line::Row(cells) => {
                let mut row = String::new();
                for (i, cell) in cells.iter().enumerate() {
                    if i + 1 == cells.len() {
                        row.push_str(cell);
                    } else {
                        let pad = widths[i] - cell.chars().count();
                        let _ = write!(row, "{cell}{}  ", " ".repeat(pad));
                    }
                }
                out.push_str(row.trim_end());
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests;
