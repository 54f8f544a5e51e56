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
use reprove_verifier::dsse::Envelope;
use reprove_verifier::note::{KeyType, NoteVerifier};
use reprove_verifier::predicates::{Entry, EntryKind, RebuildResult};
use reprove_verifier::statement::PAYLOAD_TYPE;
use serde::Serialize;

use super::error::{ApiError, Reject};
use super::{AppState, params};
use crate::index::IndexKey;
use crate::round::Submission;

/// The answer to an accepted submission.
#[derive(Debug, Serialize)]
struct Added {
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

/// The header checks, then the body, read up to the size limit.
/// A refused body declared at most this large is read and discarded before the answer, so
/// the client, still sending, gets the 413 instead of a connection reset; larger ones are
/// refused without reading (the connection is closed).
const DRAIN_REFUSED_BYTES: u64 = 1 << 20;

async fn read_body(state: &AppState, request: Request) -> Result<Bytes, ApiError> {
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
    // Validation costs up to MAX_ENTRY_SIGNATURES Ed25519 verifications (about 60 µs each):
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
        validate(&body, config.allow_keys.as_deref(), Some(&keys))
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

/// The checks that need only the headers: declared size, media type, no content coding.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

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

/// The lookup keys the log records for an entry: exactly what `POST /add` derived when it
/// accepted it. `fsck` uses this to check that every entry has all its index records and no
/// others; an entry that no longer passes the checks derives none.
pub fn derive_index_keys(entry: &[u8]) -> Vec<IndexKey> {
    // fsck derives the keys of every entry: parse each signer key once, not once per entry
    // (decompressing a key costs a quarter of a verification).
    static KEYS: std::sync::LazyLock<KeyCache> = std::sync::LazyLock::new(KeyCache::default);
    validate(entry, None, Some(&KEYS))
        .map(|s| s.keys)
        .unwrap_or_default()
}

/// Every check on the body, in order; on success the submission to log: the body as it is,
/// with the lookup keys derived from the verified entry.
fn validate(
    body: &[u8],
    allow: Option<&[NoteVerifier]>,
    cache: Option<&KeyCache>,
) -> Result<Submission, ApiError> {
    let envelope = Envelope::parse(body).map_err(|e| {
        ApiError::refuse(
            StatusCode::BAD_REQUEST,
            Reject::Envelope,
            format!("the body is not a DSSE envelope: {e}"),
        )
    })?;
    if envelope.payload_type() != PAYLOAD_TYPE {
        return Err(ApiError::refuse(
            StatusCode::BAD_REQUEST,
            Reject::PayloadType,
            format!(
                "payloadType {:?} is not supported: entries are in-toto statements, {PAYLOAD_TYPE}",
                params::clip(envelope.payload_type())
            ),
        ));
    }
    let signers = verified_signers(&envelope, allow, cache)?;
    let entry = Entry::parse(envelope.payload()).map_err(|e| {
        ApiError::refuse(
            StatusCode::BAD_REQUEST,
            Reject::Statement,
            format!("the payload is not a reprove entry: {e}"),
        )
    })?;
    Ok(Submission::new(body.to_vec(), index_keys(&entry, &signers)))
}

/// The most signatures an entry may carry here (DSSE allows more; an entry has one author,
/// perhaps a co-signer or two).
const MAX_ENTRY_SIGNATURES: usize = 8;

/// The keys whose signatures verify: each signature is checked once, against the Ed25519 vkey
/// its `keyid` names and no other, and, with an allow-list, only when that key is on it — so
/// an entry costs at most [`MAX_ENTRY_SIGNATURES`] verifications, whatever it names. At least
/// one must verify (else 403).
fn verified_signers(
    envelope: &Envelope,
    allow: Option<&[NoteVerifier]>,
    cache: Option<&KeyCache>,
) -> Result<Vec<NoteVerifier>, ApiError> {
    let forbidden = |message: &str| {
        ApiError::refuse(StatusCode::FORBIDDEN, Reject::Signature, message.to_owned())
    };
    if envelope.signatures().len() > MAX_ENTRY_SIGNATURES {
        return Err(ApiError::refuse(
            StatusCode::BAD_REQUEST,
            Reject::Signature,
            format!(
                "the entry carries {} signatures; at most {MAX_ENTRY_SIGNATURES} are accepted",
                envelope.signatures().len()
            ),
        ));
    }
    let named: Vec<(NoteVerifier, &[u8])> = envelope
        .signatures()
        .iter()
        .filter_map(|s| {
            let key = match cache {
                Some(cache) => cache.parse(&s.keyid),
                None => NoteVerifier::parse(&s.keyid).ok(),
            }?;
            (key.key_type() == KeyType::Ed25519).then_some((key, s.sig.as_slice()))
        })
        .collect();
    if named.is_empty() {
        return Err(forbidden(
            "no signature names its signer: each signature's keyid must be the signer's \
             Ed25519 note verifier key (<name>+<hex key ID>+<base64 key>)",
        ));
    }
    let not_allowed = || {
        ApiError::refuse(
            StatusCode::FORBIDDEN,
            Reject::NotAllowed,
            "signer not allowed: no key that signed this entry is on the log's allow-list",
        )
    };
    // With an allow-list, an entry that names no allowed key costs no verification at all.
    if let Some(allow) = allow
        && !named.iter().any(|(k, _)| allow.contains(k))
    {
        return Err(not_allowed());
    }
    let message = envelope.pae();
    let mut verified: Vec<NoteVerifier> = Vec::new();
    for (key, sig) in &named {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
            continue;
        };
        if !verified.contains(key)
            && reprove_verifier::ed25519::verify_strict(key.verifying_key(), &message, &sig)
        {
            verified.push(key.clone());
        }
    }
    if verified.is_empty() {
        return Err(forbidden(
            "no signature verifies under the key its keyid names",
        ));
    }
    if let Some(allow) = allow
        && !verified.iter().any(|k| allow.contains(k))
    {
        return Err(not_allowed());
    }
    Ok(verified)
}

/// Parsed signer keys by their vkey text. Bounded: when full it is emptied and refills with
/// the keys in use (rebuilders and publishers sign many entries each; a flood of one-off keys
/// only costs the parse it would have cost anyway). Only keys that parse are kept.
#[derive(Debug, Default)]
pub(super) struct KeyCache {
    keys: std::sync::Mutex<std::collections::HashMap<String, NoteVerifier>>,
}

impl KeyCache {
    const CAPACITY: usize = 4096;

    fn parse(&self, vkey: &str) -> Option<NoteVerifier> {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = keys.get(vkey) {
            return Some(key.clone());
        }
        let key = NoteVerifier::parse(vkey).ok()?;
        if keys.len() >= Self::CAPACITY {
            keys.clear();
        }
        keys.insert(vkey.to_owned(), key.clone());
        Some(key)
    }
}

/// What an entry can be looked up by: the sha256 of every subject, every key that signed
/// it, the release it is about (a release manifest's own, a rebuild's `release`), and for a
/// revocation notice the revocations list and the revoked key.
fn index_keys(entry: &Entry, signers: &[NoteVerifier]) -> Vec<IndexKey> {
    let mut keys: Vec<IndexKey> = entry
        .subjects()
        .iter()
        .map(|a| IndexKey::Artifact(a.digest.sha256))
        .collect();
    // Each signer under its vkey and under its c2sp key ID (8 lowercase hex), the short name
    // people and `/lookup/key/<keyid>` use. The two never collide: a vkey always holds a `+`.
    for k in signers {
        keys.push(IndexKey::Signer(k.to_string()));
        keys.push(IndexKey::Signer(key_id_hex(k)));
    }
    match entry.kind() {
        EntryKind::Release(r) => {
            keys.push(IndexKey::Release {
                name: r.predicate.project.clone(),
                version: r.predicate.version.clone(),
            });
            // The web pages' lists: every release, and a project's releases.
            keys.push(IndexKey::Releases);
            keys.push(IndexKey::Project(r.predicate.project.clone()));
        }
        EntryKind::Rebuild(r) => {
            keys.push(IndexKey::Release {
                name: r.predicate.release.name.clone(),
                version: r.predicate.release.version.clone(),
            });
            // The web pages' rebuilders, mismatches and attestations per day.
            for k in signers {
                keys.push(IndexKey::Rebuilder(k.to_string()));
            }
            if r.predicate.result == RebuildResult::Mismatch {
                keys.push(IndexKey::Mismatches);
            }
            // The blobs it names: the blob store takes them from this entry's signers only.
            for d in r.predicate.build_log.iter().chain(&r.predicate.diff_report) {
                keys.push(IndexKey::Blob(d.sha256));
            }
            if let Some(day) = crate::web::time::rfc3339_day(&r.predicate.finished_on) {
                keys.push(IndexKey::RebuildDay(day));
            }
        }
        EntryKind::Revocation(n) => {
            keys.push(IndexKey::Revocations);
            keys.push(IndexKey::RevokedKey(canonical_vkey(&n.revoked_key)));
            if let Ok(k) = NoteVerifier::parse(&n.revoked_key) {
                keys.push(IndexKey::RevokedKey(key_id_hex(&k)));
            }
        }
    }
    // The same records scoped to each verified signer (the full vkey: a 4-byte key ID can be
    // ground out by a stranger), so a lookup can ask for one signer's entries only and
    // strangers' entries under the same artifact, release or revoked key cannot crowd them out.
    let scoped: Vec<IndexKey> = keys
        .iter()
        .filter(|k| !matches!(k, IndexKey::RevokedKey(s) if !s.contains('+')))
        .flat_map(|k| {
            signers
                .iter()
                .filter_map(|s| IndexKey::signed_by(&s.to_string(), k.clone()))
        })
        .collect();
    keys.extend(scoped);
    keys.sort();
    keys.dedup();
    keys
}

/// A vkey in its one spelling (as lookups spell it), or as given if it does not parse.
/// A key's c2sp key ID as 8 lowercase hex digits.
pub(super) fn key_id_hex(k: &NoteVerifier) -> String {
    format!("{:08x}", k.key_id())
}

pub(super) fn canonical_vkey(vkey: &str) -> String {
    NoteVerifier::parse(vkey).map_or_else(|_| vkey.to_owned(), |k| k.to_string())
}
