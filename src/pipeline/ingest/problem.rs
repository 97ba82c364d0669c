//! RFC 7807 problem details: every error the API returns, with a list of field errors.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// A JSON pointer-like path into the request: `merchant.mcc`, `limit`.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

pub const CONTENT_TYPE: &str = "application/problem+json";

impl Problem {
    fn new(slug: &str, title: &'static str, status: u16, detail: impl Into<String>) -> Self {
        Problem {
            kind: format!("urn:txn-notify:problem:{slug}"),
            title,
            status,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut problem = Problem::new(
            "validation",
            "The request is not valid",
            400,
            format!("{} field(s) need attention", errors.len()),
        );
        problem.errors = errors;
        problem
    }

    pub fn malformed(detail: impl Into<String>) -> Self {
        Problem::new("malformed-body", "The body is not a JSON object", 400, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Problem::new("unauthorized", "The request is not signed correctly", 401, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new("not-found", "Not found", 404, detail)
    }

    pub fn unknown_account(account_id: &str) -> Self {
        Problem::new(
            "unknown-account",
            "Unknown account",
            404,
            format!("no account {account_id}"),
        )
    }

    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Problem::new("method-not-allowed", "Method not allowed", 405, detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Problem::new("conflict", "Conflicting request", 409, detail)
    }

    /// A well-formed top-up in another currency than the account's: the request conflicts
    /// with the account (409), it is not malformed.
    pub fn currency_mismatch(requested: impl std::fmt::Display, account: impl std::fmt::Display) -> Self {
        Problem::new(
            "currency-mismatch",
            "The account holds another currency",
            409,
            format!("the account holds {account}; a top-up in {requested} cannot be credited to it"),
        )
    }

    pub fn too_large(limit: usize) -> Self {
        Problem::new(
            "payload-too-large",
            "The body is too large",
            413,
            format!("the body may hold at most {} KiB ({limit} bytes)", limit / 1024),
        )
    }

    pub fn unsupported_media_type(expected: &str, found: Option<&str>) -> Self {
        Problem::new(
            "unsupported-media-type",
            "Unsupported media type",
            415,
            match found.map(str::trim) {
                Some(found) if !found.is_empty() => {
                    format!("the body must be sent as Content-Type: {expected}, not {found:?}")
                }
                _ => format!("the body must be sent with Content-Type: {expected}, and no Content-Type was given"),
            },
        )
    }

    /// A change without `If-Match`: the client must say which version it changes.
    pub fn precondition_required() -> Self {
        Problem::new(
            "precondition-required",
            "If-Match is required",
            428,
            "send If-Match with the ETag of the version the change is made against (GET the account for it)",
        )
    }

    /// The account is no longer at the version the client named.
    pub fn precondition_failed(current: u64) -> Self {
        Problem::new(
            "precondition-failed",
            "The account has changed",
            412,
            format!("the account is at version {current}: GET it, and make the change against that version"),
        )
    }

    /// An unsubscribe token that is forged, malformed or for something else.
    pub fn invalid_token(detail: impl Into<String>) -> Self {
        Problem::new("invalid-token", "The link is not valid", 403, detail)
    }

    /// A genuine unsubscribe token past its expiry.
    pub fn expired_token(detail: impl Into<String>) -> Self {
        Problem::new("expired-token", "The link has expired", 410, detail)
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Problem::new("unavailable", "Try again later", 503, detail)
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Problem::new("internal", "Internal error", 500, detail)
    }
}
