//! The provisioner's use cases over in-memory ports: outcomes, idempotency, retries, and that a rejected
//! request creates nothing.

use serde_json::json;

use super::RetryPolicy;
use crate::domain::isolation::{Route, RouteTarget};
use crate::domain::notebook::{NotebookRecord, NotebookStatus};
use crate::domain::outcome::{NotebookStopped, OutcomeEvent};
use crate::domain::request::{NOTEBOOK_REQUESTED, NOTEBOOK_START_REQUESTED, NOTEBOOK_STOP_REQUESTED};
use crate::domain::settings::tests::{settings as config, SENDER};
use crate::error::ErrorKind;
use crate::testing::{provisioned, rejected, ActionRequest, FakeAws, FakeProvisioner, NotebookRequest};

fn provisioner(fake: &FakeAws) -> FakeProvisioner {
    fake.provisioner(config()).with_retry(RetryPolicy::immediate(4))
}

#[tokio::test]
async fn a_valid_request_creates_role_lifecycle_and_notebook_then_answers() {
    let fake = FakeAws::new();
    let outcome = provisioner(&fake)
        .handle(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r1", "alice-nb").detail())
        .await
        .expect("handled");
    let provisioned = provisioned(&outcome);
    assert!(!provisioned.replayed);
    assert_eq!(provisioned.role_arn, "arn:aws:iam::123456789012:role/notebook-fleet/notebooks/nbf-alice-nb");
    assert_eq!(
        fake.mutating_calls(),
        ["CreateRole", "PutRolePolicy", "CreateNotebookInstanceLifecycleConfig", "CreateNotebookInstance"]
    );
    let state = fake.state();
    let (spec, _) = &state.notebooks["alice-nb"];
    assert!(!spec.root_access);
    assert_eq!(spec.security_group_ids, ["sg-123"]);
    assert_eq!(
        state.roles["nbf-alice-nb"].0.permissions_boundary_arn,
        "arn:aws:iam::123456789012:policy/fleet-boundary"
    );
    assert!(state.inline_policies["nbf-alice-nb"].contains("arn:aws:s3:::team-data/risk/alice/*"));
    assert_eq!(state.events, [outcome]);
}

#[tokio::test]
async fn the_shared_lifecycle_configuration_is_created_once_per_warm_function() {
    let fake = FakeAws::new();
    let p = provisioner(&fake);
    p.handle(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r1", "nb-1").detail()).await.expect("first");
    p.handle(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r2", "nb-2").detail()).await.expect("second");
    let creates = fake.state().calls.iter().filter(|c| **c == "CreateNotebookInstanceLifecycleConfig").count();
    assert_eq!(creates, 1);
    let names: Vec<String> =
        fake.state().notebooks.values().map(|(spec, _)| spec.lifecycle_config_name.clone()).collect();
    assert_eq!(names[0], names[1]);

    // A cold function finds it already there and goes on.
    let cold = provisioner(&fake);
    let outcome =
        cold.handle(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r3", "nb-3").detail()).await.expect("third");
    assert!(matches!(outcome, OutcomeEvent::Provisioned(_)), "{outcome:?}");
    assert_eq!(fake.state().lifecycle_configs.len(), 1);
}

#[tokio::test]
async fn a_bad_request_is_rejected_once_and_creates_nothing() {
    let fake = FakeAws::new();
    let mut bad = NotebookRequest::new("r1", "alice_nb").detail();
    bad["volume_size_gb"] = json!(100_000);
    let outcome =
        provisioner(&fake).handle(SENDER, NOTEBOOK_REQUESTED, &bad).await.expect("a rejection is not an error");
    let rejected = rejected(&outcome);
    assert_eq!(rejected.request_id.as_deref(), Some("r1"));
    assert_eq!(rejected.problems[0].field, "detail.notebook_name");
    assert_eq!(rejected.problems[1].field, "detail.volume_size_gb");
    let state = fake.state();
    assert_eq!(
        state.calls,
        ["ListAuditVersions", "PutAuditRecord", "PutAuditRecord", "PutEvents", "PutAuditRecord"],
        "nothing but the ledger's lookup and claim, the record, the answer and its publication mark"
    );
    let (ledger, keys): (Vec<_>, Vec<_>) = state.audit.keys().partition(|k| k.starts_with("ledger/"));
    assert_eq!(
        ledger,
        ["ledger/notebook-requested/r1/answer.json", "ledger/notebook-requested/r1/published.json"],
        "the answer is claimed and marked published"
    );
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with("owners/alice/"), "in the owner's history; an invalid name makes no key: {keys:?}");
}

#[tokio::test]
async fn an_unparseable_detail_is_rejected_with_its_id() {
    let fake = FakeAws::new();
    let outcome = provisioner(&fake)
        .handle(SENDER, NOTEBOOK_REQUESTED, &json!({"request_id": "r9", "notebook_name": "nb"}))
        .await
        .expect("handled");
    let rejected = rejected(&outcome);
    assert_eq!(rejected.request_id.as_deref(), Some("r9"));
    assert!(rejected.reason.contains("missing field"), "{rejected:?}");
}

#[tokio::test]
async fn a_redelivered_request_answers_the_same_and_creates_nothing_more() {
    let fake = FakeAws::new();
    let p = provisioner(&fake);
    let first =
        p.handle(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r1", "alice-nb").detail()).await.expect("first");
    let calls_before = fake.mutating_calls().len();
    let second =
        p.handle(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r1", "alice-nb").detail()).await.expect("second");
    let (OutcomeEvent::Provisioned(first), OutcomeEvent::Provisioned(second)) = (&first, &second) else {
        panic!("not provisioned: {first:?} {second:?}")
    };
    assert!(second.replayed);
    assert_eq!((&second.notebook_arn, &second.role_arn), (&first.notebook_arn, &first.role_arn));
    assert_eq!(fake.mutating_calls().len(), calls_before);
}

#[tokio::test]
async fn a_role_left_by_an_interrupted_delivery_is_adopted() {
    let fake = FakeAws::new();
    fake.fail("CreateNotebookInstance", &[ErrorKind::Throttled]);
    let p = provisioner(&fake);
    let error = p
        .handle(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r1", "alice-nb").detail())
        .await
        .expect_err("throttled");
    assert!(error.retryable());
    assert!(fake.state().events.is_empty(), "no answer until the request is done");
    let outcome =
        p.handle(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r1", "alice-nb").detail()).await.expect("retried");
    assert!(matches!(outcome, OutcomeEvent::Provisioned(_)), "{outcome:?}");
    assert_eq!(fake.state().roles.len(), 1);
}

#[tokio::test]
async fn the_same_name_from_another_request_is_rejected() {
    let fake = FakeAws::new();
    let p = provisioner(&fake);
    p.handle(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r1", "alice-nb").detail()).await.expect("first");
    let outcome =
        p.handle(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r2", "alice-nb").detail()).await.expect("second");
    let rejected = rejected(&outcome);
    assert!(rejected.reason.contains("already exists (request r1)"), "{rejected:?}");
}

#[tokio::test]
async fn a_notebook_not_managed_by_the_fleet_is_never_adopted() {
    let fake = FakeAws::new();
    fake.state().foreign_notebooks.insert(
        "alice-nb".into(),
        NotebookRecord {
            name: "alice-nb".into(),
            arn: "arn:foreign".into(),
            status: NotebookStatus::InService,
            role_arn: None,
            lifecycle_config_name: None,
            subnet_id: None,
            security_group_ids: Vec::new(),
        },
    );
    let p = provisioner(&fake);
    let outcome =
        p.handle(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r1", "alice-nb").detail()).await.expect("handled");
    let rejected = rejected(&outcome);
    assert!(rejected.reason.contains("not managed by notebook-fleet"), "{rejected:?}");
    let stop = p
        .handle(SENDER, NOTEBOOK_STOP_REQUESTED, &ActionRequest::new("s1", "alice-nb").detail())
        .await
        .expect("handled");
    assert!(matches!(stop, OutcomeEvent::Rejected(_)), "{stop:?}");
    assert!(fake.mutating_calls().is_empty());
}

#[tokio::test]
async fn a_role_sagemaker_cannot_assume_yet_is_retried() {
    let fake = FakeAws::new();
    fake.fail("CreateNotebookInstance", &[ErrorKind::NotReady, ErrorKind::NotReady]);
    let outcome = provisioner(&fake)
        .handle(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r1", "alice-nb").detail())
        .await
        .expect("handled");
    assert!(matches!(outcome, OutcomeEvent::Provisioned(_)), "{outcome:?}");
    let creates = fake.state().calls.iter().filter(|c| **c == "CreateNotebookInstance").count();
    assert_eq!(creates, 3);
}

#[tokio::test]
async fn retries_are_bounded_and_end_in_a_retryable_error() {
    let fake = FakeAws::new();
    fake.fail("CreateNotebookInstance", &[ErrorKind::NotReady; 10]);
    let error = provisioner(&fake)
        .handle(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r1", "alice-nb").detail())
        .await
        .expect_err("gives up");
    assert!(error.retryable());
    let creates = fake.state().calls.iter().filter(|c| **c == "CreateNotebookInstance").count();
    assert_eq!(creates, 4, "RetryPolicy::immediate(4)");
}

#[tokio::test]
async fn a_subnet_with_an_internet_route_is_refused_before_anything_is_created() {
    let fake = FakeAws::new();
    for subnet in ["subnet-aaa", "subnet-bbb"] {
        fake.state().routes.insert(
            subnet.into(),
            vec![Route { destination: "0.0.0.0/0".into(), target: RouteTarget::InternetGateway("igw-1".into()) }],
        );
    }
    let outcome = provisioner(&fake)
        .handle(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r1", "alice-nb").detail())
        .await
        .expect("handled");
    let OutcomeEvent::Failed(failed) = &outcome else { panic!("not failed: {outcome:?}") };
    assert!(failed.error.contains("is not isolated") && failed.error.contains("igw-1"), "{failed:?}");
    assert!(fake.mutating_calls().is_empty());
}

#[tokio::test]
async fn a_quota_error_is_a_failure_event_not_a_retry_and_leaves_no_orphan_role() {
    let fake = FakeAws::new();
    fake.fail("CreateNotebookInstance", &[ErrorKind::Invalid]);
    let outcome = provisioner(&fake)
        .handle(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r1", "alice-nb").detail())
        .await
        .expect("handled");
    assert!(matches!(outcome, OutcomeEvent::Failed(_)), "{outcome:?}");
    assert!(fake.state().roles.is_empty(), "the role created for the failed request is deleted");
    assert_eq!(fake.count("DeleteRole"), 1);
}

/// Every AWS call a provision makes, in order, as the fakes name them.
const PROVISION_STEPS: [&str; 5] =
    ["CreateRole", "PutRolePolicy", "CreateNotebookInstanceLifecycleConfig", "CreateNotebookInstance", "PutEvents"];

#[tokio::test]
async fn a_provision_that_fails_at_any_step_converges_on_redelivery_to_one_notebook_one_role_one_outcome() {
    for step in PROVISION_STEPS {
        for kind in [ErrorKind::Throttled, ErrorKind::Transient] {
            let fake = FakeAws::new();
            fake.fail(step, &[kind]);
            let p = provisioner(&fake);
            let request = NotebookRequest::new("r1", "alice-nb").detail();
            let first = p.handle(SENDER, NOTEBOOK_REQUESTED, &request).await;
            let error = first.expect_err(step);
            assert!(error.retryable(), "{step}: {error}");
            // Lambda's retries come one and three minutes later: a claim left unpublished is taken over by then.
            let later = |minutes| chrono::Utc::now() + chrono::Duration::minutes(minutes);
            let outcome = p.handle_at(SENDER, NOTEBOOK_REQUESTED, &request, later(3)).await.expect(step);
            let again = p.handle_at(SENDER, NOTEBOOK_REQUESTED, &request, later(4)).await.expect(step);
            assert!(matches!(outcome, OutcomeEvent::Provisioned(_)), "{step}: {outcome:?}");
            assert!(matches!(again, OutcomeEvent::Provisioned(ref p) if p.replayed), "{step}: {again:?}");
            let state = fake.state();
            assert_eq!((state.notebooks.len(), state.roles.len()), (1, 1), "{step} {kind:?}");
            let provisioned = state.events.iter().filter(|e| matches!(e, OutcomeEvent::Provisioned(_))).count();
            assert_eq!(provisioned, 1, "{step} {kind:?}: one outcome on the bus");
        }
    }
}

#[tokio::test]
async fn a_failed_publish_is_retryable() {
    let fake = FakeAws::new();
    fake.fail("PutEvents", &[ErrorKind::Throttled]);
    let error = provisioner(&fake)
        .handle(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r1", "alice-nb").detail())
        .await
        .expect_err("publish");
    assert!(error.retryable());
}

#[tokio::test]
async fn stop_and_start_act_on_managed_notebooks_by_state() {
    let fake = FakeAws::new();
    let p = provisioner(&fake);
    p.handle(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r1", "alice-nb").detail()).await.expect("provisioned");

    let early = p
        .handle(SENDER, NOTEBOOK_STOP_REQUESTED, &ActionRequest::new("s0", "alice-nb").detail())
        .await
        .expect("handled");
    let early = rejected(&early);
    assert!(early.reason.contains("once it is InService"), "{early:?}");

    fake.set_status("alice-nb", NotebookStatus::InService);
    let stop = p
        .handle(SENDER, NOTEBOOK_STOP_REQUESTED, &ActionRequest::new("s1", "alice-nb").detail())
        .await
        .expect("handled");
    let stop_outcome = stop.clone();
    let OutcomeEvent::Stopped(NotebookStopped::Requested(stop)) = &stop else { panic!("not stopped: {stop:?}") };
    assert_eq!((stop.status.as_str(), stop.already), ("Stopping", false));
    let events = fake.events().len();
    let redelivered = p
        .handle(SENDER, NOTEBOOK_STOP_REQUESTED, &ActionRequest::new("s1", "alice-nb").detail())
        .await
        .expect("handled");
    assert_eq!(redelivered, stop_outcome, "a redelivery answers the first outcome");
    assert_eq!(fake.events().len(), events, "and publishes nothing");
    let again = p
        .handle(SENDER, NOTEBOOK_STOP_REQUESTED, &ActionRequest::new("s1b", "alice-nb").detail())
        .await
        .expect("handled");
    assert!(matches!(again, OutcomeEvent::Stopped(NotebookStopped::Requested(ref s)) if s.already), "{again:?}");

    fake.set_status("alice-nb", NotebookStatus::Stopped);
    let start = p
        .handle(SENDER, NOTEBOOK_START_REQUESTED, &ActionRequest::new("s2", "alice-nb").detail())
        .await
        .expect("handled");
    let OutcomeEvent::Started(start) = &start else { panic!("not started: {start:?}") };
    assert_eq!((start.status.as_str(), start.requested_by.as_deref()), ("Pending", Some("portal")));

    let missing = p
        .handle(SENDER, NOTEBOOK_START_REQUESTED, &ActionRequest::new("s3", "nobody").detail())
        .await
        .expect("handled");
    let missing = rejected(&missing);
    assert!(missing.reason.contains("no notebook named"), "{missing:?}");
    let stops = fake.state().calls.iter().filter(|c| **c == "StopNotebookInstance").count();
    assert_eq!(stops, 1);
}
