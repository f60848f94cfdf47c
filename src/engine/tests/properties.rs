//! Determinism and invariants under random event sequences.
//!
//! A small seeded PRNG drives long random sequences of starts, reports (live, stale and
//! made up), timeouts, approvals, stops, retries and transitions against each execution
//! mode. The harness checks the invariants after every step (locks and queues agree with
//! positions, terminal executions hold nothing, in-progress actions have a run id and a
//! deadline, rejections change nothing, run ids are never issued twice). Each sequence is
//! then replayed on a fresh state, and finally driven to the end to check that nothing is
//! stuck: every execution finishes and every lock and queue empties.

use super::harness::*;
use crate::engine::state::StageStatus;
use crate::engine::{ActionOutcome, Event};
use crate::model::{ExecutionMode, Pipeline};

/// xorshift64*: deterministic, good enough to pick events.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with `percent` % probability.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.below(items.len())].clone())
    }
}

const STAGES: [&str; 4] = ["Source", "Build", "Release", "Deploy"];
const PEOPLE: [&str; 3] = ["alice", "bob", "carol"];

/// Four stages with a runOrder group, a variable reference between actions, an approval
/// needing two people beside a CI action, and a short timeout.
fn subject(mode: ExecutionMode) -> Pipeline {
    pipeline("random", mode)
        .variable("Env", Some("staging"))
        .stage("Source", vec![git_source("Checkout").namespace("Src")])
        .stage(
            "Build",
            vec![
                jenkins("unit", "unit").namespace("Unit"),
                jenkins("lint", "lint").config("Commit", "#{Src.CommitId}"),
                jenkins("package", "package")
                    .order(2)
                    .config("Version", "#{Unit.version}"),
            ],
        )
        .stage(
            "Release",
            vec![
                approval("SignOff").config("MinimumApprovals", "2"),
                jenkins("Smoke", "smoke").config("Env", "#{variables.Env}"),
            ],
        )
        .stage("Deploy", vec![jenkins("Ship", "deploy").timeout(30)])
}

/// Run ids worth reporting about: every one issued so far, plus the next one of each
/// execution (not issued yet) and one of an unknown execution.
fn candidate_runs(h: &Harness) -> Vec<String> {
    let mut runs = vec!["e999.1".to_string()];
    for (id, execution) in &h.state.executions {
        for n in 1..=execution.runs_started + 1 {
            runs.push(format!("{id}.{n}"));
        }
    }
    runs
}

fn candidate_executions(h: &Harness) -> Vec<String> {
    let mut ids: Vec<String> = h.state.executions.keys().cloned().collect();
    ids.push("e999".to_string());
    ids
}

/// Executions with an approval waiting for a decision.
fn pending_approvals(h: &Harness) -> Vec<String> {
    h.live_runs()
        .into_iter()
        .filter(|(_, _, action, _)| action == "SignOff")
        .map(|(execution, ..)| execution)
        .collect()
}

/// (execution, stage) pairs that a retry could accept: a Failed or Stopped stage.
fn retryable(h: &Harness) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (id, execution) in &h.state.executions {
        for stage in &execution.stages {
            if matches!(
                stage.status,
                Some(StageStatus::Failed) | Some(StageStatus::Stopped)
            ) {
                found.push((id.clone(), stage.name.clone()));
            }
        }
    }
    found
}

/// One random event (time may move on first). Most events aim at something that can
/// accept them, the rest at anything.
fn random_event(h: &mut Harness, rng: &mut Rng, next_id: &mut u32) -> Event {
    let live: Vec<String> = h
        .live_runs()
        .into_iter()
        .filter(|(_, _, action, _)| action != "SignOff")
        .map(|(_, _, _, run)| run)
        .collect();
    let mut roll = rng.below(100);
    if (10..=39).contains(&roll) && live.is_empty() {
        roll = 0;
    }
    h.tick(rng.below(5) as i64);
    match roll {
        0..=9 => {
            *next_id += 1;
            let id = format!("e{next_id:03}");
            h.tick(1);
            let mut event = h.start_event(&id, &[]);
            if rng.chance(10) {
                if let Event::Start { variables, .. } = &mut event {
                    variables.insert("Env".into(), "prod".into());
                }
            }
            event
        }
        10..=39 => {
            let run_id = rng.pick(&live).unwrap();
            let mut outputs = Vec::new();
            if rng.chance(85) {
                outputs.push(("CommitId", "abc"));
                outputs.push(("version", "1.0"));
            }
            let outcome = if rng.chance(85) {
                ActionOutcome::Succeeded {
                    outputs: pairs(&outputs),
                    summary: None,
                }
            } else {
                ActionOutcome::Failed {
                    error: "red".into(),
                    outputs: pairs(&outputs),
                }
            };
            Event::ActionCompleted {
                execution: execution_of(&run_id),
                run_id,
                outcome,
            }
        }
        40..=43 => {
            let run_id = rng.pick(&candidate_runs(h)).unwrap();
            Event::ActionCompleted {
                execution: execution_of(&run_id),
                run_id,
                outcome: ActionOutcome::Succeeded {
                    outputs: Default::default(),
                    summary: None,
                },
            }
        }
        44..=47 => {
            let run_id = rng.pick(&candidate_runs(h)).unwrap();
            Event::ActionStarted {
                execution: execution_of(&run_id),
                external_id: format!("build-of-{run_id}"),
                run_id,
                external_url: None,
            }
        }
        48..=50 => {
            let run_id = rng.pick(&candidate_runs(h)).unwrap();
            Event::ActionProgress {
                execution: execution_of(&run_id),
                run_id,
                external_id: None,
                external_url: Some("https://ci/x".into()),
                percent_complete: Some(rng.below(120) as u8),
                summary: Some("working".into()),
            }
        }
        51..=56 => {
            let minutes = if rng.chance(70) {
                rng.below(60)
            } else {
                rng.below(2 * 24 * 60)
            };
            h.tick(minutes as i64);
            let run_id = if rng.chance(70) && !live.is_empty() {
                rng.pick(&live).unwrap()
            } else {
                rng.pick(&candidate_runs(h)).unwrap()
            };
            Event::Timeout {
                execution: execution_of(&run_id),
                run_id,
            }
        }
        57..=68 => {
            let pending = pending_approvals(h);
            let execution = if rng.chance(80) && !pending.is_empty() {
                rng.pick(&pending).unwrap()
            } else {
                rng.pick(&candidate_executions(h)).unwrap()
            };
            Event::Approval {
                execution,
                stage: "Release".into(),
                action: if rng.chance(95) { "SignOff" } else { "Smoke" }.into(),
                approved: rng.chance(85),
                by: rng.pick(&PEOPLE).unwrap().into(),
                comment: None,
            }
        }
        69..=74 => Event::Stop {
            execution: rng.pick(&candidate_executions(h)).unwrap(),
            abandon: rng.chance(50),
            reason: rng.chance(50).then(|| "because".into()),
            by: None,
        },
        75..=86 => {
            let targets = retryable(h);
            let (execution, stage) = if rng.chance(80) && !targets.is_empty() {
                rng.pick(&targets).unwrap()
            } else {
                (
                    rng.pick(&candidate_executions(h)).unwrap(),
                    rng.pick(&STAGES).unwrap().to_string(),
                )
            };
            Event::Retry {
                execution,
                stage,
                all_actions: rng.chance(30),
                by: None,
            }
        }
        _ => {
            let stage = if rng.chance(95) {
                rng.pick(&STAGES).unwrap()
            } else {
                "Nope"
            };
            Event::SetTransition {
                stage: stage.into(),
                enabled: rng.chance(60),
                reason: rng.chance(90).then(|| "maintenance".into()),
                by: Some("ops".into()),
            }
        }
    }
}

/// Enables every transition and completes or approves whatever runs until nothing does.
fn drive_to_the_end(h: &mut Harness) {
    for stage in STAGES {
        h.enable(stage);
    }
    let mut voters = 0;
    for _ in 0..1000 {
        let Some((execution, stage, action, run_id)) = h.live_runs().into_iter().next() else {
            return;
        };
        h.tick(1);
        if action == "SignOff" {
            voters += 1;
            h.approve(&execution, &stage, &action, &format!("drain-{voters}"))
                .unwrap();
        } else {
            h.complete(&run_id, true, &[("CommitId", "abc"), ("version", "1")]);
        }
    }
    panic!("executions still run after 1000 steps");
}

fn explore(mode: ExecutionMode, seed: u64, steps: usize) {
    let mut h = Harness::new(subject(mode));
    let mut rng = Rng::new(seed);
    let mut next_id = 0;
    for _ in 0..steps {
        let event = random_event(&mut h, &mut rng, &mut next_id);
        // Rejections are fine; the harness checks they changed nothing.
        let _ = h.try_apply(event);
    }
    h.assert_replays_identically();
    drive_to_the_end(&mut h);
    for (id, execution) in &h.state.executions {
        assert!(
            execution.status.is_terminal(),
            "{mode:?} seed {seed}: {id} is stuck {:?} at {:?}",
            execution.status,
            execution.position
        );
    }
    assert!(h.state.gates.occupant.is_empty(), "{mode:?} seed {seed}");
    assert!(h.state.gates.waiting.is_empty(), "{mode:?} seed {seed}");
}

/// Seeds per mode: `BATON_ENGINE_SEEDS` to explore more (or fewer) than the default.
fn seeds() -> u64 {
    std::env::var("BATON_ENGINE_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(60)
}

#[test]
fn random_sequences_keep_the_invariants_in_superseded_mode() {
    for seed in 0..seeds() {
        explore(ExecutionMode::Superseded, seed, 150);
    }
}

#[test]
fn random_sequences_keep_the_invariants_in_queued_mode() {
    for seed in 0..seeds() {
        explore(ExecutionMode::Queued, seed, 150);
    }
}

#[test]
fn random_sequences_keep_the_invariants_in_parallel_mode() {
    for seed in 0..seeds() {
        explore(ExecutionMode::Parallel, seed, 150);
    }
}

#[test]
fn the_same_events_give_the_same_state_and_effects() {
    let run = || {
        let mut h = Harness::new(subject(ExecutionMode::Queued));
        h.start("e01");
        h.start("e02");
        h.complete("e01.1", true, &[("CommitId", "abc")]);
        h.disable("Release");
        h.complete("e01.2", true, &[("version", "2")]);
        h.succeed("e01.3");
        h.succeed("e01.4");
        h.stop("e02", true).unwrap();
        h.enable("Release");
        h.approve("e01", "Release", "SignOff", "alice").unwrap();
        h.tick(24 * 60);
        h.timeout("e01.6");
        h.reject("e01", "Release", "SignOff", "bob", "no").unwrap();
        h.retry("e01", "Release", true).unwrap();
        h
    };
    let (a, b) = (run(), run());
    assert_eq!(a.state, b.state);
    assert_eq!(a.effects, b.effects);
    assert_eq!(a.events, b.events);
    a.assert_replays_identically();
}
