//! End-to-end tests of `reprove ledger …`: the real binary, a real server on 127.0.0.1.
//!
//! The big test runs the whole life of a log: init, serve, submissions (good, duplicate and
//! refused), the tree rebuilt from the read API alone with every proof checked, a graceful
//! shutdown under load, restart, fsck, audit, and export served by a plain static server.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{
    ORIGIN, Server, StaticServer, agent, decode_lines, envelope, get, get_ok, init_log, post,
    release, reprove, signer, snapshot, text,
};
use reprove_verifier::checkpoint::{VerifiedCheckpoint, WitnessPolicy, verify_checkpoint};
use reprove_verifier::merkle::{
    consistency_proof, inclusion_proof, leaf_hash, root_from_reader, verify_consistency,
};
use reprove_verifier::note::NoteVerifier;
use reprove_verifier::proof::TlogProof;
use reprove_verifier::tiles::{
    BundleId, EntryBundle, Tile, TileHashReader, tree_tiles, verify_bundle,
};

/// What `POST /add` answered for one envelope.
#[derive(Debug, Clone)]
struct Ack {
    index: u64,
    duplicate: bool,
    proof: TlogProof,
    entry: Vec<u8>,
}

fn submit(agent: &ureq::Agent, url: &str, entry: &[u8]) -> Ack {
    let (status, body) = post(agent, &format!("{url}/add"), "application/json", entry).unwrap();
    assert_eq!(status, 200, "POST /add: {}", text(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    Ack {
        index: v["index"].as_u64().unwrap(),
        duplicate: v["duplicate"].as_bool().unwrap(),
        proof: TlogProof::parse(v["proof"].as_str().unwrap().as_bytes()).unwrap(),
        entry: entry.to_vec(),
    }
}

fn checkpoint(agent: &ureq::Agent, url: &str, key: &NoteVerifier) -> VerifiedCheckpoint {
    let bytes = get_ok(agent, &format!("{url}/checkpoint"));
    verify_checkpoint(&bytes, key, &WitnessPolicy::none()).unwrap()
}

/// Submits `count` envelopes from `threads` threads; returns every acknowledgement.
fn submit_many(url: &str, tag: &str, count: u64, threads: u64) -> Vec<Ack> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let agent = common::agent();
                    (t..count)
                        .step_by(threads as usize)
                        .map(|i| {
                            let signer =
                                signer(&format!("rebuilder{}.example", i % 3), i as u8 % 3);
                            submit(&agent, url, &envelope(&signer, &release(tag, i)))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

/// Rebuilds the tree of the served checkpoint from tiles and bundles alone, checks it, and
/// checks every acknowledgement and every checkpoint ever handed out against it.
fn check_log(url: &str, key: &NoteVerifier, acks: &[Ack]) -> VerifiedCheckpoint {
    let agent = agent();
    let head = checkpoint(&agent, url, key);
    let size = head.size();
    let mut reader = TileHashReader::new(size);
    let levels = tree_tiles(size);
    let mut level0 = BTreeMap::new();
    for level in &levels {
        for id in level.ids() {
            let bytes = get_ok(&agent, &format!("{url}/{}", id.path()));
            let tile = Tile::parse(id, &bytes).unwrap();
            if id.level() == 0 {
                level0.insert(id.index(), tile.clone());
            }
            reader.insert(tile).unwrap();
        }
    }
    assert_eq!(root_from_reader(&reader, size).unwrap(), *head.root());
    let mut entries = Vec::new();
    for (&n, tile) in &level0 {
        let id = BundleId::in_tree(n, size).unwrap();
        let bytes = get_ok(&agent, &format!("{url}/{}", id.path()));
        let bundle = EntryBundle::parse(id, &bytes).unwrap();
        verify_bundle(tile, &bundle).unwrap();
        reader.verify_bundle(&bundle, head.root()).unwrap();
        entries.extend(bundle.entries().iter().cloned());
    }
    assert_eq!(entries.len() as u64, size);

    let mut checkpoints = BTreeMap::new();
    for ack in acks {
        let i = ack.index as usize;
        assert_eq!(
            entries[i], ack.entry,
            "entry {i} is not what was acknowledged"
        );
        // The answer's proof holds on its own...
        let verified = ack
            .proof
            .verify(&ack.entry, key, &WitnessPolicy::none())
            .unwrap();
        checkpoints.insert(verified.checkpoint().size(), verified.checkpoint().clone());
        // ...and the log's proof against the head is the one the tiles give.
        let served = TlogProof::parse(&get_ok(&agent, &format!("{url}/proof/{i}"))).unwrap();
        let from_tiles = inclusion_proof(&reader, ack.index, size).unwrap();
        assert_eq!(served.proof(), &from_tiles[..], "inclusion proof of {i}");
        served
            .verify(&ack.entry, key, &WitnessPolicy::none())
            .unwrap();
    }
    // A static mirror has only the tlog-tiles paths; the server also has entries.
    if !acks.is_empty() {
        for (i, entry) in entries.iter().enumerate().step_by(97) {
            assert_eq!(&get_ok(&agent, &format!("{url}/entry/{i}")), entry);
        }
    }
    // Every checkpoint ever handed out is consistent with the head.
    for (&old, cp) in &checkpoints {
        let lines = get_ok(&agent, &format!("{url}/consistency?old={old}&new={size}"));
        let served = decode_lines(&lines);
        verify_consistency(old, size, &served, cp.root(), head.root()).unwrap();
        if old > 0 && old < size {
            assert_eq!(served, consistency_proof(&reader, old, size).unwrap());
        }
    }
    head
}

fn audit(url: &str, vkey: &str) -> std::process::Output {
    reprove(&[
        "ledger",
        "audit",
        url,
        "--log-key",
        vkey,
        "--dsse",
        "--json",
    ])
}

fn fsck(data: &Path) -> std::process::Output {
    reprove(&["ledger", "fsck", "--data", data.to_str().unwrap(), "--json"])
}

#[test]
fn a_log_lives_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("log");
    let vkey = init_log(&data);
    let key = NoteVerifier::parse(&vkey).unwrap();
    assert_eq!(key.name(), ORIGIN);
    assert_eq!(
        std::fs::read_to_string(data.join("log.pub"))
            .unwrap()
            .trim(),
        vkey
    );

    let server = Server::start(&data, &[]);
    let url = server.url.clone();
    let agent = agent();
    assert_eq!(checkpoint(&agent, &url, &key).size(), 0);

    // 600 entries: two full level-0 tiles and a partial one; a partial level-1 tile.
    let mut acks = submit_many(&url, "first", 600, 8);
    let indices: BTreeSet<u64> = acks.iter().map(|a| a.index).collect();
    assert_eq!(indices.len(), 600);
    assert_eq!(indices.last(), Some(&599));
    assert!(acks.iter().all(|a| !a.duplicate));

    // A duplicate gets the original's index and writes nothing.
    let again = submit(&agent, &url, &acks[17].entry);
    assert!(again.duplicate);
    assert_eq!(again.index, acks[17].index);
    assert_eq!(checkpoint(&agent, &url, &key).size(), 600);

    // Refused submissions: clear 4xx with a JSON error, and nothing written.
    let good = envelope(&signer("x.example", 9), &release("refused", 0));
    let mut bad_sig: serde_json::Value = serde_json::from_slice(&good).unwrap();
    bad_sig["signatures"][0]["keyid"] = signer("y.example", 8).verifier().to_string().into();
    let refusals: Vec<(&str, Vec<u8>, u16)> = vec![
        ("application/json", b"not json".to_vec(), 400),
        ("text/plain", good.clone(), 415),
        (
            "application/json",
            serde_json::to_vec(&bad_sig).unwrap(),
            403,
        ),
        ("application/json", vec![b' '; 70_000], 413),
        (
            "application/json",
            envelope(&signer("x.example", 9), b"{\"_type\":\"nope\"}"),
            400,
        ),
    ];
    for (content_type, body, want) in refusals {
        let (status, answer) = post(&agent, &format!("{url}/add"), content_type, &body).unwrap();
        assert_eq!(status, want, "{}", text(&answer));
        let v: serde_json::Value = serde_json::from_slice(&answer)
            .unwrap_or_else(|_| panic!("not a JSON error: {}", text(&answer)));
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    }
    assert_eq!(checkpoint(&agent, &url, &key).size(), 600);
    assert_eq!(get(&agent, &format!("{url}/entry/600")).0, 404);
    assert_eq!(get(&agent, &format!("{url}/tile/0/003")).0, 404);

    check_log(&url, &key, &acks);

    // Graceful shutdown under load: writers keep submitting while SIGTERM arrives; every
    // acknowledged entry survives, and writers see only clean refusals or closed connections.
    let (more, code) = std::thread::scope(|s| {
        let url = url.as_str();
        let writers: Vec<_> = (0..4u64)
            .map(|t| {
                s.spawn(move || {
                    let agent = common::agent();
                    let mut acked = Vec::new();
                    for i in (t..400).step_by(4) {
                        let entry = envelope(&signer("late.example", 4), &release("late", i));
                        match post(&agent, &format!("{url}/add"), "application/json", &entry) {
                            Ok((200, body)) => {
                                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                                acked.push(Ack {
                                    index: v["index"].as_u64().unwrap(),
                                    duplicate: false,
                                    proof: TlogProof::parse(
                                        v["proof"].as_str().unwrap().as_bytes(),
                                    )
                                    .unwrap(),
                                    entry,
                                });
                            }
                            Ok((503, _)) | Err(_) => break,
                            Ok((status, body)) => panic!("{status}: {}", text(&body)),
                        }
                    }
                    acked
                })
            })
            .collect();
        // Let some submissions through first (bounded: by WAIT, and the writers stop at 400).
        let agent = common::agent();
        for _ in 0..(common::WAIT.as_millis() / 20) {
            if checkpoint(&agent, url, &key).size() >= 650 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let code = server.terminate();
        let more: Vec<Ack> = writers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        (more, code)
    });
    assert_eq!(code, Some(0), "graceful shutdown must exit 0");
    acks.extend(more);

    // Stopped: fsck is clean.
    let o = fsck(&data);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["clean"], true);
    let size = report["log"]["tree_size"].as_u64().unwrap();
    assert!(size >= 650, "size {size}");

    // Restarted: everything acknowledged is there, at its index, consistent with every
    // checkpoint handed out before the restart.
    let server = Server::start(&data, &[]);
    let head = check_log(&server.url, &key, &acks);
    assert_eq!(head.size(), size);

    let o = audit(&server.url, &vkey);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["entries"], size);
    assert_eq!(report["clean"], true);
    server.terminate();

    // Export, serve the files with a plain static server, audit the mirror.
    let out = dir.path().join("mirror");
    let o = reprove(&[
        "ledger",
        "export",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(out.join("checkpoint").is_file());
    assert!(out.join("tile/0/000").is_file());
    assert!(out.join("tile/entries/000").is_file());
    let mirror = StaticServer::start(&out);
    let o = audit(&mirror.url, &vkey);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    // With a tile cache: full tiles and bundles are kept, and a second audit reads them back.
    let cache = dir.path().join("cache");
    for _ in 0..2 {
        let o = reprove(&[
            "ledger",
            "audit",
            &mirror.url,
            "--log-key",
            &vkey,
            "--cache",
            cache.to_str().unwrap(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}{}",
            text(&o.stdout),
            text(&o.stderr)
        );
    }
    assert_eq!(
        std::fs::read(cache.join("tile/0/000")).unwrap(),
        std::fs::read(out.join("tile/0/000")).unwrap()
    );
    assert!(cache.join("tile/entries/001").is_file());
    assert!(
        !cache.join("checkpoint").exists(),
        "only immutable files are cached"
    );
    check_log(&mirror.url, &key, &[]);

    // A second export is a no-op for full tiles; a wrong key is refused.
    let before = snapshot(&out);
    let o = reprove(&[
        "ledger",
        "export",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(snapshot(&out), before);

    // The mirror, damaged, fails the audit with exit 1 and says where.
    let tile = out.join("tile/0/001");
    let mut bytes = std::fs::read(&tile).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&tile, bytes).unwrap();
    let o = audit(&mirror.url, &vkey);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(
        text(&o.stdout).contains("tile/0/001"),
        "{}",
        text(&o.stdout)
    );
    // Another log's key: the checkpoint does not verify.
    let other = signer(ORIGIN, 77).verifier().to_string();
    let o = audit(&mirror.url, &other);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
}

#[test]
fn init_refuses_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("log");
    let d = data.to_str().unwrap();

    // Bad origins: nothing is created.
    for bad in ["", "has space", "a+b", "https://log.example/x"] {
        let o = reprove(&["ledger", "init", "--data", d, "--origin", bad]);
        assert_eq!(o.status.code(), Some(2), "origin {bad:?}");
        assert!(
            text(&o.stderr).contains("invalid origin"),
            "{}",
            text(&o.stderr)
        );
        assert!(!data.exists(), "origin {bad:?} created {d}");
    }

    // A key whose name is not the origin.
    let keys = dir.path().join("keys");
    let o = reprove(&[
        "key",
        "generate",
        "--name",
        "other.example/log",
        "--out",
        keys.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let key_file = keys.join("other.example_log.key");
    let o = reprove(&[
        "ledger",
        "init",
        "--data",
        d,
        "--origin",
        ORIGIN,
        "--key",
        key_file.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("must be its origin"),
        "{}",
        text(&o.stderr)
    );
    assert!(!data.exists());

    // A matching key is used as given, and no private key is written into the log.
    let o = reprove(&[
        "key",
        "generate",
        "--name",
        ORIGIN,
        "--out",
        keys.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let vkey = text(&o.stdout).trim().to_owned();
    let own_key = keys.join("log.example.test_reprove.key");
    let o = reprove(&[
        "ledger",
        "init",
        "--data",
        d,
        "--origin",
        ORIGIN,
        "--key",
        own_key.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).trim(), vkey);
    assert!(!data.join("log.key").exists());

    // An existing log is never touched.
    let before = snapshot(&data);
    let o = reprove(&["ledger", "init", "--data", d, "--origin", ORIGIN]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("already holds a log"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(snapshot(&data), before);

    // Nor is a directory holding anything else.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    let o = reprove(&[
        "ledger",
        "init",
        "--data",
        other.to_str().unwrap(),
        "--origin",
        ORIGIN,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("not empty"), "{}", text(&o.stderr));
    assert_eq!(snapshot(&other).len(), 1);

    // A generated key is written 0600 and matches the printed vkey.
    let fresh = dir.path().join("fresh");
    let vkey = init_log(&fresh);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(fresh.join("log.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let private = std::fs::read_to_string(fresh.join("log.key")).unwrap();
    let signer = reprove_verifier::note::NoteSigner::from_private_key(private.trim()).unwrap();
    assert_eq!(signer.verifier().to_string(), vkey);
}

#[test]
fn serve_refuses_what_is_not_a_sound_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("log");
    init_log(&data);
    let key = data.join("log.key");
    let k = key.to_str().unwrap();

    // What a refusal must leave unchanged: the files of a directory that is not a log, or
    // the logical content of a log (RocksDB rewrites its own bookkeeping files on open).
    let state = |path: &Path| -> String {
        if path.join("log.pub").exists() {
            text(&fsck(path).stdout)
        } else {
            format!("{:?}", snapshot(path))
        }
    };
    let refused = |path: &Path, extra: &[&str], why: &str| {
        let before = state(path);
        let mut args = extra.to_vec();
        if !extra.contains(&"--key") {
            args.extend(["--key", k]);
        }
        match Server::try_start(path, &args) {
            Ok(s) => panic!("served {} at {}", path.display(), s.url),
            Err((code, stderr)) => {
                assert_eq!(code, Some(2), "{stderr}");
                assert!(stderr.contains(why), "want {why:?} in: {stderr}");
            }
        }
        assert!(
            state(path) == before,
            "a refused serve changed {}",
            path.display()
        );
    };

    // No such directory (and it is not created), an empty one, one with other files.
    let missing = dir.path().join("missing");
    refused(&missing, &[], "not an initialized log");
    assert!(!missing.exists());
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    refused(&empty, &[], "not an initialized log");
    let junk = dir.path().join("junk");
    std::fs::create_dir(&junk).unwrap();
    std::fs::write(junk.join("CURRENT"), "MANIFEST-000001\n").unwrap();
    refused(&junk, &[], "");

    // The right log with another key of the same name: its checkpoint does not verify.
    let other = dir.path().join("other.key");
    std::fs::write(&other, signer(ORIGIN, 99).to_private_key_string() + "\n").unwrap();
    refused(
        &data,
        &["--key", other.to_str().unwrap()],
        "does not match its last signed checkpoint",
    );

    // A malformed allow-list is refused before anything starts.
    let allow = dir.path().join("allow.txt");
    std::fs::write(&allow, "# keys\nnot-a-key\n").unwrap();
    refused(&data, &["--allow-keys", allow.to_str().unwrap()], "line 2");

    // Damaged storage: the store's manifest pointer is gone.
    let damaged = dir.path().join("damaged");
    init_log(&damaged);
    std::fs::remove_file(damaged.join("CURRENT")).unwrap();
    refused(
        &damaged,
        &["--key", damaged.join("log.key").to_str().unwrap()],
        "",
    );

    // And the intact log still serves.
    let server = Server::start(&data, &[]);
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn the_allow_list_decides_who_may_submit() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("log");
    let vkey = init_log(&data);
    let key = NoteVerifier::parse(&vkey).unwrap();
    let allowed = signer("allowed.example", 1);
    let stranger = signer("stranger.example", 2);
    let allow = dir.path().join("allow.txt");
    std::fs::write(
        &allow,
        format!(
            "# who may submit\n{}  # the allowed one\n\n",
            allowed.verifier()
        ),
    )
    .unwrap();
    let server = Server::start(&data, &["--allow-keys", allow.to_str().unwrap()]);
    let agent = agent();
    let url = format!("{}/add", server.url);

    let (status, body) = post(
        &agent,
        &url,
        "application/json",
        &envelope(&stranger, &release("allow", 1)),
    )
    .unwrap();
    assert_eq!(status, 403, "{}", text(&body));
    assert_eq!(checkpoint(&agent, &server.url, &key).size(), 0);

    let entry = envelope(&allowed, &release("allow", 2));
    let ack = submit(&agent, &server.url, &entry);
    assert_eq!(ack.index, 0);
    ack.proof
        .verify(&entry, &key, &WitnessPolicy::none())
        .unwrap();
    assert_eq!(
        leaf_hash(&entry),
        leaf_hash(&get_ok(&agent, &format!("{}/entry/0", server.url)))
    );
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn fsck_reports_problems_with_exit_1_and_bench_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("log");
    let vkey = init_log(&data);
    let server = Server::start(&data, &[]);

    // A short, bounded load run: its JSON report adds up.
    let o = reprove(&[
        "bench",
        "ledger",
        "--url",
        &server.url,
        "--writers",
        "4",
        "--readers",
        "1",
        "--seconds",
        "30",
        "--max-requests",
        "300",
        "--pool",
        "200",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["write_errors"], 0, "{report}");
    let appended = report["appended"].as_u64().unwrap();
    assert!(appended > 0, "{report}");
    assert_eq!(
        report["end_tree_size"].as_u64().unwrap(),
        appended,
        "{report}"
    );
    assert_eq!(server.terminate(), Some(0));

    let d = data.to_str().unwrap();
    let o = reprove(&["ledger", "fsck", "--data", d, "--log-key", &vkey]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    assert!(text(&o.stdout).contains("clean"));
    // Checked against another key of the same name, every checkpoint is a problem: exit 1.
    let other = signer(ORIGIN, 42).verifier().to_string();
    let o = reprove(&["ledger", "fsck", "--data", d, "--log-key", &other, "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["clean"], false);
    assert!(report["problem_count"].as_u64().unwrap() > 0);
}

#[test]
fn fsck_and_audit_exit_2_on_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let vkey = signer(ORIGIN, 1).verifier().to_string();
    let o = reprove(&[
        "ledger",
        "fsck",
        "--data",
        empty.to_str().unwrap(),
        "--log-key",
        &vkey,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    // Nothing listens on this port (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = reprove(&[
        "ledger",
        "audit",
        &format!("http://127.0.0.1:{port}"),
        "--log-key",
        &vkey,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let o = reprove(&[
        "bench",
        "ledger",
        "--url",
        "http://192.0.2.1:80",
        "--seconds",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("--allow-remote"),
        "{}",
        text(&o.stderr)
    );
}

/// The value of an unlabelled or labelled Prometheus sample, e.g. `reprove_ledger_pool_depth`.
fn metric(agent: &ureq::Agent, url: &str, sample: &str) -> f64 {
    let body = text(&get_ok(agent, &format!("{url}/metrics")));
    body.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {sample} in {body}"))
}

#[test]
fn a_full_pool_answers_503_and_the_client_submits_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("log");
    let vkey = init_log(&data);
    // One place in the pool; a round runs 1.5 s after its submission arrived.
    let server = Server::start(&data, &["--pool-capacity", "1", "--batch-max-age", "1500"]);
    let http = agent();

    // A raw submission takes the only place until its round, 1.5 s on.
    let (url, first) = (
        server.url.clone(),
        envelope(&signer("first.example", 1), &release("busy", 0)),
    );
    let waiting = std::thread::spawn(move || {
        post(&agent(), &format!("{url}/add"), "application/json", &first)
    });
    let started = std::time::Instant::now();
    while metric(&http, &server.url, "reprove_ledger_pool_depth") < 1.0 {
        assert!(
            started.elapsed() < common::WAIT,
            "the first submission never reached the pool"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // A direct second submission is pushed back: 503, Retry-After, a JSON reason, not logged.
    let other = envelope(&signer("other.example", 2), &release("busy", 1));
    let mut r = http
        .post(&format!("{}/add", server.url))
        .header("content-type", "application/json")
        .send(&other[..])
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(r.headers().get("retry-after").unwrap(), "1");
    let body: serde_json::Value =
        serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap();
    assert!(body["error"].as_str().unwrap().contains("full"), "{body}");

    // The CLI's client is pushed back too, waits Retry-After and sends again until it is in.
    let keys = dir.path().join("keys");
    let o = reprove(&[
        "key",
        "generate",
        "--name",
        "alice.example",
        "--out",
        keys.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let key = keys.join("alice.example.key");
    let o = reprove(&[
        "key",
        "revoke",
        "--key",
        key.to_str().unwrap(),
        "--reason",
        "retired",
        "--ledger",
        &server.url,
        "--log-key",
        &vkey,
    ]);
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let (status, _) = waiting.join().unwrap().unwrap();
    assert_eq!(status, 200);
    assert!(
        metric(
            &http,
            &server.url,
            "reprove_ledger_rejections_total{reason=\"pool_full\"}"
        ) >= 2.0
    );
    // The first submission and the revocation notice: nothing else.
    let key = NoteVerifier::parse(&vkey).unwrap();
    assert_eq!(checkpoint(&http, &server.url, &key).size(), 2);
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn every_ledger_command_has_help() {
    for cmd in ["init", "serve", "fsck", "audit", "export"] {
        let o = reprove(&["ledger", cmd, "--help"]);
        assert!(o.status.success(), "{cmd}");
        assert!(text(&o.stdout).len() > 200, "{cmd}: {}", text(&o.stdout));
    }
    let o = reprove(&["bench", "ledger", "--help"]);
    assert!(o.status.success());
    assert!(text(&o.stdout).contains("--dedup-ratio"));
}
