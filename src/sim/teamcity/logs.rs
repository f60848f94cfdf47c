//! The build log (reference §7): `downloadBuildLog.html` text in TeamCity's
//! `[HH:MM:SS]x: message` line format, growing while the build runs (a build type's log
//! lines appear in step with its progress; a held build shows them all), and the same
//! lines as `/app/messages` JSON, the UI endpoint the official CLI tails.

use serde_json::json;
use tokio::time::Instant;

use super::build::{Build, Phase};
use super::state::State;

/// One log line: when it was written, its kind (` ` normal, `i` info, `E` error), text.
struct Line {
    at: Instant,
    kind: char,
    text: String,
}

fn lines(b: &Build, now: Instant) -> Vec<Line> {
    let Some(started) = b.started_at else {
        return Vec::new();
    };
    let mut out = vec![
        Line {
            at: started,
            kind: 'i',
            text: "TeamCity server version is 2024.07 (build 160000)".into(),
        },
        Line {
            at: started,
            kind: ' ',
            text: "The build is removed from the queue to be prepared for the start".into(),
        },
    ];
    if !b.ran() {
        out.push(Line {
            at: started,
            kind: 'E',
            text: b.status_text.clone().unwrap_or_else(|| "Canceled".into()),
        });
        return out;
    }
    out.push(Line {
        at: started,
        kind: ' ',
        text: format!("Starting the build on the agent {}", "sim-agent-1"),
    });
    let script: Vec<&str> = b.plan.spec.log.lines().collect();
    let total = script.len().max(1) as u32;
    let end = b.finished_at.unwrap_or(now);
    for (i, text) in script.iter().enumerate() {
        let at = if b.plan.spec.hold {
            started
        } else {
            started
                + b.plan
                    .duration
                    .mul_f64(f64::from(i as u32) / f64::from(total))
        };
        if at > end || (b.phase == Phase::Running && at > now) {
            break;
        }
        out.push(Line {
            at,
            kind: ' ',
            text: text.to_string(),
        });
    }
    if b.phase == Phase::Finished {
        let at = b.finished_at.unwrap_or(now);
        match &b.canceled {
            Some(c) => out.push(Line {
                at,
                kind: 'E',
                text: format!(
                    "Build was interrupted: {}",
                    c.text.as_deref().unwrap_or("Canceled")
                ),
            }),
            None => out.push(Line {
                at,
                kind: ' ',
                text: format!(
                    "Build finished: {}",
                    b.status_text.as_deref().unwrap_or_default()
                ),
            }),
        }
    }
    out
}

/// The whole log so far, as `downloadBuildLog.html` serves it.
pub(super) fn text(s: &State, b: &Build, now: Instant) -> String {
    lines(b, now)
        .iter()
        .map(|line| {
            format!(
                "[{}]{}: {}\n",
                s.wall(line.at).format("%H:%M:%S"),
                line.kind,
                line.text
            )
        })
        .collect()
}

/// `/app/messages?buildId=N&messagesCount=SINCE,COUNT`: messages after id SINCE; a
/// positive COUNT takes the first ones, a negative COUNT the last ones.
pub(super) fn messages(
    s: &State,
    b: &Build,
    since: u64,
    count: i64,
    now: Instant,
) -> serde_json::Value {
    let all = lines(b, now);
    let last = all.len() as u64;
    let after: Vec<(u64, &Line)> = all
        .iter()
        .enumerate()
        .map(|(i, line)| (i as u64 + 1, line))
        .filter(|(id, _)| *id > since)
        .collect();
    let limit = count.unsigned_abs() as usize;
    let chosen: Vec<(u64, &Line)> = if count < 0 {
        after[after.len().saturating_sub(limit)..].to_vec()
    } else if count > 0 {
        after.into_iter().take(limit).collect()
    } else {
        after
    };
    let included = chosen.last().is_some_and(|(id, _)| *id == last) || last == since;
    let messages: Vec<serde_json::Value> = chosen
        .iter()
        .map(|(id, line)| {
            json!({
                "id": id,
                "text": line.text,
                "level": 1,
                "status": if line.kind == 'E' { 4 } else { 1 },
                "timestamp": s.wall(line.at).format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string(),
                "verbose": line.kind == 'i',
            })
        })
        .collect();
    json!({
        "messages": messages,
        "lastMessageIndex": last,
        "focusIndex": last,
        "lastMessageIncluded": included && b.phase == Phase::Finished,
    })
}
