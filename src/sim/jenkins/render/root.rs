//! The root object (`hudson.model.Hudson` at `/api/json`), the crumb issuer
//! (`samples/jenkins-crumb.json`) and the current user (`/me/api/json`).

use super::super::crumbs::CRUMB_FIELD;
use super::super::export::{list, ObjBuilder, Pruner, Value, ALWAYS, TOP};
use super::job::{all_view, children};
use super::Ctx;

/// `/api/json`.
pub(in crate::sim::jenkins) fn root<'t>(
    ctx: Ctx<'_>,
    p: Pruner<'t>,
    executors: usize,
    crumbs: bool,
    secured: bool,
) -> Value {
    let url = ctx.world.root_url.clone();
    ObjBuilder::new(p, Some("hudson.model.Hudson"))
        .obj("assignedLabels", TOP, |p| {
            list(p, [()], |p, ()| {
                ObjBuilder::new(p, None)
                    .val("name", ALWAYS, "built-in")
                    .build()
            })
        })
        .val("mode", TOP, "NORMAL")
        .val(
            "nodeDescription",
            TOP,
            "the Jenkins controller's built-in node",
        )
        .val("nodeName", TOP, "")
        .val("numExecutors", TOP, executors as u64)
        .val("description", TOP, Value::Null)
        .obj("jobs", TOP, |p| children(ctx, p, &ctx.world.root))
        .obj("overallLoad", TOP, |p| ObjBuilder::new(p, None).build())
        .obj("primaryView", TOP, |p| all_view(p, &url))
        .val("quietDownReason", TOP, Value::Null)
        .val("quietingDown", TOP, false)
        .val("slaveAgentPort", TOP, -1i64)
        .obj("unlabeledLoad", TOP, |p| {
            ObjBuilder::new(p, Some("jenkins.model.UnlabeledLoadStatistics")).build()
        })
        .val("url", TOP, url.as_str())
        .val("useCrumbs", TOP, crumbs)
        .val("useSecurity", TOP, secured)
        .obj("views", TOP, |p| list(p, [()], |p, ()| all_view(p, &url)))
        .build()
}

/// `/crumbIssuer/api/json`.
pub(in crate::sim::jenkins) fn crumb<'t>(p: Pruner<'t>, crumb: &str) -> Value {
    ObjBuilder::new(p, Some("hudson.security.csrf.DefaultCrumbIssuer"))
        .val("crumb", TOP, crumb)
        .val("crumbRequestField", TOP, CRUMB_FIELD)
        .build()
}

/// `/me/api/json` for a signed-in user.
pub(in crate::sim::jenkins) fn user<'t>(ctx: Ctx<'_>, p: Pruner<'t>, id: &str) -> Value {
    ObjBuilder::new(p, Some("hudson.model.User"))
        .val(
            "absoluteUrl",
            TOP,
            ctx.abs(&format!("user/{}", super::super::names::raw_encode(id))),
        )
        .val("description", TOP, Value::Null)
        .val("fullName", TOP, id)
        .val("id", TOP, id)
        .val("property", TOP, Value::Arr(Vec::new()))
        .build()
}
