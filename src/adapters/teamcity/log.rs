//! Build logs. TeamCity has no byte-offset (progressive) log API: the supported way is
//! `GET /downloadBuildLog.html?buildId=N&plain=true` (outside `/app/rest`; `/httpAuth/`
//! for Basic auth), which answers the whole log so far, also for a running build. So
//! Baton reads the whole log and slices it from the caller's byte `offset`; the next
//! offset is the log's length. (The UI's `/app/messages` tail endpoint is internal and
//! unstable, so it is not used.)

use super::client::Api;
use crate::adapters::{LogChunk, Result};

/// The build's whole log as it stands.
pub async fn download(api: &Api, id: i64) -> Result<String> {
    let mut url = api.page("downloadBuildLog.html");
    url.query_pairs_mut()
        .append_pair("buildId", &id.to_string())
        .append_pair("plain", "true");
    let reply = api.read(url, "text/plain").await?;
    if !reply.status.is_success() {
        return Err(api.failure(&format!("reading the log of build {id}"), &reply));
    }
    Ok(reply.body)
}

/// The part of `log` from byte `offset` on (moved forward to a character boundary).
pub fn chunk(log: &str, offset: u64, complete: bool) -> LogChunk {
    let mut start = usize::try_from(offset).unwrap_or(usize::MAX).min(log.len());
    while !log.is_char_boundary(start) {
        start += 1;
    }
    LogChunk {
        text: log[start..].to_string(),
        next_offset: log.len() as u64,
        complete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_from_the_offset() {
        let log = "[08:00:00] : Step 1/3\n[08:00:12] : Step 2/3\n";
        let first = chunk(log, 0, false);
        assert_eq!(first.text, log);
        assert_eq!(first.next_offset, log.len() as u64);
        let rest = chunk(log, 22, true);
        assert_eq!(rest.text, "[08:00:12] : Step 2/3\n");
        assert!(rest.complete);
        let beyond = chunk(log, 10_000, false);
        assert_eq!(
            (beyond.text.as_str(), beyond.next_offset),
            ("", log.len() as u64)
        );
    }

    #[test]
    fn never_splits_a_character() {
        let log = "é!";
        assert_eq!(chunk(log, 1, false).text, "!");
    }
}
