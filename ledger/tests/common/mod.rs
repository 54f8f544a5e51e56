//! Helpers shared by the ledger's integration tests: a log in a temporary directory, entries,
//! and checks that use only the verifier's functions and the served bytes; `http`: a served
//! log; `signed`: real signed entries; `web`: a log filled for the pages.

pub mod http;
pub mod signed;
pub mod web;

use std::path::Path;

use reprove_ledger::storage::cf;
use reprove_ledger::{Accepted, IndexKey, Ledger, Submission, Writer};
use reprove_verifier::checkpoint::{self, WitnessPolicy};
use reprove_verifier::merkle::{Hash, leaf_hash, root_from_reader, verify_inclusion};
use reprove_verifier::note::{NoteSigner, NoteVerifier};
use reprove_verifier::proof::TlogProof;
use reprove_verifier::tiles::{Tile, TileHashReader, TileId, tree_tiles};
use reprove_verifier::vindex::{IndexNote, ProvenAnswer, WireProof};

pub const ORIGIN: &str = "example.com/reprove-test";

pub fn signer() -> NoteSigner {
    NoteSigner::from_seed(ORIGIN, &[42; 32]).unwrap()
}

/// The proven lookup of `lookup`, checked as a client checks it (the answer's wire form, the
/// note's signature, the proof): the index note it holds under, and the list.
pub fn proven_lookup(ledger: &Ledger, lookup: &IndexKey) -> (IndexNote, Vec<u64>) {
    let p = ledger.prove_lookup(lookup).unwrap();
    let answer = ProvenAnswer {
        note: String::from_utf8(p.note).unwrap(),
        indices: p.indices,
        proof: WireProof::from(&p.proof),
    };
    let note = answer.verify(&key(), &lookup.encoding()).unwrap();
    (note, answer.indices)
}

pub fn key() -> NoteVerifier {
    signer().verifier()
}

/// A fresh, initialized and opened log.
pub fn new_log() -> (tempfile::TempDir, Ledger, Writer) {
    let dir = tempfile::tempdir().unwrap();
    Ledger::init(dir.path(), &signer()).unwrap();
    let (ledger, writer) = Ledger::open(dir.path(), signer()).unwrap();
    (dir, ledger, writer)
}

pub fn entry(i: u64) -> Vec<u8> {
    format!("{{\"entry\":{i}}}").into_bytes()
}

pub fn artifact(i: u64) -> [u8; 32] {
    leaf_hash(&i.to_le_bytes())
}

/// Entry `i` with an artifact key of its own and a signer key shared by every third entry.
pub fn submission(i: u64) -> Submission {
    Submission::new(
        entry(i),
        vec![
            IndexKey::Artifact(artifact(i)),
            IndexKey::Signer(format!("signer-{}", i % 3)),
        ],
    )
}

/// Appends entries `from..to` in rounds of `round` entries.
pub fn fill(writer: &mut Writer, from: u64, to: u64, round: u64) {
    let mut at = from;
    while at < to {
        let end = (at + round).min(to);
        let subs: Vec<Submission> = (at..end).map(submission).collect();
        let accepted = writer.append(&subs).unwrap();
        assert_eq!(accepted.last().unwrap().index, end - 1);
        at = end;
    }
}

/// Verifies a signed checkpoint with the log key and returns its size and root.
pub fn verify_checkpoint(note: &[u8]) -> (u64, Hash) {
    let verified = checkpoint::verify_checkpoint(note, &key(), &WitnessPolicy::none()).unwrap();
    assert_eq!(verified.origin(), ORIGIN);
    (verified.size(), *verified.root())
}

/// Checks an answer the way a consumer would: its `.tlog-proof` bytes, parsed and verified
/// with the log key, prove `entry` at the answer's index.
pub fn check_accepted(entry: &[u8], accepted: &Accepted) {
    assert_eq!(accepted.leaf_hash, leaf_hash(entry));
    let bytes = accepted.tlog_proof(None).unwrap().encode();
    let verified = TlogProof::parse(&bytes)
        .unwrap()
        .verify(entry, &key(), &WitnessPolicy::none())
        .unwrap();
    assert_eq!(verified.index(), accepted.index);
    assert_eq!(verified.checkpoint().size(), accepted.checkpoint.size());
    let (size, root) = verify_checkpoint(accepted.checkpoint.note());
    verify_inclusion(
        &leaf_hash(entry),
        accepted.index,
        size,
        &accepted.proof,
        &root,
    )
    .unwrap();
}

/// The root of the tree of `size`, computed only from the tiles the ledger serves for it.
pub fn root_from_served_tiles(ledger: &Ledger, size: u64) -> Hash {
    let mut reader = TileHashReader::new(size);
    for level in tree_tiles(size) {
        for id in level.ids() {
            let bytes = ledger.tile(id).unwrap();
            reader.insert(Tile::parse(id, &bytes).unwrap()).unwrap();
        }
    }
    root_from_reader(&reader, size).unwrap()
}

/// Opens the raw database (the ledger must be closed) to corrupt it.
pub fn raw_db(path: &Path) -> rocksdb::DB {
    rocksdb::DB::open_cf(&rocksdb::Options::default(), path, cf::ALL).unwrap()
}

pub fn tile_id(level: u8, index: u64, width: u16) -> TileId {
    TileId::new(level, index, width).unwrap()
}
