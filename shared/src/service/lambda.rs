//! The Lambda edge of the provisioner: an EventBridge event in, the outcome (or a retryable error) out.

use aws_lambda_events::eventbridge::EventBridgeEvent;

use super::Provisioner;
use crate::error::{error_chain, ServiceError};
use crate::ports::{AuditLog, Events, Network, Notebooks, Roles};

/// What the Lambda runtime reports as a failed invocation, so that EventBridge and Lambda retry it.
/// Its message is the whole chain (what failed and why): the runtime reports the message alone.
#[derive(Debug, thiserror::Error)]
#[error("retryable: {}", error_chain(.0))]
pub struct RetryableFailure(pub ServiceError);

/// Handles one request event. A request the provisioner answered (provisioned, rejected, failed) is a
/// successful invocation whose response is the outcome event; only a retryable failure is an error.
pub async fn handle_request_event<N: Network, R: Roles, S: Notebooks, E: Events, A: AuditLog>(
    provisioner: &Provisioner<N, R, S, E, A>,
    event: EventBridgeEvent<serde_json::Value>,
) -> Result<serde_json::Value, RetryableFailure> {
    tracing::info!(event_id = event.id.as_deref(), source = %event.source, detail_type = %event.detail_type, "request event");
    match provisioner.handle(&event.source, &event.detail_type, &event.detail).await {
        Ok(outcome) => Ok(serde_json::json!({ "detail-type": outcome.detail_type, "detail": outcome.detail })),
        Err(error) => Err(RetryableFailure(error)),
    }
}
