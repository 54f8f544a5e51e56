//! Refusals: one error type for every handler, and the one place where a ledger [`Error`]
//! becomes an HTTP status.
//!
//! The body is always JSON, `{"error": "<what is wrong>"}` (plus `"retry_after"` in seconds
//! when the client should come back). A 4xx message is written for the client; a 5xx message
//! is generic, and the details go to the `tracing` log only.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::{Error, ErrorKind};

/// Why a submission was refused, as the `reason` label of the rejections metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reject {
    /// The body is over the size limit.
    TooLarge,
    /// The `Content-Type` or `Content-Encoding` is not accepted.
    MediaType,
    /// The body is not a DSSE envelope.
    Envelope,
    /// The envelope's `payloadType` is not in-toto.
    PayloadType,
    /// No signature verifies under the key its `keyid` names.
    Signature,
    /// No verifying signer is on the allow-list.
    NotAllowed,
    /// The payload is not a valid reprove entry.
    Statement,
    /// The ledger refused the submission's limits (too many or too long index keys).
    Invalid,
    /// The submission pool is full.
    PoolFull,
    /// The sequencer is not accepting submissions.
    Unavailable,
    /// Something failed on the server.
    Internal,
}

impl Reject {
    /// Every reason, in the order the metrics list them.
    pub(super) const ALL: [Reject; 11] = [
        Reject::TooLarge,
        Reject::MediaType,
        Reject::Envelope,
        Reject::PayloadType,
        Reject::Signature,
        Reject::NotAllowed,
        Reject::Statement,
        Reject::Invalid,
        Reject::PoolFull,
        Reject::Unavailable,
        Reject::Internal,
    ];

    /// The label value.
    pub(super) fn label(self) -> &'static str {
        match self {
            Reject::TooLarge => "too_large",
            Reject::MediaType => "media_type",
            Reject::Envelope => "envelope",
            Reject::PayloadType => "payload_type",
            Reject::Signature => "signature",
            Reject::NotAllowed => "signer_not_allowed",
            Reject::Statement => "statement",
            Reject::Invalid => "invalid",
            Reject::PoolFull => "pool_full",
            Reject::Unavailable => "unavailable",
            Reject::Internal => "internal",
        }
    }
}

/// A refusal: status, a message for the client, and what the metrics call it.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    retry_after: Option<Duration>,
    reason: Reject,
}

impl ApiError {
    fn new(status: StatusCode, reason: Reject, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
            reason,
        }
    }

    /// 400: the request is malformed.
    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Reject::Invalid, message)
    }

    /// 404: the log has no such thing, or there is no such endpoint.
    pub(super) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, Reject::Invalid, message)
    }

    /// 405: the endpoint exists but not for this method.
    pub(super) fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, Reject::Invalid, message)
    }

    /// A refused submission: `status` with a reason for the metrics.
    pub(super) fn refuse(status: StatusCode, reason: Reject, message: impl Into<String>) -> Self {
        Self::new(status, reason, message)
    }

    /// 500 for a failure of the HTTP layer itself (a blocking task that died); `what` is
    /// logged, not shown.
    /// 503 with `Retry-After`: a bounded resource is in use; the same request may succeed later.
    pub(super) fn busy(message: impl Into<String>, retry_after: std::time::Duration) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: message.into(),
            retry_after: Some(retry_after),
            reason: Reject::PoolFull,
        }
    }

    pub(super) fn internal(what: &str) -> Self {
        tracing::error!(what, "internal error serving a request");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            Reject::Internal,
            "internal error",
        )
    }

    /// The status.
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// The message the client is given.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    /// What the rejections metric calls this refusal.
    pub(super) fn reason(&self) -> Reject {
        self.reason
    }
}

/// The one mapping from ledger errors to statuses.
impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let (status, reason) = match &e {
            // Finer than the kind: the entry is too large to log at all, and a tree larger
            // than the log is one the log does not have (yet).
            Error::EntryTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, Reject::TooLarge),
            Error::SizeOutOfRange { .. } => (StatusCode::NOT_FOUND, Reject::Invalid),
            Error::PoolFull { .. } => (StatusCode::SERVICE_UNAVAILABLE, Reject::PoolFull),
            // The bytes arrived whole and are not the blob the path names.
            Error::BlobDigestMismatch { .. } => (StatusCode::UNPROCESSABLE_ENTITY, Reject::Invalid),
            _ => match e.kind() {
                ErrorKind::BadRequest => (StatusCode::BAD_REQUEST, Reject::Invalid),
                ErrorKind::NotFound => (StatusCode::NOT_FOUND, Reject::Invalid),
                ErrorKind::Conflict => (StatusCode::CONFLICT, Reject::Internal),
                ErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, Reject::Unavailable),
                ErrorKind::Integrity | ErrorKind::Internal => {
                    (StatusCode::INTERNAL_SERVER_ERROR, Reject::Internal)
                }
            },
        };
        let message = if status.is_server_error() {
            match reason {
                Reject::PoolFull => e.to_string(),
                Reject::Unavailable => {
                    tracing::warn!(error = %e, "refusing a request: the log is not writable");
                    "the log is not accepting submissions right now".to_owned()
                }
                _ => {
                    tracing::error!(error = %e, kind = ?e.kind(), "ledger error");
                    "internal error".to_owned()
                }
            }
        } else {
            e.to_string()
        };
        Self {
            status,
            message,
            retry_after: e.retry_after(),
            reason,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.message });
        let retry = self.retry_after.map(|d| d.as_secs().max(1));
        if let Some(secs) = retry {
            body["retry_after"] = secs.into();
        }
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = retry {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
