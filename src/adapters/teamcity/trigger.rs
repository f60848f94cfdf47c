//! Starting a build exactly once: `trigger` queues it with `POST /app/rest/buildQueue`
//! (sent once, never repeated blindly), carrying the marker property
//! `baton.action.run = <run id>`; `find` looks for a build with that marker, so a trigger
//! whose answer was lost is found instead of being sent again.
//!
//! The id TeamCity answers with is the build's id for good (a queued build keeps it when
//! it starts), so it is the external id; there is no queue id to translate.

use super::action::ActionConfig;
use super::client::Api;
use super::locator::{self, MARKER};
use super::wire::{self, Build, Builds};
use crate::adapters::{ActionContext, AdapterError, Result, Started};

/// The XML body that queues the action's build.
pub fn request(config: &ActionConfig, ctx: &ActionContext) -> wire::TriggerRequest {
    let mut property: Vec<wire::PropertyBody> = config
        .properties
        .iter()
        .map(|(name, value)| wire::PropertyBody {
            name: name.clone(),
            value: value.clone(),
        })
        .collect();
    property.push(wire::PropertyBody {
        name: MARKER.to_string(),
        value: ctx.run_id.clone(),
    });
    wire::TriggerRequest {
        branch_name: config.branch.clone(),
        build_type: wire::BuildTypeRef {
            id: config.build_type.clone(),
        },
        comment: wire::CommentBody {
            text: config.comment_text(ctx),
        },
        properties: wire::PropertiesBody { property },
    }
}

pub async fn trigger(api: &Api, ctx: &ActionContext) -> Result<Started> {
    let config = ActionConfig::parse(ctx)?;
    let body = wire::to_xml(&request(&config, ctx)).map_err(AdapterError::Fatal)?;
    let reply = api.post_xml(api.rest("buildQueue"), body).await?;
    let what = format!("queueing a build of {}", config.build_type);
    if !reply.status.is_success() {
        return Err(api.failure(&what, &reply));
    }
    // The build may well be queued even if its answer is unreadable: retryable, so the
    // follower looks for it by its marker before anything is sent again.
    let build: Build = wire::decode(reply.content_type(), &reply.body)
        .map_err(|e| AdapterError::retryable(format!("{}: {what}: {e}", api.name())))?;
    tracing::info!(server = %api.name(), build = build.id, build_type = %config.build_type, "queued a TeamCity build");
    Ok(started(build))
}

pub async fn find(api: &Api, ctx: &ActionContext) -> Result<Option<Started>> {
    let config = ActionConfig::parse(ctx)?;
    let locator =
        locator::by_marker(&config.build_type, &ctx.run_id).map_err(AdapterError::Fatal)?;
    let mut url = api.rest("builds");
    url.query_pairs_mut()
        .append_pair("locator", &locator)
        .append_pair("fields", "count,build(id,state,webUrl)");
    let what = format!("looking for the build of run {}", ctx.run_id);
    let builds: Builds = api.get(&what, url).await?;
    if builds.build.len() > 1 {
        tracing::warn!(
            server = %api.name(),
            run = %ctx.run_id,
            builds = ?builds.build.iter().map(|b| b.id).collect::<Vec<_>>(),
            "several TeamCity builds carry one run's marker; following the first queued"
        );
    }
    Ok(builds.build.into_iter().min_by_key(|b| b.id).map(started))
}

fn started(build: Build) -> Started {
    Started {
        external_id: build.id.to_string(),
        external_url: build.web_url,
        finished: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::teamcity::test_support::context;
    use crate::model::ConfigValue;

    #[test]
    fn the_request_carries_branch_properties_comment_and_marker() {
        let ctx = context(&[
            ("BuildType", ConfigValue::Text("Backend_Deploy".into())),
            ("Branch", ConfigValue::Text("main".into())),
            (
                "Properties",
                ConfigValue::Text(r#"{"env.TARGET":"staging & co"}"#.into()),
            ),
        ]);
        let config = ActionConfig::parse(&ctx).unwrap();
        let xml = wire::to_xml(&request(&config, &ctx)).unwrap();
        assert!(xml.starts_with(r#"<build branchName="main"><buildType id="Backend_Deploy"/><comment><text>Triggered by Baton: pipeline backend"#), "{xml}");
        assert!(
            xml.contains(r#"<property name="env.TARGET" value="staging &amp; co"/>"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<property name="baton.action.run" value="exec-1.1"/>"#),
            "{xml}"
        );
        assert!(xml.contains("http://baton/executions/exec-1"), "{xml}");
    }

    #[test]
    fn without_a_branch_the_attribute_is_left_out() {
        let ctx = context(&[("BuildType", ConfigValue::Text("B".into()))]);
        let xml = wire::to_xml(&request(&ActionConfig::parse(&ctx).unwrap(), &ctx)).unwrap();
        assert!(xml.starts_with(r#"<build><buildType id="B"/>"#), "{xml}");
    }
}
