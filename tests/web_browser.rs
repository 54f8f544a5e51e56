//! A real browser on the log's pages: the real `reprove ledger serve` with a log of crafted
//! signed entries, and headless Debian `chromium` loading the home page, searching for an
//! artifact (`sha256:<hex>`), following the link to its release (its verdict, recipe and
//! `reprove verify` command), to its publisher's key page and to an entry. Each step is
//! rendered by the browser (`--dump-dom` for the text, `--screenshot` for a PNG under
//! `target/`), at 1280 px wide and for some at 390 px (a phone); the test asserts on the
//! rendered text and that every screenshot is a PNG of the window's width. Then, with long
//! names in every column, every kind of page is measured as laid out: none is wider than a
//! 1280 px window or has a table that scrolls sideways in it, and none is wider than a 700 or
//! 390 px window (a table may scroll inside its frame there).
//!
//! Without chromium it prints SKIPPED and passes, except under `CI=true` (where
//! `make setup` installs it), where it fails.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, agent, envelope, init_log, post, signer};
use reprove_testkit::{
    entry, rebuild_attestation, release_manifest, release_ref, revocation_notice, sha256,
};
use reprove_verifier::note::NoteSigner;
use reprove_verifier::predicates::{
    Artifact, Comparison, Digests, Entry, EntryKind, RebuildResult, RevocationReason,
};

/// The longest one browser run may take.
const BROWSER_WAIT: Duration = Duration::from_secs(90);

pub(crate) fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Runs headless chromium on `url` with `args`, bounded in time; returns stdout.
pub(crate) fn browse(bin: &Path, profile: &Path, args: &[String], url: &str) -> String {
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).ok();
        s
    });
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > BROWSER_WAIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish {url} within {BROWSER_WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap()
}

/// A phone's and a laptop's window, as `--window-size` takes them.
const NARROW: &str = "390,844";
const WIDE: &str = "1280,900";

/// The rendered DOM of `url` in a window of `size` (`W,H`), and a screenshot of it saved as
/// `shot`: a PNG exactly `W` pixels wide.
fn render(bin: &Path, profile: &Path, url: &str, shot: &Path, size: &str) -> String {
    let window = format!("--window-size={size}");
    let dom = browse(
        bin,
        profile,
        &["--dump-dom".to_owned(), window.clone()],
        url,
    );
    browse(
        bin,
        profile,
        &[format!("--screenshot={}", shot.display()), window],
        url,
    );
    let png = std::fs::read(shot).unwrap_or_default();
    assert!(png.len() > 1000, "screenshot {} is empty", shot.display());
    assert_eq!(
        &png[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        shot.display()
    );
    // The IHDR chunk comes first: its width is the 4 bytes after its length and type.
    assert_eq!(&png[12..16], b"IHDR", "{}", shot.display());
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let want: u32 = size.split(',').next().unwrap().parse().unwrap();
    assert_eq!(width, want, "{} is {width} px wide", shot.display());
    dom
}

/// What is wider than a window `width` px wide on the page `html`, as the browser lays it out:
/// the page's `scrollWidth` against the window's `innerWidth`, and every element that scrolls
/// sideways inside it (a table in its `.wrap`). The pages have no JavaScript, and a script may
/// not read a frame of another origin, so the page is saved beside a local probe page (its
/// style is inline: it lays out the same) whose script measures it in a frame of that width.
/// Returns "" when nothing overflows.
fn overflow(bin: &Path, profile: &Path, html: &str, width: u32) -> String {
    let dir = profile.with_extension("probe");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("page.html"), html).unwrap();
    let probe = dir.join("probe.html");
    let page = format!(
        "<!doctype html><html><body style=\"margin:0\"><iframe id=\"f\" src=\"page.html\" \
         style=\"border:0;width:{width}px;height:900px\" onload=\"measure()\"></iframe>\
         <pre id=\"out\">not measured</pre><script>\
         function measure() {{\
           var w = document.getElementById('f').contentWindow, d = w.document;\
           var wide = [];\
           d.querySelectorAll('body *').forEach(function (x) {{\
             var r = x.getBoundingClientRect();\
             var name = x.tagName.toLowerCase() + (x.className ? '.' + x.className : '');\
             if (x.scrollWidth > x.clientWidth + 1 && getComputedStyle(x).overflowX != 'visible')\
               wide.push(name + ' scrolls ' + x.scrollWidth + ' > ' + x.clientWidth);\
             else if (r.right > w.innerWidth + 1) wide.push(name + ' ends at ' + Math.round(r.right));\
           }});\
           var e = d.documentElement;\
           if (e.scrollWidth > w.innerWidth) wide.unshift('page ' + e.scrollWidth + ' > ' + w.innerWidth);\
           document.getElementById('out').textContent = 'measured: ' + wide.join('; ');\
         }}</script></body></html>"
    );
    std::fs::write(&probe, page).unwrap();
    let dom = browse(
        bin,
        profile,
        &[
            "--dump-dom".to_owned(),
            "--allow-file-access-from-files".to_owned(),
            format!("--window-size={},900", width + 20),
        ],
        &format!("file://{}", probe.display()),
    );
    let out = dom
        .split("<pre id=\"out\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_default();
    let Some(wide) = out.strip_prefix("measured: ") else {
        panic!("the probe did not measure the page: {out:?}");
    };
    wide.replace("&gt;", ">")
}

/// The text of the page as a reader sees it: tags dropped, entities of the fixture decoded.
pub(crate) fn visible_text(dom: &str) -> String {
    let body = dom.split("<main>").nth(1).unwrap_or(dom);
    let mut out = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first `href` in `dom` starting with `prefix`.
fn link(dom: &str, prefix: &str) -> String {
    let needle = format!("href=\"{prefix}");
    let at = dom
        .find(&needle)
        .unwrap_or_else(|| panic!("no link to {prefix}… in {dom}"));
    let rest = &dom[at + 6..];
    rest[..rest.find('"').unwrap()].replace("&amp;", "&")
}

/// The one artifact of the browsed release.
fn hello(digest: [u8; 32]) -> Vec<Artifact> {
    vec![Artifact {
        name: "hello-2.1.tar.gz".into(),
        digest: Digests::sha256(digest),
    }]
}

fn release_statement(digest: [u8; 32]) -> Entry {
    let mut manifest = release_manifest("hello-browser", "2.1", hello(digest));
    let name = &manifest.subjects[0].name;
    manifest.predicate.artifacts =
        BTreeMap::from([(name.clone(), format!("https://example.org/{name}"))]);
    entry(EntryKind::Release(manifest))
}

fn rebuild_statement(digest: [u8; 32], index: u64, release_bytes: &[u8]) -> Entry {
    let release = release_ref("hello-browser", "2.1", index, sha256(release_bytes));
    entry(EntryKind::Rebuild(rebuild_attestation(
        release,
        hello(digest),
    )))
}

fn submit(url: &str, key: &NoteSigner, entry: &Entry) -> (u64, Vec<u8>) {
    let bytes = envelope(key, &entry.encode());
    let (status, body) = post(&agent(), &format!("{url}/add"), "application/json", &bytes).unwrap();
    assert_eq!(status, 200, "{}", common::text(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    (v["index"].as_u64().unwrap(), bytes)
}

#[test]
fn a_browser_searches_an_artifact_and_follows_it_to_its_release_and_an_entry() {
    let Some(bin) = chromium() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("chromium is not installed; `make setup` installs it (CI=true)");
        }
        eprintln!("SKIPPED: chromium is not installed (apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("log");
    init_log(&data);
    let server = Server::start(&data, &[]);
    let url = server.url.trim_end_matches('/').to_owned();

    let publisher = signer("publisher.example.org", 11);
    let rebuilder = signer("rebuilder.example.org", 12);
    let digest = sha256(b"hello-2.1 bytes");
    let (release_index, release_bytes) = submit(&url, &publisher, &release_statement(digest));
    let (rebuild_index, _) = submit(
        &url,
        &rebuilder,
        &rebuild_statement(digest, release_index, &release_bytes),
    );

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let profile = dir.path().join("chromium-profile");

    // 1. The home page.
    let dom = render(
        &bin,
        &profile,
        &format!("{url}/"),
        &shots.join("1-home.png"),
        WIDE,
    );
    let text = visible_text(&dom);
    assert!(text.contains("log.example.test/reprove"), "{text}");
    assert!(text.contains("Tree size 2 entries"), "{text}");
    assert!(text.contains("hello-browser 2.1 reproduced by 1"), "{text}");
    let text = visible_text(&render(
        &bin,
        &profile,
        &format!("{url}/"),
        &shots.join("1-home-390.png"),
        NARROW,
    ));
    assert!(
        text.contains("Reproductions (green) and mismatches (red) per day"),
        "{text}"
    );

    // 2. Searching for the artifact's digest (what the search form submits) lands on its page.
    let hex = hex::encode(digest);
    let dom = render(
        &bin,
        &profile,
        &format!("{url}/search?q=sha256%3A{hex}"),
        &shots.join("2-artifact.png"),
        WIDE,
    );
    let text = visible_text(&dom);
    assert!(text.contains(&format!("Artifact sha256 {hex}")), "{text}");
    assert!(text.contains("release hello-browser 2.1"), "{text}");
    assert!(
        text.contains("rebuild of hello-browser 2.1 : ✓ reproduced"),
        "{text}"
    );

    // 3. Its release.
    let release = link(&dom, "/release/");
    assert_eq!(release, "/release/hello-browser/2.1");
    let verdict = "hello-browser 2.1 reproduced by 1 rebuilder key: it rebuilt exactly the \
                   published bytes of every artifact Status";
    let command = format!(
        "reprove verify hello-2.1.tar.gz --release hello-browser@2.1 --policy POLICY.toml \
         --ledger {url}"
    );
    for (size, shot) in [(WIDE, "3-release.png"), (NARROW, "3-release-390.png")] {
        let dom = render(
            &bin,
            &profile,
            &format!("{url}{release}"),
            &shots.join(shot),
            size,
        );
        let text = visible_text(&dom);
        assert!(text.contains(verdict), "{size}: {text}");
        assert!(text.contains("Status reproduced by 1"), "{text}");
        assert!(
            text.contains("Published by publisher.example.org"),
            "{text}"
        );
        assert!(text.contains("Command make dist"), "{text}");
        assert!(text.contains(&command), "{size}: {text}");
        assert!(text.contains("rebuilder.example.org"), "{text}");
        assert!(text.contains(&format!("#{rebuild_index}")), "{text}");
    }
    let dom = browse(
        &bin,
        &profile,
        &["--dump-dom".to_owned()],
        &format!("{url}{release}"),
    );
    // "Published by" leads to the publisher's key page.
    let key = link(&dom, "/key/");
    let text = visible_text(&render(
        &bin,
        &profile,
        &format!("{url}{key}"),
        &shots.join("3-publisher.png"),
        NARROW,
    ));
    assert!(text.contains("Key publisher.example.org"), "{text}");
    assert!(text.contains("release hello-browser 2.1"), "{text}");

    // 4. The rebuild attestation's entry.
    let entry_page = link(&dom, &format!("/entry/{rebuild_index}"));
    let dom = render(
        &bin,
        &profile,
        &format!("{url}{entry_page}"),
        &shots.join("4-entry.png"),
        WIDE,
    );
    let text = visible_text(&dom);
    assert!(text.contains(&format!("Entry #{rebuild_index}")), "{text}");
    assert!(text.contains("✓ verifies against the checkpoint"), "{text}");
    assert!(text.contains("every signature verifies"), "{text}");
    assert!(text.contains("https://reprove.dev/rebuild/v1"), "{text}");
    // 5. No page is wider than a laptop's window, and no table scrolls sideways in it, with
    // long names in every column: a release with a long project, version and artifact name,
    // reproduced by one key and disputed by another, whose key is then revoked.
    let wide_table = format!("<table><tr><td>{}</td></tr></table>", "x".repeat(400));
    assert_ne!(
        overflow(&bin, &profile, &wide_table, 1280),
        "",
        "the probe sees a page wider than the window"
    );
    let (long, version) = (
        "a-project-with-a-rather-long-name-for-its-kind",
        "2026.12.02-rc1.build.7",
    );
    let artifacts = vec![Artifact {
        name: format!("{long}-{version}-linux-x86_64-unknown-gnu.tar.gz"),
        digest: Digests::sha256(sha256(b"long bytes")),
    }];
    let manifest = release_manifest(long, version, artifacts.clone());
    let (long_index, long_bytes) = submit(&url, &publisher, &entry(EntryKind::Release(manifest)));
    let reference = || release_ref(long, version, long_index, sha256(&long_bytes));
    let reproduced = rebuild_attestation(reference(), artifacts.clone());
    submit(&url, &rebuilder, &entry(EntryKind::Rebuild(reproduced)));
    let disputer = signer("rebuilder-two.operators.example.org", 13);
    let mut mismatch = rebuild_attestation(reference(), artifacts);
    mismatch.predicate.result = RebuildResult::Mismatch;
    mismatch.predicate.comparison = Comparison::BitIdentical;
    mismatch.predicate.rebuilt[0].digest = Digests::sha256([0xdd; 32]);
    mismatch.predicate.diff_report = Some(Digests::sha256([0x99; 32]));
    submit(&url, &disputer, &entry(EntryKind::Rebuild(mismatch)));
    let notice = revocation_notice(&disputer.verifier(), RevocationReason::Compromised);
    submit(&url, &disputer, &entry(EntryKind::Revocation(notice)));
    for path in [
        format!("/release/{long}/{version}"),
        format!("/rebuilder/{:08x}", disputer.key_id()),
        format!("/key/{:08x}", disputer.key_id()),
        "/".to_owned(),
        "/releases".to_owned(),
        release.clone(),
        format!("/artifact/sha256/{hex}"),
        format!("/entry/{release_index}"),
        entry_page.clone(),
        "/rebuilders".to_owned(),
        format!("/rebuilder/{:08x}", rebuilder.key_id()),
        key.clone(),
        "/revocations".to_owned(),
    ] {
        let sep = if path.contains('?') { '&' } else { '?' };
        let html = common::text(&common::get_ok(
            &agent(),
            &format!("{url}{path}{sep}format=html"),
        ));
        assert!(html.starts_with("<!doctype html>"), "{path}: {html}");
        let wide = overflow(&bin, &profile, &html, 1280);
        assert_eq!(wide, "", "{path} overflows at 1280 px");
        // Narrower, a wide table may scroll inside its frame, but the page does not.
        for width in [700, 390] {
            let wide = overflow(&bin, &profile, &html, width);
            assert!(!wide.starts_with("page"), "{path} at {width} px: {wide}");
        }
    }
    eprintln!("screenshots in {}", shots.display());
    assert_eq!(server.terminate(), Some(0));
}
