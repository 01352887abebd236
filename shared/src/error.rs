//! Errors that keep their cause and say whether a retry can help. An error's message says what failed; its
//! cause is its `source()`, never repeated in the message: [`error_chain`] prints both, once, for logs and
//! events.

use std::error::Error as StdError;

pub use fleet_types::error_chain;

use crate::domain::isolation::IsolationViolation;

/// What kind of failure an AWS call had, as far as the caller needs to act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    AlreadyExists,
    /// A resource just created is not yet usable elsewhere (IAM's eventual consistency).
    NotReady,
    Throttled,
    /// Timeouts, 5xx answers, dropped connections.
    Transient,
    /// The service refused the call's content; a retry will not help.
    Invalid,
    AccessDenied,
    Other,
}

/// A failed call to AWS: the operation, the service's error code and message, and the SDK error itself.
#[derive(Debug, thiserror::Error)]
#[error("{operation} failed{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
pub struct AwsError {
    pub operation: &'static str,
    pub kind: ErrorKind,
    pub code: Option<String>,
    pub message: String,
    /// The SDK's error; its message is already in `message`, so reporters see the cause without a repeat.
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl AwsError {
    pub fn new(operation: &'static str, kind: ErrorKind, code: Option<String>, message: impl Into<String>) -> Self {
        AwsError { operation, kind, code, message: message.into(), source: None }
    }

    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Throttling and transient failures can succeed on a later attempt.
    pub fn retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::Throttled | ErrorKind::Transient | ErrorKind::NotReady)
    }

    pub fn is(&self, kind: ErrorKind) -> bool {
        self.kind == kind
    }
}

/// Why the provisioner could not finish handling an event. The Lambda returns these as errors (so that
/// EventBridge and Lambda retry) only when [`ServiceError::retryable`] says a retry can help.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("the outcome event could not be published")]
    Publish(#[source] AwsError),
    #[error("the audit record could not be written")]
    Audit(#[source] AwsError),
    /// A listing of the fleet failed after its retries: the sweep did nothing (a partial listing is never
    /// taken for the fleet), and the next sweep lists again.
    #[error("the sweep could not list the fleet completely and did nothing")]
    Listing(#[source] AwsError),
    /// The pre-flight found a path out of the VPC: nothing was created. A platform's network must change first.
    #[error("the notebook's network is not isolated: {0}")]
    Isolation(IsolationViolation),
    /// The lifecycle configuration's on-start script could not be built from the settings.
    #[error("the on-start script cannot be rendered: {0}")]
    OnStartScript(String),
    /// An answer kept in the audit trail, to be answered again, does not read back as its outcome.
    #[error("the audit trail's earlier {action} answer to request {request_id} does not read back: {reason}")]
    EarlierAnswer { action: &'static str, request_id: String, reason: String },
    /// Another delivery of the request claimed its answer and has not published it yet (it may still be
    /// running): a retry answers it once published, or publishes it once that delivery cannot be running.
    #[error("another delivery answered this request ({key}) and has not published the answer yet")]
    Unpublished { key: String },
}

impl ServiceError {
    pub fn retryable(&self) -> bool {
        match self {
            ServiceError::Aws(e) => e.retryable(),
            // Publishing is the last step and every earlier step is idempotent: the retry answers again.
            ServiceError::Publish(_) => true,
            // Nothing is answered before its audit record is written; the retry writes it.
            ServiceError::Audit(_) => true,
            ServiceError::Listing(e) => e.retryable(),
            // The platform's settings or network are at fault: the same request fails the same way.
            ServiceError::Isolation(_) | ServiceError::OnStartScript(_) => false,
            // A record does not change by being read again.
            ServiceError::EarlierAnswer { .. } => false,
            ServiceError::Unpublished { .. } => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_operation_code_and_message() {
        let e = AwsError::new("CreateRole", ErrorKind::Throttled, Some("Throttling".into()), "Rate exceeded");
        assert_eq!(e.to_string(), "CreateRole failed (Throttling): Rate exceeded");
        assert!(e.retryable());
        assert!(!AwsError::new("CreateRole", ErrorKind::Invalid, None, "bad").retryable());
        let publish = ServiceError::Publish(e);
        assert!(publish.retryable());
        assert_eq!(publish.to_string(), "the outcome event could not be published");
        assert_eq!(
            error_chain(&publish),
            "the outcome event could not be published: CreateRole failed (Throttling): Rate exceeded"
        );
    }

    #[test]
    fn an_sdk_cause_is_a_source_and_is_not_repeated() {
        let sdk = std::io::Error::other("Rate exceeded");
        let e = AwsError::new("PutEvents", ErrorKind::Throttled, None, "Rate exceeded").with_source(sdk);
        assert!(e.source().is_some());
        assert_eq!(
            error_chain(&ServiceError::Audit(e)),
            "the audit record could not be written: PutEvents failed: Rate exceeded"
        );
    }
}
