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
//! | a logged rebuild attestation signed by this key names the blob (build log or diff report), unless the key is on the allow-list | 403 |
//! | an upload slot is free (at most `max_blob_uploads` at once) | 503 with `Retry-After` |
//! | the key's stored blobs plus this one stay within `max_blob_bytes_per_key` | 403 |
//! | the body's SHA-256 is the path's digest | 422 |
//!
//! Then the blob is stored durably: `201 Created` with `{"sha256", "size", "created": true}`,
//! or, when the store already held it, `200 OK` with the same body and `"created": false`
//! (nothing rewritten). The signature covers the size, so it is checked before a byte of the
//! body is read: a stranger cannot make the ledger read megabytes. The body is streamed to a
//! temporary file, never held whole in memory, then hashed once; a blob the store already
//! holds is not charged to the key again.
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
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, LOCATION, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use serde::Serialize;
use sha2::{Digest, Sha256};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use http_body_util::BodyExt;
use reprove_verifier::note::NoteVerifier;

use super::error::{ApiError, Reject};
use super::tiles::IMMUTABLE;
use super::{AppState, blocking, params};
use crate::blobs::BlobStored;
use crate::index::{Direction, IndexKey, PageRequest};

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
    let (size, signer) = check_upload(&state, &sha256, request.headers())?;
    let allowed = state
        .config
        .allow_keys
        .as_ref()
        .is_some_and(|a| a.contains(&signer));
    if !allowed {
        named_by(&state, &signer, sha256).await?;
    }
    let Ok(_slot) = state.blob_slots.clone().try_acquire_owned() else {
        return Err(ApiError::busy(
            "the log is storing as many blobs as it takes at once; retry shortly",
            Duration::from_secs(1),
        ));
    };
    // A blob the store already holds costs its uploader nothing (the upload is still read and
    // checked, then answered 200).
    let held = blocking(&state.ledger, move |l| l.has_blob(&sha256)).await?;
    let reservation = state.quotas.reserve(&signer, if held { 0 } else { size })?;
    let tmp = blocking(&state.ledger, move |l| l.blob_upload_path(&sha256)).await?;
    let streamed = stream_to(&tmp, request.into_body(), size).await;
    if let Err(e) = streamed {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(e);
    }
    // `adopt_blob` hashes the file once, the only check of the digest, and removes it when it
    // is not the blob the path names.
    let stored = blocking(&state.ledger, move |l| l.adopt_blob(&tmp, &sha256)).await?;
    let created = stored == BlobStored::Created;
    if created {
        reservation.commit(size)?;
    }
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

/// 403 unless a logged rebuild attestation signed by `signer` names the blob.
async fn named_by(
    state: &AppState,
    signer: &NoteVerifier,
    sha256: [u8; 32],
) -> Result<(), ApiError> {
    let key = IndexKey::signed_by(&signer.to_string(), IndexKey::Blob(sha256))
        .ok_or_else(|| ApiError::internal("blob lookups are scoped"))?;
    let page = PageRequest {
        cursor: None,
        limit: 1,
        direction: Direction::Forward,
    };
    let named = blocking(&state.ledger, move |l| l.lookup(&key, page)).await?;
    if named.indices.is_empty() {
        return Err(ApiError::refuse(
            StatusCode::FORBIDDEN,
            Reject::NotAllowed,
            format!(
                "no logged entry signed by {} names the blob {}: the log stores the build logs \
                 and diff reports of its own attestations — log the attestation first",
                signer.name(),
                hex::encode(sha256)
            ),
        ));
    }
    Ok(())
}

/// Streams the body into `tmp`: exactly `size` bytes (else 400). Never held in memory whole.
pub(super) async fn stream_to(
    tmp: &std::path::Path,
    body: Body,
    size: u64,
) -> Result<(), ApiError> {
    stream_hashing(tmp, body, size).await.map(|_| ())
}

/// What [`stream_hashing`] hashed: the bytes' SHA-256 (their name) and BLAKE3 (what the
/// ledger re-hashes them against on the way out, where it can).
#[derive(Debug, Clone, Copy)]
pub(super) struct Hashed {
    pub(super) sha256: [u8; 32],
    pub(super) blake3: [u8; 32],
}

/// [`stream_to`], hashing the bytes as they pass: their SHA-256 and BLAKE3.
///
/// The body's frames are gathered into [`WRITE_CHUNK`]-sized buffers; each is hashed and
/// written on a blocking thread while the next one is received, and every [`SYNC_EVERY`]
/// bytes a write-back of what is written so far starts in the background (`fdatasync` on a
/// second handle), so the disk is busy from the first MiB on instead of taking a whole
/// multi-GiB upload at the final `fsync`. At most two buffers are in memory.
pub(super) async fn stream_hashing(
    tmp: &std::path::Path,
    mut body: Body,
    size: u64,
) -> Result<Hashed, ApiError> {
    let path = tmp.to_path_buf();
    let file = tokio::task::spawn_blocking(move || std::fs::File::create(&path))
        .await
        .map_err(|e| write_failed(std::io::Error::other(e)))?
        .map_err(write_failed)?;
    let mut writer = Writer::new(file);
    let mut buf = Vec::with_capacity(WRITE_CHUNK);
    let mut read: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| ApiError::bad_request(format!("could not read the request body: {e}")))?;
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        read += chunk.len() as u64;
        if read > size {
            return Err(ApiError::bad_request(
                "the body is longer than its Content-Length",
            ));
        }
        buf.extend_from_slice(&chunk);
        if buf.len() >= WRITE_CHUNK {
            let full = std::mem::replace(&mut buf, Vec::with_capacity(WRITE_CHUNK));
            writer.push(full).await?;
        }
    }
    if read != size {
        return Err(ApiError::bad_request(format!(
            "the body is {read} bytes, its Content-Length says {size}"
        )));
    }
    writer.push(buf).await?;
    writer.finish().await
}

/// How much of an upload one write takes.
const WRITE_CHUNK: usize = 1 << 20;

/// How many written bytes start a background write-back.
const SYNC_EVERY: u64 = 32 << 20;

fn write_failed(e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "writing an uploaded blob");
    ApiError::internal("could not write the blob")
}

/// The file an upload goes to and its hashes so far.
type Writing = (std::fs::File, Sha256, Box<blake3::Hasher>);

/// The file an upload goes to, its hashes so far, and the write and write-back in flight.
struct Writer {
    idle: Option<Writing>,
    writing: Option<tokio::task::JoinHandle<std::io::Result<Writing>>>,
    syncing: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    written: u64,
    synced: u64,
}

impl Writer {
    fn new(file: std::fs::File) -> Writer {
        Writer {
            idle: Some((file, Sha256::new(), Box::new(blake3::Hasher::new()))),
            writing: None,
            syncing: None,
            written: 0,
            synced: 0,
        }
    }

    /// Waits for the write in flight, if any: the file and hash back.
    async fn settle(&mut self) -> Result<Writing, ApiError> {
        if let Some(handle) = self.writing.take() {
            return handle
                .await
                .map_err(|e| write_failed(std::io::Error::other(e)))?
                .map_err(write_failed);
        }
        self.idle
            .take()
            .ok_or_else(|| ApiError::internal("an upload's file was lost"))
    }

    /// Hashes and writes `buf` after the write before it, without waiting for it.
    async fn push(&mut self, buf: Vec<u8>) -> Result<(), ApiError> {
        let (mut file, mut sha256, mut blake3) = self.settle().await?;
        if self.written - self.synced >= SYNC_EVERY
            && self.syncing.as_ref().is_none_or(|h| h.is_finished())
        {
            if let Some(done) = self.syncing.take() {
                done.await
                    .map_err(|e| write_failed(std::io::Error::other(e)))?
                    .map_err(write_failed)?;
            }
            let handle = file.try_clone().map_err(write_failed)?;
            self.syncing = Some(tokio::task::spawn_blocking(move || handle.sync_data()));
            self.synced = self.written;
        }
        self.written += buf.len() as u64;
        self.writing = Some(tokio::task::spawn_blocking(move || {
            use std::io::Write;
            sha256.update(&buf);
            blake3.update(&buf);
            file.write_all(&buf)?;
            Ok((file, sha256, blake3))
        }));
        Ok(())
    }

    /// Waits for every write and write-back: the hashes of all that was written.
    async fn finish(mut self) -> Result<Hashed, ApiError> {
        let (_file, sha256, blake3) = self.settle().await?;
        if let Some(done) = self.syncing.take() {
            done.await
                .map_err(|e| write_failed(std::io::Error::other(e)))?
                .map_err(write_failed)?;
        }
        Ok(Hashed {
            sha256: sha256.finalize().into(),
            blake3: *blake3.finalize().as_bytes(),
        })
    }
}

/// How many blob bytes each key has stored, against the per-key quota. Kept in one small file
/// per key under `blobs/usage/` (named by the SHA-256 of the vkey), loaded on first use; an
/// upload reserves its size before a byte is read, so concurrent uploads cannot overrun it.
#[derive(Debug)]
pub(super) struct Quotas {
    dir: PathBuf,
    limit: u64,
    /// Per key: (bytes stored, bytes reserved by uploads in progress).
    used: Mutex<HashMap<String, (u64, u64)>>,
}

/// Bytes reserved for one upload: released when dropped, unless committed.
pub(super) struct Reservation<'a> {
    quotas: &'a Quotas,
    key: String,
    size: u64,
    committed: bool,
}

impl Quotas {
    pub(super) fn new(data: &std::path::Path, limit: u64) -> Quotas {
        Quotas {
            dir: data.join("blobs").join("usage"),
            limit,
            used: Mutex::new(HashMap::new()),
        }
    }

    fn file(&self, key: &str) -> PathBuf {
        self.dir.join(hex::encode(Sha256::digest(key.as_bytes())))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, u64)>> {
        self.used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reserves `size` bytes for `signer`, or 403 when that passes its quota.
    pub(super) fn reserve(
        &self,
        signer: &NoteVerifier,
        size: u64,
    ) -> Result<Reservation<'_>, ApiError> {
        let key = signer.to_string();
        let mut used = self.lock();
        if !used.contains_key(&key) {
            let stored = match std::fs::read_to_string(self.file(&key)) {
                Ok(text) => text
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| ApiError::internal("a blob usage file does not hold a number"))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
                Err(e) => {
                    tracing::error!(error = %e, "reading a blob usage file");
                    return Err(ApiError::internal("could not read a blob usage file"));
                }
            };
            used.insert(key.clone(), (stored, 0));
        }
        let entry = used.entry(key.clone()).or_default();
        if entry.0.saturating_add(entry.1).saturating_add(size) > self.limit {
            return Err(ApiError::refuse(
                StatusCode::FORBIDDEN,
                Reject::TooLarge,
                format!(
                    "blob quota: {} has stored {} bytes of blobs; {size} more would pass the log's \
                     limit of {} bytes per key",
                    signer.name(),
                    entry.0,
                    self.limit
                ),
            ));
        }
        entry.1 += size;
        Ok(Reservation {
            quotas: self,
            key,
            size,
            committed: false,
        })
    }
}

impl Reservation<'_> {
    /// The blob was stored (`stored` bytes): its size becomes part of the key's usage, durably.
    fn commit(mut self, stored: u64) -> Result<(), ApiError> {
        let mut used = self.quotas.lock();
        let entry = used.entry(self.key.clone()).or_default();
        entry.1 = entry.1.saturating_sub(self.size);
        entry.0 = entry.0.saturating_add(stored);
        let total = entry.0;
        self.committed = true;
        let write = std::fs::create_dir_all(&self.quotas.dir).and_then(|()| {
            let file = self.quotas.file(&self.key);
            let tmp = file.with_extension("tmp");
            let mut f = std::fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut f, format!("{total}\n").as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &file)
        });
        write.map_err(|e| {
            tracing::error!(error = %e, "writing a blob usage file");
            ApiError::internal("could not record the blob's size against its key's quota")
        })
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.committed {
            let mut used = self.quotas.lock();
            if let Some(entry) = used.get_mut(&self.key) {
                entry.1 = entry.1.saturating_sub(self.size);
            }
        }
    }
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
    reprove_verifier::statement::parse_hex32(s).ok_or_else(|| {
        ApiError::bad_request(format!(
            "{:?} is not a sha256 digest (64 lowercase hex digits)",
            params::clip(s)
        ))
    })
}

/// Every check that needs only the headers (see the module docs); the declared size.
fn check_upload(
    state: &AppState,
    sha256: &[u8; 32],
    headers: &HeaderMap,
) -> Result<(u64, NoteVerifier), ApiError> {
    let signature = params::signature(headers, "a blob upload")?;
    let size = params::upload_size(headers, "the blob", state.config.max_blob_bytes as u64)?;
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
    Ok((size, signer.clone()))
}
