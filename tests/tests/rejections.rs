//! A rejected request end to end, one per request kind: the invocation succeeds (no pointless retries), the
//! bus gets exactly one `Notebook Request Rejected` naming the field at fault, the audit trail one record, and
//! no call changes anything. Every way a request can be malformed is a domain unit test
//! (`shared/src/domain/rejection_tests.rs`); the cases here need the deployed pieces (the bus, the audit
//! bucket, the calls the SDK adapters make) or AWS state (a notebook that does not exist, an owner who is not
//! deactivated).

use std::collections::BTreeSet;

use anyhow::Result;
use fleet::domain::ledger::LEDGER_PREFIX;
use fleet::domain::outcome::{OutcomeEvent, NOTEBOOK_REQUEST_REJECTED};
use fleet::domain::request::{
    CUSTODIAN_ACCESS_REQUESTED, NOTEBOOK_DECOMMISSION_REQUESTED, NOTEBOOK_IDLE_SNOOZE_REQUESTED, NOTEBOOK_REQUESTED,
    NOTEBOOK_START_REQUESTED, NOTEBOOK_STOP_REQUESTED, OWNER_DEACTIVATED,
};
use fleet::service::lambda::handle_request_event;
use fleet::testing::{
    ActionRequest, CustodianRequest, DeactivationRequest, DecommissionRequest, NotebookRequest, SnoozeRequest,
};
use integration_tests::events::request_event;
use integration_tests::platform::{s3_client, AUDIT_BUCKET};
use integration_tests::{Emulator, Platform};
use serde_json::Value;

/// (what is wrong, detail-type, detail, the field the rejection must name)
fn one_per_kind() -> Vec<(&'static str, &'static str, Value, &'static str)> {
    vec![
        (
            "a wildcard in a folder",
            NOTEBOOK_REQUESTED,
            NotebookRequest::new("bad-1", "bad-nb").with_data_access(&[("team-data", "risk/*", "read-write")]).detail(),
            "detail.data_access[0].prefix",
        ),
        (
            "a stop of a notebook that does not exist",
            NOTEBOOK_STOP_REQUESTED,
            ActionRequest::new("bad-2", "nobody").detail(),
            "detail.notebook_name",
        ),
        (
            "a start with a bad name",
            NOTEBOOK_START_REQUESTED,
            ActionRequest::new("bad-3", "bad_nb").detail(),
            "detail.notebook_name",
        ),
        (
            "a deletion without repeating the notebook's name",
            NOTEBOOK_DECOMMISSION_REQUESTED,
            DecommissionRequest::new("bad-4", "alice-nb").with_deletion(Some(true), None).detail(),
            "detail.confirm_notebook_name",
        ),
        (
            "a deactivation of a malformed owner",
            OWNER_DEACTIVATED,
            DeactivationRequest::new("bad-5", "alice smith").detail(),
            "detail.owner",
        ),
        (
            "custodian access to an owner who is not deactivated",
            CUSTODIAN_ACCESS_REQUESTED,
            CustodianRequest::new("bad-6", "alice").detail(),
            "detail.deactivated_owner",
        ),
        (
            "a snooze longer than the platform allows",
            NOTEBOOK_IDLE_SNOOZE_REQUESTED,
            SnoozeRequest::new("bad-7", "alice-nb").with_hours(500).detail(),
            "detail.hours",
        ),
    ]
}

/// Every audit record's name, under every history (the request ledger's entries are not records).
async fn audit_records(platform: &Platform) -> Result<BTreeSet<String>> {
    let listed = s3_client(&platform.sdk).list_objects_v2().bucket(AUDIT_BUCKET).send().await?;
    Ok(listed
        .contents()
        .iter()
        .filter_map(|o| o.key())
        .filter(|key| !key.starts_with(LEDGER_PREFIX))
        .filter_map(|key| Some(key.rsplit('/').next()?.to_owned()))
        .collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_request_of_each_kind_gets_one_rejection_one_audit_record_and_changes_nothing() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let provisioner = platform.provisioner();

    for (what, detail_type, detail, field) in one_per_kind() {
        let records_before = audit_records(&platform).await?;
        platform.calls.reset();
        let answer = handle_request_event(&provisioner, request_event(detail_type, detail))
            .await
            .map_err(|e| anyhow::anyhow!("{what}: the invocation failed: {e}"))?;

        assert_eq!(answer["detail-type"], NOTEBOOK_REQUEST_REJECTED, "{what}: {answer}");
        let problems = answer["detail"]["problems"].as_array().cloned().unwrap_or_default();
        assert!(
            problems.iter().any(|p| p["field"] == field && p["reason"].as_str().is_some_and(|r| !r.is_empty())),
            "{what}: expected a problem naming {field}, got {problems:?}"
        );
        let outcomes = platform.drain_outcomes().await?;
        assert_eq!(outcomes.len(), 1, "{what}: exactly one outcome on the bus: {outcomes:?}");
        assert!(matches!(outcomes[0], OutcomeEvent::Rejected(_)), "{what}: {outcomes:?}");

        // One record (kept under each history it belongs to, the same name under each prefix).
        let new: Vec<_> = audit_records(&platform).await?.difference(&records_before).cloned().collect();
        assert_eq!(new.len(), 1, "{what}: one audit record: {new:?}");
        assert!(new[0].contains("_notebook-request-rejected_"), "{what}: {new:?}");

        let calls = platform.calls.snapshot();
        let mutating: Vec<_> = calls
            .keys()
            .filter(|op| !op.contains(".Describe") && !op.contains(".List") && !op.contains(".Get"))
            .filter(|op| !["EventBridge.PutEvents", "S3.PutObject"].contains(&op.as_str()))
            .collect();
        assert!(mutating.is_empty(), "{what}: a rejected request calls nothing that changes state: {calls:?}");
    }

    let sagemaker = aws_sdk_sagemaker::Client::new(&platform.sdk);
    assert!(sagemaker.list_notebook_instances().send().await?.notebook_instances().is_empty());
    assert!(!platform.lifecycle_config_exists().await?);
    let roles = aws_sdk_iam::Client::new(&platform.sdk).list_roles().path_prefix("/notebook-fleet/").send().await?;
    assert!(roles.roles().is_empty());
    Ok(())
}
