//! "Denied" as a test means it: the service answered HTTP 403 with the `AccessDenied` code, not just any
//! error (a typo in a bucket name, a missing key or a network failure would pass an `is_err()`).

use std::fmt::Debug;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// `Ok` when the call was refused with 403 `AccessDenied`; otherwise what it got instead, to print.
pub fn access_denied<T: Debug, E: ProvideErrorMetadata + Debug>(
    result: Result<T, SdkError<E, HttpResponse>>,
) -> Result<(), String> {
    match result {
        Ok(answer) => Err(format!("it was allowed: {answer:?}")),
        Err(error) => {
            let status = error.raw_response().map(|r| r.status().as_u16());
            let code = error.code().map(str::to_owned);
            if status == Some(403) && code.as_deref() == Some("AccessDenied") {
                Ok(())
            } else {
                Err(format!("it failed otherwise (HTTP {status:?}, code {code:?}): {error:?}"))
            }
        }
    }
}

/// Panics, saying what happened instead, unless the call was refused with 403 `AccessDenied`.
#[track_caller]
pub fn assert_access_denied<T: Debug, E: ProvideErrorMetadata + Debug>(
    result: Result<T, SdkError<E, HttpResponse>>,
    what: &str,
) {
    if let Err(instead) = access_denied(result) {
        panic!("{what} should be denied (HTTP 403, AccessDenied), but {instead}");
    }
}
