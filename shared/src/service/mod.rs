//! The provisioner's use cases, generic over the ports so that the shipped code is the tested code.
//!
//! [`Provisioner::handle`] answers every request event with exactly one outcome event. A bad request is a
//! `Notebook Request Rejected` and the invocation succeeds; an AWS failure that a retry can fix is returned
//! as an error (so EventBridge and Lambda retry); any other failure is a `Notebook Provisioning Failed`.

mod actions;
pub mod lambda;
mod provision;
pub mod publish;
mod retry;
pub mod sweep;

pub use retry::RetryPolicy;

use crate::config::Config;
use crate::domain::names::validate_notebook_name;
use crate::domain::outcome::{Failed, OutcomeEvent, Rejected};
use crate::domain::request::Request;
use crate::domain::validation::{validate_request_id, Rejection};
use crate::error::ServiceError;
use crate::ports::{Events, Network, Notebooks, Roles};

#[derive(Debug)]
pub struct Provisioner<N, R, S, E> {
    pub(crate) network: N,
    pub(crate) roles: R,
    pub(crate) notebooks: S,
    pub(crate) events: E,
    pub(crate) config: Config,
    pub(crate) retry: RetryPolicy,
    /// Lifecycle configurations known to exist. They are immutable and named by content, so once seen
    /// (created, or found to exist) a warm Lambda need not ask again.
    pub(crate) known_lifecycle_configs: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl<N: Network, R: Roles, S: Notebooks, E: Events> Provisioner<N, R, S, E> {
    pub fn new(network: N, roles: R, notebooks: S, events: E, config: Config) -> Self {
        Provisioner {
            network,
            roles,
            notebooks,
            events,
            config,
            retry: RetryPolicy::default(),
            known_lifecycle_configs: std::sync::Mutex::default(),
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Handles one request event and publishes its outcome. Returns the outcome, or an error only when a
    /// retry of the whole event can help.
    pub async fn handle(&self, detail_type: &str, detail: &serde_json::Value) -> Result<OutcomeEvent, ServiceError> {
        let outcome = self.decide(detail_type, detail).await?;
        self.events.publish(&outcome).await.map_err(ServiceError::Publish)?;
        tracing::info!(detail_type, outcome = outcome.detail_type, detail = %outcome.detail, "request answered");
        Ok(outcome)
    }

    async fn decide(&self, detail_type: &str, detail: &serde_json::Value) -> Result<OutcomeEvent, ServiceError> {
        let request = match Request::parse(detail_type, detail) {
            Ok(request) => request,
            Err(rejection) => return Ok(rejected_raw(detail_type, detail, rejection)),
        };
        let result = match &request {
            Request::Provision(r) => self.provision(r).await,
            Request::Stop(r) => self.stop(r).await,
            Request::Start(r) => self.start(r).await,
        };
        match result {
            Ok(outcome) => Ok(outcome),
            Err(error) if error.retryable() => {
                tracing::warn!(error = %error, request_id = request.request_id(), "retryable failure; the event will be retried");
                Err(error)
            }
            Err(error) => {
                tracing::error!(error = %error, request_id = request.request_id(), "request failed");
                Ok(OutcomeEvent::from(&Failed {
                    request_id: request.request_id().to_owned(),
                    notebook_name: request.notebook_name().to_owned(),
                    request_type: detail_type.to_owned(),
                    error: error.to_string(),
                }))
            }
        }
    }
}

/// A rejection for an event whose detail did not parse: still answer with its id and name when they are
/// well-formed, so that the sender can match the answer to the request.
fn rejected_raw(detail_type: &str, detail: &serde_json::Value, rejection: Rejection) -> OutcomeEvent {
    let field = |name: &str, valid: fn(&str) -> Result<(), String>| {
        detail.get(name).and_then(|v| v.as_str()).filter(|v| valid(v).is_ok()).map(str::to_owned)
    };
    OutcomeEvent::from(&Rejected::new(
        detail_type,
        field("request_id", validate_request_id),
        field("notebook_name", validate_notebook_name),
        rejection,
    ))
}

#[cfg(test)]
pub(crate) mod fakes;
#[cfg(test)]
mod tests;
