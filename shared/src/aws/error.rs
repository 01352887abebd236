//! Turns SDK errors into [`AwsError`]s without losing the code, the message or the cause.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::error::{AwsError, ErrorKind};

const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "PriorRequestNotComplete",
];

/// A "not found" answer as `None`: for reads of what may not exist, and deletes of what may be gone already.
#[cfg(any(feature = "publisher", feature = "provisioner", feature = "sweeper"))]
pub(crate) fn not_found_as_none<T>(result: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.is(ErrorKind::NotFound) => Ok(None),
        Err(error) => Err(error),
    }
}

/// S3's codes for a missing object (a HEAD answers a bare 404), a refusal, a conditional write to a key
/// that exists (`If-None-Match: *`, 412) and one that raced another write to the same key (409, retryable).
#[cfg(any(feature = "publisher", feature = "audit"))]
pub(crate) fn s3_codes(code: &str, _message: &str) -> Option<ErrorKind> {
    match code {
        "NoSuchKey" | "NotFound" | "404" => Some(ErrorKind::NotFound),
        "AccessDenied" => Some(ErrorKind::AccessDenied),
        "PreconditionFailed" => Some(ErrorKind::AlreadyExists),
        "ConditionalRequestConflict" => Some(ErrorKind::Transient),
        _ => None,
    }
}

/// Classifies an SDK error. `specific` maps the operation's own error codes (an entity that already
/// exists, one that is not found) and is consulted before the generic rules.
pub fn classify<E>(
    operation: &'static str,
    error: SdkError<E, HttpResponse>,
    specific: impl Fn(&str, &str) -> Option<ErrorKind>,
) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = error.code().map(str::to_owned);
    let message = error.message().map(str::to_owned).unwrap_or_else(|| error.to_string());
    let kind = match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => ErrorKind::Transient,
        SdkError::ServiceError(context) => {
            let code_str = code.as_deref().unwrap_or_default();
            let status = context.raw().status().as_u16();
            specific(code_str, &message).unwrap_or_else(|| {
                if THROTTLING_CODES.contains(&code_str) || status == 429 {
                    ErrorKind::Throttled
                } else if status >= 500 {
                    ErrorKind::Transient
                } else if code_str.starts_with("AccessDenied") || code_str == "UnauthorizedOperation" || status == 403 {
                    ErrorKind::AccessDenied
                } else {
                    ErrorKind::Other
                }
            })
        }
        _ => ErrorKind::Other,
    };
    let error = AwsError::new(operation, kind, code, message).with_source(error);
    tracing::debug!(operation, ?kind, error = %error, "AWS call failed");
    error
}
