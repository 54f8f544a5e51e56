//! The write path and the read path against a real RocksDB: dedup, proofs, tiles, bundles
//! and lookups, all checked with the verifier's functions from served bytes only.

use crate::common;

use common::{artifact, check_accepted, entry, fill, new_log, submission, tile_id};
use reprove_ledger::{Direction, Error, ErrorKind, IndexKey, PageRequest, Submission};
use reprove_verifier::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use reprove_verifier::tiles::{
    BundleId, EntryBundle, Tile, TileHashReader, TileId, tree_tiles, verify_bundle,
};

#[test]
fn duplicates_get_the_original_index_within_and_across_rounds() {
    let (_dir, ledger, mut writer) = new_log();
    let first = writer
        .append(&[submission(0), submission(1), submission(0)])
        .unwrap();
    assert_eq!(
        first
            .iter()
            .map(|a| (a.index, a.duplicate))
            .collect::<Vec<_>>(),
        [(0, false), (1, false), (0, true)]
    );
    assert_eq!(ledger.head().size(), 2);
    for (a, i) in first.iter().zip([0, 1, 0]) {
        check_accepted(&entry(i), a);
    }
    // Across rounds, mixed with new entries.
    let second = writer
        .append(&[submission(2), submission(1), submission(3)])
        .unwrap();
    assert_eq!(
        second
            .iter()
            .map(|a| (a.index, a.duplicate))
            .collect::<Vec<_>>(),
        [(2, false), (1, true), (3, false)]
    );
    for (a, i) in second.iter().zip([2, 1, 3]) {
        check_accepted(&entry(i), a);
        assert_eq!(a.checkpoint.size(), 4);
    }
    // A round of duplicates only writes nothing and answers with the current head.
    let head = ledger.head();
    let third = writer.append(&[submission(3), submission(0)]).unwrap();
    assert!(third.iter().all(|a| a.duplicate && a.checkpoint == head));
    check_accepted(&entry(0), &third[1]);
    assert_eq!(ledger.head(), head);
    assert_eq!(ledger.find(&leaf_hash(&entry(3))).unwrap(), Some(3));
    assert_eq!(ledger.find(&leaf_hash(b"never")).unwrap(), None);
    // A duplicate's keys are not recorded again.
    let page = ledger
        .lookup(&IndexKey::Artifact(artifact(0)), PageRequest::default())
        .unwrap();
    assert_eq!(page.indices, [0]);
}

#[test]
fn proofs_from_storage_verify_against_every_signed_checkpoint() {
    let (_dir, ledger, mut writer) = new_log();
    let sizes = [1u64, 2, 3, 7, 8, 9, 255, 256, 257, 600, 1000];
    let mut at = 0;
    for &size in &sizes {
        fill(&mut writer, at, size, 1000);
        at = size;
    }
    for &size in &sizes {
        let signed = ledger.checkpoint_at(size).unwrap();
        let (s, root) = common::verify_checkpoint(signed.note());
        assert_eq!(s, size);
        for index in [0, size / 2, size - 1] {
            let inc = ledger.prove(index, Some(size)).unwrap();
            assert_eq!(inc.checkpoint, signed);
            verify_inclusion(&leaf_hash(&entry(index)), index, size, &inc.proof, &root).unwrap();
            let file = inc.tlog_proof(Some(b"hint".to_vec())).unwrap().encode();
            let parsed = reprove_verifier::proof::TlogProof::parse(&file).unwrap();
            let key = common::key();
            let none = reprove_verifier::checkpoint::WitnessPolicy::none();
            assert_eq!(
                parsed.verify(&entry(index), &key, &none).unwrap().index(),
                index
            );
            assert!(parsed.verify(&entry(index + 1), &key, &none).is_err());
        }
        for &later in sizes.iter().filter(|&&l| l >= size) {
            let (_, later_root) =
                common::verify_checkpoint(ledger.checkpoint_at(later).unwrap().note());
            let proof = ledger.consistency_proof(size, later).unwrap();
            verify_consistency(size, later, &proof, &root, &later_root).unwrap();
        }
    }
    // Proofs at sizes never signed are still valid against the root they imply.
    let proof = ledger.inclusion_proof(10, 500).unwrap();
    assert_eq!(
        proof.len(),
        reprove_verifier::merkle::inclusion_proof_len(10, 500)
    );
    // Out of range: bad requests and not-founds, never panics.
    let err = ledger.inclusion_proof(1000, 1000).unwrap_err();
    assert!(
        matches!(
            err,
            Error::IndexOutOfRange {
                index: 1000,
                size: 1000
            }
        ),
        "{err}"
    );
    let err = ledger.inclusion_proof(0, 1001).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadRequest);
    assert_eq!(
        ledger.consistency_proof(9, 8).unwrap_err().kind(),
        ErrorKind::BadRequest
    );
    assert_eq!(
        ledger.consistency_proof(9, 1001).unwrap_err().kind(),
        ErrorKind::BadRequest
    );
    assert!(matches!(
        ledger.prove(0, Some(500)),
        Err(Error::CheckpointNotFound(500))
    ));
    assert!(matches!(
        ledger.entry(1000),
        Err(Error::EntryNotFound(1000))
    ));
}

/// The tiles and bundles a tree of `size` has, served after the log grew past it, rebuild
/// its signed root, and a client reading them verifies every bundle.
fn check_tree_from_tiles(ledger: &reprove_ledger::Ledger, size: u64) {
    let (s, root) = common::verify_checkpoint(ledger.checkpoint_at(size).unwrap().note());
    assert_eq!(s, size);
    assert_eq!(
        common::root_from_served_tiles(ledger, size),
        root,
        "size {size}"
    );
    let mut reader = TileHashReader::new(size);
    for level in tree_tiles(size) {
        for id in level.ids() {
            reader
                .insert(Tile::parse(id, &ledger.tile(id).unwrap()).unwrap())
                .unwrap();
        }
    }
    let level0 = tree_tiles(size)[0];
    for id in level0.ids() {
        let bundle_id = BundleId::in_tree(id.index(), size).unwrap();
        let bundle = EntryBundle::parse(bundle_id, &ledger.bundle(bundle_id).unwrap()).unwrap();
        let tile = Tile::parse(id, &ledger.tile(id).unwrap()).unwrap();
        verify_bundle(&tile, &bundle).unwrap();
        reader.verify_bundle(&bundle, &root).unwrap();
    }
}

#[test]
fn partial_tiles_rebuild_the_root_at_every_interesting_size() {
    let (_dir, ledger, mut writer) = new_log();
    let sizes = [1u64, 255, 256, 257, 65_536, 70_000];
    let mut at = 0;
    for &size in &sizes {
        fill(&mut writer, at, size, 4099);
        at = size;
        check_tree_from_tiles(&ledger, size);
    }
    // Older trees are served from the grown log: their partial tiles are prefixes.
    for &size in &sizes {
        check_tree_from_tiles(&ledger, size);
    }
    // The spec's example for 70,000.
    let widths: Vec<_> = tree_tiles(70_000)
        .iter()
        .map(|l| (l.full, l.partial))
        .collect();
    assert_eq!(widths, [(273, Some(112)), (1, Some(17)), (0, Some(1))]);
    // Tiles and bundles the tree does not have are not found, whatever their width.
    for missing in [
        tile_id(0, 273, 256),
        tile_id(0, 273, 113),
        tile_id(0, 274, 1),
        tile_id(1, 1, 18),
        tile_id(2, 0, 2),
        tile_id(3, 0, 1),
        tile_id(63, u64::MAX, 256),
    ] {
        let err = ledger.tile(missing).unwrap_err();
        assert!(
            matches!(err, Error::TileNotFound(t) if t == missing),
            "{missing}: {err}"
        );
        assert_eq!(err.kind(), ErrorKind::NotFound);
    }
    // Any narrower width of an existing tile is its prefix.
    let full = ledger.tile(tile_id(0, 273, 112)).unwrap();
    assert_eq!(ledger.tile(tile_id(0, 273, 5)).unwrap(), full[..5 * 32]);
    for missing in [
        BundleId::new(273, 256).unwrap(),
        BundleId::new(273, 113).unwrap(),
        BundleId::new(274, 1).unwrap(),
        BundleId::new(u64::MAX, 256).unwrap(),
    ] {
        assert!(matches!(
            ledger.bundle(missing),
            Err(Error::BundleNotFound(_))
        ));
    }
    let partial = BundleId::new(273, 7).unwrap();
    let bundle = EntryBundle::parse(partial, &ledger.bundle(partial).unwrap()).unwrap();
    assert_eq!(bundle.entries()[6], entry(273 * 256 + 6));
}

#[test]
fn lookups_page_through_log_order_both_ways() {
    let (_dir, ledger, mut writer) = new_log();
    fill(&mut writer, 0, 100, 30);
    let key = IndexKey::Signer("signer-1".into());
    let want: Vec<u64> = (0..100).filter(|i| i % 3 == 1).collect();
    for direction in [Direction::Forward, Direction::Backward] {
        let mut got: Vec<u64> = Vec::new();
        let mut cursor = None;
        loop {
            let page = ledger
                .lookup(
                    &key,
                    PageRequest {
                        cursor,
                        limit: 7,
                        direction,
                    },
                )
                .unwrap();
            assert!(page.indices.len() <= 7);
            got.extend(&page.indices);
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        if direction == Direction::Backward {
            got.reverse();
        }
        assert_eq!(got, want);
    }
    let one = ledger
        .lookup(&IndexKey::Artifact(artifact(42)), PageRequest::default())
        .unwrap();
    assert_eq!((one.indices, one.next), (vec![42], None));
    let none = ledger.lookup(
        &IndexKey::Signer("signer-10".into()),
        PageRequest::default(),
    );
    assert!(none.unwrap().indices.is_empty());
    let release = IndexKey::Release {
        name: "hello".into(),
        version: "1.0".into(),
    };
    let revoked = [IndexKey::RevokedKey("k".into()), IndexKey::Revocations];
    writer
        .append(&[Submission::new(b"release".to_vec(), vec![release.clone()])])
        .unwrap();
    writer
        .append(&[Submission::new(b"revoke".to_vec(), revoked.to_vec())])
        .unwrap();
    assert_eq!(
        ledger
            .lookup(&release, PageRequest::default())
            .unwrap()
            .indices,
        [100]
    );
    for key in &revoked {
        assert_eq!(
            ledger.lookup(key, PageRequest::default()).unwrap().indices,
            [101]
        );
    }
    let long = IndexKey::Signer("x".repeat(reprove_ledger::MAX_KEY_LEN + 1));
    assert_eq!(
        ledger
            .lookup(&long, PageRequest::default())
            .unwrap_err()
            .kind(),
        ErrorKind::BadRequest
    );
}

#[test]
fn oversized_submissions_are_bad_requests() {
    let (_dir, ledger, mut writer) = new_log();
    let too_big = Submission::new(vec![b'x'; 65_536], vec![]);
    let err = writer.append(&[too_big]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadRequest);
    let fits = Submission::new(vec![b'x'; 65_535], vec![]);
    let a = writer
        .append(&[fits.clone(), Submission::new(Vec::new(), vec![])])
        .unwrap();
    check_accepted(&fits.entry, &a[0]);
    check_accepted(b"", &a[1]);
    let bundle = BundleId::in_tree(0, 2).unwrap();
    let parsed = EntryBundle::parse(bundle, &ledger.bundle(bundle).unwrap()).unwrap();
    assert_eq!(parsed.entries()[0].len(), 65_535);
    let _: TileId = bundle.tile();
}
