//! The audit trail on the emulator, in a bucket made as the template makes it (versioned, object lock on):
//! records are written with `If-None-Match: *`, so a different record is never written over one; readers
//! take a key's first version; a record rewritten by hand (a plain PutObject, as anyone with write access to
//! the bucket could) is shown as first written by `audit-history` and reported by `audit-history --verify`.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, TimeZone, Utc};
use fleet::aws::audit::S3AuditLog;
use fleet::domain::audit::{notebook_history_prefix, AuditRecord};
use fleet::domain::outcome::{OutcomeEvent, NOTEBOOK_PROVISIONED};
use fleet::domain::request::{NOTEBOOK_REQUESTED, OWNER_DEACTIVATED};
use fleet::error::ErrorKind;
use fleet::ports::AuditLog;
use fleet::testing::{DeactivationRequest, NotebookRequest};
use integration_tests::platform::{s3_client, source_of, AUDIT_BUCKET};
use integration_tests::{Emulator, Platform};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).single().expect("valid time")
}

/// `audit-history` as the binary runs it: its exit status, stdout and stderr.
async fn audit_history(audit: &S3AuditLog, line: &str) -> Result<(u8, String, String)> {
    let line = format!("audit-history --bucket {AUDIT_BUCKET} {line}");
    let args = audit_history::parse(line.split_whitespace(), |_| None)?;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = audit_history::run(audit, &args, &mut out, &mut err).await;
    Ok((status, String::from_utf8(out)?, String::from_utf8(err)?))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_emulator_refuses_a_conditional_write_to_an_existing_key_and_keeps_every_version() -> Result<()> {
    let emulator = Emulator::start()?;
    Platform::build(&emulator).await?;
    let s3 = s3_client(&emulator.sdk_config().await);
    let put = |body: &'static [u8], conditional: bool| {
        let request = s3.put_object().bucket(AUDIT_BUCKET).key("owners/x/k.json").body(body.to_vec().into());
        let request = if conditional { request.if_none_match("*") } else { request };
        request.send()
    };
    put(b"first", true).await.context("a conditional write of a new key")?;
    let refused = put(b"second", true).await.expect_err("a conditional write to an existing key is refused");
    let raw = refused.raw_response().map(|r| r.status().as_u16());
    let code = refused.as_service_error().and_then(|e| e.meta().code()).map(str::to_owned);
    assert_eq!((raw, code.as_deref()), (Some(412), Some("PreconditionFailed")), "{refused:?}");
    put(b"third", false).await.context("a plain write adds a version")?;
    let listed = s3.list_object_versions().bucket(AUDIT_BUCKET).prefix("owners/x/k.json").send().await?;
    assert_eq!(listed.versions().len(), 2, "the refused write left no version: {listed:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_record_is_written_once_read_as_first_written_and_a_rewrite_is_reported_by_verify() -> Result<()> {
    let emulator = Emulator::start()?;
    let platform = Platform::build(&emulator).await?;
    let provisioner = platform.provisioner();
    let request = NotebookRequest::new("a1", "alice-nb").detail();
    platform.calls.reset();
    let outcome = provisioner.handle_at(source_of(NOTEBOOK_REQUESTED), NOTEBOOK_REQUESTED, &request, now()).await?;
    assert!(matches!(outcome, OutcomeEvent::Provisioned(_)), "{outcome:?}");
    let calls = platform.calls.snapshot();
    // The request ledger's lookup (a listing), claim and publication mark (two writes); is the owner
    // deactivated (one listing of the marker's versions); the record under two histories.
    let s3_calls: BTreeMap<&str, u64> =
        calls.iter().filter(|(op, _)| op.starts_with("S3.")).map(|(op, n)| (op.as_str(), *n)).collect();
    assert_eq!(s3_calls, BTreeMap::from([("S3.ListObjectVersions", 2), ("S3.PutObject", 4)]), "{calls:?}");
    let deactivate = DeactivationRequest::new("d1", "alice").with_reason("left").detail();
    let outcome = provisioner.handle_at(source_of(OWNER_DEACTIVATED), OWNER_DEACTIVATED, &deactivate, now()).await?;
    assert!(matches!(outcome, OutcomeEvent::OwnerDeactivationCompleted(_)), "{outcome:?}");

    let audit = S3AuditLog::new(s3_client(&platform.sdk), AUDIT_BUCKET);
    for history in ["--owner alice --verify", "--notebook alice-nb --verify"] {
        let (status, out, err) = audit_history(&audit, history).await?;
        assert_eq!(status, 0, "{history}: {out}{err}");
        let records = if history.starts_with("--owner") { 3 } else { 2 };
        assert_eq!(out, format!("verified: {records} records, no finding\n"), "{history}: {err}");
    }

    // The provisioning record under the notebook.
    let prefix = notebook_history_prefix("alice-nb");
    let history = audit.history(&prefix).await?;
    let original = history.records.iter().find(|r| r.action == NOTEBOOK_PROVISIONED).context("provisioned")?.clone();
    let key = original.keys().into_iter().find(|k| k.starts_with(&prefix)).context("the notebook's key")?;
    let versions = |key: String| {
        let audit = audit.clone();
        async move { Ok::<_, anyhow::Error>(audit.versions(&key).await?.into_iter().find(|k| k.key == key)) }
    };

    // Written again, the same record is success (a retried write) and adds no version.
    audit.write(&key, &original).await.context("an identical write is a retry")?;
    assert_eq!(versions(key.clone()).await?.map(|k| k.versions.len()), Some(1));

    // A different record under the same key is refused, not retryable, and the key is named.
    let mut forged: AuditRecord = original.clone();
    forged.reason = Some("nothing to see here".into());
    let refused = audit.write(&key, &forged).await.expect_err("a different record is never written over one");
    assert!(refused.is(ErrorKind::AlreadyExists) && !refused.retryable(), "{refused}");
    assert_eq!(refused.code.as_deref(), Some("PreconditionFailed"), "{refused}");
    assert!(refused.to_string().contains(&key), "{refused}");
    assert_eq!(versions(key.clone()).await?.map(|k| k.versions.len()), Some(1), "the refused write added nothing");
    assert_eq!(audit.read(&key).await?.as_ref(), Some(&original), "readers see the original");

    // A tamperer with write access to the bucket writes over it without the condition: a second version.
    let s3 = s3_client(&platform.sdk);
    s3.put_object().bucket(AUDIT_BUCKET).key(&key).body(forged.body().into()).send().await?;
    let rewritten = versions(key.clone()).await?.context("the key")?;
    let ids: Vec<_> = rewritten.versions.iter().map(|v| v.version_id.clone()).collect();
    if ids.len() != 2 {
        bail!("the emulator should keep both versions: {rewritten:?}");
    }
    let newest = s3.get_object().bucket(AUDIT_BUCKET).key(&key).send().await?.body.collect().await?.into_bytes();
    assert_eq!(newest.as_ref(), forged.body().as_slice(), "a plain read would see the forgery");
    assert_eq!(audit.read(&key).await?.as_ref(), Some(&original), "readers still see the first version");

    // The history still shows the record as first written, and names the rewritten key.
    let (status, out, err) = audit_history(&audit, "--notebook alice-nb").await?;
    assert_eq!(status, 0, "{err}");
    assert!(out.contains(&original.line()) && !out.contains("nothing to see here"), "{out}");
    assert!(err.contains(&format!("warning: {key} has 2 versions")), "{err}");
    let history = audit.history(&prefix).await?;
    assert_eq!(history.tampered.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(), [key.as_str()]);

    // --verify reports the rewrite with both versions, and fails.
    let (status, out, err) = audit_history(&audit, "--notebook alice-nb --verify").await?;
    assert_eq!(status, 1, "{out}{err}");
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 1, "one finding: {out}");
    assert!(lines[0].starts_with(&format!("rewritten: {key}: 2 versions: {} at ", ids[0])), "{out}");
    assert!(lines[0].contains(" (the record), ") && lines[0].contains(&ids[1]), "{out}");
    assert!(err.contains("1 finding in 2 records"), "{err}");

    // The owner's copy was not touched: the owner's trail still verifies clean.
    let (status, out, _) = audit_history(&audit, "--owner alice --verify").await?;
    assert_eq!((status, out.as_str()), (0, "verified: 3 records, no finding\n"));
    Ok(())
}
