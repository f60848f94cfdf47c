//! Injected faults: a queue of faults for the next requests (failures, throttling,
//! delays, dropped connections, lost responses) and seeded random faults on every
//! request, so chaos tests are reproducible.

use std::collections::VecDeque;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Something done to a request instead of, or besides, answering it normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    /// Answer with this status without processing the request.
    Status(u16),
    /// Answer 429 with `Retry-After` (a reverse proxy's doing: Jenkins never sends 429).
    Throttle(Duration),
    /// Process the request, then wait this long before answering.
    Delay(Duration),
    /// Close the connection without an answer; the request is not processed.
    Drop,
    /// Process the request, then answer with this status instead of its real answer.
    Lose(u16),
}

#[derive(Debug)]
struct RandomFaults {
    percent_5xx: u8,
    percent_drop: u8,
    rng: StdRng,
}

#[derive(Debug, Default)]
pub(super) struct Faults {
    queued: VecDeque<Fault>,
    random: Option<RandomFaults>,
}

impl Faults {
    pub(super) fn push(&mut self, n: usize, fault: Fault) {
        self.queued.extend(std::iter::repeat_n(fault, n));
    }

    /// Random faults on every request; `0, 0` turns them off.
    pub(super) fn set_rate(&mut self, percent_5xx: u8, percent_drop: u8, seed: u64) {
        self.random = (percent_5xx > 0 || percent_drop > 0).then(|| RandomFaults {
            percent_5xx: percent_5xx.min(100),
            percent_drop: percent_drop.min(100),
            rng: StdRng::seed_from_u64(seed),
        });
    }

    /// The fault for the next request: queued ones first, then a random draw.
    pub(super) fn next(&mut self) -> Option<Fault> {
        if let Some(fault) = self.queued.pop_front() {
            return Some(fault);
        }
        let random = self.random.as_mut()?;
        let roll: u8 = random.rng.random_range(0..100);
        if roll < random.percent_5xx {
            Some(Fault::Status(503))
        } else if roll < random.percent_5xx.saturating_add(random.percent_drop) {
            Some(Fault::Drop)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_faults_come_first_then_seeded_random_ones() {
        let mut faults = Faults::default();
        faults.push(2, Fault::Status(502));
        faults.push(1, Fault::Drop);
        assert_eq!(faults.next(), Some(Fault::Status(502)));
        assert_eq!(faults.next(), Some(Fault::Status(502)));
        assert_eq!(faults.next(), Some(Fault::Drop));
        assert_eq!(faults.next(), None);

        let draw = |seed| {
            let mut faults = Faults::default();
            faults.set_rate(30, 20, seed);
            (0..200).map(|_| faults.next()).collect::<Vec<_>>()
        };
        let first = draw(7);
        assert_eq!(first, draw(7), "the same seed gives the same faults");
        let errors = first
            .iter()
            .filter(|f| **f == Some(Fault::Status(503)))
            .count();
        let drops = first.iter().filter(|f| **f == Some(Fault::Drop)).count();
        assert!((30..90).contains(&errors), "{errors}");
        assert!((15..65).contains(&drops), "{drops}");
        let mut off = Faults::default();
        off.set_rate(0, 0, 1);
        assert_eq!(off.next(), None);
    }
}
