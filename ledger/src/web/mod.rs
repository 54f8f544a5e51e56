//! The log's web pages for people, each with a JSON twin for machines, and Atom feeds.
//!
//! ```text
//! GET /                               the log at a glance, search box
//! GET /releases[?project=N][&all=1]    releases (or one project's), newest first; a staged
//!                                     version only once announced, unless all=1
//! GET /release/<name>/<version>       a release: verdict, recipe, artifacts, rebuilds, command
//! GET /artifact/sha256/<hex>          every entry that names this digest
//! GET /entry/<index>                  (Accept: text/html) the decoded entry, its proof
//! GET /rebuilders, /rebuilder/<key>   rebuilder keys and their agreement; one key's record
//! GET /key/<key>                      any key the log knows: entries signed, notices about it
//! GET /revocations                    every revocation notice with its effect
//! GET /blob/sha256/<hex>              a build log or diff report as escaped text
//! GET /search?q=...                   [sha256:]hex, release name, key ID or log index -> a page
//! GET /feed/mismatches.atom, /feed/revocations.atom, /feed/announcements.atom
//! ```
//!
//! A release page answers the visitor's question first: its status as one sentence (the
//! verdict, `answers.rs`), derived from the status the default policy gives it and from the
//! attestations' facts — how many distinct keys reproduced it; whether mismatching keys
//! rebuilt identical bytes (equal rebuilt sha256) or not. It counts keys, never operators: the
//! log knows no policy, and the pages vet no publisher or rebuilder. Then the recipe (source,
//! command, toolchain, `SOURCE_DATE_EPOCH`, outputs), one row per rebuild with, under a
//! mismatch, the first 40 lines (4 KiB) of its diff report when the log holds one of at most
//! 1 MiB (read with `Ledger::blob_at_most`, at most 8 per page; larger ones are linked), and
//! the `reprove verify` command. Its `--ledger` URL is the one the request reached the log at
//! (`Host`, plus `X-Forwarded-Proto: https` from a proxy; a Host that is not a plain
//! `name[:port]` is not repeated, and the command then says `URL`). That URL is not
//! trust-bearing — `reprove verify` checks the log's key from the reader's policy — and a
//! proxy that serves the log under a path prefix makes it incomplete.
//!
//! Charts are inline SVG drawn on the server (`charts.rs`), each with a `<title>` and its
//! numbers in a table or sentence beside it and in the JSON twin: reproductions and mismatches
//! per day on `/` (each day's `ReproducedDay` records; a walk of the mismatch index from the
//! days' oldest entry, bounded like every count), each listed key's agreement on `/rebuilders` (20 keys a page, as
//! `/rebuilder/<key>` weighs it), and the listed releases by status on `/releases`.
//! Every signer links to `/key/<key ID>`, which answers for any key that signed an entry or
//! that a notice revokes (a key ID shared by several keys lists them).
//!
//! Every page answers JSON with the same data for `?format=json` or an `Accept` that asks
//! for `application/json` and not `text/html`. `/entry/<index>` is also the raw-envelope
//! API: it shows the page only to clients that ask for `text/html` (browsers do) or for
//! `?format=json`; everything else gets the envelope bytes as before, so API clients see no
//! change. Lists are newest first, paginated with `?after=<index>` (the `next` of the
//! previous page).
//!
//! Files: `pages.rs` the handlers; `views.rs` page views, each one value serialised for the
//! JSON twin and rendered for HTML; `model.rs` entries decoded for pages; `answers.rs` a
//! release's verdict, recipe, diff excerpts and verify command; `stats.rs` counts and a
//! rebuilder's record; `charts.rs` SVG charts; `render.rs` shared HTML fragments; `html.rs`
//! escaping.
//!
//! Every interpolation goes through [`html::Html`], and the pages carry a
//! `Content-Security-Policy` that forbids scripts: an entry cannot inject markup.

mod answers;
mod charts;
pub(crate) mod html;
mod model;
mod pages;
mod render;
mod stats;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{
    ACCEPT, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, VARY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::Error;
use crate::ledger::Ledger;
use html::{Html, html};
use model::Site;

/// The pages' routes, with their own state, to merge into the API router.
pub(crate) fn routes<S>(ledger: Arc<Ledger>) -> (Router<S>, Arc<Site>)
where
    S: Clone + Send + Sync + 'static,
{
    let site = Arc::new(Site::new(ledger));
    let router = Router::new()
        .route("/", get(pages::home))
        .route("/releases", get(pages::releases))
        .route("/release/{name}/{version}", get(pages::release))
        .route("/artifact/sha256/{digest}", get(pages::artifact))
        .route("/rebuilders", get(pages::rebuilders))
        .route("/rebuilder/{*key}", get(pages::rebuilder))
        .route("/key/{*key}", get(pages::key))
        .route("/revocations", get(pages::revocations))
        .route("/blob/sha256/{digest}", get(pages::blob))
        .route("/search", get(pages::search))
        .route("/feed/mismatches.atom", get(pages::feed_mismatches))
        .route("/feed/revocations.atom", get(pages::feed_revocations))
        .route("/feed/announcements.atom", get(pages::feed_announcements))
        .with_state(site.clone());
    (router, site)
}

/// Middleware on `GET /entry/<index>`: the page for browsers (`Accept: text/html`) and
/// `?format=json|html`; everything else goes on to the raw-envelope handler unchanged.
pub(crate) async fn entry_negotiation(
    State(site): State<Arc<Site>>,
    request: Request,
    next: Next,
) -> Response {
    let query = request.uri().query().map(str::to_owned);
    let format = match page_query(query.as_deref(), &["format"]) {
        Ok(q) => q.get("format").map(str::to_owned),
        Err(e) => return e.respond(Format::Json, &site),
    };
    let wants = match format.as_deref() {
        Some("json") => Some(Format::Json),
        Some("html") => Some(Format::Html),
        Some("raw") => None,
        Some(other) => {
            return WebError::bad_request(format!(
                "format {:?} is not one of json, html, raw",
                clip(other)
            ))
            .respond(Format::Json, &site);
        }
        None => accepts_html(request.headers()).then_some(Format::Html),
    };
    let Some(format) = wants else {
        let mut response = next.run(request).await;
        response
            .headers_mut()
            .insert(VARY, HeaderValue::from_static("Accept"));
        return response;
    };
    let index = request
        .uri()
        .path()
        .strip_prefix("/entry/")
        .unwrap_or_default()
        .to_owned();
    pages::entry(site, index, format).await
}

/// How a page is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Html,
    Json,
}

impl Format {
    /// `?format=` wins; else JSON when `Accept` names `application/json` and not `text/html`.
    fn of(query: &Query, headers: &HeaderMap) -> Result<Format, WebError> {
        match query.get("format") {
            Some("json") => Ok(Format::Json),
            Some("html") => Ok(Format::Html),
            Some(other) => Err(WebError::bad_request(format!(
                "format {:?} is neither html nor json",
                clip(other)
            ))),
            None => {
                let accept = accept(headers);
                if accept.contains("application/json") && !accept.contains("text/html") {
                    Ok(Format::Json)
                } else {
                    Ok(Format::Html)
                }
            }
        }
    }
}

fn accept(headers: &HeaderMap) -> String {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",")
        .to_ascii_lowercase()
}

fn accepts_html(headers: &HeaderMap) -> bool {
    accept(headers).contains("text/html")
}

/// A rendered page: its JSON twin and its HTML body.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) title: String,
    pub(crate) json: serde_json::Value,
    pub(crate) body: Html,
}

impl Page {
    pub(crate) fn respond(self, format: Format, site: &Site) -> Response {
        match format {
            Format::Json => json_response(StatusCode::OK, &self.json),
            Format::Html => html_response(
                StatusCode::OK,
                render::page(&self.title, site.ledger.origin(), self.body),
            ),
        }
    }
}

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut body = serde_json::to_vec_pretty(value).unwrap_or_default();
    body.push(b'\n');
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(VARY, HeaderValue::from_static("Accept"));
    r
}

fn html_response(status: StatusCode, page: Html) -> Response {
    let mut r = Response::new(Body::from(page.into_string()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Defense in depth: even if markup got through, no script, frame or plugin would run.
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; \
             form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(VARY, HeaderValue::from_static("Accept"));
    r
}

/// A page that could not be shown: 400, 404 or a generic 500.
#[derive(Debug)]
pub(crate) struct WebError {
    status: StatusCode,
    message: String,
}

impl WebError {
    pub(crate) fn bad_request(message: impl Into<String>) -> WebError {
        WebError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> WebError {
        WebError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    pub(crate) fn internal(what: &str) -> WebError {
        tracing::error!(what, "internal error serving a page");
        WebError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "internal error".to_owned(),
        }
    }

    /// The error as a page (with a way back) or as `{"error": ...}`.
    pub(crate) fn respond(self, format: Format, site: &Site) -> Response {
        match format {
            Format::Json => {
                let mut r =
                    json_response(self.status, &serde_json::json!({ "error": self.message }));
                r.headers_mut()
                    .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                r
            }
            Format::Html => {
                let title = match self.status {
                    StatusCode::NOT_FOUND => "Not found",
                    StatusCode::BAD_REQUEST => "Bad request",
                    _ => "Error",
                };
                let body = html!(
                    "<h1>{}</h1><p>{}</p><p>Try the search box above with an artifact's sha256 \
                     (64 hex), a release name, a key ID (8 hex) or a log index, or go to \
                     <a href=\"/releases\">all releases</a>.</p>",
                    title,
                    self.message
                );
                html_response(self.status, render::page(title, site.ledger.origin(), body))
            }
        }
    }
}

/// Ledger errors get the statuses and messages the API gives them (`http/error.rs`, one
/// mapping for both).
impl From<Error> for WebError {
    fn from(e: Error) -> WebError {
        let api = crate::http::error::ApiError::from(e);
        WebError {
            status: api.status(),
            message: api.message().to_owned(),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let mut r = json_response(self.status, &serde_json::json!({ "error": self.message }));
        r.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}

pub(crate) use crate::http::params::{BadParam, Query, Values, clip};

/// The page's query, values form-decoded (the search box), or a 400.
pub(crate) fn page_query(raw: Option<&str>, allowed: &[&str]) -> Result<Query, WebError> {
    Ok(Query::parse(raw, allowed, Values::Form)?)
}

/// A decimal `u64` with one spelling (no sign, no leading zeros), or a 400 naming `what`.
pub(crate) fn number(what: &str, s: &str) -> Result<u64, WebError> {
    Ok(crate::http::params::number(what, s)?)
}

/// A bad parameter is a 400, worded as the API words it.
impl From<BadParam> for WebError {
    fn from(e: BadParam) -> WebError {
        WebError::bad_request(e.0)
    }
}

/// Runs a page's reads on the blocking pool and answers in `format`.
pub(crate) async fn run(
    site: Arc<Site>,
    format: Format,
    build: impl FnOnce(&Site) -> Result<Page, WebError> + Send + 'static,
) -> Response {
    let worker = site.clone();
    match tokio::task::spawn_blocking(move || build(&worker)).await {
        Ok(Ok(page)) => page.respond(format, &site),
        Ok(Err(e)) => e.respond(format, &site),
        Err(e) => WebError::internal(&format!("a page task failed: {e}")).respond(format, &site),
    }
}
