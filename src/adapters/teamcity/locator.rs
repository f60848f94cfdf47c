//! Build locators, TeamCity's query language for `/app/rest/builds?locator=…`.
//!
//! Two queries matter to Baton. Following many builds at once uses the `item` dimension
//! (one `item:(id:N)` per build: the finder unions the items, then applies the other
//! dimensions as a filter [teamcity-rest `FinderImpl.getItemsOr`]); `defaultFilter:false`
//! and `state:any` keep queued, running, canceled and failed-to-start builds, which the
//! default filter would silently drop. Finding a build after a lost trigger answer
//! searches by the marker property; `/app/rest/builds` with `state:any` includes queued
//! builds, whereas `/app/rest/buildQueue` has no `property` dimension at all and would
//! reject the locator.

/// The property every build Baton triggers carries, valued with the action run id.
pub const MARKER: &str = "baton.action.run";

/// Fields Baton reads from a build while following it.
pub const BUILD_FIELDS: &str = "id,buildTypeId,number,status,state,failedToStart,\
percentageComplete,branchName,href,webUrl,statusText,waitReason,queuedDate,startDate,\
finishDate,canceledInfo(user(username,name),timestamp,text),\
running-info(percentageComplete,elapsedSeconds,currentStageText,probablyHanging),\
testOccurrences(count,passed,failed,ignored,muted),artifacts(count,href)";

/// The same fields for each build of a list.
pub fn list_fields() -> String {
    format!("count,nextHref,build({BUILD_FIELDS})")
}

/// Builds by id, in any state: one request for a whole poll round.
pub fn by_ids(ids: &[i64]) -> String {
    let mut locator: Vec<String> = ids.iter().map(|id| format!("item:(id:{id})")).collect();
    locator.push("defaultFilter:false".into());
    locator.push("state:any".into());
    locator.push(format!("count:{}", ids.len().max(1)));
    locator.join(",")
}

/// Builds of `build_type` carrying the marker property with `run_id`, in any state.
pub fn by_marker(build_type: &str, run_id: &str) -> Result<String, String> {
    Ok(format!(
        "buildType:(id:{}),property:(name:{MARKER},value:{}),defaultFilter:false,state:any",
        value(build_type)?,
        value(run_id)?
    ))
}

/// A locator value: as is when it holds no locator syntax, else in parentheses (which
/// TeamCity reads verbatim as long as they balance).
pub fn value(raw: &str) -> Result<String, String> {
    if raw.is_empty() {
        return Err("an empty value cannot be looked up".into());
    }
    if raw
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '@' | '#'))
    {
        return Ok(raw.to_string());
    }
    let mut depth = 0i32;
    for c in raw.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            break;
        }
    }
    if depth == 0 {
        Ok(format!("({raw})"))
    } else {
        Err(format!(
            "`{raw}` has unbalanced parentheses, which a locator cannot hold"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_ids_make_one_locator_that_keeps_every_state() {
        assert_eq!(
            by_ids(&[4821, 4822]),
            "item:(id:4821),item:(id:4822),defaultFilter:false,state:any,count:2"
        );
    }

    #[test]
    fn the_marker_search_names_the_build_type_and_the_run() {
        assert_eq!(
            by_marker("Backend_Deploy", "0192f1c2-7d3e-7a00-9b1c-1c2d3e4f5a6b.3").unwrap(),
            "buildType:(id:Backend_Deploy),property:(name:baton.action.run,\
             value:0192f1c2-7d3e-7a00-9b1c-1c2d3e4f5a6b.3),defaultFilter:false,state:any"
        );
    }

    #[test]
    fn values_with_locator_syntax_are_wrapped() {
        assert_eq!(value("a,b:c").unwrap(), "(a,b:c)");
        assert_eq!(value("f(x)").unwrap(), "(f(x))");
        assert!(value("a)b(").is_err());
        assert!(value("").is_err());
    }
}
