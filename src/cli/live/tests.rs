//! The live board's lines, with `*` where a spinner turns.

use super::*;
use crate::cli::fixtures::{at, building, failed, ID};

/// The board as text: `*` marks a spinner, actions are indented as on screen.
fn check(detail: &ExecutionDetail, now: i64, expected: &str) {
    let got: Vec<String> = board_lines(detail, at(now))
        .into_iter()
        .map(|l| {
            let indent = if l.key.starts_with("action/") {
                "  "
            } else {
                ""
            };
            let mark = if l.running { "*" } else { l.glyph };
            format!("{indent}{mark} {}", l.text)
        })
        .collect();
    let got = got.join("\n");
    assert_eq!(
        got, expected,
        "\n--- got ---\n{got}\n--- expected ---\n{expected}"
    );
}

#[test]
fn running_execution() {
    check(
        &building(),
        20,
        &format!(
            "* execution {ID}  web v3  InProgress  20s\n\
             ✔ Source      Succeeded   3s\n\
             \x20 ✔ checkout  Succeeded   3s\n\
             * Build       InProgress  17s\n\
             \x20 * compile   InProgress  16s  40%  #12  https://jenkins.example.com/job/web/12/\n\
             · Deploy      -"
        ),
    );
}

#[test]
fn failed_execution_shows_the_error() {
    check(
        &failed(),
        500,
        &format!(
            "✘ execution {ID}  web v3  Failed  1m02s\n\
             ✔ Source      Succeeded   3s\n\
             \x20 ✔ checkout  Succeeded   3s\n\
             ✘ Build       Failed      59s\n\
             \x20 ✘ compile   Failed      58s  #12  https://jenkins.example.com/job/web/12/  \
             error: Jenkins build #12 finished FAILURE\n\
             · Deploy      -"
        ),
    );
}

#[test]
fn waiting_stage() {
    let mut d = building();
    d.waiting = true;
    d.current_stage = Some("Deploy".into());
    let lines = board_lines(&d, at(20));
    let deploy = lines.last().map(|l| (l.text.as_str(), l.glyph, l.running));
    assert_eq!(deploy, Some(("Deploy      waiting", "…", false)));
}
