//! fsck finds nothing on a sound log and names every kind of damage done to the database
//! directly: entries, hashes, dedup and index records, checkpoints.

use crate::common;

use common::signed::{digest, publisher, release};
use common::{fill, key, new_log, raw_db};
use reprove_ledger::storage::{cf, key as db_key};
use reprove_ledger::{
    FsckOptions, FsckReport, INDEX_VERSION, IndexKey, Problem, Submission, Writer,
    derive_index_keys, fsck,
};
use reprove_verifier::merkle::leaf_hash;

/// Entry `i`: a release manifest of its own project, publishing the artifact `digest(i)`.
fn signed(i: u64) -> Vec<u8> {
    publisher().sign(&release(&format!("p{i}"), "1.0", &[digest(i)]))
}

/// Appends signed entries `from..to` in rounds of `round`, each with the index keys the
/// submission path derives for it (`keep` picks which, to write an older log).
fn fill_signed(
    writer: &mut Writer,
    range: std::ops::Range<u64>,
    round: u64,
    keep: impl Fn(&IndexKey) -> bool,
) {
    let all: Vec<u64> = range.collect();
    for part in all.chunks(usize::try_from(round).unwrap()) {
        let subs: Vec<Submission> = part
            .iter()
            .map(|&i| {
                let bytes = signed(i);
                let keys = derive_index_keys(&bytes)
                    .into_iter()
                    .filter(&keep)
                    .collect();
                Submission::new(bytes, keys)
            })
            .collect();
        writer.append(&subs).unwrap();
    }
}

/// A log of `size` signed entries, closed.
fn signed_log(size: u64) -> tempfile::TempDir {
    let (dir, ledger, mut writer) = new_log();
    fill_signed(&mut writer, 0..size, 211, |_| true);
    drop((ledger, writer));
    dir
}

/// fsck without the index-key checks: for logs of the storage tests' unsigned entries.
fn structural() -> FsckOptions {
    FsckOptions {
        index_keys: false,
        ..FsckOptions::default()
    }
}

fn closed_log(size: u64) -> tempfile::TempDir {
    let (dir, ledger, mut writer) = new_log();
    fill(&mut writer, 0, size, 211);
    drop((ledger, writer));
    dir
}

fn check(dir: &tempfile::TempDir) -> FsckReport {
    fsck(dir.path(), &key(), &FsckOptions::default()).unwrap()
}

fn check_structure(dir: &tempfile::TempDir) -> FsckReport {
    fsck(dir.path(), &key(), &structural()).unwrap()
}

fn put(dir: &tempfile::TempDir, name: &str, k: &[u8], v: &[u8]) {
    let db = raw_db(dir.path());
    db.put_cf(db.cf_handle(name).unwrap(), k, v).unwrap();
}

fn delete(dir: &tempfile::TempDir, name: &str, k: &[u8]) {
    let db = raw_db(dir.path());
    db.delete_cf(db.cf_handle(name).unwrap(), k).unwrap();
}

fn get(dir: &tempfile::TempDir, name: &str, k: &[u8]) -> Vec<u8> {
    let db = raw_db(dir.path());
    db.get_cf(db.cf_handle(name).unwrap(), k).unwrap().unwrap()
}

#[test]
fn a_sound_log_is_clean() {
    let dir = signed_log(1000);
    let report = check(&dir);
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(report.size, 1000);
    assert_eq!(report.checkpoints, 6, "init + 5 rounds");
    let records: usize = (0..1000)
        .map(|i| {
            let keys = derive_index_keys(&signed(i));
            keys.iter().collect::<std::collections::BTreeSet<_>>().len()
        })
        .sum();
    assert!(
        records >= 6000,
        "artifact, release, signer and scoped keys: {records}"
    );
    assert_eq!(report.index_records, records as u64);
    // Without the index-key checks the structural checks still pass, and a log of unsigned
    // entries passes them too.
    assert!(check_structure(&dir).is_clean());
    assert!(check_structure(&closed_log(500)).is_clean());
    // An empty log too.
    let (empty, l, w) = new_log();
    drop((l, w));
    assert!(check(&empty).is_clean());
}

#[test]
fn a_corrupted_entry_is_reported_with_everything_it_breaks() {
    let dir = signed_log(1000);
    put(&dir, cf::ENTRIES, &db_key::entry(300), &signed(12345));
    let report = check(&dir);
    let p = &report.problems;
    // Its leaf hash is no longer tile 0/1's, its dedup record and keys are missing, the
    // roots of every later checkpoint differ, and the old records no entry calls for.
    assert!(p.contains(&Problem::DedupMissing { index: 300 }), "{p:?}");
    assert!(
        p.contains(&Problem::TileMismatch { level: 0, index: 1 }),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|x| matches!(x, Problem::CheckpointRoot { size: 422, .. })),
        "{p:?}"
    );
    assert!(
        !p.iter()
            .any(|x| matches!(x, Problem::CheckpointRoot { size: 211, .. })),
        "{p:?}"
    );
    let missing = IndexKey::Artifact(digest(12345));
    assert!(
        p.contains(&Problem::IndexMissing {
            key: missing,
            index: 300
        }),
        "{p:?}"
    );
    let stray = IndexKey::Artifact(digest(300));
    assert!(
        p.contains(&Problem::IndexExtra {
            key: stray,
            index: 300
        }),
        "{p:?}"
    );
    let old_leaf = leaf_hash(&signed(300));
    assert!(
        p.contains(&Problem::DedupExtra {
            leaf: old_leaf,
            index: 300
        }),
        "{p:?}"
    );
}

#[test]
fn missing_and_stray_entries_are_reported() {
    let dir = signed_log(500);
    delete(&dir, cf::ENTRIES, &db_key::entry(17));
    put(&dir, cf::ENTRIES, &db_key::entry(500), b"extra");
    let p = check(&dir).problems;
    assert!(p.contains(&Problem::MissingEntry(17)), "{p:?}");
    assert!(p.contains(&Problem::EntryPastHead(500)), "{p:?}");
    // The stored leaf hash stands in for the missing entry: the tree still checks out.
    assert!(
        !p.iter().any(|x| matches!(x, Problem::TileMismatch { .. })),
        "{p:?}"
    );
}

#[test]
fn a_corrupted_hash_is_reported() {
    let dir = closed_log(70_000);
    for (level, index) in [(0u8, 5u64), (1, 0), (2, 0)] {
        let mut tile = get(&dir, cf::TILES, &db_key::tile(level, index));
        tile[8] ^= 0x80;
        put(&dir, cf::TILES, &db_key::tile(level, index), &tile);
    }
    put(&dir, cf::TILES, &db_key::tile(0, 999), &[0; 32]);
    delete(&dir, cf::TILES, &db_key::tile(0, 9));
    let report = check_structure(&dir);
    let p = &report.problems;
    assert_eq!(report.problem_count, 5, "{p:?}");
    for (level, index) in [(0u8, 5u64), (1, 0), (2, 0)] {
        assert!(p.contains(&Problem::TileMismatch { level, index }), "{p:?}");
    }
    assert!(
        p.contains(&Problem::TileExtra {
            level: 0,
            index: 999
        }),
        "{p:?}"
    );
    assert!(
        p.contains(&Problem::TileMissing { level: 0, index: 9 }),
        "{p:?}"
    );
}

#[test]
fn corrupted_dedup_and_index_records_are_reported() {
    let dir = signed_log(500);
    let leaf = leaf_hash(&signed(42));
    put(&dir, cf::DEDUP, &leaf, &7u64.to_be_bytes());
    let bogus = [9u8; 32];
    put(&dir, cf::DEDUP, &bogus, &1u64.to_be_bytes());
    let artifact = IndexKey::Artifact(digest(10));
    let mut record = vec![1u8];
    record.extend_from_slice(&digest(10));
    delete(
        &dir,
        cf::INDEX,
        &[&record[..], &10u64.to_be_bytes()].concat(),
    );
    put(
        &dir,
        cf::INDEX,
        &[&record[..], &11u64.to_be_bytes()].concat(),
        b"",
    );
    put(
        &dir,
        cf::INDEX,
        &[&record[..], &900u64.to_be_bytes()].concat(),
        b"",
    );
    put(&dir, cf::INDEX, b"\x09garbage", b"");
    let p = check(&dir).problems;
    assert!(
        p.contains(&Problem::DedupWrong {
            index: 42,
            found: 7
        }),
        "{p:?}"
    );
    assert!(
        p.contains(&Problem::DedupExtra {
            leaf: bogus,
            index: 1
        }),
        "{p:?}"
    );
    assert!(
        p.contains(&Problem::IndexMissing {
            key: artifact.clone(),
            index: 10
        }),
        "{p:?}"
    );
    assert!(
        p.contains(&Problem::IndexExtra {
            key: artifact.clone(),
            index: 11
        }),
        "{p:?}"
    );
    assert!(
        p.contains(&Problem::IndexPastHead {
            key: artifact,
            index: 900
        }),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|x| matches!(x, Problem::Undecodable { cf: "index", .. })),
        "{p:?}"
    );
}

#[test]
fn bad_checkpoints_are_reported() {
    let dir = signed_log(500);
    let mut note = get(&dir, cf::CHECKPOINTS, &db_key::checkpoint(211));
    let at = note.windows(4).position(|w| w == b"\n211").unwrap() + 1;
    note[at] = b'3';
    put(&dir, cf::CHECKPOINTS, &db_key::checkpoint(211), &note);
    let good = get(&dir, cf::CHECKPOINTS, &db_key::checkpoint(422));
    put(&dir, cf::CHECKPOINTS, &db_key::checkpoint(423), &good);
    delete(&dir, cf::META, db_key::HEAD);
    let p = check(&dir).problems;
    assert!(p.iter().any(|x| matches!(x, Problem::Head(_))), "{p:?}");
    let bad = |k: &str| {
        p.iter()
            .any(|x| matches!(x, Problem::Checkpoint { key, .. } if key == k))
    };
    assert!(bad("211") && bad("423"), "{p:?}");
    // The size then comes from the entries, and the remaining history still checks out.
    assert!(
        !p.iter()
            .any(|x| matches!(x, Problem::CheckpointRoot { .. })),
        "{p:?}"
    );
}

#[test]
fn a_directory_that_is_not_a_log_is_an_error_not_a_report() {
    let dir = tempfile::tempdir().unwrap();
    assert!(fsck(dir.path(), &key(), &FsckOptions::default()).is_err());
}

#[test]
fn a_reindex_adds_the_records_a_newer_derivation_gives_and_fsck_agrees() {
    let (dir, ledger, mut writer) = new_log();
    assert_eq!(writer.index_version().unwrap(), INDEX_VERSION);
    // A log written before signer-scoped records and the verifiable index: every record but
    // those, and its index version cleared (as a log of an earlier version has it).
    writer.set_verifiable_index(false).unwrap();
    fill_signed(&mut writer, 0..300, 211, |k| {
        !matches!(k, IndexKey::SignedBy { .. })
    });
    assert_eq!(writer.index_version().unwrap(), 0);
    drop(ledger);
    let before = fsck(dir.path(), &key(), &FsckOptions::default());
    // fsck opens read-only beside the writer; either it reports the missing records or it
    // cannot open, but it never calls the log clean.
    assert!(before.map_or(true, |r| !r.is_clean()));
    assert_eq!(writer.reindex().unwrap(), 300);
    assert_eq!(writer.index_version().unwrap(), INDEX_VERSION);
    // Run again (as after a crash in the middle): nothing changes.
    assert_eq!(writer.reindex().unwrap(), 300);
    drop(writer);
    let report = check(&dir);
    assert!(report.is_clean(), "{:?}", report.problems);
}

/// A log written with index version 4 (the verifiable index stored as strata, keys `s…`):
/// fsck leaves its index pending instead of reading the old records as leaves, and a reindex
/// replaces them with leaves whose root the entries give, the old records gone.
#[test]
fn a_log_of_index_version_4_is_reindexed_into_leaves() {
    let dir = signed_log(300);
    let clean = check(&dir);
    // What version 4 left: strata (the root's and one below it), version 4; and, as if it
    // had been written by version 4, a leaf record of a key no entry has.
    put(&dir, cf::VINDEX, b"s\0", &[0x11; 68]);
    put(&dir, cf::VINDEX, b"s\x01\xa0", &[0x22; 36]);
    put(&dir, cf::VINDEX, &[b'k'; 33], &[0; 40]);
    put(&dir, cf::META, db_key::INDEX_VERSION, &4u64.to_be_bytes());
    let pending = check(&dir);
    assert!(pending.index_pending);
    assert!(pending.is_clean(), "{:?}", pending.problems);

    let (ledger, mut writer) = reprove_ledger::Ledger::open(dir.path(), common::signer()).unwrap();
    assert_eq!(writer.index_version().unwrap(), 4);
    // Before the reindex, a proven lookup is refused by name (no proof of the old layout).
    let err = ledger
        .prove_lookup(&IndexKey::Artifact(digest(7)))
        .unwrap_err();
    assert!(matches!(err, reprove_ledger::Error::NoIndex), "{err}");
    assert_eq!(writer.reindex().unwrap(), 300);
    assert_eq!(writer.index_version().unwrap(), INDEX_VERSION);
    // A proven lookup after the upgrade verifies against the newly signed index note.
    assert_eq!(proven_artifact(&ledger, 7), (300, vec![7]));
    drop((ledger, writer));

    let db = raw_db(dir.path());
    let keys: Vec<Box<[u8]>> = db
        .iterator_cf(
            db.cf_handle(cf::VINDEX).unwrap(),
            rocksdb::IteratorMode::Start,
        )
        .map(|kv| kv.unwrap().0)
        .collect();
    drop(db);
    assert!(keys.len() > 2);
    assert!(
        keys.iter()
            .all(|k| &k[..] == b"note" || (k[0] == b'k' && k.len() == 33 && k[1..] != [b'k'; 32])),
        "{keys:?}"
    );
    let after = check(&dir);
    assert!(after.is_clean(), "{:?}", after.problems);
    assert!(!after.index_pending);
    assert_eq!(after.index_root, clean.index_root);
}

/// The proven lookup of entry `i`'s artifact, checked as a client checks it: the tree size its
/// note covers and the list.
fn proven_artifact(ledger: &reprove_ledger::Ledger, i: u64) -> (u64, Vec<u64>) {
    let (note, indices) = common::proven_lookup(ledger, &IndexKey::Artifact(digest(i)));
    (note.size, indices)
}

/// A stored record: key and value.
type Record = (Box<[u8]>, Box<[u8]>);

/// Every record of the verifiable index's column family.
fn vindex_records(dir: &tempfile::TempDir) -> Vec<Record> {
    let db = raw_db(dir.path());
    db.iterator_cf(
        db.cf_handle(cf::VINDEX).unwrap(),
        rocksdb::IteratorMode::Start,
    )
    .map(|kv| kv.unwrap())
    .collect()
}

/// A crash between a round's two batches — its entries and checkpoint durable, its verifiable
/// index (leaves and note) not — leaves the note one round behind, which fsck tells apart from
/// a wrong index: the stored leaves and note must be exactly the entries' index at the note's
/// size. Reopening the log derives the round's index from its entries: the same leaves and the
/// very note the round would have written, the log clean, the round's entries proven.
#[test]
fn a_round_whose_index_was_lost_is_completed_when_the_log_is_reopened() {
    let (dir, ledger, mut writer) = new_log();
    fill_signed(&mut writer, 0..200, 100, |_| true);
    drop((ledger, writer));
    let before = vindex_records(&dir);
    let (ledger, mut writer) = reprove_ledger::Ledger::open(dir.path(), common::signer()).unwrap();
    fill_signed(&mut writer, 200..300, 100, |_| true);
    drop((ledger, writer));
    let written = vindex_records(&dir);
    assert!(written.len() > before.len());
    let clean = check(&dir);
    assert!(clean.is_clean(), "{:?}", clean.problems);

    // Only the note lost: the leaves are the head's, the note is of the round before.
    let old_note = before
        .iter()
        .find(|(k, _)| &k[..] == b"note")
        .unwrap()
        .1
        .clone();
    {
        let db = raw_db(dir.path());
        db.put_cf(db.cf_handle(cf::VINDEX).unwrap(), b"note", &old_note)
            .unwrap();
    }
    let torn = check(&dir);
    assert_eq!(torn.index_behind, None);
    assert!(
        torn.problems
            .iter()
            .any(|x| matches!(x, Problem::IndexTree { .. })),
        "{:?}",
        torn.problems
    );

    // The last round's second batch lost: the column family as it was before the round.
    {
        let db = raw_db(dir.path());
        let cf = db.cf_handle(cf::VINDEX).unwrap();
        for (k, _) in &written {
            db.delete_cf(cf, k).unwrap();
        }
        for (k, v) in &before {
            db.put_cf(cf, k, v).unwrap();
        }
    }
    // fsck finds the stored index one round behind, and exactly the entries' index at that
    // size: the state a crash leaves, not a problem.
    let behind = check(&dir);
    assert!(behind.is_clean(), "{:?}", behind.problems);
    assert_eq!((behind.index_behind, behind.size), (Some(200), 300));
    assert_eq!(clean.index_behind, None);

    let (ledger, writer) = reprove_ledger::Ledger::open(dir.path(), common::signer()).unwrap();
    assert_eq!(proven_artifact(&ledger, 250), (300, vec![250]));
    drop((ledger, writer));
    assert_eq!(vindex_records(&dir), written);
    let after = check(&dir);
    assert!(after.is_clean(), "{:?}", after.problems);
    assert_eq!(after.index_root, clean.index_root);
}

/// The verifiable index is re-derived from the entries: a signed index root that is not the
/// entries' (the log signed a wrong index), a stored tree that does not give it, and a missing
/// note are each reported.
#[test]
fn a_wrong_or_missing_verifiable_index_is_reported() {
    use reprove_verifier::note::Note;
    use reprove_verifier::vindex::IndexNote;

    let dir = signed_log(300);
    let clean = check(&dir);
    assert!(clean.is_clean(), "{:?}", clean.problems);
    let honest = get(&dir, cf::VINDEX, b"note");
    // A note signed by the log key for the right tree, but another index root.
    let wrong = IndexNote {
        origin: common::ORIGIN.to_owned(),
        size: clean.size,
        log_root: clean.root,
        index_root: [7; 32],
    };
    let signed_wrong = Note::sign(&wrong.text(), &[&common::signer()])
        .unwrap()
        .encode();
    put(&dir, cf::VINDEX, b"note", &signed_wrong);
    let p = check(&dir).problems;
    assert!(
        p.iter()
            .any(|x| matches!(x, Problem::IndexRoot { signed, derived }
            if *signed == [7; 32] && *derived == clean.index_root)),
        "{p:?}"
    );
    // A note for a smaller tree (stale) is reported too.
    let stale = IndexNote {
        size: clean.size - 1,
        index_root: clean.index_root,
        ..wrong
    };
    let signed_stale = Note::sign(&stale.text(), &[&common::signer()])
        .unwrap()
        .encode();
    put(&dir, cf::VINDEX, b"note", &signed_stale);
    let p = check(&dir).problems;
    assert!(
        p.iter()
            .any(|x| matches!(x, Problem::IndexNote(r) if r.contains("covers tree size 299"))),
        "{p:?}"
    );
    // The honest note back, one stored leaf's list one index longer, then that leaf gone,
    // then a leaf that does not decode: the stored leaves no longer give the entries' root.
    put(&dir, cf::VINDEX, b"note", &honest);
    let (leaf, value) = {
        let db = raw_db(dir.path());
        let first = db
            .iterator_cf(
                db.cf_handle(cf::VINDEX).unwrap(),
                rocksdb::IteratorMode::Start,
            )
            .next()
            .unwrap()
            .unwrap();
        (first.0.to_vec(), first.1.to_vec())
    };
    assert_eq!((leaf[0], leaf.len(), value.len()), (b'k', 33, 40));
    let mut longer = value.clone();
    longer[7] += 1;
    for (tampered, want) in [
        (Some(&longer[..]), "tree"),
        (None, "tree"),
        (Some(&value[..39]), "undecodable"),
    ] {
        match tampered {
            Some(v) => put(&dir, cf::VINDEX, &leaf, v),
            None => delete(&dir, cf::VINDEX, &leaf),
        }
        let p = check(&dir).problems;
        assert!(
            p.iter().any(|x| match x {
                Problem::IndexTree { .. } => want == "tree",
                Problem::IndexUndecodable(_) => want == "undecodable",
                _ => false,
            }),
            "{want}: {p:?}"
        );
    }
    put(&dir, cf::VINDEX, &leaf, &value);
    assert!(check(&dir).is_clean());
    delete(&dir, cf::VINDEX, b"note");
    let p = check(&dir).problems;
    assert!(
        p.iter()
            .any(|x| matches!(x, Problem::IndexNote(r) if r == "missing")),
        "{p:?}"
    );
}

/// The staged releases' records: a sound set is clean; a set file's blob that rotted, was cut
/// short or went missing, a set record that does not parse or sits under another id, and an
/// owner that is not a key are each reported.
#[test]
fn damaged_sets_and_their_files_are_reported() {
    use reprove_ledger::sets::{SetFile, set_id};
    let (dir, ledger, writer) = new_log();
    let owner = publisher().verifier();
    let (mut set, created) = ledger.plan_set("p", "1", &owner, &[], 0).unwrap();
    assert!(created);
    let bytes: Vec<u8> = (0..3000u32).map(|i| (i % 253) as u8).collect();
    let sha: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&bytes).into();
    ledger.put_blob(&sha, &bytes).unwrap();
    for (name, b3) in [
        (
            "with-blake3.bin",
            Some(hex::encode(blake3::hash(&bytes).as_bytes())),
        ),
        ("without.bin", None),
    ] {
        set.files.insert(
            name.into(),
            SetFile {
                sha256: hex::encode(sha),
                size: bytes.len() as u64,
                blake3: b3,
            },
        );
    }
    ledger.save_set(&set).unwrap();
    drop((ledger, writer));
    assert!(check(&dir).is_clean(), "{:?}", check(&dir).problems);

    let blob = reprove_ledger::blob_path(dir.path(), &sha);
    let problems = |dir: &tempfile::TempDir| -> Vec<String> {
        check(dir)
            .problems
            .iter()
            .filter(|p| matches!(p, Problem::Set { .. }))
            .map(|p| p.to_string())
            .collect()
    };
    let mut rotten = bytes.clone();
    rotten[2000] ^= 1;
    std::fs::write(&blob, &rotten).unwrap();
    let found = problems(&dir);
    assert_eq!(found.len(), 2, "both files name the blob: {found:?}");
    assert!(
        found
            .iter()
            .all(|p| p.contains("blob's bytes are not the file's")),
        "{found:?}"
    );
    std::fs::write(&blob, &bytes[..100]).unwrap();
    assert!(
        problems(&dir)[0].contains("its blob is 100 bytes, the record says 3000"),
        "{:?}",
        problems(&dir)
    );
    std::fs::remove_file(&blob).unwrap();
    assert!(
        problems(&dir)[0].contains("its blob"),
        "{:?}",
        problems(&dir)
    );

    let id = set_id("p", "1");
    put(&dir, cf::SETS, format!("s{id}").as_bytes(), b"{not json");
    put(&dir, cf::SETS, b"op", b"not a key");
    let other = set_id("q", "2");
    let mut moved = set.clone();
    moved.files.clear();
    put(
        &dir,
        cf::SETS,
        format!("s{other}").as_bytes(),
        &serde_json::to_vec(&moved).unwrap(),
    );
    let found = problems(&dir);
    assert!(
        found.contains(&"owner of p is not a vkey".to_owned()),
        "{found:?}"
    );
    assert!(
        found.contains(&format!("set {id} does not parse")),
        "{found:?}"
    );
    assert!(
        found.contains(&format!("set {other} is not stored under the id of p@1")),
        "{found:?}"
    );
}
