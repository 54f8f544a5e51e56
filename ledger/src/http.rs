//! The ledger's HTTP API (axum): the c2sp tlog-tiles read API, submissions, lookups, proofs,
//! health and metrics.
//!
//! ```text
//! GET  /checkpoint                      signed checkpoint (text/plain), cached a few seconds
//! GET  /tile/<L>/<N>[.p/<W>]            hash tile (octet-stream); full tiles immutable
//! GET  /tile/entries/<N>[.p/<W>]        entry bundle, gzip when accepted; full bundles immutable
//! GET  /entry/<index>                   one entry's bytes (the DSSE envelope, application/json)
//! POST /add                             a DSSE envelope -> {"index", "duplicate", "proof"}
//! GET  /lookup/sha256/<hex>             entries whose subjects have this sha256
//! GET  /lookup/key/<vkey or its hex>    entries signed by this key
//! GET  /lookup/release/<name>/<version> release manifests and rebuild attestations of a release
//! GET  /lookup/revocations[/<vkey>]     revocation notices (of one key)
//! GET  /lookup/project/<name>           a project's release manifests
//! GET  /proven/<sha256|key|release|project|revocations>/...   the whole list, with its proof
//! GET  /index-note                      the latest signed index note (text/plain)
//! PUT  /blobs/sha256/<hex>              store a blob (build log, diff report); signed upload
//! POST /sets, PUT /sets/<id>/<file>, POST /sets/<id>/entries   staged releases (`http/sets.rs`)
//! GET  /sets/<id>[/<file>], /dl/<name>/<version|latest>/<file>, /latest/<name>   their files
//! GET  /blobs/sha256/<hex>              a stored blob's bytes, immutable
//! GET  /proof/<index>[?size=N]          tlog-proof (text/plain)
//! GET  /consistency?old=A[&new=B]       consistency proof, one base64 hash per line
//! GET  /health                          200 "ok" or 503 with the reason
//! GET  /metrics                         Prometheus text exposition
//! GET  /, /releases, /release/..., /artifact/..., /rebuilders, ...   web pages (`web/`)
//! ```
//!
//! Lookups take `?after=<index>&limit=<n>&order=asc|desc` and answer
//! `{"indices": [...], "next": <cursor or null>}` (hints). Proven lookups take only
//! `?signer=<vkey>` and answer `{"note", "indices", "proof"}`: every index under the key, proven
//! under the verifiable index (docs/formats.md §6–7).
//!
//! Every refusal is a JSON body `{"error": "..."}` with a 4xx status; 5xx bodies say nothing
//! internal (the `tracing` log says everything). Ledger errors become statuses in one place,
//! `error.rs`. Handlers never panic on any input, and reads that touch RocksDB run on the
//! blocking pool.
//!
//! Submissions are checked in this order, each refusal writing nothing: a `Content-Length`
//! over the size limit (413, before reading anything), `Content-Type` not `application/json`
//! or a `Content-Encoding` (415), a body over the limit (413, as soon as the stream passes it,
//! so it is never buffered whole), not a DSSE envelope (400), `payloadType` not
//! `application/vnd.in-toto+json` (400: the HTTP representation is fine, the envelope's
//! content is not), no signature that verifies under the key its `keyid` names (403), no
//! verifying signer on the allow-list when one is configured (403), not a reprove entry
//! (400). The entry logged is the request body, byte for byte. A full pool is 503 with
//! `Retry-After`.
//!
//! Blob uploads carry a `Reprove-Signature: <vkey> <base64 sig>` header over
//! `"reprove blob v1\nsha256:<hex>\n<size>\n"` and are checked as `http/blobs.rs` lists:
//! digest path (400), header (400), `Content-Length` (411), no coding (415), size cap (413,
//! before reading), signature (403), allow-list (403), body digest (422); 201 new, 200 held.

mod add;
mod blobs;

pub(crate) mod error;
mod lookup;
mod metrics;
mod ops;
pub(crate) mod params;
mod proofs;
mod sets;
mod tiles;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, RawQuery, Request, State};
use axum::http::{Method, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::serve::ListenerExt;
use reprove_verifier::note::NoteVerifier;
use reprove_verifier::tiles::MAX_ENTRY_SIZE;

use crate::ledger::Ledger;
use crate::sequencer::Sequencer;

use error::ApiError;
use lookup::Mode;
use metrics::Metrics;
use ops::InFlight;
pub use sets::{SHA256_HEADER, VERSION_HEADER, YANKED_HEADER};

/// How the HTTP layer behaves.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// When set, only entries signed by one of these keys are accepted (others: 403).
    pub allow_keys: Option<Vec<NoteVerifier>>,
    /// The largest submission body, in bytes. Entry bundles cannot hold entries over 65,535
    /// bytes, so a larger value acts as 65,535.
    pub max_entry_bytes: usize,
    /// `Cache-Control: max-age` of `/checkpoint`, in seconds; 0 sends `no-cache`.
    pub checkpoint_max_age_secs: u64,
    /// `/health` fails when a submission has waited this long without being committed.
    pub health_max_staleness: Duration,
    /// The largest blob `PUT /blobs/sha256/<hex>` accepts, in bytes (larger: 413).
    pub max_blob_bytes: usize,
    /// The most blob uploads streamed at once (more: 503 with `Retry-After`).
    pub max_blob_uploads: usize,
    /// The most blob bytes one key may store in all (more: 403).
    pub max_blob_bytes_per_key: u64,
    /// The most submissions whose signatures are verified at once, on the blocking pool (0: one
    /// per CPU).
    pub verify_concurrency: usize,
    /// The largest file `PUT /sets/<id>/<file>` accepts, in bytes (larger: 413).
    pub max_artifact_bytes: u64,
    /// Per project, the keys that may plan, upload, publish, announce, withdraw and yank its
    /// sets (besides its owner, the key that planned its first set). A project named here is
    /// owned by these keys only: no stranger can plan it first.
    pub project_keys: std::collections::BTreeMap<String, Vec<NoteVerifier>>,
}

impl HttpConfig {
    /// The keys the configuration names for `project` (none when it names none).
    pub fn project_keys(&self, project: &str) -> Vec<NoteVerifier> {
        self.project_keys.get(project).cloned().unwrap_or_default()
    }
}

impl Default for HttpConfig {
    /// Anyone may submit, 64 KiB bodies, checkpoints cached 2 s, unhealthy after 10 s stuck,
    /// blobs up to 16 MiB, 8 uploads at once, 4 GiB per key; signatures verified on as many
    /// threads as there are CPUs.
    fn default() -> Self {
        Self {
            allow_keys: None,
            max_entry_bytes: 65_536,
            checkpoint_max_age_secs: 2,
            health_max_staleness: Duration::from_secs(10),
            max_blob_bytes: 16 << 20,
            max_blob_uploads: 8,
            max_blob_bytes_per_key: 4 << 30,
            verify_concurrency: 0,
            max_artifact_bytes: 8 << 30,
            project_keys: std::collections::BTreeMap::new(),
        }
    }
}

/// The most submissions waiting for a verification slot; past it, 503 at once.
const VERIFY_QUEUE: usize = 1024;

/// What every handler shares.
#[derive(Debug, Clone)]
struct AppState {
    ledger: Arc<Ledger>,
    sequencer: Arc<Sequencer>,
    config: Arc<HttpConfig>,
    metrics: Arc<Metrics>,
    in_flight: Arc<InFlight>,
    /// Signers' keys, parsed once: decompressing an Ed25519 key costs a third of verifying.
    keys: Arc<reprove_verifier::signed::KeyCache>,
    /// Submissions being verified (on the blocking pool), and those allowed to wait for it.
    verify_slots: Arc<tokio::sync::Semaphore>,
    verify_queue: Arc<tokio::sync::Semaphore>,
    /// Blob uploads in progress.
    blob_slots: Arc<tokio::sync::Semaphore>,
    /// Blob bytes per key.
    quotas: Arc<blobs::Quotas>,
    /// Held while a set changes (plan, a file recorded, an entry posted), so two changes of
    /// a set never interleave between their checks and their writes.
    set_lock: Arc<tokio::sync::Mutex<()>>,
}

impl AppState {
    /// The effective body limit: the configured one, capped by the entry bundle format.
    fn body_limit(&self) -> usize {
        self.config.max_entry_bytes.min(MAX_ENTRY_SIZE)
    }
}

/// The lookups under `prefix` (`/lookup`: pages of hints; `/proven`: whole lists with their
/// proofs), one handler per kind of key for both.
fn lookup_routes(mode: Mode, prefix: &str) -> Router<AppState> {
    macro_rules! with_mode {
        ($handler:path) => {
            get(
                move |State(state): State<AppState>, path, RawQuery(query): RawQuery| {
                    $handler(mode, state, path, query)
                },
            )
        };
    }
    Router::new()
        .route(
            &format!("{prefix}/sha256/{{digest}}"),
            with_mode!(lookup::by_sha256),
        )
        .route(
            &format!("{prefix}/key/{{*key}}"),
            with_mode!(lookup::by_key),
        )
        .route(
            &format!("{prefix}/release/{{name}}/{{version}}"),
            with_mode!(lookup::by_release),
        )
        .route(
            &format!("{prefix}/project/{{name}}"),
            with_mode!(lookup::by_project),
        )
        .route(
            &format!("{prefix}/staged/{{name}}"),
            with_mode!(lookup::by_staged),
        )
        .route(
            &format!("{prefix}/revocations/{{*key}}"),
            with_mode!(lookup::revocations_of),
        )
}

/// The API over a ledger and its running sequencer (see the module docs for the endpoints).
pub fn router(ledger: Arc<Ledger>, sequencer: Arc<Sequencer>, config: HttpConfig) -> Router {
    let metrics = Arc::new(Metrics::new(ledger.head().size()));
    let verifiers = match config.verify_concurrency {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let state = AppState {
        verify_slots: Arc::new(tokio::sync::Semaphore::new(verifiers)),
        verify_queue: Arc::new(tokio::sync::Semaphore::new(VERIFY_QUEUE)),
        blob_slots: Arc::new(tokio::sync::Semaphore::new(config.max_blob_uploads.max(1))),
        quotas: Arc::new(blobs::Quotas::new(
            ledger.path(),
            config.max_blob_bytes_per_key,
        )),
        set_lock: Arc::new(tokio::sync::Mutex::new(())),
        ledger,
        sequencer,
        config: Arc::new(config),
        metrics,
        in_flight: Arc::new(InFlight::default()),
        keys: Arc::new(reprove_verifier::signed::KeyCache::default()),
    };
    // One byte more than the limit is enough to tell "too large" apart.
    let body_limit = state.body_limit().saturating_add(1);
    let (pages, site) = crate::web::routes(state.ledger.clone());
    Router::new()
        .route("/checkpoint", get(tiles::checkpoint))
        .route("/tile/{*path}", get(tiles::tile))
        // The raw-envelope API, and the entry's web page for browsers (`web.rs`).
        .route(
            "/entry/{index}",
            get(tiles::entry).layer(middleware::from_fn_with_state(
                site,
                crate::web::entry_negotiation,
            )),
        )
        .merge(pages)
        .route("/add", post(add::add))
        .route("/lookup/revocations", get(lookup::revocations))
        .route("/index-note", get(lookup::index_note))
        .merge(lookup_routes(Mode::Page, "/lookup"))
        .merge(lookup_routes(Mode::Proven, "/proven"))
        .route("/blobs/sha256/{digest}", put(blobs::put).get(blobs::get))
        .route("/sets", post(sets::plan))
        .route("/sets/{id}", get(sets::show))
        .route("/sets/{id}/entries", post(sets::post_entry))
        .route(
            "/sets/{id}/{file}",
            put(sets::upload).get(sets::get_set_file),
        )
        .route("/dl/{name}/{version}/{file}", get(sets::download))
        .route("/latest/{name}", get(sets::latest))
        .route("/proof/{index}", get(proofs::inclusion))
        .route("/consistency", get(proofs::consistency))
        .route("/health", get(ops::health))
        .route("/metrics", get(ops::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting
/// connections and waits for the requests in progress (a submission waits for its round).
///
/// It does not stop the sequencer: after it returns, call [`Sequencer::shutdown`] so that
/// every accepted submission is answered and the writer ends cleanly.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Answers are small and latency matters more than packet count: no Nagle delays.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Counts every answered request by route template and status, and logs it (debug).
async fn count_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    tracing::debug!(%method, route, status, micros = started.elapsed().as_micros() as u64, "request");
    state.metrics.http_request(route, status);
    response
}

/// Runs a read of the ledger on the blocking pool: RocksDB reads block, briefly, and a bundle
/// can be megabytes.
async fn blocking<T, E>(
    ledger: &Arc<Ledger>,
    read: impl FnOnce(&Ledger) -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    let ledger = ledger.clone();
    match tokio::task::spawn_blocking(move || read(&ledger)).await {
        Ok(result) => result.map_err(Into::into),
        Err(e) => Err(ApiError::internal(&format!("a blocking read failed: {e}"))),
    }
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "no such endpoint: {method} {}",
        params::clip(uri.path())
    ))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::method_not_allowed(format!(
        "{method} is not allowed on {}",
        params::clip(uri.path())
    ))
}
