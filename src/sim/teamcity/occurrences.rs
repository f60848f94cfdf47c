//! Test and problem occurrences of a finished build (reference §8,
//! `teamcity-test-occurrences.json`): the tests a build type's [`super::TestCounts`]
//! script, named and timed deterministically, listed failed first, with TeamCity's
//! `status`/`ignored` conventions and paging; and the one build problem of a failed build.

use super::build::{Build, Phase};
use super::errors::ApiError;
use super::locator::Locator;
use super::node::{Entity, Kind, Value};

/// Test run ids start here (TeamCity's are large numbers).
const FIRST_TEST_RUN: u64 = 2_000_000_000;
const DEFAULT_PAGE: usize = 100;

struct Occurrence {
    run: u64,
    name: String,
    status: &'static str,
    ignored: bool,
    duration: Option<i64>,
}

fn occurrences(b: &Build) -> Vec<Occurrence> {
    let Some(tests) = b
        .plan
        .spec
        .tests
        .filter(|_| b.phase == Phase::Finished && b.ran())
    else {
        return Vec::new();
    };
    let groups = [
        ("FAILURE", false, tests.failed, "fails"),
        ("SUCCESS", false, tests.passed, "passes"),
        ("UNKNOWN", true, tests.ignored, "isIgnored"),
    ];
    let mut all = Vec::new();
    for (status, ignored, count, verb) in groups {
        for i in 1..=u64::from(count) {
            let run = FIRST_TEST_RUN + all.len() as u64;
            all.push(Occurrence {
                run,
                name: format!("sim.{}.Test{i}.{verb}", b.build_type),
                status,
                ignored,
                duration: (!ignored).then_some(10 + (run % 1000) as i64),
            });
        }
    }
    all
}

/// `/app/rest/testOccurrences?locator=build:(id:N)[,status:X][,ignored:B][,count:C][,start:S]`
/// for build `b`; `locator` is the whole locator, for `href`/`nextHref`.
pub(super) fn tests(b: &Build, locator: &Locator, text: &str) -> Result<Entity, ApiError> {
    for name in locator.names() {
        if !["build", "status", "ignored", "count", "start"].contains(&name) {
            return Err(ApiError::locator(format!(
                "Locator dimension [{name}] is unknown. Supported dimensions are: [build, status, ignored, count, start]"
            )));
        }
    }
    let status = locator.get("status").map(str::to_uppercase);
    let ignored = match locator.get("ignored") {
        None | Some("any") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return Err(ApiError::locator(format!(
                "Invalid value of dimension 'ignored': \"{other}\" is not a boolean value"
            )))
        }
    };
    let count = number(locator, "count")?.unwrap_or(DEFAULT_PAGE);
    let start = number(locator, "start")?.unwrap_or(0);
    let all: Vec<Occurrence> = occurrences(b)
        .into_iter()
        .filter(|o| status.as_deref().is_none_or(|s| s == o.status))
        .filter(|o| ignored.is_none_or(|i| i == o.ignored))
        .collect();
    let (mut passed, mut failed, mut skipped) = (0i64, 0i64, 0i64);
    for o in &all {
        match (o.ignored, o.status) {
            (true, _) => skipped += 1,
            (false, "FAILURE") => failed += 1,
            _ => passed += 1,
        }
    }
    let page: Vec<Entity> = all
        .iter()
        .skip(start)
        .take(count)
        .map(|o| occurrence_entity(o, b.id))
        .collect();
    let href = format!(
        "/app/rest/testOccurrences?locator={}",
        super::server::encode(text)
    );
    let mut entity = Entity::new()
        .attr("count", Value::Int(page.len() as i64))
        .attr("href", Value::Str(href));
    if start + count < all.len() {
        let next = format!(
            "/app/rest/testOccurrences?locator={}",
            super::server::encode(&format!(
                "build:(id:{}),count:{count},start:{}",
                b.id,
                start + count
            ))
        );
        entity = entity.attr_opt("nextHref", Value::Str(next), false);
    }
    Ok(entity
        .field(
            "testOccurrence",
            Kind::Elem,
            Value::List(page),
            Some(false),
            Some(true),
            false,
        )
        .attr_opt("ignored", Value::Int(skipped), skipped == 0)
        .attr_opt("failed", Value::Int(failed), failed == 0)
        .attr_opt("passed", Value::Int(passed), passed == 0)
        .attr_opt("newFailed", Value::Int(failed), failed == 0))
}

fn occurrence_entity(o: &Occurrence, build: u64) -> Entity {
    let id = format!("id:{},build:(id:{build})", o.run);
    let mut entity = Entity::new()
        .attr("id", Value::Str(id.clone()))
        .attr("name", Value::Str(o.name.clone()))
        .attr("status", Value::Str(o.status.into()))
        .attr_opt("ignored", Value::Bool(o.ignored), !o.ignored);
    if let Some(duration) = o.duration {
        entity = entity.attr("duration", Value::Int(duration));
    }
    entity.attr(
        "href",
        Value::Str(format!("/app/rest/testOccurrences/{id}")),
    )
}

/// `/app/rest/problemOccurrences?locator=build:(id:N)`: one problem for a failed build.
pub(super) fn problems(b: &Build) -> Entity {
    let failed = b.phase == Phase::Finished
        && b.ran()
        && b.canceled.is_none()
        && matches!(b.status.as_deref(), Some("FAILURE" | "ERROR"));
    let mut items = Vec::new();
    if failed {
        let tests_failed = b.plan.spec.tests.is_some_and(|t| t.failed > 0);
        let (kind, identity) = if tests_failed {
            ("TC_FAILED_TESTS", "TC_FAILED_TESTS")
        } else {
            ("TC_EXIT_CODE", "TC_EXIT_CODE")
        };
        let id = format!("problem:(id:1),build:(id:{})", b.id);
        items.push(
            Entity::new()
                .attr("id", Value::Str(id.clone()))
                .attr("type", Value::Str(kind.into()))
                .attr("identity", Value::Str(identity.into()))
                .attr(
                    "href",
                    Value::Str(format!("/app/rest/problemOccurrences/{id}")),
                ),
        );
    }
    Entity::new()
        .attr("count", Value::Int(items.len() as i64))
        .attr(
            "href",
            Value::Str(format!(
                "/app/rest/problemOccurrences?locator=build:(id:{})",
                b.id
            )),
        )
        .field(
            "problemOccurrence",
            Kind::Elem,
            Value::List(items),
            Some(false),
            Some(true),
            false,
        )
}

fn number(locator: &Locator, name: &str) -> Result<Option<usize>, ApiError> {
    locator
        .get(name)
        .map(|v| {
            v.parse::<usize>().map_err(|_| {
                ApiError::locator(format!(
                    "Invalid value of dimension '{name}': '{v}'. Should be a number."
                ))
            })
        })
        .transpose()
}
