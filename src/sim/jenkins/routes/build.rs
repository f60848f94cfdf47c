//! A build's URLs (reference §6–§9): its API, the progressive and full console, `stop`
//! (and Pipeline's `term`/`kill`), `submitDescription`, the JUnit report and archived
//! artifacts. Builds are named by number or by permalink (`lastBuild`, …).

use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;

use super::super::builds::{strip_notes, Interruption};
use super::super::jobs::{build_url, resolve, Found};
use super::super::render::{build, tests};
use super::super::spec::JobKind;
use super::api;
use super::call::Call;
use super::{pages, redirect};

pub(super) fn build(call: &Call, names: &[String], run: &str, rest: &[String]) -> Response {
    let parts: Vec<&str> = rest.iter().map(String::as_str).collect();
    let mut world = call.shared.settled(call.now);
    let Some(Found::Job(index)) = resolve(&world.root, names) else {
        return pages::not_found();
    };
    let job = &world.jobs[index];
    let number = match run.parse::<u32>() {
        Ok(number) => Some(number),
        Err(_) => job.permalink(run),
    };
    let Some(build) = number.and_then(|n| job.build(n)) else {
        return pages::not_found();
    };
    let number = build.number;
    // `Location`s come from the request's host, not from the configured root URL.
    let page = format!("{}/{}", call.base(), build_url(&job.names, number));
    match parts.as_slice() {
        [] => pages::html(&format!("{} #{number}", job.full_display_name())),
        ["api", _] => match api::flavor(rest) {
            Some(flavor) => api::render(call, &world, flavor, "run", |ctx, p| {
                build::build(ctx, p, index, build, true)
            }),
            None => pages::not_found(),
        },
        ["logText", "progressiveText"] => {
            progressive_text(call, &build.raw_log(call.now), build.in_progress())
        }
        ["consoleText"] => pages::text(StatusCode::OK, strip_notes(&build.raw_log(call.now))),
        ["testReport", "api", _] => match (api::flavor(&rest[1..]), build.test_report()) {
            (Some(flavor), Some(counts)) => {
                let timestamp =
                    chrono::DateTime::from_timestamp_millis(world.clock.ms(build.started_at))
                        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
                        .unwrap_or_default();
                api::render(call, &world, flavor, "testResult", |_, p| {
                    tests::report(p, counts, &timestamp)
                })
            }
            _ => pages::not_found(),
        },
        ["artifact", path @ ..] if !path.is_empty() => {
            let wanted = path.join("/");
            match build
                .artifacts()
                .iter()
                .find(|(relative, _)| *relative == wanted)
            {
                Some((_, content)) => {
                    pages::with_type(StatusCode::OK, "application/octet-stream", content.clone())
                }
                None => pages::not_found(),
            }
        }
        [action @ ("stop" | "term" | "kill")] => {
            if *action != "stop" && build.kind == JobKind::FreeStyle {
                return pages::not_found();
            }
            if call.method != Method::POST {
                return pages::post_only();
            }
            let at = call.now;
            let by = call.user().unwrap_or_else(|| "anonymous".to_string());
            let immediate = *action == "kill";
            if let Some(build) = world.jobs[index].build_mut(number).filter(|b| b.building()) {
                build.interruption.get_or_insert(Interruption { by, at });
            }
            if immediate {
                world.end_build(index, number, at, "ABORTED");
            }
            redirect(StatusCode::FOUND, call.header("Referer").unwrap_or(&page))
        }
        ["submitDescription"] => {
            if call.method != Method::POST {
                return pages::post_only();
            }
            if !job.spec.description_allowed {
                let user = call.user().unwrap_or_else(|| "anonymous".to_string());
                return pages::forbidden(&format!("{user} is missing the Run/Update permission"));
            }
            let description = call.param("description").unwrap_or_default().to_string();
            if let Some(build) = world.jobs[index].build_mut(number) {
                build.description = Some(description);
            }
            redirect(StatusCode::FOUND, &page)
        }
        _ => pages::not_found(),
    }
}

/// `LargeText.doProgressText`: the raw log from `start` (0 if beyond the end), notes
/// stripped and lines ended with CRLF; `X-Text-Size` is the raw length, and
/// `X-More-Data: true` is there only while the build is in progress.
fn progressive_text(call: &Call, raw: &str, in_progress: bool) -> Response {
    let size = raw.len();
    let start = call
        .param("start")
        .and_then(|s| s.trim().parse::<usize>().ok())
        .filter(|start| *start <= size)
        .unwrap_or(0);
    let tail = String::from_utf8_lossy(&raw.as_bytes()[start..]);
    let body = strip_notes(&tail).replace('\n', "\r\n");
    let mut response = pages::text(StatusCode::OK, body);
    let headers = response.headers_mut();
    headers.insert("X-Text-Size", HeaderValue::from(size as u64));
    if in_progress {
        headers.insert("X-More-Data", HeaderValue::from_static("true"));
    }
    response
}
