//! Staged releases against a real ledger on 127.0.0.1: plan (URLs fixed first, baked into the
//! artifact) → upload (the preview at the set URL) → publish --staged (the release URLs) → two
//! operators reproduce → announce (moves latest) → a second version that does not reproduce
//! cannot be announced and is withdrawn (410) → a yank moves latest back. And every refusal:
//! sealed sets, another publisher's set, the size cap, a wrong digest, announcing what fails
//! the gate, yanking what was never announced, malformed names — each a 4xx or exit 2 with
//! nothing changed.

use std::path::{Path, PathBuf};

use crate::common::{agent, get, get_ok, text};
use crate::consumer::{Op, World, attestation, key, outcome, run};
use reprove_verifier::note::NoteSigner;
use reprove_verifier::predicates::RebuildResult;

/// A key file for `signer` in the world's directory.
fn key_file(w: &World, name: &str, signer: &NoteSigner) -> PathBuf {
    let path = w.path(&format!("{name}.key"));
    std::fs::write(&path, format!("{}\n", signer.to_private_key_string())).unwrap();
    path
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// `reprove release <sub> NAME@VERSION …` as the publisher with `key`.
fn release(w: &World, sub: &str, what: &str, key: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut a = args(&[
        "release",
        sub,
        what,
        "--key",
        key.to_str().unwrap(),
        "--ledger",
        &w.url,
    ]);
    a.extend(extra.iter().map(|s| s.to_string()));
    outcome(&run(&a, w.dir.path()))
}

/// The artifact of `version`: it prints its own release URL, fixed at plan time.
fn build(w: &World, version: &str, release_url: &str, tamper: bool) -> PathBuf {
    let dir = w.path(&format!("dist-{version}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("src.tar.gz"), format!("source of {version}\n")).unwrap();
    let file = dir.join("hello.sh");
    let mut body =
        format!("#!/bin/sh\necho 'hello {version}: download me from {release_url}hello.sh'\n");
    if tamper {
        body.push_str("# not what the source builds\n");
    }
    std::fs::write(&file, body).unwrap();
    std::fs::write(
        dir.join("reprove.toml"),
        format!(
            "project = \"hello\"\nversion = \"{version}\"\n[source]\npath = \"src.tar.gz\"\n\
             [recipe]\ncommand = [\"make\"]\nsource_date_epoch = 1700000000\n\
             outputs = {{ \"out/hello.sh\" = \"hello.sh\" }}\n\
             [[artifact]]\nname = \"hello.sh\"\npath = \"hello.sh\"\n"
        ),
    )
    .unwrap();
    file
}

/// The release page of `hello@version` as headless Chromium renders it (its visible text);
/// `None` without Chromium outside CI.
fn page(w: &World, version: &str) -> Option<String> {
    browse(w, &format!("/release/hello/{version}"))
}

/// The page at `path` as headless Chromium renders it (its visible text); `None` without
/// Chromium outside CI.
fn browse(w: &World, path: &str) -> Option<String> {
    let Some(bin) = crate::web_browser::chromium() else {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "chromium is not installed; `make setup` installs it (CI=true)"
        );
        eprintln!("SKIPPED: the page checks (chromium is not installed)");
        return None;
    };
    let profile = w.path(&format!("chromium-{}", rand_suffix()));
    let dom = crate::web_browser::browse(
        &bin,
        &profile,
        &["--dump-dom".to_owned()],
        &format!("{}{path}", w.url),
    );
    Some(crate::web_browser::visible_text(&dom))
}

/// The versions of hello that `/releases?project=hello{extra}` lists, with their stages, and
/// how many it says it left out.
fn listed(w: &World, extra: &str) -> (Vec<(String, String)>, u64) {
    let body = get_ok(
        &agent(),
        &format!("{}/releases?project=hello{extra}&format=json", w.url),
    );
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let list = v["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["version"].as_str().unwrap().to_owned(),
                r["stage"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    (list, v["hidden"].as_u64().unwrap())
}

/// The announcement feed's entry titles.
fn announced_feed(w: &World) -> String {
    text(&get_ok(
        &agent(),
        &format!("{}/feed/announcements.atom", w.url),
    ))
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn header(url: &str, name: &str) -> (u16, Option<String>, Vec<u8>) {
    let resp = agent().get(url).call().unwrap();
    let status = resp.status().as_u16();
    let h = resp
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = resp.into_body().read_to_vec().unwrap_or_default();
    (status, h, body)
}

/// Signs a rebuild attestation of the release at `index` by `by` and logs it.
fn attest(
    w: &World,
    by: &NoteSigner,
    index: u64,
    version: &str,
    bytes: &[u8],
    result: RebuildResult,
) {
    let env = get_ok(&agent(), &format!("{}/entry/{index}", w.url));
    w.add_signed(
        by,
        &attestation(
            index,
            &env,
            "hello",
            version,
            &[("hello.sh", bytes)],
            result,
        ),
    );
}

fn policy(w: &World, publisher: &NoteSigner, ops: &[Op], extra: &str) -> PathBuf {
    let path = w.policy("p.toml", 2, "fail", ops);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text = format!("{extra}{text}");
    text.push_str(&format!(
        "\n[[publisher]]\nname = \"hello team\"\nprojects = [\"hello\"]\nkeys = [\"{}\"]\n",
        publisher.verifier()
    ));
    std::fs::write(&path, text).unwrap();
    path
}

fn consumer_args(w: &World, policy: &Path) -> Vec<String> {
    args(&[
        "--policy",
        policy.to_str().unwrap(),
        "--ledger",
        &w.url,
        "--state",
        w.state().to_str().unwrap(),
        "--cache",
        w.path("cache").to_str().unwrap(),
    ])
}

fn latest(w: &World, policy: &Path) -> (i32, String, String) {
    let mut a = args(&["latest", "hello", "--json"]);
    a.extend(consumer_args(w, policy));
    outcome(&run(&a, w.dir.path()))
}

fn announce(
    w: &World,
    key: &Path,
    policy: &Path,
    what: &str,
    extra: &[&str],
) -> (i32, String, String) {
    let mut a = args(&[
        "release",
        "announce",
        what,
        "--key",
        key.to_str().unwrap(),
        "--json",
    ]);
    a.extend(consumer_args(w, policy));
    a.extend(extra.iter().map(|s| s.to_string()));
    outcome(&run(&a, w.dir.path()))
}

/// Plans, uploads and publishes `version` (tampered or not); the release manifest's index.
fn stage(w: &World, key: &Path, version: &str, tamper: bool) -> (u64, Vec<u8>, String) {
    let what = format!("hello@{version}");
    let (code, out, err) = release(w, "plan", &what, key, &["--json"]);
    assert_eq!(code, 0, "plan: {out}{err}");
    let plan = json(&out);
    let (set_url, release_url) = (
        plan["set_url"].as_str().unwrap().to_owned(),
        plan["release_url"].as_str().unwrap().to_owned(),
    );
    assert!(
        set_url.starts_with(&format!("{}/sets/", w.url)),
        "{set_url}"
    );
    assert_eq!(release_url, format!("{}/dl/hello/{version}/", w.url));
    // Nothing uploaded yet: the set URL names no file, the release URL is not live.
    assert_eq!(get(&agent(), &format!("{set_url}hello.sh")).0, 404);
    let file = build(w, version, &release_url, tamper);
    let bytes = std::fs::read(&file).unwrap();
    let (code, out, err) = release(w, "upload", &what, key, &[file.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "upload: {out}{err}");
    // The preview: the exact bytes at the set URL, before any release.
    assert_eq!(get_ok(&agent(), &format!("{set_url}hello.sh")), bytes);
    assert_eq!(get(&agent(), &format!("{release_url}hello.sh")).0, 404);
    let manifest = w.path(&format!("dist-{version}/reprove.toml"));
    let a = args(&[
        "release",
        "publish",
        manifest.to_str().unwrap(),
        "--staged",
        "--local-only",
        "--json",
        "--key",
        key.to_str().unwrap(),
        "--ledger",
        &w.url,
        "--log-key",
        &w.log_vkey,
    ]);
    let (code, out, err) = outcome(&run(&a, w.dir.path()));
    assert_eq!(code, 0, "publish: {out}{err}");
    let index = json(&out)["index"].as_u64().unwrap();
    // Sealed: the release URL serves the same bytes, and the manifest names it.
    assert_eq!(get_ok(&agent(), &format!("{release_url}hello.sh")), bytes);
    (index, bytes, set_url)
}

#[test]
fn a_staged_release_from_plan_to_yank() {
    let w = World::new();
    let publisher = key("hello.example", 3);
    let pkey = key_file(&w, "publisher", &publisher);
    let (alice, bob) = (key("alice.example", 10), key("bob.example", 20));
    let policy = policy(
        &w,
        &publisher,
        &[Op::new("alice", &[&alice]), Op::new("bob", &[&bob])],
        "",
    );

    // 0.9: announced without reproduction (a security fix that could not wait).
    stage(&w, &pkey, "0.9", false);
    let (code, out, err) = announce(
        &w,
        &pkey,
        &policy,
        "hello@0.9",
        &["--unverified", "--reason", "CVE fix"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json(&out)["state"], "announced");
    let (code, out, err) = latest(&w, &policy);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json(&out)["latest"]["version"], "0.9");
    assert_eq!(json(&out)["latest"]["announced"]["unverified"], "CVE fix");

    // 1.0: two operators reproduce it; announce moves latest.
    let (i10, bytes10, _) = stage(&w, &pkey, "1.0", false);
    // Not yet reproduced: the announcement is refused, nothing logged, latest unchanged.
    let (code, out, err) = announce(&w, &pkey, &policy, "hello@1.0", &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("not announced"), "{err}");
    assert_eq!(json(&latest(&w, &policy).1)["latest"]["version"], "0.9");
    attest(&w, &alice, i10, "1.0", &bytes10, RebuildResult::Reproduced);
    attest(&w, &bob, i10, "1.0", &bytes10, RebuildResult::Reproduced);
    let (code, out, err) = announce(&w, &pkey, &policy, "hello@1.0", &[]);
    assert_eq!(code, 0, "{out}{err}");
    let (status, version, body) = header(
        &format!("{}/dl/hello/latest/hello.sh", w.url),
        "reprove-version",
    );
    assert_eq!((status, version.as_deref()), (200, Some("1.0")));
    assert_eq!(body, bytes10);
    let (code, out, err) = latest(&w, &policy);
    assert_eq!(code, 0, "{out}{err}");
    let l = json(&out);
    assert_eq!(l["latest"]["version"], "1.0");
    assert_eq!(
        l["latest"]["announced"]["attestations"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(l["ledger_latest"], "1.0");
    if let Some(text) = page(&w, "1.0") {
        assert!(text.contains("Stage announced"), "{text}");
        assert!(text.contains("Latest 1.0"), "{text}");
        assert!(text.contains("after 2 reproduction(s)"), "{text}");
    }
    // The release list and the feed show the announced versions, and only those.
    let (list, hidden) = listed(&w, "");
    assert_eq!(
        list,
        [
            ("1.0".into(), "announced".into()),
            ("0.9".into(), "announced".into())
        ]
    );
    assert_eq!(hidden, 0);
    let feed = announced_feed(&w);
    assert!(feed.contains("<title>hello 1.0</title>"), "{feed}");
    assert!(
        feed.contains("announced without reproduction: CVE fix"),
        "{feed}"
    );
    // The built artifact carries its own release URL, fixed before it was built.
    assert!(text(&bytes10).contains(&format!("{}/dl/hello/1.0/hello.sh", w.url)));

    installer(&w, &policy, &bytes10);

    // 2.0: its bytes are not what the source builds; the operators say mismatch.
    let (i20, bytes20, set20) = stage(&w, &pkey, "2.0", true);
    attest(&w, &alice, i20, "2.0", &bytes20, RebuildResult::Mismatch);
    attest(&w, &bob, i20, "2.0", &bytes20, RebuildResult::Mismatch);
    let before = get_ok(&agent(), &format!("{}/checkpoint", w.url));
    let (code, out, err) = announce(&w, &pkey, &policy, "hello@2.0", &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(
        get_ok(&agent(), &format!("{}/checkpoint", w.url)),
        before,
        "nothing logged"
    );
    assert_eq!(json(&latest(&w, &policy).1)["latest"]["version"], "1.0");
    // Released, not announced: off the release list (which says one is left out) and the feed.
    let (list, hidden) = listed(&w, "");
    assert!(list.iter().all(|(v, _)| v != "2.0"), "{list:?}");
    assert_eq!(hidden, 1);
    assert!(!announced_feed(&w).contains("hello 2.0"));
    let (list, _) = listed(&w, "&all=1");
    assert!(
        list.contains(&("2.0".into(), "released".into())),
        "{list:?}"
    );
    if let Some(text) = browse(&w, "/releases?project=hello") {
        assert!(text.contains("1 release(s) here are not listed"), "{text}");
        assert!(
            !text.contains("hello 2.0") && !text.contains("2.0\n"),
            "{text}"
        );
    }
    let (code, out, err) = release(
        &w,
        "withdraw",
        "hello@2.0",
        &pkey,
        &["--reason", "does not reproduce", "--json"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json(&out)["state"], "withdrawn");
    for url in [
        format!("{set20}hello.sh"),
        format!("{}/dl/hello/2.0/hello.sh", w.url),
    ] {
        let (status, body) = get(&agent(), &url);
        assert_eq!(status, 410, "{url}");
        assert!(
            text(&body).contains("does not reproduce"),
            "{}",
            text(&body)
        );
    }
    if let Some(text) = page(&w, "2.0") {
        assert!(text.contains("Stage withdrawn"), "{text}");
        assert!(text.contains("does not reproduce"), "{text}");
        assert!(text.contains("Latest 1.0"), "{text}");
    }
    // A withdrawn version stays withdrawn: no upload, no announcement, no second plan.
    let (code, _, err) = announce(
        &w,
        &pkey,
        &policy,
        "hello@2.0",
        &["--unverified", "--reason", "x"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("410") || err.contains("withdrawn"), "{err}");

    // verify: the withdrawn bytes are not trusted, and say why.
    let f20 = w.path("dist-2.0/hello.sh");
    let mut a = args(&["verify", f20.to_str().unwrap()]);
    a.extend(consumer_args(&w, &policy));
    let (code, out, err) = outcome(&run(&a, w.dir.path()));
    assert_eq!(code, 1, "{out}{err}");

    // A yank of 1.0 moves latest back to 0.9; 1.0's bytes stay downloadable, with a warning.
    let (code, out, err) = release(
        &w,
        "yank",
        "hello@1.0",
        &pkey,
        &["--reason", "bad default config", "--replacement", "0.9"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json(&latest(&w, &policy).1)["latest"]["version"], "0.9");
    let (status, yanked, body) = header(
        &format!("{}/dl/hello/1.0/hello.sh", w.url),
        "reprove-yanked",
    );
    assert_eq!(status, 200);
    assert_eq!(body, bytes10);
    assert!(yanked.unwrap().contains("bad default config"));
    if let Some(text) = page(&w, "1.0") {
        assert!(text.contains("Stage yanked"), "{text}");
        assert!(text.contains("Latest 0.9"), "{text}");
    }
    // The yanked version stays listed, marked; the withdrawn one only with all=1.
    let (list, hidden) = listed(&w, "");
    assert_eq!(
        list,
        [
            ("1.0".into(), "yanked".into()),
            ("0.9".into(), "announced".into())
        ]
    );
    assert_eq!(hidden, 1);
    let (list, _) = listed(&w, "&all=1");
    assert!(
        list.contains(&("2.0".into(), "withdrawn".into())),
        "{list:?}"
    );
    assert!(announced_feed(&w).contains("yanked since"));
    assert_eq!(
        get(&agent(), &format!("{}/releases?all=yes", w.url)).0,
        400,
        "all is 0 or 1"
    );
    // verify reports the yank: a warning by default (on_yanked = "warn"), a failure when asked.
    let f10 = w.path("dist-1.0/hello.sh");
    let mut a = args(&["verify", f10.to_str().unwrap(), "--json"]);
    a.extend(consumer_args(&w, &policy));
    let (code, out, err) = outcome(&run(&a, w.dir.path()));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("was yanked by its publisher"), "{out}");
    let strict = self::policy(
        &w,
        &publisher,
        &[Op::new("alice", &[&alice]), Op::new("bob", &[&bob])],
        "on_yanked = \"fail\"\n",
    );
    let mut a = args(&["verify", f10.to_str().unwrap()]);
    a.extend(consumer_args(&w, &strict));
    let (code, out, err) = outcome(&run(&a, w.dir.path()));
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("yanked"), "{out}");
    // Yanking again, or yanking what was never announced, is refused.
    let (code, _, err) = release(&w, "yank", "hello@1.0", &pkey, &["--reason", "again"]);
    assert_eq!(code, 2, "{err}");
}

/// PUT `bytes` as `file` of set `id`, signed by `by` over `signed` (its digest and size).
fn put(
    url: &str,
    id: &str,
    file: &str,
    by: &NoteSigner,
    bytes: &[u8],
    signed: ([u8; 32], u64),
) -> (u16, String) {
    use reprove_verifier::blob::{BlobSignature, set_file_message};
    let sig = BlobSignature::sign_message(by, &set_file_message(id, file, &signed.0, signed.1));
    let resp = agent()
        .put(&format!("{url}/sets/{id}/{file}"))
        .header("reprove-signature", &sig.encode())
        .header("reprove-sha256", &hex::encode(signed.0))
        .send(bytes)
        .unwrap();
    let status = resp.status().as_u16();
    (
        status,
        text(&resp.into_body().read_to_vec().unwrap_or_default()),
    )
}

fn plan(url: &str, by: &NoteSigner, project: &str, version: &str) -> (u16, serde_json::Value) {
    use reprove_verifier::blob::{BlobSignature, plan_message};
    let sig = BlobSignature::sign_message(by, &plan_message(project, version));
    let resp = agent()
        .post(&format!("{url}/sets"))
        .header("reprove-signature", &sig.encode())
        .header("content-type", "application/json")
        .send(serde_json::json!({"project": project, "version": version}).to_string())
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().read_to_vec().unwrap_or_default();
    (status, serde_json::from_slice(&body).unwrap_or_default())
}

#[test]
fn set_requests_that_break_a_rule_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("log");
    crate::common::init_log(&data);
    let (owner, stranger, listed) = (
        key("owner.example", 5),
        key("stranger.example", 6),
        key("listed.example", 7),
    );
    let project_key = format!("owned={}", listed.verifier());
    let server = crate::common::Server::start(
        &data,
        &["--max-artifact-bytes", "64", "--project-key", &project_key],
    );
    let url = server.url.clone();
    let sha = |b: &[u8]| -> [u8; 32] { crate::consumer::sha256(b) };

    // Plans: malformed names and the reserved version are 400; a project the ledger's
    // configuration owns is refused to anyone else (403); the first planner owns the rest.
    for (project, version) in [("a b", "1"), ("p", "latest"), ("p", ""), ("p/q", "1")] {
        assert_eq!(
            plan(&url, &owner, project, version).0,
            400,
            "{project}@{version}"
        );
    }
    assert_eq!(plan(&url, &owner, "owned", "1").0, 403);
    assert_eq!(plan(&url, &listed, "owned", "1").0, 201);
    let (status, set) = plan(&url, &owner, "p", "1");
    assert_eq!(status, 201);
    assert_eq!(
        plan(&url, &owner, "p", "1").0,
        200,
        "planning again is harmless"
    );
    assert_eq!(
        plan(&url, &stranger, "p", "2").0,
        403,
        "p belongs to its first planner"
    );
    let id = set["id"].as_str().unwrap().to_owned();
    let before = crate::common::snapshot(&data.join("blobs"));

    let good = b"the artifact".as_slice();
    // A signature over other bytes or by a stranger, a wrong digest, the cap, a bad name.
    assert_eq!(
        put(
            &url,
            &id,
            "a.bin",
            &stranger,
            good,
            (sha(good), good.len() as u64)
        )
        .0,
        403
    );
    assert_eq!(
        put(
            &url,
            &id,
            "a.bin",
            &owner,
            good,
            (sha(b"other"), good.len() as u64)
        )
        .0,
        422
    );
    let big = vec![7u8; 65];
    let (status, body) = put(&url, &id, "big.bin", &owner, &big, (sha(&big), 65));
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("limit of 64 bytes"), "{body}");
    assert_eq!(
        put(
            &url,
            "00",
            "a.bin",
            &owner,
            good,
            (sha(good), good.len() as u64)
        )
        .0,
        400
    );
    assert_eq!(
        put(
            &url,
            &"0".repeat(32),
            "a.bin",
            &owner,
            good,
            (sha(good), good.len() as u64)
        )
        .0,
        404
    );
    let (status, v) = (
        get(&agent(), &format!("{url}/sets/{id}")).0,
        serde_json::from_slice::<serde_json::Value>(&get_ok(&agent(), &format!("{url}/sets/{id}")))
            .unwrap(),
    );
    assert_eq!(status, 200);
    assert!(
        v["files"].as_object().unwrap().is_empty(),
        "nothing stored: {v}"
    );
    assert_eq!(
        crate::common::snapshot(&data.join("blobs")),
        before,
        "no blob kept"
    );

    // Stored; the same bytes again are fine, other bytes under the name are not.
    assert_eq!(
        put(
            &url,
            &id,
            "a.bin",
            &owner,
            good,
            (sha(good), good.len() as u64)
        )
        .0,
        201
    );
    assert_eq!(
        put(
            &url,
            &id,
            "a.bin",
            &owner,
            good,
            (sha(good), good.len() as u64)
        )
        .0,
        201
    );
    let other = b"other bytes".as_slice();
    assert_eq!(
        put(
            &url,
            &id,
            "a.bin",
            &owner,
            other,
            (sha(other), other.len() as u64)
        )
        .0,
        409
    );
    assert_eq!(get_ok(&agent(), &format!("{url}/sets/{id}/a.bin")), good);
    // Not released: no release URL, no latest.
    assert_eq!(get(&agent(), &format!("{url}/dl/p/1/a.bin")).0, 404);
    assert_eq!(get(&agent(), &format!("{url}/dl/p/latest/a.bin")).0, 404);
    assert_eq!(get(&agent(), &format!("{url}/latest/p")).0, 404);

    // Entries through the set: a stranger's, one of another version, one whose subjects are
    // not the set's files, and steps out of order are refused; the log does not grow.
    let cp = get_ok(&agent(), &format!("{url}/checkpoint"));
    let post = |env: &[u8]| -> (u16, String) {
        let (status, body) = crate::common::post(
            &agent(),
            &format!("{url}/sets/{id}/entries"),
            "application/json",
            env,
        )
        .unwrap();
        (status, text(&body))
    };
    let statement = |version: &str, files: &[(&str, &[u8])]| {
        crate::consumer::release_statement("p", version, files)
    };
    let env = |by: &NoteSigner, st: &[u8]| crate::common::envelope(by, st);
    assert_eq!(
        post(&env(&stranger, &statement("1", &[("a.bin", good)]))).0,
        403
    );
    assert_eq!(
        post(&env(&owner, &statement("2", &[("a.bin", good)]))).0,
        400
    );
    let (status, body) = post(&env(&owner, &statement("1", &[("a.bin", other)])));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not the set's files"), "{body}");
    assert_eq!(
        get_ok(&agent(), &format!("{url}/checkpoint")),
        cp,
        "nothing logged"
    );

    // The release seals the set: no more uploads, the release URL is live.
    let (status, body) = post(&env(&owner, &statement("1", &[("a.bin", good)])));
    assert_eq!(status, 200, "{body}");
    let (status, body) = put(
        &url,
        &id,
        "b.bin",
        &owner,
        good,
        (sha(good), good.len() as u64),
    );
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("sealed"), "{body}");
    assert_eq!(get_ok(&agent(), &format!("{url}/dl/p/1/a.bin")), good);
    let (status, _) = post(&env(&owner, &statement("1", &[("a.bin", good)])));
    assert_eq!(status, 409, "a second release of the version");
    server.kill();
}

/// `sh install.sh` with `path` as PATH; exit code, stderr.
fn sh(script: &Path, path: &str, install_dir: &Path, envs: &[(&str, &str)]) -> (i32, String) {
    let o = std::process::Command::new("/bin/sh")
        .arg(script)
        .env_clear()
        .env("PATH", path)
        .env("HOME", install_dir.parent().unwrap())
        .env("INSTALL_DIR", install_dir)
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    (o.status.code().unwrap_or(-1), text(&o.stderr))
}

/// The installer of hello@1.0 in a real shell: it installs the exact bytes; refuses a tampered
/// download, a machine without a SHA-256 tool, and (with `reprove` on the PATH) what `reprove
/// verify` does not trust — each time with nothing installed.
fn installer(w: &World, policy: &Path, bytes: &[u8]) {
    let script = w.path("install.sh");
    let a = args(&[
        "release",
        "installer",
        "hello@1.0",
        "-o",
        script.to_str().unwrap(),
        "--ledger",
        &w.url,
        "--log-key",
        &w.log_vkey,
    ]);
    let (code, out, err) = outcome(&run(&a, w.dir.path()));
    assert_eq!(code, 0, "{out}{err}");
    let system = "/usr/local/bin:/usr/bin:/bin";
    let target = w.path("installed");
    let (code, err) = sh(&script, system, &target, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(target.join("hello.sh")).unwrap(), bytes);

    // With reprove on the PATH, it verifies too: trusted here (two operators reproduced).
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_reprove")).parent().unwrap();
    let with_reprove = format!("{}:{system}", bin_dir.display());
    let verified = w.path("installed-verified");
    let state = w.state();
    let cache = w.path("cache");
    let envs = [
        ("REPROVE_POLICY", policy.to_str().unwrap()),
        ("XDG_STATE_HOME", state.to_str().unwrap()),
        ("XDG_CACHE_HOME", cache.to_str().unwrap()),
    ];
    let (code, err) = sh(&script, &with_reprove, &verified, &envs);
    assert_eq!(code, 0, "{err}");
    assert!(verified.join("hello.sh").exists());
    // …and under a policy that trusts another publisher for hello, it is refused.
    let other = w.path("other-publisher.toml");
    let text = std::fs::read_to_string(policy).unwrap();
    let publisher_line = text
        .lines()
        .rfind(|l| l.starts_with("keys = ["))
        .unwrap()
        .to_owned();
    let stranger = key("stranger.example", 99).verifier().to_string();
    std::fs::write(
        &other,
        text.replace(&publisher_line, &format!("keys = [\"{stranger}\"]")),
    )
    .unwrap();
    let distrusted = w.path("installed-distrusted");
    let envs_other = [
        ("REPROVE_POLICY", other.to_str().unwrap()),
        ("XDG_STATE_HOME", state.to_str().unwrap()),
        ("XDG_CACHE_HOME", cache.to_str().unwrap()),
    ];
    let (code, err) = sh(&script, &with_reprove, &distrusted, &envs_other);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("reprove verify does not trust"), "{err}");
    assert!(!distrusted.exists(), "nothing installed");

    // A tampered download: the same installer pointed at another server.
    let evil = w.path("evil");
    std::fs::create_dir_all(&evil).unwrap();
    std::fs::write(evil.join("hello.sh"), b"#!/bin/sh\necho owned\n").unwrap();
    let evil_url = crate::common::serve_dir(&evil);
    let tampered = w.path("install-tampered.sh");
    std::fs::write(
        &tampered,
        std::fs::read_to_string(&script)
            .unwrap()
            .replace(&format!("{}/dl/hello/1.0", w.url), &evil_url),
    )
    .unwrap();
    let refused = w.path("installed-tampered");
    let (code, err) = sh(&tampered, system, &refused, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is not this release"), "{err}");
    assert!(!refused.exists(), "nothing installed");

    // No SHA-256 tool: refused before anything is downloaded.
    let bare = w.path("bare-bin");
    std::fs::create_dir_all(&bare).unwrap();
    for tool in ["curl", "mktemp", "rm", "mkdir", "mv", "cut"] {
        let from = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap();
        std::os::unix::fs::symlink(from, bare.join(tool)).unwrap();
    }
    let none = w.path("installed-nohash");
    let (code, err) = sh(&script, bare.to_str().unwrap(), &none, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no sha256sum, shasum or openssl"), "{err}");
    assert!(!none.exists(), "nothing installed");
}

/// Files larger than the ledger's read and write chunks (1 MiB) go through whole — uploaded,
/// previewed, stored byte for byte — and a wrong digest over several chunks keeps nothing.
/// A stored file whose bytes rot is cut off mid-transfer: the download never completes.
#[test]
fn large_files_stream_whole_and_a_rotten_blob_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("log");
    crate::common::init_log(&data);
    let owner = key("owner.example", 5);
    let server = crate::common::Server::start(&data, &[]);
    let url = server.url.clone();
    let (status, set) = plan(&url, &owner, "big", "1");
    assert_eq!(status, 201);
    let id = set["id"].as_str().unwrap().to_owned();
    // 3 MiB and a bit: not a multiple of any chunk, no two MiB alike.
    let bytes: Vec<u8> = (0..(3u32 << 20) + 12_345)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let sha = crate::consumer::sha256(&bytes);
    let before = crate::common::snapshot(&data.join("blobs"));
    let mut wrong = bytes.clone();
    wrong[(2 << 20) + 7] ^= 1;
    let (status, body) = put(
        &url,
        &id,
        "a.bin",
        &owner,
        &wrong,
        (sha, bytes.len() as u64),
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        crate::common::snapshot(&data.join("blobs")),
        before,
        "nothing kept of a wrong upload"
    );
    let (status, body) = put(
        &url,
        &id,
        "a.bin",
        &owner,
        &bytes,
        (sha, bytes.len() as u64),
    );
    assert_eq!(status, 201, "{body}");
    let blob = data
        .join("blobs/sha256")
        .join(&hex::encode(sha)[..2])
        .join(hex::encode(sha));
    assert_eq!(std::fs::read(&blob).unwrap(), bytes, "stored byte for byte");
    let file_url = format!("{url}/sets/{id}/a.bin");
    assert_eq!(
        get_ok(&agent(), &file_url),
        bytes,
        "the preview is the file"
    );

    // Rot one byte in the last MiB: the first MiB goes out, the end never does.
    let mut rotten = bytes.clone();
    rotten[(3 << 20) + 100] ^= 0x40;
    std::fs::write(&blob, &rotten).unwrap();
    let mut resp = agent().get(&file_url).call().unwrap();
    assert_eq!(resp.status().as_u16(), 200, "the headers went out first");
    let read = resp.body_mut().with_config().limit(32 << 20).read_to_vec();
    assert!(
        read.is_err(),
        "a download of bytes that are not the file's must fail, got {} bytes",
        read.map(|b| b.len()).unwrap_or(0)
    );
    server.kill();
}
