//! The idle decision: one pure function of a notebook, its tags, its heartbeat, the time and the policy.
//!
//! A notebook is idle since the later of its last heartbeat and its last start. It is warned first and
//! stopped only once the warning is out (a stop never comes unannounced), unless warnings are disabled.
//! An exemption tag with an expiry keeps it running whatever else holds, the runtime cap included, except a
//! lock (deactivated owner, decommissioned notebook) and an expired custodian grant: those stop it at once.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use chrono::{DateTime, Duration, Timelike, Utc};
use serde::{Deserialize, Serialize};

use super::notebook::NotebookStatus;
use super::tags;

/// What to do with a notebook whose agent has not reported since the notebook last started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SilentAgentPolicy {
    /// Idle since its start: stopped after its timeout like any idle notebook (a broken agent costs the
    /// owner a restart, never money).
    Stop,
    /// Left running, reported as `agent-silent` on every sweep so that the platform team can act.
    Keep,
}

/// The platform's idle policy, from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdlePolicy {
    pub default_timeout_minutes: u32,
    pub timeout_by_instance_type: BTreeMap<String, u32>,
    /// Bounds a notebook's own timeout tag must respect; a tag outside them is ignored.
    pub timeout_bounds_minutes: RangeInclusive<u32>,
    /// Stop a notebook that has run this long since its last start, idle or not (unless exempt).
    pub max_runtime_minutes: Option<u32>,
    /// No decision in the first minutes after a start: the agent has not had time to report.
    pub start_grace_minutes: u32,
    /// Warn this many minutes before a stop; 0 stops without a warning.
    pub warning_minutes: u32,
    pub silent_agent: SilentAgentPolicy,
    /// The furthest an exemption may reach; a tag beyond it is ignored.
    pub max_exemption_days: u32,
}

/// A notebook as the sweeper sees it, from the bulk listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweptNotebook {
    pub name: String,
    pub status: NotebookStatus,
    pub instance_type: String,
    /// When it last started (SageMaker's `LastModifiedTime`: a start is the last change of an InService notebook).
    pub last_start: DateTime<Utc>,
    pub tags: BTreeMap<String, String>,
    pub last_heartbeat: Option<DateTime<Utc>>,
    /// When the current idle period was last warned about, if ever.
    pub warned_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum StopReason {
    Idle {
        idle_minutes: i64,
        timeout_minutes: u32,
    },
    MaxRuntime {
        runtime_minutes: i64,
        cap_minutes: u32,
    },
    /// The notebook is locked (owner deactivated, or decommissioned): it stays stopped, exempt or not.
    Locked {
        locked_at: Option<DateTime<Utc>>,
    },
    /// A custodian notebook whose time-bound access has expired.
    AccessExpired {
        expired_at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum IdleVerdict {
    NotInService,
    Exempt {
        until: DateTime<Utc>,
    },
    InGrace,
    /// Running and in use (or idle for less than its timeout minus the warning).
    Active {
        idle_minutes: i64,
        timeout_minutes: u32,
    },
    AgentSilent {
        since_start_minutes: i64,
    },
    /// Due for a stop: the owner is warned now; the stop comes on a sweep after `stop_after`.
    Warn {
        reason: StopReason,
        stop_after: DateTime<Utc>,
    },
    /// Already warned; waiting for the warning's lead time to pass (activity in between cancels it).
    Warned {
        stop_after: DateTime<Utc>,
    },
    Stop {
        reason: StopReason,
    },
}

impl IdleVerdict {
    /// A short name for counts and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            IdleVerdict::NotInService => "not-in-service",
            IdleVerdict::Exempt { .. } => "exempt",
            IdleVerdict::InGrace => "in-grace",
            IdleVerdict::Active { .. } => "active",
            IdleVerdict::AgentSilent { .. } => "agent-silent",
            IdleVerdict::Warn { .. } => "warn",
            IdleVerdict::Warned { .. } => "warned",
            IdleVerdict::Stop { .. } => "stop",
        }
    }
}

/// Every verdict label, for reports that list zero counts too.
pub const VERDICT_LABELS: &[&str] =
    &["not-in-service", "exempt", "in-grace", "active", "agent-silent", "warn", "warned", "stop"];

impl IdlePolicy {
    /// The notebook's timeout: its own tag when valid, else the instance type's, else the default.
    pub fn timeout_minutes(&self, notebook: &SweptNotebook) -> (u32, Option<String>) {
        let fallback =
            self.timeout_by_instance_type.get(&notebook.instance_type).copied().unwrap_or(self.default_timeout_minutes);
        match notebook.tags.get(tags::IDLE_TIMEOUT_MINUTES) {
            None => (fallback, None),
            Some(value) => match value.trim().parse::<u32>() {
                Ok(minutes) if self.timeout_bounds_minutes.contains(&minutes) => (minutes, None),
                _ => (
                    fallback,
                    Some(format!(
                        "{}={value:?} ignored: must be a whole number of minutes between {} and {}",
                        tags::IDLE_TIMEOUT_MINUTES,
                        self.timeout_bounds_minutes.start(),
                        self.timeout_bounds_minutes.end()
                    )),
                ),
            },
        }
    }

    /// The exemption's expiry when the tag is valid and still ahead.
    pub fn exemption(&self, notebook: &SweptNotebook, now: DateTime<Utc>) -> (Option<DateTime<Utc>>, Option<String>) {
        let Some(value) = notebook.tags.get(tags::IDLE_EXEMPT_UNTIL) else { return (None, None) };
        match DateTime::parse_from_rfc3339(value.trim()) {
            Ok(until) => {
                let until = until.with_timezone(&Utc);
                if until > now + Duration::days(i64::from(self.max_exemption_days)) {
                    (
                        None,
                        Some(format!(
                            "{}={value} ignored: at most {} days ahead",
                            tags::IDLE_EXEMPT_UNTIL,
                            self.max_exemption_days
                        )),
                    )
                } else if until > now {
                    (Some(until), None)
                } else {
                    (None, None)
                }
            }
            Err(_) => (
                None,
                Some(format!(
                    "{}={value:?} ignored: not an RFC 3339 time such as 2026-12-01T18:00:00Z",
                    tags::IDLE_EXEMPT_UNTIL
                )),
            ),
        }
    }
}

/// Decides what to do with one notebook at `now`, and reports any tag it had to ignore.
pub fn idle_verdict(notebook: &SweptNotebook, policy: &IdlePolicy, now: DateTime<Utc>) -> (IdleVerdict, Vec<String>) {
    let mut problems = Vec::new();
    if notebook.status != NotebookStatus::InService {
        return (IdleVerdict::NotInService, problems);
    }
    // A lock and an expired custodian grant stop the notebook at once: no exemption, no warning.
    if let Some(locked) = notebook.tags.get(tags::LOCKED_AT) {
        let locked_at = DateTime::parse_from_rfc3339(locked).ok().map(|t| t.with_timezone(&Utc));
        return (IdleVerdict::Stop { reason: StopReason::Locked { locked_at } }, problems);
    }
    if let Some(expired_at) = access_expired(&notebook.tags, now) {
        return (IdleVerdict::Stop { reason: StopReason::AccessExpired { expired_at } }, problems);
    }
    let (exempt_until, exemption_problem) = policy.exemption(notebook, now);
    problems.extend(exemption_problem);
    if let Some(until) = exempt_until {
        return (IdleVerdict::Exempt { until }, problems);
    }
    let (timeout_minutes, timeout_problem) = policy.timeout_minutes(notebook);
    problems.extend(timeout_problem);

    let lead = Duration::minutes(i64::from(policy.warning_minutes));
    let since_start = minutes(now - notebook.last_start);
    let heartbeat = notebook.last_heartbeat.filter(|beat| *beat > notebook.last_start);
    let idle_since = heartbeat.unwrap_or(notebook.last_start);
    let idle_minutes = minutes(now - idle_since);

    // What would stop it, when that is due, and since when a warning counts as announcing it.
    let runtime_due =
        policy.max_runtime_minutes.map(|cap| (cap, notebook.last_start + Duration::minutes(i64::from(cap))));
    let (reason, due, announced_since) = match runtime_due {
        // The runtime cap wins over activity: past it a notebook stops, busy or not.
        Some((cap, due)) if now >= due - lead => {
            (StopReason::MaxRuntime { runtime_minutes: since_start, cap_minutes: cap }, due, due - lead)
        }
        _ => {
            if since_start < i64::from(policy.start_grace_minutes) {
                return (IdleVerdict::InGrace, problems);
            }
            if heartbeat.is_none() && policy.silent_agent == SilentAgentPolicy::Keep {
                return (IdleVerdict::AgentSilent { since_start_minutes: since_start }, problems);
            }
            let due = idle_since + Duration::minutes(i64::from(timeout_minutes));
            if now < due - lead {
                return (IdleVerdict::Active { idle_minutes, timeout_minutes }, problems);
            }
            (StopReason::Idle { idle_minutes, timeout_minutes }, due, idle_since)
        }
    };

    // An idle warning from before an exemption (a snooze) that has since ended announces nothing: the owner
    // kept the notebook on purpose, so the end of the exemption is warned about afresh.
    let ended_exemption = notebook
        .tags
        .get(tags::IDLE_EXEMPT_UNTIL)
        .and_then(|v| DateTime::parse_from_rfc3339(v.trim()).ok())
        .map(|t| t.with_timezone(&Utc))
        .filter(|until| *until <= now);
    let announced_since = match (&reason, ended_exemption) {
        // The runtime cap is the platform's limit: its warning stands.
        (StopReason::Idle { .. }, Some(until)) => announced_since.max(until),
        _ => announced_since,
    };
    // S3 reports LastModified in whole seconds, SageMaker its times to the millisecond: a warning recorded
    // in the same second as the start it follows must still count.
    let announced_since = announced_since.with_nanosecond(0).unwrap_or(announced_since);
    let verdict = if policy.warning_minutes == 0 {
        if now >= due {
            IdleVerdict::Stop { reason }
        } else {
            IdleVerdict::Active { idle_minutes, timeout_minutes }
        }
    } else {
        match notebook.warned_at.filter(|warned| *warned >= announced_since) {
            None => IdleVerdict::Warn { reason, stop_after: due.max(now + lead) },
            Some(warned) if now >= due.max(warned + lead) => IdleVerdict::Stop { reason },
            Some(warned) => IdleVerdict::Warned { stop_after: due.max(warned + lead) },
        }
    };
    (verdict, problems)
}

/// When a custodian notebook's access expired, if it has (an unreadable expiry counts as expired: the
/// provisioner always writes a valid one, so anything else was tampered with).
pub fn access_expired(tags: &BTreeMap<String, String>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let value = tags.get(tags::ACCESS_EXPIRES_AT)?;
    match DateTime::parse_from_rfc3339(value) {
        Ok(at) if at.with_timezone(&Utc) > now => None,
        Ok(at) => Some(at.with_timezone(&Utc)),
        Err(_) => Some(now),
    }
}

fn minutes(duration: Duration) -> i64 {
    duration.num_minutes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).single().expect("valid time")
    }

    fn at(minutes: i64) -> DateTime<Utc> {
        t0() + Duration::minutes(minutes)
    }

    fn policy() -> IdlePolicy {
        IdlePolicy {
            default_timeout_minutes: 60,
            timeout_by_instance_type: BTreeMap::from([("ml.m5.xlarge".to_owned(), 30)]),
            timeout_bounds_minutes: 15..=1440,
            max_runtime_minutes: Some(12 * 60),
            start_grace_minutes: 15,
            warning_minutes: 15,
            silent_agent: SilentAgentPolicy::Stop,
            max_exemption_days: 14,
        }
    }

    /// Started at t0, last heartbeat at `beat` minutes, warned at `warned` minutes.
    fn notebook(beat: Option<i64>, warned: Option<i64>, tags: &[(&str, &str)]) -> SweptNotebook {
        SweptNotebook {
            name: "nb".into(),
            status: NotebookStatus::InService,
            instance_type: "ml.t3.medium".into(),
            last_start: t0(),
            tags: tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            last_heartbeat: beat.map(at),
            warned_at: warned.map(at),
        }
    }

    fn verdict(nb: &SweptNotebook, now: i64) -> IdleVerdict {
        idle_verdict(nb, &policy(), at(now)).0
    }

    #[test]
    fn the_idle_timeline_runs_active_warn_warned_stop() {
        let idle = |minutes| StopReason::Idle { idle_minutes: minutes, timeout_minutes: 60 };
        // Last activity at 20 minutes; the timeout is 60, the warning 15 minutes ahead.
        assert_eq!(
            verdict(&notebook(Some(20), None, &[]), 64),
            IdleVerdict::Active { idle_minutes: 44, timeout_minutes: 60 }
        );
        assert_eq!(
            verdict(&notebook(Some(20), None, &[]), 65),
            IdleVerdict::Warn { reason: idle(45), stop_after: at(80) }
        );
        assert_eq!(verdict(&notebook(Some(20), Some(65), &[]), 75), IdleVerdict::Warned { stop_after: at(80) });
        assert_eq!(verdict(&notebook(Some(20), Some(65), &[]), 80), IdleVerdict::Stop { reason: idle(60) });
    }

    #[test]
    fn a_stop_is_always_announced_first() {
        // Found long idle (the sweeper was just deployed): warned now, stopped a lead time later.
        let reason = StopReason::Idle { idle_minutes: 280, timeout_minutes: 60 };
        assert_eq!(verdict(&notebook(Some(20), None, &[]), 300), IdleVerdict::Warn { reason, stop_after: at(315) });
        assert_eq!(verdict(&notebook(Some(20), Some(300), &[]), 310), IdleVerdict::Warned { stop_after: at(315) });
    }

    #[test]
    fn activity_after_a_warning_cancels_it() {
        // Warned at 65, active again at 70: the old warning belongs to the previous idle period.
        assert_eq!(
            verdict(&notebook(Some(70), Some(65), &[]), 90),
            IdleVerdict::Active { idle_minutes: 20, timeout_minutes: 60 }
        );
        assert!(matches!(verdict(&notebook(Some(70), Some(65), &[]), 115), IdleVerdict::Warn { .. }));
    }

    #[test]
    fn timeouts_come_from_the_tag_then_the_instance_type_then_the_default() {
        let tagged = notebook(Some(0), None, &[(tags::IDLE_TIMEOUT_MINUTES, "120")]);
        assert_eq!(verdict(&tagged, 100), IdleVerdict::Active { idle_minutes: 100, timeout_minutes: 120 });
        let mut m5 = notebook(Some(0), None, &[]);
        m5.instance_type = "ml.m5.xlarge".into();
        assert!(matches!(verdict(&m5, 20), IdleVerdict::Warn { .. }));
        for bad in ["5", "100000", "soon", "-1"] {
            let (v, problems) =
                idle_verdict(&notebook(Some(0), None, &[(tags::IDLE_TIMEOUT_MINUTES, bad)]), &policy(), at(30));
            assert_eq!(v, IdleVerdict::Active { idle_minutes: 30, timeout_minutes: 60 }, "{bad}");
            assert!(problems[0].contains("ignored"), "{problems:?}");
        }
    }

    #[test]
    fn a_warning_from_before_an_ended_snooze_is_given_again() {
        // Warned at 80 minutes, snoozed until 120: at 130 the old warning does not count, a new one goes out.
        let snoozed_until = at(120).to_rfc3339();
        let nb = notebook(Some(0), Some(80), &[(tags::IDLE_EXEMPT_UNTIL, &snoozed_until)]);
        assert!(matches!(verdict(&nb, 100), IdleVerdict::Exempt { .. }));
        assert!(matches!(verdict(&nb, 130), IdleVerdict::Warn { .. }), "{:?}", verdict(&nb, 130));
        let rewarned = SweptNotebook { warned_at: Some(at(130)), ..nb };
        assert!(matches!(verdict(&rewarned, 140), IdleVerdict::Warned { .. }));
        assert!(matches!(verdict(&rewarned, 146), IdleVerdict::Stop { .. }));
    }

    #[test]
    fn exemptions_hold_until_they_expire_and_are_bounded() {
        let until = "2026-11-23T20:00:00Z";
        let exempt = notebook(Some(0), None, &[(tags::IDLE_EXEMPT_UNTIL, until)]);
        assert!(matches!(verdict(&exempt, 600), IdleVerdict::Exempt { .. }));
        assert!(matches!(verdict(&exempt, 13 * 60), IdleVerdict::Warn { .. }), "expired at 12:00 after t0");
        let (v, problems) = idle_verdict(
            &notebook(Some(0), None, &[(tags::IDLE_EXEMPT_UNTIL, "2027-06-01T00:00:00Z")]),
            &policy(),
            at(100),
        );
        assert!(matches!(v, IdleVerdict::Warn { .. }));
        assert!(problems[0].contains("at most 14 days"));
        let (_, problems) =
            idle_verdict(&notebook(Some(0), None, &[(tags::IDLE_EXEMPT_UNTIL, "tomorrow")]), &policy(), at(100));
        assert!(problems[0].contains("RFC 3339"));
    }

    #[test]
    fn a_locked_notebook_in_service_is_stopped_at_once_exempt_and_busy_or_not() {
        let locked = notebook(
            Some(29),
            None,
            &[(tags::LOCKED_AT, "2026-11-23T08:20:00Z"), (tags::IDLE_EXEMPT_UNTIL, "2026-11-23T20:00:00Z")],
        );
        let locked_at = DateTime::parse_from_rfc3339("2026-11-23T08:20:00Z").ok().map(|t| t.with_timezone(&Utc));
        assert_eq!(verdict(&locked, 30), IdleVerdict::Stop { reason: StopReason::Locked { locked_at } });
        let mut stopped = locked.clone();
        stopped.status = NotebookStatus::Stopped;
        assert_eq!(verdict(&stopped, 30), IdleVerdict::NotInService);
    }

    #[test]
    fn a_custodian_notebook_stops_when_its_access_expires() {
        let custody = notebook(Some(100), None, &[(tags::ACCESS_EXPIRES_AT, "2026-11-23T10:00:00Z")]);
        assert!(matches!(verdict(&custody, 110), IdleVerdict::Active { .. }), "busy and not expired");
        assert_eq!(
            verdict(&custody, 120),
            IdleVerdict::Stop { reason: StopReason::AccessExpired { expired_at: at(120) } },
            "expired: stopped without a warning"
        );
        let tampered = notebook(Some(100), None, &[(tags::ACCESS_EXPIRES_AT, "never")]);
        assert!(matches!(verdict(&tampered, 110), IdleVerdict::Stop { reason: StopReason::AccessExpired { .. } }));
    }

    #[test]
    fn a_warning_in_the_same_second_as_the_start_counts() {
        let mut nb = notebook(None, None, &[]);
        nb.last_start = t0() + Duration::milliseconds(900);
        nb.warned_at = Some(t0()); // S3's whole-second LastModified of a warning written 50 ms later
        assert!(matches!(verdict(&nb, 100), IdleVerdict::Stop { .. }));
    }

    #[test]
    fn a_fresh_start_gets_its_grace_period() {
        assert_eq!(verdict(&notebook(None, None, &[]), 10), IdleVerdict::InGrace);
    }

    #[test]
    fn a_silent_agent_follows_the_configured_policy() {
        // Stop: idle since the start.
        assert!(matches!(verdict(&notebook(None, None, &[]), 50), IdleVerdict::Warn { .. }));
        let mut keep = policy();
        keep.silent_agent = SilentAgentPolicy::Keep;
        assert_eq!(
            idle_verdict(&notebook(None, None, &[]), &keep, at(500)).0,
            IdleVerdict::AgentSilent { since_start_minutes: 500 }
        );
        // A heartbeat from before the last start does not count as the agent reporting.
        let mut stale = notebook(None, None, &[]);
        stale.last_heartbeat = Some(t0() - Duration::hours(3));
        assert_eq!(idle_verdict(&stale, &keep, at(500)).0, IdleVerdict::AgentSilent { since_start_minutes: 500 });
    }

    #[test]
    fn the_runtime_cap_stops_busy_notebooks_after_a_warning() {
        let busy_at = |now: i64| notebook(Some(now - 1), None, &[]);
        assert!(matches!(verdict(&busy_at(700), 704), IdleVerdict::Active { .. }));
        assert!(matches!(verdict(&busy_at(706), 706), IdleVerdict::Warn { reason: StopReason::MaxRuntime { .. }, .. }));
        let mut warned = busy_at(720);
        warned.warned_at = Some(at(705));
        assert!(matches!(
            verdict(&warned, 720),
            IdleVerdict::Stop { reason: StopReason::MaxRuntime { cap_minutes: 720, .. } }
        ));
        // A warning is out for its full lead time before the stop, even when it went out late.
        warned.warned_at = Some(at(710));
        assert_eq!(verdict(&warned, 720), IdleVerdict::Warned { stop_after: at(725) });
    }

    #[test]
    fn only_in_service_notebooks_are_considered() {
        for status in
            [NotebookStatus::Pending, NotebookStatus::Stopping, NotebookStatus::Stopped, NotebookStatus::Updating]
        {
            let mut nb = notebook(None, None, &[]);
            nb.status = status;
            assert_eq!(verdict(&nb, 10_000), IdleVerdict::NotInService);
        }
    }

    #[test]
    fn without_warnings_a_notebook_stops_at_its_timeout() {
        let mut no_warning = policy();
        no_warning.warning_minutes = 0;
        assert!(matches!(
            idle_verdict(&notebook(Some(0), None, &[]), &no_warning, at(59)).0,
            IdleVerdict::Active { .. }
        ));
        assert!(matches!(idle_verdict(&notebook(Some(0), None, &[]), &no_warning, at(60)).0, IdleVerdict::Stop { .. }));
    }

    fn arb_notebook() -> impl Strategy<Value = (SweptNotebook, i64)> {
        (
            prop_oneof![Just(NotebookStatus::InService), Just(NotebookStatus::Stopped), Just(NotebookStatus::Pending)],
            proptest::option::of(-100i64..2000),
            proptest::option::of(0i64..2000),
            proptest::option::of(prop_oneof![
                Just("10".to_owned()),
                Just("45".to_owned()),
                Just("600".to_owned()),
                Just("x".to_owned())
            ]),
            proptest::option::of(-600i64..3000),
            0i64..3000,
        )
            .prop_map(|(status, beat, warned, timeout, exempt, now)| {
                let mut nb = notebook(beat, warned, &[]);
                nb.status = status;
                if let Some(timeout) = timeout {
                    nb.tags.insert(tags::IDLE_TIMEOUT_MINUTES.into(), timeout);
                }
                if let Some(exempt) = exempt {
                    nb.tags.insert(tags::IDLE_EXEMPT_UNTIL.into(), at(exempt).to_rfc3339());
                }
                (nb, now)
            })
    }

    proptest! {
        #[test]
        fn never_stops_an_exempt_a_recently_active_or_a_stopped_notebook((nb, now) in arb_notebook()) {
            let mut policy = policy();
            policy.max_runtime_minutes = None;
            let (verdict, _) = idle_verdict(&nb, &policy, at(now));
            if let IdleVerdict::Stop { .. } = verdict {
                prop_assert_eq!(&nb.status, &NotebookStatus::InService);
                let exempt = policy.exemption(&nb, at(now)).0;
                prop_assert!(exempt.is_none(), "stopped an exempt notebook");
                let (timeout, _) = policy.timeout_minutes(&nb);
                if let Some(beat) = nb.last_heartbeat.filter(|b| *b > nb.last_start) {
                    prop_assert!(at(now) - beat >= Duration::minutes(i64::from(timeout)), "stopped within its timeout");
                }
            }
        }

        #[test]
        fn always_stops_past_the_runtime_cap_unless_exempt((nb, now) in arb_notebook(), warning in prop_oneof![Just(0u32), Just(15u32)]) {
            let mut policy = policy();
            policy.warning_minutes = warning;
            let cap = 720;
            let mut nb = nb;
            // Warned when the cap came near, as the sweeper records it.
            nb.warned_at = Some(at(i64::from(cap) - i64::from(warning)));
            let now = now.max(i64::from(cap));
            let (verdict, _) = idle_verdict(&nb, &policy, at(now));
            let exempt = policy.exemption(&nb, at(now)).0.is_some();
            if nb.status == NotebookStatus::InService && !exempt {
                prop_assert!(matches!(verdict, IdleVerdict::Stop { .. }), "{verdict:?}");
            } else {
                let stopped = matches!(verdict, IdleVerdict::Stop { .. });
                prop_assert!(!stopped, "stopped a notebook that is exempt or not in service");
            }
        }
    }
}
