//! The sweep journal: the idle sweeper's write-ahead audit. No action happens without a record:
//! - before its first warning, stop or revocation, a sweep writes every action it intends, with the event
//!   each emits when done, to `journal/<day>/<sweep time>/intents.json` in the audit bucket (written once,
//!   object lock keeps it). If that write fails, the sweep acts on nothing;
//! - after acting, it writes each done action's audit record (under the notebook's and the owner's histories)
//!   and publishes its event, then closes the journal: `settled.json` when every done action is recorded and
//!   published, `outstanding.json` (what remains) when a record or an event failed;
//! - a journal with intents and no settlement is open. The next sweep finishes it: it finds out from the
//!   listings it made anyway which intended actions were done (a warning marker written since, a notebook no
//!   longer in service, a revocation tag), writes their records (the same bytes under the same keys, so a
//!   record already there is not written twice), publishes their events and settles the journal. A journal
//!   with `outstanding.json` says exactly which records and events remain; one without (the sweep died) is
//!   finished only once no sweep can still be running it ([`RECONCILE_AFTER`]), and its done actions' events
//!   are published again (at least once, after a crash).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::audit_key::{format_time, parse_time};
use super::audit_versions::KeyVersions;
use super::outcome::OutcomeEvent;

pub const JOURNAL_PREFIX: &str = "journal/";
/// The audit record's action of a journal's intents, and of its settlement.
pub const SWEEP_ACTIONS_INTENDED: &str = "Sweep Actions Intended";
pub const SWEEP_ACTIONS_SETTLED: &str = "Sweep Actions Settled";
pub const SWEEP_ACTIONS_OUTSTANDING: &str = "Sweep Actions Outstanding";
const INTENTS: &str = "intents.json";
const SETTLED: &str = "settled.json";
const OUTSTANDING: &str = "outstanding.json";

/// A journal without any settlement belongs to a sweep that died, once it is older than this: the sweeper's
/// function timeout (300 s in the template) and 30 s for clocks. (The template also reserves one concurrent
/// execution, so scheduled sweeps never overlap; the deploy rehearsal holds it to the timeout.)
pub const RECONCILE_AFTER: Duration = Duration::seconds(330);

/// What a sweep does to a notebook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    Warn,
    Stop,
    Revoke,
}

/// One action a sweep intends, with the event it emits once done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    pub kind: ActionKind,
    pub notebook_name: String,
    pub event: OutcomeEvent,
}

/// The body of `intents.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intents {
    pub sweep_at: DateTime<Utc>,
    pub intents: Vec<Intent>,
}

/// What became of one intended action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settled {
    pub kind: ActionKind,
    pub notebook_name: String,
    /// The action was done (by the sweep, or found done by the one that reconciled it).
    pub done: bool,
    /// Why it was not done, when it was not: the next sweep decides again from the state it finds.
    pub note: Option<String>,
    /// Its audit record is written (a done action only).
    pub recorded: bool,
    /// Its event is on the bus (a done action only).
    pub published: bool,
}

impl Settled {
    /// Nothing remains to be written or published.
    pub fn finished(&self) -> bool {
        !self.done || (self.recorded && self.published)
    }
}

/// The body of `settled.json` or `outstanding.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    pub sweep_at: DateTime<Utc>,
    pub settled_at: DateTime<Utc>,
    /// `the sweep itself`, or the sweep that reconciled it.
    pub settled_by: String,
    pub actions: Vec<Settled>,
}

impl Settlement {
    pub fn finished(&self) -> bool {
        self.actions.iter().all(Settled::finished)
    }
}

/// Where one sweep's journal lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepJournal {
    pub sweep_at: DateTime<Utc>,
    pub prefix: String,
}

impl SweepJournal {
    pub fn of(sweep_at: DateTime<Utc>) -> Self {
        SweepJournal { sweep_at, prefix: format!("{}{}/", day_prefix(sweep_at), format_time(sweep_at)) }
    }

    pub fn intents_key(&self) -> String {
        format!("{}{INTENTS}", self.prefix)
    }

    pub fn settled_key(&self) -> String {
        format!("{}{SETTLED}", self.prefix)
    }

    pub fn outstanding_key(&self) -> String {
        format!("{}{OUTSTANDING}", self.prefix)
    }
}

/// `journal/2026-11-23/`.
fn day_prefix(at: DateTime<Utc>) -> String {
    format!("{JOURNAL_PREFIX}{}/", at.format("%Y-%m-%d"))
}

/// The prefixes a sweep at `now` lists for open journals: the day before, and the day itself. A journal left
/// open for longer than a day is not looked for again (it stays in the bucket).
pub fn journal_days(now: DateTime<Utc>) -> [String; 2] {
    [day_prefix(now - Duration::days(1)), day_prefix(now)]
}

/// An open journal, as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenJournal {
    pub journal: SweepJournal,
    pub intents_version: String,
    /// The version of `outstanding.json`, when the sweep lived to write it.
    pub outstanding_version: Option<String>,
}

/// The journals in the listing that are open at `now`, oldest first: intents and no `settled.json`, and
/// either an `outstanding.json` or an age over [`RECONCILE_AFTER`]. The sweep at `now` itself is never one.
pub fn open_journals(listed: &[KeyVersions], now: DateTime<Utc>) -> Vec<OpenJournal> {
    let first = |key: &str| listed.iter().find(|k| k.key == key).and_then(|k| k.first()).map(|v| v.version_id.clone());
    let mut open: Vec<OpenJournal> = listed
        .iter()
        .filter_map(|k| {
            let prefix = k.key.strip_suffix(INTENTS)?;
            let time = prefix.strip_suffix('/')?.rsplit('/').next()?;
            let sweep_at = parse_time(time)?;
            let journal = SweepJournal::of(sweep_at);
            (journal.prefix == prefix && sweep_at != now).then_some(journal)
        })
        .filter(|journal| first(&journal.settled_key()).is_none())
        .filter_map(|journal| {
            let intents_version = first(&journal.intents_key())?;
            let outstanding_version = first(&journal.outstanding_key());
            let old = now - journal.sweep_at > RECONCILE_AFTER;
            (outstanding_version.is_some() || old).then_some(OpenJournal {
                journal,
                intents_version,
                outstanding_version,
            })
        })
        .collect();
    open.sort_by_key(|o| o.journal.sweep_at);
    open
}

/// What the sweep that reconciles a journal sees of the fleet now, from the listings it made anyway.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// In-service notebooks and the time their status last changed.
    pub in_service: &'a HashMap<String, DateTime<Utc>>,
    /// When each notebook's current idle period was warned about.
    pub warnings: &'a HashMap<String, DateTime<Utc>>,
    /// Notebooks whose custodian grant is marked revoked.
    pub revoked: &'a HashSet<String>,
}

/// Whether an action intended at `sweep_at` was done, from what is seen now; `Err` says why not.
pub fn was_done(
    kind: ActionKind,
    notebook: &str,
    sweep_at: DateTime<Utc>,
    observed: Observed<'_>,
) -> Result<(), String> {
    match kind {
        // S3 keeps a write's time to the second: a marker written in the sweep's own second counts.
        ActionKind::Warn => match observed.warnings.get(notebook) {
            Some(warned_at) if *warned_at >= sweep_at - Duration::seconds(1) => Ok(()),
            _ => Err("no warning was recorded after the intent".into()),
        },
        ActionKind::Stop => match observed.in_service.get(notebook) {
            Some(changed) if *changed <= sweep_at => Err("the notebook is still in service".into()),
            // Out of service, or started again since: the stop happened.
            _ => Ok(()),
        },
        ActionKind::Revoke => {
            if observed.revoked.contains(notebook) {
                Ok(())
            } else {
                Err("the grant is not marked revoked".into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit_versions::ObjectVersion;
    use chrono::TimeZone;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).single().expect("valid") + Duration::seconds(seconds)
    }

    fn listed(keys: &[String]) -> Vec<KeyVersions> {
        keys.iter()
            .map(|key| KeyVersions {
                key: key.clone(),
                versions: vec![ObjectVersion {
                    version_id: format!("v-{key}"),
                    written_at: at(0),
                    delete_marker: false,
                }],
            })
            .collect()
    }

    #[test]
    fn a_journal_is_kept_under_its_day_and_sweep_time() {
        let journal = SweepJournal::of(at(0) + Duration::milliseconds(250));
        assert_eq!(journal.intents_key(), "journal/2026-11-23/20261123T120000.250Z/intents.json");
        assert_eq!(journal.settled_key(), "journal/2026-11-23/20261123T120000.250Z/settled.json");
        assert_eq!(journal_days(at(0)), ["journal/2026-11-22/", "journal/2026-11-23/"]);
    }

    #[test]
    fn open_journals_are_those_without_a_settlement_that_no_sweep_can_still_be_writing() {
        let (settled, crashed, recent, outstanding) =
            (SweepJournal::of(at(0)), SweepJournal::of(at(60)), SweepJournal::of(at(500)), SweepJournal::of(at(600)));
        let keys = [
            settled.intents_key(),
            settled.settled_key(),
            crashed.intents_key(),
            recent.intents_key(),
            outstanding.intents_key(),
            outstanding.outstanding_key(),
            "journal/2026-11-23/not-a-time/intents.json".to_owned(),
        ];
        let open = open_journals(&listed(&keys), at(700));
        let prefixes: Vec<_> = open.iter().map(|o| o.journal.prefix.as_str()).collect();
        // The crashed sweep is 640 s old (over 330 s); the recent one, 200 s, may still be running.
        assert_eq!(prefixes, [crashed.prefix.as_str(), outstanding.prefix.as_str()]);
        assert_eq!(open[0].outstanding_version, None);
        assert_eq!(open[1].outstanding_version, Some(format!("v-{}", outstanding.outstanding_key())));
        assert!(open_journals(&listed(&keys), at(600)).iter().all(|o| o.journal.sweep_at != at(600)));
    }

    #[test]
    fn an_action_is_found_done_from_the_fleet_as_listed_now() {
        let in_service = HashMap::from([("still-up".to_owned(), at(-3600)), ("restarted".to_owned(), at(120))]);
        let warnings =
            HashMap::from([("warned".to_owned(), at(0) - Duration::milliseconds(500)), ("old".to_owned(), at(-900))]);
        let revoked = HashSet::from(["revoked".to_owned()]);
        let seen = Observed { in_service: &in_service, warnings: &warnings, revoked: &revoked };
        let done = |kind, name| was_done(kind, name, at(0), seen).is_ok();
        assert!(done(ActionKind::Warn, "warned"), "a marker from the sweep's own second");
        assert!(!done(ActionKind::Warn, "old") && !done(ActionKind::Warn, "never"));
        assert!(!done(ActionKind::Stop, "still-up"));
        assert!(done(ActionKind::Stop, "restarted") && done(ActionKind::Stop, "gone"));
        assert!(done(ActionKind::Revoke, "revoked") && !done(ActionKind::Revoke, "still-up"));
        assert_eq!(was_done(ActionKind::Stop, "still-up", at(0), seen), Err("the notebook is still in service".into()));
    }

    #[test]
    fn a_settlement_is_finished_when_every_done_action_is_recorded_and_published() {
        let action = |done, recorded, published| Settled {
            kind: ActionKind::Stop,
            notebook_name: "nb".into(),
            done,
            note: None,
            recorded,
            published,
        };
        assert!(action(false, false, false).finished());
        assert!(action(true, true, true).finished());
        assert!(!action(true, true, false).finished() && !action(true, false, true).finished());
    }
}
