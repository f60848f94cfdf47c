//! Stopping a build. A queued build is removed through the queue
//! (`POST /app/rest/buildQueue/id:N` with a `buildCancelRequest`); a running one gets a
//! cancel request on the build (`POST /app/rest/builds/id:N`), after which TeamCity
//! stops it asynchronously. Builds that already finished are left alone, and the races
//! in between are answered as "already done": the queue's 404 once the build started
//! falls through to the build endpoint, whose 400 "Cannot cancel finished build" and 404
//! mean there is nothing left to stop.

use reqwest::StatusCode;

use super::client::{error_text, Api};
use super::wire::{self, Build};
use crate::adapters::{AdapterError, Result};

pub async fn cancel_build(api: &Api, build: &Build, comment: &str) -> Result<()> {
    let body = wire::to_xml(&wire::CancelRequest {
        comment: comment.to_string(),
        readd_into_queue: false,
    })
    .map_err(AdapterError::Fatal)?;
    let id = build.id;
    match build.state.as_deref() {
        Some("finished") | Some("deleted") => return Ok(()),
        Some("queued") => {
            let reply = api
                .post_xml(api.rest(&format!("buildQueue/id:{id}")), body.clone())
                .await?;
            if reply.status.is_success() {
                tracing::info!(server = %api.name(), build = id, "removed a build from the TeamCity queue");
                return Ok(());
            }
            if reply.status != StatusCode::NOT_FOUND {
                return Err(api.failure(&format!("removing build {id} from the queue"), &reply));
            }
            // It left the queue meanwhile: stop it as a running build.
        }
        _ => {}
    }
    let reply = api
        .post_xml(api.rest(&format!("builds/id:{id}")), body)
        .await?;
    let already_done = reply.status == StatusCode::NOT_FOUND
        || (reply.status == StatusCode::BAD_REQUEST
            && error_text(&reply.body)
                .to_ascii_lowercase()
                .contains("finished"));
    if reply.status.is_success() {
        tracing::info!(server = %api.name(), build = id, "asked TeamCity to stop a build");
        Ok(())
    } else if already_done {
        Ok(())
    } else {
        Err(api.failure(&format!("canceling build {id}"), &reply))
    }
}
