//! Creating, opening and reopening a log: `init` and `open` refuse everything that is not
//! exactly what they are for, and a reopened log is the log that was closed.

use crate::common;

use common::{entry, fill, key, new_log, raw_db, signer, submission};
use reprove_ledger::storage::{cf, key as db_key};
use reprove_ledger::{Error, ErrorKind, Integrity, Ledger};
use reprove_verifier::merkle::empty_root;
use reprove_verifier::note::NoteSigner;

fn open_err(path: &std::path::Path) -> Error {
    Ledger::open(path, signer()).map(|_| ()).unwrap_err()
}

#[test]
fn init_signs_the_empty_tree_and_refuses_to_run_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let head = Ledger::init(&path, &signer()).unwrap();
    assert_eq!((head.size(), head.root()), (0, empty_root()));
    assert_eq!(common::verify_checkpoint(head.note()), (0, empty_root()));
    let err = Ledger::init(&path, &signer()).unwrap_err();
    assert!(matches!(err, Error::AlreadyInitialized { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    // Still the same, openable log.
    let (ledger, _w) = Ledger::open(&path, signer()).unwrap();
    assert_eq!(ledger.head(), head);
}

#[test]
fn init_refuses_a_directory_with_anything_in_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let err = Ledger::init(dir.path(), &signer()).unwrap_err();
    assert!(matches!(err, Error::DirectoryNotEmpty { .. }), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn open_refuses_what_is_not_an_initialized_log() {
    let dir = tempfile::tempdir().unwrap();
    // A path that does not exist, and an empty directory: nothing is created.
    let missing = dir.path().join("typo");
    assert!(matches!(open_err(&missing), Error::NotInitialized { .. }));
    assert!(!missing.exists());
    assert!(matches!(open_err(dir.path()), Error::NotInitialized { .. }));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // Some other RocksDB database.
    let other = dir.path().join("other");
    let mut opts = rocksdb::Options::default();
    opts.create_if_missing(true);
    drop(rocksdb::DB::open(&opts, &other).unwrap());
    assert!(matches!(open_err(&other), Error::NotInitialized { .. }));
    // Our column families but no format marker (a crash in the middle of init).
    let half = dir.path().join("half");
    opts.create_missing_column_families(true);
    drop(rocksdb::DB::open_cf(&opts, &half, cf::ALL).unwrap());
    let err = open_err(&half);
    assert!(
        matches!(
            err,
            Error::NotInitialized {
                reason: "no format marker",
                ..
            }
        ),
        "{err}"
    );
    assert!(matches!(
        Ledger::init(&half, &signer()),
        Err(Error::AlreadyInitialized { .. })
    ));
}

#[test]
fn open_refuses_another_key() {
    let (dir, ledger, writer) = new_log();
    drop((ledger, writer));
    let other = NoteSigner::from_seed(common::ORIGIN, &[1; 32]).unwrap();
    let err = Ledger::open(dir.path(), other).map(|_| ()).unwrap_err();
    assert!(
        matches!(err, Error::Integrity(Integrity::Checkpoint { .. })),
        "{err}"
    );
    let renamed = NoteSigner::from_seed("example.com/other", &[42; 32]).unwrap();
    assert!(Ledger::open(dir.path(), renamed).is_err());
}

#[test]
fn only_one_process_opens_a_log() {
    let (dir, _ledger, _writer) = new_log();
    assert!(matches!(open_err(dir.path()), Error::Storage(_)));
}

#[test]
fn reopening_keeps_everything() {
    let (dir, ledger, mut writer) = new_log();
    fill(&mut writer, 0, 1000, 300);
    let head = ledger.head();
    let proof = ledger.prove(123, Some(600)).unwrap();
    drop((ledger, writer));

    let (ledger, mut writer) = Ledger::open(dir.path(), signer()).unwrap();
    assert_eq!(ledger.head(), head);
    assert_eq!(ledger.prove(123, Some(600)).unwrap(), proof);
    assert_eq!(ledger.entry(999).unwrap(), entry(999));
    // The writer continues the same tree: duplicates are still known, new entries follow.
    let again = writer.append(&[submission(5), submission(1000)]).unwrap();
    assert_eq!((again[0].index, again[0].duplicate), (5, true));
    assert_eq!((again[1].index, again[1].duplicate), (1000, false));
    common::check_accepted(&entry(1000), &again[1]);
    assert_eq!(ledger.head().size(), 1001);
    let consistency = ledger.consistency_proof(1000, 1001).unwrap();
    let (_, root) = common::verify_checkpoint(ledger.head().note());
    reprove_verifier::merkle::verify_consistency(1000, 1001, &consistency, &head.root(), &root)
        .unwrap();
}

#[test]
fn a_read_only_open_checks_the_log_and_serves_it() {
    let (dir, ledger, mut writer) = new_log();
    fill(&mut writer, 0, 300, 100);
    let head = ledger.head();
    drop((ledger, writer));
    let ro = Ledger::open_read_only(dir.path(), key()).unwrap();
    assert_eq!(ro.head(), head);
    assert_eq!(ro.entry(299).unwrap(), entry(299));
}

/// Rewrites one record of the closed log in `dir`.
fn tamper(dir: &std::path::Path, cf_name: &str, key: &[u8], value: Option<&[u8]>) {
    let db = raw_db(dir);
    let cf = db.cf_handle(cf_name).unwrap();
    match value {
        Some(v) => db.put_cf(cf, key, v).unwrap(),
        None => db.delete_cf(cf, key).unwrap(),
    }
}

fn closed_log(size: u64) -> tempfile::TempDir {
    let (dir, ledger, mut writer) = new_log();
    fill(&mut writer, 0, size, 97);
    drop((ledger, writer));
    dir
}

#[test]
fn open_refuses_a_tampered_head_checkpoint() {
    let dir = closed_log(500);
    let db = raw_db(dir.path());
    let meta = db.cf_handle(cf::META).unwrap();
    let mut head = db.get_cf(meta, db_key::HEAD).unwrap().unwrap();
    drop(db);
    // "500" -> "501": the signature no longer verifies.
    let at = head.windows(4).position(|w| w == b"\n500").unwrap() + 3;
    head[at] = b'1';
    tamper(dir.path(), cf::META, db_key::HEAD, Some(&head));
    let err = open_err(dir.path());
    assert!(
        matches!(err, Error::Integrity(Integrity::Checkpoint { .. })),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Integrity);
}

#[test]
fn open_refuses_a_rolled_back_head() {
    // A validly signed but older head: the entries go past it.
    let dir = closed_log(500);
    let db = raw_db(dir.path());
    let old = db.get_cf(
        db.cf_handle(cf::CHECKPOINTS).unwrap(),
        db_key::checkpoint(485),
    );
    let old = old.unwrap().unwrap();
    drop(db);
    tamper(dir.path(), cf::META, db_key::HEAD, Some(&old));
    let err = open_err(dir.path());
    assert!(
        matches!(
            err,
            Error::Integrity(Integrity::HeadNotInHistory { size: 485 })
        ),
        "{err}"
    );
    // Also with the history rolled back to match, the stored tree is larger than signed.
    for size in 486..=500 {
        tamper(dir.path(), cf::CHECKPOINTS, &db_key::checkpoint(size), None);
    }
    let err = open_err(dir.path());
    assert!(
        matches!(err, Error::Integrity(Integrity::TileLength { .. })),
        "{err}"
    );
}

#[test]
fn open_refuses_a_tree_that_does_not_match_the_signed_root() {
    let dir = closed_log(500);
    // Flip one hash of the rightmost level-0 tile (on the right edge of the tree).
    let db = raw_db(dir.path());
    let tiles = db.cf_handle(cf::TILES).unwrap();
    let mut tile = db.get_cf(tiles, db_key::tile(0, 1)).unwrap().unwrap();
    drop(db);
    tile[0] ^= 1;
    tamper(dir.path(), cf::TILES, &db_key::tile(0, 1), Some(&tile));
    let err = open_err(dir.path());
    assert!(
        matches!(
            err,
            Error::Integrity(Integrity::RootMismatch { size: 500, .. })
        ),
        "{err}"
    );
}

#[test]
fn open_refuses_missing_or_extra_entries() {
    let dir = closed_log(300);
    tamper(dir.path(), cf::ENTRIES, &db_key::entry(299), None);
    assert!(matches!(
        open_err(dir.path()),
        Error::Integrity(Integrity::MissingEntry(299))
    ));
    tamper(
        dir.path(),
        cf::ENTRIES,
        &db_key::entry(299),
        Some(&entry(299)),
    );
    tamper(
        dir.path(),
        cf::ENTRIES,
        &db_key::entry(300),
        Some(b"sneaked in"),
    );
    let err = open_err(dir.path());
    assert!(
        matches!(
            err,
            Error::Integrity(Integrity::EntryPastHead { index: 300, .. })
        ),
        "{err}"
    );
    tamper(dir.path(), cf::ENTRIES, &db_key::entry(300), None);
    tamper(
        dir.path(),
        cf::ENTRIES,
        &db_key::entry(299),
        Some(b"changed"),
    );
    assert!(matches!(
        open_err(dir.path()),
        Error::Integrity(Integrity::LeafMismatch(299))
    ));
}
