//! The provisioner's use cases, generic over the ports so that the shipped code is the tested code.
//!
//! [`Provisioner::handle`] answers every request event with exactly one outcome event. A bad request is a
//! `Notebook Request Rejected` and the invocation succeeds; an AWS failure that a retry can fix is returned
//! as an error (so EventBridge and Lambda retry); any other failure is a `Notebook Provisioning Failed`.

mod actions;
mod custodian;
mod deactivate;
mod decommission;
pub mod lambda;
mod ledger;
mod lock;
mod provision;
pub mod publish;
mod retry;
mod snooze;
pub mod sweep;

pub use ledger::LedgerWait;
pub use retry::RetryPolicy;

use chrono::{DateTime, Utc};

use crate::domain::audit::AuditRecord;
use crate::domain::outcome::{Failed, OutcomeEvent, Rejected};
use crate::domain::request::{Request, REQUEST_DETAIL_TYPES};
use crate::domain::settings::ProvisionerSettings;
use crate::domain::types::{NotebookName, Principal, RequestId};
use crate::domain::validation::Rejection;
use crate::error::{error_chain, ServiceError};
use crate::ports::{AuditLog, Events, Network, Notebooks, Roles};
use ledger::Before;

/// The name the provisioner signs its audit records with.
pub const PROVISIONER: &str = "provisioner";

#[derive(Debug)]
pub struct Provisioner<N, R, S, E, A> {
    pub(crate) network: N,
    pub(crate) roles: R,
    pub(crate) notebooks: S,
    pub(crate) events: E,
    pub(crate) audit: A,
    pub(crate) config: ProvisionerSettings,
    pub(crate) retry: RetryPolicy,
    pub(crate) ledger_wait: LedgerWait,
    /// Lifecycle configurations known to exist. They are immutable and named by content, so once seen
    /// (created, or found to exist) a warm Lambda need not ask again.
    pub(crate) known_lifecycle_configs: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

/// What handling a request produced: its one outcome, and the events of what it did on the way (one per
/// notebook an owner's deactivation locked).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answer {
    pub outcome: OutcomeEvent,
    pub notices: Vec<OutcomeEvent>,
}

impl From<OutcomeEvent> for Answer {
    fn from(outcome: OutcomeEvent) -> Self {
        Answer { outcome, notices: Vec::new() }
    }
}

impl<N: Network, R: Roles, S: Notebooks, E: Events, A: AuditLog> Provisioner<N, R, S, E, A> {
    pub fn new(network: N, roles: R, notebooks: S, events: E, audit: A, config: ProvisionerSettings) -> Self {
        Provisioner {
            network,
            roles,
            notebooks,
            events,
            audit,
            config,
            retry: RetryPolicy::default(),
            ledger_wait: LedgerWait::default(),
            known_lifecycle_configs: std::sync::Mutex::default(),
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_ledger_wait(mut self, wait: LedgerWait) -> Self {
        self.ledger_wait = wait;
        self
    }

    /// Handles one request event now. See [`Provisioner::handle_at`].
    pub async fn handle(
        &self,
        source: &str,
        detail_type: &str,
        detail: &serde_json::Value,
    ) -> Result<OutcomeEvent, ServiceError> {
        self.handle_at(source, detail_type, detail, Utc::now()).await
    }

    /// Handles one request event at `now`: acts, writes one audit record per event, publishes the events.
    /// Returns the outcome, or an error only when a retry of the whole event can help (every step is
    /// idempotent, so a retry after a failed audit write or publish answers again).
    pub async fn handle_at(
        &self,
        source: &str,
        detail_type: &str,
        detail: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<OutcomeEvent, ServiceError> {
        let entry = match self.before_acting(source, detail_type, detail, now).await? {
            Before::Answered(outcome) => return Ok(*outcome),
            Before::Act(entry) => Some(entry),
            Before::Unkeyed => None,
        };
        let (mut answer, actor) = self.decide(source, detail_type, detail, now).await?;
        if entry.is_some() {
            // Nobody answered this request yet: whatever an earlier, unfinished delivery created, this is its
            // first answer (a custodian's grant counts an owner's folders from first answers only).
            answer.outcome.set_replayed(false);
        }
        let answer_record = AuditRecord::of_event(&answer.outcome, PROVISIONER, actor.as_deref(), now);
        if let Some(entry) = &entry {
            if let Some(first) = self.claim(entry, &answer_record).await? {
                return Ok(first);
            }
        }
        for notice in &answer.notices {
            let record = AuditRecord::of_event(notice, PROVISIONER, actor.as_deref(), now);
            self.audit.append(&record).await.map_err(ServiceError::Audit)?;
        }
        self.audit.append(&answer_record).await.map_err(ServiceError::Audit)?;
        let mut events = answer.notices;
        events.push(answer.outcome.clone());
        self.events.publish_all(&events).await.map_err(ServiceError::Publish)?;
        if let Some(entry) = &entry {
            self.mark_published(entry, &answer_record).await?;
        }
        let outcome = answer.outcome;
        tracing::info!(detail_type, outcome = outcome.detail_type(), detail = %outcome.detail_json(), "request answered");
        Ok(outcome)
    }

    /// The answer, and who asked (for the audit trail) when the request says so.
    async fn decide(
        &self,
        source: &str,
        detail_type: &str,
        detail: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<(Answer, Option<String>), ServiceError> {
        let raw_actor = || {
            detail
                .get("requested_by")
                .and_then(|v| v.as_str())
                .filter(|v| Principal::parse(v).is_ok())
                .map(str::to_owned)
        };
        let parsed = Request::parse(detail_type, detail);
        // The second fence behind the bus policy: a request kind only from the source named for it. Checked
        // before anything is read or created.
        if REQUEST_DETAIL_TYPES.contains(&detail_type) {
            if let Err(rejection) = self.config.senders.check(detail_type, source) {
                tracing::warn!(source, detail_type, "request from a source not allowed to send it");
                let answer = Answer::from(rejected_raw(detail_type, detail, rejection));
                let answer = match &parsed {
                    Ok(request) => with_people(answer, request),
                    Err(_) => answer,
                };
                return Ok((answer, raw_actor()));
            }
        }
        let request = match parsed {
            Ok(request) => request,
            Err(rejection) => return Ok((rejected_raw(detail_type, detail, rejection).into(), raw_actor())),
        };
        let actor = request.requested_by().filter(|v| Principal::parse(v).is_ok()).map(str::to_owned);
        let result = match &request {
            Request::Provision(r) => self.provision(r).await.map(Answer::from),
            Request::Stop(r) => self.stop(r).await.map(Answer::from),
            Request::Start(r) => self.start(r, now).await.map(Answer::from),
            Request::Decommission(r) => self.decommission(r, now).await.map(Answer::from),
            Request::DeactivateOwner(r) => self.deactivate_owner(r, now).await,
            Request::Custodian(r) => self.grant_custodian(r, now).await.map(Answer::from),
            Request::Snooze(r) => self.snooze(r, now).await.map(Answer::from),
        };
        let result = match result {
            Ok(answer) => Ok(with_people(answer, &request)),
            Err(error) if error.retryable() => {
                tracing::warn!(error = %error_chain(&error), request_id = request.request_id(), "retryable failure; the event will be retried");
                Err(error)
            }
            Err(error) => {
                tracing::error!(error = %error_chain(&error), request_id = request.request_id(), "request failed");
                Ok(OutcomeEvent::Failed(Failed {
                    request_id: request.request_id().to_owned(),
                    notebook_name: request.notebook_name().map(str::to_owned),
                    owner: request.owner().map(str::to_owned),
                    request_type: detail_type.to_owned(),
                    error: error_chain(&error),
                })
                .into())
            }
        };
        result.map(|answer| (answer, actor))
    }
}

/// A rejection names the people the request was about (when their names are well-formed), so that it is in
/// their audit history too: the owner, and for a custodian request the deactivated owner whose data it asked for.
fn with_people(mut answer: Answer, request: &Request) -> Answer {
    if let OutcomeEvent::Rejected(rejected) = &mut answer.outcome {
        if let Some(owner) = request.owner().filter(|o| Principal::parse(o).is_ok()) {
            rejected.owner = Some(owner.to_owned());
        }
        if let Request::Custodian(custodian) = request {
            if Principal::parse(&custodian.deactivated_owner).is_ok() {
                rejected.deactivated_owner = Some(custodian.deactivated_owner.clone());
            }
        }
    }
    answer
}

/// The rejection event of a parsed request.
pub(crate) fn rejected(
    request_type: &str,
    request_id: &str,
    notebook_name: Option<&str>,
    rejection: Rejection,
) -> OutcomeEvent {
    OutcomeEvent::Rejected(Rejected::new(
        request_type,
        Some(request_id.to_owned()),
        notebook_name.map(str::to_owned),
        rejection,
    ))
}

/// A rejection for an event whose detail did not parse: still answer with its id and name when they are
/// well-formed, so that the sender can match the answer to the request.
fn rejected_raw(detail_type: &str, detail: &serde_json::Value, rejection: Rejection) -> OutcomeEvent {
    let field = |name: &str, valid: fn(&str) -> bool| {
        detail.get(name).and_then(|v| v.as_str()).filter(|v| valid(v)).map(str::to_owned)
    };
    OutcomeEvent::Rejected(Rejected::new(
        detail_type,
        field("request_id", |v| RequestId::parse(v).is_ok()),
        field("notebook_name", |v| NotebookName::parse(v).is_ok()),
        rejection,
    ))
}

#[cfg(test)]
mod authorization_tests;
#[cfg(test)]
mod ledger_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tombstone_tests;
