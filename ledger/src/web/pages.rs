//! The page handlers: each reads its views from the [`Site`] (on the blocking pool) and
//! answers them as HTML or as their JSON twin.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST, LOCATION};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use reprove_verifier::note::NoteVerifier;
use reprove_verifier::staging::ProjectState;

use super::answers::{add_excerpts, verify_command};
use super::html::{Html, html, segment};
use super::model::{ReleaseView, Revocations, SignerView, Site};
use super::views::{
    ArtifactPage, BlobPage, EntryPage, EntrySummary, HomePage, KeyIdPage, KeyPage, RebuilderPage,
    RebuilderRow, RebuildersPage, ReleasePage, ReleaseWithRebuilds, ReleasesPage, RevocationsPage,
    Tally,
};
use super::{Format, Page, Query, WebError, clip, number, page_query, run};
use crate::index::IndexKey;

/// How many rows a list page shows.
const PAGE_ROWS: usize = 50;

/// How many keys `/rebuilders` lists: each row weighs the key's agreement, as its own page
/// does (its latest attestations against the others of the same releases).
const REBUILDER_ROWS: usize = 20;

/// How many rows each list of the home page shows.
const HOME_ROWS: usize = 10;

/// The most of a blob a page shows as text.
const BLOB_TEXT_BYTES: usize = 1 << 20;

/// The query and the format of a request, or the answer refusing them.
fn prelude(
    site: &Site,
    query: Option<&str>,
    headers: &HeaderMap,
    allowed: &[&str],
) -> Result<(Query, Format), Box<Response>> {
    let fallback = if super::accepts_html(headers) {
        Format::Html
    } else {
        Format::Json
    };
    let q = page_query(query, allowed).map_err(|e| Box::new(e.respond(fallback, site)))?;
    let format = Format::of(&q, headers).map_err(|e| Box::new(e.respond(fallback, site)))?;
    Ok((q, format))
}

/// What every page handler starts from: the site, the raw query and the headers.
pub(super) struct PageRequest {
    site: Arc<Site>,
    query: Option<String>,
    headers: HeaderMap,
}

impl FromRequestParts<Arc<Site>> for PageRequest {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        site: &Arc<Site>,
    ) -> Result<PageRequest, Infallible> {
        Ok(PageRequest {
            site: site.clone(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts.headers.clone(),
        })
    }
}

/// The URL a request reached this log at, from its `Host` (and a proxy's
/// `X-Forwarded-Proto: https`), when the host is a plain `name[:port]` or `[v6][:port]`;
/// `None` when absent or anything else. Not trust-bearing: `reprove verify` checks the log's
/// key from its policy whatever URL it fetches from.
fn ledger_url(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(HOST)?.to_str().ok()?;
    let plain = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if !plain {
        return None;
    }
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let scheme = if https { "https" } else { "http" };
    Some(format!("{scheme}://{}", host.to_ascii_lowercase()))
}

impl PageRequest {
    /// The page `build` makes from the query (which may name only `allowed`), read on the
    /// blocking pool and answered in the format asked for; a refusal in that format too.
    async fn page(
        self,
        allowed: &[&str],
        build: impl FnOnce(&Site, &Query) -> Result<Page, WebError> + Send + 'static,
    ) -> Response {
        match prelude(&self.site, self.query.as_deref(), &self.headers, allowed) {
            Ok((q, format)) => run(self.site, format, move |site| build(site, &q)).await,
            Err(refused) => *refused,
        }
    }
}

/// A hex SHA-256 from a path, lowercase.
fn sha256_param(s: &str) -> Result<[u8; 32], WebError> {
    crate::http::params::sha256_hex(s).ok_or_else(|| {
        WebError::bad_request(format!(
            "{:?} is not a sha256 digest (64 hex characters)",
            clip(s)
        ))
    })
}

fn today() -> u32 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    u32::try_from(secs / 86_400).unwrap_or(u32::MAX)
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `GET /`.
pub(super) async fn home(req: PageRequest) -> Response {
    let today = today();
    req.page(&["format"], move |site, _| {
        let head = site.ledger.head();
        let (release_indices, _) = site.page(&IndexKey::Releases, None, HOME_ROWS)?;
        let (releases, _) = release_views(site, &release_indices, false)?;
        let (mismatch_indices, _) = site.page(&IndexKey::Mismatches, None, HOME_ROWS)?;
        let mut revoked = Revocations::default();
        let mut mismatches = Vec::new();
        for i in mismatch_indices {
            if let Some(a) = site.attestation(&*site.decoded(i)?, &mut revoked)? {
                mismatches.push(a);
            }
        }
        let (revocation_indices, _) = site.page(&IndexKey::Revocations, None, HOME_ROWS)?;
        let revocations: Vec<_> = revocation_indices
            .iter()
            .map(|&i| Ok(site.revocation(&*site.decoded(i)?)))
            .collect::<Result<Vec<_>, WebError>>()?
            .into_iter()
            .flatten()
            .collect();
        let head_root = head.root();
        Ok(Page::of(&HomePage {
            origin: site.ledger.origin().to_owned(),
            log_key: site.ledger.key().to_string(),
            tree_size: head.size(),
            root_hash: head_root,
            checkpoint: String::from_utf8_lossy(head.note()).into_owned(),
            attestations_per_day: site.per_day(today, 14)?,
            latest_releases: releases,
            latest_mismatches: mismatches,
            latest_revocations: revocations,
        }))
    })
    .await
}

/// The releases at `indices` as a list shows them, and how many it leaves out. A staged
/// version (its publisher planned it through this ledger's sets) is listed once announced —
/// marked when yanked since — and left out before that, when withdrawn, or when the manifest
/// under its name is not the one the project's keys released, unless `all` asks for every
/// one. Releases logged without a set are listed as always. Nothing is hidden from the log:
/// the release's own page, the entry and the lookups show every one.
fn release_views(
    site: &Site,
    indices: &[u64],
    all: bool,
) -> Result<(Vec<ReleaseView>, usize), WebError> {
    let mut states: HashMap<String, ProjectState> = HashMap::new();
    let mut out = Vec::new();
    let mut hidden = 0;
    for &i in indices {
        let Some((mut r, _)) = site.release(i)? else {
            continue;
        };
        let staged = site
            .ledger
            .set(&crate::sets::set_id(&r.project, &r.version))?
            .is_some();
        if staged {
            if !states.contains_key(&r.project) {
                let owners = site.ledger.owners(&r.project, &[])?;
                let state = site.ledger.project_state(&r.project, &owners)?;
                states.insert(r.project.clone(), state);
            }
            let state = &states[&r.project];
            let stage = match state.version(&r.version) {
                Some(v) if v.release_index == r.index => state.stage(&r.version),
                _ => "not the project's",
            };
            r.stage = Some(stage);
            if !all && !matches!(stage, "announced" | "yanked") {
                hidden += 1;
                continue;
            }
        }
        out.push(r);
    }
    Ok((out, hidden))
}

/// `GET /releases[?project=<name>][&after=<index>][&all=1]`.
pub(super) async fn releases(req: PageRequest) -> Response {
    req.page(&["format", "after", "project", "all"], move |site, q| {
        let after = q.number("after")?;
        let all = match q.get("all") {
            None | Some("0") => false,
            Some("1") => true,
            Some(_) => return Err(WebError::bad_request("all is 0 or 1")),
        };
        let project = q.get("project").map(str::to_owned);
        let key = match &project {
            Some(p) => IndexKey::Project(p.clone()),
            None => IndexKey::Releases,
        };
        key.check()?;
        let (indices, next) = site.page(&key, after, PAGE_ROWS)?;
        let (list, hidden) = release_views(site, &indices, all)?;
        if list.is_empty()
            && hidden == 0
            && after.is_none()
            && let Some(p) = &project
        {
            return Err(WebError::not_found(format!(
                "no release of a project named {:?} is in this log",
                clip(p)
            )));
        }
        Ok(Page::of(&ReleasesPage {
            project,
            statuses: Tally::of(&list),
            releases: list,
            next,
            all,
            hidden,
        }))
    })
    .await
}

/// `GET /release/<name>/<version>`.
pub(super) async fn release(
    req: PageRequest,
    Path((name, version)): Path<(String, String)>,
) -> Response {
    let url = ledger_url(&req.headers);
    req.page(&["format"], move |site, _| {
        let key = IndexKey::Release {
            name: name.clone(),
            version: version.clone(),
        };
        key.check()?;
        // Release manifests come before their attestations: the first page holds them.
        let page = site.ledger.lookup(
            &key,
            crate::index::PageRequest {
                cursor: None,
                limit: super::model::MAX_ATTESTATIONS,
                direction: crate::index::Direction::Forward,
            },
        )?;
        let mut releases = Vec::new();
        let mut excerpts = 0;
        for i in page.indices {
            if let Some((release, mut attestations)) = site.release(i)?
                && release.project == name
                && release.version == version
            {
                add_excerpts(site, &mut attestations, &mut excerpts)?;
                releases.push(ReleaseWithRebuilds {
                    verify_command: verify_command(&release, url.as_deref()),
                    ledger_url: url.clone(),
                    release,
                    attestations,
                });
            }
        }
        let staged = staged_view(site, &name, &version)?;
        if releases.is_empty() && staged.is_none() {
            return Err(WebError::not_found(format!(
                "no release {:?} version {:?} is in this log",
                clip(&name),
                clip(&version)
            )));
        }
        Ok(Page::of(&ReleasePage {
            name,
            version,
            releases,
            staged,
        }))
    })
    .await
}

/// The staged release of `name`@`version` on this ledger, when it has a set.
fn staged_view(
    site: &Site,
    name: &str,
    version: &str,
) -> Result<Option<super::views::StagedView>, WebError> {
    let Some(set) = site.ledger.set(&crate::sets::set_id(name, version))? else {
        return Ok(None);
    };
    let owners = site.ledger.owners(name, &[])?;
    let project = site.ledger.project_state(name, &owners)?;
    let v = project.version(version).cloned();
    let withdrawn = project.withdrawal(version).cloned();
    let state = project.stage(version);
    Ok(Some(super::views::StagedView {
        set_url: format!("/sets/{}/", set.id),
        set_id: set.id,
        state,
        files: set
            .files
            .into_iter()
            .map(|(name, f)| super::views::StagedFile {
                name,
                sha256: f.sha256,
                size: f.size,
            })
            .collect(),
        version: v,
        withdrawn,
        latest: project.latest().map(|l| l.version.clone()),
    }))
}

/// `GET /artifact/sha256/<hex>`.
pub(super) async fn artifact(req: PageRequest, Path(digest): Path<String>) -> Response {
    req.page(&["format", "after"], move |site, q| {
        let after = q.number("after")?;
        let bytes = sha256_param(&digest)?;
        let hex = hex::encode(bytes);
        let (indices, next) = site.page(&IndexKey::Artifact(bytes), after, PAGE_ROWS)?;
        if indices.is_empty() && after.is_none() {
            return Err(WebError::not_found(format!(
                "no entry of this log names the sha256 {hex}"
            )));
        }
        let entries = indices
            .into_iter()
            .map(|i| EntrySummary::read(site, &*site.decoded(i)?))
            .collect::<Result<Vec<_>, WebError>>()?;
        Ok(Page::of(&ArtifactPage {
            sha256: hex,
            entries,
            next,
        }))
    })
    .await
}

/// The entry page (called by the `/entry/<index>` negotiation).
pub(super) async fn entry(site: Arc<Site>, index: String, format: Format) -> Response {
    run(site, format, move |site| {
        let index = number("entry index", &index)?;
        Ok(Page::of(&EntryPage::read(site, &*site.decoded(index)?)?))
    })
    .await
}

/// `GET /rebuilders[?after=<vkey>]`.
pub(super) async fn rebuilders(req: PageRequest) -> Response {
    req.page(&["format", "after"], move |site, q| {
        let after = q.get("after").map(str::to_owned);
        let (keys, more) = site.rebuilder_keys(after.as_deref(), REBUILDER_ROWS)?;
        let mut rebuilders = Vec::new();
        for k in &keys {
            let Ok(v) = NoteVerifier::parse(k) else {
                continue;
            };
            let record = site.rebuilder(&v)?;
            rebuilders.push(RebuilderRow {
                key: record.key,
                attestations: record.attestations,
                revoked: record.revoked,
                compared: record.compared,
                agreed: record.agreed,
                agreement_percent: record.agreement_percent,
            });
        }
        let next = if more { keys.last().cloned() } else { None };
        Ok(Page::of(&RebuildersPage { rebuilders, next }))
    })
    .await
}

/// `GET /rebuilder/<key ID, vkey or hex vkey>`.
pub(super) async fn rebuilder(req: PageRequest, Path(key): Path<String>) -> Response {
    req.page(&["format"], move |site, _| {
        let vkey = match key_param(
            &key,
            (
                "/rebuilder",
                "no rebuild attestation in this log is signed by",
            ),
            |id| site.rebuilders_with_id(id),
        )? {
            Ok(vkey) => vkey,
            Err(several) => return Ok(several),
        };
        let verifier = NoteVerifier::parse(&vkey)
            .map_err(|_| WebError::internal("a stored rebuilder key does not parse"))?;
        let rebuilder = site.rebuilder(&verifier)?;
        if rebuilder.attestations.count == 0 {
            return Err(WebError::not_found(format!(
                "no rebuild attestation in this log is signed by {}",
                clip(&vkey)
            )));
        }
        let (latest, _) = site.page(&IndexKey::Rebuilder(vkey.clone()), None, 20)?;
        let mut revoked = Revocations::default();
        let mut latest_attestations = Vec::new();
        for i in latest {
            if let Some(a) = site.attestation(&*site.decoded(i)?, &mut revoked)? {
                latest_attestations.push(a);
            }
        }
        Ok(Page::of(&RebuilderPage {
            rebuilder,
            latest_attestations,
        }))
    })
    .await
}

/// The key a path names (a vkey as it is or hex-encoded, or a key ID that `with_id` resolves
/// among the keys the page is about): `Ok` with the vkey in its one spelling, or `Err` with
/// the page listing the keys that share an ID; a 404 when no key has it, a 400 for anything
/// else. `base` is the path the listed keys link to, `none` the 404's words before "a key
/// with ID …".
fn key_param(
    key: &str,
    (base, none): (&'static str, &str),
    with_id: impl FnOnce(&str) -> Result<Vec<String>, crate::error::Error>,
) -> Result<Result<String, Page>, WebError> {
    let key = key.strip_prefix('/').unwrap_or(key);
    if !is_key_id(key) {
        return vkey_param(key).map(Ok);
    }
    let mut found = with_id(key)?;
    match found.len() {
        0 => Err(WebError::not_found(format!("{none} a key with ID {key}"))),
        1 => Ok(Ok(found.remove(0))),
        _ => Ok(Err(Page::of(&KeyIdPage {
            key_id: key.to_owned(),
            keys: found,
            base,
        }))),
    }
}

/// Whether a path names a key by its ID (8 lowercase hex).
fn is_key_id(key: &str) -> bool {
    key.len() == 8
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A verifier key from a path (as it is, or hex-encoded), in its one spelling, or a 400.
fn vkey_param(key: &str) -> Result<String, WebError> {
    Ok(NoteVerifier::parse(&crate::http::params::vkey_text(key))
        .map_err(|e| {
            WebError::bad_request(format!(
                "{:?} is not a key ID (8 lowercase hex) or a verifier key: {e}",
                clip(key)
            ))
        })?
        .to_string())
}

/// `GET /key/<key ID, vkey or hex vkey>[?after=<index>]`: any key that signed an entry of
/// this log or that a revocation notice names.
pub(super) async fn key(req: PageRequest, Path(key): Path<String>) -> Response {
    req.page(&["format", "after"], move |site, q| {
        let after = q.number("after")?;
        let vkey = match key_param(
            &key,
            ("/key", "no entry in this log is signed by or revokes"),
            |id| site.keys_with_id(id),
        )? {
            Ok(vkey) => vkey,
            Err(several) => return Ok(several),
        };
        let verifier = NoteVerifier::parse(&vkey)
            .map_err(|_| WebError::internal("a stored key does not parse"))?;
        let signer = IndexKey::Signer(vkey.clone());
        let (indices, next) = site.page(&signer, after, PAGE_ROWS)?;
        let revocations = site.notices_of(&verifier)?;
        if indices.is_empty() && after.is_none() && revocations.is_empty() {
            return Err(WebError::not_found(format!(
                "no entry in this log is signed by {} or revokes it",
                clip(&vkey)
            )));
        }
        let entries = indices
            .into_iter()
            .map(|i| EntrySummary::read(site, &*site.decoded(i)?))
            .collect::<Result<Vec<_>, WebError>>()?;
        Ok(Page::of(&KeyPage {
            key: SignerView::of(&verifier),
            entries_signed: site.count(&signer)?,
            rebuild_attestations: site.count(&IndexKey::Rebuilder(vkey))?,
            revoked: Revocations::default().effective(site, &verifier)?.is_some(),
            revocations,
            entries,
            next,
        }))
    })
    .await
}

/// `GET /revocations[?after=<index>]`.
pub(super) async fn revocations(req: PageRequest) -> Response {
    req.page(&["format", "after"], move |site, q| {
        let after = q.number("after")?;
        let (indices, next) = site.page(&IndexKey::Revocations, after, PAGE_ROWS)?;
        let mut revocations = Vec::new();
        for i in indices {
            if let Some(n) = site.revocation(&*site.decoded(i)?) {
                revocations.push(n);
            }
        }
        Ok(Page::of(&RevocationsPage { revocations, next }))
    })
    .await
}

/// `GET /blob/sha256/<hex>`: a build log or diff report, as escaped text.
pub(super) async fn blob(req: PageRequest, Path(digest): Path<String>) -> Response {
    req.page(&["format"], move |site, _| {
        let bytes = sha256_param(&digest)?;
        let hex = hex::encode(bytes);
        let Some(blob) = site.ledger.blob(&bytes)? else {
            return Err(WebError::not_found(format!(
                "this log stores no blob with sha256 {hex} (build logs and diff reports are \
                 uploaded by rebuilders; the attestation names them, the log may not hold them)"
            )));
        };
        let shown = &blob[..blob.len().min(BLOB_TEXT_BYTES)];
        Ok(Page::of(&BlobPage {
            download: format!("/blobs/sha256/{hex}"),
            sha256: hex,
            size: blob.len(),
            text: String::from_utf8_lossy(shown).into_owned(),
            truncated: blob.len() > shown.len(),
            shown_at_most: BLOB_TEXT_BYTES,
        }))
    })
    .await
}

/// `GET /search?q=`: to the page the query names (303), or a 404 page saying what was tried.
pub(super) async fn search(
    State(site): State<Arc<Site>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (q, format) = match prelude(&site, query.as_deref(), &headers, &["q", "format"]) {
        Ok(p) => p,
        Err(refused) => return *refused,
    };
    let term = q.get("q").unwrap_or("").trim().to_owned();
    let worker = site.clone();
    let found = tokio::task::spawn_blocking(move || resolve(&worker, &term)).await;
    let location = match found {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => return e.respond(format, &site),
        Err(e) => return WebError::internal(&e.to_string()).respond(format, &site),
    };
    let location = match format {
        Format::Json if !location.contains('?') => format!("{location}?format=json"),
        Format::Json => format!("{location}&format=json"),
        Format::Html => location,
    };
    match HeaderValue::from_str(&location) {
        Ok(v) => (
            StatusCode::SEE_OTHER,
            [
                (LOCATION, v),
                (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        Err(_) => {
            WebError::internal("a search location is not a header value").respond(format, &site)
        }
    }
}

/// Where a search term leads: a digest, a log index, a key or a release name.
fn resolve(site: &Site, term: &str) -> Result<String, WebError> {
    if term.is_empty() {
        return Err(WebError::bad_request(
            "type an artifact sha256, a release name, a key ID or a log index",
        ));
    }
    let lower = term.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("sha256:") {
        return match crate::http::params::sha256_hex(hex.trim()) {
            Some(d) => Ok(format!("/artifact/sha256/{}", hex::encode(d))),
            None => Err(WebError::bad_request(format!(
                "{:?} is not a sha256 digest: after \"sha256:\" come 64 hex characters",
                clip(term)
            ))),
        };
    }
    let is_hex = lower.bytes().all(|b| b.is_ascii_hexdigit());
    if is_hex && lower.len() == 64 {
        return Ok(format!("/artifact/sha256/{lower}"));
    }
    if term.bytes().all(|b| b.is_ascii_digit()) {
        let index = number("log index", term)?;
        if index >= site.ledger.head().size() {
            return Err(WebError::not_found(format!(
                "the log has {} entries; there is no entry {index}",
                site.ledger.head().size()
            )));
        }
        return Ok(format!("/entry/{index}"));
    }
    if is_hex && lower.len() == 8 {
        return Ok(format!("/key/{lower}"));
    }
    if term.contains('+') && NoteVerifier::parse(term).is_ok() {
        return Ok(format!("/key/{}", hex::encode(term)));
    }
    // "name version", "name@version" or "name/version" names a release; a bare name a project.
    let split = term
        .split_once(' ')
        .or_else(|| term.split_once('@'))
        .or_else(|| term.split_once('/'));
    if let Some((name, version)) = split {
        let (name, version) = (name.trim(), version.trim());
        let key = IndexKey::Release {
            name: name.to_owned(),
            version: version.to_owned(),
        };
        if key.check().is_ok() && !site.page(&key, None, 1)?.0.is_empty() {
            return Ok(format!("/release/{}/{}", segment(name), segment(version)));
        }
    }
    let key = IndexKey::Project(term.to_owned());
    if key.check().is_ok() && !site.page(&key, None, 1)?.0.is_empty() {
        return Ok(format!("/releases?project={}", segment(term)));
    }
    Err(WebError::not_found(format!(
        "nothing in this log matches {:?}: not an artifact sha256 (64 hex), a log index, a key \
         ID (8 hex), a release (\"name version\") or a project name",
        clip(term)
    )))
}

/// `GET /feed/mismatches.atom`: the latest mismatches, as Atom.
pub(super) async fn feed_mismatches(State(site): State<Arc<Site>>) -> Response {
    feed(site, Feed::Mismatches).await
}

/// `GET /feed/revocations.atom`: the latest revocation notices, as Atom.
pub(super) async fn feed_revocations(State(site): State<Arc<Site>>) -> Response {
    feed(site, Feed::Revocations).await
}

/// `GET /feed/announcements.atom`: the latest announced releases of staged projects, as Atom
/// (an announcement counts only as the project's rule counts it: by a key that speaks for the
/// project, naming its release; one that was yanked since is marked so).
pub(super) async fn feed_announcements(State(site): State<Arc<Site>>) -> Response {
    feed(site, Feed::Announcements).await
}

/// The log's Atom feeds.
#[derive(Clone, Copy)]
enum Feed {
    Mismatches,
    Revocations,
    Announcements,
}

/// One feed entry: its title, time (Unix seconds) and summary.
type FeedItem = (String, i64, String);

/// The feed item of the entry at `i`, if it belongs in `feed`.
fn feed_item(
    site: &Site,
    feed: Feed,
    i: u64,
    now: i64,
    revoked: &mut Revocations,
    states: &mut HashMap<String, ProjectState>,
) -> Result<Option<FeedItem>, WebError> {
    let d = site.decoded(i)?;
    Ok(match feed {
        Feed::Mismatches => site.attestation(&d, revoked)?.map(|a| {
            let who = a.signers.first().map_or("unknown".to_owned(), |s| s.name.clone());
            let when = crate::time::rfc3339_secs(&a.finished_on).unwrap_or(now);
            (
                format!("mismatch: {} {} rebuilt by {who}", a.project, a.version),
                when,
                format!(
                    "{} {} (release entry #{}) did not rebuild bit for bit at {who}; attestation #{}",
                    a.project, a.version, a.release_index, a.index
                ),
            )
        }),
        // Notices carry no time, and the log keeps none: the feed's own time.
        Feed::Revocations => site
            .revocation(&d)
            .map(|n| (format!("{}: {}", n.reason, n.revoked_key), now, n.effect.clone())),
        Feed::Announcements => {
            let Ok(entry) = &d.entry else { return Ok(None) };
            let reprove_verifier::predicates::EntryKind::Announcement(a) = entry.kind() else {
                return Ok(None);
            };
            let release = &a.predicate.release;
            if !states.contains_key(&release.name) {
                let owners = site.ledger.owners(&release.name, &[])?;
                let state = site.ledger.project_state(&release.name, &owners)?;
                states.insert(release.name.clone(), state);
            }
            let Some(v) = states
                .get(&release.name)
                .and_then(|s| s.version(&release.version))
                .filter(|v| v.announced.as_ref().is_some_and(|x| x.index == i))
            else {
                return Ok(None);
            };
            let how = match &a.predicate.unverified {
                Some(u) => format!("announced without reproduction: {}", u.reason),
                None => format!(
                    "announced: its publisher's policy was satisfied by attestation(s) {}",
                    a.predicate
                        .attestations
                        .iter()
                        .map(|x| format!("#{x}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let yanked = v
                .yanked
                .as_ref()
                .map(|y| format!("; yanked since (entry #{}): {}", y.index, y.reason))
                .unwrap_or_default();
            Some((
                format!("{} {}", release.name, release.version),
                now,
                format!("{} {} (release entry #{}) {how}{yanked}", release.name, release.version, release.log_index),
            ))
        }
    })
}

async fn feed(site: Arc<Site>, feed: Feed) -> Response {
    let now = now_secs();
    let worker = site.clone();
    let built = tokio::task::spawn_blocking(move || -> Result<Html, WebError> {
        let site = &*worker;
        let origin = site.ledger.origin().to_owned();
        let tag = format!("tag:reprove.dev,2025:{}", segment(&origin));
        let mut entries = Html::default();
        let mut updated = 0i64;
        let (title, key, path) = match feed {
            Feed::Mismatches => ("Mismatches", IndexKey::Mismatches, "mismatches"),
            Feed::Revocations => ("Revocation notices", IndexKey::Revocations, "revocations"),
            Feed::Announcements => ("Announced releases", IndexKey::Announcements, "announcements"),
        };
        let (indices, _) = site.page(&key, None, PAGE_ROWS)?;
        let mut revoked = Revocations::default();
        let mut states = HashMap::new();
        for i in indices {
            let Some((entry_title, when, text)) =
                feed_item(site, feed, i, now, &mut revoked, &mut states)?
            else {
                continue;
            };
            updated = updated.max(when);
            entries.push(html!(
                "<entry><id>{}/entry/{}</id><title>{}</title><updated>{}</updated>\
<link rel=\"alternate\" type=\"text/html\" href=\"/entry/{}\"/><summary>{}</summary></entry>\n",
                tag,
                i,
                entry_title,
                crate::time::secs_string(when),
                i,
                text
            ));
        }
        if updated == 0 {
            updated = now;
        }
        Ok(html!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\
<id>{}/feed/{}</id><title>{} · {}</title><updated>{}</updated>\
<link rel=\"self\" href=\"/feed/{}.atom\"/><link rel=\"alternate\" type=\"text/html\" href=\"/\"/>\
<author><name>{}</name></author>\n{}</feed>\n",
            tag,
            path,
            Html::trusted(title),
            origin,
            crate::time::secs_string(updated),
            path,
            origin,
            entries
        ))
    })
    .await;
    match built {
        Ok(Ok(xml)) => (
            [
                (
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/atom+xml; charset=utf-8"),
                ),
                (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            xml.into_string(),
        )
            .into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(e) => WebError::internal(&e.to_string()).into_response(),
    }
}
