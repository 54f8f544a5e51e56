//! Web pages that answer the visitor's question (issue #18): a release page's verdict in one
//! sentence, its recipe, the diff excerpt of a mismatch, the `reprove verify` command; the key
//! page every signer links to; `sha256:` search; the SVG charts with their text equivalents.

use crate::common::http;
use crate::common::signed;
use crate::common::web;
use crate::web_pages::{HTML, JSON, assert_error_page, fixture, key_id, page, twin};

use http::Server;
use reprove_ledger::HttpConfig;
use reprove_verifier::predicates::RebuildResult;

fn verdict(j: &serde_json::Value) -> String {
    j["releases"][0]["release"]["status"]["verdict"]
        .as_str()
        .unwrap_or_else(|| panic!("no verdict in {j}"))
        .to_owned()
}

const EVIL_PATH: &str = "/release/%3Cscript%3Ealert(1)%3C%2Fscript%3E/1.0%22%3E%3Cb%3Ex";

#[tokio::test]
async fn a_release_page_opens_with_its_verdict_in_one_sentence() {
    let (server, _) = fixture().await;
    for (path, state, sentence) in [
        (
            "/release/hello/1.0",
            "ok",
            "reproduced by 2 distinct rebuilder keys: both rebuilt exactly the published bytes \
             of every artifact",
        ),
        (
            EVIL_PATH,
            "bad",
            "disputed: 1 rebuilder key rebuilt bytes that differ from the published artifacts \
             — see the diff",
        ),
        (
            "/release/pending-proj/2.0",
            "wait",
            "pending: no rebuilder key has reproduced this release yet (1 attestation says \
             reproduced but does not count (signer revoked, or not bit-identical for every \
             artifact))",
        ),
    ] {
        let j = twin(&server, path).await;
        assert_eq!(verdict(&j), sentence, "{path}");
        let t = page(&server, path).await.text().to_owned();
        let opening = format!("</h1><p class=\"verdict {state}\">{sentence}</p>");
        assert!(t.contains(&opening), "{path}: {opening} not in {t}");
        assert!(
            t.contains("The page vets no publisher and no rebuilder"),
            "{path}"
        );
    }
    server.stop().await;
}

/// Two keys that rebuilt the same bytes, then a third with other bytes; a release with no
/// attestation at all; and a long diff report, excerpted to its first lines.
#[tokio::test]
async fn a_dispute_says_whether_the_rebuilders_agree_with_each_other() {
    let server = Server::start(HttpConfig::default()).await;
    let (p, a, s) = (signed::publisher(), signed::rebuilder(), signed::stranger());
    let digests = [[0x41; 32]];
    let bytes = p.sign(&web::release_entry("twice", "1.0", &digests, None));
    let index = web::add(&server, &bytes).await;
    let long_diff: String = (0..100).map(|i| format!("line {i}\n")).collect();
    let diff = reprove_testkit::sha256(long_diff.as_bytes());
    server.ledger.put_blob(&diff, long_diff.as_bytes()).unwrap();
    let mismatch = |diff| {
        web::rebuild_entry(
            "twice",
            "1.0",
            index,
            &bytes,
            &digests,
            RebuildResult::Mismatch,
            diff,
            "2026-01-01",
            None,
        )
    };
    let path = "/release/twice/1.0";
    let j = twin(&server, path).await;
    assert_eq!(
        verdict(&j),
        "pending: no rebuilder key has attested this release yet"
    );
    web::add(&server, &a.sign(&mismatch(Some(diff)))).await;
    // The stranger names a diff report the log does not hold: no excerpt, the link only.
    web::add(&server, &s.sign(&mismatch(Some([0x99; 32])))).await;
    let j = twin(&server, path).await;
    assert_eq!(
        verdict(&j),
        "disputed: 2 rebuilder keys rebuilt identical bytes that differ from the published \
         artifacts — see the diff"
    );
    let excerpt = &j["releases"][0]["attestations"][0]["diff_excerpt"];
    assert_eq!(excerpt["truncated"], true, "{j}");
    let text = excerpt["text"].as_str().unwrap();
    assert_eq!(text.lines().count(), 40, "{text}");
    assert!(text.starts_with("line 0\nline 1\n") && text.ends_with("line 39"));
    assert!(j["releases"][0]["attestations"][1]["diff_excerpt"].is_null());
    let t = page(&server, path).await.text().to_owned();
    assert!(t.contains("line 39</pre>"), "{t}");
    assert!(!t.contains("line 40"), "more than the excerpt shown");
    assert!(t.contains(&format!(
        "href=\"/blob/sha256/{}\">the whole diff report",
        hex::encode(diff)
    )));

    // A third key rebuilt other bytes: the rebuilders disagree among themselves too.
    let mut other = mismatch(Some([0x98; 32]));
    if let reprove_verifier::predicates::EntryKind::Rebuild(r) = other.kind() {
        let mut r = r.clone();
        r.predicate.rebuilt[0].digest.sha256 = [0xdd; 32];
        other = reprove_verifier::predicates::Entry::new(
            reprove_verifier::predicates::EntryKind::Rebuild(r),
        )
        .unwrap();
    }
    let third = signed::Key::new("third.example", 77);
    web::add(&server, &third.sign(&other)).await;
    let j = twin(&server, path).await;
    assert_eq!(
        verdict(&j),
        "disputed: 3 rebuilder keys rebuilt bytes that differ from the published artifacts \
         and from each other — see the diff"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_release_page_shows_its_recipe_its_diff_and_how_to_check_it() {
    let (server, f) = fixture().await;
    let t = page(&server, "/release/hello/1.0").await.text().to_owned();
    assert!(t.contains("<h2>Recipe</h2>"), "{t}");
    assert!(t.contains("href=\"https://example.com/5.git\""), "{t}");
    assert!(t.contains(&"b".repeat(40)), "the commit");
    assert!(t.contains("<code class=\"d\">make dist</code>"), "{t}");
    assert!(t.contains("<code>host</code>"), "the toolchain");
    assert!(
        t.contains("<dt>SOURCE_DATE_EPOCH</dt><dd>1700000000</dd>"),
        "{t}"
    );
    assert!(
        t.contains("<code class=\"d\">dist/art-0.tar.gz</code> → art-0.tar.gz"),
        "{t}"
    );
    let want = format!(
        "reprove verify art-0.tar.gz art-1.tar.gz --release hello@1.0 --policy POLICY.toml --ledger http://{}",
        server.addr
    );
    assert!(t.contains(&format!("<pre>{want}</pre>")), "{t}");
    let j = twin(&server, "/release/hello/1.0").await;
    let rel = &j["releases"][0];
    assert_eq!(rel["verify_command"], want);
    assert_eq!(rel["ledger_url"], format!("http://{}", server.addr));
    assert_eq!(rel["release"]["recipe"]["command"][1], "dist");
    assert_eq!(rel["release"]["recipe"]["environment"]["toolchain"], "host");
    assert_eq!(rel["release"]["recipe"]["source_date_epoch"], 1_700_000_000);
    assert_eq!(rel["release"]["source"]["commit"], "b".repeat(40));

    // The evil release: its names quoted for the shell and escaped for HTML, its diff excerpt
    // escaped inside the <pre>.
    let t = page(&server, EVIL_PATH).await.text().to_owned();
    assert!(
        t.contains(
            "--release &#39;&lt;script&gt;alert(1)&lt;/script&gt;@1.0&quot;&gt;&lt;b&gt;x&#39;"
        ),
        "{t}"
    );
    assert!(
        t.contains("<pre>--- a\n+++ b\n&lt;/pre&gt;&lt;script&gt;alert(&#39;diff&#39;)"),
        "{t}"
    );
    assert!(!t.contains("</pre><script>") && !t.contains("<img src=x"));
    let j = twin(&server, EVIL_PATH).await;
    assert_eq!(
        j["releases"][0]["attestations"][0]["diff_excerpt"]["text"],
        web::EVIL_DIFF
    );
    assert_eq!(
        j["releases"][0]["attestations"][0]["index"],
        f.evil_mismatch
    );

    // A Host that is not a plain host name is not repeated: the command says URL.
    for host in ["evil.example/<b>", "a b"] {
        let request = format!(
            "GET /release/hello/1.0?format=json HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        );
        let r = http::raw(server.addr, request.as_bytes()).await;
        assert_eq!(r.status, 200, "{host}: {}", r.text());
        let j = r.json();
        assert!(
            j["releases"][0]["verify_command"]
                .as_str()
                .unwrap()
                .ends_with("--ledger URL"),
            "{host}: {j}"
        );
        assert!(j["releases"][0]["ledger_url"].is_null());
    }
    let request = "GET /release/hello/1.0?format=json HTTP/1.1\r\nHost: log.example.org\r\n\
                   X-Forwarded-Proto: https\r\nConnection: close\r\n\r\n";
    let j = http::raw(server.addr, request.as_bytes()).await.json();
    assert_eq!(j["releases"][0]["ledger_url"], "https://log.example.org");
    server.stop().await;
}

#[tokio::test]
async fn every_signer_link_leads_to_its_key_page() {
    let (server, f) = fixture().await;
    let publisher = key_id(&signed::publisher());
    let t = page(&server, "/release/hello/1.0").await.text().to_owned();
    let link = format!("href=\"/key/{publisher}\"");
    assert!(t.contains(&link), "the Published by link: {t}");
    let t = page(&server, &format!("/key/{publisher}"))
        .await
        .text()
        .to_owned();
    assert!(t.contains("example.com/publisher"), "{t}");
    assert!(t.contains("href=\"/release/hello/1.0\""), "{t}");
    assert!(t.contains("not revoked"));
    let j = twin(&server, &format!("/key/{publisher}")).await;
    assert_eq!(j["entries_signed"]["count"], 3);
    assert_eq!(j["rebuild_attestations"]["count"], 0);
    let kinds: Vec<&str> = j["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["release"; 3]);
    assert_eq!(j["entries"][2]["index"], f.hello);

    // Every signer and revoked key on the pages has a key page that answers 200.
    let mut links = std::collections::BTreeSet::new();
    for path in ["/", "/release/hello/1.0", "/rebuilders", "/revocations"] {
        let t = page(&server, path).await.text().to_owned();
        for part in t.split("href=\"/key/").skip(1) {
            links.insert(part[..part.find('"').unwrap()].to_owned());
        }
    }
    assert_eq!(links.len(), 3, "{links:?}");
    for id in &links {
        page(&server, &format!("/key/{id}")).await;
    }
    // The stranger's key: revoked by its own notice, with its record as a rebuilder.
    let stranger = signed::stranger();
    let j = twin(&server, &format!("/key/{}", hex::encode(stranger.vkey()))).await;
    assert_eq!(j["revoked"], true);
    assert_eq!(j["revocations"][0]["index"], f.revocation);
    assert_eq!(j["rebuild_attestations"]["count"], 2);
    let t = page(&server, &format!("/key/{}", key_id(&stranger))).await;
    assert!(t.text().contains("its record as a rebuilder"));

    // Paging, and what is not a key page.
    let j = twin(&server, &format!("/key/{publisher}?after={}", f.evil)).await;
    assert_eq!(j["entries"].as_array().unwrap().len(), 1);
    assert_error_page(
        &server.get_with("/key/00000000", &[HTML]).await,
        404,
        "no entry in this log is signed by or revokes a key with ID 00000000",
    );
    assert_error_page(
        &server.get_with("/key/nonsense", &[HTML]).await,
        400,
        "not a key ID",
    );
    server
        .get_with("/key/nonsense", &[JSON])
        .await
        .assert_error(400, "not a key ID");
    server
        .get_with(&format!("/key/{publisher}?after=x"), &[JSON])
        .await
        .assert_error(400, "after");
    server.stop().await;
}

#[tokio::test]
async fn search_takes_a_sha256_prefixed_digest() {
    let (server, f) = fixture().await;
    let hex = hex::encode(f.hello_digests[0]);
    for q in [
        format!("sha256:{hex}"),
        format!("SHA256:{}", hex.to_uppercase()),
        format!("sha256%3A{hex}"),
        format!("+sha256:{hex}+"),
    ] {
        let r = server.get_with(&format!("/search?q={q}"), &[HTML]).await;
        assert_eq!(r.status, 303, "{q}: {}", r.text());
        assert_eq!(
            r.header("location"),
            Some(format!("/artifact/sha256/{hex}").as_str()),
            "{q}"
        );
    }
    for bad in [
        "sha256:",
        "sha256:abc",
        "sha256:%3Cb%3E",
        &format!("sha256:{hex}00"),
    ] {
        assert_error_page(
            &server.get_with(&format!("/search?q={bad}"), &[HTML]).await,
            400,
            "is not a sha256 digest: after &quot;sha256:&quot; come 64 hex characters",
        );
    }
    server
        .get_with("/search?q=sha256:zz", &[JSON])
        .await
        .assert_error(400, "not a sha256 digest");
    server.stop().await;
}

#[tokio::test]
async fn charts_are_inline_svg_with_their_numbers_in_text() {
    let (server, _) = fixture().await;
    let t = page(&server, "/").await.text().to_owned();
    assert!(
        t.contains("<svg class=\"chart\" viewBox=\"0 0 720 200\" role=\"img\"><title>Reproductions (green) and mismatches (red) per day"),
        "{t}"
    );
    assert!(t.contains("<th>Reproduced</th><th>Mismatches</th>"), "{t}");
    // Four attestations on the day: three reproduced, one mismatch, nothing else.
    assert!(t.contains(": 3 reproduced</title>") && t.contains(": 1 mismatch</title>"));
    assert!(!t.contains("other results</title>"), "{t}");
    let j = twin(&server, "/").await;
    assert_eq!(j["attestations_per_day"][0]["attestations"]["count"], 4);
    assert_eq!(j["attestations_per_day"][0]["reproduced"]["count"], 3);
    assert_eq!(j["attestations_per_day"][1]["reproduced"]["count"], 0);
    assert_eq!(j["attestations_per_day"][0]["mismatches"]["count"], 1);
    assert_eq!(j["attestations_per_day"][1]["mismatches"]["count"], 0);

    let t = page(&server, "/rebuilders").await.text().to_owned();
    assert!(t.contains("<title>Agreement of each rebuilder key"), "{t}");
    assert!(
        t.contains("rebuilder.example.org: 100 % agreed</title>"),
        "{t}"
    );
    assert!(t.contains("<td>100% (1 of 1)</td>"), "{t}");
    let j = twin(&server, "/rebuilders").await;
    let rows = j["rebuilders"].as_array().unwrap();
    assert!(rows.iter().all(|r| r["agreement_percent"] == 100), "{j}");
    assert!(rows.iter().all(|r| r["compared"] == 1), "{j}");

    let t = page(&server, "/releases?project=hello")
        .await
        .text()
        .to_owned();
    let sentence = "Of the 1 releases listed here, 1 (100%) are reproduced, 0 disputed, 0 pending.";
    assert!(t.contains(&format!("<title>{sentence}</title>")), "{t}");
    assert!(t.contains(&format!("<p>{sentence}</p>")), "{t}");
    let j = twin(&server, "/releases").await;
    assert_eq!(j["statuses"]["listed"], 3);
    assert_eq!(j["statuses"]["reproduced"], 1);
    assert_eq!(j["statuses"]["disputed"], 1);
    assert_eq!(j["statuses"]["pending"], 1);
    assert_eq!(j["statuses"]["reproduced_percent"], 33);
    server.stop().await;
}
