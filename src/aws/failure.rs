//! How an AWS SDK error becomes a `PortError`: transient (worth another try later) or
//! permanent (the same call fails again). The SDK has already made its own retries (see
//! `clients`) by the time an error reaches here.
//!
//! | what came back | kind |
//! |---|---|
//! | no response: connection refused or reset, DNS, TLS, timeout | transient |
//! | a response the SDK could not read | transient |
//! | HTTP 5xx, whatever the code | transient |
//! | a throttling or capacity code (ThrottlingException, ProvisionedThroughputExceededException, RequestLimitExceeded, TooManyRequestsException, LimitExceededException, TransactionConflictException, InternalServerError, ServiceUnavailable, …) | transient |
//! | any other service error (validation, access denied, not found, conditional check) | permanent |
//! | the request could not be built | permanent |
//!
//! Messages are cleaned of email addresses: SES quotes recipients in its errors, and these
//! messages are logged.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

use crate::domain::pii::redact_addresses;
use crate::ports::PortError;

/// Error codes that mean "not now", across the services we call.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "LimitExceededException",
    "TransactionConflictException",
    "TransactionInProgressException",
    "InternalServerError",
    "InternalServerErrorException",
    "InternalFailure",
    "InternalServiceError",
    "InternalServiceErrorException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
];

pub fn is_transient_code(code: &str) -> bool {
    TRANSIENT_CODES.contains(&code)
}

/// The error code of a service error (`ConditionalCheckFailedException`, …), if it is one.
pub fn service_code<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> Option<&str> {
    match error {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

/// The `PortError` of a failed call of `operation` (named in the message, e.g. "PutItem").
pub fn classify<E>(operation: &str, error: &SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("UnknownError");
            let message = service.err().message().unwrap_or("");
            let status = service.raw().status().as_u16();
            let text = redact_addresses(&format!("{operation}: {code} (HTTP {status}): {message}"));
            if status >= 500 || is_transient_code(code) {
                PortError::transient(text)
            } else {
                PortError::permanent(text)
            }
        }
        SdkError::ConstructionFailure(_) => {
            PortError::permanent(format!("{operation}: the request could not be built: {}", chain(error)))
        }
        SdkError::TimeoutError(_) => PortError::transient(format!("{operation}: timed out")),
        SdkError::DispatchFailure(_) => {
            PortError::transient(redact_addresses(&format!("{operation}: no response: {}", chain(error))))
        }
        SdkError::ResponseError(_) => PortError::transient(redact_addresses(&format!(
            "{operation}: unreadable response: {}",
            chain(error)
        ))),
        _ => PortError::transient(redact_addresses(&format!("{operation}: {}", chain(error)))),
    }
}

/// The error and its sources, on one line: the SDK's own Display says only "dispatch failure".
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
