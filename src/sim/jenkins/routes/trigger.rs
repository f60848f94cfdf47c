//! `…/build` and `…/buildWithParameters` (reference §4): the job's remote token, the
//! POST rule, 409 for a disabled job, the `json` form field `build` needs on a
//! parameterized job, `buildWithParameters`' defaults and silent dropping of undefined
//! names, `delay=`, and the answer: 201 with the new item's `Location`, or for a merged
//! request the existing item's, with 201 from `build` and 303 from
//! `buildWithParameters`.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::super::builds::{Cause, ParamValue};
use super::super::jobs::{resolve, Found};
use super::super::queue::Scheduled;
use super::super::spec::{JobSpec, ParamKind, ParamSpec};
use super::call::Call;
use super::{pages, redirect};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    Build,
    WithParameters,
}

pub(super) fn trigger(call: &Call, names: &[String], endpoint: Endpoint) -> Response {
    let mut world = call.shared.settled(call.now);
    let Some(Found::Job(index)) = resolve(&world.root, names) else {
        return pages::not_found();
    };
    let job = &world.jobs[index];
    let spec = &job.spec;
    let full_name = job.full_name();
    let by_token = match (&spec.remote_token, call.param("token")) {
        (Some(expected), Some(given))
            if bool::from(expected.as_bytes().ct_eq(given.as_bytes())) =>
        {
            true
        }
        (Some(_), Some(_)) => return pages::forbidden("Invalid token provided"),
        _ => false,
    };
    if call.method != Method::POST && !by_token {
        return match (endpoint, spec.parameterized()) {
            (Endpoint::Build, true) => pages::html(&format!("{full_name} [Build with Parameters]")),
            _ => pages::post_only(),
        };
    }
    if spec.disabled {
        return pages::error(
            StatusCode::CONFLICT,
            &format!("{full_name} is not buildable"),
        );
    }
    let delay = match call.param("delay").map(parse_delay) {
        Some(Err(why)) => return pages::server_error(&why),
        Some(Ok(delay)) => delay,
        None => spec.quiet_period,
    };
    let params = match (endpoint, spec.parameterized()) {
        (Endpoint::Build, false) => None,
        (Endpoint::Build, true) => match from_json_form(call, spec) {
            Ok(values) => Some(values),
            Err(refusal) => return refusal,
        },
        (Endpoint::WithParameters, false) => {
            return pages::bad_request(&format!("{full_name} is not parameterized"))
        }
        (Endpoint::WithParameters, true) => match from_request(call, spec) {
            Ok(values) => Some(values),
            Err(why) => return pages::server_error(&why),
        },
    };
    let cause = if by_token {
        Cause::Remote {
            addr: call.remote.ip().to_string(),
            note: call.param("cause").map(str::to_string),
        }
    } else {
        Cause::User {
            user_id: call.user(),
        }
    };
    let scheduled = world.schedule(index, params, cause, delay, call.now);
    world.stats.trigger(&full_name);
    world.settle(call.now);
    let (id, status) = match (scheduled, endpoint) {
        (Scheduled::Created(id), _) => (id, StatusCode::CREATED),
        (Scheduled::Existing(id), Endpoint::Build) => (id, StatusCode::CREATED),
        (Scheduled::Existing(id), Endpoint::WithParameters) => (id, StatusCode::SEE_OTHER),
    };
    redirect(status, &format!("{}/queue/item/{id}/", call.base()))
}

/// `TimeDuration.fromString`: `30sec`/`30secs` are seconds, a bare number milliseconds.
fn parse_delay(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let invalid = || format!("Invalid time duration value: {text}");
    let seconds = trimmed
        .strip_suffix("secs")
        .or_else(|| trimmed.strip_suffix("sec"));
    match seconds {
        Some(number) => number
            .trim()
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| invalid()),
        None => trimmed
            .parse()
            .map(Duration::from_millis)
            .map_err(|_| invalid()),
    }
}

/// `buildWithParameters`: every defined parameter, from the request or its default.
fn from_request(call: &Call, spec: &JobSpec) -> Result<Vec<ParamValue>, String> {
    spec.parameters
        .iter()
        .map(|definition| {
            let given = call.values(&definition.name);
            match given.as_slice() {
                [] => Ok(value(definition, definition.default_value())),
                [one] => checked(definition, one),
                more => Err(format!(
                    "Illegal number of parameter values for {}: {}",
                    definition.name,
                    more.len()
                )),
            }
        })
        .collect()
}

/// `build` on a parameterized job: the `json` form field, whose parameters are the only
/// ones the build gets.
fn from_json_form(call: &Call, spec: &JobSpec) -> Result<Vec<ParamValue>, Response> {
    let Some(json) = call.param("json") else {
        return Err(pages::bad_request(if call.has_params() {
            "This page expects a form submission"
        } else {
            "Nothing is submitted"
        }));
    };
    let form: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| pages::bad_request(&format!("Failed to parse form data: {e}")))?;
    let entries = match form.get("parameter") {
        Some(serde_json::Value::Array(items)) => items.clone(),
        Some(single @ serde_json::Value::Object(_)) => vec![single.clone()],
        _ => Vec::new(),
    };
    entries
        .iter()
        .map(|entry| {
            let name = entry
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or_default();
            let definition = spec.parameter(name).ok_or_else(|| {
                pages::server_error(&format!("No such parameter definition: {name}"))
            })?;
            let text = match entry.get("value") {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            checked(definition, &text).map_err(|why| pages::server_error(&why))
        })
        .collect()
}

/// A value as its definition's `createValue` makes it.
fn checked(definition: &ParamSpec, text: &str) -> Result<ParamValue, String> {
    match &definition.kind {
        ParamKind::Choice(choices) if !choices.iter().any(|c| c == text) => Err(format!(
            "Illegal choice for parameter {}: {text}",
            definition.name
        )),
        ParamKind::Boolean => Ok(value(
            definition,
            text.eq_ignore_ascii_case("true").to_string(),
        )),
        _ => Ok(value(definition, text.to_string())),
    }
}

fn value(definition: &ParamSpec, value: String) -> ParamValue {
    ParamValue {
        name: definition.name.clone(),
        value,
        kind: definition.kind.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_follow_time_duration() {
        assert_eq!(parse_delay("30sec"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_delay("30secs"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_delay("0sec"), Ok(Duration::ZERO));
        assert_eq!(parse_delay("30"), Ok(Duration::from_millis(30)));
        assert!(parse_delay("soon").is_err());
    }

    #[test]
    fn values_are_checked_like_create_value() {
        let flag = ParamSpec::boolean("DRY_RUN", false);
        assert_eq!(
            checked(&flag, "TRUE").map(|v| v.value),
            Ok("true".to_string())
        );
        assert_eq!(
            checked(&flag, "yes").map(|v| v.value),
            Ok("false".to_string())
        );
        let choice = ParamSpec::choice("ENV", &["dev", "prod"]);
        assert!(checked(&choice, "prod").is_ok());
        assert_eq!(
            checked(&choice, "qa").map(|v| v.value),
            Err("Illegal choice for parameter ENV: qa".to_string())
        );
    }
}
