//! One sequencing round: the write path, synchronous, in phases.
//!
//! 1. **check** every submission (size limits);
//! 2. **sequence**: hash the entries, deduplicate them against the round and the dedup map
//!    (one batched read), assign the next indices to the new ones;
//! 3. **integrate**: append the new leaves to the in-memory right edge, collecting the tiles
//!    to write and the nodes for proofs (no tree reads);
//! 4. **sign** the checkpoint of the new tree — it extends the last signed one by
//!    construction, and the commit below refuses to write it unless the stored head is still
//!    the one it extends;
//! 5. **prove**: every submitter's inclusion proof in the new tree, before anything is
//!    written, so that nothing can fail after the commit;
//! 6. **commit** the round — entries, their records, tiles, the signed head — as one synced
//!    `WriteBatch` (see `storage.rs`). Meanwhile (phases 3–6) a second thread updates the
//!    verifiable index: the new entries' indices appended to their keys' lists;
//! 7. **index**: sign the index note binding the index root to the new tree and bring the
//!    in-memory array to the new round, under the lock readers take. Only now is the new head
//!    published and are the answers released;
//! 8. **store the index**: while the array holds every leaf, a proof reads its leaves and its
//!    note from memory, so the round's changed leaves and note are written as a second,
//!    unsynced batch only after the answers are released — by the sequencer while the next
//!    round gathers ([`Writer::store_index`]), at the latest before the next round. Past that
//!    size a proof reads leaves from the store, and the second batch is written in phase 7,
//!    before the head is published.
//!
//! Nothing is acknowledged before phase 7 returns. If a write fails, the writer halts: the
//! round may or may not be on disk, and signing a different tree of the same size would be the
//! fork a log must never sign. A crash after phase 6 and before the second batch is written
//! leaves the stored index one round behind the head, which reopening completes from the
//! entries (`Writer::complete_index`): the same leaves, root and note (byte for byte:
//! signatures are deterministic), so a note served before the crash is the one stored after.

use std::collections::HashMap;
use std::sync::PoisonError;

use reprove_verifier::merkle::{Hash, inclusion_proof, leaf_hashes};
use reprove_verifier::proof::{ProofFileError, TlogProof};
use reprove_verifier::tiles::MAX_ENTRY_SIZE;

use crate::error::Error;
use crate::head::Head;
use crate::index::{IndexKey, MAX_KEYS_PER_ENTRY};
use crate::ledger::Writer;
use crate::tree::{Integrated, RoundReader, TreeState};
use crate::vindex::{Appends, Dense, LeafRecord, Update, apply, sign_note};

/// One entry to append, with the lookup keys the caller derived from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The entry bytes (at most 65,535: the entry bundle format's limit).
    pub entry: Vec<u8>,
    /// What the entry can be looked up by. Recorded only when the entry is new; a duplicate
    /// keeps the keys of the original.
    pub keys: Vec<IndexKey>,
}

/// The answer to a submission, once it is durable: everything a c2sp `tlog-proof` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The entry's leaf index.
    pub index: u64,
    /// Whether the entry was already in the log (or earlier in the same round): `index` is
    /// then the original's.
    pub duplicate: bool,
    /// The entry's leaf hash.
    pub leaf_hash: Hash,
    /// A signed checkpoint whose tree holds the entry.
    pub checkpoint: Head,
    /// The inclusion proof of `index` in `checkpoint`'s tree, leaf sibling first.
    pub proof: Vec<Hash>,
}

impl Accepted {
    /// The c2sp `tlog-proof@v1` for this entry (`extra` is unauthenticated data to carry
    /// along); `encode()` gives the `.tlog-proof` bytes.
    pub fn tlog_proof(&self, extra: Option<Vec<u8>>) -> Result<TlogProof, Error> {
        tlog_proof(extra, self.index, &self.proof, &self.checkpoint)
    }
}

impl Submission {
    /// A submission of `entry` with lookup `keys`.
    pub fn new(entry: Vec<u8>, keys: Vec<IndexKey>) -> Self {
        Self { entry, keys }
    }

    /// Checks the limits: entry size, number and length of keys.
    pub fn check(&self) -> Result<(), Error> {
        if self.entry.len() > MAX_ENTRY_SIZE {
            return Err(Error::EntryTooLarge {
                len: self.entry.len(),
                max: MAX_ENTRY_SIZE,
            });
        }
        if self.keys.len() > MAX_KEYS_PER_ENTRY {
            return Err(Error::TooManyIndexKeys {
                count: self.keys.len(),
                max: MAX_KEYS_PER_ENTRY,
            });
        }
        self.keys.iter().try_for_each(IndexKey::check)
    }
}

/// A round's verifiable index as readers see it from memory, not stored yet: the changed
/// leaves and the note, for the writer's head (every write stores it before the head moves).
#[derive(Debug)]
pub(crate) struct PendingIndex {
    records: Vec<LeafRecord>,
    note: Vec<u8>,
}

/// Each leaf's index and whether it is a duplicate, and the positions of the new ones.
struct Sequenced {
    slots: Vec<(u64, bool)>,
    fresh: Vec<usize>,
}

impl Writer {
    /// Appends one round: answers for every submission, in order, once all of it is durable.
    ///
    /// An invalid submission fails the whole call before anything happens (the sequencer
    /// checks each one on arrival, so its rounds never contain one). A round of duplicates
    /// only writes nothing and answers with the current checkpoint.
    pub fn append(&mut self, submissions: &[Submission]) -> Result<Vec<Accepted>, Error> {
        let answers = self.append_hashed(submissions, None)?;
        self.store_index()?;
        Ok(answers)
    }

    /// [`append`](Self::append), with each submission's proven key hashes
    /// ([`proven_hashes`](crate::vindex::proven_hashes) of its keys) when the caller computed
    /// them already, and leaving the round's index to store ([`Writer::store_index`]) when
    /// readers have it from memory.
    pub(crate) fn append_hashed(
        &mut self,
        submissions: &[Submission],
        proven: Option<&[Vec<Hash>]>,
    ) -> Result<Vec<Accepted>, Error> {
        if proven.is_some_and(|p| p.len() != submissions.len()) {
            return Err(Error::Bug("key hashes for another round"));
        }
        if self.halted {
            return Err(Error::WriterHalted);
        }
        self.store_index()?;
        submissions.iter().try_for_each(Submission::check)?;
        if submissions.is_empty() {
            return Ok(Vec::new());
        }
        let previous = self.head();
        let started = std::time::Instant::now();
        let entries: Vec<&[u8]> = submissions.iter().map(|s| &s.entry[..]).collect();
        let leaves = leaf_hashes(&entries);
        let sequenced = self.sequence(&leaves)?;
        let Sequenced { slots, fresh } = &sequenced;
        if fresh.is_empty() {
            // Every entry is already durable under the current head.
            let reader = RoundReader {
                nodes: &HashMap::new(),
                store: &self.shared.store,
            };
            return answer(&reader, &leaves, slots, &previous);
        }

        let (state, head, answers, index) =
            self.write_round(submissions, proven, &leaves, &sequenced, &previous)?;
        let size = head.size();
        if let Some(index) = index {
            self.write_index(&head, index)?;
        }
        tracing::debug!(
            size,
            new = fresh.len(),
            duplicates = submissions.len() - fresh.len(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "round committed"
        );
        self.tree = state;
        *self
            .shared
            .head
            .write()
            .unwrap_or_else(PoisonError::into_inner) = head;
        Ok(answers)
    }

    /// Integrates the round's new leaves, signs the new checkpoint, proves every answer and
    /// commits the round's first batch, while a second thread updates the verifiable index
    /// (which none of that depends on). `None`: the index is off.
    fn write_round(
        &mut self,
        submissions: &[Submission],
        proven: Option<&[Vec<Hash>]>,
        leaves: &[Hash],
        sequenced: &Sequenced,
        previous: &Head,
    ) -> Result<(TreeState, Head, Vec<Accepted>, Option<Update>), Error> {
        let new_leaves: Vec<Hash> = sequenced.fresh.iter().map(|&p| leaves[p]).collect();
        let (shared, tree, signer) = (&*self.shared, &self.tree, &self.signer);
        let store = &shared.store;
        let vindex = self.vindex;
        let mut written = false;
        let (index, rest) = std::thread::scope(|scope| {
            let index = vindex
                .then(|| scope.spawn(|| index_update(shared, submissions, proven, sequenced)));
            let rest = (|| -> Result<_, Error> {
                let integrated = tree.integrate(&new_leaves)?;
                let state = &integrated.state;
                let head = Head::sign(signer, state.size(), state.root())?;
                let reader = RoundReader {
                    nodes: &integrated.nodes,
                    store,
                };
                let answers = answer(&reader, leaves, &sequenced.slots, &head)?;
                let batch = round_batch(store, submissions, leaves, sequenced, &integrated, &head)?;
                written = true;
                store.commit(batch, Some(previous.note()), previous.size())?;
                Ok((integrated.state, head, answers))
            })();
            let index = index.map(|thread| {
                thread
                    .join()
                    .unwrap_or(Err(Error::Bug("the index update panicked")))
            });
            (index.transpose(), rest)
        });
        // Once the first batch is being written, any failure halts the writer: the disk may
        // hold the round, whose index only a reopening completes.
        if written && (rest.is_err() || index.is_err()) {
            self.halted = true;
        }
        let (state, head, answers) = rest?;
        Ok((state, head, answers, index?))
    }

    /// Publishes the round's verifiable index — its changed leaves and the note signing its
    /// root for `head`'s tree — to readers, after the round's first batch (entries, tiles,
    /// checkpoint) is durable and before the checkpoint or any answer is released. While the
    /// array holds every leaf, readers take the leaves and the note from memory, and the
    /// second batch is left for [`Writer::store_index`]; otherwise it is written here, under
    /// the lock readers take, while the array changes. The second batch is not synced on its
    /// own: the next round's synced batch makes it durable with the write-ahead log before it,
    /// and a crash that loses it leaves a note one round behind the head, which
    /// [`Writer::complete_index`] derives again from the round's durable entries when the log
    /// is reopened (the same leaves, root and note: signatures are deterministic). Any failure
    /// halts the writer.
    fn write_index(&mut self, head: &Head, mut index: Update) -> Result<(), Error> {
        let result = (|| {
            let note = sign_note(&self.signer, head.size(), head.root(), index.root)?;
            let store = &self.shared.store;
            // Readers see the array and the store change together: they hold the lock from
            // before taking their snapshot until their proof is made.
            let mut dense = self.shared.dense_mut();
            let array = dense.get_or_insert_with(Dense::empty);
            if array.holds_leaves_after(&index) {
                let records = std::mem::take(&mut index.records);
                index.publish(array, Some(note.clone()));
                return Ok(Some(PendingIndex { records, note }));
            }
            let batch = index_batch(store, &index.records, &note)?;
            // The array changes on a second thread while the batch is written: both are done
            // before the lock is released.
            let written = std::thread::scope(|scope| {
                scope.spawn(|| index.publish(array, None));
                store.commit_unsynced(batch, head)
            });
            if let Err(e) = written {
                // The store may or may not hold the batch: readers rebuild the array from it.
                *dense = None;
                return Err(e);
            }
            Ok(None)
        })();
        match result {
            Ok(pending) => {
                self.pending_index = pending;
                Ok(())
            }
            Err(e) => {
                self.halted = true;
                Err(e)
            }
        }
    }

    /// Stores the verifiable index of the last round, if readers have it only from memory:
    /// its changed leaves and note, as the round's second, unsynced batch (see
    /// [`write_index`](Self::write_index)). The sequencer calls it once a round's answers are
    /// released; every round and every other write calls it first. A failure halts the
    /// writer; readers keep the published index, which reopening stores again.
    pub(crate) fn store_index(&mut self) -> Result<(), Error> {
        let Some(pending) = self.pending_index.take() else {
            return Ok(());
        };
        let store = &self.shared.store;
        let written = index_batch(store, &pending.records, &pending.note)
            .and_then(|batch| store.commit_unsynced(batch, &self.head()));
        if written.is_err() {
            self.halted = true;
        }
        written
    }

    /// Whether the last round's index is published but not stored yet.
    pub(crate) fn has_pending_index(&self) -> bool {
        self.pending_index.is_some()
    }

    /// Gives every leaf its index: an entry already logged keeps its index (a duplicate), a
    /// repeat within the round shares its first occurrence's, the rest take the next indices
    /// in submission order.
    fn sequence(&self, leaves: &[Hash]) -> Result<Sequenced, Error> {
        let mut first: HashMap<Hash, usize> = HashMap::with_capacity(leaves.len());
        let mut unique = Vec::with_capacity(leaves.len());
        for (pos, leaf) in leaves.iter().enumerate() {
            first.entry(*leaf).or_insert_with(|| {
                unique.push(pos);
                pos
            });
        }
        let unique_leaves: Vec<Hash> = unique.iter().map(|&p| leaves[p]).collect();
        let known = self.shared.store.dedup(&unique_leaves)?;
        let mut assigned: HashMap<Hash, (u64, bool)> = HashMap::with_capacity(unique.len());
        let mut fresh = Vec::new();
        let mut next = self.tree.size();
        for (&pos, old) in unique.iter().zip(known) {
            let slot = match old {
                Some(index) => (index, true),
                None => {
                    fresh.push(pos);
                    next = next.checked_add(1).ok_or(Error::TreeFull)?;
                    (next - 1, false)
                }
            };
            assigned.insert(leaves[pos], slot);
        }
        let slots = leaves
            .iter()
            .enumerate()
            .map(|(pos, leaf)| {
                let (index, dup) = assigned[leaf];
                (index, dup || first[leaf] != pos)
            })
            .collect();
        Ok(Sequenced { slots, fresh })
    }
}

/// The round's first batch: new entries with their index records, tiles and the signed head.
fn round_batch<'s>(
    store: &'s crate::storage::Store,
    submissions: &[Submission],
    leaves: &[Hash],
    Sequenced { slots, fresh }: &Sequenced,
    integrated: &Integrated,
    head: &Head,
) -> Result<crate::storage::Batch<'s>, Error> {
    let mut batch = store.batch()?;
    let mut records = Vec::new();
    for &pos in fresh {
        let (index, _) = slots[pos];
        batch.put_entry(index, &leaves[pos], &submissions[pos].entry);
        records.extend(submissions[pos].keys.iter().map(|key| key.record(index)));
    }
    records.sort_unstable();
    for record in &records {
        batch.put_index(record);
    }
    for (level, index, hashes) in &integrated.tiles {
        batch.put_tile(*level, *index, hashes);
    }
    batch.put_head(head.size(), head.note());
    Ok(batch)
}

/// A round's second batch: its changed leaves (in key order) and its index note.
fn index_batch<'s>(
    store: &'s crate::storage::Store,
    records: &[LeafRecord],
    note: &[u8],
) -> Result<crate::storage::Batch<'s>, Error> {
    let mut batch = store.batch()?;
    for (key, record) in records {
        batch.put_vindex(key, record);
    }
    batch.put_index_note(note);
    Ok(batch)
}

/// The verifiable index after a round: the new entries' indices appended to the lists of their
/// proven keys, in log order, on the tree of the writer's array and the stored leaves.
fn index_update(
    shared: &crate::ledger::Shared,
    submissions: &[Submission],
    proven: Option<&[Vec<Hash>]>,
    Sequenced { slots, fresh }: &Sequenced,
) -> Result<Update, Error> {
    let mut appends = Appends::default();
    for &pos in fresh {
        match proven {
            Some(hashes) => appends.add_hashes(slots[pos].0, &hashes[pos]),
            None => appends.add_entry(slots[pos].0, &submissions[pos].keys),
        }
    }
    shared.with_dense(|dense| apply(dense, &mut shared.store.leaves()?, appends))
}

/// Builds every answer of a round against `head`.
fn answer(
    reader: &RoundReader<'_>,
    leaves: &[Hash],
    slots: &[(u64, bool)],
    head: &Head,
) -> Result<Vec<Accepted>, Error> {
    leaves
        .iter()
        .zip(slots)
        .map(|(leaf, &(index, duplicate))| {
            let proof =
                inclusion_proof(reader, index, head.size()).map_err(Error::from_generate)?;
            Ok(Accepted {
                index,
                duplicate,
                leaf_hash: *leaf,
                checkpoint: head.clone(),
                proof,
            })
        })
        .collect()
}

/// A `tlog-proof` from the ledger's own proof and checkpoint, which always fit the format;
/// only a caller's oversized `extra` can make it too large.
pub(crate) fn tlog_proof(
    extra: Option<Vec<u8>>,
    index: u64,
    proof: &[Hash],
    checkpoint: &Head,
) -> Result<TlogProof, Error> {
    TlogProof::new(extra, index, proof.to_vec(), checkpoint.note().to_vec()).map_err(|e| match e {
        ProofFileError::TooLarge { size, max } => Error::TlogProofTooLarge { size, max },
        _ => Error::Bug("the log's own proof and checkpoint do not fit a tlog-proof"),
    })
}

#[cfg(test)]
mod tests {
    use reprove_verifier::note::NoteSigner;

    use super::*;
    use crate::ledger::Ledger;

    fn open() -> (tempfile::TempDir, Ledger, Writer) {
        let dir = tempfile::tempdir().unwrap();
        let signer = NoteSigner::from_seed("example.com/log", &[3; 32]).unwrap();
        Ledger::init(dir.path(), &signer).unwrap();
        let (ledger, writer) = Ledger::open(dir.path(), signer).unwrap();
        (dir, ledger, writer)
    }

    fn sub(i: u32) -> Submission {
        Submission::new(
            i.to_be_bytes().to_vec(),
            vec![IndexKey::Signer(format!("k{i}"))],
        )
    }

    #[test]
    fn a_moved_head_fails_the_round_whole_and_halts_the_writer() {
        let (_dir, ledger, mut writer) = open();
        writer.append(&[sub(0), sub(1)]).unwrap();
        // Someone else moves the stored head (only possible from inside the crate).
        let shared = writer.shared.clone();
        let store = &shared.store;
        let other = Head::sign(&writer.signer, 2, [0; 32]).unwrap();
        let mut batch = store.batch().unwrap();
        batch.put_head(2, other.note());
        store.commit(batch, Some(writer.head().note()), 2).unwrap();

        let err = writer.append(&[sub(2), sub(3)]).unwrap_err();
        assert!(matches!(err, Error::HeadMoved { expected: 2 }), "{err}");
        assert!(writer.is_halted());
        // Nothing of the refused round is stored, and the published head did not move.
        assert_eq!(store.entry(2).unwrap(), None);
        assert_eq!(store.last_entry_index().unwrap(), Some(1));
        assert_eq!(
            store
                .dedup(&[leaf_hashes(&[2u32.to_be_bytes()])[0]])
                .unwrap(),
            [None]
        );
        assert_eq!(ledger.head().size(), 2);
        assert!(matches!(writer.append(&[sub(4)]), Err(Error::WriterHalted)));
    }

    /// A proven lookup of artifact `[name; 32]`: its indices and the tree size its note covers,
    /// checked against the note's index root.
    fn proven(ledger: &Ledger, name: u8) -> (Vec<u64>, u64) {
        use reprove_verifier::vindex::{IndexNote, key_hash};
        let key = IndexKey::Artifact([name; 32]);
        let answer = ledger.prove_lookup(&key).unwrap();
        let note = IndexNote::verify(&answer.note, &ledger.shared.key).unwrap();
        let hash = key_hash(&key.encoding());
        answer
            .proof
            .verify(&note.index_root, &hash, &answer.indices)
            .unwrap();
        (answer.indices, note.size)
    }

    fn artifact(i: u32) -> Submission {
        Submission::new(
            i.to_be_bytes().to_vec(),
            vec![IndexKey::Artifact([i as u8; 32])],
        )
    }

    #[test]
    fn a_round_serves_its_index_from_memory_and_stores_it_after() {
        let (_dir, ledger, mut writer) = open();
        writer.append(&[artifact(0), artifact(1)]).unwrap();
        let shared = writer.shared.clone();
        let store = &shared.store;
        let stored = store.index_note().unwrap().unwrap();
        assert_eq!(ledger.index_note().unwrap(), stored);

        // The sequencer's path: the round is released with its index published, not stored.
        writer.append_hashed(&[artifact(2)], None).unwrap();
        assert!(writer.has_pending_index());
        assert_eq!(store.index_note().unwrap().unwrap(), stored);
        let served = ledger.index_note().unwrap();
        assert_ne!(served, stored);
        assert_eq!(proven(&ledger, 2), (vec![2], 3));
        assert_eq!(proven(&ledger, 0), (vec![0], 3));

        // Stored as it was served; the next round stores it first if no one did.
        writer.store_index().unwrap();
        assert!(!writer.has_pending_index());
        assert_eq!(store.index_note().unwrap().unwrap(), served);
        writer.append_hashed(&[artifact(3)], None).unwrap();
        let served = ledger.index_note().unwrap();
        writer.append_hashed(&[artifact(4)], None).unwrap();
        assert_eq!(store.index_note().unwrap().unwrap(), served);
        writer.append(&[artifact(5)]).unwrap();
        assert!(!writer.has_pending_index());
        assert_eq!(
            store.index_note().unwrap().unwrap(),
            ledger.index_note().unwrap()
        );
        assert_eq!(proven(&ledger, 4), (vec![4], 6));
    }

    #[test]
    fn without_the_leaves_in_memory_a_round_stores_its_index_before_release() {
        let (_dir, ledger, mut writer) = open();
        writer.append(&[artifact(0)]).unwrap();
        let shared = writer.shared.clone();
        let store = &shared.store;
        writer.shared.dense_mut().as_mut().unwrap().drop_leaves();

        writer.append_hashed(&[artifact(1)], None).unwrap();
        assert!(!writer.has_pending_index());
        let stored = store.index_note().unwrap().unwrap();
        assert_eq!(ledger.index_note().unwrap(), stored);
        assert_eq!(proven(&ledger, 1), (vec![1], 2));
        assert_eq!(proven(&ledger, 0), (vec![0], 2));
    }

    #[test]
    fn an_invalid_submission_refuses_the_whole_round() {
        let (_dir, ledger, mut writer) = open();
        let big = Submission::new(vec![0; MAX_ENTRY_SIZE + 1], vec![]);
        let err = writer.append(&[sub(0), big]).unwrap_err();
        assert!(matches!(err, Error::EntryTooLarge { .. }), "{err}");
        assert_eq!(ledger.head().size(), 0);
        assert!(!writer.is_halted());
        assert_eq!(writer.append(&[sub(0)]).unwrap()[0].index, 0);
    }
}
