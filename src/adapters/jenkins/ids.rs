//! External ids: `q{queue_id}` while the trigger's queue item waits, then
//! `{queue_id}:{build_number}` once it became a build. The queue id stays in the build's
//! id because every build records it as `queueId` (reference §5), which is how a build
//! is found again once its queue item has expired.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalId {
    Queued { queue_id: u64 },
    Build { queue_id: u64, number: u64 },
}

impl ExternalId {
    pub fn parse(text: &str) -> Option<ExternalId> {
        if let Some(queue) = text.strip_prefix('q') {
            return Some(ExternalId::Queued {
                queue_id: queue.parse().ok()?,
            });
        }
        let (queue, number) = text.split_once(':')?;
        Some(ExternalId::Build {
            queue_id: queue.parse().ok()?,
            number: number.parse().ok()?,
        })
    }

    pub fn queue_id(self) -> u64 {
        match self {
            ExternalId::Queued { queue_id } | ExternalId::Build { queue_id, .. } => queue_id,
        }
    }
}

impl fmt::Display for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExternalId::Queued { queue_id } => write!(f, "q{queue_id}"),
            ExternalId::Build { queue_id, number } => write!(f, "{queue_id}:{number}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for id in [
            ExternalId::Queued { queue_id: 1234 },
            ExternalId::Build {
                queue_id: 1234,
                number: 57,
            },
        ] {
            assert_eq!(ExternalId::parse(&id.to_string()), Some(id));
        }
        assert_eq!(ExternalId::Queued { queue_id: 7 }.to_string(), "q7");
        assert_eq!(
            ExternalId::Build {
                queue_id: 7,
                number: 3
            }
            .to_string(),
            "7:3"
        );
    }

    #[test]
    fn refuses_other_ids() {
        for text in ["", "q", "qx", "57", "a:1", "1:", "1:2:3", "q-1"] {
            assert_eq!(ExternalId::parse(text), None, "{text}");
        }
    }
}
