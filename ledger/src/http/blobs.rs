//! `PUT /blobs/sha256/<hex>` and `GET /blobs/sha256/<hex>`: the content-addressed blob store
//! (build logs and diff reports) over [`Ledger::put_blob`](crate::Ledger::put_blob) and
//! [`Ledger::blob`](crate::Ledger::blob).
//!
//! An upload is checked in this order, each refusal writing nothing:
//!
//! | check | refusal |
//! | --- | --- |
//! | the path is `sha256/` + 64 lowercase hex | 400 |
//! | a `Reprove-Signature` header that parses (`<vkey> <base64 sig>`, see `reprove_verifier::blob`) | 400 |
//! | a `Content-Length` header | 411 |
//! | no `Content-Encoding` | 415 |
//! | `Content-Length` at most the configured `max_blob_bytes` (before reading the body) | 413 |
//! | the signature verifies over the path's digest and the `Content-Length` | 403 |
//! | the signer is on the allow-list, when the log has one | 403 |
//! | the body's SHA-256 is the path's digest | 422 |
//!
//! Then the blob is stored durably: `201 Created` with `{"sha256", "size", "created": true}`,
//! or, when the store already held it, `200 OK` with the same body and `"created": false`
//! (nothing rewritten). The signature covers the size, so it is checked before a byte of the
//! body is read: a stranger cannot make the ledger buffer megabytes.
//!
//! A download is `200` with the exact bytes, `Content-Type: text/plain; charset=utf-8` when
//! they are valid UTF-8 (build logs, diff reports) and `application/octet-stream` otherwise,
//! cached as immutable, with `X-Content-Type-Options: nosniff` and a sandboxing
//! `Content-Security-Policy` (the bytes are anyone's who holds an allowed key, served from the
//! log's origin). 400 for a malformed digest, 404 for one the store does not hold.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, LOCATION,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use reprove_verifier::blob::{BlobSignature, HEADER};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::{ApiError, Reject};
use super::tiles::IMMUTABLE;
use super::{AppState, blocking, params};
use crate::blobs::BlobStored;

/// The answer to an accepted upload.
#[derive(Debug, Serialize)]
struct Stored {
    /// The blob's SHA-256, lowercase hex.
    sha256: String,
    /// Its size in bytes.
    size: u64,
    /// Whether this upload stored it (false: the store already held it).
    created: bool,
}

/// `PUT /blobs/sha256/<hex>`.
pub(super) async fn put(
    State(state): State<AppState>,
    digest: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let sha256 = parse_digest(&params::path(digest)?)?;
    let size = check_upload(&state, &sha256, request.headers())?;
    let len = usize::try_from(size).map_err(|_| ApiError::bad_request("too large"))?;
    let body = axum::body::to_bytes(request.into_body(), len)
        .await
        .map_err(|e| ApiError::bad_request(format!("could not read the request body: {e}")))?;
    let actual: [u8; 32] = Sha256::digest(&body).into();
    if actual != sha256 {
        return Err(ApiError::refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            Reject::Invalid,
            format!(
                "digest mismatch: the body's sha256 is {}, the path names {}",
                hex::encode(actual),
                hex::encode(sha256)
            ),
        ));
    }
    let stored = blocking(&state.ledger, move |l| l.put_blob(&sha256, &body)).await?;
    let created = stored == BlobStored::Created;
    state.metrics.blob_stored(created, size);
    let hex = hex::encode(sha256);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = HeaderValue::from_str(&format!("/blobs/sha256/{hex}"))
        .map_err(|_| ApiError::internal("a blob location is not a header value"))?;
    let answer = Stored {
        sha256: hex,
        size,
        created,
    };
    Ok((
        status,
        [
            (LOCATION, location),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Json(answer),
    )
        .into_response())
}

/// `GET /blobs/sha256/<hex>`.
pub(super) async fn get(
    State(state): State<AppState>,
    digest: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let sha256 = parse_digest(&params::path(digest)?)?;
    let bytes = blocking(&state.ledger, move |l| l.blob(&sha256))
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("the log has no blob {}", hex::encode(sha256)))
        })?;
    let content_type = if std::str::from_utf8(&bytes).is_ok() {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    };
    let etag = HeaderValue::from_str(&format!("\"sha256:{}\"", hex::encode(sha256)))
        .map_err(|_| ApiError::internal("a blob etag is not a header value"))?;
    Ok((
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)),
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (
                CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            ),
            (ETAG, etag),
        ],
        Body::from(bytes),
    )
        .into_response())
}

/// A digest path segment: exactly 64 lowercase hex digits.
fn parse_digest(s: &str) -> Result<[u8; 32], ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "{:?} is not a sha256 digest (64 lowercase hex digits)",
            params::clip(s)
        ))
    };
    if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).map_err(|_| bad())?;
    Ok(out)
}

/// Every check that needs only the headers (see the module docs); the declared size.
fn check_upload(state: &AppState, sha256: &[u8; 32], headers: &HeaderMap) -> Result<u64, ApiError> {
    let signature = match headers.get(HEADER) {
        None => {
            return Err(ApiError::bad_request(
                "a blob upload needs a Reprove-Signature header: \
                 \"<vkey> <base64 Ed25519 signature>\"",
            ));
        }
        Some(value) => {
            let text = value
                .to_str()
                .map_err(|_| ApiError::bad_request("the Reprove-Signature header is not ASCII"))?;
            BlobSignature::parse(text)
                .map_err(|e| ApiError::bad_request(format!("Reprove-Signature: {e}")))?
        }
    };
    let size = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(params::parse_u64)
        .ok_or_else(|| {
            ApiError::refuse(
                StatusCode::LENGTH_REQUIRED,
                Reject::Invalid,
                "a blob upload needs a Content-Length header (the signature covers the size)",
            )
        })?;
    if params::is_encoded(headers) {
        return Err(ApiError::refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Reject::MediaType,
            "Content-Encoding is not supported: send the blob's bytes as they are",
        ));
    }
    let limit = state.config.max_blob_bytes;
    if size > limit as u64 {
        return Err(ApiError::refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            Reject::TooLarge,
            format!("the blob is {size} bytes, larger than the log's limit of {limit} bytes"),
        ));
    }
    let signer = signature.verify(sha256, size).map_err(|e| {
        ApiError::refuse(
            StatusCode::FORBIDDEN,
            Reject::Signature,
            format!("Reprove-Signature: {e}"),
        )
    })?;
    if let Some(allow) = &state.config.allow_keys
        && !allow.contains(signer)
    {
        return Err(ApiError::refuse(
            StatusCode::FORBIDDEN,
            Reject::NotAllowed,
            format!(
                "signer not allowed: {} is not on the log's allow-list",
                signer.name()
            ),
        ));
    }
    Ok(size)
}
