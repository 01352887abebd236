//! The request ledger over in-memory ports: one outcome per request id however it is delivered, again, under
//! another name, after its notebook is gone, concurrently, or after the first delivery died mid-answer.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::{LedgerWait, RetryPolicy};
use crate::domain::ledger::{LedgerEntry, TAKEOVER_AFTER};
use crate::domain::outcome::{OutcomeEvent, NOTEBOOK_PROVISIONED};
use crate::domain::request::NOTEBOOK_REQUESTED;
use crate::domain::settings::tests::{settings as config, SENDER};
use crate::error::{ErrorKind, ServiceError};
use crate::testing::{provisioned, FakeAws, FakeProvisioner, NotebookRequest};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).single().expect("valid")
}

fn provisioner(fake: &FakeAws) -> FakeProvisioner {
    fake.provisioner(config())
        .with_retry(RetryPolicy::immediate(4))
        .with_ledger_wait(LedgerWait { wait: Duration::from_millis(50), poll: Duration::from_millis(5) })
}

#[tokio::test]
async fn a_request_id_is_answered_once_also_under_another_name_and_after_its_notebook_is_gone() {
    let fake = FakeAws::new();
    let p = provisioner(&fake);
    let first = p
        .handle_at(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r1", "alice-nb").detail(), now())
        .await
        .expect("answered");
    assert!(!provisioned(&first).replayed);
    assert_eq!(fake.events().len(), 1);

    fake.state().calls.clear();
    let other_name = p
        .handle_at(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r1", "alice-other").detail(), now())
        .await
        .expect("answered");
    assert_eq!(provisioned(&other_name).notebook_name, "alice-nb", "the first answer, not a second notebook");
    assert!(provisioned(&other_name).replayed);
    assert_eq!(fake.calls(), ["ListAuditVersions", "GetAuditRecord"], "one listing, one read, nothing else");

    fake.state().notebooks.clear();
    let after_deletion = p
        .handle_at(SENDER, NOTEBOOK_REQUESTED, &NotebookRequest::new("r1", "alice-nb").detail(), now())
        .await
        .expect("answered");
    assert_eq!(provisioned(&after_deletion).notebook_arn, provisioned(&first).notebook_arn);
    assert!(fake.state().notebooks.is_empty(), "a deleted notebook is not provisioned again for its request");
    assert_eq!(fake.events().len(), 1, "redeliveries publish nothing");
}

/// The fakes answer without yielding, so these deliveries run one after another; the concurrent race is
/// `a_delivery_that_loses_the_claim_…` here and `ten_concurrent_deliveries_…` on moto.
#[tokio::test]
async fn ten_deliveries_publish_one_outcome_and_all_answer_it() {
    let fake = FakeAws::new();
    let p = provisioner(&fake).with_ledger_wait(LedgerWait { wait: Duration::from_secs(5), poll: Duration::ZERO });
    let detail = NotebookRequest::new("r1", "alice-nb").detail();
    let answers =
        futures::future::join_all((0..10).map(|_| p.handle_at(SENDER, NOTEBOOK_REQUESTED, &detail, now()))).await;
    let arns: std::collections::BTreeSet<_> =
        answers.iter().map(|a| provisioned(a.as_ref().expect("answered")).notebook_arn.clone()).collect();
    assert_eq!(arns.len(), 1, "{answers:?}");
    assert_eq!(fake.events().iter().filter(|e| e.detail_type() == NOTEBOOK_PROVISIONED).count(), 1);
    let history: Vec<_> = fake.audit_records().into_keys().filter(|k| k.starts_with("notebooks/alice-nb/")).collect();
    assert_eq!(history.len(), 1, "one audit record for one outcome: {history:?}");
}

#[tokio::test]
async fn a_claim_left_by_a_dead_delivery_is_waited_for_then_published_once_no_invocation_can_hold_it() {
    let fake = FakeAws::new();
    let p = provisioner(&fake);
    let detail = NotebookRequest::new("r1", "alice-nb").detail();
    // The first delivery claims its answer, then dies before its event is out.
    fake.fail("PutEvents", &[ErrorKind::Throttled]);
    let died = p.handle_at(SENDER, NOTEBOOK_REQUESTED, &detail, now()).await.expect_err("the publish failed");
    assert!(died.retryable(), "{died}");
    assert!(fake.events().is_empty());

    // A retry while the first delivery could still be running waits, then asks to be retried.
    let early = p.handle_at(SENDER, NOTEBOOK_REQUESTED, &detail, now() + chrono::Duration::seconds(30)).await;
    assert!(matches!(early, Err(ServiceError::Unpublished { .. })), "{early:?}");
    assert!(early.as_ref().is_err_and(ServiceError::retryable));
    assert!(fake.events().is_empty(), "nothing published while the claim may be held");

    // Once no invocation can still hold the claim, the retry publishes the first answer, once.
    let later = now() + chrono::Duration::from_std(TAKEOVER_AFTER).expect("fits") + chrono::Duration::seconds(1);
    let taken = p.handle_at(SENDER, NOTEBOOK_REQUESTED, &detail, later).await.expect("taken over");
    assert_eq!(fake.events(), std::slice::from_ref(&taken), "the first answer, published");
    let again = p.handle_at(SENDER, NOTEBOOK_REQUESTED, &detail, later).await.expect("answered");
    assert_eq!(provisioned(&again).notebook_arn, provisioned(&taken).notebook_arn);
    assert_eq!(fake.events().len(), 1, "published once");
    let entry = LedgerEntry::new(NOTEBOOK_REQUESTED, "r1");
    assert!(fake.audit_records().contains_key(&entry.published_key()));
}

#[tokio::test]
async fn a_forged_or_malformed_event_takes_no_request_id() {
    let fake = FakeAws::new();
    let p = provisioner(&fake);
    let detail = NotebookRequest::new("r1", "alice-nb").detail();
    let forged = p.handle_at("someone.else", NOTEBOOK_REQUESTED, &detail, now()).await.expect("refused");
    assert!(matches!(forged, OutcomeEvent::Rejected(_)), "{forged:?}");
    let mut malformed = detail.clone();
    malformed["volume_size_gb"] = serde_json::json!("twenty");
    let malformed = p.handle_at(SENDER, NOTEBOOK_REQUESTED, &malformed, now()).await.expect("refused");
    assert!(matches!(malformed, OutcomeEvent::Rejected(_)), "{malformed:?}");
    assert!(!fake.audit_records().keys().any(|k| k.starts_with("ledger/")), "neither is in the ledger");

    let real = p.handle_at(SENDER, NOTEBOOK_REQUESTED, &detail, now()).await.expect("provisioned");
    assert!(!provisioned(&real).replayed, "the sender's own request is acted on");
}

#[tokio::test]
async fn a_delivery_that_loses_the_claim_publishes_nothing_and_answers_the_winners_outcome() {
    // The winner: another delivery of r1 that answered and published (here on a separate account).
    let winner = FakeAws::new();
    let detail = NotebookRequest::new("r1", "alice-nb").detail();
    let won = provisioner(&winner).handle_at(SENDER, NOTEBOOK_REQUESTED, &detail, now()).await.expect("answered");
    let entry = LedgerEntry::new(NOTEBOOK_REQUESTED, "r1");

    // This delivery listed the ledger just before the winner's writes landed: it acts, then its claim is refused.
    let fake = FakeAws::new();
    {
        let mut state = fake.state();
        for key in [entry.answer_key(), entry.published_key()] {
            let record = winner.audit_records()[&key].clone();
            state.audit.insert(key.clone(), record);
            state.unlisted.insert(key);
        }
    }
    let p = provisioner(&fake);
    let later = now() + chrono::Duration::seconds(1);
    let lost = p.handle_at(SENDER, NOTEBOOK_REQUESTED, &detail, later).await;
    assert!(matches!(lost, Err(ServiceError::Unpublished { .. })), "it waits for the winner: {lost:?}");
    assert!(fake.events().is_empty(), "the loser publishes nothing");
    assert!(
        !fake.audit_records().keys().any(|k| k.starts_with("notebooks/")),
        "and writes no record of an answer that is not the request's"
    );

    fake.state().unlisted.clear();
    let answered = p.handle_at(SENDER, NOTEBOOK_REQUESTED, &detail, later).await.expect("answered");
    assert_eq!(provisioned(&answered).notebook_arn, provisioned(&won).notebook_arn, "the winner's answer");
    assert!(fake.events().is_empty());
}

#[tokio::test]
async fn a_delivery_that_created_the_notebook_and_died_before_answering_leaves_the_first_answer_to_the_next() {
    let fake = FakeAws::new();
    let p = provisioner(&fake);
    let request = NotebookRequest::new("r1", "alice-nb").detail();
    // The notebook is created, then the claim of its answer fails (throttled): the delivery is retried.
    fake.fail("PutAuditRecord", &[ErrorKind::Throttled]);
    let error = p.handle_at(SENDER, NOTEBOOK_REQUESTED, &request, now()).await.expect_err("throttled claim");
    assert!(error.retryable() && fake.events().is_empty());

    let retried = p.handle_at(SENDER, NOTEBOOK_REQUESTED, &request, now()).await.expect("answered");
    // It found the notebook this request created, and its answer is the request's first: not `replayed`
    // (a custodian's grant counts an owner's folders from first answers only).
    assert!(!provisioned(&retried).replayed, "{retried:?}");
    let recorded = fake.audit_records().into_values().find(|r| r.action == NOTEBOOK_PROVISIONED).expect("recorded");
    assert_eq!(recorded.detail["replayed"], false);

    let again = p.handle_at(SENDER, NOTEBOOK_REQUESTED, &request, now()).await.expect("from the ledger");
    assert!(provisioned(&again).replayed, "a delivery after the answer is a replay");
    assert_eq!(fake.events().len(), 1);
}
