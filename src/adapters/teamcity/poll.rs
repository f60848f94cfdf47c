//! When to look at a build again. Polling starts at the server's `poll_interval` and
//! doubles every twelve polls up to `max_poll_interval`, so a two-hour build costs far
//! fewer requests than a two-minute one. Every interval is a whole multiple of the base,
//! and each wait ends on the next wall-clock multiple of its interval: followers that
//! started at different moments still poll at the same instants, where the `Batcher`
//! folds their reads into one list request.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Polls at one interval before it doubles.
const POLLS_PER_STEP: u128 = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollSchedule {
    base: Duration,
    max: Duration,
}

impl PollSchedule {
    pub fn new(base: Duration, max: Duration) -> PollSchedule {
        let base = base.max(Duration::from_millis(10));
        PollSchedule {
            base,
            max: max.max(base),
        }
    }

    /// The interval for a build followed for `followed_for`.
    pub fn interval(&self, followed_for: Duration) -> Duration {
        let base_ms = self.base.as_millis();
        let steps = followed_for.as_millis() / (base_ms * POLLS_PER_STEP);
        let factor = 1u128 << steps.min(20);
        let capped = (base_ms * factor).min(self.max.as_millis());
        // A whole multiple of the base, so its instants are also the base's instants.
        let multiple = (capped / base_ms).max(1);
        millis(base_ms * multiple)
    }

    /// How long to wait from `now`: until the next wall-clock multiple of the interval.
    pub fn wait(&self, followed_for: Duration, now: SystemTime) -> Duration {
        let interval = self.interval(followed_for).as_millis().max(1);
        let now_ms = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        millis(interval - now_ms % interval)
    }
}

fn millis(ms: u128) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn grows_from_the_base_towards_the_max() {
        let schedule = PollSchedule::new(10 * S, 60 * S);
        let at = |secs: u64| schedule.interval(Duration::from_secs(secs)).as_secs();
        assert_eq!(at(0), 10);
        assert_eq!(at(119), 10);
        assert_eq!(at(120), 20);
        assert_eq!(at(240), 40);
        assert_eq!(at(360), 60);
        assert_eq!(at(100_000), 60);
    }

    #[test]
    fn a_max_that_is_not_a_multiple_is_rounded_down_to_one() {
        let schedule = PollSchedule::new(10 * S, 45 * S);
        assert_eq!(schedule.interval(10_000 * S), 40 * S);
        let flat = PollSchedule::new(10 * S, 5 * S);
        assert_eq!(flat.interval(10_000 * S), 10 * S);
    }

    #[test]
    fn waits_end_on_shared_instants() {
        let schedule = PollSchedule::new(10 * S, 60 * S);
        let now = UNIX_EPOCH + Duration::from_millis(1_000_003_250);
        assert_eq!(
            schedule.wait(Duration::ZERO, now),
            Duration::from_millis(6_750)
        );
        // A build followed for long polls less often, on instants the short ones share.
        let long = schedule.wait(3_600 * S, now);
        assert_eq!(long, Duration::from_millis(16_750));
        let wake = now + long;
        let ms = wake.duration_since(UNIX_EPOCH).unwrap().as_millis();
        assert_eq!(ms % 10_000, 0);
        assert!(schedule.wait(Duration::ZERO, wake) == 10 * S);
    }
}
