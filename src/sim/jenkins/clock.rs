//! Time in the simulator: monotonic instants (tokio's, so tests may pause time) mapped to
//! the wall-clock milliseconds Jenkins exports, and Jenkins' human time spans
//! (`Util.getTimeSpanString`: "4.9 sec", "2 min 3 sec") used in queue `why` texts.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Maps instants to epoch milliseconds from one reference point.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock {
    start: Instant,
    start_ms: i64,
}

impl Clock {
    pub(super) fn new() -> Clock {
        let start_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Clock {
            start: Instant::now(),
            start_ms,
        }
    }

    /// Epoch milliseconds of an instant.
    pub(super) fn ms(&self, at: Instant) -> i64 {
        let offset = millis(at.saturating_duration_since(self.start));
        let before = millis(self.start.saturating_duration_since(at));
        self.start_ms + offset - before
    }

    /// Seconds since the simulator started, for per-second request counts.
    pub(super) fn second(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.start).as_secs()
    }
}

/// Milliseconds of a duration as Jenkins' `long`s.
pub(super) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `Util.getTimeSpanString`.
pub(super) fn time_span(d: Duration) -> String {
    const DAY: u64 = 24 * 3600 * 1000;
    let mut ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let days = ms / DAY;
    ms %= DAY;
    let hours = ms / 3_600_000;
    ms %= 3_600_000;
    let minutes = ms / 60_000;
    ms %= 60_000;
    let seconds = ms / 1000;
    let millis = ms % 1000;
    let day = |n: u64| format!("{n} {}", if n == 1 { "day" } else { "days" });
    let pair = |big: u64, big_label: String, small_label: String| {
        if big < 10 {
            format!("{big_label} {small_label}")
        } else {
            big_label
        }
    };
    if days > 0 {
        pair(days, day(days), format!("{hours} hr"))
    } else if hours > 0 {
        pair(hours, format!("{hours} hr"), format!("{minutes} min"))
    } else if minutes > 0 {
        pair(minutes, format!("{minutes} min"), format!("{seconds} sec"))
    } else if seconds >= 10 {
        format!("{seconds} sec")
    } else if seconds >= 1 {
        format!("{} sec", decimal(seconds * 10 + millis / 100, 10))
    } else if millis >= 100 {
        format!("{} sec", decimal(millis / 10, 100))
    } else {
        format!("{millis} ms")
    }
}

/// `value / scale` as `MessageFormat` prints a float: no trailing zeros.
fn decimal(value: u64, scale: u64) -> String {
    let whole = value / scale;
    let fraction = value % scale;
    if fraction == 0 {
        return whole.to_string();
    }
    let width = scale.to_string().len() - 1;
    let digits = format!("{fraction:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_spans_like_jenkins() {
        let ms = Duration::from_millis;
        assert_eq!(time_span(ms(4_900)), "4.9 sec");
        assert_eq!(time_span(ms(4_000)), "4 sec");
        assert_eq!(time_span(ms(12_300)), "12 sec");
        assert_eq!(time_span(ms(123_000)), "2 min 3 sec");
        assert_eq!(time_span(ms(23 * 60_000)), "23 min");
        assert_eq!(time_span(ms(450)), "0.45 sec");
        assert_eq!(time_span(ms(50)), "50 ms");
        assert_eq!(time_span(ms(3_600_000 + 120_000)), "1 hr 2 min");
    }

    #[test]
    fn maps_instants_to_epoch_millis() {
        let clock = Clock::new();
        let later = clock.start + Duration::from_millis(1500);
        assert_eq!(clock.ms(later) - clock.ms(clock.start), 1500);
        assert_eq!(clock.second(later), 1);
    }
}
