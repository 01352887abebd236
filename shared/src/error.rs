//! Errors that keep their cause and say whether a retry can help.

use std::error::Error as StdError;
use std::fmt;

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
#[derive(Debug)]
pub struct AwsError {
    pub operation: &'static str,
    pub kind: ErrorKind,
    pub code: Option<String>,
    pub message: String,
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

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed", self.operation)?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl StdError for AwsError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn StdError + 'static))
    }
}

/// Why the provisioner could not finish handling an event. The Lambda returns these as errors (so that
/// EventBridge and Lambda retry) only when [`ServiceError::retryable`] says a retry can help.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("the outcome event could not be published: {0}")]
    Publish(#[source] AwsError),
    #[error("the audit record could not be written: {0}")]
    Audit(#[source] AwsError),
}

impl ServiceError {
    pub fn retryable(&self) -> bool {
        match self {
            ServiceError::Aws(e) => e.retryable(),
            // Publishing is the last step and every earlier step is idempotent: the retry answers again.
            ServiceError::Publish(_) => true,
            // Nothing is answered before its audit record is written; the retry writes it.
            ServiceError::Audit(_) => true,
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
        assert!(ServiceError::Publish(e).retryable());
    }
}
