//! Crash safety of the served log: SIGKILL the real server again and again while writer
//! threads submit, and after every restart check that
//!
//! - every acknowledged entry is in the log at its acknowledged index, byte for byte;
//! - every checkpoint ever handed out (in the answers' proofs) verifies under the log key and
//!   is consistent with the new tree (the log's /consistency proofs);
//! - fsck of the stopped log is clean.
//!
//! Cycles: `REPROVE_CRASH_CYCLES` (default 5; `make crash-test` runs 100). Every loop is
//! bounded in count, every wait in time; every address is 127.0.0.1.

use crate::common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{
    Server, WAIT, agent, decode_lines, envelope, get_ok, init_log, post, release, reprove, signer,
    text,
};
use reprove_verifier::checkpoint::{WitnessPolicy, verify_checkpoint};
use reprove_verifier::merkle::{Hash, verify_consistency};
use reprove_verifier::note::NoteVerifier;
use reprove_verifier::proof::TlogProof;
use reprove_verifier::tiles::{BundleId, EntryBundle, tree_tiles};

/// Entries each writer submits per cycle at most (the kill usually comes much earlier).
const PER_WRITER: u64 = 2000;
const WRITERS: u64 = 4;

#[derive(Debug, Clone)]
struct Ack {
    index: u64,
    entry: Vec<u8>,
    cycle: u64,
}

#[test]
fn a_killed_server_keeps_every_acknowledged_entry() {
    let cycles: u64 = std::env::var("REPROVE_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("log");
    let vkey = init_log(&data);
    let key = NoteVerifier::parse(&vkey).unwrap();

    let mut acks: Vec<Ack> = Vec::new();
    // Every checkpoint handed out: size -> root (two answers for one size must agree).
    let mut checkpoints: BTreeMap<u64, Hash> = BTreeMap::new();
    for cycle in 0..cycles {
        let server = Server::start(&data, &[]);
        check(&server.url, &key, &acks, &checkpoints, cycle);

        // Writers submit until the server dies; the kill comes after `target` answers.
        let target = 20 + (cycle * 37) % 150;
        let answered = AtomicU64::new(0);
        let dead = AtomicBool::new(false);
        let url = server.url.clone();
        let (new_acks, new_checkpoints) = std::thread::scope(|s| {
            let writers: Vec<_> = (0..WRITERS)
                .map(|w| {
                    let (url, answered, dead, key) = (&url, &answered, &dead, &key);
                    s.spawn(move || write(url, key, cycle, w, answered, dead))
                })
                .collect();
            let started = Instant::now();
            while answered.load(Ordering::Relaxed) < target
                && started.elapsed() < WAIT
                && !writers.iter().all(|h| h.is_finished())
            {
                std::thread::sleep(Duration::from_millis(2));
            }
            dead.store(true, Ordering::Relaxed);
            server.kill();
            let mut acks = Vec::new();
            let mut cps = Vec::new();
            for h in writers {
                let (a, c) = h.join().unwrap();
                acks.extend(a);
                cps.extend(c);
            }
            (acks, cps)
        });
        assert!(
            new_acks.len() as u64 >= target,
            "cycle {cycle}: only {} answers before the deadline",
            new_acks.len()
        );
        for (size, root) in new_checkpoints {
            let old = checkpoints.insert(size, root);
            assert!(
                old.is_none_or(|r| r == root),
                "two roots for tree size {size}"
            );
        }
        acks.extend(new_acks);

        // The killed log is sound.
        let o = reprove(&["ledger", "fsck", "--data", data.to_str().unwrap()]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "cycle {cycle}: fsck: {}{}",
            text(&o.stdout),
            text(&o.stderr)
        );
    }
    let server = Server::start(&data, &[]);
    check(&server.url, &key, &acks, &checkpoints, cycles);
    assert_eq!(server.terminate(), Some(0));
}

/// One writer: unique entries, back to back, until the server is gone (or the cap).
fn write(
    url: &str,
    key: &NoteVerifier,
    cycle: u64,
    w: u64,
    answered: &AtomicU64,
    dead: &AtomicBool,
) -> (Vec<Ack>, Vec<(u64, Hash)>) {
    let agent = agent();
    let signer = signer("crash.example", w as u8);
    let mut acks = Vec::new();
    let mut checkpoints = Vec::new();
    for i in 0..PER_WRITER {
        let entry = envelope(&signer, &release(&format!("c{cycle}w{w}"), i));
        match post(&agent, &format!("{url}/add"), "application/json", &entry) {
            Ok((200, body)) => {
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let proof = TlogProof::parse(v["proof"].as_str().unwrap().as_bytes()).unwrap();
                let verified = proof
                    .verify(&entry, key, &WitnessPolicy::none())
                    .expect("every answer's proof verifies");
                let cp = verified.checkpoint();
                checkpoints.push((cp.size(), *cp.root()));
                acks.push(Ack {
                    index: v["index"].as_u64().unwrap(),
                    entry,
                    cycle,
                });
                answered.fetch_add(1, Ordering::Relaxed);
            }
            // The server was killed under us: whatever was not answered may be lost.
            Err(_) if dead.load(Ordering::Relaxed) => break,
            Ok((503, _)) => std::thread::sleep(Duration::from_millis(20)),
            Ok((status, body)) => panic!("POST /add: {status}: {}", text(&body)),
            Err(e) => panic!("POST /add while the server is up: {e}"),
        }
    }
    (acks, checkpoints)
}

/// Checks the restarted log against everything it ever acknowledged.
fn check(
    url: &str,
    key: &NoteVerifier,
    acks: &[Ack],
    checkpoints: &BTreeMap<u64, Hash>,
    cycle: u64,
) {
    let agent = agent();
    let head = verify_checkpoint(
        &get_ok(&agent, &format!("{url}/checkpoint")),
        key,
        &WitnessPolicy::none(),
    )
    .unwrap();
    let size = head.size();

    // Every entry of the tree, from the bundles.
    let mut entries: Vec<Vec<u8>> = Vec::with_capacity(size as usize);
    if let Some(level0) = tree_tiles(size).first() {
        for n in 0..level0.full + u64::from(level0.partial.is_some()) {
            let id = BundleId::in_tree(n, size).unwrap();
            let bytes = get_ok(&agent, &format!("{url}/{}", id.path()));
            entries.extend(
                EntryBundle::parse(id, &bytes)
                    .unwrap()
                    .entries()
                    .iter()
                    .cloned(),
            );
        }
    }
    for ack in acks {
        let i = ack.index as usize;
        assert!(
            i < entries.len(),
            "after restart {cycle}: acknowledged entry {i} is past the tree ({size})"
        );
        assert_eq!(
            entries[i], ack.entry,
            "after restart {cycle}: entry {i} changed"
        );
        // The entries acknowledged just before the last kill, one by one through /entry.
        if ack.cycle + 1 == cycle {
            assert_eq!(
                get_ok(&agent, &format!("{url}/entry/{i}")),
                ack.entry,
                "after restart {cycle}: /entry/{i}"
            );
        }
    }
    for (&old, root) in checkpoints {
        assert!(
            old <= size,
            "a checkpoint of size {old} was handed out, the log is {size}"
        );
        let body = get_ok(&agent, &format!("{url}/consistency?old={old}&new={size}"));
        let proof: Vec<Hash> = decode_lines(&body);
        verify_consistency(old, size, &proof, root, head.root()).unwrap_or_else(|e| {
            panic!("after restart {cycle}: checkpoint {old} is not consistent with {size}: {e}")
        });
    }
}
