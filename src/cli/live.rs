//! The live board on a terminal: one line for the execution, one per stage and one per
//! started action, redrawn in place by indicatif, with a spinner on what is in progress.
//! The text of each line comes from [`board_lines`], which is pure and tested.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::render;
use crate::api::dto::ExecutionDetail;

/// One line of the board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardLine {
    /// `execution`, `stage/NAME` or `action/STAGE/NAME`: what the line stands for.
    pub key: String,
    /// What follows the spinner or the glyph.
    pub text: String,
    /// Whether it shows a spinner.
    pub running: bool,
    /// Shown instead of the spinner otherwise.
    pub glyph: &'static str,
}

/// The board's lines for `detail` at `now`: stages and started actions, names aligned.
pub fn board_lines(detail: &ExecutionDetail, now: DateTime<Utc>) -> Vec<BoardLine> {
    let e = &detail.summary;
    let mut lines = vec![BoardLine {
        key: "execution".into(),
        text: format!(
            "execution {}  {} v{}  {}  {}",
            e.id,
            e.pipeline,
            e.pipeline_version,
            e.status,
            render::elapsed(e.finished_at.unwrap_or(now) - e.started_at)
        ),
        running: !render::is_final(&e.status),
        glyph: glyph(Some(&e.status)),
    }];
    let width = detail
        .stages
        .iter()
        .flat_map(|s| {
            let actions = s.actions.iter().filter(|a| a.status.is_some());
            std::iter::once(s.name.chars().count())
                .chain(actions.map(|a| a.name.chars().count() + 2))
        })
        .max()
        .unwrap_or(0);
    for stage in &detail.stages {
        let cells = render::stage_cells(stage, detail, now);
        let status = cells.get(1).map(String::as_str).unwrap_or("-");
        lines.push(BoardLine {
            key: format!("stage/{}", stage.name),
            text: aligned(&cells, width),
            running: status == "InProgress",
            glyph: glyph(Some(status)),
        });
        for action in stage.actions.iter().filter(|a| a.status.is_some()) {
            let mut cells = render::action_cells(action, now);
            if let Some(first) = cells.first_mut() {
                // The indent goes before the spinner; see `Board::show`.
                *first = first.trim_start().to_string();
            }
            if let Some(error) = &action.error {
                cells.push(format!("error: {error}"));
            }
            let running = action.status.as_deref() == Some("InProgress");
            lines.push(BoardLine {
                key: format!("action/{}/{}", stage.name, action.name),
                text: aligned(&cells, width.saturating_sub(2)),
                running,
                glyph: glyph(action.status.as_deref()),
            });
        }
    }
    lines
}

/// Name padded to `width`, status padded to the longest status, the rest as they are.
fn aligned(cells: &[String], width: usize) -> String {
    let mut text = String::new();
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            text.push_str("  ");
        }
        let pad = match i {
            0 => width,
            1 if cells.len() > 2 => "InProgress".len(),
            _ => 0,
        };
        text.push_str(cell);
        let shown = cell.chars().count();
        if pad > shown {
            text.push_str(&" ".repeat(pad - shown));
        }
    }
    text.trim_end().to_string()
}

fn glyph(status: Option<&str>) -> &'static str {
    match status {
        Some("Succeeded") => "✔",
        Some("Failed") => "✘",
        Some("Stopped" | "Stopping" | "Abandoned" | "Cancelled" | "Superseded") => "■",
        Some("waiting") => "…",
        _ => "·",
    }
}

/// The indicatif side: a bar per line key, inserted where the line belongs.
pub struct Board {
    multi: MultiProgress,
    /// Each bar with the look its style was last set for.
    bars: HashMap<String, (ProgressBar, Option<Look>)>,
}

/// Whether a line shows a spinner, and its glyph otherwise.
type Look = (bool, &'static str);

impl Board {
    pub fn new() -> Board {
        Board {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
            bars: HashMap::new(),
        }
    }

    /// Redraws the board for `detail`.
    pub fn show(&mut self, detail: &ExecutionDetail, now: DateTime<Utc>) {
        let mut previous: Option<String> = None;
        for line in board_lines(detail, now) {
            if !self.bars.contains_key(&line.key) {
                let bar = ProgressBar::new_spinner();
                let bar = match previous.as_ref().and_then(|p| self.bars.get(p)) {
                    Some((after, _)) => self.multi.insert_after(after, bar),
                    None => self.multi.add(bar),
                };
                self.bars.insert(line.key.clone(), (bar, None));
            }
            if let Some((bar, shown)) = self.bars.get_mut(&line.key) {
                let state = (line.running, line.glyph);
                if *shown != Some(state) {
                    *shown = Some(state);
                    let indent = if line.key.starts_with("action/") {
                        "  "
                    } else {
                        ""
                    };
                    if line.running {
                        bar.set_style(style(&format!("{indent}{{spinner:.cyan}} {{msg}}")));
                        bar.enable_steady_tick(Duration::from_millis(120));
                    } else {
                        bar.disable_steady_tick();
                        bar.set_style(style(&format!("{indent}{} {{msg}}", line.glyph)));
                    }
                }
                bar.set_message(line.text);
            }
            previous = Some(line.key);
        }
    }

    /// Leaves the final board on screen.
    pub fn finish(&self) {
        for (bar, _) in self.bars.values() {
            bar.disable_steady_tick();
            bar.finish();
        }
    }

    /// Leaves the board as it is when following stops on an error.
    pub fn abandon(&self) {
        for (bar, _) in self.bars.values() {
            bar.abandon();
        }
    }
}

impl Default for Board {
    fn default() -> Self {
        Board::new()
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

#[cfg(test)]
mod tests;
