//! The web pages over a real socket: every page and its JSON twin (status, content type, key
//! content), 404s and bad input, malicious entries that must not inject markup, the feeds,
//! search, and the raw-envelope API of `/entry/<index>` left as it was.

use crate::common;
use crate::common::http;
use crate::common::signed;
use crate::common::web;

use http::{Response, Server};
use reprove_ledger::HttpConfig;
use reprove_verifier::merkle::leaf_hash;

pub const HTML: (&str, &str) = ("Accept", "text/html,application/xhtml+xml,*/*;q=0.8");
pub const JSON: (&str, &str) = ("Accept", "application/json");

pub async fn page(server: &Server, path: &str) -> Response {
    let r = server.get_with(path, &[HTML]).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some("text/html; charset=utf-8"),
        "{path}"
    );
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("script-src"), "{csp}");
    assert!(r.text().starts_with("<!doctype html>"), "{path}");
    assert!(
        r.text().contains("name=\"viewport\""),
        "{path}: no mobile viewport"
    );
    assert!(
        !r.text().contains("<script"),
        "{path}: a script in the page"
    );
    r
}

pub async fn twin(server: &Server, path: &str) -> serde_json::Value {
    let r = server.get_with(path, &[JSON]).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"), "{path}");
    let sep = if path.contains('?') { '&' } else { '?' };
    let again = server.get(&format!("{path}{sep}format=json")).await;
    assert_eq!(again.status, 200, "{path}: {}", again.text());
    assert_eq!(
        again.json(),
        r.json(),
        "{path}: the two JSON spellings differ"
    );
    r.json()
}

pub fn assert_error_page(r: &Response, status: u16, needle: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r.text().contains(needle), "{needle:?} not in {}", r.text());
    assert!(
        r.text().contains("action=\"/search\""),
        "no way on from the error page"
    );
}

pub async fn fixture() -> (Server, web::Fixture) {
    let server = Server::start(HttpConfig::default()).await;
    let f = web::fill(&server).await;
    (server, f)
}

#[tokio::test]
async fn the_home_page_shows_the_log_at_a_glance() {
    let (server, f) = fixture().await;
    let r = page(&server, "/").await;
    let t = r.text();
    assert!(t.contains(common::ORIGIN));
    assert!(t.contains(&common::key().to_string()), "no log key");
    assert!(t.contains("<b>8</b> entries"), "{t}");
    assert!(t.contains("href=\"/release/hello/1.0\""));
    assert!(t.contains("reproduced by 2"));
    assert!(
        t.contains(">disputed<"),
        "the malicious release is disputed"
    );
    assert!(t.contains(">pending<"));
    assert!(t.contains("Latest mismatches"));
    assert!(t.contains(&format!("href=\"/entry/{}\"", f.evil_mismatch)));
    assert!(t.contains(&format!("href=\"/entry/{}\"", f.revocation)));
    assert!(t.contains("action=\"/search\""));

    let j = twin(&server, "/").await;
    assert_eq!(j["tree_size"], 8);
    assert_eq!(j["origin"], common::ORIGIN);
    assert_eq!(j["log_key"], common::key().to_string());
    let releases = j["latest_releases"].as_array().unwrap();
    assert_eq!(releases.len(), 3);
    assert_eq!(releases[2]["project"], "hello");
    assert_eq!(releases[2]["status"]["label"], "reproduced by 2");
    assert_eq!(j["latest_mismatches"][0]["index"], f.evil_mismatch);
    assert_eq!(j["latest_revocations"][0]["index"], f.revocation);
    // Four rebuilds finished today.
    assert_eq!(j["attestations_per_day"][0]["attestations"]["count"], 4);
    server.stop().await;
}

#[tokio::test]
async fn a_release_page_has_its_artifacts_rebuilds_and_status() {
    let (server, f) = fixture().await;
    let r = page(&server, "/release/hello/1.0").await;
    let t = r.text();
    assert!(t.contains("reproduced by 2"));
    assert!(t.contains(&hex::encode([0x11; 32])));
    assert!(t.contains("href=\"https://downloads.example.org/hello\""));
    assert!(t.contains("rebuilder.example.org"));
    assert!(t.contains("stranger.example.net"));
    assert!(t.contains("Status as the default policy judges it"));
    let j = twin(&server, "/release/hello/1.0").await;
    let rel = &j["releases"][0];
    assert_eq!(rel["release"]["index"], f.hello);
    assert_eq!(rel["release"]["status"]["state"], "reproduced");
    assert_eq!(rel["release"]["status"]["reproduced_by"], 2);
    assert_eq!(rel["release"]["artifacts"].as_array().unwrap().len(), 2);
    let rows = rel["attestations"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["index"], f.hello_by_rebuilder);
    assert_eq!(rows[1]["index"], f.hello_by_stranger);

    // A rebuild signed after the signer revoked its key does not count.
    let j = twin(&server, "/release/pending-proj/2.0").await;
    let rel = &j["releases"][0];
    assert_eq!(rel["release"]["status"]["label"], "pending");
    assert_eq!(rel["attestations"][0]["index"], f.after_revocation);
    assert_eq!(rel["attestations"][0]["counts"], false);
    let t = page(&server, "/release/pending-proj/2.0").await;
    assert!(t.text().contains("signer revoked"));

    let r = server.get_with("/release/nope/1.0", &[HTML]).await;
    assert_error_page(
        &r,
        404,
        "no release &quot;nope&quot; version &quot;1.0&quot;",
    );
    server
        .get_with("/release/nope/1.0", &[JSON])
        .await
        .assert_error(404, "no release");
    server.stop().await;
}

#[tokio::test]
async fn nothing_from_an_entry_can_inject_markup() {
    let (server, f) = fixture().await;
    let evil_path = format!(
        "/release/{}/{}",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E", "1.0%22%3E%3Cb%3Ex"
    );
    let pages = [
        "/".to_owned(),
        "/releases".to_owned(),
        evil_path.clone(),
        format!("/artifact/sha256/{}", hex::encode(f.evil_digest)),
        format!("/entry/{}", f.evil),
        format!("/entry/{}", f.evil_mismatch),
        format!("/entry/{}", f.revocation),
        format!("/blob/sha256/{}", hex::encode(f.diff_report)),
        "/revocations".to_owned(),
        "/rebuilders".to_owned(),
        format!("/rebuilder/{}", key_id(&signed::rebuilder())),
        format!("/key/{}", key_id(&signed::rebuilder())),
        format!("/key/{}", key_id(&signed::publisher())),
    ];
    for path in &pages {
        let t = page(&server, path).await.text().to_owned();
        for bad in [
            "<script>alert",
            "<img src=x",
            "href=\"javascript:",
            "\"><b>x",
            "<b>bye</b>",
            "</pre><script>",
        ] {
            assert!(!t.contains(bad), "{path}: {bad:?} came through");
        }
    }
    let t = page(&server, &evil_path).await.text().to_owned();
    assert!(t.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{t}");
    assert!(t.contains(">disputed<"));
    assert!(
        t.contains("<code class=\"d\">javascript:alert(3)</code>"),
        "not shown as text"
    );
    assert!(t.contains("&lt;img src=x onerror=alert(4)&gt; differs"));
    let blob = page(
        &server,
        &format!("/blob/sha256/{}", hex::encode(f.diff_report)),
    )
    .await;
    assert!(
        blob.text()
            .contains("&lt;/pre&gt;&lt;script&gt;alert(&#39;diff&#39;)")
    );
    assert!(blob.text().contains(&format!(
        "href=\"/blobs/sha256/{}\"",
        hex::encode(f.diff_report)
    )));
    // The JSON twin carries the names as they are: JSON is not HTML.
    let j = twin(&server, &evil_path).await;
    assert_eq!(j["releases"][0]["release"]["project"], web::EVIL_PROJECT);
    let feed = server.get("/feed/mismatches.atom").await;
    assert!(!feed.text().contains("<script"), "{}", feed.text());
    server.stop().await;
}

pub fn key_id(k: &signed::Key) -> String {
    format!("{:08x}", k.verifier().key_id())
}

#[tokio::test]
async fn artifact_pages_list_every_entry_naming_a_digest() {
    let (server, f) = fixture().await;
    let hex = hex::encode(f.hello_digests[1]);
    let path = format!("/artifact/sha256/{hex}");
    let t = page(&server, &path).await.text().to_owned();
    assert!(t.contains(&hex));
    assert!(t.contains(&format!("href=\"/entry/{}\"", f.hello)));
    let j = twin(&server, &path).await;
    let indices: Vec<u64> = j["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(
        indices,
        [f.hello_by_stranger, f.hello_by_rebuilder, f.hello]
    );
    assert_eq!(j["entries"][2]["kind"], "release");
    // Pages: one entry per page is not offered, but `after` walks on from a cursor.
    let j = twin(&server, &format!("{path}?after={}", f.hello_by_rebuilder)).await;
    assert_eq!(j["entries"].as_array().unwrap().len(), 1);

    let unknown = format!("/artifact/sha256/{}", "ab".repeat(32));
    assert_error_page(
        &server.get_with(&unknown, &[HTML]).await,
        404,
        "no entry of this log names",
    );
    server
        .get_with(&unknown, &[JSON])
        .await
        .assert_error(404, "no entry");
    assert_error_page(
        &server.get_with("/artifact/sha256/xyz", &[HTML]).await,
        400,
        "is not a sha256 digest",
    );
    server
        .get_with(&format!("{path}?after=01"), &[JSON])
        .await
        .assert_error(400, "after");
    server.stop().await;
}

#[tokio::test]
async fn entry_pages_are_for_browsers_and_the_api_is_unchanged() {
    let (server, f) = fixture().await;
    let raw = server.get(&format!("/entry/{}", f.hello)).await;
    assert_eq!(raw.status, 200);
    assert_eq!(raw.header("content-type"), Some("application/json"));
    assert!(raw.text().starts_with("{\"payload\""), "{}", raw.text());
    let api = server
        .get_with(&format!("/entry/{}", f.hello), &[JSON])
        .await;
    assert_eq!(
        api.body, raw.body,
        "Accept: application/json still gets the envelope"
    );

    let t = page(&server, &format!("/entry/{}", f.hello))
        .await
        .text()
        .to_owned();
    assert!(t.contains("Inclusion proof"));
    assert!(t.contains("verifies against the checkpoint"));
    assert!(t.contains(&hex::encode(leaf_hash(&raw.body))));
    assert!(t.contains("every signature verifies"));
    assert!(t.contains("example.com/publisher"));
    assert!(t.contains(&format!("href=\"/entry/{}?format=raw\"", f.hello)));
    assert!(
        t.contains("https://reprove.dev/release/v1"),
        "the statement is shown"
    );

    let j = server
        .get(&format!("/entry/{}?format=json", f.hello))
        .await
        .json();
    assert_eq!(j["index"], f.hello);
    assert_eq!(j["kind"], "release");
    assert_eq!(j["leaf_hash"], hex::encode(leaf_hash(&raw.body)));
    assert_eq!(j["inclusion"]["verifies"], true);
    assert_eq!(j["inclusion"]["tree_size"], 8);
    assert_eq!(j["statement"]["predicate"]["project"], "hello");
    assert_eq!(j["signers"][0]["name"], "example.com/publisher");

    let download = server
        .get_with(&format!("/entry/{}?format=raw", f.hello), &[HTML])
        .await;
    assert_eq!(
        download.body, raw.body,
        "the download link gives the envelope"
    );

    assert_error_page(&server.get_with("/entry/99", &[HTML]).await, 404, "99");
    assert_error_page(
        &server.get_with("/entry/x1", &[HTML]).await,
        400,
        "entry index",
    );
    server.get("/entry/99").await.assert_error(404, "");
    server
        .get(&format!("/entry/{}?format=xml", f.hello))
        .await
        .assert_error(400, "format");
    server.stop().await;
}

#[tokio::test]
async fn rebuilder_and_revocation_pages() {
    let (server, f) = fixture().await;
    let a = signed::rebuilder();
    let b = signed::stranger();
    let t = page(&server, "/rebuilders").await.text().to_owned();
    assert!(t.contains("rebuilder.example.org"));
    assert!(t.contains("stranger.example.net"));
    assert!(t.contains(">revoked<"));
    let j = twin(&server, "/rebuilders").await;
    assert_eq!(j["rebuilders"].as_array().unwrap().len(), 2);

    let path = format!("/rebuilder/{}", key_id(&a));
    let t = page(&server, &path).await.text().to_owned();
    assert!(t.contains(&a.vkey()));
    assert!(t.contains("not revoked"));
    let j = twin(&server, &path).await;
    let r = &j["rebuilder"];
    assert_eq!(r["attestations"]["count"], 2);
    assert_eq!(r["mismatches_reported"], 1);
    // It agreed with the stranger on hello 1.0; nobody else attested the evil release.
    assert_eq!(r["compared"], 1);
    assert_eq!(r["agreement_percent"], 100);
    assert_eq!(r["revoked"], false);

    let j = twin(&server, &format!("/rebuilder/{}", hex::encode(b.vkey()))).await;
    assert_eq!(j["rebuilder"]["revoked"], true);
    assert_eq!(j["rebuilder"]["revocations"][0]["index"], f.revocation);
    let same = twin(&server, &format!("/rebuilder/{}", key_id(&b))).await;
    assert_eq!(same["rebuilder"]["key"], j["rebuilder"]["key"]);

    assert_error_page(
        &server.get_with("/rebuilder/00000000", &[HTML]).await,
        404,
        "00000000",
    );
    assert_error_page(
        &server.get_with("/rebuilder/nonsense", &[HTML]).await,
        400,
        "not a key ID",
    );

    let t = page(&server, "/revocations").await.text().to_owned();
    assert!(t.contains("retired"));
    assert!(t.contains("self-signed: effective"));
    assert!(t.contains(&format!("not trusted from log index {} on", f.revocation)));
    let j = twin(&server, "/revocations").await;
    assert_eq!(j["revocations"][0]["revoked_key"], b.vkey());
    assert_eq!(j["revocations"][0]["self_signed"], true);
    assert_eq!(j["revocations"][0]["comment"], "<b>bye</b>");
    server.stop().await;
}

#[tokio::test]
async fn feeds_are_atom() {
    let (server, f) = fixture().await;
    for (path, needle) in [
        (
            "/feed/mismatches.atom",
            format!("/entry/{}", f.evil_mismatch),
        ),
        ("/feed/revocations.atom", format!("/entry/{}", f.revocation)),
    ] {
        let r = server.get(path).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-type"),
            Some("application/atom+xml; charset=utf-8")
        );
        let t = r.text();
        assert!(t.starts_with("<?xml"));
        assert!(t.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">"));
        assert!(t.contains(&needle), "{t}");
        assert_eq!(t.matches("<entry>").count(), 1, "{t}");
        assert!(t.contains("<updated>"));
    }
    server.stop().await;
}

#[tokio::test]
async fn search_finds_digests_releases_keys_and_indices() {
    let (server, f) = fixture().await;
    let hex = hex::encode(f.hello_digests[0]);
    let id = key_id(&signed::rebuilder());
    for (q, want) in [
        (hex.to_uppercase(), format!("/artifact/sha256/{hex}")),
        ("hello+1.0".to_owned(), "/release/hello/1.0".to_owned()),
        ("hello%401.0".to_owned(), "/release/hello/1.0".to_owned()),
        ("+hello+".to_owned(), "/releases?project=hello".to_owned()),
        (f.pending.to_string(), format!("/entry/{}", f.pending)),
        (id.clone(), format!("/key/{id}")),
    ] {
        let r = server.get_with(&format!("/search?q={q}"), &[HTML]).await;
        assert_eq!(r.status, 303, "{q}: {}", r.text());
        assert_eq!(r.header("location"), Some(want.as_str()), "{q}");
    }
    let r = server.get("/search?q=hello&format=json").await;
    assert_eq!(
        r.header("location"),
        Some("/releases?project=hello&format=json")
    );
    let j = twin(&server, "/releases?project=hello").await;
    assert_eq!(j["releases"][0]["index"], f.hello);
    assert_error_page(
        &server.get_with("/search?q=zzz", &[HTML]).await,
        404,
        "nothing in this log matches",
    );
    assert_error_page(
        &server.get_with("/search?q=", &[HTML]).await,
        400,
        "type an artifact",
    );
    assert_error_page(
        &server.get_with("/search?q=100", &[HTML]).await,
        404,
        "no entry 100",
    );
    server.stop().await;
}

#[tokio::test]
async fn lists_paginate_and_refuse_bad_queries() {
    let (server, f) = fixture().await;
    let j = twin(&server, "/releases").await;
    let all: Vec<u64> = j["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(all, [f.pending, f.evil, f.hello]);
    assert!(j["next"].is_null());
    let j = twin(&server, &format!("/releases?after={}", f.evil)).await;
    assert_eq!(j["releases"][0]["index"], f.hello);
    for bad in [
        "/?x=1",
        "/releases?after=-1",
        "/releases?after=1&after=2",
        "/revocations?format=xml",
    ] {
        let r = server.get_with(bad, &[HTML]).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        server.get_with(bad, &[JSON]).await.assert_error(400, "");
    }
    assert_error_page(
        &server.get_with("/releases?project=nope", &[HTML]).await,
        404,
        "no release of a project named",
    );
    assert_error_page(
        &server
            .get_with(&format!("/blob/sha256/{}", "cd".repeat(32)), &[HTML])
            .await,
        404,
        "stores no blob",
    );
    // The API's own 404 for unknown paths is unchanged.
    server
        .get("/no/such/page")
        .await
        .assert_error(404, "no such endpoint");
    server.stop().await;
}

/// A release's status counts only attestations bound to this very entry (its sha256 *and*
/// blake3), weighs a key's own revocation notices however many strangers name the key, and
/// says "incomplete" rather than judge a release on part of its attestations.
#[tokio::test]
async fn a_release_status_follows_the_binding_and_never_judges_on_part() {
    use reprove_verifier::predicates::{Digests, EntryKind, RebuildResult, RevocationReason};
    let server = Server::start(HttpConfig::default()).await;
    let (p, a, s) = (signed::publisher(), signed::rebuilder(), signed::stranger());
    let digests = [[0x21; 32]];
    let bytes = p.sign(&web::release_entry("bound", "1.0", &digests, None));
    let index = web::add(&server, &bytes).await;
    let attest = |k: &signed::Key, blake3: Option<[u8; 32]>| {
        let mut e = web::rebuild_entry(
            "bound",
            "1.0",
            index,
            &bytes,
            &digests,
            RebuildResult::Reproduced,
            None,
            "2026-01-01",
            None,
        );
        if let EntryKind::Rebuild(r) = e.kind() {
            let mut r = r.clone();
            r.predicate.release.digest = Digests {
                sha256: r.predicate.release.digest.sha256,
                blake3,
            };
            e = reprove_verifier::predicates::Entry::new(EntryKind::Rebuild(r)).unwrap();
        }
        k.sign(&e)
    };
    // The right sha256 with a wrong blake3 is not this release.
    web::add(&server, &attest(&s, Some([0; 32]))).await;
    let path = "/release/bound/1.0";
    let j = twin(&server, path).await;
    assert_eq!(
        j["releases"][0]["release"]["status"]["state"], "pending",
        "{j}"
    );
    // The right blake3 is.
    let blake3 = *blake3::hash(&bytes).as_bytes();
    web::add(&server, &attest(&s, Some(blake3))).await;
    let j = twin(&server, path).await;
    assert_eq!(
        j["releases"][0]["release"]["status"]["label"], "reproduced by 1",
        "{j}"
    );

    // The rebuilder revokes its own key (compromised), then strangers bury that notice under
    // more notices naming the key than a page lists; its later attestation still does not count.
    let own = web::add(
        &server,
        &a.sign(&signed::revocation_with(
            &a.verifier(),
            RevocationReason::Compromised,
        )),
    )
    .await;
    for i in 0..25u64 {
        web::add(
            &server,
            &s.sign(&signed::revocation_effective(&a.verifier(), own + 1 + i)),
        )
        .await;
    }
    web::add(&server, &attest(&a, None)).await;
    let j = twin(&server, path).await;
    assert_eq!(
        j["releases"][0]["release"]["status"]["label"], "reproduced by 1",
        "{j}"
    );

    // More attestations than a page weighs: not judged here.
    for i in 0..201u8 {
        let k = signed::Key::new(&format!("node{i}.example"), i.wrapping_add(100));
        web::add(&server, &attest(&k, None)).await;
    }
    let j = twin(&server, path).await;
    assert_eq!(
        j["releases"][0]["release"]["status"]["state"], "incomplete",
        "{j}"
    );
    assert!(
        j["releases"][0]["release"]["status"]["verdict"]
            .as_str()
            .unwrap()
            .starts_with("not judged here: this release has more than 200 rebuild attestations"),
        "{j}"
    );
    let t = page(&server, path).await;
    assert!(t.text().contains("not judged here"), "{}", t.text());
    server.stop().await;
}

/// A rebuilder's "revoked" on the list and on its page is judged from all of its own notices,
/// however many notices naming its key strangers log after them.
#[tokio::test]
async fn a_rebuilders_own_revocation_is_not_buried_by_strangers_notices() {
    use reprove_verifier::predicates::{RebuildResult, RevocationReason};
    let server = Server::start(HttpConfig::default()).await;
    let (p, a, s) = (signed::publisher(), signed::rebuilder(), signed::stranger());
    let digests = [[0x31; 32]];
    let bytes = p.sign(&web::release_entry("buried", "1.0", &digests, None));
    let index = web::add(&server, &bytes).await;
    let attestation = web::rebuild_entry(
        "buried",
        "1.0",
        index,
        &bytes,
        &digests,
        RebuildResult::Reproduced,
        None,
        "2026-01-01",
        None,
    );
    web::add(&server, &a.sign(&attestation)).await;
    let own = web::add(
        &server,
        &a.sign(&signed::revocation_with(
            &a.verifier(),
            RevocationReason::Compromised,
        )),
    )
    .await;
    for i in 0..25u64 {
        web::add(
            &server,
            &s.sign(&signed::revocation_effective(&a.verifier(), own + 1 + i)),
        )
        .await;
    }
    let list = twin(&server, "/rebuilders").await;
    let entry = list["rebuilders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"]["vkey"] == a.vkey())
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(entry["revoked"], true, "{list}");
    let page = twin(&server, &format!("/rebuilder/{}", key_id(&a))).await;
    assert!(page.to_string().contains("\"revoked\":true"), "{page}");
    server.stop().await;
}
