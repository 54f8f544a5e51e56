//! The consumer's state directory: the last verified checkpoint per log, updated by
//! compare-and-swap, so concurrent `verify` runs never corrupt it or move it backwards.

use crate::common;
use crate::consumer;

use common::{agent, get_ok};
use consumer::{Op, World, attestation, key, outcome, snapshot_state};
use reprove_verifier::predicates::RebuildResult;

const ART: &[u8] = b"state artifact\n";

#[test]
fn two_verifies_writing_the_state_at_once_keep_it_consistent() {
    let w = World::new();
    let alice = key("alice.example", 10);
    let arts = [("s.tar.gz", ART)];
    let (ri, renv) = w.release(&key("publisher.example", 1), "s", "1", &arts);
    w.add_signed(
        &alice,
        &attestation(ri, &renv, "s", "1", &arts, RebuildResult::Reproduced),
    );
    let policy = w.policy("p.toml", 1, "fail", &[Op::new("alice", &[&alice])]);
    let file = w.file("s.tar.gz", ART);
    // Bounded: 6 rounds; in each the log grows, then two verifies race on one state directory.
    for round in 0..6u64 {
        let other = key(&format!("other-{round}.example"), 100 + round as u8);
        w.add_signed(
            &other,
            &attestation(ri, &renv, "s", "1", &arts, RebuildResult::Reproduced),
        );
        let runs: Vec<_> = (0..2)
            .map(|_| {
                let (w, policy, file) = (&w, &policy, &file);
                std::thread::spawn({
                    let args: Vec<String> = vec![
                        "verify".into(),
                        file.clone(),
                        "--policy".into(),
                        policy.display().to_string(),
                        "--ledger".into(),
                        w.url.clone(),
                        "--state".into(),
                        w.state().display().to_string(),
                        "--cache".into(),
                        w.path("cache").display().to_string(),
                    ];
                    let home = w.dir.path().to_path_buf();
                    move || consumer::run(&args, &home)
                })
            })
            .collect();
        for r in runs {
            let o = r.join().unwrap();
            let (code, out, err) = outcome(&o);
            assert_eq!(code, 0, "round {round}: {out}{err}");
        }
    }
    // The state holds exactly the log's latest checkpoint, and no temporary files.
    let latest = get_ok(&agent(), &format!("{}/checkpoint", w.url));
    let state = snapshot_state(&w);
    let files: Vec<_> = state
        .iter()
        .filter(|(p, _)| p.extension().is_none_or(|e| e != "lock"))
        .collect();
    assert_eq!(files.len(), 1, "{:?}", state.keys());
    assert_eq!(files[0].1, &latest);
    assert!(
        String::from_utf8_lossy(&latest).contains("\n8\n"),
        "8 entries logged"
    );

    // A state file that the policy's log key did not sign is an error, and is left alone.
    std::fs::write(files[0].0, b"not a checkpoint\n").unwrap();
    let (code, out, err) = outcome(&w.verify(&policy, &[&file]));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("does not hold a checkpoint signed by the policy's log key"),
        "{err}"
    );
    assert_eq!(std::fs::read(files[0].0).unwrap(), b"not a checkpoint\n");
}

/// The state lock is the kernel's (`flock`): a lock file a crashed run left behind blocks
/// nobody, and a lock another process holds is waited for, then the run goes on.
#[test]
fn a_left_over_lock_file_blocks_nobody_and_a_held_lock_is_waited_for() {
    let w = World::new();
    let alice = key("alice.example", 10);
    let arts = [("s.tar.gz", ART)];
    let (ri, renv) = w.release(&key("publisher.example", 1), "s", "1", &arts);
    w.add_signed(
        &alice,
        &attestation(ri, &renv, "s", "1", &arts, RebuildResult::Reproduced),
    );
    let policy = w.policy("p.toml", 1, "fail", &[Op::new("alice", &[&alice])]);
    let file = w.file("s.tar.gz", ART);
    let (code, out, err) = outcome(&w.verify(&policy, &[&file]));
    assert_eq!(code, 0, "{out}{err}");
    let state = snapshot_state(&w);
    let checkpoint = state
        .keys()
        .find(|p| p.extension().is_none_or(|e| e != "lock"))
        .unwrap()
        .clone();
    let lock = checkpoint.with_file_name(format!(
        "{}.lock",
        checkpoint.file_name().unwrap().to_string_lossy()
    ));
    // A fresh lock file with a dead run's pid in it.
    std::fs::write(&lock, "999999\n").unwrap();
    w.add_signed(
        &key("bob.example", 20),
        &attestation(ri, &renv, "s", "1", &arts, RebuildResult::Reproduced),
    );
    let started = std::time::Instant::now();
    let (code, out, err) = outcome(&w.verify(&policy, &[&file]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "it waited on a dead lock"
    );
    assert!(String::from_utf8_lossy(&std::fs::read(&checkpoint).unwrap()).contains("\n3\n"));
    // Held by another process (this one) for a moment: the run waits, then stores.
    let held = std::fs::OpenOptions::new().write(true).open(&lock).unwrap();
    held.lock().unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(700));
        drop(held);
    });
    w.add_signed(
        &key("carol.example", 30),
        &attestation(ri, &renv, "s", "1", &arts, RebuildResult::Reproduced),
    );
    let (code, out, err) = outcome(&w.verify(&policy, &[&file]));
    release.join().unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(String::from_utf8_lossy(&std::fs::read(&checkpoint).unwrap()).contains("\n4\n"));
}
