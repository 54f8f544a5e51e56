//! The c2sp tlog-tiles read API — `/checkpoint`, `/tile/<L>/<N>[.p/<W>]`,
//! `/tile/entries/<N>[.p/<W>]` — and `/entry/<index>`.
//!
//! Full tiles, full bundles and entries never change, so they are cached for a year as
//! `immutable`. A partial tile is the prefix of a stored tile, so its bytes never change
//! either, but a mirror may replace it by the full one: it is cached briefly. Bundles are
//! gzip-compressed when the client accepts it (`Vary: Accept-Encoding` either way).

use std::io::Write;

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, VARY};
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use flate2::Compression;
use flate2::write::GzEncoder;
use reprove_verifier::tiles::{TileError, TilePath, parse_path};

use super::error::ApiError;
use super::{AppState, blocking, params};

/// `Cache-Control` of what never changes.
pub(super) const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `Cache-Control` of partial tiles and bundles.
const PARTIAL: &str = "public, max-age=60";

/// `GET /checkpoint`: the latest signed checkpoint.
pub(super) async fn checkpoint(State(state): State<AppState>) -> Response {
    let note = Bytes::copy_from_slice(state.ledger.head().note());
    let max_age = state.config.checkpoint_max_age_secs;
    let cache = if max_age == 0 {
        HeaderValue::from_static("no-cache")
    } else {
        HeaderValue::from_str(&format!("public, max-age={max_age}"))
            .unwrap_or(HeaderValue::from_static("no-cache"))
    };
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (CACHE_CONTROL, cache),
        ],
        note,
    )
        .into_response()
}

/// `GET /tile/...`: a hash tile or an entry bundle, addressed exactly as c2sp tlog-tiles says.
///
/// The path is parsed as received, before any percent-decoding, so `%2e%2e` and other
/// non-canonical spellings are refused like any malformed path.
pub(super) async fn tile(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let path = uri.path().strip_prefix('/').unwrap_or(uri.path());
    let parsed = parse_path(path).map_err(|e| match e {
        TileError::InvalidPath { reason, .. } => ApiError::bad_request(format!(
            "invalid tile path {:?}: {reason}; expected tile/<L>/<N>[.p/<W>] or \
             tile/entries/<N>[.p/<W>] (c2sp.org/tlog-tiles)",
            params::clip(path)
        )),
        e => ApiError::bad_request(e.to_string()),
    })?;
    match parsed {
        TilePath::Hashes(id) => {
            let bytes = blocking(&state.ledger, move |l| l.tile(id)).await?;
            Ok(octets(bytes, id.is_full(), None))
        }
        TilePath::Entries(id) => {
            let gzip = params::accepts_gzip(&headers);
            let bytes = blocking(&state.ledger, move |l| {
                let bundle = l.bundle(id)?;
                if gzip { compress(&bundle) } else { Ok(bundle) }
            })
            .await?;
            Ok(octets(bytes, id.is_full(), Some(gzip)))
        }
    }
}

/// `GET /entry/<index>`: the entry's bytes, the DSSE envelope exactly as submitted.
pub(super) async fn entry(
    State(state): State<AppState>,
    index: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let index = params::number("entry index", &params::path(index)?)?;
    let bytes = blocking(&state.ledger, move |l| l.entry(index)).await?;
    Ok((
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)),
        ],
        bytes,
    )
        .into_response())
}

/// An `application/octet-stream` answer; `gzip` is `Some` for bundles (whether compressed).
fn octets(bytes: Vec<u8>, full: bool, gzip: Option<bool>) -> Response {
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    let cache = if full { IMMUTABLE } else { PARTIAL };
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Some(gzip) = gzip {
        headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
        if gzip {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
    }
    response
}

fn compress(bytes: &[u8]) -> Result<Vec<u8>, ApiError> {
    let mut gz = GzEncoder::new(Vec::with_capacity(bytes.len() / 2), Compression::fast());
    gz.write_all(bytes)
        .and_then(|()| gz.finish())
        .map_err(|e| ApiError::internal(&format!("gzip: {e}")))
}
