//! A small log for the web page tests: releases, rebuilds of every outcome by two
//! rebuilders, a malicious release, a revocation and a diff report blob, all signed and
//! submitted through `POST /add`.

use reprove_testkit::{
    artifacts, entry, rebuild_attestation, release_manifest, release_ref, revocation_notice, sha256,
};
use reprove_verifier::predicates::{
    Artifact, Digests, Entry, EntryKind, RebuildResult, RevocationReason, Source,
};

use crate::common::http::Server;
use crate::common::signed::{Key, publisher, rebuilder, stranger};

/// A project name that is a valid identifier and also markup.
pub const EVIL_PROJECT: &str = "<script>alert(1)</script>";

/// A diff report that tries to close the page's `<pre>`.
pub const EVIL_DIFF: &str =
    "--- a\n+++ b\n</pre><script>alert('diff')</script><img src=x onerror=alert(2)>\n";

/// What the fixture logged, by index.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub hello: u64,
    pub hello_digests: Vec<[u8; 32]>,
    pub hello_by_rebuilder: u64,
    pub hello_by_stranger: u64,
    pub evil: u64,
    pub evil_digest: [u8; 32],
    pub evil_mismatch: u64,
    pub diff_report: [u8; 32],
    pub pending: u64,
    pub revocation: u64,
    /// A rebuild by the stranger after its key was revoked.
    pub after_revocation: u64,
}

/// Today's UTC date, `YYYY-MM-DD`.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let days = secs / 86_400;
    // Civil date from days (Howard Hinnant).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

pub fn release_entry(
    project: &str,
    version: &str,
    digests: &[[u8; 32]],
    url: Option<&str>,
) -> Entry {
    let mut manifest = release_manifest(project, version, artifacts("art", digests));
    if let Some(u) = url {
        manifest.predicate.artifacts = manifest
            .subjects
            .iter()
            .map(|a| (a.name.clone(), u.to_owned()))
            .collect();
    }
    // A project name may be markup: the source URI stays a valid URI.
    manifest.predicate.source = Source::Git {
        uri: format!("https://example.com/{}.git", project.len()),
        commit: "b".repeat(40),
    };
    entry(EntryKind::Release(manifest))
}

/// A rebuild attestation of the release logged at `index` as `release_bytes`.
// Every knob of the fixture is an argument, so each call reads as the entry it makes.
#[allow(clippy::too_many_arguments)]
pub fn rebuild_entry(
    project: &str,
    version: &str,
    index: u64,
    release_bytes: &[u8],
    digests: &[[u8; 32]],
    result: RebuildResult,
    diff: Option<[u8; 32]>,
    day: &str,
    detail: Option<&str>,
) -> Entry {
    let release = release_ref(project, version, index, sha256(release_bytes));
    let mut att = rebuild_attestation(release, artifacts("art", digests));
    let p = &mut att.predicate;
    p.result = result;
    p.rebuilt = match result {
        RebuildResult::Reproduced => att.subjects.clone(),
        RebuildResult::Mismatch => vec![Artifact {
            name: att.subjects[0].name.clone(),
            digest: Digests::sha256([0xee; 32]),
        }],
        _ => Vec::new(),
    };
    p.diff_report = diff.map(Digests::sha256);
    p.started_on = format!("{day}T00:00:00Z");
    p.finished_on = format!("{day}T00:01:00Z");
    p.detail = detail.map(str::to_owned);
    entry(EntryKind::Rebuild(att))
}

/// Submits `bytes`, returning the index.
pub async fn add(server: &Server, bytes: &[u8]) -> u64 {
    let r = server.add(bytes).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["index"].as_u64().unwrap()
}

/// Fills a served log with the fixture.
pub async fn fill(server: &Server) -> Fixture {
    let day = today();
    let (p, a, b) = (publisher(), rebuilder(), stranger());
    let hello_digests = vec![[0x11; 32], [0x12; 32]];
    let hello_bytes = p.sign(&release_entry(
        "hello",
        "1.0",
        &hello_digests,
        Some("https://downloads.example.org/hello"),
    ));
    let hello = add(server, &hello_bytes).await;
    let rb = |k: &Key, result, diff, detail| {
        k.sign(&rebuild_entry(
            "hello",
            "1.0",
            hello,
            &hello_bytes,
            &hello_digests,
            result,
            diff,
            &day,
            detail,
        ))
    };
    let hello_by_rebuilder = add(server, &rb(&a, RebuildResult::Reproduced, None, None)).await;
    let hello_by_stranger = add(server, &rb(&b, RebuildResult::Reproduced, None, None)).await;

    let evil_digest = [0x66; 32];
    let evil_bytes = p.sign(&release_entry(
        EVIL_PROJECT,
        "1.0\"><b>x",
        &[evil_digest],
        Some("javascript:alert(3)"),
    ));
    let evil = add(server, &evil_bytes).await;
    let diff_report = sha256(EVIL_DIFF.as_bytes());
    server
        .ledger
        .put_blob(&diff_report, EVIL_DIFF.as_bytes())
        .unwrap();
    let evil_mismatch = add(
        server,
        &a.sign(&rebuild_entry(
            EVIL_PROJECT,
            "1.0\"><b>x",
            evil,
            &evil_bytes,
            &[evil_digest],
            RebuildResult::Mismatch,
            Some(diff_report),
            &day,
            Some("<img src=x onerror=alert(4)> differs"),
        )),
    )
    .await;

    let pending_bytes = p.sign(&release_entry("pending-proj", "2.0", &[[0x77; 32]], None));
    let pending = add(server, &pending_bytes).await;

    let mut notice = revocation_notice(&b.verifier(), RevocationReason::Retired);
    notice.comment = Some("<b>bye</b>".into());
    let revocation = add(server, &b.sign(&entry(EntryKind::Revocation(notice)))).await;
    let after_revocation = add(
        server,
        &b.sign(&rebuild_entry(
            "pending-proj",
            "2.0",
            pending,
            &pending_bytes,
            &[[0x77; 32]],
            RebuildResult::Reproduced,
            None,
            &day,
            None,
        )),
    )
    .await;
    Fixture {
        hello,
        hello_digests,
        hello_by_rebuilder,
        hello_by_stranger,
        evil,
        evil_digest,
        evil_mismatch,
        diff_report,
        pending,
        revocation,
        after_revocation,
    }
}
