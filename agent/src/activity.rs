//! The idle decision, pure: what Jupyter reported, the time now and the time of the previous check in;
//! heartbeat or idle out. No I/O, no clock: every case is a unit test.
//!
//! Activity is
//! - a kernel whose `execution_state` is `busy` (a cell is running, however long ago it started), or
//! - a kernel in `idle` or `busy` whose `last_activity` is newer than the previous check, or
//! - a terminal whose `last_activity` is newer than the previous check (typing, or output).
//!
//! A kernel in any other state (`starting`, `restarting`, `autorestarting`, `dead`, …) is never activity,
//! whatever its `last_activity` says: a kernel stuck in `starting` must not keep a notebook running forever.
//! An open terminal nobody types into is not activity either.

use chrono::{DateTime, Duration, Utc};

/// A kernel's `execution_state` as Jupyter reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionState {
    Busy,
    Idle,
    Starting,
    /// `restarting`, `autorestarting`, `dead`, `terminating`, or anything a later Jupyter adds.
    Other(String),
}

impl ExecutionState {
    pub fn parse(value: &str) -> Self {
        match value {
            "busy" => Self::Busy,
            "idle" => Self::Idle,
            "starting" => Self::Starting,
            other => Self::Other(other.to_owned()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    pub id: String,
    pub execution_state: ExecutionState,
    /// Absent or unreadable in Jupyter's answer: then only `busy` can make this kernel count.
    pub last_activity: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terminal {
    pub name: String,
    /// Older jupyter_server/terminals versions do not report it: such a terminal never counts.
    pub last_activity: Option<DateTime<Utc>>,
}

/// What one look at the Jupyter server found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub kernels: Vec<Kernel>,
    pub terminals: Vec<Terminal>,
    /// Sessions (notebook ↔ kernel): logged for diagnosis; a session alone is not activity.
    pub sessions: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityKind {
    KernelBusy,
    KernelActivity,
    TerminalActivity,
    /// The notebook user's processes kept the CPU busy for the minimum duration ([`crate::signals`]).
    ProcessCpu,
    /// A GPU was in use for the minimum duration.
    Gpu,
    /// A process wrapped by `nbf-keepalive` is alive.
    KeepAlive,
}

impl ActivityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KernelBusy => "kernel-busy",
            Self::KernelActivity => "kernel-activity",
            Self::TerminalActivity => "terminal-activity",
            Self::ProcessCpu => "process-cpu",
            Self::Gpu => "gpu",
            Self::KeepAlive => "keepalive",
        }
    }
}

impl std::fmt::Display for ActivityKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Write a heartbeat. `last_activity` is `now` for a busy kernel, else the newest activity seen.
    Heartbeat {
        kind: ActivityKind,
        last_activity: DateTime<Utc>,
    },
    Idle,
}

/// Counts for the decision's log line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub kernels: usize,
    pub busy: usize,
    pub starting: usize,
    pub terminals: usize,
    pub sessions: usize,
}

impl Counts {
    pub fn of(snapshot: &Snapshot) -> Self {
        let state = |s: &ExecutionState| snapshot.kernels.iter().filter(|k| &k.execution_state == s).count();
        Counts {
            kernels: snapshot.kernels.len(),
            busy: state(&ExecutionState::Busy),
            starting: state(&ExecutionState::Starting),
            terminals: snapshot.terminals.len(),
            sessions: snapshot.sessions,
        }
    }
}

/// Activity counts when it is strictly newer than this instant: the previous check, or one interval back
/// on the first check (so an agent that starts, or restarts, does not miss the minute before it).
pub fn activity_since(previous_check: Option<DateTime<Utc>>, now: DateTime<Utc>, interval: Duration) -> DateTime<Utc> {
    previous_check.unwrap_or(now - interval)
}

/// The decision for one check. A busy kernel wins (`kernel-busy`); otherwise the newest fresh activity
/// names the kind (a kernel on a tie).
pub fn decide(
    snapshot: &Snapshot,
    now: DateTime<Utc>,
    previous_check: Option<DateTime<Utc>>,
    interval: Duration,
) -> Decision {
    if snapshot.kernels.iter().any(|k| k.execution_state == ExecutionState::Busy) {
        return Decision::Heartbeat { kind: ActivityKind::KernelBusy, last_activity: now };
    }
    let since = activity_since(previous_check, now, interval);
    let fresh = |t: &Option<DateTime<Utc>>| t.filter(|t| *t > since);

    let kernel = snapshot
        .kernels
        .iter()
        .filter(|k| matches!(k.execution_state, ExecutionState::Idle | ExecutionState::Busy))
        .filter_map(|k| fresh(&k.last_activity))
        .max();
    let terminal = snapshot.terminals.iter().filter_map(|t| fresh(&t.last_activity)).max();

    match (kernel, terminal) {
        (Some(k), Some(t)) if t > k => Decision::Heartbeat { kind: ActivityKind::TerminalActivity, last_activity: t },
        (Some(k), _) => Decision::Heartbeat { kind: ActivityKind::KernelActivity, last_activity: k },
        (None, Some(t)) => Decision::Heartbeat { kind: ActivityKind::TerminalActivity, last_activity: t },
        (None, None) => Decision::Idle,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).single().expect("a valid date") + Duration::seconds(seconds)
    }

    const NOW: i64 = 600;
    const PREVIOUS: i64 = 540;

    fn interval() -> Duration {
        Duration::seconds(60)
    }

    fn kernel(state: &str, last_activity: Option<i64>) -> Kernel {
        Kernel {
            id: format!("k-{state}"),
            execution_state: ExecutionState::parse(state),
            last_activity: last_activity.map(at),
        }
    }

    fn terminal(last_activity: Option<i64>) -> Terminal {
        Terminal { name: "1".into(), last_activity: last_activity.map(at) }
    }

    fn snapshot(kernels: Vec<Kernel>, terminals: Vec<Terminal>) -> Snapshot {
        Snapshot { kernels, terminals, sessions: 0 }
    }

    fn decide_now(s: &Snapshot) -> Decision {
        decide(s, at(NOW), Some(at(PREVIOUS)), interval())
    }

    fn heartbeat(kind: ActivityKind, last_activity: i64) -> Decision {
        Decision::Heartbeat { kind, last_activity: at(last_activity) }
    }

    #[test]
    fn busy_kernel_is_a_heartbeat_at_now_even_with_old_or_no_last_activity() {
        for last in [Some(0), Some(PREVIOUS - 1), None] {
            let s = snapshot(vec![kernel("busy", last)], vec![]);
            assert_eq!(decide_now(&s), heartbeat(ActivityKind::KernelBusy, NOW), "last_activity {last:?}");
        }
    }

    #[test]
    fn busy_kernel_wins_over_newer_terminal_and_kernel_activity() {
        let s = snapshot(vec![kernel("idle", Some(NOW - 1)), kernel("busy", Some(0))], vec![terminal(Some(NOW - 1))]);
        assert_eq!(decide_now(&s), heartbeat(ActivityKind::KernelBusy, NOW));
    }

    #[test]
    fn idle_kernel_with_activity_after_the_previous_check_is_a_heartbeat() {
        let s = snapshot(vec![kernel("idle", Some(PREVIOUS + 5))], vec![]);
        assert_eq!(decide_now(&s), heartbeat(ActivityKind::KernelActivity, PREVIOUS + 5));
    }

    #[test]
    fn idle_kernel_with_activity_before_or_at_the_previous_check_is_idle() {
        for last in [0, PREVIOUS - 1, PREVIOUS] {
            let s = snapshot(vec![kernel("idle", Some(last))], vec![]);
            assert_eq!(decide_now(&s), Decision::Idle, "last_activity {last}");
        }
    }

    #[test]
    fn idle_kernel_without_last_activity_is_idle() {
        assert_eq!(decide_now(&snapshot(vec![kernel("idle", None)], vec![])), Decision::Idle);
    }

    #[test]
    fn starting_kernel_is_never_activity_even_with_fresh_last_activity() {
        for last in [Some(NOW), Some(PREVIOUS + 1), Some(NOW + 30), None] {
            let s = snapshot(vec![kernel("starting", last)], vec![]);
            assert_eq!(decide_now(&s), Decision::Idle, "last_activity {last:?}");
            // … also on a first check.
            assert_eq!(decide(&s, at(NOW), None, interval()), Decision::Idle);
        }
    }

    #[test]
    fn starting_kernel_does_not_block_or_mask_other_activity() {
        let s = snapshot(vec![kernel("starting", Some(NOW)), kernel("idle", Some(PREVIOUS + 2))], vec![]);
        assert_eq!(decide_now(&s), heartbeat(ActivityKind::KernelActivity, PREVIOUS + 2));
        let s = snapshot(vec![kernel("starting", Some(NOW))], vec![terminal(Some(PREVIOUS + 3))]);
        assert_eq!(decide_now(&s), heartbeat(ActivityKind::TerminalActivity, PREVIOUS + 3));
    }

    #[test]
    fn restarting_dead_and_unknown_kernels_are_not_activity() {
        for state in ["restarting", "autorestarting", "dead", "terminating", "something-new"] {
            let s = snapshot(vec![kernel(state, Some(NOW))], vec![]);
            assert_eq!(decide_now(&s), Decision::Idle, "{state}");
        }
    }

    #[test]
    fn terminal_with_activity_after_the_previous_check_is_a_heartbeat() {
        let s = snapshot(vec![], vec![terminal(Some(PREVIOUS + 10))]);
        assert_eq!(decide_now(&s), heartbeat(ActivityKind::TerminalActivity, PREVIOUS + 10));
    }

    #[test]
    fn open_terminal_without_recent_activity_is_idle() {
        for last in [Some(0), Some(PREVIOUS), None] {
            let s = snapshot(vec![], vec![terminal(last)]);
            assert_eq!(decide_now(&s), Decision::Idle, "last_activity {last:?}");
        }
    }

    #[test]
    fn the_newest_fresh_activity_names_the_kind_and_a_tie_goes_to_the_kernel() {
        let s = snapshot(vec![kernel("idle", Some(PREVIOUS + 5))], vec![terminal(Some(PREVIOUS + 20))]);
        assert_eq!(decide_now(&s), heartbeat(ActivityKind::TerminalActivity, PREVIOUS + 20));
        let s = snapshot(vec![kernel("idle", Some(PREVIOUS + 20))], vec![terminal(Some(PREVIOUS + 5))]);
        assert_eq!(decide_now(&s), heartbeat(ActivityKind::KernelActivity, PREVIOUS + 20));
        let s = snapshot(vec![kernel("idle", Some(PREVIOUS + 7))], vec![terminal(Some(PREVIOUS + 7))]);
        assert_eq!(decide_now(&s), heartbeat(ActivityKind::KernelActivity, PREVIOUS + 7));
        let s = snapshot(
            vec![kernel("idle", Some(PREVIOUS + 1)), kernel("idle", Some(PREVIOUS + 9)), kernel("idle", Some(0))],
            vec![terminal(Some(0)), terminal(Some(PREVIOUS + 4))],
        );
        assert_eq!(decide_now(&s), heartbeat(ActivityKind::KernelActivity, PREVIOUS + 9));
    }

    #[test]
    fn no_kernels_and_no_terminals_is_idle() {
        assert_eq!(decide_now(&Snapshot::default()), Decision::Idle);
        assert_eq!(decide(&Snapshot::default(), at(NOW), None, interval()), Decision::Idle);
    }

    #[test]
    fn sessions_alone_are_not_activity() {
        let s = Snapshot { kernels: vec![], terminals: vec![], sessions: 3 };
        assert_eq!(decide_now(&s), Decision::Idle);
    }

    #[test]
    fn first_check_looks_back_one_interval() {
        assert_eq!(activity_since(None, at(NOW), interval()), at(NOW - 60));
        assert_eq!(activity_since(Some(at(PREVIOUS)), at(NOW), interval()), at(PREVIOUS));

        let first = |s: &Snapshot| decide(s, at(NOW), None, interval());
        // Within the interval before now: activity.
        assert_eq!(
            first(&snapshot(vec![kernel("idle", Some(NOW - 59))], vec![])),
            heartbeat(ActivityKind::KernelActivity, NOW - 59)
        );
        assert_eq!(
            first(&snapshot(vec![], vec![terminal(Some(NOW - 30))])),
            heartbeat(ActivityKind::TerminalActivity, NOW - 30)
        );
        // Exactly one interval back, or older: not.
        assert_eq!(first(&snapshot(vec![kernel("idle", Some(NOW - 60))], vec![])), Decision::Idle);
        assert_eq!(first(&snapshot(vec![], vec![terminal(Some(NOW - 61))])), Decision::Idle);
        // A longer interval reaches further back.
        assert_eq!(
            decide(&snapshot(vec![kernel("idle", Some(NOW - 100))], vec![]), at(NOW), None, Duration::seconds(300)),
            heartbeat(ActivityKind::KernelActivity, NOW - 100)
        );
    }

    #[test]
    fn the_previous_check_is_the_bound_not_the_interval() {
        // The previous successful check was long ago (Jupyter was down for a while): what happened since counts.
        let s = snapshot(vec![kernel("idle", Some(NOW - 500))], vec![]);
        assert_eq!(decide(&s, at(NOW), Some(at(0)), interval()), heartbeat(ActivityKind::KernelActivity, NOW - 500));
        assert_eq!(decide(&s, at(NOW), Some(at(NOW - 400)), interval()), Decision::Idle);
    }

    #[test]
    fn execution_states_parse() {
        assert_eq!(ExecutionState::parse("busy"), ExecutionState::Busy);
        assert_eq!(ExecutionState::parse("idle"), ExecutionState::Idle);
        assert_eq!(ExecutionState::parse("starting"), ExecutionState::Starting);
        assert_eq!(ExecutionState::parse("dead"), ExecutionState::Other("dead".into()));
    }

    #[test]
    fn counts_for_the_log_line() {
        let s = Snapshot {
            kernels: vec![
                kernel("busy", None),
                kernel("starting", None),
                kernel("starting", None),
                kernel("idle", None),
            ],
            terminals: vec![terminal(None)],
            sessions: 2,
        };
        assert_eq!(Counts::of(&s), Counts { kernels: 4, busy: 1, starting: 2, terminals: 1, sessions: 2 });
    }

    #[test]
    fn kinds_are_spelt_as_in_the_heartbeat_contract() {
        assert_eq!(ActivityKind::KernelBusy.to_string(), "kernel-busy");
        assert_eq!(ActivityKind::KernelActivity.to_string(), "kernel-activity");
        assert_eq!(ActivityKind::TerminalActivity.to_string(), "terminal-activity");
    }
}
