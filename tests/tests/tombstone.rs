//! Deactivated owners, custodian access, decommission and the audit trail, on the emulator with the real
//! SDK: what a platform engineer would check after each request.
//!
//! moto settles every status at once (a stop is `Stopped` immediately), does not evaluate permissions
//! boundaries, and cannot sign as SageMaker: the custodian role is assumed before IAM enforcement is switched
//! on, and an admin user (created before) plays the idle sweeper afterwards.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use aws_sdk_sts::config::Credentials;
use chrono::{DateTime, Duration, TimeZone, Utc};
use fleet::aws::audit::S3AuditLog;
use fleet::aws::{AwsSweeper, CallCounter};
use fleet::domain::audit::{notebook_history_prefix, owner_history_prefix};
use fleet::domain::outcome::{
    OutcomeEvent, CUSTODIAN_ACCESS_EXPIRED, CUSTODIAN_ACCESS_GRANTED, NOTEBOOK_LOCKED, NOTEBOOK_PROVISIONED,
    NOTEBOOK_REQUEST_REJECTED, OWNER_DEACTIVATION_COMPLETED,
};
use fleet::domain::request::{
    CUSTODIAN_ACCESS_REQUESTED, NOTEBOOK_DECOMMISSION_REQUESTED, NOTEBOOK_REQUESTED, NOTEBOOK_START_REQUESTED,
    OWNER_DEACTIVATED,
};
use fleet::domain::tags;
use fleet::ports::AuditLog;
use fleet::testing::{ActionRequest, CustodianRequest, DeactivationRequest, DecommissionRequest, NotebookRequest};
use integration_tests::denied::assert_access_denied;
use integration_tests::emulator::assume_role;
use integration_tests::platform::{s3_client, source_of, ASSETS_BUCKET, AUDIT_BUCKET, BUS_NAME};
use integration_tests::{Emulator, Platform};
use serde_json::{json, Value};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).single().expect("valid time")
}

/// Carol's custody of alice's data, as the tests here ask for it.
fn custody(request_id: &str) -> CustodianRequest {
    CustodianRequest::new(request_id, "alice").with_reason("close alice's quarter")
}

fn audit(platform: &Platform) -> S3AuditLog {
    S3AuditLog::new(s3_client(&platform.sdk), AUDIT_BUCKET)
}

/// The field a rejection names first; `None` for any other outcome.
fn refused_field(outcome: &OutcomeEvent) -> Option<&str> {
    match outcome {
        OutcomeEvent::Rejected(rejected) => rejected.problems.first().map(|p| p.field.as_str()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deactivating_an_owner_stops_and_locks_only_their_notebooks_keeps_their_data_and_twice_changes_nothing(
) -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let provisioner = platform.provisioner();
    for (id, name, owner) in [("a1", "alice-one", "alice"), ("a2", "alice-two", "alice"), ("b1", "bob-nb", "bob")] {
        let outcome = provisioner
            .handle_at(
                source_of(NOTEBOOK_REQUESTED),
                NOTEBOOK_REQUESTED,
                &NotebookRequest::new(id, name).with_owner(owner).detail(),
                now(),
            )
            .await?;
        assert!(matches!(outcome, OutcomeEvent::Provisioned(_)), "{outcome:?}");
    }
    let s3 = s3_client(&platform.sdk);
    s3.put_object().bucket("team-data").key("risk/alice/model.pkl").body(b"weights".to_vec().into()).send().await?;

    let outcome = provisioner
        .handle_at(
            source_of(OWNER_DEACTIVATED),
            OWNER_DEACTIVATED,
            &DeactivationRequest::new("d1", "alice").detail(),
            now(),
        )
        .await?;
    let OutcomeEvent::OwnerDeactivationCompleted(completed) = &outcome else { anyhow::bail!("{outcome:?}") };
    assert_eq!(completed.notebooks, ["alice-one", "alice-two"]);
    assert!(!completed.already);
    let events = platform.drain_outcomes().await?;
    let locked: Vec<_> = events.iter().filter(|e| matches!(e, OutcomeEvent::Locked(_))).collect();
    assert_eq!(locked.len(), 2, "one event per notebook: {events:?}");

    let mut after_first = Vec::new();
    for name in ["alice-one", "alice-two"] {
        let (status, tags, policy) = platform.notebook_state(name).await?;
        assert_eq!(status, "Stopped", "{name}");
        assert_eq!(tags.get(tags::LOCK_REASON).map(String::as_str), Some("owner-deactivated"), "{name}");
        assert!(!policy.is_empty() && !policy.contains("s3:PutObject"), "{name}'s role can no longer write: {policy}");
        assert!(policy.contains("risk/alice/"), "{name}'s role still names its data: {policy}");
        after_first.push((status, tags, policy));
    }
    let (bob_status, bob_tags, bob_policy) = platform.notebook_state("bob-nb").await?;
    assert_eq!(bob_status, "InService");
    assert!(!bob_tags.contains_key(tags::LOCKED_AT) && bob_policy.contains("s3:PutObject"), "bob is not touched");
    s3.get_object().bucket("team-data").key("risk/alice/model.pkl").send().await.context("alice's data is kept")?;

    // The second time: the same answer, nothing changed, and no call that could change anything.
    platform.calls.reset();
    let again = provisioner
        .handle_at(
            source_of(OWNER_DEACTIVATED),
            OWNER_DEACTIVATED,
            &DeactivationRequest::new("d2", "alice").detail(),
            now() + Duration::hours(1),
        )
        .await?;
    let OutcomeEvent::OwnerDeactivationCompleted(again) = &again else { anyhow::bail!("{again:?}") };
    assert!(again.already && again.changed.is_empty(), "{again:?}");
    let mut after_second = Vec::new();
    for name in ["alice-one", "alice-two"] {
        after_second.push(platform.notebook_state(name).await?);
    }
    assert_eq!(after_second, after_first, "the second deactivation changed nothing");
    let calls = platform.calls.snapshot();
    let reads_and_records =
        ["GetResources", "DescribeNotebookInstance", "GetRolePolicy", "ListObjectVersions", "PutObject", "PutEvents"];
    let operation = |call: &str| call.rsplit('.').next().unwrap_or_default().to_owned();
    assert!(calls.keys().all(|c| reads_and_records.contains(&operation(c).as_str())), "only reads: {calls:?}");

    // A locked notebook is not started.
    let start = ActionRequest::new("s1", "alice-one").with_requested_by("alice").detail();
    let refused = provisioner
        .handle_at(source_of(NOTEBOOK_START_REQUESTED), NOTEBOOK_START_REQUESTED, &start, now() + Duration::hours(2))
        .await?;
    assert!(matches!(refused, OutcomeEvent::Rejected(ref r) if r.reason.contains("is locked")), "{refused:?}");
    assert_eq!(platform.notebook_state("alice-one").await?.0, "Stopped");

    // The owner's history is one prefix listing: provisioned, locked twice (two runs), the two summaries.
    let history = audit(&platform).history(&owner_history_prefix("alice")).await?.records;
    let actions: Vec<_> = history.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions.iter().filter(|a| **a == NOTEBOOK_PROVISIONED).count(), 2, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| **a == NOTEBOOK_LOCKED).count(), 4, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| **a == OWNER_DEACTIVATION_COMPLETED).count(), 2, "{actions:?}");
    assert!(history.iter().filter(|r| r.action == NOTEBOOK_LOCKED).all(|r| r.actor == "hr-system"));
    let notebook_history = audit(&platform).history(&notebook_history_prefix("alice-one")).await?.records;
    assert_eq!(notebook_history.last().map(|r| r.action.as_str()), Some(NOTEBOOK_REQUEST_REJECTED));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_audit_record_cannot_be_deleted_or_replaced() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    platform
        .provisioner()
        .handle_at(
            source_of(NOTEBOOK_REQUESTED),
            NOTEBOOK_REQUESTED,
            &NotebookRequest::new("a1", "alice-nb").detail(),
            now(),
        )
        .await?;
    let s3 = s3_client(&platform.sdk);
    let versions = s3
        .list_object_versions()
        .bucket(AUDIT_BUCKET)
        .prefix(notebook_history_prefix("alice-nb"))
        .send()
        .await
        .context("listing the record's versions")?;
    let version = versions.versions().first().context("an audit record")?;
    let (key, version_id) = (version.key().context("key")?, version.version_id().context("version")?);

    let deleted = s3.delete_object().bucket(AUDIT_BUCKET).key(key).version_id(version_id).send().await;
    let refusal = deleted.expect_err("object lock must refuse to delete an audit record");
    assert_eq!(refusal.as_service_error().and_then(|e| e.meta().code()), Some("AccessDenied"), "{refusal:?}");
    let head = s3.head_object().bucket(AUDIT_BUCKET).key(key).version_id(version_id).send().await?;
    assert_eq!(head.object_lock_mode().map(|m| m.as_str()), Some("GOVERNANCE"), "the record is under object lock");
    assert!(head.object_lock_retain_until_date().is_some(), "the record is under retention");

    // Writing the key again adds a version; the original stays readable, unchanged.
    s3.put_object().bucket(AUDIT_BUCKET).key(key).body(b"{}".to_vec().into()).send().await.context("writing again")?;
    let original = s3
        .get_object()
        .bucket(AUDIT_BUCKET)
        .key(key)
        .version_id(version_id)
        .send()
        .await
        .context("reading the original version")?;
    let body = original.body.collect().await?.into_bytes();
    let record: Value = serde_json::from_slice(&body)?;
    assert_eq!(record["action"], NOTEBOOK_PROVISIONED);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_custodian_reads_exactly_the_owners_data_never_writes_and_reads_nothing_after_expiry() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let provisioner = platform.provisioner();
    for (id, name, owner) in [("a1", "alice-nb", "alice"), ("b1", "bob-nb", "bob")] {
        provisioner
            .handle_at(
                source_of(NOTEBOOK_REQUESTED),
                NOTEBOOK_REQUESTED,
                &NotebookRequest::new(id, name).with_owner(owner).detail(),
                now(),
            )
            .await?;
    }
    let s3 = s3_client(&platform.sdk);
    for key in ["risk/alice/a.csv", "risk/bob/b.csv"] {
        s3.put_object().bucket("team-data").key(key).body(b"data".to_vec().into()).send().await?;
    }

    // Refused, and nothing created: an owner who is not deactivated, a scope wider than the owner's data,
    // a duration over the bound, a custodian who is the owner.
    let before = platform.notebooks_and_roles().await?;
    let mut by_self = custody("c0").with_hours(24).detail();
    by_self["custodian"] = json!("alice");
    let refusals = [
        ("owner still active", custody("c1").with_hours(24).detail(), "detail.deactivated_owner"),
        (
            "owner still active, wide scope",
            custody("c2").with_scope(&[("team-data", "risk/")]).with_hours(24).detail(),
            "detail.deactivated_owner",
        ),
        ("too long", custody("c3").with_hours(10_000).detail(), "detail.duration_hours"),
        ("the owner themself", by_self, "detail.custodian"),
    ];
    for (what, detail, field) in refusals {
        let outcome = provisioner
            .handle_at(source_of(CUSTODIAN_ACCESS_REQUESTED), CUSTODIAN_ACCESS_REQUESTED, &detail, now())
            .await?;
        assert_eq!(refused_field(&outcome), Some(field), "{what}: {outcome:?}");
    }
    provisioner
        .handle_at(
            source_of(OWNER_DEACTIVATED),
            OWNER_DEACTIVATED,
            &DeactivationRequest::new("d1", "alice").detail(),
            now(),
        )
        .await?;
    let wide = custody("c4").with_scope(&[("team-data", "risk/")]).with_hours(24).detail();
    let outcome =
        provisioner.handle_at(source_of(CUSTODIAN_ACCESS_REQUESTED), CUSTODIAN_ACCESS_REQUESTED, &wide, now()).await?;
    assert_eq!(refused_field(&outcome), Some("detail.scope[0]"), "{outcome:?}");
    let foreign = custody("c5").with_scope(&[("team-data", "risk/bob/")]).with_hours(24).detail();
    let outcome = provisioner
        .handle_at(source_of(CUSTODIAN_ACCESS_REQUESTED), CUSTODIAN_ACCESS_REQUESTED, &foreign, now())
        .await?;
    assert!(matches!(outcome, OutcomeEvent::Rejected(_)), "{outcome:?}");
    assert_eq!(platform.notebooks_and_roles().await?, before, "every refused request left zero resources");

    let granted = provisioner
        .handle_at(
            source_of(CUSTODIAN_ACCESS_REQUESTED),
            CUSTODIAN_ACCESS_REQUESTED,
            &custody("c6").with_hours(24).detail(),
            now(),
        )
        .await?;
    let OutcomeEvent::CustodianGranted(granted) = &granted else { anyhow::bail!("not granted: {granted:?}") };
    assert_eq!(granted.expires_at, now() + Duration::hours(24));
    let role_arn = granted.role_arn.clone();
    let (_, custody_tags, _) = platform.notebook_state("carol-custody").await?;
    assert_eq!(custody_tags.get(tags::CUSTODIAN_FOR).map(String::as_str), Some("alice"));
    assert_eq!(custody_tags.get(tags::TICKET).map(String::as_str), Some("LEGAL-42"));

    // Before enforcement: SageMaker's assumption of the role, and an admin to play the idle sweeper.
    let custodian_credentials = assume_role(&platform.sdk, &role_arn).await?;
    let iam = aws_sdk_iam::Client::new(&platform.sdk);
    iam.create_user().user_name("sweeper").send().await?;
    iam.put_user_policy()
        .user_name("sweeper")
        .policy_name("all")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
        .send()
        .await?;
    let key = iam.create_access_key().user_name("sweeper").send().await?.access_key.context("access key")?;
    emulator.enforce_iam_after(0)?;

    let custodian_s3 = s3_client(&emulator.sdk_config_as(custodian_credentials).await);
    let get = |key: &'static str| {
        let s3 = custodian_s3.clone();
        async move { s3.get_object().bucket("team-data").key(key).send().await.map(|_| ()) }
    };
    let put = |key: &'static str| {
        let s3 = custodian_s3.clone();
        async move { s3.put_object().bucket("team-data").key(key).body(b"x".to_vec().into()).send().await.map(|_| ()) }
    };
    get("risk/alice/a.csv").await.context("the custodian reads the owner's data")?;
    assert_access_denied(put("risk/alice/new.csv").await, "the custodian's write of the owner's data");
    assert_access_denied(get("risk/bob/b.csv").await, "the custodian's read of another owner's data");

    // Past the expiry, the sweeper revokes the role and stops the notebook.
    let sweeper_sdk = emulator
        .sdk_config_as(Credentials::new(key.access_key_id(), key.secret_access_key(), None, None, "sweeper"))
        .await;
    let vars = BTreeMap::from([
        (fleet::config::EVENT_BUS_NAME, BUS_NAME.to_owned()),
        (fleet::config::ASSETS_BUCKET, ASSETS_BUCKET.to_owned()),
        (fleet::config::AUDIT_BUCKET, AUDIT_BUCKET.to_owned()),
    ]);
    let config = fleet::config::sweep_settings(&fleet::config::Vars::new(|name| vars.get(name).cloned()))?;
    let calls = CallCounter::new();
    let sweeper = AwsSweeper::from_sdk_config(&sweeper_sdk, config, &calls, true);
    let early = sweeper.sweep(now() + Duration::hours(23)).await?;
    assert!(early.revoked.is_empty(), "nothing expires early: {early:?}");
    let report = sweeper.sweep(now() + Duration::hours(25)).await?;
    assert_eq!(report.revoked, ["carol-custody"], "{report:?}");
    assert!(report.stopped.contains(&"carol-custody".to_owned()), "{report:?}");
    assert_access_denied(get("risk/alice/a.csv").await, "after expiry, the custodian role's read");
    let again = sweeper.sweep(now() + Duration::hours(26)).await?;
    assert!(again.revoked.is_empty(), "revoked once: {again:?}");

    let sweeper_audit = S3AuditLog::new(s3_client(&sweeper_sdk), AUDIT_BUCKET);
    let history = sweeper_audit.history(&notebook_history_prefix("carol-custody")).await?.records;
    let actions: Vec<_> = history.iter().map(|r| r.action.as_str()).collect();
    assert!(actions.contains(&CUSTODIAN_ACCESS_GRANTED) && actions.contains(&CUSTODIAN_ACCESS_EXPIRED), "{actions:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn decommission_deletes_a_notebook_only_when_confirmed_and_never_its_data() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let provisioner = platform.provisioner();
    provisioner
        .handle_at(
            source_of(NOTEBOOK_REQUESTED),
            NOTEBOOK_REQUESTED,
            &NotebookRequest::new("b1", "bob-nb").with_owner("bob").detail(),
            now(),
        )
        .await?;
    let s3 = s3_client(&platform.sdk);
    s3.put_object().bucket("team-data").key("risk/bob/b.csv").body(b"data".to_vec().into()).send().await?;

    let unconfirmed = DecommissionRequest::new("x1", "bob-nb").with_deletion(Some(true), None).detail();
    let refused = provisioner
        .handle_at(source_of(NOTEBOOK_DECOMMISSION_REQUESTED), NOTEBOOK_DECOMMISSION_REQUESTED, &unconfirmed, now())
        .await?;
    assert_eq!(refused_field(&refused), Some("detail.confirm_notebook_name"), "{refused:?}");
    assert_eq!(platform.notebook_state("bob-nb").await?.0, "InService", "a refused request changes nothing");

    let keep = DecommissionRequest::new("x2", "bob-nb").detail();
    let kept = provisioner
        .handle_at(source_of(NOTEBOOK_DECOMMISSION_REQUESTED), NOTEBOOK_DECOMMISSION_REQUESTED, &keep, now())
        .await?;
    assert!(matches!(kept, OutcomeEvent::Decommissioned(ref d) if !d.deleted), "{kept:?}");
    let (status, found, _) = platform.notebook_state("bob-nb").await?;
    assert_eq!(status, "Stopped");
    assert!(found.contains_key(tags::DECOMMISSIONED_AT) && found.contains_key(tags::LOCKED_AT), "{found:?}");

    let confirmed = DecommissionRequest::new("x3", "bob-nb").deleting().detail();
    let deleted = provisioner
        .handle_at(source_of(NOTEBOOK_DECOMMISSION_REQUESTED), NOTEBOOK_DECOMMISSION_REQUESTED, &confirmed, now())
        .await?;
    assert!(matches!(deleted, OutcomeEvent::Decommissioned(ref d) if d.deleted), "{deleted:?}");
    let (notebooks, roles) = platform.notebooks_and_roles().await?;
    assert!(!notebooks.contains(&"bob-nb".to_owned()) && !roles.contains(&"nbf-bob-nb".to_owned()));
    s3.get_object().bucket("team-data").key("risk/bob/b.csv").send().await.context("bob's data is kept")?;
    let replay = provisioner
        .handle_at(source_of(NOTEBOOK_DECOMMISSION_REQUESTED), NOTEBOOK_DECOMMISSION_REQUESTED, &confirmed, now())
        .await?;
    assert_eq!(replay, deleted, "a redelivery answers what was done");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_concurrent_deliveries_of_a_deactivation_all_answer_and_lock_each_notebook() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let provisioner = platform.provisioner();
    for (id, name) in [("a1", "alice-one"), ("a2", "alice-two"), ("a3", "alice-three")] {
        provisioner
            .handle_at(
                source_of(NOTEBOOK_REQUESTED),
                NOTEBOOK_REQUESTED,
                &NotebookRequest::new(id, name).detail(),
                now(),
            )
            .await?;
    }
    let request = DeactivationRequest::new("d1", "alice").detail();
    let deliveries =
        (0..10).map(|_| provisioner.handle_at(source_of(OWNER_DEACTIVATED), OWNER_DEACTIVATED, &request, now()));
    let answers = futures::future::join_all(deliveries).await;
    for answer in answers {
        let answer = answer?;
        let OutcomeEvent::OwnerDeactivationCompleted(completed) = &answer else {
            anyhow::bail!("every delivery is answered: {answer:?}")
        };
        assert_eq!(completed.notebooks, ["alice-one", "alice-three", "alice-two"]);
    }
    for name in ["alice-one", "alice-two", "alice-three"] {
        let (status, found, policy) = platform.notebook_state(name).await?;
        assert_eq!(status, "Stopped", "{name}");
        assert_eq!(found.get(tags::LOCK_REASON).map(String::as_str), Some("owner-deactivated"), "{name}");
        assert!(!policy.contains("s3:PutObject") && policy.contains("s3:GetObject"), "{name}: {policy}");
    }
    Ok(())
}
