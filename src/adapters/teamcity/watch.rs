//! The server's limits on a build: `queue_timeout` (queued longer than this since its
//! `queuedDate`) and `inactivity_timeout` (its log has not grown for this long). Log
//! growth is tracked in memory from every log Baton reads, starting when the follower
//! first sees the build running, so after a restart a build gets the full limit again
//! rather than being judged on time nobody watched. Time is passed in, so the decisions
//! are plain functions of what was observed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::wire::Build;

#[derive(Debug, Clone, Copy)]
struct Activity {
    len: Option<u64>,
    /// When the log last grew (or when watching began).
    grew: Instant,
    /// When the log was last measured.
    checked: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct Watch {
    pub queue_timeout: Option<Duration>,
    pub inactivity_timeout: Option<Duration>,
    /// When each queued build was first seen, for builds without a `queuedDate`.
    queued_seen: Mutex<HashMap<i64, Instant>>,
    activity: Mutex<HashMap<i64, Activity>>,
}

impl Watch {
    pub fn new(queue_timeout: Option<Duration>, inactivity_timeout: Option<Duration>) -> Watch {
        Watch {
            queue_timeout,
            inactivity_timeout,
            ..Watch::default()
        }
    }

    /// The error for a build that waited in the queue past the limit.
    pub fn queued_too_long(
        &self,
        build: &Build,
        now: DateTime<Utc>,
        at: Instant,
    ) -> Option<String> {
        let limit = self.queue_timeout?;
        let first_seen = *lock(&self.queued_seen).entry(build.id).or_insert(at);
        let waited = match build.queued_date.as_deref().and_then(parse_date) {
            Some(queued) => (now - queued).to_std().unwrap_or_default(),
            None => at.saturating_duration_since(first_seen),
        };
        (waited >= limit).then(|| {
            format!(
                "the TeamCity build waited in the queue longer than the server's queue_timeout ({}); Baton canceled it",
                humantime::format_duration(limit)
            )
        })
    }

    /// Whether the log should be measured now to judge inactivity (at most four times
    /// per limit, so a long log is not downloaded on every poll).
    pub fn wants_log_check(&self, id: i64, at: Instant) -> bool {
        let Some(limit) = self.inactivity_timeout else {
            return false;
        };
        let mut activity = lock(&self.activity);
        let entry = activity.entry(id).or_insert(Activity {
            len: None,
            grew: at,
            checked: None,
        });
        entry
            .checked
            .is_none_or(|checked| at.saturating_duration_since(checked) >= limit / 4)
    }

    /// Records the log's length as read at `at`.
    pub fn observe_log(&self, id: i64, len: u64, at: Instant) {
        let mut activity = lock(&self.activity);
        let entry = activity.entry(id).or_insert(Activity {
            len: None,
            grew: at,
            checked: None,
        });
        if entry.len.is_some_and(|old| old != len) {
            entry.grew = at;
        }
        entry.len = Some(len);
        entry.checked = Some(at);
    }

    /// The error for a running build whose log stopped growing past the limit.
    pub fn silent_too_long(&self, id: i64, at: Instant) -> Option<String> {
        let limit = self.inactivity_timeout?;
        let activity = lock(&self.activity);
        let entry = activity.get(&id)?;
        (at.saturating_duration_since(entry.grew) >= limit).then(|| {
            format!(
                "the TeamCity build printed nothing for longer than the server's inactivity_timeout ({}); Baton canceled it",
                humantime::format_duration(limit)
            )
        })
    }

    /// Drops what was tracked for a build that finished.
    pub fn forget(&self, id: i64) {
        lock(&self.queued_seen).remove(&id);
        lock(&self.activity).remove(&id);
    }
}

/// TeamCity's dates: `20240820T080012+0000`.
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(text.trim(), "%Y%m%dT%H%M%S%z")
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn queued(date: Option<&str>) -> Build {
        Build {
            id: 7,
            state: Some("queued".into()),
            queued_date: date.map(String::from),
            ..Build::default()
        }
    }

    #[test]
    fn parses_teamcity_dates_with_offsets() {
        let date = parse_date("20240820T100012+0200").unwrap();
        assert_eq!(date.to_rfc3339(), "2024-08-20T08:00:12+00:00");
        assert_eq!(parse_date("2024-08-20"), None);
    }

    #[test]
    fn queue_time_counts_from_the_queued_date() {
        let watch = Watch::new(Some(10 * MIN), None);
        let now = parse_date("20240820T081000+0000").unwrap();
        let at = Instant::now();
        assert!(watch
            .queued_too_long(&queued(Some("20240820T080100+0000")), now, at)
            .is_none());
        let message = watch
            .queued_too_long(&queued(Some("20240820T080000+0000")), now, at)
            .unwrap();
        assert!(message.contains("queue_timeout (10m)"), "{message}");
        assert!(Watch::new(None, None)
            .queued_too_long(&queued(Some("20000101T000000+0000")), now, at)
            .is_none());
    }

    #[test]
    fn without_a_queued_date_queue_time_counts_from_first_sight() {
        let watch = Watch::new(Some(MIN), None);
        let now = Utc::now();
        let start = Instant::now();
        assert!(watch.queued_too_long(&queued(None), now, start).is_none());
        assert!(watch
            .queued_too_long(&queued(None), now, start + MIN)
            .is_some());
    }

    #[test]
    fn inactivity_counts_from_the_last_growth() {
        let watch = Watch::new(None, Some(4 * MIN));
        let start = Instant::now();
        assert!(watch.wants_log_check(7, start));
        watch.observe_log(7, 100, start);
        assert!(!watch.wants_log_check(7, start + MIN / 2));
        assert!(watch.wants_log_check(7, start + MIN));
        watch.observe_log(7, 150, start + 3 * MIN);
        watch.observe_log(7, 150, start + 6 * MIN);
        assert!(watch.silent_too_long(7, start + 6 * MIN).is_none());
        let message = watch.silent_too_long(7, start + 7 * MIN).unwrap();
        assert!(message.contains("inactivity_timeout (4m)"), "{message}");
        watch.forget(7);
        assert!(watch.silent_too_long(7, start + 7 * MIN).is_none());
    }

    #[test]
    fn nothing_is_tracked_without_limits() {
        let watch = Watch::new(None, None);
        assert!(!watch.wants_log_check(7, Instant::now()));
        assert!(watch.silent_too_long(7, Instant::now()).is_none());
    }
}
