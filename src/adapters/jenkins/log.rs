//! Console logs through `logText/progressiveText?start=N` (reference §8): the next
//! offset is `X-Text-Size` (a byte offset into the raw log, not the body's length) and the
//! log is complete when `X-More-Data: true` is absent. A run still in the queue has an
//! empty log that is not complete yet.

use reqwest::StatusCode;

use super::action::JobConfig;
use super::client::Reply;
use super::ids::ExternalId;
use super::path::JobPath;
use super::queue::ItemState;
use super::JenkinsAdapter;
use crate::adapters::{AdapterError, LogChunk, Result};

impl JenkinsAdapter {
    pub(super) async fn read_log(
        &self,
        config: &JobConfig,
        id: ExternalId,
        offset: u64,
    ) -> Result<LogChunk> {
        let job = &config.job;
        let number = match id {
            ExternalId::Build { number, .. } => number,
            ExternalId::Queued { queue_id } => {
                let found = match self.queue_item(job, queue_id).await? {
                    ItemState::Started(number) => Some(number),
                    ItemState::Waiting(_) => return Ok(empty(offset, false)),
                    ItemState::Cancelled => None,
                    ItemState::Gone => self.build_by_queue_id(job, queue_id).await?,
                };
                match found {
                    Some(number) => number,
                    None => return Ok(empty(offset, true)),
                }
            }
        };
        self.console(job, number, offset).await
    }

    /// The console of build `number` from `offset`; feeds the inactivity clock of a
    /// build that has one.
    pub(super) async fn console(
        &self,
        job: &JobPath,
        number: u64,
        offset: u64,
    ) -> Result<LogChunk> {
        let what = format!("read the console of build #{number} of job `{job}`");
        let path = format!("{}logText/progressiveText", job.build_path(number));
        let reply = self
            .jenkins
            .get(&what, &path, &[("start", offset.to_string())])
            .await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Err(AdapterError::Fatal(format!(
                "{what}: Jenkins server `{}` has no such build",
                self.jenkins.name()
            )));
        }
        if !reply.status.is_success() {
            return Err(self.jenkins.failure(&what, &reply));
        }
        let chunk = chunk(reply, offset);
        if self.memory.console_size(job, number).is_some() {
            self.memory.observe_console(job, number, chunk.next_offset);
        }
        Ok(chunk)
    }
}

fn empty(offset: u64, complete: bool) -> LogChunk {
    LogChunk {
        text: String::new(),
        next_offset: offset,
        complete,
    }
}

/// Reads a progressiveText answer.
fn chunk(reply: Reply, offset: u64) -> LogChunk {
    let next_offset = reply
        .header("x-text-size")
        .and_then(|size| size.trim().parse().ok())
        .unwrap_or(offset + reply.body.len() as u64);
    let more = reply
        .header("x-more-data")
        .is_some_and(|more| more.trim().eq_ignore_ascii_case("true"));
    LogChunk {
        text: reply.body,
        next_offset,
        complete: !more,
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderMap;

    use super::*;

    fn reply(headers: &[(&'static str, &str)], body: &str) -> Reply {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, value.parse().unwrap());
        }
        Reply {
            status: StatusCode::OK,
            headers: map,
            body: body.into(),
        }
    }

    #[test]
    fn offsets_come_from_x_text_size_and_completion_from_x_more_data() {
        // The two polls of samples/jenkins-progressive-text-exchange.http.
        let first = chunk(
            reply(
                &[("x-text-size", "1519"), ("x-more-data", "true")],
                "Started by user CI Bot\r\n",
            ),
            0,
        );
        assert_eq!((first.next_offset, first.complete), (1519, false));
        let last = chunk(
            reply(&[("x-text-size", "2210")], "Finished: SUCCESS\r\n"),
            1519,
        );
        assert_eq!((last.next_offset, last.complete), (2210, true));
        assert_eq!(last.text, "Finished: SUCCESS\r\n");
    }

    #[test]
    fn a_missing_size_counts_the_body() {
        let chunk = chunk(reply(&[("x-more-data", "true")], "abc"), 10);
        assert_eq!((chunk.next_offset, chunk.complete), (13, false));
    }
}
