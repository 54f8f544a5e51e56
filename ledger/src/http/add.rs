//! `POST /add`: check a submitted DSSE envelope, derive its lookup keys and log it.
//!
//! The order of the checks and their statuses are in the module docs of `http.rs`. Nothing is
//! written unless every check passes; the entry logged is the request body exactly as
//! received, so its leaf hash is the hash of what the submitter holds.
//!
//! The signer convention is reprove's: each signature's `keyid` is the signer's note verifier
//! key (vkey). The log verifies a signature with the key it names — a self-described key, so
//! anyone can log an entry unless an allow-list is configured — and records the entry under
//! every key that verified.

use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{FromRequest, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_LENGTH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use reprove_verifier::note::NoteVerifier;
use reprove_verifier::signed::{KeyCache, OpenError, Options, SignedEntry};
use reprove_verifier::statement::PAYLOAD_TYPE;
use serde::Serialize;

use super::error::{ApiError, Reject};
use super::{AppState, params};
use crate::keys::keys_of;
use crate::round::Submission;

/// The answer to an accepted submission.
#[derive(Debug, Serialize)]
pub(super) struct Added {
    /// The entry's index in the log (the original's, for a duplicate).
    index: u64,
    /// Whether the entry was already logged.
    duplicate: bool,
    /// The c2sp tlog-proof of the entry against the signed checkpoint of its round.
    proof: String,
}

/// `POST /add`.
///
/// Once the body has arrived, the rest runs in its own task: if the client goes away, its
/// submission is still checked and, if valid, logged (a retry then finds a duplicate), and
/// the metrics see every outcome.
pub(super) async fn add(State(state): State<AppState>, request: Request) -> Response {
    let body = match read_body(&state, request).await {
        Ok(body) => body,
        Err(e) => return refused(&state, e),
    };
    let task = state.clone();
    let outcome = tokio::spawn(async move {
        match log(&task, body).await {
            Ok(added) => Ok(added),
            Err(e) => Err(refused(&task, e)),
        }
    })
    .await;
    match outcome {
        Ok(Ok(added)) => (
            [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            Json(added),
        )
            .into_response(),
        Ok(Err(refusal)) => refusal,
        Err(e) => refused(
            &state,
            ApiError::internal(&format!("the submission task failed: {e}")),
        ),
    }
}

/// Counts and logs a refusal, and answers it.
fn refused(state: &AppState, e: ApiError) -> Response {
    state.metrics.rejected(e.reason());
    tracing::debug!(status = %e.status(), reason = e.reason().label(), "submission refused");
    e.into_response()
}

/// A refused body declared at most this large is read and discarded before the answer, so
/// the client, still sending, gets the 413 instead of a connection reset; larger ones are
/// refused without reading (the connection is closed).
const DRAIN_REFUSED_BYTES: u64 = 1 << 20;

/// The header checks, then the body, read up to the size limit.
pub(super) async fn read_body(state: &AppState, request: Request) -> Result<Bytes, ApiError> {
    let limit = state.body_limit();
    if let Err(refusal) = check_headers(request.headers(), limit) {
        if let Some(len) = declared_length(request.headers())
            && len <= DRAIN_REFUSED_BYTES
        {
            let _ = axum::body::to_bytes(request.into_body(), DRAIN_REFUSED_BYTES as usize).await;
        }
        return Err(refusal);
    }
    // The router's body limit is `limit + 1`: the read stops as soon as the body is larger.
    let body = Bytes::from_request(request, &())
        .await
        .map_err(|e| match e {
            BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                too_large(limit)
            }
            e => ApiError::bad_request(format!("could not read the request body: {e}")),
        })?;
    if body.len() > limit {
        return Err(too_large(limit));
    }
    Ok(body)
}

/// Checks the body (JSON, the signature, the statement) and logs it.
async fn log(state: &AppState, body: Bytes) -> Result<Added, ApiError> {
    log_checked(state, body, None).await
}

/// A check an entry must pass, after its signatures and shape, before it is logged (the
/// staged-release rules of a set); it runs on the blocking pool.
pub(super) type Check = Box<dyn FnOnce(&SignedEntry) -> Result<(), ApiError> + Send>;

/// Validates `body` as `POST /add` does, runs `check` on the opened entry, and logs it.
pub(super) async fn log_checked(
    state: &AppState,
    body: Bytes,
    check: Option<Check>,
) -> Result<Added, ApiError> {
    // Validation costs up to `signed::MAX_SIGNATURES` Ed25519 verifications (about 60 µs each):
    // on the blocking pool, a bounded number at a time, so a flood of many-signature entries
    // cannot stall the async workers that serve checkpoints and tiles. Past the waiting room,
    // 503 with Retry-After at once.
    let Ok(queued) = state.verify_queue.clone().try_acquire_owned() else {
        return Err(ApiError::busy(
            "the log is verifying as many submissions as it can; retry shortly",
            std::time::Duration::from_secs(1),
        ));
    };
    let slot = state
        .verify_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::internal("the verification slots are closed"))?;
    let (config, keys) = (state.config.clone(), state.keys.clone());
    let submission = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        validate(&body, config.allow_keys.as_deref(), &keys, check)
    })
    .await
    .map_err(|e| ApiError::internal(&format!("a verification task failed: {e}")))??;
    drop(queued);
    let waiting = state.in_flight.enter();
    let started = Instant::now();
    let accepted = state.sequencer.submit(submission).await?;
    drop(waiting);
    state.metrics.committed(&accepted, started.elapsed());
    let proof = String::from_utf8(accepted.tlog_proof(None)?.encode())
        .map_err(|_| ApiError::internal("a tlog-proof is not UTF-8"))?;
    Ok(Added {
        index: accepted.index,
        duplicate: accepted.duplicate,
        proof,
    })
}

/// The `Content-Length` the client declared, if it is a number.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// The checks that need only the headers: declared size, media type, no content coding.
fn check_headers(headers: &HeaderMap, limit: usize) -> Result<(), ApiError> {
    let declared = declared_length(headers);
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large(limit));
    }
    if !params::is_json(headers) {
        return Err(ApiError::refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Reject::MediaType,
            "Content-Type must be application/json: the body is a DSSE envelope",
        ));
    }
    if params::is_encoded(headers) {
        return Err(ApiError::refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Reject::MediaType,
            "Content-Encoding is not supported: send the envelope as it is to be logged",
        ));
    }
    Ok(())
}

fn too_large(limit: usize) -> ApiError {
    ApiError::refuse(
        StatusCode::PAYLOAD_TOO_LARGE,
        Reject::TooLarge,
        format!("the entry is larger than the log's limit of {limit} bytes"),
    )
}

/// Every check on the body, in order; on success the submission to log: the body as it is,
/// with the lookup keys derived from the verified entry.
fn validate(
    body: &[u8],
    allow: Option<&[NoteVerifier]>,
    cache: &KeyCache,
    check: Option<Check>,
) -> Result<Submission, ApiError> {
    let opened = SignedEntry::open_with(
        body,
        Options {
            cache: Some(cache),
            allow,
            ..Options::default()
        },
    )
    .map_err(refusal)?;
    if let Some(check) = check {
        check(&opened)?;
    }
    Ok(Submission::new(body.to_vec(), keys_of(&opened)))
}

/// The status and reason of each way an entry does not open (see the module docs of `http.rs`).
fn refusal(e: OpenError) -> ApiError {
    let (status, reason, message) = match &e {
        OpenError::Envelope(why) => (
            StatusCode::BAD_REQUEST,
            Reject::Envelope,
            format!("the body is not a DSSE envelope: {why}"),
        ),
        OpenError::PayloadType(t) => (
            StatusCode::BAD_REQUEST,
            Reject::PayloadType,
            format!(
                "payloadType {:?} is not supported: entries are in-toto statements, {PAYLOAD_TYPE}",
                params::clip(t)
            ),
        ),
        OpenError::TooManySignatures(_) => {
            (StatusCode::BAD_REQUEST, Reject::Signature, e.to_string())
        }
        OpenError::NoNamedSigner | OpenError::NoValidSignature => {
            (StatusCode::FORBIDDEN, Reject::Signature, e.to_string())
        }
        OpenError::NotAllowed => (
            StatusCode::FORBIDDEN,
            Reject::NotAllowed,
            "signer not allowed: no key that signed this entry is on the log's allow-list"
                .to_owned(),
        ),
        OpenError::Statement(_) | OpenError::Predicate(_) => (
            StatusCode::BAD_REQUEST,
            Reject::Statement,
            format!("the payload is not a reprove entry: {}", inner(&e)),
        ),
    };
    ApiError::refuse(status, reason, message)
}

/// The statement or predicate error inside `e`, without the prefix `OpenError` gives it.
fn inner(e: &OpenError) -> String {
    match e {
        OpenError::Statement(s) => s.to_string(),
        OpenError::Predicate(p) => p.to_string(),
        other => other.to_string(),
    }
}
