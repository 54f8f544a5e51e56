//! Acknowledged means durable, across a crash: a child process appends rounds and reports each
//! acknowledged size; it is killed (SIGKILL) mid-stream, and the log must reopen with every
//! acknowledged entry and pass fsck.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{artifact, entry, fill, key, proven_lookup, signer};
use reprove_ledger::{FsckOptions, IndexKey, Ledger, fsck};

const CHILD_DIR: &str = "REPROVE_LEDGER_CRASH_CHILD_DIR";

/// The child: appends rounds forever, printing each acknowledged tree size. Only run by the
/// parent below (ignored otherwise).
#[test]
#[ignore = "run by killed_writer_loses_nothing_it_acknowledged"]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let (ledger, mut writer) = Ledger::open(dir.as_ref(), signer()).unwrap();
    let mut size = ledger.head().size();
    loop {
        fill(&mut writer, size, size + 100, 100);
        size += 100;
        println!("acked {size}");
    }
}

#[test]
fn killed_writer_loses_nothing_it_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    Ledger::init(dir.path(), &signer()).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "crash::crash_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut acked = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        if let Some(size) = line.unwrap().strip_prefix("acked ") {
            acked = size.parse().unwrap();
            if acked >= 3000 {
                break;
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(acked >= 3000, "the child stopped early");

    let (ledger, mut writer) = Ledger::open(dir.path(), signer()).unwrap();
    let size = ledger.head().size();
    assert!(size >= acked, "acknowledged {acked}, reopened at {size}");
    assert_eq!(size % 100, 0, "a round was torn");
    assert_eq!(ledger.entry(acked - 1).unwrap(), entry(acked - 1));
    // The verifiable index is written right after its round and completed on reopening if a
    // crash lost it: its signed note names exactly the reopened head, and an entry of the last
    // acknowledged round is proven.
    let proven = |ledger: &Ledger, i: u64| {
        let (note, indices) = proven_lookup(ledger, &IndexKey::Artifact(artifact(i)));
        (note.size, note.log_root, indices)
    };
    let head = ledger.head();
    assert_eq!(
        proven(&ledger, acked - 1),
        (size, head.root(), vec![acked - 1])
    );
    fill(&mut writer, size, size + 10, 10);
    assert_eq!(proven(&ledger, size + 9).2, vec![size + 9]);
    drop((ledger, writer));
    // The entries are the storage tests' unsigned ones: fsck checks the structure, not which
    // index records a signed entry calls for.
    let structural = FsckOptions {
        index_keys: false,
        ..FsckOptions::default()
    };
    let report = fsck(dir.path(), &key(), &structural).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
}
