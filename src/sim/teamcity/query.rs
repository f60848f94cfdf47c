//! Build locators evaluated as `BuildPromotionFinder` does (reference §5.4): single ids
//! that find a build in any state, the default filter (finished, not canceled, not
//! failed-to-start, not personal, default branch) unless `defaultFilter:false`, an `id`
//! or a non-finished `state` says otherwise, `property:(name:…,value:…,matchType:…)`
//! conditions, `item:(…),item:(…)` unions (several ids in one request), TeamCity's
//! order (queued, running, then finished newest first) and `count`/`start` paging.

use regex::Regex;

use super::build::{Build, Phase};
use super::errors::ApiError;
use super::locator::Locator;
use super::render::project_and_name;
use super::state::State;

const DEFAULT_PAGE: i64 = 100;

const KNOWN: &[&str] = &[
    "id",
    "taskId",
    "promotionId",
    "buildType",
    "project",
    "affectedProject",
    "number",
    "status",
    "state",
    "running",
    "canceled",
    "failedToStart",
    "personal",
    "pinned",
    "composite",
    "history",
    "hanging",
    "branch",
    "defaultFilter",
    "count",
    "start",
    "lookupLimit",
    "property",
    "item",
    "user",
    "agent",
    "agentName",
    "tag",
];

/// One page of builds and whether more match.
pub(super) struct Page {
    pub(super) ids: Vec<u64>,
    pub(super) count: i64,
    pub(super) start: usize,
    pub(super) more: bool,
}

pub(super) fn parse(text: &str) -> Result<Locator, ApiError> {
    Locator::parse(text).map_err(ApiError::locator)
}

/// `GET /app/rest/builds?locator=` (or the build queue's list when `queued_only`).
pub(super) fn list(s: &State, text: Option<&str>, queued_only: bool) -> Result<Page, ApiError> {
    let locator = match text {
        Some(text) if !text.is_empty() => parse(text)?,
        _ => Locator::Dims(Vec::new()),
    };
    let count = int(&locator, "count")?.unwrap_or(DEFAULT_PAGE);
    let start = int(&locator, "start")?.unwrap_or(0).max(0) as usize;
    let mut ids = matching(s, &locator, queued_only)?;
    if queued_only {
        ids.retain(|id| s.builds.get(id).is_some_and(|b| b.phase == Phase::Queued));
    }
    let rest: Vec<u64> = ids.into_iter().skip(start).collect();
    let take = if count < 0 {
        rest.len()
    } else {
        count as usize
    };
    Ok(Page {
        more: rest.len() > take,
        ids: rest.into_iter().take(take).collect(),
        count,
        start,
    })
}

/// `GET /app/rest/builds/{locator}`: the first build the locator finds.
pub(super) fn single(s: &State, text: &str) -> Result<u64, ApiError> {
    let locator = parse(text)?;
    if let Some(id) = direct_id(&locator)? {
        let build = s
            .builds
            .get(&id)
            .ok_or_else(|| ApiError::not_found(format!("No build found by id '{id}'.")))?;
        if let Locator::Dims(_) = locator {
            if !filter(s, &locator, build)? {
                return Err(ApiError::not_found(format!(
                    "Found single item by dimension [id], but that was filtered out using the entire locator '{text}'"
                )));
            }
        }
        return Ok(id);
    }
    matching(s, &locator, false)?
        .first()
        .copied()
        .ok_or_else(|| {
            ApiError::not_found(format!("Nothing is found by locator 'count:1,{text}'."))
        })
}

/// A build queue locator for GET: a promotion id finds the build in any state.
pub(super) fn promotion(s: &State, text: &str) -> Result<u64, ApiError> {
    let locator = parse(text)?;
    match direct_id(&locator)? {
        Some(id) if s.builds.contains_key(&id) => Ok(id),
        Some(id) => Err(ApiError::not_found(format!(
            "No build promotion can be found by promotion id {id}"
        ))),
        None => queued(s, text),
    }
}

/// A build queue locator for cancel/delete: the build must still be queued.
pub(super) fn queued(s: &State, text: &str) -> Result<u64, ApiError> {
    let locator = parse(text)?;
    if let Some(id) = direct_id(&locator)? {
        let build = s.builds.get(&id).ok_or_else(|| {
            ApiError::not_found(format!(
                "No build promotion can be found by promotion id {id}"
            ))
        })?;
        if build.phase != Phase::Queued {
            return Err(ApiError::not_found(format!(
                "No queued build with id '{id}' can be found (build already started or finished?)."
            )));
        }
        return Ok(id);
    }
    list(s, Some(text), true)?
        .ids
        .first()
        .copied()
        .ok_or_else(|| {
            ApiError::not_found(format!("Nothing is found by locator 'count:1,{text}'."))
        })
}

/// The id a single-value or `id:`-dimension locator names.
fn direct_id(locator: &Locator) -> Result<Option<u64>, ApiError> {
    let text = match locator {
        Locator::Single(value) => Some(value.as_str()),
        Locator::Dims(_) => ["id", "taskId", "promotionId"]
            .iter()
            .find_map(|d| locator.get(d)),
    };
    text.map(|t| {
        t.parse::<u64>().map_err(|_| {
            ApiError::locator(format!("Invalid single value: '{t}'. Should be a number."))
        })
    })
    .transpose()
}

/// Every build the locator matches (before paging), in TeamCity's order.
fn matching(s: &State, locator: &Locator, queued_only: bool) -> Result<Vec<u64>, ApiError> {
    for name in locator.names() {
        if !KNOWN.contains(&name) {
            return Err(ApiError::locator(format!(
                "Locator dimension [{name}] is unknown. Supported dimensions are: [{}]",
                KNOWN.join(", ")
            )));
        }
    }
    if let Some(id) = direct_id(locator)? {
        let found = s.builds.get(&id);
        return Ok(match found {
            Some(b) if matches!(locator, Locator::Single(_)) || filter(s, locator, b)? => vec![id],
            _ => Vec::new(),
        });
    }
    let items = locator.all("item");
    if !items.is_empty() {
        let mut ids = Vec::new();
        for item in items {
            for id in matching(s, &parse(item)?, queued_only)? {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        let mut kept = Vec::new();
        for id in ids {
            if let Some(b) = s.builds.get(&id) {
                if filter(s, locator, b)? {
                    kept.push(id);
                }
            }
        }
        return Ok(kept);
    }
    let locator = if queued_only {
        locator.clone()
    } else {
        with_defaults(locator)?
    };
    let mut ids = Vec::new();
    for b in ordered(s) {
        if filter(s, &locator, b)? {
            ids.push(b.id);
        }
    }
    Ok(ids)
}

/// Queued in queue order, running newest first, finished newest first.
fn ordered(s: &State) -> Vec<&Build> {
    let mut queued: Vec<&Build> = Vec::new();
    let mut running: Vec<&Build> = Vec::new();
    let mut finished: Vec<&Build> = Vec::new();
    for b in s.builds.values() {
        match b.phase {
            Phase::Queued => queued.push(b),
            Phase::Running => running.push(b),
            Phase::Finished => finished.push(b),
        }
    }
    running.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(b.id.cmp(&a.id)));
    finished.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(b.id.cmp(&a.id)));
    queued.into_iter().chain(running).chain(finished).collect()
}

/// `setLocatorDefaults`: the default filter, unless turned off or not applicable.
fn with_defaults(locator: &Locator) -> Result<Locator, ApiError> {
    let Locator::Dims(dims) = locator else {
        return Ok(locator.clone());
    };
    let default_filter = boolean(locator, "defaultFilter")?;
    if default_filter == Some(false) {
        return Ok(locator.clone());
    }
    let mut dims = dims.clone();
    let set = |dims: &mut Vec<(String, String)>, name: &str, value: &str| {
        if !dims.iter().any(|(n, _)| n == name) {
            dims.push((name.to_string(), value.to_string()));
        }
    };
    if !locator.has("state") && !locator.has("running") {
        set(&mut dims, "state", "finished");
    }
    let with_state = Locator::Dims(dims.clone());
    if default_filter.is_none() {
        let varying = ["agent", "agentName", "user", "hanging"]
            .iter()
            .any(|d| locator.has(d));
        if varying || !states(&with_state)?.contains(&Phase::Finished) {
            return Ok(with_state);
        }
    }
    set(&mut dims, "personal", "false");
    set(&mut dims, "canceled", "false");
    set(&mut dims, "failedToStart", "false");
    set(&mut dims, "branch", "default:true");
    Ok(Locator::Dims(dims))
}

/// The states a locator's `state`/`running` dimensions admit.
fn states(locator: &Locator) -> Result<Vec<Phase>, ApiError> {
    let all = vec![Phase::Queued, Phase::Running, Phase::Finished];
    if let Some(state) = locator.get("state") {
        return match state {
            "any" => Ok(all),
            "queued" => Ok(vec![Phase::Queued]),
            "running" => Ok(vec![Phase::Running]),
            "finished" => Ok(vec![Phase::Finished]),
            nested if nested.contains(':') => {
                let nested = parse(nested)?;
                let mut admitted = Vec::new();
                for (name, phase) in [
                    ("queued", Phase::Queued),
                    ("running", Phase::Running),
                    ("finished", Phase::Finished),
                ] {
                    if boolean(&nested, name)?.unwrap_or(false) {
                        admitted.push(phase);
                    }
                }
                Ok(admitted)
            }
            other => Err(ApiError::bad_request(format!(
                "Unsupported value of 'state' dimension: '{other}'. Should be one of the build states('queued', 'running', 'finished') or 'any'"
            ))),
        };
    }
    match locator.get("running") {
        None => Ok(all),
        Some(_) => match boolean(locator, "running")? {
            None => Ok(vec![Phase::Running, Phase::Finished]),
            Some(true) => Ok(vec![Phase::Running]),
            Some(false) => Ok(vec![Phase::Finished]),
        },
    }
}

/// Whether build `b` passes every filtering dimension of `locator`.
fn filter(s: &State, locator: &Locator, b: &Build) -> Result<bool, ApiError> {
    if !states(locator)?.contains(&b.phase) {
        return Ok(false);
    }
    if let Some(bt) = locator.get("buildType") {
        if !build_type_matches(s, bt, &b.build_type)? {
            return Ok(false);
        }
    }
    for dim in ["project", "affectedProject"] {
        if let Some(project) = locator.get(dim) {
            let wanted = sub_value(project, &["id", "name"])?;
            if project_and_name(&b.build_type).0 != wanted {
                return Ok(false);
            }
        }
    }
    if let Some(number) = locator.get("number") {
        if b.number.as_deref() != Some(number) {
            return Ok(false);
        }
    }
    if let Some(status) = locator.get("status") {
        if !b
            .status
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(status))
        {
            return Ok(false);
        }
    }
    let checks = [
        ("canceled", b.canceled.is_some()),
        ("failedToStart", b.failed_to_start),
        ("personal", false),
        ("pinned", false),
        ("composite", false),
        ("history", false),
        ("hanging", false),
    ];
    for (name, actual) in checks {
        if let Some(wanted) = boolean(locator, name)? {
            if wanted != actual {
                return Ok(false);
            }
        }
    }
    if let Some(branch) = locator.get("branch") {
        if !branch_matches(branch, b)? {
            return Ok(false);
        }
    }
    for condition in locator.all("property") {
        if !property_matches(condition, b)? {
            return Ok(false);
        }
    }
    if let Some(user) = locator.get("user") {
        let wanted = sub_value(user, &["username", "name", "id"])?;
        let by = b.triggered_by.as_ref();
        if !by.is_some_and(|u| u.username == wanted || u.id.to_string() == wanted) {
            return Ok(false);
        }
    }
    if let Some(agent) = locator.get("agent").or(locator.get("agentName")) {
        let wanted = sub_value(agent, &["name", "id"])?;
        if !(b.ran() && (wanted == "sim-agent-1" || wanted == "1")) {
            return Ok(false);
        }
    }
    if locator.has("tag") {
        return Ok(false);
    }
    Ok(true)
}

fn build_type_matches(s: &State, locator: &str, build_type: &str) -> Result<bool, ApiError> {
    let wanted = sub_value(locator, &["id", "name"])?;
    let known =
        s.types.contains_key(&wanted) || s.types.keys().any(|id| project_and_name(id).1 == wanted);
    if !known {
        return Err(ApiError::not_found(format!(
            "No build type nor template is found by id '{wanted}'."
        )));
    }
    Ok(build_type == wanted || project_and_name(build_type).1 == wanted)
}

/// The value of a nested locator that names one thing (`X`, `(id:X)`, `(name:X)`).
fn sub_value(text: &str, dims: &[&str]) -> Result<String, ApiError> {
    match parse(text)? {
        Locator::Single(value) => Ok(value),
        nested => dims
            .iter()
            .find_map(|d| nested.get(d))
            .map(str::to_string)
            .ok_or_else(|| {
                ApiError::locator(format!(
                    "Unsupported locator '{text}': use one of the dimensions {dims:?}"
                ))
            }),
    }
}

fn branch_matches(text: &str, b: &Build) -> Result<bool, ApiError> {
    let is_default = b.branch.is_none() || b.default_branch;
    let branch = parse(text)?;
    match &branch {
        Locator::Single(name) => {
            Ok(b.branch.as_deref() == Some(name.as_str()) || (name == "<default>" && is_default))
        }
        Locator::Dims(_) => {
            if let Some(name) = branch.get("name") {
                if b.branch.as_deref() != Some(name) && !(name == "<default>" && is_default) {
                    return Ok(false);
                }
            }
            match boolean(&branch, "default")? {
                Some(wanted) => Ok(wanted == is_default),
                None => Ok(true),
            }
        }
    }
}

/// `ParameterCondition`: `name`, `value`, `matchType` (equals by default when a value
/// is given, exists otherwise) and `ignoreCase`, against the resulting parameters.
fn property_matches(text: &str, b: &Build) -> Result<bool, ApiError> {
    let condition = parse(text)?;
    let name = match &condition {
        Locator::Single(name) => Some(name.clone()),
        Locator::Dims(_) => condition.get("name").map(str::to_string),
    };
    let value = condition.get("value");
    let match_type =
        condition
            .get("matchType")
            .unwrap_or(if value.is_some() { "equals" } else { "exists" });
    let ignore_case = boolean(&condition, "ignoreCase")?.unwrap_or(false);
    let properties = b.resulting_properties();
    let candidates: Vec<Option<&String>> = match &name {
        Some(name) => vec![properties.get(name)],
        None => properties.values().map(Some).collect(),
    };
    for actual in candidates {
        if value_matches(match_type, actual.map(String::as_str), value, ignore_case)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn value_matches(
    match_type: &str,
    actual: Option<&str>,
    wanted: Option<&str>,
    ignore_case: bool,
) -> Result<bool, ApiError> {
    let fold = |v: &str| {
        if ignore_case {
            v.to_lowercase()
        } else {
            v.to_string()
        }
    };
    let wanted = wanted.map(fold).unwrap_or_default();
    let Some(actual) = actual.map(fold) else {
        return Ok(match_type == "not-exists" || match_type == "does-not-equal");
    };
    Ok(match match_type {
        "exists" | "any" => true,
        "not-exists" => false,
        "equals" => actual == wanted,
        "does-not-equal" => actual != wanted,
        "contains" => actual.contains(&wanted),
        "does-not-contain" => !actual.contains(&wanted),
        "starts-with" => actual.starts_with(&wanted),
        "ends-with" => actual.ends_with(&wanted),
        "matches" | "does-not-match" => {
            let pattern = Regex::new(&format!("^(?:{wanted})$"))
                .map_err(|e| ApiError::bad_request(format!("Invalid regular expression: {e}")))?;
            pattern.is_match(&actual) == (match_type == "matches")
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "Unsupported value '{other}' for 'matchType'. Supported are: [exists, not-exists, equals, does-not-equal, starts-with, contains, does-not-contain, ends-with, matches, does-not-match, any]"
            )))
        }
    })
}

/// A boolean dimension: `true`, `false`, or `any` (None).
fn boolean(locator: &Locator, name: &str) -> Result<Option<bool>, ApiError> {
    match locator.get(name) {
        None | Some("any") => Ok(None),
        Some("true") | Some("") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(ApiError::locator(format!(
            "Invalid value of dimension '{name}': \"{other}\" is not a boolean value. Use 'true', 'false' or 'any'."
        ))),
    }
}

fn int(locator: &Locator, name: &str) -> Result<Option<i64>, ApiError> {
    locator
        .get(name)
        .map(|v| {
            v.parse::<i64>().map_err(|_| {
                ApiError::locator(format!(
                    "Invalid value of dimension '{name}': '{v}'. Should be a number."
                ))
            })
        })
        .transpose()
}
