//! The idle sweep over in-memory ports, on every path an operator reads in its report: what it warned,
//! stopped and revoked, what failed (and so is tried again next sweep), which calls it made, what the audit
//! trail and the bus received. The sweep over the SDK is proven on the emulator in `tests/tests/sweep.rs`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::{SweepReport, IDLE_SWEEPER};
use crate::config::{sweep_settings, Vars, DRY_RUN};
use crate::config::{ASSETS_BUCKET, AUDIT_BUCKET, EVENT_BUS_NAME};
use crate::domain::audit::AuditRecord;
use crate::domain::idle::StopReason;
use crate::domain::journal::{
    ActionKind, Intent, Intents, Settlement, SweepJournal, JOURNAL_PREFIX, SWEEP_ACTIONS_INTENDED,
    SWEEP_ACTIONS_OUTSTANDING, SWEEP_ACTIONS_SETTLED,
};
use crate::domain::notebook::NotebookStatus;
use crate::domain::outcome::{
    IdleStopped, NotebookStopped, OutcomeEvent, CUSTODIAN_ACCESS_EXPIRED, NOTEBOOK_IDLE_WARNING, NOTEBOOK_STOPPED,
};
use crate::domain::settings::SweepSettings;
use crate::domain::tags;
use crate::error::{error_chain, ErrorKind, ServiceError};
use crate::testing::{AddedNotebook, FakeAws, FakeSweeper};

/// The listings every sweep starts with: the notebooks in service with their page's tags, the custodian
/// notebooks' tags, the heartbeats.
const LISTINGS: [&str; 4] = ["ListNotebookInstances", "GetResources", "GetResources", "ListObjectsV2"];
/// And, unless it is a dry run, the journals of the day before and of the day (for what earlier sweeps left).
const SWEEP_LISTINGS: [&str; 6] = [
    "ListNotebookInstances",
    "GetResources",
    "GetResources",
    "ListObjectsV2",
    "ListAuditVersions",
    "ListAuditVersions",
];

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).single().expect("valid time")
}

fn config(dry_run: bool) -> SweepSettings {
    let vars = BTreeMap::from([
        (EVENT_BUS_NAME, "bus".to_owned()),
        (ASSETS_BUCKET, "fleet-assets".to_owned()),
        (AUDIT_BUCKET, "fleet-audit".to_owned()),
        (DRY_RUN, dry_run.to_string()),
    ]);
    // The defaults: 60 minutes' idle timeout, a warning 15 minutes before a stop.
    sweep_settings(&Vars::from_pairs(vars)).expect("valid sweeper configuration")
}

fn sweeper(fake: &FakeAws, dry_run: bool) -> FakeSweeper {
    fake.state().clock = Some(now());
    fake.sweeper(config(dry_run))
}

/// Idle for two hours and never warned: due for a warning.
fn idle(fake: &FakeAws, name: &str) {
    fake.add_notebook(AddedNotebook::in_service(name, now() - Duration::hours(3)));
    fake.heartbeat(name, now() - Duration::hours(2));
}

/// Idle for two hours and warned 30 minutes ago: due for a stop.
fn warned(fake: &FakeAws, name: &str) {
    idle(fake, name);
    fake.state().heartbeats.warnings.insert(name.into(), now() - Duration::minutes(30));
}

/// In use: a heartbeat a minute ago.
fn active(fake: &FakeAws, name: &str) {
    fake.add_notebook(AddedNotebook::in_service(name, now() - Duration::hours(3)));
    fake.heartbeat(name, now() - Duration::minutes(1));
}

/// A custodian notebook of carol's for alice's data whose grant ended an hour ago; its role still has its
/// inline policy.
fn expired_custody(fake: &FakeAws, name: &str, status: NotebookStatus) {
    fake.add_notebook(
        AddedNotebook::in_service(name, now() - Duration::hours(20))
            .with_owner("carol")
            .with_status(status)
            .with_tag(tags::CUSTODIAN_FOR, "alice")
            .with_tag(tags::ACCESS_EXPIRES_AT, (now() - Duration::hours(1)).to_rfc3339()),
    );
    fake.heartbeat(name, now() - Duration::minutes(1));
    fake.grant_inline_policy(&format!("nbf-{name}"), r#"{"Version":"2012-10-17","Statement":[]}"#);
}

/// `(detail-type, notebook)` of every published event, in order.
fn published(fake: &FakeAws) -> Vec<(String, String)> {
    fake.events()
        .iter()
        .map(|e| (e.detail_type().to_owned(), e.notebook_name().unwrap_or_default().to_owned()))
        .collect()
}

/// The audit records of the notebooks' and owners' histories (not the sweep journal), by key.
fn history_records(fake: &FakeAws) -> BTreeMap<String, AuditRecord> {
    fake.audit_records().into_iter().filter(|(key, _)| !key.starts_with(JOURNAL_PREFIX)).collect()
}

/// The sweep journal's records, by key.
fn journal_records(fake: &FakeAws) -> BTreeMap<String, AuditRecord> {
    fake.audit_records().into_iter().filter(|(key, _)| key.starts_with(JOURNAL_PREFIX)).collect()
}

/// `(action, notebook, function)` of every history record, in key order.
fn audited(fake: &FakeAws) -> Vec<(String, String, String)> {
    let mut records: Vec<_> = history_records(fake)
        .into_values()
        .map(|r| (r.action, r.notebook_name.unwrap_or_default(), r.function))
        .collect();
    records.sort();
    records.dedup();
    records
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn verdicts(report: &SweepReport, label: &str) -> usize {
    report.verdicts[label]
}

#[tokio::test]
async fn a_sweep_warns_the_idle_stops_the_warned_and_leaves_the_active_alone() {
    let fake = FakeAws::new();
    idle(&fake, "idle-nb");
    warned(&fake, "warned-nb");
    active(&fake, "busy-nb");
    fake.add_notebook(AddedNotebook::in_service("foreign-nb", now() - Duration::hours(9)).unmanaged());

    let report = sweeper(&fake, false).sweep(now()).await.expect("swept");

    assert_eq!((report.in_service, report.managed), (4, 3), "the unmanaged notebook is not the fleet's");
    assert_eq!(report.warned, names(&["idle-nb"]));
    assert_eq!(report.stopped, names(&["warned-nb"]));
    assert_eq!(report.idle_minutes_stopped, 120);
    assert_eq!((verdicts(&report, "warn"), verdicts(&report, "stop"), verdicts(&report, "active")), (1, 1, 1));
    assert!(report.warn_failures.is_empty() && report.stop_failures.is_empty() && report.audit_failures.is_empty());
    assert_eq!(fake.mutating_calls(), ["PutObject", "StopNotebookInstance"]);
    assert_eq!(fake.state().notebooks["warned-nb"].1.status, NotebookStatus::Stopping);
    assert_eq!(fake.state().notebooks["busy-nb"].1.status, NotebookStatus::InService);
    let warning = fake.state().warning_bodies["idle-nb"].clone();
    assert_eq!(warning["owner"], "alice", "the warning says whose notebook it is: {warning}");
    assert_eq!(
        published(&fake),
        [(NOTEBOOK_IDLE_WARNING.into(), "idle-nb".into()), (NOTEBOOK_STOPPED.into(), "warned-nb".into())]
    );
    assert_eq!(
        audited(&fake),
        [
            (NOTEBOOK_IDLE_WARNING.into(), "idle-nb".into(), IDLE_SWEEPER.into()),
            (NOTEBOOK_STOPPED.into(), "warned-nb".into(), IDLE_SWEEPER.into()),
        ]
    );
}

#[tokio::test]
async fn a_warning_that_cannot_be_recorded_is_reported_sent_nowhere_and_retried_next_sweep() {
    let fake = FakeAws::new();
    idle(&fake, "idle-nb");
    idle(&fake, "other-nb");
    fake.fail("PutObject", &[ErrorKind::Throttled]);

    let report = sweeper(&fake, false).sweep(now()).await.expect("a failed warning does not fail the sweep");

    assert_eq!(report.warned.len(), 1, "one warning got through: {report:?}");
    let failed = if report.warned == ["idle-nb"] { "other-nb" } else { "idle-nb" };
    assert!(report.warn_failures[failed].contains("PutObject"), "the report names the failed call: {report:?}");
    assert_eq!(report.metrics().iter().find(|m| m.0 == "WarnFailures").map(|m| m.2), Some(1.0));
    let warned_names: Vec<String> = published(&fake).into_iter().map(|(_, name)| name).collect();
    assert_eq!(warned_names, report.warned, "no event announces a warning that was not recorded");
    assert!(audited(&fake).iter().all(|(_, name, _)| name != failed), "nor does the audit trail");

    // The next sweep warns it (and only it: the other is waiting for its stop).
    let report = sweeper(&fake, false).sweep(now() + Duration::minutes(1)).await.expect("swept");
    assert_eq!(report.warned, names(&[failed]));
    assert!(report.warn_failures.is_empty());
}

#[tokio::test]
async fn a_failed_stop_is_reported_with_its_cause_and_leaves_no_stopped_event_or_record() {
    let fake = FakeAws::new();
    warned(&fake, "warned-nb");
    fake.fail("StopNotebookInstance", &[ErrorKind::Invalid]);

    let report = sweeper(&fake, false).sweep(now()).await.expect("a failed stop does not fail the sweep");

    assert!(report.stopped.is_empty());
    let cause = &report.stop_failures["warned-nb"];
    assert!(cause.contains("StopNotebookInstance"), "the operator sees which call failed: {cause}");
    assert_eq!(report.idle_minutes_stopped, 0);
    assert_eq!(fake.state().notebooks["warned-nb"].1.status, NotebookStatus::InService);
    assert!(published(&fake).is_empty());
    assert!(audited(&fake).is_empty());

    // Retried next sweep.
    let report = sweeper(&fake, false).sweep(now() + Duration::minutes(5)).await.expect("swept");
    assert_eq!(report.stopped, names(&["warned-nb"]));
    assert_eq!(published(&fake), [(NOTEBOOK_STOPPED.into(), "warned-nb".into())]);
}

#[tokio::test]
async fn an_expired_custodian_grant_is_revoked_once_and_the_notebook_stopped() {
    let fake = FakeAws::new();
    expired_custody(&fake, "carol-custody", NotebookStatus::InService);
    expired_custody(&fake, "carol-old", NotebookStatus::Stopped);

    let report = sweeper(&fake, false).sweep(now()).await.expect("swept");

    assert_eq!(report.revoked, names(&["carol-custody", "carol-old"]), "a stopped notebook's role is revoked too");
    assert_eq!(report.stopped, names(&["carol-custody"]), "the running one stops at once, without a warning");
    assert!(report.warned.is_empty());
    assert!(fake.state().inline_policies.is_empty(), "both roles lost their permissions");
    for name in ["carol-custody", "carol-old"] {
        assert_eq!(fake.tags_of(name)[tags::ACCESS_REVOKED_AT], "2026-11-23T12:00:00Z");
    }
    let expired = fake
        .events()
        .into_iter()
        .find_map(|e| match e {
            OutcomeEvent::CustodianExpired(expired) => Some(expired),
            _ => None,
        })
        .expect("an expiry");
    assert_eq!(
        (expired.deactivated_owner.as_deref(), expired.role_name.as_str()),
        (Some("alice"), "nbf-carol-custody")
    );
    assert_eq!(
        audited(&fake),
        [
            (CUSTODIAN_ACCESS_EXPIRED.into(), "carol-custody".into(), IDLE_SWEEPER.into()),
            (CUSTODIAN_ACCESS_EXPIRED.into(), "carol-old".into(), IDLE_SWEEPER.into()),
            (NOTEBOOK_STOPPED.into(), "carol-custody".into(), IDLE_SWEEPER.into()),
        ]
    );

    // Marked revoked: the next sweep revokes nothing again.
    let before = fake.count("DeleteRolePolicy");
    let report = sweeper(&fake, false).sweep(now() + Duration::hours(1)).await.expect("swept");
    assert!(report.revoked.is_empty());
    assert_eq!(fake.count("DeleteRolePolicy"), before);
}

#[tokio::test]
async fn a_failed_revocation_is_reported_keeps_no_mark_and_is_retried_next_sweep() {
    let fake = FakeAws::new();
    expired_custody(&fake, "carol-old", NotebookStatus::Stopped);
    expired_custody(&fake, "carol-two", NotebookStatus::Stopped);
    fake.fail("DeleteRolePolicy", &[ErrorKind::Throttled]);
    fake.fail("AddTags", &[ErrorKind::Transient]);

    let report = sweeper(&fake, false).sweep(now()).await.expect("a failed revocation does not fail the sweep");

    // One failed at the revocation and one at the mark: both must be retried.
    assert!(report.revoked.is_empty(), "{report:?}");
    assert_eq!(report.revoke_failures.len(), 2);
    assert!(report.revoke_failures.values().any(|e| e.contains("DeleteRolePolicy")), "{report:?}");
    assert!(report.revoke_failures.values().any(|e| e.contains("AddTags")), "{report:?}");
    assert_eq!(report.metrics().iter().find(|m| m.0 == "RevokeFailures").map(|m| m.2), Some(2.0));
    assert!(["carol-old", "carol-two"].iter().all(|n| !fake.tags_of(n).contains_key(tags::ACCESS_REVOKED_AT)));
    assert!(published(&fake).is_empty(), "no expiry is announced before it is done");
    assert!(audited(&fake).is_empty());

    let report = sweeper(&fake, false).sweep(now() + Duration::minutes(5)).await.expect("swept");
    assert_eq!(report.revoked, names(&["carol-old", "carol-two"]));
    assert!(fake.state().inline_policies.is_empty());
}

#[tokio::test]
async fn a_failed_audit_write_is_reported_by_notebook_and_the_action_stands() {
    let fake = FakeAws::new();
    warned(&fake, "warned-nb");
    // The intent record goes through; the stop's own record does not.
    fake.fail_after("PutAuditRecord", 1, &[ErrorKind::AccessDenied]);

    let report = sweeper(&fake, false).sweep(now()).await.expect("a failed audit write does not fail the sweep");

    assert_eq!(report.stopped, names(&["warned-nb"]), "the stop was done");
    assert!(report.audit_failures["warned-nb"].contains("PutAuditRecord"), "{report:?}");
    assert_eq!(report.metrics().iter().find(|m| m.0 == "AuditFailures").map(|m| m.2), Some(1.0));
    assert_eq!(published(&fake), [(NOTEBOOK_STOPPED.into(), "warned-nb".into())], "and announced");
}

#[tokio::test]
async fn a_dry_run_reports_what_it_would_do_and_changes_nothing() {
    let fake = FakeAws::new();
    idle(&fake, "idle-nb");
    warned(&fake, "warned-nb");
    expired_custody(&fake, "carol-old", NotebookStatus::Stopped);

    let report = sweeper(&fake, true).sweep(now()).await.expect("swept");

    assert!(report.dry_run);
    assert_eq!(report.warned, names(&["idle-nb"]));
    assert_eq!(report.stopped, names(&["warned-nb"]));
    assert_eq!(report.revoked, names(&["carol-old"]));
    assert_eq!(fake.calls(), LISTINGS, "only the listings");
    assert!(published(&fake).is_empty());
    assert!(audited(&fake).is_empty());
}

#[tokio::test]
async fn a_locked_notebook_is_stopped_at_once_busy_or_exempt() {
    let fake = FakeAws::new();
    let exempt_until = (now() + Duration::hours(6)).to_rfc3339();
    fake.add_notebook(
        AddedNotebook::in_service("alice-nb", now() - Duration::hours(1))
            .with_tag(tags::LOCKED_AT, "2026-11-23T11:00:00Z")
            .with_tag(tags::IDLE_EXEMPT_UNTIL, exempt_until),
    );
    fake.heartbeat("alice-nb", now() - Duration::minutes(1));

    let report = sweeper(&fake, false).sweep(now()).await.expect("swept");

    assert_eq!(report.stopped, names(&["alice-nb"]));
    assert!(report.warned.is_empty(), "a lock is not warned about");
    assert_eq!(verdicts(&report, "exempt"), 0);
    let stopped = fake
        .events()
        .into_iter()
        .find_map(|e| match e {
            OutcomeEvent::Stopped(NotebookStopped::Idle(stopped)) => Some(stopped),
            _ => None,
        })
        .expect("a stop event");
    assert!(matches!(stopped.reason, StopReason::Locked { .. }), "{stopped:?}");
    let record = history_records(&fake).into_values().next().expect("an audit record");
    assert_eq!((record.action.as_str(), record.function.as_str()), (NOTEBOOK_STOPPED, IDLE_SWEEPER));
    assert_eq!(record.owner.as_deref(), Some("alice"));
}

#[tokio::test]
async fn an_exempt_notebook_is_left_running_and_counted() {
    let fake = FakeAws::new();
    let until = now() + Duration::hours(2);
    fake.add_notebook(
        AddedNotebook::in_service("snoozed-nb", now() - Duration::hours(5))
            .with_tag(tags::IDLE_EXEMPT_UNTIL, until.to_rfc3339()),
    );

    let report = sweeper(&fake, false).sweep(now()).await.expect("swept");

    assert_eq!(verdicts(&report, "exempt"), 1);
    assert!(report.warned.is_empty() && report.stopped.is_empty());
    assert_eq!(fake.calls(), SWEEP_LISTINGS, "nothing but the listings");
    assert!(published(&fake).is_empty());
}

#[tokio::test]
async fn a_failed_listing_fails_the_sweep_before_any_action() {
    let fake = FakeAws::new();
    warned(&fake, "warned-nb");
    fake.fail("GetResources", &[ErrorKind::Throttled]);

    let error = sweeper(&fake, false).sweep(now()).await.expect_err("a sweep without the tags decides nothing");

    assert!(matches!(&error, ServiceError::Listing(e) if e.retryable()), "retryable: {error}");
    assert!(
        error_chain(&error).starts_with("the sweep could not list the fleet completely and did nothing: GetResources")
    );
    assert!(fake.mutating_calls().is_empty());
}

/// The journal's files and their record's action, in key order: `("intents.json", "Sweep Actions Intended")`.
fn journal_files(fake: &FakeAws) -> Vec<(String, String)> {
    journal_records(fake)
        .into_iter()
        .map(|(key, record)| (key.rsplit('/').next().unwrap_or_default().to_owned(), record.action))
        .collect()
}

fn journal_detail<T: serde::de::DeserializeOwned>(fake: &FakeAws, file: &str) -> T {
    let (_, record) = journal_records(fake).into_iter().find(|(key, _)| key.ends_with(file)).expect(file);
    serde_json::from_value(record.detail).expect("a journal body")
}

#[tokio::test]
async fn every_action_is_in_the_intent_record_written_before_the_first_and_the_journal_is_settled_after() {
    let fake = FakeAws::new();
    idle(&fake, "idle-nb");
    warned(&fake, "warned-nb");

    let report = sweeper(&fake, false).sweep(now()).await.expect("swept");

    let calls = fake.calls();
    let position = |op: &str| calls.iter().position(|c| *c == op).expect(op);
    assert!(position("PutAuditRecord") < position("PutObject"), "the intents precede the warning: {calls:?}");
    assert!(position("PutAuditRecord") < position("StopNotebookInstance"), "and the stop: {calls:?}");
    assert_eq!(
        journal_files(&fake),
        [("intents.json".into(), SWEEP_ACTIONS_INTENDED.into()), ("settled.json".into(), SWEEP_ACTIONS_SETTLED.into())]
    );
    assert_eq!(report.journal.as_deref(), Some("journal/2026-11-23/20261123T120000.000Z/"));
    let intents: Intents = journal_detail(&fake, "intents.json");
    let intended: Vec<_> = intents.intents.iter().map(|i| (i.kind, i.notebook_name.as_str())).collect();
    assert_eq!(intended, [(ActionKind::Warn, "idle-nb"), (ActionKind::Stop, "warned-nb")]);
    let settlement: Settlement = journal_detail(&fake, "settled.json");
    assert!(settlement.actions.iter().all(|a| a.done && a.recorded && a.published), "{settlement:?}");
    assert_eq!(settlement.settled_by, "the sweep itself");

    // A sweep with nothing to do writes no journal.
    let fake = FakeAws::new();
    active(&fake, "busy-nb");
    let report = sweeper(&fake, false).sweep(now()).await.expect("swept");
    assert!(report.journal.is_none() && journal_files(&fake).is_empty());
}

#[tokio::test]
async fn without_its_intent_record_a_sweep_does_nothing_and_reports_every_action_it_did_not_attempt() {
    let fake = FakeAws::new();
    idle(&fake, "idle-nb");
    warned(&fake, "warned-nb");
    fake.fail("PutAuditRecord", &[ErrorKind::Throttled]);

    let report = sweeper(&fake, false).sweep(now()).await.expect("a failed intent does not fail the sweep");

    assert!(report.journal_failure.as_deref().is_some_and(|e| e.contains("PutAuditRecord")), "{report:?}");
    assert!(report.warn_failures["idle-nb"].starts_with("not attempted: the intent record could not be written"));
    assert!(report.stop_failures["warned-nb"].starts_with("not attempted"));
    assert!(report.warned.is_empty() && report.stopped.is_empty());
    assert!(fake.mutating_calls().is_empty(), "no action without its record: {:?}", fake.mutating_calls());
    assert!(published(&fake).is_empty() && fake.audit_records().is_empty());
    assert_eq!(report.metrics().iter().find(|m| m.0 == "JournalFailures").map(|m| m.2), Some(1.0));

    let report = sweeper(&fake, false).sweep(now() + Duration::minutes(1)).await.expect("swept");
    assert_eq!((report.warned, report.stopped), (names(&["idle-nb"]), names(&["warned-nb"])));
}

#[tokio::test]
async fn a_record_that_could_not_be_written_is_written_by_the_next_sweep_and_its_event_is_not_sent_twice() {
    let fake = FakeAws::new();
    warned(&fake, "warned-nb");
    // The intents go through; the stop's record (its first key) does not.
    fake.fail_after("PutAuditRecord", 1, &[ErrorKind::Throttled]);

    let report = sweeper(&fake, false).sweep(now()).await.expect("swept");

    assert_eq!(report.stopped, names(&["warned-nb"]));
    assert!(report.audit_failures["warned-nb"].contains("PutAuditRecord"), "{report:?}");
    assert_eq!(published(&fake), [(NOTEBOOK_STOPPED.into(), "warned-nb".into())]);
    assert_eq!(
        journal_files(&fake),
        [
            ("intents.json".into(), SWEEP_ACTIONS_INTENDED.into()),
            ("outstanding.json".into(), SWEEP_ACTIONS_OUTSTANDING.into())
        ]
    );
    let stopped_at = history_records(&fake).into_values().map(|r| r.recorded_at).collect::<Vec<_>>();

    let report = sweeper(&fake, false).sweep(now() + Duration::minutes(5)).await.expect("swept");

    assert_eq!(report.reconciled.len(), 1, "{report:?}");
    assert!(report.reconciled.values().all(|s| s.contains("1 records written, 0 events published")), "{report:?}");
    let records: Vec<_> = history_records(&fake).into_values().collect();
    assert_eq!(records.len(), 2, "the stop, in the notebook's and the owner's history: {records:?}");
    assert!(records.iter().all(|r| r.action == NOTEBOOK_STOPPED && r.recorded_at == now()), "at the stop's time");
    assert!(stopped_at.iter().all(|t| *t == now()));
    assert_eq!(published(&fake).len(), 1, "the event went out the first time: it is not sent again");
    assert!(journal_files(&fake).iter().any(|(file, _)| file == "settled.json"));
    let settlement: Settlement = journal_detail(&fake, "settled.json");
    assert_eq!(settlement.settled_by, "the sweep at 2026-11-23T12:05:00+00:00");

    // Settled: a third sweep leaves it alone.
    let report = sweeper(&fake, false).sweep(now() + Duration::minutes(10)).await.expect("swept");
    assert!(report.reconciled.is_empty() && report.reconcile_failures.is_empty());
}

#[tokio::test]
async fn an_event_that_could_not_be_published_is_listed_and_published_by_the_next_sweep() {
    let fake = FakeAws::new();
    warned(&fake, "warned-nb");
    fake.fail("PutEvents", &[ErrorKind::Transient]);

    let report = sweeper(&fake, false).sweep(now()).await.expect("a failed event does not fail the sweep");

    assert_eq!(report.stopped, names(&["warned-nb"]));
    assert!(report.event_failures["warned-nb"].contains("PutEvents"), "{report:?}");
    assert!(published(&fake).is_empty());

    let report = sweeper(&fake, false).sweep(now() + Duration::minutes(5)).await.expect("swept");
    assert!(report.reconciled.values().all(|s| s.contains("0 records written, 1 events published")), "{report:?}");
    assert_eq!(published(&fake), [(NOTEBOOK_STOPPED.into(), "warned-nb".into())]);
    assert_eq!(history_records(&fake).len(), 2, "the records were written the first time, once");
}

#[tokio::test]
async fn a_sweep_that_died_after_acting_is_finished_from_what_the_fleet_shows() {
    let fake = FakeAws::new();
    warned(&fake, "stopped-nb");
    warned(&fake, "never-stopped-nb");
    let dead = now() - Duration::minutes(10);
    // The dead sweep wrote its intents and stopped one notebook, then its process was gone.
    let intents = ["stopped-nb", "never-stopped-nb"].map(|name| Intent {
        kind: ActionKind::Stop,
        notebook_name: name.into(),
        event: OutcomeEvent::Stopped(NotebookStopped::Idle(IdleStopped {
            notebook_name: name.into(),
            owner: Some("alice".into()),
            team: None,
            status: "Stopping".into(),
            reason: StopReason::Idle { idle_minutes: 110, timeout_minutes: 60 },
            stopped_by: IDLE_SWEEPER.into(),
        })),
    });
    let journal = SweepJournal::of(dead);
    let body = Intents { sweep_at: dead, intents: intents.to_vec() };
    let record = AuditRecord::of_request(SWEEP_ACTIONS_INTENDED, &body, IDLE_SWEEPER, IDLE_SWEEPER, dead);
    fake.state().audit.insert(journal.intents_key(), record);
    fake.set_status("stopped-nb", NotebookStatus::Stopped);

    let report = sweeper(&fake, false).sweep(now()).await.expect("swept");

    assert_eq!(report.reconciled.keys().collect::<Vec<_>>(), [&journal.prefix]);
    let records: Vec<_> = history_records(&fake).into_values().filter(|r| r.recorded_at == dead).collect();
    assert!(!records.is_empty() && records.iter().all(|r| r.notebook_name.as_deref() == Some("stopped-nb")));
    let settlement: Settlement = journal_detail(&fake, &format!("{}settled.json", journal.prefix));
    let never = settlement.actions.iter().find(|a| a.notebook_name == "never-stopped-nb").expect("settled");
    assert_eq!((never.done, never.note.as_deref()), (false, Some("the notebook is still in service")));
    // The one the dead sweep did not stop is stopped now, by this sweep, under its own intents.
    assert_eq!(report.stopped, names(&["never-stopped-nb"]));
    let stops: Vec<_> = published(&fake).into_iter().filter(|(t, _)| t == NOTEBOOK_STOPPED).map(|(_, n)| n).collect();
    assert_eq!(stops.len(), 2, "the dead sweep's stop is announced (at least once, after a crash): {stops:?}");
}

#[tokio::test]
async fn a_journal_a_sweep_may_still_be_writing_is_left_alone() {
    let fake = FakeAws::new();
    active(&fake, "busy-nb");
    let recent = now() - Duration::minutes(2);
    let body = Intents { sweep_at: recent, intents: Vec::new() };
    let record = AuditRecord::of_request(SWEEP_ACTIONS_INTENDED, &body, IDLE_SWEEPER, IDLE_SWEEPER, recent);
    fake.state().audit.insert(SweepJournal::of(recent).intents_key(), record);

    let report = sweeper(&fake, false).sweep(now()).await.expect("swept");

    assert!(report.reconciled.is_empty(), "two minutes old: that sweep may still run (timeout 300 s)");
    let report = sweeper(&fake, false).sweep(now() + Duration::minutes(5)).await.expect("swept");
    assert_eq!(report.reconciled.len(), 1);
}
