//! The Lambda edge of the provisioner: an EventBridge event in, the outcome (or a retryable error) out, and
//! one embedded-metric line per event on stdout (in Lambda, stdout goes to CloudWatch Logs, which extracts
//! the metrics; see `domain::request_metrics`).

use std::time::Instant;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::Utc;

use super::Provisioner;
use crate::domain::outcome::OutcomeEvent;
use crate::domain::request_metrics::{request_metric_line, Handled};
use crate::domain::validation::Problem;
use crate::error::{error_chain, ServiceError};
use crate::ports::{AuditLog, Events, Network, Notebooks, Roles};

/// What the Lambda runtime reports as a failed invocation, so that EventBridge and Lambda retry it.
/// Its message is the whole chain (what failed and why): the runtime reports the message alone.
#[derive(Debug, thiserror::Error)]
#[error("retryable: {}", error_chain(.0))]
pub struct RetryableFailure(pub ServiceError);

/// One request event handled: the invocation's answer and the event's metric line.
#[derive(Debug)]
pub struct HandledEvent {
    pub answer: Result<serde_json::Value, RetryableFailure>,
    /// One CloudWatch embedded-metric line (JSON, no newline).
    pub metrics: String,
}

/// Handles one request event and prints its metric line. A request the provisioner answered (provisioned,
/// rejected, failed) is a successful invocation whose response is the outcome event; only a retryable
/// failure is an error.
pub async fn handle_request_event<N: Network, R: Roles, S: Notebooks, E: Events, A: AuditLog>(
    provisioner: &Provisioner<N, R, S, E, A>,
    event: EventBridgeEvent<serde_json::Value>,
) -> Result<serde_json::Value, RetryableFailure> {
    let handled = answer_request_event(provisioner, event).await;
    println!("{}", handled.metrics);
    handled.answer
}

/// [`handle_request_event`] without the printing: the answer and the metric line.
pub async fn answer_request_event<N: Network, R: Roles, S: Notebooks, E: Events, A: AuditLog>(
    provisioner: &Provisioner<N, R, S, E, A>,
    event: EventBridgeEvent<serde_json::Value>,
) -> HandledEvent {
    tracing::info!(event_id = event.id.as_deref(), source = %event.source, detail_type = %event.detail_type, "request event");
    let started = Instant::now();
    let result = provisioner.handle(&event.source, &event.detail_type, &event.detail).await;
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let problems = result.as_ref().map(rejection_problems).unwrap_or_default();
    let handled = match &result {
        Ok(outcome) => Handled::Answered { outcome: outcome.detail_type(), problems: &problems },
        Err(_) => Handled::Failed,
    };
    let metrics = request_metric_line(&event.detail_type, &handled, elapsed_ms, Utc::now().timestamp_millis());
    let answer = match result {
        Ok(outcome) => Ok(serde_json::json!({ "detail-type": outcome.detail_type(), "detail": outcome.detail_json() })),
        Err(error) => Err(RetryableFailure(error)),
    };
    HandledEvent { answer, metrics }
}

/// A rejection's problems (none for any other outcome).
fn rejection_problems(outcome: &OutcomeEvent) -> Vec<Problem> {
    match outcome {
        OutcomeEvent::Rejected(rejected) => rejected.problems.clone(),
        _ => Vec::new(),
    }
}
