//! Who may ask for what, over in-memory ports: the sender map, the entitlements, the snooze, and the
//! isolation fences on create and on start. Each refusal is checked to have made no call that changes
//! anything.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

use super::{Provisioner, RetryPolicy};
use crate::domain::isolation::{EgressDestination, EgressRule, Route, RouteTarget, SecurityGroupEgress};
use crate::domain::notebook::NotebookStatus;
use crate::domain::outcome::OutcomeEvent;
use crate::domain::request::{
    NOTEBOOK_IDLE_SNOOZE_REQUESTED, NOTEBOOK_REQUESTED, NOTEBOOK_START_REQUESTED, NOTEBOOK_STOP_REQUESTED,
    OWNER_DEACTIVATED,
};
use crate::domain::senders::RequestSenders;
use crate::domain::settings::tests::{settings as config, SENDER};
use crate::domain::tags;
use crate::testing::{
    provisioned, rejected, ActionRequest, DeactivationRequest, FakeAws, FakeProvisioner, NotebookRequest, SnoozeRequest,
};

fn provisioner(fake: &FakeAws) -> FakeProvisioner {
    fake.provisioner(config()).with_retry(RetryPolicy::immediate(4))
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 15, 0, 0).single().expect("valid time")
}

/// The fields a rejection names; none for any other outcome.
fn fields(outcome: &OutcomeEvent) -> Vec<String> {
    match outcome {
        OutcomeEvent::Rejected(rejected) => rejected.problems.iter().map(|p| p.field.clone()).collect(),
        _ => Vec::new(),
    }
}

/// Calls other than writing the audit record and publishing the answer.
fn work_calls(fake: &FakeAws) -> Vec<&'static str> {
    // The answer's own calls: the request ledger's lookup and claim, the audit record, the event.
    fake.state()
        .calls
        .iter()
        .copied()
        .filter(|c| !matches!(*c, "ListAuditVersions" | "PutAuditRecord" | "PutEvents"))
        .collect()
}

#[tokio::test]
async fn a_request_from_a_source_not_named_for_its_kind_is_refused_before_any_call() {
    let fake = FakeAws::new();
    let mut config = config();
    config.senders = RequestSenders::parse("Notebook Requested=platform.portal,Owner Deactivated=platform.hr")
        .expect("valid")
        .without("notebook-fleet");
    let p = Provisioner::new(fake.clone(), fake.clone(), fake.clone(), fake.clone(), fake.clone(), config);
    let deactivate =
        DeactivationRequest::new("d1", "alice").with_requested_by("mallory").with_reason("forged").detail();
    for (source, detail_type, detail) in [
        ("platform.portal", OWNER_DEACTIVATED, deactivate),
        ("platform.hr", NOTEBOOK_REQUESTED, NotebookRequest::new("r1", "alice-nb").detail()),
        ("notebook-fleet", NOTEBOOK_REQUESTED, NotebookRequest::new("r2", "alice-nb").detail()),
        ("platform.portal", NOTEBOOK_STOP_REQUESTED, ActionRequest::new("s1", "alice-nb").anonymous().detail()),
    ] {
        let outcome = p.handle_at(source, detail_type, &detail, now()).await.expect("answered");
        let rejected = rejected(&outcome);
        assert_eq!(fields(&outcome), ["source"], "{outcome:?}");
        assert_eq!(rejected.request_id.as_deref(), detail["request_id"].as_str(), "the answer names the request");
    }
    assert!(work_calls(&fake).is_empty(), "nothing read, nothing created: {:?}", work_calls(&fake));
    let state = fake.state();
    assert_eq!(state.events.len(), 4);
    assert!(state.audit.keys().any(|k| k.starts_with("owners/alice/")), "the refusal is in alice's history");
}

#[tokio::test]
async fn data_outside_the_entitlements_is_refused_before_any_call_and_a_covered_request_passes() {
    let fake = FakeAws::new();
    let p = provisioner(&fake);
    let mut wide = NotebookRequest::new("r1", "alice-nb").detail();
    wide["data_access"] = json!([
        {"bucket": "team-data", "prefix": "risk/alice/", "access": "read-write"},
        {"bucket": "team-data", "prefix": "risk/", "access": "read"}
    ]);
    let outcome = p.handle_at(SENDER, NOTEBOOK_REQUESTED, &wide, now()).await.expect("answered");
    assert_eq!(fields(&outcome), ["detail.data_access[1]"], "{outcome:?}");
    assert!(work_calls(&fake).is_empty(), "{:?}", work_calls(&fake));

    let outcome = p
        .handle_at(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r2", "alice-nb").detail(), now())
        .await
        .expect("answered");
    let provisioned = provisioned(&outcome);
    let open = provisioned.open.as_ref().expect("how to open it");
    assert!(open.cli.contains("--notebook-instance-name alice-nb"), "{open:?}");
    assert!(open.console_url.starts_with("https://eu-west-1.console.aws.amazon.com/sagemaker/"), "{open:?}");
    let policy = fake.state().inline_policies["nbf-alice-nb"].clone();
    assert!(policy.contains("kms:GenerateDataKey") && policy.contains("s3.eu-west-1.amazonaws.com"), "{policy}");
}

#[tokio::test]
async fn a_snooze_by_the_owner_sets_the_exemption_and_never_shortens_one() {
    let fake = FakeAws::new();
    let p = provisioner(&fake);
    p.handle_at(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r1", "alice-nb").detail(), now())
        .await
        .expect("provisioned");
    let snooze = |id: &str, by: &str, hours: u32| {
        SnoozeRequest::new(id, "alice-nb").with_requested_by(by).with_hours(hours).detail()
    };
    let tag = |fake: &FakeAws| {
        fake.state().notebooks["alice-nb"]
            .0
            .tags
            .iter()
            .find(|(k, _)| k == tags::IDLE_EXEMPT_UNTIL)
            .map(|(_, v)| v.clone())
    };

    for (id, by, hours, field) in [
        ("z0-a", "mallory", 4, "detail.requested_by"),
        ("z0-b", "alice", 25, "detail.hours"),
        ("z0-c", "alice", 0, "detail.hours"),
    ] {
        let refused =
            p.handle_at(SENDER, NOTEBOOK_IDLE_SNOOZE_REQUESTED, &snooze(id, by, hours), now()).await.expect("answered");
        assert_eq!(fields(&refused), [field], "{refused:?}");
    }
    assert_eq!(tag(&fake), None);

    let snoozed =
        p.handle_at(SENDER, NOTEBOOK_IDLE_SNOOZE_REQUESTED, &snooze("z1", "alice", 8), now()).await.expect("ok");
    let OutcomeEvent::Snoozed(snoozed) = &snoozed else { panic!("not snoozed: {snoozed:?}") };
    assert_eq!(snoozed.idle_exempt_until, "2026-11-23T23:00:00Z");
    assert_eq!(tag(&fake).as_deref(), Some("2026-11-23T23:00:00Z"));

    let adds = |fake: &FakeAws| fake.state().calls.iter().filter(|c| **c == "AddTags").count();
    let before = adds(&fake);
    let shorter = p
        .handle_at(SENDER, NOTEBOOK_IDLE_SNOOZE_REQUESTED, &snooze("z2", "alice", 2), now() + Duration::hours(1))
        .await
        .expect("ok");
    let OutcomeEvent::Snoozed(shorter) = &shorter else { panic!("not snoozed: {shorter:?}") };
    assert_eq!((shorter.already, shorter.idle_exempt_until.as_str()), (true, "2026-11-23T23:00:00Z"));
    assert_eq!(adds(&fake), before, "a shorter snooze writes nothing");
}

#[tokio::test]
async fn a_start_is_refused_when_the_subnet_or_the_security_group_lost_its_isolation() {
    let fake = FakeAws::new();
    let p = provisioner(&fake);
    p.handle_at(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r1", "alice-nb").detail(), now())
        .await
        .expect("provisioned");
    fake.state().notebooks.get_mut("alice-nb").expect("notebook").1.status = NotebookStatus::Stopped;
    let subnet = fake.state().notebooks["alice-nb"].0.subnet_id.clone();
    let start = |id: &str| ActionRequest::new(id, "alice-nb").with_requested_by("alice").detail();
    let starts = |fake: &FakeAws| fake.state().calls.iter().filter(|c| **c == "StartNotebookInstance").count();

    fake.state()
        .routes
        .get_mut(&subnet)
        .expect("routes")
        .push(Route { destination: "0.0.0.0/1".into(), target: RouteTarget::Other("eni-0abc".into()) });
    let refused = p.handle_at(SENDER, NOTEBOOK_START_REQUESTED, &start("s1"), now()).await.expect("answered");
    let refused = rejected(&refused);
    assert!(refused.reason.contains("route to 0.0.0.0/1 goes through eni-0abc"), "{refused:?}");
    fake.state().routes.get_mut(&subnet).expect("routes").pop();

    fake.state().security_groups.get_mut("sg-123").expect("group").egress.push(EgressRule {
        protocol: "-1".into(),
        ports: None,
        destination: EgressDestination::Cidr("0.0.0.0/0".into()),
    });
    let refused = p.handle_at(SENDER, NOTEBOOK_START_REQUESTED, &start("s2"), now()).await.expect("answered");
    let refused = rejected(&refused);
    assert!(refused.reason.contains("security group sg-123 is not isolated"), "{refused:?}");
    assert_eq!(starts(&fake), 0, "never started");

    // A create in that network fails before anything is made.
    let creates = fake.state().calls.iter().filter(|c| **c == "CreateRole").count();
    let failed = p
        .handle_at(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r2", "alice-two").detail(), now())
        .await
        .expect("answered");
    assert!(matches!(failed, OutcomeEvent::Failed(_)), "{failed:?}");
    assert_eq!(fake.state().calls.iter().filter(|c| **c == "CreateRole").count(), creates);

    fake.state().security_groups.insert(
        "sg-123".into(),
        SecurityGroupEgress {
            group_id: "sg-123".into(),
            egress: vec![EgressRule {
                protocol: "tcp".into(),
                ports: Some((443, 443)),
                destination: EgressDestination::SecurityGroup("sg-endpoints".into()),
            }],
        },
    );
    let started = p.handle_at(SENDER, NOTEBOOK_START_REQUESTED, &start("s3"), now()).await.expect("answered");
    assert!(matches!(started, OutcomeEvent::Started(_)), "{started:?}");
}
