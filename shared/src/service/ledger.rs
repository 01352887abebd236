//! The request ledger in the provisioner's flow (see `domain::ledger`): before acting, a request already
//! answered is answered again from the ledger; after deciding, the answer is claimed, and only the delivery
//! whose claim is written publishes.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::Provisioner;
use crate::domain::audit::AuditRecord;
use crate::domain::ledger::{unpublished, LedgerEntry, LedgerState, Unpublished};
use crate::domain::outcome::OutcomeEvent;
use crate::domain::request::{Request, REQUEST_DETAIL_TYPES};
use crate::domain::types::RequestId;
use crate::error::{ErrorKind, ServiceError};
use crate::ports::{AuditLog, Events, Network, Notebooks, Roles};

/// How long a delivery waits for another delivery of the same request to publish, and how often it looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerWait {
    pub wait: Duration,
    pub poll: Duration,
}

impl Default for LedgerWait {
    /// Publishing takes the first delivery well under a second; 15 s leaves the invocation (120 s) time to
    /// fail retryably instead of timing out.
    fn default() -> Self {
        LedgerWait { wait: Duration::from_secs(15), poll: Duration::from_millis(250) }
    }
}

/// What the ledger says before a delivery acts.
pub(crate) enum Before {
    /// Nobody answered this request yet: act, then claim the answer in this entry.
    Act(LedgerEntry),
    /// Answered already: this is the answer, and nothing is to be published.
    Answered(Box<OutcomeEvent>),
    /// Not a ledger request (a refused sender, an event that does not parse): act without an entry.
    Unkeyed,
}

impl<N: Network, R: Roles, S: Notebooks, E: Events, A: AuditLog> Provisioner<N, R, S, E, A> {
    /// The ledger's word on a request before anything is done: one version listing.
    pub(crate) async fn before_acting(
        &self,
        source: &str,
        detail_type: &str,
        detail: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<Before, ServiceError> {
        let Some(entry) = self.ledger_entry(source, detail_type, detail) else { return Ok(Before::Unkeyed) };
        let listed = self.audit.versions(&entry.prefix).await.map_err(ServiceError::Audit)?;
        match entry.state(&listed) {
            LedgerState::Unclaimed => Ok(Before::Act(entry)),
            LedgerState::Published { answer_version } => {
                self.replay(&entry, &answer_version).await.map(|(outcome, _)| Before::Answered(Box::new(outcome)))
            }
            LedgerState::Claimed { answer_version, claimed_at } => match unpublished(claimed_at, now) {
                Unpublished::Wait => self.await_publication(&entry).await.map(|o| Before::Answered(Box::new(o))),
                Unpublished::TakeOver => {
                    self.take_over(&entry, &answer_version).await.map(|o| Before::Answered(Box::new(o)))
                }
            },
        }
    }

    /// Claims the answer for this delivery: `Ok(None)` when it is this delivery's to publish, or the answer
    /// another delivery claimed first (waited for until it is published).
    pub(crate) async fn claim(
        &self,
        entry: &LedgerEntry,
        record: &AuditRecord,
    ) -> Result<Option<OutcomeEvent>, ServiceError> {
        match self.audit.write(&entry.answer_key(), record).await {
            Ok(()) => Ok(None),
            Err(error) if error.is(ErrorKind::AlreadyExists) => {
                tracing::info!(key = %entry.answer_key(), "another delivery answered this request first");
                self.await_publication(entry).await.map(Some)
            }
            Err(error) => Err(ServiceError::Audit(error)),
        }
    }

    /// Marks the claimed answer as published: later deliveries answer it and publish nothing.
    pub(crate) async fn mark_published(&self, entry: &LedgerEntry, record: &AuditRecord) -> Result<(), ServiceError> {
        self.audit.write(&entry.published_key(), record).await.map_err(ServiceError::Audit)
    }

    /// The entry of a request that passed the sender check and parses, with a well-formed id.
    fn ledger_entry(&self, source: &str, detail_type: &str, detail: &serde_json::Value) -> Option<LedgerEntry> {
        if !REQUEST_DETAIL_TYPES.contains(&detail_type) || self.config.senders.check(detail_type, source).is_err() {
            return None;
        }
        let request = Request::parse(detail_type, detail).ok()?;
        let id = RequestId::parse(request.request_id()).ok()?;
        Some(LedgerEntry::new(detail_type, &id))
    }

    /// Waits for the claiming delivery to publish, then answers its outcome; a retryable error when it has
    /// not published within the wait (the retry finds it published, or takes over once it is gone).
    async fn await_publication(&self, entry: &LedgerEntry) -> Result<OutcomeEvent, ServiceError> {
        let started = Instant::now();
        loop {
            let listed = self.audit.versions(&entry.prefix).await.map_err(ServiceError::Audit)?;
            if let LedgerState::Published { answer_version } = entry.state(&listed) {
                return self.replay(entry, &answer_version).await.map(|(outcome, _)| outcome);
            }
            if started.elapsed() >= self.ledger_wait.wait {
                return Err(ServiceError::Unpublished { key: entry.answer_key() });
            }
            tokio::time::sleep(self.ledger_wait.poll).await;
        }
    }

    /// Finishes what a delivery that died after its claim left undone: the answer's audit records, its event,
    /// the publication mark (each write of the same record is a no-op where it was already made).
    async fn take_over(&self, entry: &LedgerEntry, answer_version: &str) -> Result<OutcomeEvent, ServiceError> {
        let (_, record) = self.replay(entry, answer_version).await?;
        let outcome = outcome_of(entry, &record)?;
        tracing::warn!(key = %entry.answer_key(), "the delivery that answered this request did not publish; publishing its answer");
        self.audit.append(&record).await.map_err(ServiceError::Audit)?;
        self.events.publish_all(std::slice::from_ref(&outcome)).await.map_err(ServiceError::Publish)?;
        self.mark_published(entry, &record).await?;
        Ok(outcome)
    }

    /// The claimed answer, as a redelivery is answered (`replayed` where the outcome says so), and its record.
    async fn replay(
        &self,
        entry: &LedgerEntry,
        answer_version: &str,
    ) -> Result<(OutcomeEvent, AuditRecord), ServiceError> {
        let key = entry.answer_key();
        let body = self.audit.read_version(&key, answer_version).await.map_err(ServiceError::Audit)?;
        let record: AuditRecord = serde_json::from_slice(&body).map_err(|e| earlier_answer(entry, e.to_string()))?;
        let mut outcome = outcome_of(entry, &record)?;
        outcome.set_replayed(true);
        tracing::info!(key = %key, outcome = outcome.detail_type(), "request answered before; answering it again");
        Ok((outcome, record))
    }
}

/// The outcome an answer record holds.
fn outcome_of(entry: &LedgerEntry, record: &AuditRecord) -> Result<OutcomeEvent, ServiceError> {
    let event = serde_json::json!({ "detail-type": record.action, "detail": record.detail });
    serde_json::from_value(event).map_err(|e| earlier_answer(entry, e.to_string()))
}

fn earlier_answer(entry: &LedgerEntry, reason: String) -> ServiceError {
    ServiceError::EarlierAnswer { action: "ledger", request_id: entry.answer_key(), reason }
}
