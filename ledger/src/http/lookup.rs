//! `GET /lookup/...`: the indices of the entries recorded under an artifact digest, a signer
//! key, a release or a revoked key, one page at a time.
//!
//! Query: `after=<index>` (exclusive cursor, in the page's direction), `limit=<1..>` (capped
//! at [`MAX_PAGE`]), `order=asc` (oldest first, the default) or `order=desc`. Answer:
//! `{"indices": [...], "next": <the after of the next page, or null>}`.
//!
//! `signer=<vkey>` (as it is or hex-encoded; a key ID is refused: four bytes can be ground
//! out) scopes an artifact, release or revoked-key lookup to the entries that key signed —
//! its signature verified when the entry was logged — so strangers' entries cannot crowd a
//! publisher's, an operator's or a key owner's out of the answer. A revoked key is then named
//! by its vkey too. Other lookups with `signer` are 400.
//!
//! Keys are named by their c2sp key ID (8 lowercase hex digits, e.g. `/lookup/key/530d903a`),
//! or by their note verifier key string (vkey), as it appears in DSSE `keyid`s: either as it is
//! (percent-encoded where needed; `/` may stay, it is in the wildcard) or hex-encoded, which
//! never looks like a vkey (a vkey always holds a `+`). A key ID is only 4 bytes, so keys of
//! different names can share one: clients verify every entry they are given.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use reprove_verifier::note::NoteVerifier;
use reprove_verifier::vindex::{ProvenAnswer, WireProof};
use serde::Serialize;

use super::error::ApiError;
use super::params::{Query, Values};
use super::{AppState, blocking, params};
use crate::error::{Error, Integrity};
use crate::index::{Direction, IndexKey, MAX_PAGE, PageRequest};

/// One page of a lookup.
#[derive(Debug, Serialize)]
struct PageBody {
    indices: Vec<u64>,
    next: Option<u64>,
}

/// Which answer a lookup gives: one page of hints, or the whole list with its proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// `GET /lookup/…`: one page of indices.
    Page,
    /// `GET /proven/…`: every index under the key and the proof under the index note.
    Proven,
}

/// `GET /lookup/sha256/<64 hex>` and `GET /proven/sha256/<64 hex>`.
pub(super) async fn by_sha256(
    mode: Mode,
    state: AppState,
    digest: Result<Path<String>, PathRejection>,
    query: Option<String>,
) -> Result<Response, ApiError> {
    let digest = params::path(digest)?;
    let Some(bytes) = params::sha256_hex(&digest) else {
        return Err(ApiError::bad_request(format!(
            "{:?} is not a sha256 digest (64 hex characters)",
            params::clip(&digest)
        )));
    };
    answer(mode, &state, IndexKey::Artifact(bytes), query.as_deref()).await
}

/// `GET /lookup/key/<keyid or vkey>` and `GET /proven/key/<vkey>`.
pub(super) async fn by_key(
    mode: Mode,
    state: AppState,
    key: Result<Path<String>, PathRejection>,
    query: Option<String>,
) -> Result<Response, ApiError> {
    let key = vkey(&params::path(key)?)?;
    answer(mode, &state, IndexKey::Signer(key), query.as_deref()).await
}

/// `GET /lookup/release/<name>/<version>` and `GET /proven/release/<name>/<version>`.
pub(super) async fn by_release(
    mode: Mode,
    state: AppState,
    release: Result<Path<(String, String)>, PathRejection>,
    query: Option<String>,
) -> Result<Response, ApiError> {
    let (name, version) = params::path(release)?;
    answer(
        mode,
        &state,
        IndexKey::Release { name, version },
        query.as_deref(),
    )
    .await
}

/// `GET /lookup/staged/<name>` and `GET /proven/staged/<name>`: a project's announcements,
/// withdrawals and yanks.
pub(super) async fn by_staged(
    mode: Mode,
    state: AppState,
    name: Result<Path<String>, PathRejection>,
    query: Option<String>,
) -> Result<Response, ApiError> {
    let name = params::path(name)?;
    answer(mode, &state, IndexKey::Staged(name), query.as_deref()).await
}

/// `GET /lookup/project/<name>` and `GET /proven/project/<name>`: a project's release
/// manifests.
pub(super) async fn by_project(
    mode: Mode,
    state: AppState,
    name: Result<Path<String>, PathRejection>,
    query: Option<String>,
) -> Result<Response, ApiError> {
    let name = params::path(name)?;
    answer(mode, &state, IndexKey::Project(name), query.as_deref()).await
}

/// `GET /lookup/revocations`: every revocation notice.
pub(super) async fn revocations(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    answer(Mode::Page, &state, IndexKey::Revocations, query.as_deref()).await
}

/// `GET /lookup/revocations/<keyid or vkey>` and `GET /proven/revocations/<vkey>`: the
/// revocation notices of one key.
pub(super) async fn revocations_of(
    mode: Mode,
    state: AppState,
    key: Result<Path<String>, PathRejection>,
    query: Option<String>,
) -> Result<Response, ApiError> {
    let key = vkey(&params::path(key)?)?;
    answer(mode, &state, IndexKey::RevokedKey(key), query.as_deref()).await
}

/// `GET /index-note`: the latest signed index note.
pub(super) async fn index_note(State(state): State<AppState>) -> Result<Response, ApiError> {
    let note = blocking(&state.ledger, |l| l.index_note()).await?;
    Ok((
        [
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
        ],
        note,
    )
        .into_response())
}

/// A key named in a path: an 8-hex key ID as it is, or a vkey (plain or hex-encoded) in its one
/// canonical spelling.
fn vkey(given: &str) -> Result<String, ApiError> {
    if given.len() == 8
        && given
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Ok(given.to_owned());
    }
    NoteVerifier::parse(&params::vkey_text(given))
        .map(|k| k.to_string())
        .map_err(|e| {
            ApiError::bad_request(format!(
                "{:?} is not a key ID (8 lowercase hex) or a note verifier key (<name>+<hex key ID>+<base64 key>, as it is \
                 or hex-encoded): {e}",
                params::clip(given)
            ))
        })
}

/// Answers a lookup: one page, or the proven list.
async fn answer(
    mode: Mode,
    state: &AppState,
    key: IndexKey,
    query: Option<&str>,
) -> Result<Response, ApiError> {
    let (page, signer) = match mode {
        Mode::Page => page_request(query)?,
        Mode::Proven => {
            let q = Query::parse(query, &["signer"], Values::Raw)?;
            (PageRequest::default(), q.get("signer").map(str::to_owned))
        }
    };
    let key = match signer {
        None => key,
        Some(signer) => scoped(&signer, key)?,
    };
    key.check()?;
    // A new entry can join any lookup: do not cache.
    let no_cache = [(CACHE_CONTROL, HeaderValue::from_static("no-cache"))];
    match mode {
        Mode::Page => {
            let page = blocking(&state.ledger, move |l| l.lookup(&key, page)).await?;
            let body = PageBody {
                indices: page.indices,
                next: page.next,
            };
            Ok((no_cache, Json(body)).into_response())
        }
        Mode::Proven => {
            let proven = blocking(&state.ledger, move |l| l.prove_lookup(&key)).await?;
            let body = ProvenAnswer {
                note: String::from_utf8(proven.note)
                    .map_err(|_| Error::Integrity(Integrity::Undecodable("vindex")))?,
                indices: proven.indices,
                proof: WireProof::from(&proven.proof),
            };
            Ok((no_cache, Json(body)).into_response())
        }
    }
}

/// `key` scoped to the entries `signer` (a vkey, plain or hex) signed.
fn scoped(signer: &str, key: IndexKey) -> Result<IndexKey, ApiError> {
    let signer = vkey(signer)?;
    if !signer.contains('+') {
        return Err(ApiError::bad_request(
            "signer must be a note verifier key (as it is or hex-encoded), not a key ID: four \
             bytes can be ground out by anyone",
        ));
    }
    if let IndexKey::RevokedKey(k) = &key
        && !k.contains('+')
    {
        return Err(ApiError::bad_request(
            "with signer=, name the revoked key by its note verifier key, not its key ID",
        ));
    }
    IndexKey::signed_by(&signer, key).ok_or_else(|| {
        ApiError::bad_request(
            "signer= scopes artifact, release, project, staged and revoked-key lookups only",
        )
    })
}

/// The page a query string asks for, and the signer it is scoped to.
fn page_request(query: Option<&str>) -> Result<(PageRequest, Option<String>), ApiError> {
    let q = Query::parse(query, &["after", "limit", "order", "signer"], Values::Raw)?;
    let signer = q.get("signer").map(str::to_owned);
    let mut page = PageRequest {
        cursor: q.number("after")?,
        ..PageRequest::default()
    };
    if let Some(limit) = q.number("limit")? {
        if limit == 0 {
            return Err(ApiError::bad_request("limit must be at least 1"));
        }
        page.limit = usize::try_from(limit).unwrap_or(MAX_PAGE).min(MAX_PAGE);
    }
    page.direction = match q.get("order") {
        None | Some("asc") => Direction::Forward,
        Some("desc") => Direction::Backward,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "order {:?} is neither asc nor desc",
                params::clip(other)
            )));
        }
    };
    Ok((page, signer))
}

#[cfg(test)]
mod tests {
    use reprove_verifier::note::NoteSigner;

    use super::*;

    #[test]
    fn keys_are_named_as_they_are_or_in_hex() {
        let key = NoteSigner::from_seed("example.com/rebuilder", &[1; 32])
            .unwrap()
            .verifier()
            .to_string();
        assert_eq!(vkey(&key).unwrap(), key);
        assert_eq!(vkey(&hex::encode(&key)).unwrap(), key);
        assert_eq!(vkey(&hex::encode(&key).to_uppercase()).unwrap(), key);
        for bad in ["", "abc", "00", "a+b+c", &key[..key.len() - 1]] {
            assert!(vkey(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn pages_are_bounded_and_strict() {
        let (p, signer) = page_request(Some("after=5&limit=100000&order=desc")).unwrap();
        assert_eq!(signer, None);
        assert_eq!(p.cursor, Some(5));
        assert_eq!(p.limit, MAX_PAGE);
        assert_eq!(p.direction, Direction::Backward);
        assert_eq!(page_request(None).unwrap(), (PageRequest::default(), None));
        for bad in [
            "limit=0", "after=-1", "after=01", "limit=x", "order=up", "page=2",
        ] {
            assert!(page_request(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn scoping_to_a_signer_takes_a_whole_key_and_a_scopable_lookup() {
        let key = NoteSigner::from_seed("example.com/rebuilder", &[1; 32])
            .unwrap()
            .verifier();
        let vkey = key.to_string();
        let id = format!("{:08x}", key.key_id());
        let scoped_key = scoped(&hex::encode(&vkey), IndexKey::Artifact([1; 32])).unwrap();
        assert_eq!(
            scoped_key,
            IndexKey::signed_by(&vkey, IndexKey::Artifact([1; 32])).unwrap()
        );
        assert!(scoped(&id, IndexKey::Artifact([1; 32])).is_err());
        assert!(scoped(&vkey, IndexKey::Signer(vkey.clone())).is_err());
        assert!(scoped(&vkey, IndexKey::RevokedKey(id)).is_err());
        assert!(scoped(&vkey, IndexKey::RevokedKey(vkey.clone())).is_ok());
        assert!(scoped("nonsense", IndexKey::Artifact([1; 32])).is_err());
    }
}
