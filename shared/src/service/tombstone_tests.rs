//! Deactivated owners, decommissions and custodian access over in-memory ports: what changes, what is
//! refused, and that a second run changes nothing. The AWS flows are proven on the emulator in
//! `tests/tests/tombstone.rs`.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::RetryPolicy;
use crate::domain::notebook::NotebookStatus;
use crate::domain::outcome::OutcomeEvent;
use crate::domain::request::{
    CUSTODIAN_ACCESS_REQUESTED, NOTEBOOK_DECOMMISSION_REQUESTED, NOTEBOOK_REQUESTED, NOTEBOOK_START_REQUESTED,
    OWNER_DEACTIVATED,
};
use crate::domain::settings::tests::{settings as config, SENDER};
use crate::domain::tags;
use crate::testing::{
    rejected, ActionRequest, CustodianRequest, DeactivationRequest, DecommissionRequest, FakeAws, FakeProvisioner,
    NotebookRequest,
};

fn provisioner(fake: &FakeAws) -> FakeProvisioner {
    fake.provisioner(config()).with_retry(RetryPolicy::immediate(2))
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).single().expect("valid time")
}

/// Two notebooks of alice (one running, one still starting) and one of bob.
async fn fleet(fake: &FakeAws) -> FakeProvisioner {
    let p = provisioner(fake);
    for (id, name, owner) in [("a1", "alice-one", "alice"), ("a2", "alice-two", "alice"), ("b1", "bob-nb", "bob")] {
        p.handle_at(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new(id, name).with_owner(owner).detail(), now())
            .await
            .expect("provisioned");
    }
    fake.set_status("alice-one", NotebookStatus::InService);
    fake.set_status("bob-nb", NotebookStatus::InService);
    p
}

#[tokio::test]
async fn deactivating_an_owner_stops_and_locks_their_notebooks_only_and_a_second_time_changes_nothing() {
    let fake = FakeAws::new();
    let p = fleet(&fake).await;
    let before = fake.mutating_calls().len();

    let outcome = p
        .handle_at(SENDER, OWNER_DEACTIVATED, &DeactivationRequest::new("d1", "alice").detail(), now())
        .await
        .expect("handled");
    let OutcomeEvent::OwnerDeactivationCompleted(completed) = &outcome else { panic!("not completed: {outcome:?}") };
    assert_eq!(completed.notebooks, ["alice-one", "alice-two"]);
    assert_eq!(completed.pending, ["alice-two"], "a starting notebook is left to the sweeper");
    assert!(!completed.already);
    {
        let state = fake.state();
        let locked: Vec<_> = state.events.iter().filter(|e| matches!(e, OutcomeEvent::Locked(_))).collect();
        assert_eq!(locked.len(), 2);
        assert_eq!(state.notebooks["alice-one"].1.status, NotebookStatus::Stopping);
        assert_eq!(state.notebooks["bob-nb"].1.status, NotebookStatus::InService, "bob is not touched");
        for name in ["alice-one", "alice-two"] {
            assert!(state.notebooks[name].0.tags.iter().any(|(k, _)| k == tags::LOCKED_AT), "{name} locked");
            let policy = &state.inline_policies[&format!("nbf-{name}")];
            assert!(!policy.contains("s3:PutObject"), "{name}'s role can no longer write: {policy}");
            assert!(policy.contains("s3:GetObject"), "{name}'s role still reads: {policy}");
        }
        assert!(state.inline_policies["nbf-bob-nb"].contains("s3:PutObject"));
        assert!(state.audit.contains_key("deactivated-owners/alice.json"));
    }
    let changes = fake.mutating_calls().len() - before;
    assert_eq!(changes, 1 + 2 + 2, "one stop, two lock tags, two role rewrites");

    let again = p
        .handle_at(SENDER, OWNER_DEACTIVATED, &DeactivationRequest::new("d2", "alice").detail(), now())
        .await
        .expect("handled");
    let OutcomeEvent::OwnerDeactivationCompleted(again) = &again else { panic!("not completed: {again:?}") };
    assert!(again.already && again.changed.is_empty(), "{again:?}");
    assert_eq!(fake.mutating_calls().len() - before, changes, "the second deactivation changed nothing");
}

#[tokio::test]
async fn a_notebook_stopped_between_describe_and_stop_is_still_locked_and_the_rest_go_on() {
    let fake = FakeAws::new();
    let p = fleet(&fake).await;
    // alice-one was stopped by someone else after the deactivation described it as in service.
    fake.set_status("alice-one", NotebookStatus::Stopped);
    fake.state().stale_status.insert("alice-one".into(), NotebookStatus::InService);

    let outcome = p
        .handle_at(SENDER, OWNER_DEACTIVATED, &DeactivationRequest::new("d1", "alice").detail(), now())
        .await
        .expect("handled");
    let OutcomeEvent::OwnerDeactivationCompleted(completed) = &outcome else { panic!("not completed: {outcome:?}") };
    assert_eq!(completed.changed, ["alice-one", "alice-two"]);
    let state = fake.state();
    let locked = state
        .events
        .iter()
        .find_map(|e| match e {
            OutcomeEvent::Locked(locked) if locked.notebook_name == "alice-one" => Some(locked),
            _ => None,
        })
        .expect("locked event");
    assert_eq!(locked.status, "Stopped");
    assert_eq!(locked.changed, ["tagged", "role-write-removed"]);
}

#[tokio::test]
async fn a_locked_notebook_is_not_started_and_a_deactivated_owner_gets_no_new_notebook() {
    let fake = FakeAws::new();
    let p = fleet(&fake).await;
    p.handle_at(SENDER, OWNER_DEACTIVATED, &DeactivationRequest::new("d1", "alice").detail(), now())
        .await
        .expect("handled");
    fake.set_status("alice-one", NotebookStatus::Stopped);

    let start = ActionRequest::new("s1", "alice-one").with_requested_by("alice").detail();
    let refused = p.handle_at(SENDER, NOTEBOOK_START_REQUESTED, &start, now()).await.expect("handled");
    let refused = rejected(&refused);
    assert!(refused.reason.contains("is locked (owner-deactivated"), "{refused:?}");

    let new = p
        .handle_at(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("a3", "alice-three").detail(), now())
        .await
        .expect("handled");
    let new = rejected(&new);
    assert_eq!(new.problems[0].field, "detail.owner");
    assert!(!fake.state().notebooks.contains_key("alice-three"));
}

#[tokio::test]
async fn custodian_access_is_refused_for_an_active_owner_and_granted_read_only_once_deactivated() {
    let fake = FakeAws::new();
    let p = fleet(&fake).await;
    let before = fake.mutating_calls().len();
    let early = p
        .handle_at(
            SENDER,
            CUSTODIAN_ACCESS_REQUESTED,
            &CustodianRequest::new("c1", "alice").with_hours(24).detail(),
            now(),
        )
        .await
        .expect("handled");
    let early = rejected(&early);
    assert!(early.reason.contains("is not deactivated"), "{early:?}");
    let too_long = p
        .handle_at(
            SENDER,
            CUSTODIAN_ACCESS_REQUESTED,
            &CustodianRequest::new("c2", "alice").with_hours(1000).detail(),
            now(),
        )
        .await
        .expect("ok");
    let too_long = rejected(&too_long);
    assert_eq!(too_long.problems[0].field, "detail.duration_hours");
    let in_alices_history =
        fake.state().audit.keys().filter(|k| k.starts_with("owners/alice/") && k.contains("rejected")).count();
    assert_eq!(in_alices_history, 2, "refused requests for alice's data are in her history");
    assert_eq!(fake.mutating_calls().len(), before, "a refused request creates nothing");

    p.handle_at(SENDER, OWNER_DEACTIVATED, &DeactivationRequest::new("d1", "alice").detail(), now())
        .await
        .expect("handled");
    let granted = p
        .handle_at(
            SENDER,
            CUSTODIAN_ACCESS_REQUESTED,
            &CustodianRequest::new("c3", "alice").with_hours(24).detail(),
            now(),
        )
        .await
        .expect("ok");
    let OutcomeEvent::CustodianGranted(granted) = &granted else { panic!("not granted: {granted:?}") };
    let scope: Vec<_> = granted.scope.iter().map(|s| (s.bucket.as_str(), s.prefix.as_str())).collect();
    assert_eq!(scope, [("team-data", "risk/alice/")]);
    assert_eq!(granted.expires_at, now() + Duration::hours(24));
    let state = fake.state();
    let policy = &state.inline_policies["nbf-carol-custody"];
    assert!(policy.contains("arn:aws:s3:::team-data/risk/alice/*") && !policy.contains("WriteData"), "{policy}");
    let tags: std::collections::BTreeMap<_, _> = state.notebooks["carol-custody"].0.tags.iter().cloned().collect();
    assert_eq!(tags[tags::CUSTODIAN_FOR], "alice");
    assert_eq!(tags[tags::OWNER], "carol");
}

#[tokio::test]
async fn decommission_keeps_the_notebook_unless_deletion_is_confirmed() {
    let fake = FakeAws::new();
    let p = fleet(&fake).await;
    let keep = DecommissionRequest::new("x1", "bob-nb").detail();
    let kept = p.handle_at(SENDER, NOTEBOOK_DECOMMISSION_REQUESTED, &keep, now()).await.expect("handled");
    assert!(matches!(kept, OutcomeEvent::Decommissioned(ref d) if !d.deleted), "{kept:?}");
    assert!(fake.state().notebooks.contains_key("bob-nb"));

    let unconfirmed = DecommissionRequest::new("x2", "bob-nb").with_deletion(None, None).detail();
    let refused = p.handle_at(SENDER, NOTEBOOK_DECOMMISSION_REQUESTED, &unconfirmed, now()).await.expect("handled");
    let refused = rejected(&refused);
    let fields: Vec<_> = refused.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["detail.data_no_longer_needed", "detail.confirm_notebook_name"]);

    fake.set_status("bob-nb", NotebookStatus::Stopped);
    let confirmed = DecommissionRequest::new("x3", "bob-nb").deleting().detail();
    let deleted = p.handle_at(SENDER, NOTEBOOK_DECOMMISSION_REQUESTED, &confirmed, now()).await.expect("handled");
    assert!(matches!(deleted, OutcomeEvent::Decommissioned(ref d) if d.deleted), "{deleted:?}");
    assert!(!fake.state().notebooks.contains_key("bob-nb"));
    assert!(!fake.state().roles.contains_key("nbf-bob-nb"));
    let replay = p.handle_at(SENDER, NOTEBOOK_DECOMMISSION_REQUESTED, &confirmed, now()).await.expect("handled");
    assert_eq!(replay, deleted, "a redelivery answers what the first delivery did");
}

#[tokio::test]
async fn the_trail_a_deactivation_writes_verifies_clean_and_a_lost_summary_is_an_incomplete_request() {
    use crate::domain::audit::{notebook_history_prefix, owner_history_prefix};
    use crate::domain::audit_verify::Finding;
    use crate::ports::AuditLog;

    let fake = FakeAws::new();
    let p = fleet(&fake).await;
    p.handle_at(SENDER, OWNER_DEACTIVATED, &DeactivationRequest::new("d1", "alice").detail(), now())
        .await
        .expect("handled");
    p.handle_at(
        SENDER,
        OWNER_DEACTIVATED,
        &DeactivationRequest::new("d2", "alice").detail(),
        now() + Duration::hours(1),
    )
    .await
    .expect("handled");
    for prefix in [owner_history_prefix("alice"), notebook_history_prefix("alice-one")] {
        let verification = fake.verify(&prefix).await.expect("verified");
        assert_eq!(verification.findings, Vec::<Finding>::new(), "{prefix}");
    }
    assert_eq!(fake.verify(&owner_history_prefix("alice")).await.expect("verified").records, 2 + 2 * 3);

    // The summary of d1 is gone (as if its write had never happened): d1's locks are left incomplete.
    let summary = fake
        .state()
        .audit
        .keys()
        .find(|k| k.starts_with("owners/alice/20261123T090000.000Z_owner-deactivation-completed_"))
        .cloned()
        .expect("d1's summary");
    fake.state().audit.remove(&summary);
    let findings = fake.verify(&owner_history_prefix("alice")).await.expect("verified").findings;
    assert_eq!(
        findings,
        [Finding::IncompleteRequest {
            request_id: "d1".into(),
            missing: "Notebook Locked of alice-one, alice-two without Owner Deactivation Completed".into()
        }]
    );
}

#[tokio::test]
async fn an_owner_marked_deactivated_by_a_racing_request_is_deactivated_and_the_marker_is_not_rewritten() {
    use crate::domain::audit::{deactivation_marker_key, AuditRecord};
    use crate::ports::AuditLog;

    let fake = FakeAws::new();
    let p = fleet(&fake).await;
    let theirs = AuditRecord::of_request(
        OWNER_DEACTIVATED,
        &DeactivationRequest::new("other", "alice").detail(),
        "provisioner",
        "hr-system",
        now() - Duration::minutes(1),
    );
    let marker = deactivation_marker_key("alice");
    fake.write(&marker, &theirs).await.expect("the first write of a key succeeds");
    fake.write(&marker, &theirs).await.expect("the same record again is a retried write");
    let mut other = theirs.clone();
    other.actor = "someone-else".into();
    let collision = fake.write(&marker, &other).await.expect_err("a different record is never written over one");
    assert!(collision.is(crate::error::ErrorKind::AlreadyExists) && !collision.retryable());

    // Another request marked alice just after this one listed her as not deactivated: its own marker write
    // meets the other's marker, and it goes on.
    fake.state().unlisted.insert(marker.clone());
    let outcome = p
        .handle_at(SENDER, OWNER_DEACTIVATED, &DeactivationRequest::new("d1", "alice").detail(), now())
        .await
        .expect("handled");
    let OutcomeEvent::OwnerDeactivationCompleted(completed) = &outcome else { panic!("not completed: {outcome:?}") };
    assert_eq!(completed.notebooks, ["alice-one", "alice-two"]);
    assert_eq!(fake.state().audit[&marker], theirs, "the marker was written once");
}
