//! `GET /proof/<index>[?size=N]` and `GET /consistency?old=A[&new=B]`.
//!
//! Proofs for a given tree size never change, so those are cached as immutable; the ones
//! against the current tree (no size given) are not cached.
//!
//! - `/proof`: the c2sp tlog-proof of entry `index` against the checkpoint the log signed for
//!   tree `size` (default: the latest). A size larger than the log, or one no round ended at,
//!   is 404; an index outside the tree is 400.
//! - `/consistency`: the RFC 9162 consistency proof from tree `old` to tree `new` (default:
//!   the latest), one base64 hash per line. `old > new` is 400; `new` larger than the log is
//!   404. Any sizes up to the log's work, signed or not.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::error::ApiError;
use super::params::{Query, Values};
use super::tiles::IMMUTABLE;
use super::{AppState, blocking, params};
use crate::error::Error;

/// `GET /proof/<index>[?size=N]`.
pub(super) async fn inclusion(
    State(state): State<AppState>,
    index: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let index = params::number("entry index", &params::path(index)?)?;
    let size = Query::parse(query.as_deref(), &["size"], Values::Raw)?.number("size")?;
    if let Some(size) = size {
        check_size(&state, size)?;
    }
    let proof = blocking(&state.ledger, move |l| {
        l.prove(index, size)?.tlog_proof(None).map(|p| p.encode())
    })
    .await?;
    Ok(text(proof, size.is_some()))
}

/// `GET /consistency?old=A[&new=B]`.
pub(super) async fn consistency(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(query.as_deref(), &["old", "new"], Values::Raw)?;
    let old = q
        .number("old")?
        .ok_or_else(|| ApiError::bad_request("the query needs old=<tree size>"))?;
    let new = q.number("new")?;
    let second = new.unwrap_or_else(|| state.ledger.head().size());
    check_size(&state, second)?;
    if old > second {
        return Err(Error::SizeDecreased { first: old, second }.into());
    }
    let hashes = blocking(&state.ledger, move |l| l.consistency_proof(old, second)).await?;
    let mut body = String::with_capacity(hashes.len() * 45);
    for hash in &hashes {
        body.push_str(&STANDARD.encode(hash));
        body.push('\n');
    }
    Ok(text(body.into_bytes(), new.is_some()))
}

/// A tree larger than the log is one it does not have (yet): 404.
fn check_size(state: &AppState, size: u64) -> Result<(), ApiError> {
    let current = state.ledger.head().size();
    if size > current {
        return Err(Error::SizeOutOfRange { size, current }.into());
    }
    Ok(())
}

fn text(body: Vec<u8>, fixed: bool) -> Response {
    let cache = if fixed { IMMUTABLE } else { "no-cache" };
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        body,
    )
        .into_response()
}
