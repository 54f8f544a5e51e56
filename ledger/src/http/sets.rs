//! Staged releases over HTTP (docs/formats.md §8, `crate::sets`):
//!
//! ```text
//! POST /sets                           plan a set: {"project", "version"}, signed -> the set
//! GET  /sets/<id>                      the set and its version's state (JSON)
//! PUT  /sets/<id>/<file>               upload a file into an open set, signed, streamed
//! GET  /sets/<id>/<file>               the file (the preview), from plan time on
//! POST /sets/<id>/entries              log the set's next entry: its release manifest (seals
//!                                      the set), announcement, withdrawal or yank
//! GET  /dl/<name>/<version>/<file>     a released file
//! GET  /dl/<name>/latest/<file>        the file of the latest announced version
//! GET  /latest/<name>                  which version is latest, and why (JSON)
//! ```
//!
//! Plans and uploads carry `Reprove-Signature: <vkey> <base64 sig>` over
//! `reprove_verifier::blob::plan_message` / `set_file_message`; an upload also
//! `Reprove-Sha256: <hex>` and a `Content-Length`, both covered by the signature, so every
//! check — the signer owns the set, the set is open, the size is under the cap — happens
//! before a byte of the body is read. The body is streamed to the blob store and hashed there
//! (422 when it is not the signed digest); nothing is held in memory whole. Downloads stream
//! the blob and re-hash it as they go: a file whose bytes no longer match is cut off, never
//! served whole.
//!
//! Refusals: 400 malformed, 403 not the project's key or a bad signature, 404 unknown,
//! 409 the set's state forbids it (sealed, already announced, …), 410 withdrawn,
//! 411 no length, 413 over the cap, 422 wrong digest.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HeaderName};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use reprove_verifier::blob::{BlobSignature, HEADER, plan_message, set_file_message};
use reprove_verifier::note::NoteVerifier;
use reprove_verifier::staging::{ProjectState, VersionState};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::add::{Check, log_checked, read_body};
use super::error::{ApiError, Reject};
use super::{AppState, blocking, params};
use crate::blobs::blob_path;
use crate::sets::{MAX_SET_FILES, SetError, SetFile, SetRecord, check_posted, is_set_id};

/// The header an upload names its digest in.
pub const SHA256_HEADER: &str = "reprove-sha256";

/// The header a download of a yanked version carries (its reason).
pub const YANKED_HEADER: &str = "reprove-yanked";

/// The header naming the version a `latest` URL served.
pub const VERSION_HEADER: &str = "reprove-version";

impl From<SetError> for ApiError {
    fn from(e: SetError) -> ApiError {
        let (status, message) = match e {
            SetError::Ledger(inner) => return ApiError::from(inner),
            SetError::Invalid(m) => (StatusCode::BAD_REQUEST, m),
            SetError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            SetError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            SetError::Conflict(m) => (StatusCode::CONFLICT, m),
            SetError::Gone(m) => (StatusCode::GONE, m),
        };
        ApiError::refuse(status, Reject::Invalid, message)
    }
}

/// A plan request's body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanRequest {
    project: String,
    version: String,
}

/// A set as the API shows it.
#[derive(Debug, Serialize)]
struct SetView {
    id: String,
    project: String,
    version: String,
    owner: String,
    /// `open` (uploads allowed), `released`, `announced`, `withdrawn` or `yanked`.
    state: &'static str,
    /// Where its files are served from now (the preview), and once released.
    set_url: String,
    release_url: String,
    files: std::collections::BTreeMap<String, FileView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_state: Option<VersionState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    withdrawn_reason: Option<String>,
}

/// A set's file as the read API shows it (docs/json.md `SetFile`).
#[derive(Debug, Serialize)]
struct FileView {
    sha256: String,
    size: u64,
}

fn view(set: SetRecord, state: &ProjectState) -> SetView {
    let version = state.version(&set.version).cloned();
    let withdrawn = state.withdrawal(&set.version).map(|w| w.reason.clone());
    let label = state.stage(&set.version);
    SetView {
        set_url: format!("/sets/{}/", set.id),
        release_url: format!(
            "/dl/{}/{}/",
            crate::index::path_segment(&set.project),
            crate::index::path_segment(&set.version)
        ),
        id: set.id,
        project: set.project,
        version: set.version,
        owner: set.owner,
        state: label,
        files: set
            .files
            .into_iter()
            .map(|(name, f)| {
                (
                    name,
                    FileView {
                        sha256: f.sha256,
                        size: f.size,
                    },
                )
            })
            .collect(),
        version_state: version,
        withdrawn_reason: withdrawn,
    }
}

/// The signature header, parsed (400 when absent or malformed).
fn signature(headers: &HeaderMap) -> Result<BlobSignature, ApiError> {
    let value = headers.get(HEADER).ok_or_else(|| {
        ApiError::bad_request(
            "this request needs a Reprove-Signature header: \"<vkey> <base64 Ed25519 signature>\"",
        )
    })?;
    let text = value
        .to_str()
        .map_err(|_| ApiError::bad_request("the Reprove-Signature header is not ASCII"))?;
    BlobSignature::parse(text).map_err(|e| ApiError::bad_request(format!("Reprove-Signature: {e}")))
}

fn forbidden(e: impl std::fmt::Display) -> ApiError {
    ApiError::refuse(
        StatusCode::FORBIDDEN,
        Reject::Signature,
        format!("Reprove-Signature: {e}"),
    )
}

/// A project, version or file name: the *identifier* rule, and not a name the URLs reserve.
fn check_name(what: &str, name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= reprove_verifier::predicates::MAX_IDENT_BYTES
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/' || c == '\\')
        && name != "."
        && name != "..";
    if !ok {
        return Err(ApiError::bad_request(format!(
            "{what} {:?} is not a name: 1–256 bytes, no whitespace, control characters or slashes",
            params::clip(name)
        )));
    }
    if what == "version" && name == "latest" {
        return Err(ApiError::bad_request(
            "\"latest\" is not a version: /dl/<name>/latest/ names the latest announced one",
        ));
    }
    Ok(())
}

/// `POST /sets`.
pub(super) async fn plan(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers().clone();
    let body = read_body(&state, request).await?;
    let plan: PlanRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!("a plan is {{\"project\", \"version\"}}: {e}"))
    })?;
    check_name("project", &plan.project)?;
    check_name("version", &plan.version)?;
    let sig = signature(&headers)?;
    let key = sig
        .verify_message(&plan_message(&plan.project, &plan.version))
        .map_err(forbidden)?
        .clone();
    let configured = state.config.project_keys(&plan.project);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let _guard = state.set_lock.lock().await;
    let (set, created) = blocking(&state.ledger, move |l| {
        let (set, created) = l.plan_set(&plan.project, &plan.version, &key, &configured, now)?;
        let owners = l.owners(&set.project, &configured)?;
        let project = l.project_state(&set.project, &owners)?;
        Ok::<_, SetError>((view(set, &project), created))
    })
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(set),
    )
        .into_response())
}

/// The set `id` with its project's state (404 when unknown).
async fn set_and_state(
    state: &AppState,
    id: String,
) -> Result<(SetRecord, ProjectState), ApiError> {
    if !is_set_id(&id) {
        return Err(ApiError::bad_request(format!(
            "{:?} is not a set id (32 lowercase hex digits)",
            params::clip(&id)
        )));
    }
    let configured = state.config.clone();
    blocking(&state.ledger, move |l| {
        let set = l
            .set(&id)?
            .ok_or_else(|| SetError::NotFound(format!("the ledger has no set {id}")))?;
        let owners = l.owners(&set.project, &configured.project_keys(&set.project))?;
        let project = l.project_state(&set.project, &owners)?;
        Ok::<_, SetError>((set, project))
    })
    .await
}

/// `GET /sets/<id>`.
pub(super) async fn show(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let (set, project) = set_and_state(&state, params::path(id)?).await?;
    Ok((
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(view(set, &project)),
    )
        .into_response())
}

/// `PUT /sets/<id>/<file>`.
pub(super) async fn upload(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let (id, file) = params::path(path)?;
    check_name("file", &file)?;
    let (sha256, size, signer) = check_upload_headers(&state, &id, &file, request.headers())?;
    let (set, project) = set_and_state(&state, id.clone()).await?;
    let configured = state.config.project_keys(&set.project);
    let owners = blocking(&state.ledger, {
        let project = set.project.clone();
        move |l| l.owners(&project, &configured)
    })
    .await?;
    open_for(&set, &project, &owners, &signer, &file, &sha256)?;
    let tmp = blocking(&state.ledger, move |l| l.blob_upload_path(&sha256)).await?;
    let hashed = match super::blobs::stream_hashing(&tmp, request.into_body(), size).await {
        Ok(hashed) => hashed,
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
    };
    // Hashed as it streamed: 422 when it is not the signed digest, nothing kept.
    blocking(&state.ledger, move |l| {
        l.adopt_hashed_blob(&tmp, &sha256, &hashed.sha256)
    })
    .await?;
    // Record the file under the lock, checking again that the set is still open.
    let _guard = state.set_lock.lock().await;
    let (set, project) = set_and_state(&state, id).await?;
    open_for(&set, &project, &owners, &signer, &file, &sha256)?;
    let mut set = set;
    set.files.insert(
        file,
        SetFile {
            sha256: hex::encode(sha256),
            size,
            blake3: Some(hex::encode(hashed.blake3)),
        },
    );
    let saved = set.clone();
    blocking(&state.ledger, move |l| l.save_set(&saved)).await?;
    Ok((
        StatusCode::CREATED,
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(view(set, &project)),
    )
        .into_response())
}

/// Every check of an upload that needs only its headers: digest, length, cap, signature.
fn check_upload_headers(
    state: &AppState,
    id: &str,
    file: &str,
    headers: &HeaderMap,
) -> Result<([u8; 32], u64, NoteVerifier), ApiError> {
    let sha256 = headers
        .get(SHA256_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(params::sha256_hex)
        .ok_or_else(|| {
            ApiError::bad_request("an upload needs a Reprove-Sha256 header: the file's SHA-256, 64 lowercase hex digits")
        })?;
    let size = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(params::parse_u64)
        .ok_or_else(|| {
            ApiError::refuse(
                StatusCode::LENGTH_REQUIRED,
                Reject::Invalid,
                "an upload needs a Content-Length header (the signature covers the size)",
            )
        })?;
    if params::is_encoded(headers) {
        return Err(ApiError::refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Reject::MediaType,
            "Content-Encoding is not supported: send the file's bytes as they are",
        ));
    }
    let cap = state.config.max_artifact_bytes;
    if size > cap {
        return Err(ApiError::refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            Reject::TooLarge,
            format!(
                "the file is {size} bytes, larger than the ledger's limit of {cap} bytes per artifact"
            ),
        ));
    }
    let sig = signature(headers)?;
    let key = sig
        .verify_message(&set_file_message(id, file, &sha256, size))
        .map_err(forbidden)?;
    Ok((sha256, size, key.clone()))
}

/// 403/409/410 unless `signer` may add `file` with `sha256` to `set` now.
fn open_for(
    set: &SetRecord,
    project: &ProjectState,
    owners: &crate::sets::Owners,
    signer: &NoteVerifier,
    file: &str,
    sha256: &[u8; 32],
) -> Result<(), ApiError> {
    let label = format!("{}@{}", set.project, set.version);
    if !owners.contains(signer) {
        return Err(SetError::Forbidden(format!(
            "{} may not upload to the set of {label}: it is not a key of the project",
            signer.name()
        ))
        .into());
    }
    if let Some(w) = project.withdrawal(&set.version) {
        return Err(SetError::Gone(format!("{label} was withdrawn: {}", w.reason)).into());
    }
    if let Some(v) = project.version(&set.version) {
        return Err(SetError::Conflict(format!(
            "the set of {label} is sealed: released at index {}",
            v.release_index
        ))
        .into());
    }
    match set.files.get(file) {
        Some(f) if f.sha256 != hex::encode(sha256) => Err(SetError::Conflict(format!(
            "the set already holds {file} with sha256 {}: a file's bytes never change",
            f.sha256
        ))
        .into()),
        None if set.files.len() >= MAX_SET_FILES => Err(SetError::Conflict(format!(
            "the set holds {MAX_SET_FILES} files, the most a set may"
        ))
        .into()),
        _ => Ok(()),
    }
}

/// `POST /sets/<id>/entries`.
pub(super) async fn post_entry(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let id = params::path(id)?;
    let body = read_body(&state, request).await?;
    let _guard = state.set_lock.lock().await;
    let (set, project) = set_and_state(&state, id).await?;
    let configured = state.config.project_keys(&set.project);
    let owners = blocking(&state.ledger, {
        let project = set.project.clone();
        move |l| l.owners(&project, &configured)
    })
    .await?;
    let check: Check = Box::new(move |opened| Ok(check_posted(&set, &project, &owners, opened)?));
    let added = log_checked(&state, body, Some(check)).await?;
    Ok((
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(added),
    )
        .into_response())
}

/// `GET /sets/<id>/<file>`: the preview, from plan time until the version is withdrawn.
pub(super) async fn get_set_file(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (id, file) = params::path(path)?;
    let (set, project) = set_and_state(&state, id).await?;
    let f = set.files.get(&file).ok_or_else(|| {
        ApiError::not_found(format!(
            "the set of {}@{} has no file {file}",
            set.project, set.version
        ))
    })?;
    serve(&state, &set, &project, f, None).await
}

/// `GET /dl/<name>/<version>/<file>`.
pub(super) async fn download(
    State(state): State<AppState>,
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (name, version, file) = params::path(path)?;
    let configured = state.config.project_keys(&name);
    let latest = version == "latest";
    let (set, project, version) = blocking(&state.ledger, move |l| {
        let owners = l.owners(&name, &configured)?;
        let project = l.project_state(&name, &owners)?;
        let version = if latest {
            project
                .latest()
                .map(|v| v.version.clone())
                .ok_or_else(|| SetError::NotFound(format!("{name} has no announced version")))?
        } else {
            version
        };
        let set = l.set(&crate::sets::set_id(&name, &version))?;
        Ok::<_, SetError>((set, project, version))
    })
    .await?;
    let Some(set) = set else {
        return Err(ApiError::not_found(format!(
            "the ledger holds no files of {}@{version}",
            project
                .versions
                .first()
                .map_or("this project", |v| v.project.as_str())
        )));
    };
    let label = format!("{}@{}", set.project, set.version);
    if let Some(w) = project.withdrawal(&version) {
        return Err(SetError::Gone(format!("{label} was withdrawn: {}", w.reason)).into());
    }
    let released = project.version(&version).ok_or_else(|| {
        ApiError::not_found(format!(
            "{label} is not released yet (its files are at /sets/{}/)",
            set.id
        ))
    })?;
    let f = set
        .files
        .get(&file)
        .ok_or_else(|| ApiError::not_found(format!("{label} has no file {file}")))?;
    if !released
        .artifacts
        .iter()
        .any(|a| a.name == file && a.sha256 == f.sha256)
    {
        return Err(ApiError::not_found(format!(
            "the release of {label} does not list {file}"
        )));
    }
    let served = latest.then_some(version.as_str());
    serve(&state, &set, &project, f, served).await
}

/// `GET /latest/<name>`.
pub(super) async fn latest(
    State(state): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let name = params::path(name)?;
    let configured = state.config.project_keys(&name);
    let (project, size) = blocking(&state.ledger, move |l| {
        let size = l.head().size();
        let owners = l.owners(&name, &configured)?;
        Ok::<_, SetError>((l.project_state(&name, &owners)?, size))
    })
    .await?;
    #[derive(Serialize)]
    struct Latest<'a> {
        tree_size: u64,
        latest: Option<&'a VersionState>,
        versions: &'a [VersionState],
    }
    let body = Latest {
        tree_size: size,
        latest: project.latest(),
        versions: &project.versions,
    };
    if body.latest.is_none() {
        return Err(ApiError::not_found("the project has no announced version"));
    }
    Ok((
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(body),
    )
        .into_response())
}

/// Streams the file's blob, re-hashing it; headers say what the consumer should know.
async fn serve(
    state: &AppState,
    set: &SetRecord,
    project: &ProjectState,
    f: &SetFile,
    latest_version: Option<&str>,
) -> Result<Response, ApiError> {
    if let Some(w) = project.withdrawal(&set.version) {
        return Err(SetError::Gone(format!(
            "{}@{} was withdrawn: {}",
            set.project, set.version, w.reason
        ))
        .into());
    }
    let sha256 =
        params::sha256_hex(&f.sha256).ok_or_else(|| ApiError::internal("a set file's digest"))?;
    let path = blob_path(state.ledger.path(), &sha256);
    let file = std::fs::File::open(&path).map_err(|e| {
        tracing::error!(error = %e, "opening a set file's blob");
        ApiError::internal("could not open the file")
    })?;
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(f.size));
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("\"sha256:{}\"", f.sha256)) {
        headers.insert(axum::http::header::ETAG, v);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Some(v) = project.version(&set.version)
        && let Some(y) = &v.yanked
    {
        let reason = format!("yanked at index {}: {}", y.index, y.reason);
        let ascii: String = reason
            .chars()
            .map(|c| {
                if c.is_ascii() && !c.is_ascii_control() {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        if let Ok(h) = HeaderValue::from_str(&ascii) {
            headers.insert(HeaderName::from_static(YANKED_HEADER), h);
        }
        if let Ok(h) = HeaderValue::from_str(&format!("299 - \"{}\"", ascii.replace('"', "'"))) {
            headers.insert(axum::http::header::WARNING, h);
        }
    }
    if let Some(v) = latest_version
        && let Ok(h) = HeaderValue::from_str(v)
    {
        headers.insert(HeaderName::from_static(VERSION_HEADER), h);
    }
    // Re-hashed with the BLAKE3 the ledger took at upload where it has one (a fraction of
    // SHA-256's CPU), else with SHA-256.
    let check = match f.blake3.as_deref().and_then(params::sha256_hex) {
        Some(expected) => Rehash::Blake3(Box::new(blake3::Hasher::new()), expected),
        None => Rehash::Sha256(Sha256::new(), sha256),
    };
    let stream = HashedFile {
        pending: Some(tokio::task::spawn_blocking(move || read_chunk(file, check))),
        held: None,
        name: sha256,
    };
    Ok((StatusCode::OK, headers, Body::from_stream(stream)).into_response())
}

/// How much of a blob one read takes: large enough that the per-read costs (a hop to a
/// blocking thread, a syscall, a hash call) vanish beside the copy; two of them in flight.
const CHUNK: usize = 1 << 20;

/// The hash a download re-computes, and the digest it must end at.
enum Rehash {
    Blake3(Box<blake3::Hasher>, [u8; 32]),
    Sha256(Sha256, [u8; 32]),
}

impl Rehash {
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Rehash::Blake3(h, _) => {
                h.update(bytes);
            }
            Rehash::Sha256(h, _) => h.update(bytes),
        }
    }

    /// Whether everything hashed is the file.
    fn matches(self) -> bool {
        match self {
            Rehash::Blake3(h, expected) => *h.finalize().as_bytes() == expected,
            Rehash::Sha256(h, expected) => <[u8; 32]>::from(h.finalize()) == expected,
        }
    }
}

/// One chunk read, the hash so far, and the file to read the next from.
type Chunk = (std::fs::File, Rehash, Vec<u8>);

/// Reads the next chunk of `file` (empty at the end) and hashes it, on a blocking thread.
fn read_chunk(mut file: std::fs::File, mut check: Rehash) -> std::io::Result<Chunk> {
    use std::io::Read;
    let mut buf = vec![0; CHUNK];
    let mut filled = 0;
    while filled < CHUNK {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    check.update(&buf);
    Ok((file, check, buf))
}

/// A blob's bytes as a body stream, hashed as they go. The last chunk is held back until the
/// whole file has hashed to the blob's name: when it does not, the stream fails instead, so
/// a client never receives all of the bytes of a file that is not what its name says (the
/// transfer breaks short of its `Content-Length`). The next chunk is read (on a blocking
/// thread, held only for the read) while the socket takes this one, and each chunk's buffer
/// becomes the body's bytes without a copy; a slow client holds no thread. At most three
/// chunks are in memory.
struct HashedFile {
    pending: Option<tokio::task::JoinHandle<std::io::Result<Chunk>>>,
    held: Option<Bytes>,
    /// The blob's name (its SHA-256), for the log.
    name: [u8; 32],
}

impl futures_core::Stream for HashedFile {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let Some(handle) = this.pending.as_mut() else {
                return Poll::Ready(None);
            };
            let read = match Pin::new(handle).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(read) => read,
            };
            this.pending = None;
            let (file, check, buf) = match read {
                Ok(Ok(chunk)) => chunk,
                Ok(Err(e)) => return Poll::Ready(Some(Err(e))),
                Err(e) => return Poll::Ready(Some(Err(std::io::Error::other(e)))),
            };
            if buf.is_empty() {
                if !check.matches() {
                    tracing::error!(sha256 = %hex::encode(this.name), "a stored artifact does not match its digest");
                    return Poll::Ready(Some(Err(std::io::Error::other(
                        "the stored file does not match its digest",
                    ))));
                }
                return Poll::Ready(this.held.take().map(Ok));
            }
            this.pending = Some(tokio::task::spawn_blocking(move || read_chunk(file, check)));
            // The first chunk: nothing to send until the second is read.
            if let Some(ready) = this.held.replace(Bytes::from(buf)) {
                return Poll::Ready(Some(Ok(ready)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A download's re-hash: BLAKE3 where the record has one, SHA-256 for records from before;
    /// either way one flipped bit fails it, across chunk boundaries.
    #[test]
    fn a_rehash_accepts_the_file_and_nothing_else() {
        let bytes: Vec<u8> = (0..(CHUNK as u32) * 2 + 7)
            .map(|i| (i % 251) as u8)
            .collect();
        let sha: [u8; 32] = Sha256::digest(&bytes).into();
        let b3 = *blake3::hash(&bytes).as_bytes();
        let checks = || {
            [
                Rehash::Blake3(Box::new(blake3::Hasher::new()), b3),
                Rehash::Sha256(Sha256::new(), sha),
            ]
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let through = |check: Rehash| {
            let (mut file, mut check) = (std::fs::File::open(&path).unwrap(), check);
            let mut read = 0;
            loop {
                let (f, c, buf) = read_chunk(file, check).unwrap();
                (file, check) = (f, c);
                if buf.is_empty() {
                    return (read, check.matches());
                }
                read += buf.len();
            }
        };
        std::fs::write(&path, &bytes).unwrap();
        for check in checks() {
            assert_eq!(through(check), (bytes.len(), true));
        }
        let mut rotten = bytes.clone();
        rotten[CHUNK + 3] ^= 1;
        std::fs::write(&path, &rotten).unwrap();
        for check in checks() {
            assert_eq!(through(check), (bytes.len(), false));
        }
    }
}
