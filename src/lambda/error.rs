//! The error a function answers Lambda with: a stable `errorType` per kind, so that alarms,
//! log queries and a redrive can tell a payload of the wrong shape from a retry.
//!
//! | `errorType` | when | what Lambda does |
//! |---|---|---|
//! | `UnexpectedPayload` | the payload is not this function's event | the source retries it, then its DLQ or failure destination keeps it |
//! | `DeliveryRetry` | a bare event whose effect failed for now | retried, then the failure destination |
//! | `MalformedEvent` | a bare event that cannot be handled as it is | the same: kept, never dropped |
//! | `DigestPlanIncomplete` | the planner could not read the index or fill DigestQueue | Lambda retries the run twice, then DigestDLQ keeps it; pages already sent are sent again, and the workers cut the same statements with the same event ids |
//! | `BadDigestRequest` | the scheduled event is not a planner run (no object, bad `time`, a `detail`) | the same: DigestDLQ keeps it |

use crate::pipeline::consumer::{DeliveryError, PayloadError};
use crate::pipeline::digest::PlanRequestError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    #[error("{0}")]
    UnexpectedPayload(String),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    #[error(transparent)]
    BadDigestRequest(#[from] PlanRequestError),
    #[error("the digest plan is incomplete ({0}); it will run again")]
    DigestPlanIncomplete(String),
}

impl From<PayloadError> for HandlerError {
    fn from(error: PayloadError) -> Self {
        HandlerError::UnexpectedPayload(error.to_string())
    }
}

impl HandlerError {
    /// The `errorType` of Lambda's error reply.
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::UnexpectedPayload(_) => "UnexpectedPayload",
            HandlerError::Delivery(DeliveryError::Retry(_)) => "DeliveryRetry",
            HandlerError::Delivery(DeliveryError::Malformed(_)) => "MalformedEvent",
            HandlerError::BadDigestRequest(_) => "BadDigestRequest",
            HandlerError::DigestPlanIncomplete(_) => "DigestPlanIncomplete",
        }
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(error: HandlerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.error_type().to_string(),
            error_message: error.to_string(),
        }
    }
}
